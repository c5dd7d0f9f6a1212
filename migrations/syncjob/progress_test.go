package syncjob_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/migrations/syncjob"
)

// failOnce answers the first request of method with 403 once armed (a
// stop, not a record's reject: dataverse.Classify), then serves all.
type failOnce struct {
	h      http.Handler
	method string
	armed  atomic.Bool
}

func (f *failOnce) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == f.method && f.armed.CompareAndSwap(true, false) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"error":{"code":"0x80040220","message":"Principal user is missing prvDeleteIncident privilege (injected by the test)."}}`)
		return
	}
	f.h.ServeHTTP(w, r)
}

// TestRunTableRecordsAPageOnceWithItsCheckpoint: a distributed unit's page
// (a case the target refuses, and a delete) fails after its reject was
// found and before its checkpoint; the run records nothing of it. Done
// again, the page is recorded once: its figures and its one reject.
func TestRunTableRecordsAPageOnceWithItsCheckpoint(t *testing.T) {
	ctx := context.Background()
	src := newEnv(t, refserver.Options{})
	dsrv, err := refserver.New(refserver.Options{Token: refToken, DataPath: filepath.Join(t.TempDir(), "dst.db")})
	if err != nil {
		t.Fatal(err)
	}
	fail := &failOnce{h: dsrv, method: http.MethodDelete}
	dhs := httptest.NewServer(fail)
	t.Cleanup(func() { dhs.Close(); dsrv.Close() })
	if err := dsrv.InsertRows(ctx, "account", 1, func(int) map[string]any {
		return map[string]any{"accountid": accountID, "name": "Contoso", "statecode": 0, "statuscode": 1}
	}); err != nil {
		t.Fatal(err)
	}
	src.seedIncidents(t, 6)
	sc, ctr := src.client(t, 5)
	dc, err := dataverse.NewClient(dhs.URL, dataverse.StaticToken(refToken), &dataverse.ClientOptions{Transport: ctr})
	if err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf("name: units\nsource:\n  dataverse: {env: %s}\ntarget:\n  dataverse: {env: %s}\ntables: [incident]\npage_size: 5\n", src.url, dhs.URL)
	path := filepath.Join(src.dir, "units.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	job, err := syncjob.LoadJob(path)
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t, filepath.Join(src.dir, "state.db"))
	opts := syncjob.Options{Client: sc, TargetClient: dc, Counter: ctr, Store: st, RunID: "run-1"}
	if _, err := syncjob.RunTable(ctx, job, "incident", opts); err != nil {
		t.Fatal(err)
	}
	var rejects []syncjob.Reject
	collect := func(r syncjob.Reject) error { rejects = append(rejects, r); return nil }
	got, err := st.RunResult(ctx, "units", "run-1", collect)
	if err != nil {
		t.Fatal(err)
	}
	if c := got["incident"]; c.Read != 6 || c.Upserted != 6 || c.Requests == 0 || len(rejects) != 0 {
		t.Fatalf("run-1 recorded %+v, rejects %v", c, rejects)
	}

	// A case whose title is longer than the target's 200 characters
	// (stored in the source past its validation), and a delete.
	const badID = "0b0b0b0b-0000-4000-8000-0000000000bb"
	if err := src.srv.InsertRows(ctx, "incident", 1, func(int) map[string]any {
		return map[string]any{"incidentid": badID, "title": strings.Repeat("x", 300), "ticketnumber": "CAS-BAD", "statecode": 0, "statuscode": 1,
			"customerid": refserver.Ref{Table: "account", ID: accountID}}
	}); err != nil {
		t.Fatal(err)
	}
	mutateIncidents(t, sc, nil, []int{2}, 0)

	fail.armed.Store(true)
	opts.RunID = "run-2"
	ts, err := syncjob.RunTable(ctx, job, "incident", opts)
	if err == nil || !dataverse.IsAuth(err) {
		t.Fatalf("the injected 403 did not stop the page: %v", err)
	}
	if ts.Rejected != 1 {
		t.Fatalf("the failed attempt did not reach the reject: %+v", ts.Counts)
	}
	rejects = nil
	if got, err = st.RunResult(ctx, "units", "run-2", collect); err != nil {
		t.Fatal(err)
	}
	if c := got["incident"]; c != (syncjob.Counts{}) || len(rejects) != 0 {
		t.Fatalf("a page without its checkpoint was recorded: %+v, rejects %v", c, rejects)
	}

	if _, err = syncjob.RunTable(ctx, job, "incident", opts); err != nil {
		t.Fatal(err)
	}
	if got, err = st.RunResult(ctx, "units", "run-2", collect); err != nil {
		t.Fatal(err)
	}
	c := got["incident"]
	if c.Read != 2 || c.Deleted != 1 || c.Rejected != 1 || !c.Reconciles() {
		t.Fatalf("run-2 recorded %+v", c)
	}
	if len(rejects) != 1 || rejects[0].ID != badID || rejects[0].Table != "incident" || rejects[0].Job != "units" ||
		!strings.Contains(rejects[0].Error, "maximum allowed length") || rejects[0].Time.IsZero() {
		t.Fatalf("run-2 rejects: %+v", rejects)
	}
	if _, err := dc.Get(ctx, "incident", dataverse.ByKey("ticketnumber", "CAS-0000002")); !dataverse.IsNotFound(err) {
		t.Fatalf("the deleted case is still in the target: %v", err)
	}
}
