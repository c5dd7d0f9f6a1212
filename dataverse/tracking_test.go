package dataverse_test

import (
	"context"
	"strings"
	"testing"

	"github.com/dvsync/dvsync/dataverse"
)

func TestTrackChangesFullThenDeltaThenExpired(t *testing.T) {
	f := newFake(t)
	seed(f, 12)
	c := f.client(t, &dataverse.ClientOptions{PageSize: 5})
	ctx := context.Background()
	q := dataverse.Query{Select: []string{"title"}}

	seen := map[string]bool{}
	res, err := c.TrackChanges(ctx, "incident", q, "", func(ch dataverse.Change) error {
		if ch.Deleted {
			t.Fatal("delete in a full read")
		}
		seen[ch.ID.String()] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Full || res.DeltaLink == "" || len(seen) != 12 {
		t.Fatalf("first read: %+v, %d rows", res, len(seen))
	}
	for _, p := range f.prefers {
		if !strings.HasPrefix(p, "odata.track-changes,odata.maxpagesize=5") {
			t.Fatalf("Prefer = %q", p)
		}
	}

	// Change one row, delete another, add one.
	var some []string
	for id := range seen {
		some = append(some, id)
	}
	f.put(map[string]any{"incidentid": some[0], "title": "changed"})
	if err := c.Delete(ctx, "incident", dataverse.ByKey("ticketnumber", "CAS-00001"), nil); err != nil {
		t.Fatal(err)
	}
	newID, err := c.Create(ctx, "incident", dataverse.Record{"title": "new"})
	if err != nil {
		t.Fatal(err)
	}
	var upserts, deletes []string
	res2, err := c.TrackChanges(ctx, "incident", q, res.DeltaLink, func(ch dataverse.Change) error {
		if ch.Deleted {
			deletes = append(deletes, ch.ID.String())
		} else {
			upserts = append(upserts, ch.ID.String())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if res2.Full || res2.DeltaLink == res.DeltaLink || len(upserts) != 2 || len(deletes) != 1 {
		t.Fatalf("delta: %+v upserts %v deletes %v", res2, upserts, deletes)
	}
	if !strings.Contains(strings.Join(upserts, ","), newID.String()) {
		t.Fatal("new row missing from the delta")
	}

	// The token expires: the client falls back to a full read.
	f.mu.Lock()
	f.expiredBefore = f.version + 1
	f.mu.Unlock()
	n := 0
	res3, err := c.TrackChanges(ctx, "incident", q, res2.DeltaLink, func(dataverse.Change) error { n++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if !res3.Full || n != 12 || res3.DeltaLink == "" {
		t.Fatalf("after expiry: %+v, %d rows", res3, n)
	}
}

func TestTrackChangesRejectsFilters(t *testing.T) {
	f := newFake(t)
	c := f.client(t, nil)
	_, err := c.TrackChanges(context.Background(), "incident", dataverse.Query{Filter: dataverse.Eq("title", "x")}, "", func(dataverse.Change) error { return nil })
	if err == nil || f.requests.Load() != 0 {
		t.Fatalf("err = %v after %d requests", err, f.requests.Load())
	}
}

func TestDiscoverTableFromEntityDefinitionsIsCached(t *testing.T) {
	f := newFake(t)
	c := f.client(t, &dataverse.ClientOptions{Schema: emptyRegistry()})
	ctx := context.Background()
	tb, err := c.Table(ctx, "incident")
	if err != nil {
		t.Fatal(err)
	}
	if tb.EntitySetName != "incidents" || tb.PrimaryID != "incidentid" || !tb.ChangeTracking || len(tb.AlternateKeys) != 1 || tb.AlternateKeys[0].Columns[0] != "ticketnumber" {
		t.Fatalf("table = %+v", tb)
	}
	if col, ok := tb.Column("title"); !ok || col.Type != "String" {
		t.Fatalf("title column: %+v", col)
	}
	before := f.requests.Load()
	if _, err := c.Table(ctx, "incidents"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Table(ctx, "incident"); err != nil {
		t.Fatal(err)
	}
	if f.requests.Load() != before {
		t.Fatal("metadata not cached")
	}
	if _, err := c.Table(ctx, "nosuch"); err == nil {
		t.Fatal("unknown table resolved")
	}
}
