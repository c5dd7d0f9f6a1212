package distribute

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	"github.com/dvsync/dvsync/odoo"
	"github.com/dvsync/dvsync/odoo/odooserver"
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

// TestSyncOdooOnWorkers: an Odoo → Dataverse sync job with --distribute
// runs as one unit on one of two workers. The first run migrates every
// ticket, with the summary and journal a single-process run writes; a
// ticket renamed in Odoo is then the one change the second run reads and
// writes, and Dataverse holds it once. A third run whose unit finds its
// lock held (an attempt River gave out again while another worked it)
// comes back later, and runs once.
func TestSyncOdooOnWorkers(t *testing.T) {
	base := testDatabase(t)
	odooEnv(t)
	ctx := context.Background()
	ref, err := refserver.New(refserver.Options{Token: odoojobtest.DVToken})
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	if _, err := ref.LoadSeed(ctx, odoojobtest.Testdata("dataverse", "seed")); err != nil {
		t.Fatal(err)
	}
	// The target refuses a case titled refused, as Dataverse refuses a
	// value it does not validate.
	const refused = "Refused by the target"
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && strings.Contains(r.URL.Path, "incidents") {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			if bytes.Contains(body, []byte(refused)) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, `{"error":{"code":"0x80044331","message":"A validation error occurred (injected by the test)."}}`)
				return
			}
		}
		ref.ServeHTTP(w, r)
	}))
	defer hs.Close()
	// Odoo's clock stays an hour behind the sync's, so each run's cursors
	// are past its overlap and the next run reads exactly after them.
	var odooNow atomic.Int64
	odooNow.Store(time.Now().Add(-time.Hour).Truncate(time.Second).UnixNano())
	osrv, err := odooserver.New(odooserver.Options{APIKey: odoojobtest.OdooKey, SeedDir: odoojobtest.SmallSeed(t, 40),
		Now: func() time.Time { return time.Unix(0, odooNow.Load()).UTC() }})
	if err != nil {
		t.Fatal(err)
	}
	ohs := httptest.NewServer(osrv)
	defer ohs.Close()
	oc, err := odoo.New(ctx, odoo.Options{URL: ohs.URL, Database: odooserver.Database, Login: "admin", APIKey: odoojobtest.OdooKey})
	if err != nil {
		t.Fatal(err)
	}
	dv, err := dataverse.NewClient(hs.URL, dataverse.StaticToken(odoojobtest.DVToken), nil)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("dist-odoo-%d", time.Now().UnixNano())
	text := fmt.Sprintf("name: %s\nsource:\n  odoo: {url: %s, db: %s, user: admin}\ntarget:\n  dataverse: {env: %s}\nmap: %s\n",
		name, ohs.URL, odooserver.Database, hs.URL, odoojobtest.Testdata("odoodv", "demo-map.yaml"))
	job, err := syncjob.ParseJob(filepath.Join(t.TempDir(), "job.yaml"), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	o := testOptions(t, base, 6*time.Second)
	var busy atomic.Int32
	var onBusy atomic.Pointer[func()]
	ws := startWorkers(t, 2, WorkerOptions{Options: o, State: base, Concurrency: 2, Requests: 8, OnUnit: func(ev UnitEvent) {
		if !ev.Ended {
			return
		}
		if ev.Outcome == "busy" {
			busy.Add(1)
			if f := onBusy.Load(); f != nil {
				(*f)()
			}
		}
	}})
	st, err := syncjob.OpenStore(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var lines []syncjob.Reject
	run := func() *syncjob.Summary {
		t.Helper()
		var rej bytes.Buffer
		sum, err := Sync(ctx, SyncOptions{Options: o, State: base, Store: st, Job: job, JobText: []byte(text), Rejects: &rej})
		lines = nil
		for l := range strings.Lines(rej.String()) {
			var r syncjob.Reject
			if err := json.Unmarshal([]byte(l), &r); err != nil {
				t.Fatalf("rejects line %q: %v", l, err)
			}
			lines = append(lines, r)
		}
		if err != nil && !(errors.Is(err, syncjob.ErrRejects) && sum.Status == "rejects") {
			t.Fatalf("%v\nrejects:\n%s", err, rej.String())
		}
		if int64(len(lines)) != sum.Totals.Rejected {
			t.Fatalf("%d rejects counted, %d lines written:\n%s", sum.Totals.Rejected, len(lines), rej.String())
		}
		// A step's records may map to several target records or none
		// (Odoo steps' figures are the engine's); a case is one ticket.
		var tot syncjob.Counts
		for _, ts := range sum.Tables {
			if ts.Error != "" || (ts.Table == "cases" || ts.Table == "deleted tickets") && !ts.Reconciles() {
				t.Errorf("%s: %+v %s", ts.Table, ts.Counts, ts.Error)
			}
			tot.Read += ts.Read
			tot.Upserted += ts.Upserted
			tot.Requests += ts.Requests
		}
		if tot.Read != sum.Totals.Read || tot.Upserted != sum.Totals.Upserted || tot.Requests != sum.Totals.Requests {
			t.Errorf("totals %+v are not the tables' %+v", sum.Totals, tot)
		}
		return sum
	}
	step := func(sum *syncjob.Summary, name string) syncjob.TableSummary {
		t.Helper()
		for _, ts := range sum.Tables {
			if ts.Table == name {
				return ts
			}
		}
		t.Fatalf("no %s in the summary: %+v", name, sum.Tables)
		return syncjob.TableSummary{}
	}
	tickets, err := oc.Search(ctx, "helpdesk.ticket", odoo.Query{Order: "id asc", Context: odoo.Context{}.WithArchived()})
	if err != nil || len(tickets) < 2 {
		t.Fatal(tickets, err)
	}
	cases := func() map[string]int {
		t.Helper()
		out := map[string]int{}
		for rec, err := range dv.Records(ctx, "incident", dataverse.Query{Select: []string{"title"}}) {
			if err != nil {
				t.Fatal(err)
			}
			out[rec.String("title")]++
		}
		return out
	}
	total := func(m map[string]int) (n int) {
		for _, k := range m {
			n += k
		}
		return n
	}

	seeded := total(cases())
	sum := run()
	if sum.Status != "succeeded" || sum.Target != "dataverse" {
		t.Fatalf("first run: %+v", sum)
	}
	c := step(sum, "cases")
	if c.Read != int64(len(tickets)) || c.Upserted != int64(len(tickets)) || c.Mode != "odoo write_date cursor" {
		t.Errorf("first run, cases: %s %+v (Odoo holds %d tickets)", c.Mode, c.Counts, len(tickets))
	}
	if d := step(sum, "deleted tickets"); d.KeysCompared != int64(len(tickets)) {
		t.Errorf("first run, deleted tickets: %+v", d.Counts)
	}
	if sum.Tables[0].Requests == 0 {
		t.Errorf("no requests counted: %+v", sum.Tables[0])
	}
	before := cases()
	if total(before) != seeded+len(tickets) {
		t.Fatalf("%d cases in Dataverse for %d seeded and %d tickets", total(before), seeded, len(tickets))
	}
	runs, err := st.Runs(ctx, name, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].Status != "succeeded" || runs[0].Summary == nil || runs[0].Summary.Totals != sum.Totals {
		t.Fatalf("journal: %+v", runs)
	}

	// A rename in Odoo: the next run reads and writes just that ticket.
	odooNow.Add(int64(time.Minute))
	const renamed = "Renamed while the workers waited"
	if err := oc.Write(ctx, "helpdesk.ticket", []int{tickets[1]}, map[string]any{"name": renamed}); err != nil {
		t.Fatal(err)
	}
	sum = run()
	if c := step(sum, "cases"); c.Read != 1 || c.Upserted != 1 {
		t.Errorf("second run, cases: %+v", c.Counts)
	}
	if sum.Totals.Read != 1 || sum.Totals.Upserted != 1 {
		t.Errorf("second run read or wrote more than the rename: %+v", sum.Totals)
	}
	after := cases()
	if after[renamed] != 1 || total(after) != total(before) {
		t.Errorf("after the rename: %d cases titled %q, %d cases (%d before)", after[renamed], renamed, total(after), total(before))
	}
	changed := 0
	for title, n := range before {
		changed += max(0, n-after[title])
	}
	if changed != 1 {
		t.Errorf("%d cases lost their title, want the renamed ticket's", changed)
	}

	// The unit's lock held, as by a worker still working it: the attempt
	// snoozes ("busy") and the next one, once the lock is free, runs.
	unlock, err := st.Lock(ctx, syncjob.TableLockName(name, syncjob.OdooUnit))
	if err != nil {
		t.Fatal(err)
	}
	release := sync.OnceFunc(unlock)
	onBusy.Store(&release)
	defer release()
	sum = run()
	if busy.Load() == 0 {
		t.Error("no attempt found the unit's lock held")
	}
	if sum.Totals.Read != 0 || len(sum.Tables) < 2 {
		t.Errorf("quiet run: %+v", sum)
	}
	if runs, err := st.Runs(ctx, name, 0); err != nil || len(runs) != 3 {
		t.Fatalf("journal: %d runs, %v", len(runs), err)
	}
	// Given out again once it has ended, the run's unit does nothing.
	eng := openTestStore(t, base, o)
	if _, err := syncjob.RunOdoo(ctx, job, syncjob.Options{Store: st, Odoo: oc, EngineStore: eng, TargetClient: dv, RunID: sum.RunID}); !errors.Is(err, syncjob.ErrRunDone) {
		t.Errorf("the ended run's unit again: %v, want ErrRunDone", err)
	}

	// A title the target refuses: one line in the rejects file, in the
	// single-process run's format, counted once.
	odooNow.Add(int64(time.Minute))
	if err := oc.Write(ctx, "helpdesk.ticket", []int{tickets[2]}, map[string]any{"name": refused}); err != nil {
		t.Fatal(err)
	}
	sum = run()
	if c := step(sum, "cases"); sum.Status != "rejects" || c.Read != 1 || c.Rejected != 1 || len(lines) != 1 {
		t.Fatalf("refused title: %s %+v, rejects %+v", sum.Status, c.Counts, lines)
	}
	if r := lines[0]; r.Job != name || r.Table != "cases" || r.ID != strconv.Itoa(tickets[2]) || r.Error == "" || r.Time.IsZero() {
		t.Errorf("rejects line: %+v", r)
	}
	noSlotsHeld(t, ws)
}
