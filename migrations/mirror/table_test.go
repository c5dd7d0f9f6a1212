package mirror_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/schema"
	"github.com/dvsync/dvsync/migrations/mirror"
)

func testTable(t *testing.T) (*mirror.DB, *mirror.Table) {
	t.Helper()
	ctx := context.Background()
	db, err := mirror.Open(ctx, mirror.SQLite, filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	def, ok := schema.Default().Table("entitlement")
	if !ok {
		t.Fatal("no entitlement table")
	}
	mt, err := db.Table(ctx, def, []string{"name", "totalterms", "restrictcasecreation", "startdate", "customerid", "statecode"})
	if err != nil {
		t.Fatal(err)
	}
	return db, mt
}

func TestConvertValuesAndRejects(t *testing.T) {
	_, mt := testTable(t)
	good := dataverse.Record{
		"entitlementid": "0A0A0A0A-0000-4000-8000-000000000001", "name": "Gold", "totalterms": json.Number("12.50"),
		"restrictcasecreation": true, "startdate": "2026-01-02T00:00:00Z", "statecode": json.Number("1"),
		"_customerid_value": "0a0a0a0a-0000-4000-8000-0000000000aa", "_customerid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "account",
	}
	r, err := mt.Convert(good)
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != "0a0a0a0a-0000-4000-8000-000000000001" || r.Hash == "" {
		t.Fatalf("%+v", r)
	}
	// The hash covers the values: a changed value changes it, an
	// unchanged re-read does not.
	again := dataverse.Record{}
	for k, v := range good {
		again[k] = v
	}
	if mt.HashOf(again) != r.Hash {
		t.Fatal("same values, different hash")
	}
	again["name"] = "Silver"
	if mt.HashOf(again) == r.Hash {
		t.Fatal("different values, same hash")
	}
	for _, tc := range []struct {
		col string
		v   any
	}{
		{"_customerid_value", "not-a-guid"},
		{"statecode", json.Number("4294967296")},
		{"totalterms", "lots"},
		{"restrictcasecreation", "yes"},
		{"startdate", "yesterday"},
	} {
		bad := dataverse.Record{}
		for k, v := range good {
			bad[k] = v
		}
		bad[tc.col] = tc.v
		_, err := mt.Convert(bad)
		var ve *mirror.ValueError
		if !errors.As(err, &ve) || !strings.Contains(tc.col, ve.Column) {
			t.Errorf("%s = %v: err %v", tc.col, tc.v, err)
		}
	}
	if _, err := mt.Convert(dataverse.Record{"name": "no key"}); err == nil {
		t.Error("record without primary key accepted")
	}
}

func TestUpsertUnchangedDeleteSweep(t *testing.T) {
	ctx := context.Background()
	db, mt := testTable(t)
	rec := func(id, name string) mirror.Row {
		r, err := mt.Convert(dataverse.Record{"entitlementid": id, "name": name})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	const a, b = "00000000-0000-4000-8000-00000000000a", "00000000-0000-4000-8000-00000000000b"
	tx, err := mt.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []mirror.Row{rec(a, "A"), rec(b, "B")} {
		if o, err := tx.Upsert(r, 1, false); err != nil || o != mirror.Upserted {
			t.Fatalf("%v %v", o, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	tx, _ = mt.Begin(ctx)
	if o, _ := tx.Upsert(rec(a, "A"), 2, false); o != mirror.Unchanged {
		t.Fatalf("re-read row: %v", o)
	}
	if o, _ := tx.Delete("00000000-0000-4000-8000-0000000000ff"); o != mirror.Unchanged {
		t.Fatalf("delete of a row never mirrored: %v", o)
	}
	// b was not seen in generation 2: the sweep deletes it.
	if n, err := tx.Sweep(2); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if n, _ := mt.Count(ctx); n != 1 {
		t.Fatalf("%d rows", n)
	}
	var label string
	if err := db.SQL().QueryRow(`SELECT label FROM dvsync_choice_labels WHERE table_name='entitlement' AND column_name='statecode' AND value=1`).Scan(&label); err != nil || label != "Active" {
		t.Fatalf("label %q %v", label, err)
	}
}
