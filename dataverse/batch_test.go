package dataverse_test

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse"
)

func items(n int, bad map[int]bool) iter.Seq[dataverse.Item] {
	return func(yield func(dataverse.Item) bool) {
		for i := range n {
			title := fmt.Sprintf("case %d", i)
			if bad[i] {
				title = strings.Repeat("x", 300)
			}
			it := dataverse.Item{Ref: int64(i), Key: dataverse.ByKey("ticketnumber", fmt.Sprintf("CAS-%04d", i)), Record: dataverse.Record{"title": title}}
			if !yield(it) {
				return
			}
		}
	}
}

type tally struct {
	byOutcome map[dataverse.Outcome]int
	refs      map[int64]int
	rejected  map[int64]error
}

func collect() (*tally, func(dataverse.Result)) {
	t := &tally{byOutcome: map[dataverse.Outcome]int{}, refs: map[int64]int{}, rejected: map[int64]error{}}
	return t, func(r dataverse.Result) {
		t.byOutcome[r.Outcome]++
		t.refs[r.Ref]++
		if r.Outcome == dataverse.OutcomeRejected {
			t.rejected[r.Ref] = r.Err
		}
	}
}

func (tl *tally) check(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		if tl.refs[int64(i)] != 1 {
			t.Fatalf("item %d reported %d times", i, tl.refs[int64(i)])
		}
	}
	if len(tl.refs) != n {
		t.Fatalf("%d items reported, want %d", len(tl.refs), n)
	}
}

func TestWriteAllWithBulkMessagesIsolatesBadRecords(t *testing.T) {
	f := newFake(t)
	c := f.client(t, nil)
	bad := map[int]bool{7: true, 130: true}
	tl, report := collect()
	err := c.WriteAll(context.Background(), "incident", items(250, bad), dataverse.BatchOptions{Mode: dataverse.ModeUpsert, BatchSize: 50}, report)
	if err != nil {
		t.Fatal(err)
	}
	tl.check(t, 250)
	if tl.byOutcome[dataverse.OutcomeWritten] != 248 || tl.byOutcome[dataverse.OutcomeRejected] != 2 {
		t.Fatalf("outcomes %v", tl.byOutcome)
	}
	for ref := range bad {
		if !dataverse.IsBadRequest(tl.rejected[int64(ref)]) {
			t.Fatalf("item %d: %v", ref, tl.rejected[int64(ref)])
		}
	}
	if f.count() != 248 {
		t.Fatalf("store holds %d records", f.count())
	}
	// Writing the same input again updates in place: no duplicates.
	tl2, report2 := collect()
	if err := c.WriteAll(context.Background(), "incident", items(250, nil), dataverse.BatchOptions{}, report2); err != nil {
		t.Fatal(err)
	}
	tl2.check(t, 250)
	if f.count() != 250 {
		t.Fatalf("store holds %d records after re-run, want 250", f.count())
	}
}

func TestWriteAllWithBatchContinueOnError(t *testing.T) {
	f := newFake(t)
	f.bulk = false
	c := f.client(t, nil)
	var batches atomic.Int32
	var sawPrefer atomic.Bool
	f.fault = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/api/data/v9.2/$batch" {
			batches.Add(1)
			if r.Header.Get("Prefer") == "odata.continue-on-error" {
				sawPrefer.Store(true)
			}
		}
		return false
	}
	tl, report := collect()
	err := c.WriteAll(context.Background(), "incident", items(45, map[int]bool{3: true}), dataverse.BatchOptions{Mode: dataverse.ModeUpsert}, report)
	if err != nil {
		t.Fatal(err)
	}
	tl.check(t, 45)
	if tl.byOutcome[dataverse.OutcomeRejected] != 1 || !dataverse.IsBadRequest(tl.rejected[3]) {
		t.Fatalf("outcomes %v, rejected %v", tl.byOutcome, tl.rejected)
	}
	if batches.Load() == 0 || !sawPrefer.Load() {
		t.Fatal("did not use $batch with odata.continue-on-error")
	}
	if f.count() != 44 {
		t.Fatalf("store holds %d", f.count())
	}
}

func TestWriteAllAtomicChangeSets(t *testing.T) {
	f := newFake(t)
	f.bulk = false
	c := f.client(t, nil)
	tl, report := collect()
	err := c.WriteAll(context.Background(), "incident", items(20, map[int]bool{11: true}), dataverse.BatchOptions{Mode: dataverse.ModeUpsert, Atomic: true, BatchSize: 10}, report)
	if err != nil {
		t.Fatal(err)
	}
	tl.check(t, 20)
	if tl.byOutcome[dataverse.OutcomeRejected] != 1 || f.count() != 19 {
		t.Fatalf("outcomes %v, %d stored", tl.byOutcome, f.count())
	}
}

func TestWriteAllRetriesThrottledOperationsInsideABatch(t *testing.T) {
	f := newFake(t)
	f.bulk = false
	var throttled atomic.Int32
	c := f.client(t, nil)
	tl, report := collect()
	f.fault = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/api/data/v9.2/$batch" || throttled.Load() > 0 {
			return false
		}
		throttled.Add(1)
		// Run the batch, then report its first operation as throttled.
		rec := httptestRecorder()
		f.serve(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		body := rec.Body.String()
		body = strings.Replace(body, "HTTP/1.1 204 No Content", "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0", 1)
		w.Write([]byte(body))
		return true
	}
	// The doctored response claims the first operation failed although the
	// fake applied it; the retry must upsert it again, not duplicate it.
	err := c.WriteAll(context.Background(), "incident", items(10, nil), dataverse.BatchOptions{BatchSize: 10}, report)
	if err != nil {
		t.Fatal(err)
	}
	tl.check(t, 10)
	if tl.byOutcome[dataverse.OutcomeRejected] != 0 || f.count() != 10 || throttled.Load() != 1 {
		t.Fatalf("outcomes %v, stored %d", tl.byOutcome, f.count())
	}
}

func TestWriteAllCreateAssignsIDsAndNeverDuplicates(t *testing.T) {
	for _, bulk := range []bool{true, false} {
		t.Run(fmt.Sprintf("bulk=%v", bulk), func(t *testing.T) {
			f := newFake(t)
			f.bulk = bulk
			var drops atomic.Int32
			f.fault = func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method == "POST" && drops.Add(1) <= 2 {
					// Apply the request, then lose the response.
					f.serve(httptestRecorder(), r)
					conn, _, _ := w.(http.Hijacker).Hijack()
					conn.Close()
					return true
				}
				return false
			}
			c := f.client(t, nil)
			tl, report := collect()
			in := func(yield func(dataverse.Item) bool) {
				for i := range 30 {
					if !yield(dataverse.Item{Ref: int64(i), Record: dataverse.Record{"title": fmt.Sprint(i)}}) {
						return
					}
				}
			}
			if err := c.WriteAll(context.Background(), "incident", in, dataverse.BatchOptions{Mode: dataverse.ModeCreate, BatchSize: 10, Workers: 1}, report); err != nil {
				t.Fatal(err)
			}
			tl.check(t, 30)
			if tl.byOutcome[dataverse.OutcomeCreated] != 30 || f.count() != 30 {
				t.Fatalf("outcomes %v, stored %d; want 30 created exactly once", tl.byOutcome, f.count())
			}
		})
	}
}

func TestWriteAllUpdateModeRejectsMissing(t *testing.T) {
	f := newFake(t)
	existing := uuid.NewString()
	f.put(map[string]any{"incidentid": existing, "title": "old"})
	c := f.client(t, nil)
	tl, report := collect()
	in := func(yield func(dataverse.Item) bool) {
		yield(dataverse.Item{Ref: 0, Key: dataverse.ByID(uuid.MustParse(existing)), Record: dataverse.Record{"title": "new"}})
		yield(dataverse.Item{Ref: 1, Key: dataverse.ByID(uuid.New()), Record: dataverse.Record{"title": "ghost"}})
	}
	if err := c.WriteAll(context.Background(), "incident", in, dataverse.BatchOptions{Mode: dataverse.ModeUpdate}, report); err != nil {
		t.Fatal(err)
	}
	tl.check(t, 2)
	if tl.byOutcome[dataverse.OutcomeUpdated] != 1 || !dataverse.IsNotFound(tl.rejected[1]) || f.count() != 1 {
		t.Fatalf("outcomes %v rejected %v", tl.byOutcome, tl.rejected)
	}
}

func TestWriteAllStopsOnAuthFailureButReportsEverything(t *testing.T) {
	f := newFake(t)
	f.fault = func(w http.ResponseWriter, r *http.Request) bool {
		writeErr(w, 401, "", "token expired")
		return true
	}
	c := f.client(t, nil)
	tl, report := collect()
	err := c.WriteAll(context.Background(), "incident", items(100, nil), dataverse.BatchOptions{BatchSize: 10, Workers: 2}, report)
	if !dataverse.IsAuth(err) {
		t.Fatalf("err = %v", err)
	}
	tl.check(t, 100)
	if tl.byOutcome[dataverse.OutcomeRejected] != 100 {
		t.Fatalf("outcomes %v", tl.byOutcome)
	}
	if n := f.requests.Load(); n > 10 {
		t.Fatalf("kept sending after 401: %d requests", n)
	}
}

func TestWriteAllSplitsDuplicateKeysAcrossBatches(t *testing.T) {
	f := newFake(t)
	c := f.client(t, nil)
	tl, report := collect()
	in := func(yield func(dataverse.Item) bool) {
		for i := range 6 {
			yield(dataverse.Item{Ref: int64(i), Key: dataverse.ByKey("ticketnumber", "SAME"), Record: dataverse.Record{"title": fmt.Sprint(i)}})
		}
	}
	if err := c.WriteAll(context.Background(), "incident", in, dataverse.BatchOptions{BatchSize: 100, Workers: 1}, report); err != nil {
		t.Fatal(err)
	}
	tl.check(t, 6)
	if tl.byOutcome[dataverse.OutcomeRejected] != 0 || f.count() != 1 {
		t.Fatalf("outcomes %v, stored %d", tl.byOutcome, f.count())
	}
}
