package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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

// The connection string's search_path names the schema; Exists tells a
// database holding that state from one without, and creates nothing.
func TestSchemaFromURLAndExists(t *testing.T) {
	url := testDatabase(t)
	schema := freshSchema(t, url)
	ctx := t.Context()
	conn := url + "?search_path=" + schema
	if ok, err := pgstore.Exists(ctx, conn, pgstore.Options{}); ok || err != nil {
		t.Fatalf("Exists before Open: %v %v", ok, err)
	}
	if ok, _ := pgstore.Exists(ctx, conn, pgstore.Options{}); ok {
		t.Fatal("Exists created the state")
	}
	s, err := pgstore.Open(ctx, conn, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.SetValue(ctx, "j", "v", "1"); err != nil {
		t.Fatal(err)
	}
	if ok, err := pgstore.Exists(ctx, conn, pgstore.Options{}); !ok || err != nil {
		t.Fatalf("Exists after Open: %v %v", ok, err)
	}
	// The value landed in that schema, not in the default one.
	other := open(t, url, schema)
	if v, ok, _ := other.Value(ctx, "j", "v"); !ok || v != "1" {
		t.Errorf("value in schema %s: %q %v", schema, v, ok)
	}
	if _, err := pgstore.Open(ctx, url+"?search_path=a,b", pgstore.Options{}); err == nil || !strings.Contains(err.Error(), "schema name") {
		t.Errorf("a search_path list: %v", err)
	}
}
