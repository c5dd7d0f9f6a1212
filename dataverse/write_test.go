package dataverse_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse"
)

func TestSingleRecordWrites(t *testing.T) {
	f := newFake(t)
	c := f.client(t, nil)
	ctx := context.Background()

	id, err := c.Create(ctx, "incident", dataverse.Record{"title": "created"})
	if err != nil || f.get(id.String())["title"] != "created" {
		t.Fatalf("create: %v %v", id, err)
	}

	// Upsert by alternate key: creates, then updates the same record; the
	// key column travels in the URL, not the body.
	key := dataverse.ByKey("ticketnumber", "CAS-'1'")
	id2, err := c.Upsert(ctx, "incident", key, dataverse.Record{"title": "v1", "ticketnumber": "ignored"})
	if err != nil {
		t.Fatal(err)
	}
	if rec := f.get(id2.String()); rec["ticketnumber"] != "CAS-'1'" || rec["title"] != "v1" {
		t.Fatalf("upserted %v", rec)
	}
	id3, err := c.Upsert(ctx, "incident", key, dataverse.Record{"title": "v2"})
	if err != nil || id3 != id2 || f.count() != 2 {
		t.Fatalf("second upsert: %v %v, %d records", id3, err, f.count())
	}

	// Update never creates.
	if err := c.Update(ctx, "incident", dataverse.ByID(uuid.New()), dataverse.Record{"title": "x"}, nil); !dataverse.IsNotFound(err) {
		t.Fatalf("update of a missing record: %v", err)
	}
	if f.count() != 2 {
		t.Fatal("update created a record")
	}

	// Optimistic concurrency with etags.
	rec, err := c.Get(ctx, "incident", dataverse.ByID(id), "title")
	if err != nil {
		t.Fatal(err)
	}
	etag := rec.ETag()
	if err := c.Update(ctx, "incident", dataverse.ByID(id), dataverse.Record{"title": "new"}, &dataverse.WriteOptions{IfMatch: etag}); err != nil {
		t.Fatal(err)
	}
	err = c.Update(ctx, "incident", dataverse.ByID(id), dataverse.Record{"title": "lost update"}, &dataverse.WriteOptions{IfMatch: etag})
	if !dataverse.IsConcurrencyConflict(err) {
		t.Fatalf("stale etag: %v", err)
	}
	if err := c.Delete(ctx, "incident", dataverse.ByID(id), &dataverse.WriteOptions{IfMatch: etag}); !dataverse.IsConcurrencyConflict(err) {
		t.Fatalf("stale etag delete: %v", err)
	}
	if err := c.Delete(ctx, "incident", dataverse.ByID(id), nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "incident", dataverse.ByID(id), nil); !dataverse.IsNotFound(err) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := c.Create(ctx, "incident", dataverse.Record{"incidentid": id2.String()}); !dataverse.IsAlreadyExists(err) {
		t.Fatalf("duplicate create: %v", err)
	}
}

func TestAlternateKeyValuesAreEscapedOnceOnTheWire(t *testing.T) {
	f := newFake(t)
	var raw string
	f.fault = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == "PATCH" {
			raw = r.URL.EscapedPath()
		}
		return false
	}
	c := f.client(t, nil)
	key := dataverse.ByKey("ticketnumber", "A 1/'x'%")
	id, err := c.Upsert(context.Background(), "incident", key, dataverse.Record{"title": "t"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "/api/data/v9.2/incidents(ticketnumber='A%201%2F''x''%25')"; raw != want {
		t.Fatalf("wire path %s, want %s", raw, want)
	}
	if got := f.get(id.String())["ticketnumber"]; got != "A 1/'x'%" {
		t.Fatalf("stored key %q", got)
	}
}
