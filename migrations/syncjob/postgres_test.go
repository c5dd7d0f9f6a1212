package syncjob_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/migrations/mirror"
	"github.com/dvsync/dvsync/migrations/syncjob"
)

// postgresURL returns a postgres:// URL whose search_path is a new schema
// dropped at the end of the test. The server comes from
// DVSYNC_TEST_POSTGRES (.ci/run starts one); without it the test is
// skipped, except in CI, where it fails.
func postgresURL(t *testing.T) string {
	t.Helper()
	base := os.Getenv("DVSYNC_TEST_POSTGRES")
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("DVSYNC_TEST_POSTGRES is not set; .ci/run must start PostgreSQL and export it")
		}
		t.Skip("DVSYNC_TEST_POSTGRES not set (e.g. postgres://dvsync@127.0.0.1:55432/dvsync_test); skipping PostgreSQL tests")
	}
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	schema := fmt.Sprintf("t_%d", time.Now().UnixNano())
	if _, err := db.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("DVSYNC_TEST_POSTGRES: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err == nil {
			db.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
			db.Close()
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	if pw, ok := u.User.Password(); ok {
		// Job files refuse passwords; pgx reads PGPASSWORD.
		t.Setenv("PGPASSWORD", pw)
		u.User = url.User(u.User.Username())
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func TestSyncPostgresMirrorAndState(t *testing.T) {
	pg := postgresURL(t)
	e := newEnv(t, refserver.Options{ChangeRetention: 2 * time.Second})
	e.seedIncidents(t, 25)
	c, ctr := e.client(t, 6)
	job := e.job(t, "pg", "postgres: "+pg, 6, "incident", "subject")
	st := openStore(t, pg)
	ctx := context.Background()
	if _, err := syncjob.Run(ctx, job, syncjob.Options{Client: c, Counter: ctr, Store: st}); err != nil {
		t.Fatal(err)
	}
	assertMirror(t, c, mirror.Postgres, pg, "incident")

	mutateIncidents(t, c, []int{1, 2}, []int{3}, 2)
	sum, err := syncjob.Run(ctx, job, syncjob.Options{Client: c, Counter: ctr, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if ts := tableSummary(t, sum, "incident"); ts.Upserted != 4 || ts.Deleted != 1 {
		t.Fatalf("%+v", ts.Counts)
	}
	assertMirror(t, c, mirror.Postgres, pg, "incident")

	// Typed columns: uuid, timestamptz, integer.
	db, err := sql.Open("pgx", pg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var typ string
	if err := db.QueryRow(`SELECT data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'incident' AND column_name = 'incidentid'`).Scan(&typ); err != nil || typ != "uuid" {
		t.Fatalf("incidentid is %q (%v)", typ, err)
	}
	if err := db.QueryRow(`SELECT data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'incident' AND column_name = 'modifiedon'`).Scan(&typ); err != nil || typ != "timestamp with time zone" {
		t.Fatalf("modifiedon is %q (%v)", typ, err)
	}

	// Expired token re-baselines on PostgreSQL too.
	mutateIncidents(t, c, nil, []int{4, 5}, 0)
	time.Sleep(3 * time.Second)
	sum, err = syncjob.Run(ctx, job, syncjob.Options{Client: c, Counter: ctr, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if ts := tableSummary(t, sum, "incident"); !ts.Rebaselined || ts.Deleted != 2 {
		t.Fatalf("%+v", ts)
	}
	assertMirror(t, c, mirror.Postgres, pg, "incident")

	// The advisory lock keeps a second run out.
	other := openStore(t, pg)
	unlock, err := other.Lock(ctx, "pg")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := syncjob.Run(ctx, job, syncjob.Options{Client: c, Counter: ctr, Store: st}); !errors.Is(err, syncjob.ErrLocked) {
		t.Fatalf("err = %v", err)
	}
	unlock()
	runs, err := st.Runs(ctx, "pg", 0)
	if err != nil || len(runs) != 3 {
		t.Fatalf("journal: %d runs, %v", len(runs), err)
	}
	_ = filepath.Join
}
