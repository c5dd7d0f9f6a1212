// Package storetest is the conformance suite for migrations.Store
// implementations: the behaviours every job relies on, run against the
// embedded SQLite store and the shared PostgreSQL store alike, as rclone's
// fstests run against every backend.
package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/dvsync/dvsync/migrations"
)

// Backing opens a new handle on one fresh, empty store each time it is
// called: two handles stand for two processes sharing the state.
type Backing func(t *testing.T) migrations.Store

// NewBacking returns a Backing for a fresh, empty store.
type NewBacking func(t *testing.T) Backing

// IsRunning reports whether err says another handle holds the job's lock.
type IsRunning func(err error) bool

// Run runs every behaviour against stores made by newBacking.
func Run(t *testing.T, newBacking NewBacking, isRunning IsRunning) {
	t.Run("Values", func(t *testing.T) { testValues(t, newBacking(t)) })
	t.Run("CommitAndLookup", func(t *testing.T) { testCommit(t, newBacking(t)) })
	t.Run("ResetCheckpoints", func(t *testing.T) { testReset(t, newBacking(t)) })
	t.Run("Skips", func(t *testing.T) { testSkips(t, newBacking(t)) })
	t.Run("InterruptedRun", func(t *testing.T) { testInterrupted(t, newBacking(t)) })
	t.Run("JobLock", func(t *testing.T) { testLock(t, newBacking(t), isRunning) })
	t.Run("ConcurrentCommits", func(t *testing.T) { testConcurrentCommits(t, newBacking(t)) })
	t.Run("CheckpointCompareAndSwap", func(t *testing.T) { testCheckpointCAS(t, newBacking(t)) })
	t.Run("ValueCompareAndSwap", func(t *testing.T) { testValueCAS(t, newBacking(t)) })
	t.Run("WrittenSample", func(t *testing.T) { testWritten(t, newBacking(t)) })
	t.Run("Target", func(t *testing.T) { testTarget(t, newBacking(t)) })
	t.Run("Clear", func(t *testing.T) { testClear(t, newBacking(t), isRunning) })
}

func testValues(t *testing.T, open Backing) {
	ctx := t.Context()
	s := open(t)
	if _, ok, err := s.Value(ctx, "j", "delta"); ok || err != nil {
		t.Errorf("absent value: %v %v", ok, err)
	}
	if err := s.SetValue(ctx, "j", "delta", "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetValue(ctx, "j", "delta", "b"); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := s.Value(ctx, "j", "delta"); !ok || v != "b" || err != nil {
		t.Errorf("value %q %v %v", v, ok, err)
	}
	if _, ok, _ := s.Value(ctx, "other", "delta"); ok {
		t.Error("values leak across jobs")
	}
}

func testCommit(t *testing.T, open Backing) {
	ctx := t.Context()
	s := open(t)
	run, err := s.BeginRun(ctx, "j", []string{"one", "two"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Checkpoint(ctx, "j", "one"); err != nil {
		t.Fatal(err)
	}
	err = s.Commit(ctx, migrations.Commit{Job: "j", Step: "one", RunID: run, Cursor: "10",
		IDs: []migrations.IDEntry{
			{SourceID: "7", Seq: 1, Ref: migrations.Ref{Table: "contact", Key: "id=c"}},
			{SourceID: "7", Seq: 0, Ref: migrations.Ref{Table: "account", Key: "id=a", ID: "a"}},
		},
		Rejects: []migrations.RejectState{{SourceID: "8", Reason: "map", Error: "no name"}},
		Counts:  migrations.Counts{Read: 2, Created: 1, Rejected: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	refs, err := s.LookupIDs(ctx, "j", "one", "7")
	if err != nil || len(refs) != 2 || refs[0].Table != "account" || refs[1].Table != "contact" {
		t.Fatalf("lookup %+v %v", refs, err)
	}
	var rejects []string
	for r, err := range s.Rejects(ctx, "j", "one") {
		if err != nil {
			t.Fatal(err)
		}
		rejects = append(rejects, r.SourceID+":"+r.Error)
	}
	if fmt.Sprint(rejects) != "[8:no name]" {
		t.Errorf("rejects %v", rejects)
	}
	// A re-write whose response names no ID keeps the known ID, an empty
	// cursor keeps the checkpoint, and a cleared reject disappears.
	err = s.Commit(ctx, migrations.Commit{Job: "j", Step: "one", RunID: run,
		IDs:     []migrations.IDEntry{{SourceID: "7", Seq: 0, Ref: migrations.Ref{Table: "account", Key: "id=a"}}},
		Cleared: []string{"8"}, Counts: migrations.Counts{Read: 1, Unchanged: 1}})
	if err != nil {
		t.Fatal(err)
	}
	refs, _ = s.LookupIDs(ctx, "j", "one", "7")
	if len(refs) == 0 || refs[0].ID != "a" {
		t.Errorf("ID lost on re-write: %+v", refs)
	}
	if cp, _ := s.Checkpoint(ctx, "j", "one"); cp.Cursor != "10" || cp.Done {
		t.Errorf("empty cursor moved the checkpoint: %+v", cp)
	}
	for r, err := range s.Rejects(ctx, "j", "one") {
		t.Errorf("cleared reject still listed: %+v %v", r, err)
	}
	if err := s.Commit(ctx, migrations.Commit{Job: "j", Step: "one", RunID: run, Cursor: "20", Done: true}); err != nil {
		t.Fatal(err)
	}
	if cp, _ := s.Checkpoint(ctx, "j", "one"); cp.Cursor != "20" || !cp.Done || cp.UpdatedAt.IsZero() {
		t.Errorf("checkpoint after done: %+v", cp)
	}
	if err := s.EndRun(ctx, run, migrations.StatusSucceeded, ""); err != nil {
		t.Fatal(err)
	}
	runs, err := s.Runs(ctx, "j")
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs %+v %v", runs, err)
	}
	r := runs[0]
	if r.Status != migrations.StatusSucceeded || r.Ended.IsZero() || len(r.Steps) != 2 || r.Steps[0].Step != "one" || r.Steps[1].Step != "two" {
		t.Errorf("run %+v", r)
	}
	if r.Steps[0].Counts != (migrations.Counts{Read: 3, Created: 1, Unchanged: 1, Rejected: 1}) {
		t.Errorf("counts do not add up per batch: %+v", r.Steps[0].Counts)
	}
}

func testReset(t *testing.T, open Backing) {
	ctx := t.Context()
	s := open(t)
	for _, step := range []string{"one", "two"} {
		s.Checkpoint(ctx, "j", step)
		if err := s.Commit(ctx, migrations.Commit{Job: "j", Step: step, Cursor: "x-" + step, Done: true}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.ResetCheckpoints(ctx, "j", "two"); err != nil {
		t.Fatal(err)
	}
	if cp, _ := s.Checkpoint(ctx, "j", "two"); cp.Cursor != "" || cp.Done {
		t.Errorf("reset kept %+v", cp)
	}
	if cp, _ := s.Checkpoint(ctx, "j", "one"); cp.Cursor != "x-one" {
		t.Errorf("reset of two touched one: %+v", cp)
	}
	// After a reset the step can start again from nothing.
	if err := s.Commit(ctx, migrations.Commit{Job: "j", Step: "two", Cursor: "y"}); err != nil {
		t.Fatalf("commit after reset: %v", err)
	}
	if err := s.ResetCheckpoints(ctx, "j"); err != nil {
		t.Fatal(err)
	}
	if cp, _ := s.Checkpoint(ctx, "j", "one"); cp.Cursor != "" {
		t.Errorf("reset of the whole job kept %+v", cp)
	}
}

// skipRows lists a step's current skips as "source:reason:run".
func skipRows(t *testing.T, s migrations.Store, job, step string) []string {
	t.Helper()
	var out []string
	for k, err := range s.Skips(t.Context(), job, step) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, k.SourceID+":"+k.Reason+":"+k.RunID)
	}
	return out
}

// rejectIDs lists the source IDs of a step's current rejects.
func rejectIDs(t *testing.T, s migrations.Store, job, step string) []string {
	t.Helper()
	var out []string
	for r, err := range s.Rejects(t.Context(), job, step) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r.SourceID)
	}
	return out
}

// testSkips: a step's skipped records are kept with the batch that skips
// them, one row per record however often its batch is committed, with the
// reason and run of the latest skip; a record written or rejected later
// is no longer skipped, and a skipped record is no longer rejected.
// Resetting checkpoints keeps the skips, as it keeps rejects.
func testSkips(t *testing.T, open Backing) {
	ctx := t.Context()
	s := open(t)
	run1, err := s.BeginRun(ctx, "j", []string{"one"})
	if err != nil {
		t.Fatal(err)
	}
	s.Checkpoint(ctx, "j", "one")
	// As the engine commits a batch: skipped records are also Cleared,
	// and each skip names the run.
	first := migrations.Commit{Job: "j", Step: "one", RunID: run1, Cursor: "4",
		Skips: []migrations.SkipState{
			{SourceID: "1", RunID: run1, Reason: "archived"},
			{SourceID: "2", RunID: run1, Reason: "archived"},
			{SourceID: "3", RunID: run1, Reason: "no e-mail"},
		},
		Cleared: []string{"1", "2", "3"},
		Rejects: []migrations.RejectState{{SourceID: "4", Reason: "map", Error: "no name"}},
		Counts:  migrations.Counts{Read: 4, Skipped: 3, Rejected: 1}}
	if err := s.Commit(ctx, first); err != nil {
		t.Fatal(err)
	}
	want := []string{"1:archived:" + run1, "2:archived:" + run1, "3:no e-mail:" + run1}
	if got := skipRows(t, s, "j", "one"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("skips %v, want %v", got, want)
	}
	// The same batch committed again (redone after a crash) keeps one row
	// per record.
	if err := s.Commit(ctx, first); err != nil {
		t.Fatal(err)
	}
	if got := skipRows(t, s, "j", "one"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("skips after the batch was committed twice %v, want %v", got, want)
	}
	if got := skipRows(t, s, "j", "two"); len(got) != 0 {
		t.Errorf("skips leak across steps: %v", got)
	}
	if got := skipRows(t, s, "other", "one"); len(got) != 0 {
		t.Errorf("skips leak across jobs: %v", got)
	}
	if err := s.EndRun(ctx, run1, migrations.StatusSucceeded, ""); err != nil {
		t.Fatal(err)
	}
	// The records read again by another run: 1 is written, 2 rejected,
	// 3 skipped for another reason, 4 (rejected before) skipped. The
	// store keeps them apart without the engine's Cleared for 2 and 4,
	// and records the commit's run whatever a skip names.
	if err := s.ResetCheckpoints(ctx, "j"); err != nil {
		t.Fatal(err)
	}
	if got := skipRows(t, s, "j", "one"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ResetCheckpoints changed the skips: %v, want %v", got, want)
	}
	run2, err := s.BeginRun(ctx, "j", []string{"one"})
	if err != nil {
		t.Fatal(err)
	}
	s.Checkpoint(ctx, "j", "one")
	err = s.Commit(ctx, migrations.Commit{Job: "j", Step: "one", RunID: run2, Cursor: "4", Done: true,
		IDs:     []migrations.IDEntry{{SourceID: "1", Ref: migrations.Ref{Table: "account", Key: "id=a", ID: "a"}}},
		Cleared: []string{"1", "3"},
		Rejects: []migrations.RejectState{{SourceID: "2", Reason: "write", Error: "refused"}},
		Skips: []migrations.SkipState{
			{SourceID: "3", RunID: run2, Reason: "still no e-mail"},
			{SourceID: "4", Reason: "duplicate"},
		},
		Counts: migrations.Counts{Read: 4, Created: 1, Skipped: 2, Rejected: 1}})
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"3:still no e-mail:" + run2, "4:duplicate:" + run2}
	if got := skipRows(t, s, "j", "one"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("skips after the second run %v, want %v", got, want)
	}
	if got := rejectIDs(t, s, "j", "one"); fmt.Sprint(got) != "[2]" {
		t.Errorf("rejects after the second run %v, want [2]", got)
	}
	if err := s.EndRun(ctx, run2, migrations.StatusSucceeded, ""); err != nil {
		t.Fatal(err)
	}
	runs, err := s.Runs(ctx, "j")
	if err != nil || len(runs) != 2 {
		t.Fatalf("runs %+v %v", runs, err)
	}
	// The counts of a batch committed twice are added twice (the engine
	// never commits a batch twice in one run); the rows are not.
	if c := runs[0].Steps[0].Counts; c.Skipped != 6 || c.Rejected != 2 {
		t.Errorf("counts of the first run %+v", c)
	}
	if c := runs[1].Steps[0].Counts; c.Skipped != 2 {
		t.Errorf("counts of the second run %+v", c)
	}
}

func testInterrupted(t *testing.T, open Backing) {
	ctx := t.Context()
	a := open(t)
	run, err := a.BeginRun(ctx, "j", []string{"one"})
	if err != nil {
		t.Fatal(err)
	}
	a.Commit(ctx, migrations.Commit{Job: "j", Step: "one", RunID: run, Counts: migrations.Counts{Read: 1, Created: 1}})
	// Closing without EndRun is what a dead process leaves behind.
	a.Close()
	b := open(t)
	if _, err := b.BeginRun(ctx, "j", []string{"one"}); err != nil {
		t.Fatalf("the dead run's lock was not released: %v", err)
	}
	runs, err := b.Runs(ctx, "j")
	if err != nil || len(runs) != 2 {
		t.Fatalf("runs %+v %v", runs, err)
	}
	if runs[0].Status != migrations.StatusInterrupted || runs[0].Steps[0].Status != migrations.StatusInterrupted || runs[0].Steps[0].Counts.Created != 1 {
		t.Errorf("dead run %+v", runs[0])
	}
	if runs[1].Status != migrations.StatusRunning {
		t.Errorf("new run %+v", runs[1])
	}
}

func testLock(t *testing.T, open Backing, isRunning IsRunning) {
	ctx := t.Context()
	a, b := open(t), open(t)
	run, err := a.BeginRun(ctx, "odoo/helpdesk", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.BeginRun(ctx, "odoo/helpdesk", nil); !isRunning(err) {
		t.Fatalf("second run of a running job: %v", err)
	}
	other, err := b.BeginRun(ctx, "usd", nil)
	if err != nil {
		t.Fatalf("another job is blocked: %v", err)
	}
	b.EndRun(ctx, other, migrations.StatusSucceeded, "")
	runs, _ := a.Runs(ctx, "odoo/helpdesk")
	if len(runs) != 1 || runs[0].Status != migrations.StatusRunning {
		t.Errorf("a refused run touched the running one: %+v", runs)
	}
	if err := a.EndRun(ctx, run, migrations.StatusSucceeded, ""); err != nil {
		t.Fatal(err)
	}
	again, err := b.BeginRun(ctx, "odoo/helpdesk", nil)
	if err != nil {
		t.Fatalf("after EndRun: %v", err)
	}
	b.Close()
	if _, err := a.BeginRun(ctx, "odoo/helpdesk", nil); err != nil {
		t.Fatalf("after Close of the holder (run %s): %v", again, err)
	}
}

// testConcurrentCommits commits batches of one step from several
// goroutines: every ID map entry and every count survives.
func testConcurrentCommits(t *testing.T, open Backing) {
	ctx := t.Context()
	s := open(t)
	run, err := s.BeginRun(ctx, "j", []string{"s"})
	if err != nil {
		t.Fatal(err)
	}
	const workers, batches = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*batches)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				id := fmt.Sprintf("%d-%d", w, b)
				err := s.Commit(ctx, migrations.Commit{Job: "j", Step: "s", RunID: run,
					IDs:    []migrations.IDEntry{{SourceID: id, Ref: migrations.Ref{Table: "incident", Key: "k" + id, ID: id}}},
					Counts: migrations.Counts{Read: 1, Created: 1}})
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for w := range workers {
		for b := range batches {
			id := fmt.Sprintf("%d-%d", w, b)
			if refs, err := s.LookupIDs(ctx, "j", "s", id); err != nil || len(refs) != 1 || refs[0].ID != id {
				t.Errorf("%s: %+v %v", id, refs, err)
			}
		}
	}
	runs, _ := s.Runs(ctx, "j")
	if len(runs) != 1 || runs[0].Steps[0].Counts.Created != workers*batches {
		t.Errorf("counts lost: %+v", runs)
	}
}

func isConflict(err error) bool { return ErrorAs[*migrations.ConflictError](err) }

// testCheckpointCAS: two handles that both read a step's checkpoint cannot
// both advance it; the loser's whole commit (ID map included) is dropped,
// and it may advance once it has read the checkpoint again.
func testCheckpointCAS(t *testing.T, open Backing) {
	ctx := t.Context()
	a, b := open(t), open(t)
	for _, s := range []migrations.Store{a, b} {
		if _, err := s.Checkpoint(ctx, "j", "tickets"); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Commit(ctx, migrations.Commit{Job: "j", Step: "tickets", Cursor: "100"}); err != nil {
		t.Fatal(err)
	}
	err := b.Commit(ctx, migrations.Commit{Job: "j", Step: "tickets", Cursor: "50",
		IDs:     []migrations.IDEntry{{SourceID: "x", Ref: migrations.Ref{Table: "incident", Key: "k", ID: "1"}}},
		Rejects: []migrations.RejectState{{SourceID: "r", Reason: "map", Error: "bad"}},
		Skips:   []migrations.SkipState{{SourceID: "s", Reason: "archived"}},
		Counts:  migrations.Counts{Read: 3, Created: 1, Rejected: 1, Skipped: 1}})
	if !isConflict(err) {
		t.Fatalf("stale commit: %v", err)
	}
	if refs, _ := a.LookupIDs(ctx, "j", "tickets", "x"); len(refs) != 0 {
		t.Errorf("the losing commit left ID map entries: %+v", refs)
	}
	if got := rejectIDs(t, a, "j", "tickets"); len(got) != 0 {
		t.Errorf("the losing commit left rejects: %v", got)
	}
	if got := skipRows(t, a, "j", "tickets"); len(got) != 0 {
		t.Errorf("the losing commit left skips: %v", got)
	}
	if cp, _ := a.Checkpoint(ctx, "j", "tickets"); cp.Cursor != "100" {
		t.Errorf("checkpoint %+v", cp)
	}
	// a keeps advancing from what it wrote itself.
	if err := a.Commit(ctx, migrations.Commit{Job: "j", Step: "tickets", Cursor: "150"}); err != nil {
		t.Fatalf("a second commit of the winner: %v", err)
	}
	if _, err := b.Checkpoint(ctx, "j", "tickets"); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(ctx, migrations.Commit{Job: "j", Step: "tickets", Cursor: "200"}); err != nil {
		t.Fatalf("commit after a fresh read: %v", err)
	}
	// A commit that keeps the cursor (no checkpoint move) is no swap.
	if err := a.Commit(ctx, migrations.Commit{Job: "j", Step: "tickets",
		IDs: []migrations.IDEntry{{SourceID: "y", Ref: migrations.Ref{Table: "incident", Key: "k2", ID: "2"}}}}); err != nil {
		t.Errorf("a commit that does not move the checkpoint: %v", err)
	}
	// Both insert a first checkpoint: one wins.
	for _, s := range []migrations.Store{a, b} {
		s.Checkpoint(ctx, "j", "new")
	}
	errA := a.Commit(ctx, migrations.Commit{Job: "j", Step: "new", Cursor: "1"})
	errB := b.Commit(ctx, migrations.Commit{Job: "j", Step: "new", Cursor: "2"})
	if errA != nil || !isConflict(errB) {
		t.Errorf("first checkpoint race: %v / %v", errA, errB)
	}
}

// testValueCAS: delta tokens and watermarks advance only from the version
// their writer last saw.
func testValueCAS(t *testing.T, open Backing) {
	ctx := t.Context()
	a, b := open(t), open(t)
	if err := a.SetValue(ctx, "sync", "delta:incident", "t1"); err != nil {
		t.Fatal(err)
	}
	a.Value(ctx, "sync", "delta:incident")
	b.Value(ctx, "sync", "delta:incident")
	if err := a.SetValue(ctx, "sync", "delta:incident", "t2"); err != nil {
		t.Fatal(err)
	}
	if err := b.SetValue(ctx, "sync", "delta:incident", "t2-other"); !isConflict(err) {
		t.Fatalf("stale token write: %v", err)
	}
	if v, _, _ := b.Value(ctx, "sync", "delta:incident"); v != "t2" {
		t.Errorf("token %q", v)
	}
	if err := b.SetValue(ctx, "sync", "delta:incident", "t3"); err != nil {
		t.Errorf("write after a fresh read: %v", err)
	}
	// Both saw the value absent: the first to create it wins.
	a.Value(ctx, "sync", "watermark")
	b.Value(ctx, "sync", "watermark")
	errA := a.SetValue(ctx, "sync", "watermark", "2025-01-01")
	errB := b.SetValue(ctx, "sync", "watermark", "2024-01-01")
	if errA != nil || !isConflict(errB) {
		t.Errorf("first value race: %v / %v", errA, errB)
	}
	if v, _, _ := a.Value(ctx, "sync", "watermark"); v != "2025-01-01" {
		t.Errorf("watermark %q", v)
	}
}

// testWritten: a checkpoint keeps a spread sample of the records its last
// batch wrote, with their IDs, for the resume check.
func testWritten(t *testing.T, open Backing) {
	ctx := t.Context()
	s := open(t)
	s.Checkpoint(ctx, "j", "notes")
	var ids []migrations.IDEntry
	for i := range 12 {
		id := fmt.Sprintf("id-%02d", i)
		if i%3 == 1 {
			id = "" // written by alternate key, response named no ID
		}
		ids = append(ids, migrations.IDEntry{SourceID: fmt.Sprint(i), Ref: migrations.Ref{Table: "annotation", Key: fmt.Sprintf("k%d", i), ID: id}})
	}
	if err := s.Commit(ctx, migrations.Commit{Job: "j", Step: "notes", Cursor: "12", IDs: ids}); err != nil {
		t.Fatal(err)
	}
	cp, err := s.Checkpoint(ctx, "j", "notes")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range cp.Written {
		if r.Table != "annotation" {
			t.Errorf("sample ref %+v", r)
		}
		got = append(got, r.ID)
	}
	if fmt.Sprint(got) != "[id-00 id-02 id-05 id-08 id-11]" {
		t.Errorf("sample %v, want five IDs spread over the batch, first and last included", got)
	}
	// A batch that wrote nothing with an ID keeps the last sample; one
	// that wrote some replaces it.
	if err := s.Commit(ctx, migrations.Commit{Job: "j", Step: "notes", Cursor: "20"}); err != nil {
		t.Fatal(err)
	}
	if cp, _ := s.Checkpoint(ctx, "j", "notes"); cp.Cursor != "20" || len(cp.Written) != 5 {
		t.Errorf("after an empty batch: %+v", cp)
	}
	err = s.Commit(ctx, migrations.Commit{Job: "j", Step: "notes", Cursor: "21", Done: true,
		IDs: []migrations.IDEntry{{SourceID: "21", Ref: migrations.Ref{Table: "annotation", Key: "k21", ID: "id-21"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if cp, _ := s.Checkpoint(ctx, "j", "notes"); len(cp.Written) != 1 || cp.Written[0] != (migrations.Ref{Table: "annotation", Key: "k21", ID: "id-21"}) {
		t.Errorf("after a one-record batch: %+v", cp.Written)
	}
	// A checkpoint moved without IDs keeps the sample it is given (a
	// distributed run's unit commits its batch's IDs under the step).
	given := []migrations.Ref{{Table: "incident", Key: "k1", ID: "id-1"}, {Table: "incident", Key: "k2", ID: "id-2"}}
	s.Checkpoint(ctx, "j", "cases@0-99")
	if err := s.Commit(ctx, migrations.Commit{Job: "j", Step: "cases@0-99", Cursor: "7", Written: given}); err != nil {
		t.Fatal(err)
	}
	if cp, _ := s.Checkpoint(ctx, "j", "cases@0-99"); fmt.Sprint(cp.Written) != fmt.Sprint(given) {
		t.Errorf("a checkpoint given its sample kept %+v, want %+v", cp.Written, given)
	}
}

// testTarget: the store records which target a job's state belongs to.
func testTarget(t *testing.T, open Backing) {
	ctx := t.Context()
	s := open(t)
	if _, ok, err := s.Target(ctx, "j"); ok || err != nil {
		t.Fatalf("target of a new job: %v %v", ok, err)
	}
	if err := s.SetTarget(ctx, "j", migrations.TargetInfo{ID: "org-a", URL: "https://a.example/"}); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Target(ctx, "j")
	if !ok || err != nil || got.ID != "org-a" || got.URL != "https://a.example/" || got.Recorded.IsZero() {
		t.Fatalf("target %+v %v %v", got, ok, err)
	}
	// The same organisation reached at another URL: the URL follows, the
	// first recording time stays.
	if err := s.SetTarget(ctx, "j", migrations.TargetInfo{ID: "org-a", URL: "https://a2.example/"}); err != nil {
		t.Fatal(err)
	}
	again, _, _ := open(t).Target(ctx, "j")
	if again.URL != "https://a2.example/" || !again.Recorded.Equal(got.Recorded) {
		t.Errorf("after a second SetTarget: %+v (first %+v)", again, got)
	}
	if _, ok, _ := s.Target(ctx, "other"); ok {
		t.Error("a target leaks across jobs")
	}
}

// testClear: Clear forgets a job's state at once, leaves other jobs and
// the journal alone, waits for no running job (it refuses), and a handle
// that read the state before cannot advance it afterwards.
func testClear(t *testing.T, open Backing, isRunning IsRunning) {
	ctx := t.Context()
	a, b := open(t), open(t)
	fill := func(job string) {
		run, err := a.BeginRun(ctx, job, []string{"one"})
		if err != nil {
			t.Fatal(err)
		}
		a.Checkpoint(ctx, job, "one")
		err = a.Commit(ctx, migrations.Commit{Job: job, Step: "one", RunID: run, Cursor: "9", Done: true,
			IDs:     []migrations.IDEntry{{SourceID: "1", Ref: migrations.Ref{Table: "account", Key: "id=a", ID: "a"}}},
			Rejects: []migrations.RejectState{{SourceID: "2", Reason: "map", Error: "no name"}},
			Skips:   []migrations.SkipState{{SourceID: "3", Reason: "archived"}},
			Counts:  migrations.Counts{Read: 3, Created: 1, Rejected: 1, Skipped: 1}})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.SetValue(ctx, job, "baseline:account", "3"); err != nil {
			t.Fatal(err)
		}
		if err := a.SetTarget(ctx, job, migrations.TargetInfo{ID: "org", URL: "https://a.example/"}); err != nil {
			t.Fatal(err)
		}
		if err := a.EndRun(ctx, run, migrations.StatusSucceeded, ""); err != nil {
			t.Fatal(err)
		}
	}
	fill("j")
	fill("keep")
	b.Checkpoint(ctx, "j", "one") // b saw the state before it was cleared

	// A running job is not cleared.
	run, err := a.BeginRun(ctx, "j", []string{"one"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Clear(ctx, "j"); !isRunning(err) {
		t.Fatalf("Clear of a running job: %v", err)
	}
	if cp, _ := b.Checkpoint(ctx, "j", "one"); cp.Cursor != "9" {
		t.Fatalf("a refused Clear removed the checkpoint: %+v", cp)
	}
	a.EndRun(ctx, run, migrations.StatusSucceeded, "")
	b.Checkpoint(ctx, "j", "one")

	if err := a.Clear(ctx, "j"); err != nil {
		t.Fatal(err)
	}
	if cp, _ := a.Checkpoint(ctx, "j", "one"); cp.Cursor != "" || cp.Done || len(cp.Written) != 0 {
		t.Errorf("checkpoint after Clear: %+v", cp)
	}
	if refs, _ := a.LookupIDs(ctx, "j", "one", "1"); len(refs) != 0 {
		t.Errorf("ID map after Clear: %+v", refs)
	}
	if _, ok, _ := a.Value(ctx, "j", "baseline:account"); ok {
		t.Error("value kept after Clear")
	}
	if _, ok, _ := a.Target(ctx, "j"); ok {
		t.Error("target kept after Clear")
	}
	for r, err := range a.Rejects(ctx, "j", "one") {
		t.Errorf("reject kept after Clear: %+v %v", r, err)
	}
	if got := skipRows(t, a, "j", "one"); len(got) != 0 {
		t.Errorf("skips kept after Clear: %v", got)
	}
	if runs, _ := a.Runs(ctx, "j"); len(runs) != 2 {
		t.Errorf("the journal is history and stays: %d runs", len(runs))
	}
	// Another job is untouched.
	if cp, _ := a.Checkpoint(ctx, "keep", "one"); cp.Cursor != "9" {
		t.Errorf("Clear of j touched keep: %+v", cp)
	}
	if _, ok, _ := a.Target(ctx, "keep"); !ok {
		t.Error("Clear of j removed keep's target")
	}
	if got := skipRows(t, a, "keep", "one"); len(got) != 1 {
		t.Errorf("Clear of j removed keep's skips: %v", got)
	}
	// b read the checkpoint before the Clear: it cannot bring it back.
	if err := b.Commit(ctx, migrations.Commit{Job: "j", Step: "one", Cursor: "10"}); !isConflict(err) {
		t.Errorf("a commit from before the Clear: %v", err)
	}
	// The clearing handle starts over from nothing.
	if err := a.Commit(ctx, migrations.Commit{Job: "j", Step: "one", Cursor: "1"}); err != nil {
		t.Errorf("first commit after Clear: %v", err)
	}
	if err := a.SetValue(ctx, "j", "baseline:account", "0"); err != nil {
		t.Errorf("first value after Clear: %v", err)
	}
}

// ErrorAs is a helper for IsRunning implementations.
func ErrorAs[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}
