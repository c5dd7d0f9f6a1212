package distribute

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"time"

	"github.com/riverqueue/river"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/pgstore"
	"github.com/dvsync/dvsync/migrations/syncjob"
)

// SyncOptions configure Sync.
type SyncOptions struct {
	Options
	// State is the postgres:// URL of the shared state store; Store is the
	// sync state store opened on it.
	State string
	Store *syncjob.Store
	Job   *syncjob.Job
	// JobText is the job file's text, as the workers read it.
	JobText []byte
	Users   []AppUser
	Poll    time.Duration
	Notice  func(string)
	// Progress is told when a table's unit starts, ends a slice and ends.
	Progress func(syncjob.Progress)
	// Rejects receives the run's rejected records, one JSON line each
	// (syncjob.Reject, as a single-process run writes them), once the
	// units are done or the coordinator stops waiting.
	Rejects io.Writer
}

// Sync runs one sync of a Dataverse-source job with its tables as units on
// the workers: it takes the job's lock and journals the run as `dvsync
// sync` does, enqueues one unit per table, waits, and returns the summary
// the tables' units recorded. Tables are read and applied by workers
// page by page from their checkpoints, each under its own lock; each
// page's figures and rejects are recorded with its checkpoint in the state
// store (syncjob.Store.SaveProgress), so the summary's counts and the
// lines written to o.Rejects are the same records, each once, however
// many workers died on the way.
func Sync(ctx context.Context, o SyncOptions) (*syncjob.Summary, error) {
	job := o.Job
	switch {
	case o.Store == nil || !pgstore.IsURL(o.State):
		return nil, errors.New("distribute: --distribute needs the shared state store: --state postgres://…")
	case job.Source.Dataverse == nil:
		return nil, fmt.Errorf("distribute: job %s reads Odoo, whose changes follow one cursor; distribute the migration (dvsync migrate odoo --distribute) or run the sync in one process: %w", job.Name, syncjob.ErrNotSupported)
	case job.Target.SQLite != "":
		return nil, fmt.Errorf("distribute: job %s writes the SQLite file %s, which workers on other machines cannot reach; use a postgres: target: %w", job.Name, job.Target.SQLite, syncjob.ErrNotSupported)
	}
	unlock, err := o.Store.Lock(ctx, job.Name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	sum := &syncjob.Summary{Job: job.Name, Started: time.Now().UTC(), Target: job.Target.Kind()}
	if sum.RunID, err = o.Store.BeginRun(ctx, job.Name); err != nil {
		return nil, err
	}
	runErr := runSync(ctx, o, sum)
	if sum.Tables != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		err := recorded(rctx, o, sum)
		cancel()
		if err != nil && runErr == nil {
			runErr = err
		}
	}
	sum.Finish(time.Now().UTC())
	status, code := "succeeded", 0
	switch {
	case ctx.Err() != nil:
		status, code = "interrupted", 1
	case runErr != nil:
		status, code = "failed", 1
	case sum.Totals.Rejected > 0:
		status, code = "rejects", 3
	}
	sum.Status = status
	if runErr != nil {
		sum.Error = runErr.Error()
	}
	jctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := o.Store.EndRun(jctx, sum.RunID, status, code, sum.Error, sum); err != nil && runErr == nil {
		runErr = err
	}
	if runErr == nil && sum.Totals.Rejected > 0 {
		runErr = syncjob.ErrRejects
	}
	return sum, runErr
}

func runSync(ctx context.Context, o SyncOptions, sum *syncjob.Summary) error {
	job := o.Job
	c, err := newCoordinator(ctx, o.State, o.Options, o.Notice)
	if err != nil {
		return err
	}
	defer c.close()
	users := o.Users
	if len(users) == 0 {
		users = []AppUser{DefaultUser}
	}
	units := make([]Unit, len(job.Tables))
	for i, t := range job.Tables {
		units[i] = Unit{Run: sum.RunID, Type: UnitSyncTable, Job: job.Name, Table: t.Name, Seq: i, Env: job.Source.Dataverse.Env,
			Users: users, SyncJob: string(o.JobText), SyncJobDir: job.Dir}
	}
	ids, err := c.enqueue(ctx, units)
	if err != nil {
		return err
	}
	poll := o.Poll
	if poll <= 0 {
		poll = DefaultPoll
	}
	tables := make([]syncjob.TableSummary, len(units))
	done := make([]bool, len(units))
	tick := time.NewTicker(poll)
	defer tick.Stop()
	var firstErr error
	read := map[string]int64{}
	for {
		jobs, err := c.jobs(ctx, ids)
		if err != nil {
			return err
		}
		counts, err := o.Store.RunResult(ctx, job.Name, sum.RunID, nil)
		if err != nil {
			return err
		}
		left := 0
		for i, u := range units {
			if done[i] {
				continue
			}
			j := jobs[ids[i]]
			state, uerr := c.check(u, j)
			var ts syncjob.TableSummary
			if out := j.Output(); len(out) > 0 {
				if err := json.Unmarshal(out, &ts); err != nil {
					return fmt.Errorf("unit %s reported an unreadable summary: %w", u, err)
				}
			}
			ts.Table = u.Table
			tables[i] = ts
			switch state {
			case unitDone, unitFailed:
				done[i] = true
				if uerr != nil && firstErr == nil {
					firstErr = fmt.Errorf("%s: %w", u.Table, uerr)
					tables[i].Error = uerr.Error()
				}
				if tables[i].Error != "" && firstErr == nil {
					firstErr = fmt.Errorf("%s: %s", u.Table, tables[i].Error)
				}
				if o.Progress != nil {
					o.Progress(syncjob.Progress{Table: u.Table, Read: counts[u.Table].Read, Done: true})
				}
			default:
				left++
				if n := counts[u.Table].Read; n != read[u.Table] && o.Progress != nil {
					o.Progress(syncjob.Progress{Table: u.Table, Phase: "worker", Read: n})
				}
			}
			read[u.Table] = counts[u.Table].Read
		}
		if left == 0 {
			sum.Tables = tables
			return firstErr
		}
		select {
		case <-ctx.Done():
			sum.Tables = tables
			return fmt.Errorf("%w: %w", ctx.Err(), errWorkersGoOn)
		case <-tick.C:
		}
	}
}

// recorded replaces the tables' counts by those their pages recorded in
// the state store with their checkpoints (the units' own reports miss the
// pages of a slice whose worker died), and writes the rejected records
// these counts count to o.Rejects.
func recorded(ctx context.Context, o SyncOptions, sum *syncjob.Summary) error {
	var reject func(syncjob.Reject) error
	if o.Rejects != nil {
		reject = func(r syncjob.Reject) error {
			b, _ := json.Marshal(r)
			if _, err := o.Rejects.Write(append(b, '\n')); err != nil {
				return fmt.Errorf("writing rejects: %w", err)
			}
			return nil
		}
	}
	counts, err := o.Store.RunResult(ctx, o.Job.Name, sum.RunID, reject)
	if err != nil {
		return err
	}
	for i := range sum.Tables {
		sum.Tables[i].Counts = counts[sum.Tables[i].Table]
	}
	return nil
}

// errSliceEnd ends a sync slice at a page boundary.
var errSliceEnd = errors.New("slice ended")

// workSync works one slice of a sync table: it reads and applies pages
// until the slice's time is up (at a page boundary, where the checkpoint
// has just been saved), and adds the slice's figures to the unit's output.
func (w *Worker) workSync(ctx context.Context, job *river.Job[Unit], user AppUser) (read int64, cut bool, err error) {
	u := job.Args
	sj, err := syncjob.ParseJob(filepath.Join(u.SyncJobDir, "job.yaml"), []byte(u.SyncJob))
	if err != nil {
		return 0, false, river.JobCancel(err)
	}
	st, err := w.syncStore(ctx)
	if err != nil {
		return 0, false, err
	}
	mux := byHost{}
	counter := &syncjob.Counter{Base: mux}
	opts := syncjob.Options{Store: st, Counter: counter, RunID: u.Run}
	if opts.Client, err = w.sliceClient(sj.Source.Dataverse.Env, user, counter, mux, sj.PageSize); err != nil {
		return 0, false, err
	}
	if d := sj.Target.Dataverse; d != nil {
		if opts.TargetClient, err = w.sliceClient(d.Env, user, counter, mux, 0); err != nil {
			return 0, false, err
		}
	}
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	deadline := time.Now().Add(w.o.slice())
	opts.Progress = func(p syncjob.Progress) {
		if time.Now().After(deadline) && !p.Done {
			cancel(errSliceEnd)
		}
	}
	ts, err := syncjob.RunTable(sctx, sj, u.Table, opts)
	// A table that finished is done even when its last progress report
	// ended the slice (nothing read after it): done again, a modifiedon
	// table would re-read its overlap window within the same run.
	cut = err != nil && errors.Is(context.Cause(sctx), errSliceEnd) && ctx.Err() == nil
	if cut {
		err = nil
		ts.Error = ""
	}
	if errors.Is(err, syncjob.ErrLocked) {
		return 0, false, &migrations.JobRunningError{Job: syncjob.TableLockName(sj.Name, u.Table), Path: w.StateWhere()}
	}
	if ts == nil {
		return 0, false, err
	}
	var acc syncjob.TableSummary
	if out := job.Output(); len(out) > 0 {
		_ = json.Unmarshal(out, &acc)
	}
	acc.Add(*ts)
	acc.Table = u.Table
	// The figures survive the slice: the next slice (on any worker) adds
	// to them, and the coordinator reads them.
	if _, uerr := w.river.JobUpdate(context.WithoutCancel(ctx), job.ID, &river.JobUpdateParams{Output: acc}); uerr != nil && err == nil {
		err = uerr
	}
	if err != nil && !errors.Is(err, syncjob.ErrRejects) && ctx.Err() == nil {
		// A table that failed for good reports it in its output; River
		// retries it from its checkpoint meanwhile.
		return ts.Read, false, err
	}
	return ts.Read, cut, nil
}

// syncStore opens the sync state store on the shared database once.
func (w *Worker) syncStore(ctx context.Context) (*syncjob.Store, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sync != nil {
		return w.sync, nil
	}
	st, err := syncjob.OpenStore(ctx, w.o.State)
	if err != nil {
		return nil, err
	}
	w.sync = st
	return st, nil
}

// sliceClient is a client of an application user for one slice: the
// user's slots and limiter, and a counter of this slice's requests.
func (w *Worker) sliceClient(env string, user AppUser, counter *syncjob.Counter, mux byHost, pageSize int) (*dataverse.Client, error) {
	uc, err := w.user(env, user)
	if err != nil {
		return nil, err
	}
	cred, err := user.Credential(env)
	if err != nil {
		return nil, err
	}
	root, err := url.Parse(uc.client.ServiceRoot())
	if err != nil {
		return nil, err
	}
	mux[root.Host] = uc.slots
	return dataverse.NewClient(env, cred, &dataverse.ClientOptions{Transport: counter, Limiter: uc.client.Limiter(), PageSize: pageSize})
}

// byHost sends each request through the slots of its environment, so one
// counter counts a slice's requests to the source and the target alike.
type byHost map[string]http.RoundTripper

func (m byHost) RoundTrip(r *http.Request) (*http.Response, error) {
	t := m[r.URL.Host]
	if t == nil {
		return nil, fmt.Errorf("no request slots for %s", r.URL.Host)
	}
	return t.RoundTrip(r)
}
