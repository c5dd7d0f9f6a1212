package distribute

import (
	"context"
	"fmt"
	"iter"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/dvsync/dvsync/migrations"
)

// partitionStore is the state store as one unit of a step sees it. The ID
// map, rejects and values stay the job's, shared by every unit, so a later
// step looks up what any unit wrote. The unit's checkpoint, its step's
// counts and its journal are its own: the checkpoint under the step's
// partition name, the run (and the run lock) under journalName,
// so units of one step run at the same time on different workers, and a
// second worker that got the same unit (one River thought dead) finds its
// lock held.
//
// A batch is committed in two transactions: first the ID map entries,
// rejects and skips (upserts by source id, so writing them twice is harmless), then
// the cursor and the counts together, compare-and-swap on the partition's
// checkpoint. A worker killed between the two re-reads the batch, whose
// counts were never added: the counts of a unit add up to its records
// exactly once.
type partitionStore struct {
	migrations.Store
	step, part string
	// journal is the job name of the unit's runs and lock.
	journal string
	// truncated reports that the slice stopped reading before the unit's
	// end: its last batch is not the unit's end.
	truncated func() bool
}

func (s *partitionStore) name(step string) string {
	if step == s.step {
		return s.part
	}
	return step
}

// journalName is the job name under which a unit of a distributed run
// journals its runs and takes its lock: "<job>#<partition>#<run>". Only
// one distributed run of a job is coordinated at a time, so the lock
// keeps two workers off one unit, and the coordinator sums the counts of
// exactly this run's slices.
func journalName(job, part, run string) string { return job + "#" + part + "#" + run }

func (s *partitionStore) Checkpoint(ctx context.Context, job, step string) (migrations.Checkpoint, error) {
	return s.Store.Checkpoint(ctx, job, s.name(step))
}

func (s *partitionStore) Commit(ctx context.Context, c migrations.Commit) error {
	if c.Step != s.step {
		return s.Store.Commit(ctx, c)
	}
	if len(c.IDs) > 0 || len(c.Rejects) > 0 || len(c.Cleared) > 0 || len(c.Skips) > 0 {
		if err := s.Store.Commit(ctx, migrations.Commit{Job: c.Job, Step: c.Step, RunID: c.RunID, IDs: c.IDs, Rejects: c.Rejects, Cleared: c.Cleared, Skips: c.Skips}); err != nil {
			return err
		}
	}
	// The checkpoint keeps a sample of what the batch wrote, so the
	// coordinator's target check can read it back (ConfirmTarget).
	return s.Store.Commit(ctx, migrations.Commit{Job: c.Job, Step: s.part, RunID: c.RunID, Cursor: c.Cursor,
		Done: c.Done && !s.truncated(), Counts: c.Counts, Written: migrations.SampleWritten(c.IDs)})
}

func (s *partitionStore) ResetCheckpoints(ctx context.Context, job string, steps ...string) error {
	names := make([]string, len(steps))
	for i, st := range steps {
		names[i] = s.name(st)
	}
	return s.Store.ResetCheckpoints(ctx, job, names...)
}

func (s *partitionStore) BeginRun(ctx context.Context, job string, steps []string) (string, error) {
	names := make([]string, len(steps))
	for i, st := range steps {
		names[i] = s.name(st)
	}
	return s.Store.BeginRun(ctx, s.journal, names)
}

func (s *partitionStore) SetStepStatus(ctx context.Context, runID, step string, status migrations.Status) error {
	return s.Store.SetStepStatus(ctx, runID, s.name(step), status)
}

// Close leaves the shared store open.
func (s *partitionStore) Close() error { return nil }

// rangeSource reads the records of a source whose cursors are integer ids
// (every step of the Odoo migration) from id `from` up to, not including,
// `to` (0: no bound), and stops after the first record read past the
// slice's deadline, as if the source ended there: the engine then commits
// everything in flight and the unit continues from that checkpoint in its
// next slice, on whichever worker takes it.
type rangeSource struct {
	src      migrations.Source
	from, to int64
	deadline time.Time
	cut      atomic.Bool
}

func (r *rangeSource) Records(ctx context.Context, cursor string) iter.Seq2[migrations.SourceRecord, error] {
	return func(yield func(migrations.SourceRecord, error) bool) {
		start := cursor
		if r.from > 0 {
			after := int64(-1)
			if cursor != "" {
				n, err := strconv.ParseInt(cursor, 10, 64)
				if err != nil {
					yield(migrations.SourceRecord{}, fmt.Errorf("bad checkpoint %q: not an id", cursor))
					return
				}
				after = n
			}
			if after < r.from-1 {
				start = strconv.FormatInt(r.from-1, 10)
			}
		}
		n := 0
		for rec, err := range r.src.Records(ctx, start) {
			if err != nil {
				yield(rec, err)
				return
			}
			if r.to > 0 && rec.ID != "" {
				id, err := strconv.ParseInt(rec.ID, 10, 64)
				if err != nil {
					yield(migrations.SourceRecord{}, fmt.Errorf("record id %q is not an integer id", rec.ID))
					return
				}
				if id >= r.to {
					return
				}
			}
			if n > 0 && !r.deadline.IsZero() && time.Now().After(r.deadline) {
				r.cut.Store(true)
				return
			}
			n++
			if !yield(rec, nil) {
				return
			}
		}
	}
}
