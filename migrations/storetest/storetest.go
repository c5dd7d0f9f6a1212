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
	t.Run("InterruptedRun", func(t *testing.T) { testInterrupted(t, newBacking(t)) })
	t.Run("JobLock", func(t *testing.T) { testLock(t, newBacking(t), isRunning) })
	t.Run("ConcurrentCommits", func(t *testing.T) { testConcurrentCommits(t, newBacking(t)) })
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

// ErrorAs is a helper for IsRunning implementations.
func ErrorAs[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}
