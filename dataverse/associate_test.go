package dataverse_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
)

func refClient(t *testing.T) *dataverse.Client {
	t.Helper()
	srv, err := refserver.New(refserver.Options{Token: "assoc-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	c, err := dataverse.NewClient(hs.URL, dataverse.StaticToken("assoc-test"), &dataverse.ClientOptions{MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func relatedNames(t *testing.T, c *dataverse.Client, table string, key dataverse.Key, rel string) []string {
	t.Helper()
	var names []string
	for rec, err := range c.Related(context.Background(), table, key, rel, dataverse.Query{Select: []string{"msdyn_uniquename"}}) {
		if err != nil {
			t.Fatalf("related %s: %v", rel, err)
		}
		names = append(names, rec.String("msdyn_uniquename"))
	}
	slices.Sort(names)
	return names
}

func TestAssociateRelatedDisassociate(t *testing.T) {
	c := refClient(t)
	ctx := context.Background()
	const rel = "msdyn_sessiontemplate_applicationtab"
	byName := func(n string) dataverse.Key { return dataverse.ByKey("msdyn_uniquename", n) }
	session := byName("dvs_session_incident")
	if _, err := c.Upsert(ctx, "msdyn_sessiontemplate", session, dataverse.Record{"msdyn_name": "Case", "msdyn_sessiontype": 1, "msdyn_entity": "incident", "msdyn_title": "{anchor.title}"}); err != nil {
		t.Fatal(err)
	}
	// A quote in a key value must survive the trip through @odata.id.
	tabA, tabB := byName("dvs_o'brien_search"), byName("dvs_kb")
	var idB uuid.UUID
	for _, k := range []dataverse.Key{tabA, tabB} {
		id, err := c.Upsert(ctx, "msdyn_applicationtabtemplate", k, dataverse.Record{"msdyn_name": "Tab", "msdyn_pagetype": 509180006})
		if err != nil {
			t.Fatal(err)
		}
		idB = id
	}
	if idB == uuid.Nil {
		t.Fatal("upsert returned no id")
	}

	if err := c.Associate(ctx, "msdyn_sessiontemplate", session, rel, "msdyn_applicationtabtemplate", tabA); err != nil {
		t.Fatal(err)
	}
	// Again: Dataverse answers duplicate key; for a re-run that is success.
	if err := c.Associate(ctx, "msdyn_sessiontemplate", session, rel, "msdyn_applicationtabtemplate", tabA); err != nil {
		t.Fatalf("second associate: %v", err)
	}
	if err := c.Associate(ctx, "msdyn_sessiontemplate", session, rel, "msdyn_applicationtabtemplate", dataverse.ByID(idB)); err != nil {
		t.Fatal(err)
	}
	if got := relatedNames(t, c, "msdyn_sessiontemplate", session, rel); !slices.Equal(got, []string{"dvs_kb", "dvs_o'brien_search"}) {
		t.Errorf("related tabs = %v", got)
	}
	// The navigation property exists on both sides.
	if got := relatedNames(t, c, "msdyn_applicationtabtemplate", tabA, rel); !slices.Equal(got, []string{"dvs_session_incident"}) {
		t.Errorf("related sessions = %v", got)
	}
	// Filters apply to the related rows.
	n := 0
	for rec, err := range c.Related(ctx, "msdyn_sessiontemplate", session, rel,
		dataverse.Query{Select: []string{"msdyn_uniquename"}, Filter: dataverse.Eq("msdyn_uniquename", "dvs_kb")}) {
		if err != nil || rec.String("msdyn_uniquename") != "dvs_kb" {
			t.Fatalf("filtered related: %v %v", rec, err)
		}
		n++
	}
	if n != 1 {
		t.Errorf("filtered related gave %d rows", n)
	}

	if err := c.Disassociate(ctx, "msdyn_sessiontemplate", session, rel, dataverse.ByID(idB)); err != nil {
		t.Fatal(err)
	}
	if err := c.Disassociate(ctx, "msdyn_sessiontemplate", session, rel, dataverse.ByID(idB)); err != nil {
		t.Fatalf("second disassociate: %v", err)
	}
	if got := relatedNames(t, c, "msdyn_sessiontemplate", session, rel); !slices.Equal(got, []string{"dvs_o'brien_search"}) {
		t.Errorf("after disassociate = %v", got)
	}
	if err := c.Disassociate(ctx, "msdyn_sessiontemplate", session, rel, tabA); err == nil || !strings.Contains(err.Error(), "by its ID") {
		t.Errorf("disassociate by alternate key: err = %v", err)
	}
}

func TestAssociateErrors(t *testing.T) {
	c := refClient(t)
	ctx := context.Background()
	const rel = "msdyn_sessiontemplate_applicationtab"
	session := dataverse.ByKey("msdyn_uniquename", "dvs_s")
	if _, err := c.Upsert(ctx, "msdyn_sessiontemplate", session, dataverse.Record{"msdyn_name": "S", "msdyn_sessiontype": 1}); err != nil {
		t.Fatal(err)
	}
	missing := dataverse.ByKey("msdyn_uniquename", "dvs_missing")
	if err := c.Associate(ctx, "msdyn_sessiontemplate", session, rel, "msdyn_applicationtabtemplate", missing); !dataverse.IsNotFound(err) {
		t.Errorf("associate with a missing record: err = %v, want not found", err)
	}
	if err := c.Associate(ctx, "msdyn_sessiontemplate", missing, rel, "msdyn_applicationtabtemplate", session); err == nil {
		t.Error("associate from a missing record succeeded")
	}
	for _, err := range c.Related(ctx, "msdyn_sessiontemplate", missing, rel, dataverse.Query{}) {
		if !dataverse.IsNotFound(err) {
			t.Errorf("related of a missing record: err = %v, want not found", err)
		}
	}
	// A relationship name is an identifier, never spliced into the URL raw.
	for _, err := range c.Related(ctx, "msdyn_sessiontemplate", session, "x/../../accounts", dataverse.Query{}) {
		if err == nil {
			t.Error("bad relationship name accepted")
		}
	}
	if err := c.Associate(ctx, "msdyn_sessiontemplate", session, "msdyn_nosuchrelationship", "msdyn_applicationtabtemplate", session); err == nil {
		t.Error("unknown relationship accepted")
	}
}
