package distribute

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"time"

	"github.com/riverqueue/river"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/pgstore"
	"github.com/dvsync/dvsync/migrations/syncjob"
	"github.com/dvsync/dvsync/odoo"
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

// Sync runs one sync of a job on the workers: it takes the job's lock and
// journals the run as `dvsync sync` does, enqueues one unit per table of a
// Dataverse source, or one unit for the whole of an Odoo source (see
// workSyncOdoo), waits, and returns the summary
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
	var units []Unit
	if src := job.Source.Odoo; src != nil {
		units = []Unit{{Run: sum.RunID, Type: UnitSyncOdoo, Job: job.Name, Env: job.Target.Dataverse.Env, Users: users,
			Odoo:    &OdooConn{URL: src.URL, DB: src.DB, User: src.User, Protocol: "auto", PageSize: odoo.DefaultPageSize},
			SyncJob: string(o.JobText), SyncJobDir: job.Dir}}
	}
	for i, t := range job.Tables {
		units = append(units, Unit{Run: sum.RunID, Type: UnitSyncTable, Job: job.Name, Table: t.Name, Seq: i, Env: job.Source.Dataverse.Env,
			Users: users, SyncJob: string(o.JobText), SyncJobDir: job.Dir})
	}
	ids, err := c.enqueue(ctx, units)
	if err != nil {
		return err
	}
	poll := o.Poll
	if poll <= 0 {
		poll = DefaultPoll
	}
	// The summaries of each unit's tables: one for a table unit, the
	// steps and the deleted-ticket check for an Odoo unit.
	tables := make([][]syncjob.TableSummary, len(units))
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
			ts, err := unitTables(u, j.Output())
			if err != nil {
				return err
			}
			tables[i] = ts
			var n int64
			for _, t := range ts {
				n += counts[t.Table].Read
			}
			name := u.Name()
			switch state {
			case unitDone, unitFailed:
				done[i] = true
				last := &tables[i][len(tables[i])-1]
				if uerr != nil && firstErr == nil {
					firstErr = fmt.Errorf("%s: %w", name, uerr)
					last.Error = uerr.Error()
				}
				for _, t := range tables[i] {
					if t.Error != "" && firstErr == nil {
						firstErr = fmt.Errorf("%s: %s", t.Table, t.Error)
					}
				}
				if o.Progress != nil {
					o.Progress(syncjob.Progress{Table: name, Read: n, Done: true})
				}
			default:
				left++
				if n != read[name] && o.Progress != nil {
					o.Progress(syncjob.Progress{Table: name, Phase: "worker", Read: n})
				}
			}
			read[name] = n
		}
		if left == 0 {
			sum.Tables = slices.Concat(tables...)
			return firstErr
		}
		select {
		case <-ctx.Done():
			sum.Tables = slices.Concat(tables...)
			return fmt.Errorf("%w: %w", ctx.Err(), errWorkersGoOn)
		case <-tick.C:
		}
	}
}

// odooOutput is the River output of a sync-odoo unit.
type odooOutput struct {
	Tables []syncjob.TableSummary `json:"tables"`
}

// unitTables reads the summaries a unit's output reports: never none, so
// a unit that failed before reporting still has a line to carry its
// error.
func unitTables(u Unit, out []byte) ([]syncjob.TableSummary, error) {
	bad := func(err error) ([]syncjob.TableSummary, error) {
		return nil, fmt.Errorf("unit %s reported an unreadable summary: %w", u, err)
	}
	if u.Type == UnitSyncOdoo {
		var oo odooOutput
		if len(out) > 0 {
			if err := json.Unmarshal(out, &oo); err != nil {
				return bad(err)
			}
		}
		if len(oo.Tables) == 0 {
			oo.Tables = []syncjob.TableSummary{{Table: u.Name()}}
		}
		return oo.Tables, nil
	}
	var ts syncjob.TableSummary
	if len(out) > 0 {
		if err := json.Unmarshal(out, &ts); err != nil {
			return bad(err)
		}
	}
	ts.Table = u.Table
	return []syncjob.TableSummary{ts}, nil
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
	seen := map[string]bool{}
	kept := sum.Tables[:0]
	for _, ts := range sum.Tables {
		if ts.Table == syncjob.OdooUnit && ts.Error == "" {
			// The line of an Odoo unit that ended without reporting its
			// steps (its worker died once it had recorded them): the
			// steps are added below from what they recorded.
			continue
		}
		ts.Counts = counts[ts.Table]
		seen[ts.Table] = true
		kept = append(kept, ts)
	}
	sum.Tables = kept
	for _, t := range slices.Sorted(maps.Keys(counts)) {
		if !seen[t] {
			sum.Tables = append(sum.Tables, syncjob.TableSummary{Table: t, Counts: counts[t]})
		}
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

// workSyncOdoo works the sync of an Odoo-source job: the whole
// syncjob.RunOdoo, in one slice. Cutting it at the slice's deadline is
// not sound here: migrations.Run has no stop at a commit point a caller
// can ask for (cancelling it abandons the batches in flight, which the
// next slice writes again, and a busy user's slots could make every slice
// end that way), its figures and rejects are known only when it returns,
// not with each engine checkpoint, and every slice would prepare the
// migration again (the reference lists read, the baselines counted) and
// read its streams to a new bound. So the unit runs to its end, like a
// single-process sync. If it outlives River's RescueAfter, the attempt
// River gives out again finds the unit's lock held (the
// migrations.JobRunningError below, "busy") and comes back a slice
// later; once the first attempt has recorded the run, any later one
// finds it ended (syncjob.ErrRunDone) and is done. A worker that dies
// leaves the unit to be rescued: its successor resumes from the engine's
// checkpoints and the step cursors, which advance only as the target
// confirms writes, and the deleted-ticket check's checkpoint, saved at
// its end; the dead attempt's figures were never recorded, as a killed
// single-process run journals none.
func (w *Worker) workSyncOdoo(ctx context.Context, job *river.Job[Unit], user AppUser) (read int64, err error) {
	u := job.Args
	sj, err := syncjob.ParseJob(filepath.Join(u.SyncJobDir, "job.yaml"), []byte(u.SyncJob))
	if err != nil {
		return 0, river.JobCancel(err)
	}
	if sj.Source.Odoo == nil || sj.Target.Dataverse == nil {
		return 0, river.JobCancel(fmt.Errorf("job %s is not an Odoo → Dataverse sync", sj.Name))
	}
	st, err := w.syncStore(ctx)
	if err != nil {
		return 0, err
	}
	oc, err := w.odooClient(ctx, u.Odoo)
	if err != nil {
		return 0, err
	}
	mux := byHost{}
	counter := &syncjob.Counter{Base: mux}
	opts := syncjob.Options{Store: st, Counter: counter, RunID: u.Run, Odoo: oc, EngineStore: w.store}
	if opts.TargetClient, err = w.sliceClient(sj.Target.Dataverse.Env, user, counter, mux, 0); err != nil {
		return 0, err
	}
	tables, err := syncjob.RunOdoo(ctx, sj, opts)
	switch {
	case errors.Is(err, syncjob.ErrRunDone):
		return 0, nil
	case errors.Is(err, syncjob.ErrLocked):
		return 0, &migrations.JobRunningError{Job: syncjob.TableLockName(sj.Name, syncjob.OdooUnit), Path: w.StateWhere()}
	}
	for _, t := range tables {
		read += t.Read
	}
	if tables != nil {
		// The coordinator lists the steps as a single-process run does;
		// their counts it takes from the state store.
		if _, uerr := w.river.JobUpdate(context.WithoutCancel(ctx), job.ID, &river.JobUpdateParams{Output: odooOutput{Tables: tables}}); uerr != nil && err == nil {
			err = uerr
		}
	}
	return read, err
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
