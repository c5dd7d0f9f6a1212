package distribute

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
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

// failDeleteOnce answers the first DELETE with 403 once armed: a stop
// (dataverse.Classify), so the unit's attempt fails mid-page and River
// does the table again from its checkpoint.
type failDeleteOnce struct {
	h     http.Handler
	armed atomic.Bool
}

func (f *failDeleteOnce) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodDelete && f.armed.CompareAndSwap(true, false) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"error":{"code":"0x80040220","message":"Principal user is missing prvDeleteIncident privilege (injected by the test)."}}`)
		return
	}
	f.h.ServeHTTP(w, r)
}

// TestSyncRejectsOnWorkers: a Dataverse → Dataverse job on two workers,
// with cases whose titles the target refuses (longer than its 200
// characters): the coordinator writes one line per rejected case, in the
// line format of a single-process run, and the summary counts exactly
// those lines. In the next run a unit's attempt fails after its page
// found a reject and before its checkpoint; River does the page again,
// and the reject is still one line, counted once.
func TestSyncRejectsOnWorkers(t *testing.T) {
	base := testDatabase(t)
	t.Setenv("DVSYNC_TOKEN", odoojobtest.DVToken)
	ctx := context.Background()
	newServer := func(h func(http.Handler) http.Handler) (*refserver.Server, string) {
		srv, err := refserver.New(refserver.Options{Token: odoojobtest.DVToken})
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(h(srv))
		t.Cleanup(func() { hs.Close(); srv.Close() })
		if err := srv.InsertRows(ctx, "account", 1, func(int) map[string]any {
			return map[string]any{"accountid": "0a0a0a0a-0000-4000-8000-0000000000aa", "name": "Contoso", "accountnumber": "ACC-1", "statecode": 0, "statuscode": 1}
		}); err != nil {
			t.Fatal(err)
		}
		return srv, hs.URL
	}
	src, srcURL := newServer(func(h http.Handler) http.Handler { return h })
	fail := &failDeleteOnce{}
	_, dstURL := newServer(func(h http.Handler) http.Handler { fail.h = h; return fail })
	incident := func(i int, title string) map[string]any {
		return map[string]any{"incidentid": fmt.Sprintf("00000000-0000-4000-8000-%012x", i), "title": title, "ticketnumber": fmt.Sprintf("CAS-%04d", i),
			"statecode": 0, "statuscode": 1, "customerid": refserver.Ref{Table: "account", ID: "0a0a0a0a-0000-4000-8000-0000000000aa"}}
	}
	long := strings.Repeat("x", 300) // stored in the source past its validation
	bad := map[int]bool{3: true, 11: true}
	if err := src.InsertRows(ctx, "incident", 14, func(i int) map[string]any {
		if bad[i] {
			return incident(i, long)
		}
		return incident(i, fmt.Sprintf("Case %d", i))
	}); err != nil {
		t.Fatal(err)
	}

	name := fmt.Sprintf("dist-rejects-%d", time.Now().UnixNano())
	text := fmt.Sprintf("name: %s\nsource:\n  dataverse: {env: %s}\ntarget:\n  dataverse: {env: %s}\ntables: [incident]\npage_size: 4\n", name, srcURL, dstURL)
	job, err := syncjob.ParseJob(filepath.Join(t.TempDir(), "job.yaml"), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	o := testOptions(t, base, 6*time.Second)
	startWorkers(t, 2, WorkerOptions{Options: o, State: base, Concurrency: 2, Requests: 8})
	st, err := syncjob.OpenStore(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	run := func() (*syncjob.Summary, []syncjob.Reject, error) {
		var file bytes.Buffer
		sum, err := Sync(ctx, SyncOptions{Options: o, State: base, Store: st, Job: job, JobText: []byte(text), Rejects: &file})
		var lines []syncjob.Reject
		for _, l := range strings.Split(strings.TrimSuffix(file.String(), "\n"), "\n") {
			if l == "" {
				continue
			}
			var r syncjob.Reject
			if err := json.Unmarshal([]byte(l), &r); err != nil {
				t.Fatalf("rejects line %q: %v", l, err)
			}
			lines = append(lines, r)
		}
		return sum, lines, err
	}
	check := func(sum *syncjob.Summary, lines []syncjob.Reject, ids ...int) {
		t.Helper()
		ts := sum.Tables[0]
		if sum.Status != "rejects" || sum.Totals.Rejected != int64(len(ids)) || ts.Rejected != int64(len(ids)) || !ts.Reconciles() {
			t.Fatalf("summary %s: %+v", sum.Status, ts.Counts)
		}
		if len(lines) != len(ids) {
			t.Fatalf("%d lines in the rejects file for %d rejects: %+v", len(lines), len(ids), lines)
		}
		for k, i := range ids {
			r := lines[k]
			if r.ID != fmt.Sprintf("00000000-0000-4000-8000-%012x", i) || r.Job != name || r.Table != "incident" || r.Time.IsZero() ||
				!strings.Contains(r.Error, "maximum allowed length") {
				t.Errorf("line %d: %+v", k, r)
			}
		}
	}

	sum, lines, err := run()
	if !errors.Is(err, syncjob.ErrRejects) {
		t.Fatalf("first run: %v", err)
	}
	slices.SortFunc(lines, func(a, b syncjob.Reject) int { return strings.Compare(a.ID, b.ID) })
	check(sum, lines, 3, 11)
	if ts := sum.Tables[0]; ts.Read != 14 || ts.Upserted != 12 {
		t.Fatalf("first run: %+v", ts.Counts)
	}

	// One more refused case and a delete in one page; the delete fails
	// once, after the page's reject was found.
	if err := src.InsertRows(ctx, "incident", 1, func(int) map[string]any { return incident(20, long) }); err != nil {
		t.Fatal(err)
	}
	dv, err := dataverse.NewClient(srcURL, dataverse.StaticToken(odoojobtest.DVToken), nil)
	if err != nil {
		t.Fatal(err)
	}
	gone, _ := uuid.Parse(fmt.Sprintf("00000000-0000-4000-8000-%012x", 5))
	if err := dv.Delete(ctx, "incident", dataverse.ByID(gone), nil); err != nil {
		t.Fatal(err)
	}
	fail.armed.Store(true)
	sum, lines, err = run()
	if !errors.Is(err, syncjob.ErrRejects) {
		t.Fatalf("second run: %v", err)
	}
	if fail.armed.Load() {
		t.Fatal("the injected failure was never met")
	}
	check(sum, lines, 20)
	if ts := sum.Tables[0]; ts.Read != 2 || ts.Deleted != 1 {
		t.Fatalf("second run: %+v", ts.Counts)
	}
}
