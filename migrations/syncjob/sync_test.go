package syncjob_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/migrations/mirror"
	"github.com/dvsync/dvsync/migrations/syncjob"
)

// mutateIncidents updates, deletes and creates incidents through the Web
// API. It returns the IDs created.
func mutateIncidents(t testing.TB, c *dataverse.Client, update, del []int, create int) []string {
	t.Helper()
	ctx := context.Background()
	for _, i := range update {
		if err := c.Update(ctx, "incident", dataverse.ByKey("incidentid", incidentID(i)), dataverse.Record{"title": "changed " + incidentID(i)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, i := range del {
		id, _ := uuidOf(incidentID(i))
		if err := c.Delete(ctx, "incident", dataverse.ByID(id), nil); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	for range create {
		id, err := c.Create(ctx, "incident", dataverse.Record{"title": "new case", "customerid_account@odata.bind": "/accounts(" + accountID + ")"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id.String())
	}
	return ids
}

func TestSyncBaselineThenDeltaAppliesUpsertsAndDeletes(t *testing.T) {
	e := newEnv(t, refserver.Options{})
	e.seedIncidents(t, 30)
	c, ctr := e.client(t, 7)
	dbPath := filepath.Join(e.dir, "mirror.db")
	job := e.job(t, "mirror", "sqlite: "+dbPath, 7, "incident")
	st := openStore(t, filepath.Join(e.dir, "state.db"))
	ctx := context.Background()

	sum, err := syncjob.Run(ctx, job, syncjob.Options{Client: c, Counter: ctr, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	ts := tableSummary(t, sum, "incident")
	if ts.Mode != syncjob.ModeChangeTracking || ts.Read != 30 || ts.Upserted != 30 || ts.Rebaselined || ts.Requests < 5 {
		t.Fatalf("initial run: %+v", ts)
	}
	assertMirror(t, c, mirror.SQLite, dbPath, "incident")

	mutateIncidents(t, c, []int{1, 2, 3}, []int{4, 5}, 2)
	sum, err = syncjob.Run(ctx, job, syncjob.Options{Client: c, Counter: ctr, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	ts = tableSummary(t, sum, "incident")
	if ts.Read != 7 || ts.Upserted != 5 || ts.Deleted != 2 || ts.Unchanged != 0 || ts.Rebaselined {
		t.Fatalf("incremental run: %+v", ts)
	}
	// One delta page plus at most the metadata lookups.
	if ts.Requests > 4 {
		t.Fatalf("incremental run made %d requests", ts.Requests)
	}
	if n := assertMirror(t, c, mirror.SQLite, dbPath, "incident"); n != 30 {
		t.Fatalf("source has %d incidents, want 30", n)
	}

	sum, err = syncjob.Run(ctx, job, syncjob.Options{Client: c, Counter: ctr, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if ts = tableSummary(t, sum, "incident"); ts.Read != 0 {
		t.Fatalf("run without changes: %+v", ts)
	}
	runs, err := st.Runs(ctx, "mirror", 0)
	if err != nil || len(runs) != 3 || runs[0].Status != "succeeded" || runs[0].Summary == nil {
		t.Fatalf("journal: %+v %v", runs, err)
	}
}

func TestSyncLabelsAndTypes(t *testing.T) {
	e := newEnv(t, refserver.Options{})
	e.seedIncidents(t, 3)
	c, ctr := e.client(t, 0)
	dbPath := filepath.Join(e.dir, "mirror.db")
	job := e.job(t, "types", "sqlite: "+dbPath, 5000, "incident")
	st := openStore(t, filepath.Join(e.dir, "state.db"))
	if _, err := syncjob.Run(context.Background(), job, syncjob.Options{Client: c, Counter: ctr, Store: st}); err != nil {
		t.Fatal(err)
	}
	db, err := mirror.Open(context.Background(), mirror.SQLite, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var title, customer, customerType string
	var priority int
	err = db.SQL().QueryRow(`SELECT title, prioritycode, customerid, customeridtype FROM incident WHERE incidentid = ?`, incidentID(1)).Scan(&title, &priority, &customer, &customerType)
	if err != nil {
		t.Fatal(err)
	}
	if title != "Case 0000001" || priority != 2 || customer != accountID || customerType != "account" {
		t.Fatalf("row: %q %d %q %q", title, priority, customer, customerType)
	}
	var label string
	if err := db.SQL().QueryRow(`SELECT label FROM dvsync_choice_labels WHERE table_name = 'incident' AND column_name = 'prioritycode' AND value = 2`).Scan(&label); err != nil || label != "Normal" {
		t.Fatalf("label of prioritycode 2: %q %v", label, err)
	}
	var declared string
	if err := db.SQL().QueryRow(`SELECT type FROM pragma_table_info('incident') WHERE name = 'modifiedon'`).Scan(&declared); err != nil || declared != "TIMESTAMP" {
		t.Fatalf("modifiedon declared as %q %v", declared, err)
	}
}

func TestSyncExpiredTokenRebaselines(t *testing.T) {
	e := newEnv(t, refserver.Options{ChangeRetention: 2 * time.Second})
	e.seedIncidents(t, 20)
	c, ctr := e.client(t, 6)
	dbPath := filepath.Join(e.dir, "mirror.db")
	job := e.job(t, "expiry", "sqlite: "+dbPath, 6, "incident")
	st := openStore(t, filepath.Join(e.dir, "state.db"))
	ctx := context.Background()
	if _, err := syncjob.Run(ctx, job, syncjob.Options{Client: c, Counter: ctr, Store: st}); err != nil {
		t.Fatal(err)
	}
	mutateIncidents(t, c, []int{1, 2}, []int{3, 4, 5}, 1)
	time.Sleep(3 * time.Second) // past the server's retention: ExpiredVersionStamp
	sum, err := syncjob.Run(ctx, job, syncjob.Options{Client: c, Counter: ctr, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	ts := tableSummary(t, sum, "incident")
	if !ts.Rebaselined || !strings.Contains(ts.RebaselineReason, "0x80044352") {
		t.Fatalf("not re-baselined: %+v", ts)
	}
	// 18 rows now: 2 changed + 1 new upserted, 15 unchanged, 3 vanished.
	if ts.Upserted != 3 || ts.Unchanged != 15 || ts.Deleted != 3 || ts.Read != 21 {
		t.Fatalf("re-baseline counts: %+v", ts.Counts)
	}
	if n := assertMirror(t, c, mirror.SQLite, dbPath, "incident"); n != 18 {
		t.Fatalf("%d source rows", n)
	}
	// The next run is incremental again.
	sum, err = syncjob.Run(ctx, job, syncjob.Options{Client: c, Counter: ctr, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if ts := tableSummary(t, sum, "incident"); ts.Rebaselined || ts.Read != 0 {
		t.Fatalf("after re-baseline: %+v", ts)
	}
}

func TestSyncTokenOlderThanOrganisationRetentionRebaselines(t *testing.T) {
	e := newEnv(t, refserver.Options{}) // 7 days: expirechangetrackingindays 7
	e.seedIncidents(t, 10)
	c, ctr := e.client(t, 0)
	dbPath := filepath.Join(e.dir, "mirror.db")
	job := e.job(t, "orgdays", "sqlite: "+dbPath, 5000, "incident")
	st := openStore(t, filepath.Join(e.dir, "state.db"))
	ctx := context.Background()
	if _, err := syncjob.Run(ctx, job, syncjob.Options{Client: c, Counter: ctr, Store: st}); err != nil {
		t.Fatal(err)
	}
	later := func() time.Time { return time.Now().Add(8 * 24 * time.Hour) }
	sum, err := syncjob.Run(ctx, job, syncjob.Options{Client: c, Counter: ctr, Store: st, Now: later})
	if err != nil {
		t.Fatal(err)
	}
	ts := tableSummary(t, sum, "incident")
	if !ts.Rebaselined || !strings.Contains(ts.RebaselineReason, "expirechangetrackingindays (7 days)") || ts.Unchanged != 10 || ts.Upserted != 0 {
		t.Fatalf("%+v", ts)
	}
}

func TestSyncFallsBackToModifiedOnWhereChangeTrackingIsOff(t *testing.T) {
	e := newEnv(t, refserver.Options{})
	c, ctr := e.client(t, 3)
	ctx := context.Background()
	var ids []string
	for i := range 8 {
		id, err := c.Create(ctx, "subject", dataverse.Record{"title": "Subject " + string(rune('A'+i))})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id.String())
	}
	dbPath := filepath.Join(e.dir, "mirror.db")
	job := e.job(t, "fallback", "sqlite: "+dbPath, 3, "subject")
	st := openStore(t, filepath.Join(e.dir, "state.db"))
	sum, err := syncjob.Run(ctx, job, syncjob.Options{Client: c, Counter: ctr, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	ts := tableSummary(t, sum, "subject")
	if ts.Mode != syncjob.ModeModifiedOn || ts.Upserted != 8 || len(sum.Fallbacks()) != 1 {
		t.Fatalf("first run: %+v", ts)
	}
	id0, _ := uuidOf(ids[0])
	id1, _ := uuidOf(ids[1])
	if err := c.Update(ctx, "subject", dataverse.ByID(id0), dataverse.Record{"title": "Renamed"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "subject", dataverse.ByID(id1), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(ctx, "subject", dataverse.Record{"title": "Brand new"}); err != nil {
		t.Fatal(err)
	}
	sum, err = syncjob.Run(ctx, job, syncjob.Options{Client: c, Counter: ctr, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	ts = tableSummary(t, sum, "subject")
	// Every row is inside the 5-minute overlap, so all 8 are re-read: the
	// renamed and the new one upserted, 6 unchanged; the deleted one found
	// by the key-set comparison.
	if ts.Upserted != 2 || ts.Deleted != 1 || ts.Unchanged != 6 || ts.KeysCompared != 8 {
		t.Fatalf("second run: %+v", ts)
	}
	assertMirror(t, c, mirror.SQLite, dbPath, "subject")
}

func TestSyncSecondRunIsLockedOut(t *testing.T) {
	e := newEnv(t, refserver.Options{})
	c, ctr := e.client(t, 0)
	job := e.job(t, "locked", "sqlite: "+filepath.Join(e.dir, "m.db"), 5000, "incident")
	statePath := filepath.Join(e.dir, "state.db")
	holder := openStore(t, statePath)
	unlock, err := holder.Lock(context.Background(), "locked")
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t, statePath)
	start := time.Now()
	_, err = syncjob.Run(context.Background(), job, syncjob.Options{Client: c, Counter: ctr, Store: st})
	if !errors.Is(err, syncjob.ErrLocked) || time.Since(start) > 2*time.Second {
		t.Fatalf("err = %v after %s", err, time.Since(start))
	}
	unlock()
	if _, err := syncjob.Run(context.Background(), job, syncjob.Options{Client: c, Counter: ctr, Store: st}); err != nil {
		t.Fatalf("after unlock: %v", err)
	}
}

// A run stopped after a few pages resumes at the page it was on: it
// re-reads at most one page and the mirror ends equal to the source.
func TestSyncInterruptedBaselineResumesAtItsPage(t *testing.T) {
	e := newEnv(t, refserver.Options{})
	e.seedIncidents(t, 100)
	c, ctr := e.client(t, 10)
	dbPath := filepath.Join(e.dir, "mirror.db")
	job := e.job(t, "resume", "sqlite: "+dbPath, 10, "incident")
	st := openStore(t, filepath.Join(e.dir, "state.db"))
	ctx, cancel := context.WithCancel(context.Background())
	pages := 0
	sum, err := syncjob.Run(ctx, job, syncjob.Options{Client: c, Counter: ctr, Store: st, Progress: func(p syncjob.Progress) {
		if p.Phase == "baseline" {
			if pages++; pages == 4 {
				cancel()
			}
		}
	}})
	if err == nil {
		t.Fatal("cancelled run reported success")
	}
	first := tableSummary(t, sum, "incident").Read
	runs, _ := st.Runs(context.Background(), "resume", 1)
	if len(runs) != 1 || runs[0].Status != "interrupted" {
		t.Fatalf("journal after Ctrl-C: %+v", runs)
	}
	sum, err = syncjob.Run(context.Background(), job, syncjob.Options{Client: c, Counter: ctr, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	ts := tableSummary(t, sum, "incident")
	// The first run committed 4 pages (40 rows) and read into the 5th; the
	// second re-reads from the 5th page on.
	if first < 40 || ts.Read != 60 || ts.Upserted != 60 {
		t.Fatalf("first run read %d, resumed run %+v", first, ts.Counts)
	}
	assertMirror(t, c, mirror.SQLite, dbPath, "incident")
}

func TestSyncRejectsValuesTheMirrorCannotHold(t *testing.T) {
	e := newEnv(t, refserver.Options{})
	e.seedIncidents(t, 5)
	// Stored directly, past the server's validation: not a GUID.
	err := e.srv.InsertRows(context.Background(), "incident", 1, func(int) map[string]any {
		return map[string]any{"incidentid": incidentID(99), "title": "bad", "statecode": 0, "statuscode": 1,
			"customerid": refserver.Ref{Table: "account", ID: "not-a-guid"}}
	})
	if err != nil {
		t.Fatal(err)
	}
	c, ctr := e.client(t, 0)
	job := e.job(t, "rejects", "sqlite: "+filepath.Join(e.dir, "m.db"), 5000, "incident")
	st := openStore(t, filepath.Join(e.dir, "state.db"))
	var rej strings.Builder
	sum, err := syncjob.Run(context.Background(), job, syncjob.Options{Client: c, Counter: ctr, Store: st, Rejects: &rej})
	if !errors.Is(err, syncjob.ErrRejects) {
		t.Fatalf("err = %v", err)
	}
	ts := tableSummary(t, sum, "incident")
	if ts.Rejected != 1 || ts.Upserted != 5 || sum.Status != "rejects" {
		t.Fatalf("%+v", ts)
	}
	if !strings.Contains(rej.String(), incidentID(99)) || !strings.Contains(rej.String(), "customerid") {
		t.Fatalf("rejects: %s", rej.String())
	}
}

func TestSyncDryRunWritesNothing(t *testing.T) {
	e := newEnv(t, refserver.Options{})
	e.seedIncidents(t, 12)
	c, ctr := e.client(t, 5)
	dbPath := filepath.Join(e.dir, "mirror.db")
	job := e.job(t, "dry", "sqlite: "+dbPath, 5, "incident")
	st := openStore(t, filepath.Join(e.dir, "state.db"))
	sum, err := syncjob.Run(context.Background(), job, syncjob.Options{Client: c, Counter: ctr, Store: st, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if ts := tableSummary(t, sum, "incident"); ts.Upserted != 12 || !sum.DryRun {
		t.Fatalf("%+v", ts)
	}
	db, _ := mirror.Open(context.Background(), mirror.SQLite, dbPath)
	defer db.Close()
	var n int
	if err := db.SQL().QueryRow(`SELECT COUNT(*) FROM incident`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("dry run wrote %d rows (%v)", n, err)
	}
	if cp, _ := st.Checkpoint(context.Background(), "dry", "incident"); cp.Phase != "" {
		t.Fatalf("dry run moved the checkpoint: %+v", cp)
	}
	if runs, _ := st.Runs(context.Background(), "dry", 0); len(runs) != 0 {
		t.Fatalf("dry run journalled: %+v", runs)
	}
}

func TestWriteMetrics(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dvsync.prom")
	s := &syncjob.Summary{Job: "nightly", Status: "succeeded", Ended: time.Unix(1700000000, 0), DurationSeconds: 1.5,
		Tables: []syncjob.TableSummary{{Table: "incident", Mode: syncjob.ModeChangeTracking, Counts: syncjob.Counts{Read: 3, Upserted: 2, Deleted: 1, Requests: 4}}}}
	if err := syncjob.WriteMetrics(path, s); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	for _, want := range []string{
		`dvsync_sync_last_run_success{job="nightly",status="succeeded"} 1`,
		`dvsync_sync_last_run_records{job="nightly",table="incident",outcome="upserted"} 2`,
		`dvsync_sync_last_run_requests{job="nightly",table="incident"} 4`,
		`dvsync_sync_last_run_timestamp_seconds{job="nightly"} 1700000000`,
		"# TYPE dvsync_sync_last_run_records gauge",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q:\n%s", want, b)
		}
	}
}

// A job that starts mirroring more columns re-reads the table in full, so
// rows mirrored before carry the new columns' values too.
func TestSyncNewColumnsRebaseline(t *testing.T) {
	e := newEnv(t, refserver.Options{})
	e.seedIncidents(t, 9)
	c, ctr := e.client(t, 4)
	dbPath := filepath.Join(e.dir, "mirror.db")
	st := openStore(t, filepath.Join(e.dir, "state.db"))
	ctx := context.Background()
	jobText := func(cols string) *syncjob.Job {
		text := "name: drift\nsource:\n  dataverse: {env: " + e.url + "}\ntarget:\n  sqlite: " + dbPath + "\ntables:\n  - {name: incident, columns: [" + cols + "]}\n"
		j, err := syncjob.ParseJob(filepath.Join(e.dir, "drift.yaml"), []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	if _, err := syncjob.Run(ctx, jobText("title"), syncjob.Options{Client: c, Counter: ctr, Store: st}); err != nil {
		t.Fatal(err)
	}
	sum, err := syncjob.Run(ctx, jobText("title, ticketnumber"), syncjob.Options{Client: c, Counter: ctr, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	ts := tableSummary(t, sum, "incident")
	if !ts.Rebaselined || !strings.Contains(ts.RebaselineReason, "ticketnumber") || ts.Upserted != 9 {
		t.Fatalf("%+v", ts)
	}
	db, _ := mirror.Open(ctx, mirror.SQLite, dbPath)
	defer db.Close()
	var tn string
	if err := db.SQL().QueryRow(`SELECT ticketnumber FROM incident WHERE incidentid = ?`, incidentID(2)).Scan(&tn); err != nil || tn != "CAS-0000002" {
		t.Fatalf("ticketnumber %q %v", tn, err)
	}
}

// Service protection limits: the client waits out each 429 (Retry-After),
// the summary counts them, and nothing is lost.
func TestSyncCountsThrottledRequests(t *testing.T) {
	lim, err := refserver.ParseLimits("requests=4/1s")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, refserver.Options{Limits: lim})
	e.seedIncidents(t, 40)
	c, ctr := e.client(t, 5)
	dbPath := filepath.Join(e.dir, "mirror.db")
	job := e.job(t, "throttled", "sqlite: "+dbPath, 5, "incident")
	st := openStore(t, filepath.Join(e.dir, "state.db"))
	sum, err := syncjob.Run(context.Background(), job, syncjob.Options{Client: c, Counter: ctr, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	ts := tableSummary(t, sum, "incident")
	if ts.Throttled == 0 || ts.Upserted != 40 || ts.Requests < 8+ts.Throttled {
		t.Fatalf("%+v", ts.Counts)
	}
	assertMirror(t, c, mirror.SQLite, dbPath, "incident")
}

// A page link saved by an interrupted change read that the server no
// longer accepts leads to a full re-read, not to a stuck job.
func TestSyncRefusedResumeLinkRebaselines(t *testing.T) {
	e := newEnv(t, refserver.Options{})
	e.seedIncidents(t, 6)
	c, ctr := e.client(t, 0)
	dbPath := filepath.Join(e.dir, "mirror.db")
	job := e.job(t, "refused", "sqlite: "+dbPath, 5000, "incident")
	st := openStore(t, filepath.Join(e.dir, "state.db"))
	ctx := context.Background()
	if _, err := syncjob.Run(ctx, job, syncjob.Options{Client: c, Counter: ctr, Store: st}); err != nil {
		t.Fatal(err)
	}
	cp, _ := st.Checkpoint(ctx, "refused", "incident")
	cp.Phase, cp.Link = "delta", e.url+"/api/data/v9.2/incidents?$skiptoken=%3Ccookie%20pagenumber%3D%222%22%20/%3E"
	if err := st.SaveCheckpoint(ctx, "refused", "incident", cp); err != nil {
		t.Fatal(err)
	}
	sum, err := syncjob.Run(ctx, job, syncjob.Options{Client: c, Counter: ctr, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	ts := tableSummary(t, sum, "incident")
	if !ts.Rebaselined || !strings.Contains(ts.RebaselineReason, "was refused") || ts.Unchanged != 6 {
		t.Fatalf("%+v", ts)
	}
}
