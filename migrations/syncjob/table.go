package syncjob

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dvsync/dvsync/dataverse/sink"
	"github.com/dvsync/dvsync/migrations/mirror"
)

// TableLockName is the lock a table of a job takes when it is synced on
// its own (RunTable): one worker at a time per table, while other tables
// of the job sync elsewhere.
func TableLockName(job, table string) string { return job + "#" + table }

// RunTable syncs one table of a Dataverse-source job from its checkpoint,
// as one unit of a distributed run (dvsync worker): it takes the table's
// own lock (ErrLocked when another process syncs the table), not the
// job's, and journals nothing (the coordinator journals the run). The
// table's summary is returned with its error. Cancelling ctx stops the
// read; the pages applied are kept, as in Run. With o.RunID, each page's
// figures and rejects are recorded in o.Store with its checkpoint (see
// Store.SaveProgress) for the coordinator to report.
func RunTable(ctx context.Context, job *Job, table string, o Options) (*TableSummary, error) {
	var spec *TableSpec
	for i := range job.Tables {
		if job.Tables[i].Name == table {
			spec = &job.Tables[i]
		}
	}
	switch {
	case o.Store == nil:
		return nil, errors.New("sync: no state store")
	case job.Source.Dataverse == nil:
		return nil, fmt.Errorf("sync: job %s reads Odoo; only Dataverse sources sync table by table: %w", job.Name, ErrNotSupported)
	case spec == nil:
		return nil, fmt.Errorf("sync: job %s has no table %s", job.Name, table)
	case o.Client == nil:
		return nil, errors.New("sync: no Dataverse client for the source")
	case job.Target.Dataverse != nil && o.TargetClient == nil:
		return nil, errors.New("sync: no Dataverse client for the target")
	case o.DryRun:
		return nil, fmt.Errorf("sync: a dry run runs in one process: %w", ErrNotSupported)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	unlock, err := o.Store.Lock(ctx, TableLockName(job.Name, table))
	if err != nil {
		return nil, err
	}
	defer unlock()
	r := &runner{job: job, o: o, sum: &Summary{Job: job.Name, Target: job.Target.Kind()}}
	switch {
	case job.Target.Dataverse != nil:
		r.sink = sink.New(o.TargetClient, nil)
	default:
		kind, dsn := mirror.SQLite, job.Target.SQLite
		if job.Target.Postgres != "" {
			kind, dsn = mirror.Postgres, job.Target.Postgres
		}
		if r.db, err = mirror.Open(ctx, kind, dsn); err != nil {
			return nil, err
		}
		defer r.db.Close()
	}
	ts := &TableSummary{Table: table}
	req0, thr0 := o.Counter.Counts()
	r.base.Requests, r.base.Throttled = req0, thr0
	start := time.Now()
	err = r.table(ctx, *spec, ts)
	req1, thr1 := o.Counter.Counts()
	ts.Requests, ts.Throttled = req1-req0, thr1-thr0
	ts.DurationSeconds = time.Since(start).Seconds()
	if err != nil {
		ts.Error = err.Error()
	}
	return ts, err
}

// Add adds a later slice of the same table to s: its counts, its
// duration, and a re-read in full if it had one.
func (s *TableSummary) Add(o TableSummary) {
	s.Counts.add(o.Counts)
	s.DurationSeconds += o.DurationSeconds
	if o.Mode != "" {
		s.Mode = o.Mode
	}
	if o.Rebaselined {
		s.Rebaselined, s.RebaselineReason = true, o.RebaselineReason
	}
	s.Error = o.Error
}

// Finish totals a summary assembled from tables synced apart (a
// distributed run), as Run does for its own.
func (s *Summary) Finish(end time.Time) { s.finish(end) }
