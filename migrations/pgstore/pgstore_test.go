package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/pgstore"
	"github.com/dvsync/dvsync/migrations/storetest"
)

// testDatabase returns DVSYNC_TEST_POSTGRES. Outside CI a missing server
// skips the test with a message; in CI (.ci/run starts one) it fails.
func testDatabase(t *testing.T) string {
	t.Helper()
	url := os.Getenv("DVSYNC_TEST_POSTGRES")
	if url == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set but DVSYNC_TEST_POSTGRES is not: .ci/run must start PostgreSQL and export it")
		}
		t.Skip("DVSYNC_TEST_POSTGRES is not set: PostgreSQL store tests need a server (see .ci/run)")
	}
	return url
}

// freshSchema names a schema no other test uses, dropped at the end.
func freshSchema(t *testing.T, url string) string {
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), url)
		if err != nil {
			return
		}
		defer conn.Close(context.Background())
		conn.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
	})
	return schema
}

func open(t *testing.T, url, schema string) *pgstore.Store {
	s, err := pgstore.Open(t.Context(), url, pgstore.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPostgresStoreConforms(t *testing.T) {
	url := testDatabase(t)
	storetest.Run(t, func(t *testing.T) storetest.Backing {
		schema := freshSchema(t, url)
		return func(t *testing.T) migrations.Store { return open(t, url, schema) }
	}, storetest.ErrorAs[*pgstore.JobRunningError])
}

// Two workers that both read a step's checkpoint cannot both advance it:
// the second commit fails and leaves nothing behind.
func TestCheckpointCompareAndSwap(t *testing.T) {
	url := testDatabase(t)
	schema := freshSchema(t, url)
	ctx := t.Context()
	a, b := open(t, url, schema), open(t, url, schema)
	for _, s := range []*pgstore.Store{a, b} {
		if _, err := s.Checkpoint(ctx, "j", "tickets"); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Commit(ctx, migrations.Commit{Job: "j", Step: "tickets", Cursor: "100"}); err != nil {
		t.Fatal(err)
	}
	err := b.Commit(ctx, migrations.Commit{Job: "j", Step: "tickets", Cursor: "50",
		IDs: []migrations.IDEntry{{SourceID: "x", Ref: migrations.Ref{Table: "incident", Key: "k", ID: "1"}}}})
	var conflict *pgstore.ConflictError
	if !errors.As(err, &conflict) {
		t.Fatalf("stale commit: %v", err)
	}
	if refs, _ := a.LookupIDs(ctx, "j", "tickets", "x"); len(refs) != 0 {
		t.Errorf("the losing commit left ID map entries: %+v", refs)
	}
	if cp, _ := a.Checkpoint(ctx, "j", "tickets"); cp.Cursor != "100" {
		t.Errorf("checkpoint %+v", cp)
	}
	// After reading again, b may advance.
	if _, err := b.Checkpoint(ctx, "j", "tickets"); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(ctx, migrations.Commit{Job: "j", Step: "tickets", Cursor: "200"}); err != nil {
		t.Fatalf("commit after a fresh read: %v", err)
	}
	// Both insert a first checkpoint: one wins.
	for _, s := range []*pgstore.Store{a, b} {
		s.Checkpoint(ctx, "j", "new")
	}
	errA := a.Commit(ctx, migrations.Commit{Job: "j", Step: "new", Cursor: "1"})
	errB := b.Commit(ctx, migrations.Commit{Job: "j", Step: "new", Cursor: "2"})
	if errA != nil || !errors.As(errB, &conflict) {
		t.Errorf("first checkpoint race: %v / %v", errA, errB)
	}
}

func TestDeltaTokenCompareAndSwap(t *testing.T) {
	url := testDatabase(t)
	schema := freshSchema(t, url)
	ctx := t.Context()
	a, b := open(t, url, schema), open(t, url, schema)
	a.SetValue(ctx, "sync", "delta:incident", "t1")
	a.Value(ctx, "sync", "delta:incident")
	b.Value(ctx, "sync", "delta:incident")
	if err := a.SetValue(ctx, "sync", "delta:incident", "t2"); err != nil {
		t.Fatal(err)
	}
	var conflict *pgstore.ConflictError
	if err := b.SetValue(ctx, "sync", "delta:incident", "t2-other"); !errors.As(err, &conflict) {
		t.Fatalf("stale token write: %v", err)
	}
	if v, _, _ := a.Value(ctx, "sync", "delta:incident"); v != "t2" {
		t.Errorf("token %q", v)
	}
}

func TestOpenErrorsNameNoPassword(t *testing.T) {
	_, err := pgstore.Open(t.Context(), "postgres://u:s3cret@127.0.0.1:1/db?connect_timeout=2", pgstore.Options{})
	if err == nil {
		t.Fatal("open of a closed port succeeded")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("password in error: %v", err)
	}
	_, err = pgstore.Open(t.Context(), "postgres://u:s3cret@[bad", pgstore.Options{})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("parse error: %v", err)
	}
	if _, err := pgstore.Open(t.Context(), "postgres://127.0.0.1/db", pgstore.Options{Schema: "Bad-Name"}); err == nil {
		t.Error("bad schema name accepted")
	}
}
