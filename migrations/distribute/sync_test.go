package distribute

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/dataverse/sink"
	"github.com/dvsync/dvsync/migrations/odoojob/odoojobtest"
	"github.com/dvsync/dvsync/migrations/syncjob"
)

// mirrorURL is url with a search_path of a new schema, dropped at the end.
func mirrorURL(t *testing.T, base string) string {
	t.Helper()
	ctx := context.Background()
	schema := fmt.Sprintf("mirror_t%d", time.Now().UnixNano())
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c, err := pgx.Connect(ctx, base); err == nil {
			c.Exec(ctx, `DROP SCHEMA `+schema+` CASCADE`)
			c.Close(ctx)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// TestSyncTablesOnWorkers: a sync job of four tables runs as four units on
// two workers into a PostgreSQL mirror; every table's rows arrive, the
// run is journalled as the coordinator's, a second coordinator of the job
// is refused while the first holds the lock, and the next run reads only
// what changed.
func TestSyncTablesOnWorkers(t *testing.T) {
	base := testDatabase(t)
	t.Setenv("DVSYNC_TOKEN", odoojobtest.DVToken)
	ctx := context.Background()
	ref, err := refserver.New(refserver.Options{Token: odoojobtest.DVToken})
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	if _, err := ref.LoadSeed(ctx, odoojobtest.Testdata("dataverse", "seed")); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(ref)
	defer hs.Close()
	dv, err := dataverse.NewClient(hs.URL, dataverse.StaticToken(odoojobtest.DVToken), &dataverse.ClientOptions{Limiter: dataverse.NewLimiter(dataverse.LimiterOptions{})})
	if err != nil {
		t.Fatal(err)
	}
	tables := []string{"account", "contact", "subject", "incident"}
	for i := range 30 {
		if _, err := dv.Create(ctx, "account", dataverse.Record{"name": fmt.Sprintf("Distributed %02d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	mirror := mirrorURL(t, base)
	name := fmt.Sprintf("dist-sync-%d", time.Now().UnixNano())
	text := fmt.Sprintf("name: %s\nsource:\n  dataverse: {env: %s}\ntarget:\n  postgres: %s\ntables: [%s]\n", name, hs.URL, mirror, strings.Join(tables, ", "))
	dir := t.TempDir()
	job, err := syncjob.ParseJob(filepath.Join(dir, "job.yaml"), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	o := testOptions(t, base, 6*time.Second)
	ws := startWorkers(t, 2, WorkerOptions{Options: o, State: base, Concurrency: 2, Requests: 8})
	st, err := syncjob.OpenStore(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	so := SyncOptions{Options: o, State: base, Store: st, Job: job, JobText: []byte(text)}
	sum, err := Sync(ctx, so)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Status != "succeeded" || len(sum.Tables) != len(tables) {
		t.Fatalf("summary: %+v", sum)
	}
	conn, err := pgx.Connect(ctx, mirror)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, ts := range sum.Tables {
		n, err := sink.New(dv, nil).CountAll(ctx, ts.Table)
		if err != nil {
			t.Fatal(err)
		}
		var rows int64
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{ts.Table}.Sanitize()).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows != n || ts.Read != n || !ts.Reconciles() {
			t.Errorf("%s: %d rows in the mirror, %d in the source, summary %+v", ts.Table, rows, n, ts.Counts)
		}
		if ts.Requests == 0 {
			t.Errorf("%s: no requests counted", ts.Table)
		}
	}
	noSlotsHeld(t, ws)
	runs, err := st.Runs(ctx, name, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].Status != "succeeded" || runs[0].Summary == nil || runs[0].Summary.Totals.Read != sum.Totals.Read {
		t.Fatalf("journal: %+v", runs)
	}

	// The lock: a second coordinator while one holds the job.
	unlock, err := st.Lock(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Sync(ctx, so); err != syncjob.ErrLocked {
		t.Errorf("second coordinator: %v, want ErrLocked", err)
	}
	unlock()

	// A change, then the next run carries just it.
	if _, err := dv.Create(ctx, "account", dataverse.Record{"name": "Distributed late"}); err != nil {
		t.Fatal(err)
	}
	sum2, err := Sync(ctx, so)
	if err != nil {
		t.Fatal(err)
	}
	for _, ts := range sum2.Tables {
		if ts.Table == "account" && ts.Upserted != 1 {
			t.Errorf("second run, account: %+v", ts.Counts)
		}
	}
}
