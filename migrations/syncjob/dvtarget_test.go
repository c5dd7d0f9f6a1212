package syncjob_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/dataverse/sink"
	"github.com/dvsync/dvsync/migrations/syncjob"
)

// Dataverse → Dataverse: cases are written into another environment by
// their alternate key (ticketnumber), their customer re-bound by the
// account's key (accountnumber) to the target's own account, whose GUID
// differs; changes and deletes follow.
func TestSyncDataverseToDataverseByAlternateKey(t *testing.T) {
	src := newEnv(t, refserver.Options{})
	dst := newEnv(t, refserver.Options{})
	ctx := context.Background()
	const srcAcc, dstAcc = "0a0a0a0a-0000-4000-8000-00000000a001", "0b0b0b0b-0000-4000-8000-00000000b001"
	for _, e := range []struct {
		env *env
		id  string
	}{{src, srcAcc}, {dst, dstAcc}} {
		if err := e.env.srv.InsertRows(ctx, "account", 1, func(int) map[string]any {
			return map[string]any{"accountid": e.id, "name": "Fabrikam", "accountnumber": "ACC-1", "statecode": 0, "statuscode": 1}
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := src.srv.InsertRows(ctx, "incident", 12, func(i int) map[string]any {
		return map[string]any{"incidentid": incidentID(i), "title": fmt.Sprintf("Case %d", i), "ticketnumber": fmt.Sprintf("CAS-%04d", i),
			"prioritycode": 2, "statecode": 0, "statuscode": 1, "customerid": refserver.Ref{Table: "account", ID: srcAcc}}
	}); err != nil {
		t.Fatal(err)
	}
	sc, ctr := src.client(t, 5)
	dc, err := dataverse.NewClient(dst.url, dataverse.StaticToken(refToken), &dataverse.ClientOptions{Transport: ctr})
	if err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf("name: copy\nsource:\n  dataverse: {env: %s}\ntarget:\n  dataverse: {env: %s}\ntables: [incident]\npage_size: 5\n", src.url, dst.url)
	path := filepath.Join(src.dir, "copy.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	job, err := syncjob.LoadJob(path)
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t, filepath.Join(src.dir, "state.db"))
	opts := syncjob.Options{Client: sc, TargetClient: dc, Counter: ctr, Store: st}

	sum, err := syncjob.Run(ctx, job, opts)
	if err != nil {
		t.Fatal(err)
	}
	if ts := tableSummary(t, sum, "incident"); ts.Upserted != 12 || ts.Rejected != 0 {
		t.Fatalf("first run: %+v", ts)
	}
	got, err := dc.Get(ctx, "incident", dataverse.ByKey("ticketnumber", "CAS-0003"), "title", "_customerid_value", "incidentid")
	if err != nil {
		t.Fatal(err)
	}
	if got.String("title") != "Case 3" || got.String("_customerid_value") != dstAcc {
		t.Fatalf("target case: %v", got)
	}

	// Re-running without changes writes nothing.
	sum, err = syncjob.Run(ctx, job, opts)
	if err != nil {
		t.Fatal(err)
	}
	if ts := tableSummary(t, sum, "incident"); ts.Read != 0 {
		t.Fatalf("idle run: %+v", ts)
	}

	mutateIncidents(t, sc, []int{1, 2}, []int{3}, 0)
	sum, err = syncjob.Run(ctx, job, opts)
	if err != nil {
		t.Fatal(err)
	}
	if ts := tableSummary(t, sum, "incident"); ts.Upserted != 2 || ts.Deleted != 1 {
		t.Fatalf("incremental run: %+v", ts)
	}
	if _, err := dc.Get(ctx, "incident", dataverse.ByKey("ticketnumber", "CAS-0003")); !dataverse.IsNotFound(err) {
		t.Fatalf("deleted case still in the target: %v", err)
	}
	got, err = dc.Get(ctx, "incident", dataverse.ByKey("ticketnumber", "CAS-0001"), "title")
	if err != nil || got.String("title") != "changed "+incidentID(1) {
		t.Fatalf("updated case: %v %v", got, err)
	}
	n := 0
	for _, err := range dc.Records(ctx, "incident", dataverse.Query{Select: []string{"incidentid"}}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 11 {
		t.Fatalf("target holds %d cases, want 11", n)
	}
}

// methodLog records the method and path of every request a handler
// serves.
type methodLog struct {
	h    http.Handler
	mu   sync.Mutex
	reqs []string
}

func (l *methodLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	l.reqs = append(l.reqs, r.Method+" "+r.URL.Path)
	l.mu.Unlock()
	l.h.ServeHTTP(w, r)
}

// writes returns the requests that were not reads, and forgets all.
func (l *methodLog) writes() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.reqs {
		if !strings.HasPrefix(r, http.MethodGet+" ") {
			out = append(out, r)
		}
	}
	l.reqs = nil
	return out
}

// A dry run into Dataverse says what a run would create, update, leave
// and delete, and writes nothing: no request but reads reaches the
// target, and neither the delta token nor the target keys move, so the
// run after it carries the same changes. A dry re-baseline (token past
// the organisation's retention) deletes only what vanished.
func TestSyncDryRunIntoDataverse(t *testing.T) {
	ctx := context.Background()
	src := newEnv(t, refserver.Options{})
	dst := newEnv(t, refserver.Options{})
	log := &methodLog{h: dst.srv}
	dhs := httptest.NewServer(log)
	t.Cleanup(dhs.Close)
	src.seedIncidents(t, 8)
	sc, ctr := src.client(t, 5)
	dc, err := dataverse.NewClient(dhs.URL, dataverse.StaticToken(refToken), &dataverse.ClientOptions{Transport: ctr})
	if err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf("name: dry\nsource:\n  dataverse: {env: %s}\ntarget:\n  dataverse: {env: %s}\ntables: [incident]\npage_size: 5\n", src.url, dhs.URL)
	path := filepath.Join(src.dir, "dry.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	job, err := syncjob.LoadJob(path)
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t, filepath.Join(src.dir, "state.db"))
	var rej strings.Builder
	opts := syncjob.Options{Client: sc, TargetClient: dc, Counter: ctr, Store: st, Rejects: &rej}
	dry := opts
	dry.DryRun = true
	count := func() int64 {
		n, err := sink.New(dc, nil).CountAll(ctx, "incident")
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	// The first dry run: every case would be created.
	sum, err := syncjob.Run(ctx, job, dry)
	if err != nil {
		t.Fatal(err)
	}
	if ts := tableSummary(t, sum, "incident"); !sum.DryRun || ts.Read != 8 || ts.Created != 8 || ts.Upserted != 8 {
		t.Fatalf("first dry run: %+v", ts.Counts)
	}
	if w := log.writes(); len(w) > 0 || count() != 0 {
		t.Fatalf("the dry run wrote: %v", w)
	}
	if cp, _ := st.Checkpoint(ctx, "dry", "incident"); cp.Phase != "" {
		t.Fatalf("the dry run moved the checkpoint: %+v", cp)
	}
	if sum, err = syncjob.Run(ctx, job, opts); err != nil {
		t.Fatal(err)
	}
	if ts := tableSummary(t, sum, "incident"); ts.Upserted != 8 {
		t.Fatalf("first run: %+v", ts.Counts)
	}
	before, _ := st.Checkpoint(ctx, "dry", "incident")
	log.writes()

	// Two updates, one delete, one create, and one case the target
	// refuses (a title over its 200 characters).
	mutateIncidents(t, sc, []int{1, 2}, []int{3}, 1)
	if err := src.srv.InsertRows(ctx, "incident", 1, func(int) map[string]any {
		return map[string]any{"incidentid": incidentID(50), "title": strings.Repeat("x", 300), "ticketnumber": "CAS-BAD", "statecode": 0, "statuscode": 1,
			"customerid": refserver.Ref{Table: "account", ID: accountID}}
	}); err != nil {
		t.Fatal(err)
	}
	want := syncjob.Counts{Read: 5, Upserted: 4, Created: 2, Updated: 2, Deleted: 1}
	for range 2 {
		sum, err = syncjob.Run(ctx, job, dry)
		if err != nil {
			t.Fatalf("a dry run is no run with rejects: %v", err)
		}
		ts := tableSummary(t, sum, "incident")
		got := ts.Counts
		got.Requests, got.Throttled = 0, 0
		// The planner cannot foresee the refusal of the long title:
		// it counts it as a create.
		if got != want {
			t.Fatalf("dry run: %+v, want %+v", got, want)
		}
		if w := log.writes(); len(w) > 0 || count() != 8 || rej.Len() > 0 {
			t.Fatalf("the dry run wrote: %v, %d cases, rejects %q", w, count(), rej.String())
		}
		if cp, _ := st.Checkpoint(ctx, "dry", "incident"); cp != before {
			t.Fatalf("the dry run moved the checkpoint: %+v, was %+v", cp, before)
		}
	}
	if runs, _ := st.Runs(ctx, "dry", 0); len(runs) != 1 {
		t.Fatalf("dry runs were journalled: %d runs", len(runs))
	}

	// A dry re-baseline: the token is past the 7 days' retention.
	later := func() time.Time { return time.Now().Add(8 * 24 * time.Hour) }
	dryLater := dry
	dryLater.Now = later
	sum, err = syncjob.Run(ctx, job, dryLater)
	if err != nil {
		t.Fatal(err)
	}
	// 8 cases less one deleted plus two created in the source, and the
	// deleted one found gone.
	ts := tableSummary(t, sum, "incident")
	if !ts.Rebaselined || ts.Read != 10 || ts.Deleted != 1 || ts.Created != 2 || ts.Updated != 2 || ts.Unchanged != 5 {
		t.Fatalf("dry re-baseline: %+v", ts.Counts)
	}
	if w := log.writes(); len(w) > 0 {
		t.Fatalf("the dry re-baseline wrote: %v", w)
	}

	// The run carries what the dry runs foresaw.
	sum, err = syncjob.Run(ctx, job, opts)
	if !errors.Is(err, syncjob.ErrRejects) {
		t.Fatalf("run: %v", err)
	}
	if ts := tableSummary(t, sum, "incident"); ts.Read != 5 || ts.Upserted != 3 || ts.Deleted != 1 || ts.Rejected != 1 {
		t.Fatalf("run after the dry runs: %+v", ts.Counts)
	}
	if count() != 8 { // 8, one deleted, one created, one refused
		t.Fatalf("%d cases in the target, want 8", count())
	}
}
