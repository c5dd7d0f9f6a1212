package syncjob

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/sink"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/mirror"
	"github.com/dvsync/dvsync/odoo"
)

// Modes of change detection, as the summary names them.
const (
	ModeChangeTracking = "change-tracking"
	ModeModifiedOn     = "modifiedon"
)

// Options configure Run. Client is required for a Dataverse source.
type Options struct {
	// Client reads the source environment. Build it with a Counter as its
	// transport for the summary's request and throttle figures.
	Client  *dataverse.Client
	Counter *Counter
	// TargetClient writes a Dataverse target (through dataverse/sink);
	// give it the same Counter to count its requests too.
	TargetClient *dataverse.Client
	// Odoo reads an Odoo source; EngineStore is the migrations state store
	// its job runs on (checkpoints, ID map): the state file of `dvsync
	// migrate odoo` when the sync continues a migration.
	Odoo        *odoo.Client
	EngineStore migrations.Store
	// Store holds checkpoints, the journal and the lock.
	Store *Store
	// DryRun reads and compares everything but writes nothing, to the
	// target or the state: a mirror table is applied in one transaction
	// that is rolled back; a Dataverse target is asked what each page
	// would change (sink.Plan, and a read of each record to delete); an
	// Odoo job is planned as `migrate odoo --dry-run` plans it. No
	// checkpoint, delta token or target key moves.
	DryRun bool
	// Rejects receives one JSON line per rejected record.
	Rejects io.Writer
	// RunID, given to RunTable by a worker of a distributed run, records
	// the table's figures and rejected records under that run in Store,
	// with each checkpoint (Store.SaveProgress), instead of writing
	// rejects to Rejects: the coordinator writes them (Store.RunResult).
	RunID string
	// Progress is called after every page and when a table ends.
	Progress func(Progress)
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Progress reports where a table's read stands.
type Progress struct {
	Table string
	// Phase: baseline, delta, keyscan, changes.
	Phase string
	Read  int64
	Done  bool
}

// Counter is an http.RoundTripper counting requests and 429 responses.
type Counter struct {
	Base                http.RoundTripper
	requests, throttled atomic.Int64
}

// RoundTrip implements http.RoundTripper.
func (c *Counter) RoundTrip(r *http.Request) (*http.Response, error) {
	base := c.Base
	if base == nil {
		base = http.DefaultTransport
	}
	c.requests.Add(1)
	resp, err := base.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusTooManyRequests {
		c.throttled.Add(1)
	}
	return resp, err
}

// Counts returns requests sent and 429s received so far.
func (c *Counter) Counts() (requests, throttled int64) {
	if c == nil {
		return 0, 0
	}
	return c.requests.Load(), c.throttled.Load()
}

// ErrRejects is returned (with the summary) when the run finished but
// rejected records.
var ErrRejects = errors.New("finished with rejected records")

// Run runs the job once: takes the lock (ErrLocked at once if another run
// holds it), journals the run, syncs every table from its checkpoint, and
// returns the summary. A table that fails does not stop the others unless
// ctx is cancelled.
func Run(ctx context.Context, job *Job, o Options) (*Summary, error) {
	if o.Store == nil {
		return nil, errors.New("sync: no state store")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	fromOdoo := job.Source.Odoo != nil
	switch {
	case fromOdoo && (o.Odoo == nil || o.EngineStore == nil || o.TargetClient == nil):
		return nil, errors.New("sync: an Odoo job needs an Odoo client, a Dataverse client for the target and an engine store")
	case !fromOdoo && o.Client == nil:
		return nil, errors.New("sync: no Dataverse client for the source")
	}
	toDataverse := job.Target.Dataverse != nil
	if toDataverse && o.TargetClient == nil {
		return nil, errors.New("sync: no Dataverse client for the target")
	}
	unlock, err := o.Store.Lock(ctx, job.Name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := confirmEnds(ctx, job, o); err != nil {
		return nil, err
	}

	r := &runner{job: job, o: o}
	switch {
	case fromOdoo:
	case toDataverse:
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

	sum := &Summary{Job: job.Name, DryRun: o.DryRun, Started: o.Now().UTC(), Target: job.Target.Kind()}
	if !o.DryRun {
		if sum.RunID, err = o.Store.BeginRun(ctx, job.Name); err != nil {
			return nil, err
		}
	}
	r.sum = sum
	var firstErr error
	if fromOdoo {
		if err := r.runOdoo(ctx); err != nil {
			firstErr = err
		}
	}
	for _, spec := range job.Tables {
		ts := TableSummary{Table: spec.Name}
		req0, thr0 := o.Counter.Counts()
		start := time.Now()
		err := r.table(ctx, spec, &ts)
		req1, thr1 := o.Counter.Counts()
		ts.Requests, ts.Throttled = req1-req0, thr1-thr0
		ts.DurationSeconds = time.Since(start).Seconds()
		if err != nil {
			ts.Error = err.Error()
			if firstErr == nil {
				firstErr = fmt.Errorf("%s: %w", spec.Name, err)
			}
		}
		sum.Tables = append(sum.Tables, ts)
		if o.Progress != nil {
			o.Progress(Progress{Table: spec.Name, Read: ts.Read, Done: true})
		}
		if ctx.Err() != nil {
			break
		}
	}
	sum.finish(o.Now().UTC())
	status, code := "succeeded", 0
	switch {
	case ctx.Err() != nil:
		status, code = "interrupted", 1
		if firstErr == nil {
			firstErr = ctx.Err()
		}
	case firstErr != nil:
		status, code = "failed", 1
	case sum.Totals.Rejected > 0:
		status, code = "rejects", 3
	}
	sum.Status = status
	if firstErr != nil {
		sum.Error = firstErr.Error()
	}
	if !o.DryRun {
		// The journal entry is written even when ctx was cancelled (Ctrl-C).
		jctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := o.Store.EndRun(jctx, sum.RunID, status, code, sum.Error, sum); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		return sum, firstErr
	}
	if sum.Totals.Rejected > 0 && !o.DryRun {
		// A dry run rejected nothing: its summary says what a run would
		// reject, as `migrate odoo --dry-run` does.
		return sum, ErrRejects
	}
	return sum, nil
}

type runner struct {
	job  *Job
	o    Options
	db   *mirror.DB // database targets
	sink *sink.Sink // Dataverse targets
	sum  *Summary

	orgOnce sync.Once
	orgDays int // 0: unknown

	// base holds the request counter's figures when RunTable began.
	base Counts
}

// expiryDays reads organization.expirechangetrackingindays once per run.
// Unknown (0) when the organization row cannot be read; the server's
// ExpiredVersionStamp answer still triggers the re-baseline then.
func (r *runner) expiryDays(ctx context.Context) int {
	r.orgOnce.Do(func() {
		s, err := r.o.Client.Organization(ctx)
		if err == nil {
			r.orgDays = s.ExpireChangeTrackingInDays
		}
	})
	return r.orgDays
}

// tableRun is one table's pass within a run.
type tableRun struct {
	r    *runner
	name string
	pk   string
	ap   applier
	cp   Checkpoint
	sum  *TableSummary
	ctx  context.Context

	// A distributed run's unit (Options.RunID) records, with each
	// checkpoint, the rejects since the last one (pending) and what its
	// figures (sum, with the counter's requests since base) added since
	// the last one (recorded).
	pending  []Reject
	recorded Counts
	base     Counts
}

func (r *runner) table(ctx context.Context, spec TableSpec, ts *TableSummary) error {
	def, err := r.o.Client.Table(ctx, spec.Name)
	if err != nil {
		return err
	}
	cp, err := r.o.Store.Checkpoint(ctx, r.job.Name, spec.Name)
	if err != nil {
		return err
	}
	t := &tableRun{r: r, name: spec.Name, pk: def.PrimaryID, cp: cp, sum: ts, ctx: ctx}
	t.base = r.base
	var added []string
	if r.db != nil {
		mt, err := r.db.Table(ctx, def, spec.Columns)
		if err != nil {
			return err
		}
		t.ap = &mirrorApplier{t: t, mt: mt}
		added = mt.Added
	} else {
		if t.ap, err = r.dataverseApplier(ctx, t, def, spec); err != nil {
			return err
		}
	}
	defer t.ap.Rollback()
	if len(added) > 0 && cp.Phase != "" {
		// New columns: rows already mirrored lack their values.
		t.cp.Phase, t.cp.Link = "", ""
		ts.Rebaselined = true
		ts.RebaselineReason = "columns added to the mirror: " + strings.Join(added, ", ")
		if def.ChangeTracking {
			ts.Mode = ModeChangeTracking
			return t.baseline(ts.RebaselineReason, "")
		}
		t.cp.Watermark = ""
	}
	if def.ChangeTracking {
		ts.Mode = ModeChangeTracking
		return t.tracked()
	}
	ts.Mode = ModeModifiedOn
	if _, ok := def.Column("modifiedon"); !ok {
		return fmt.Errorf("change tracking is off for %s and it has no modifiedon column to fall back on", spec.Name)
	}
	return t.fallback()
}

func (t *tableRun) query() dataverse.Query { return t.ap.Query(t.r.job.PageSize) }

// save commits the changes applied so far and then the checkpoint. A crash
// between the two replays the page, which re-applies the same upserts and
// deletes by key: nothing is duplicated. A dry run never moves a
// checkpoint; its Commit plans the page (Dataverse) or keeps the one
// transaction the table is rolled back in (mirror).
func (t *tableRun) save(cp Checkpoint) error {
	t.cp = cp
	if err := t.ap.Commit(); err != nil {
		return err
	}
	if t.r.o.DryRun {
		return nil
	}
	// The checkpoint, like the target's writes, outlives a cancelled run.
	ctx := context.WithoutCancel(t.ctx)
	if t.r.o.RunID == "" {
		return t.r.o.Store.SaveCheckpoint(ctx, t.r.job.Name, t.name, cp)
	}
	now := t.sum.Counts
	now.Requests, now.Throttled = t.r.o.Counter.Counts()
	now.Requests -= t.base.Requests
	now.Throttled -= t.base.Throttled
	p := RunProgress{RunID: t.r.o.RunID, Counts: now.minus(t.recorded), Rejects: t.pending}
	if err := t.r.o.Store.SaveProgress(ctx, t.r.job.Name, t.name, cp, p); err != nil {
		return err
	}
	t.recorded, t.pending = now, nil
	return nil
}

func (t *tableRun) progress(phase string) {
	if t.r.o.Progress != nil {
		t.r.o.Progress(Progress{Table: t.name, Phase: phase, Read: t.sum.Read})
	}
}

// isDeleted tells a $deletedEntity entry from a row
// (use-change-tracking-synchronize-data-external-systems.md: deleted rows
// come as {"@odata.context": "…/$deletedEntity", "id": …, "reason":
// "deleted"}).
func isDeleted(pk string, rec dataverse.Record) (string, bool) {
	if strings.Contains(rec.String("@odata.context"), "$deletedEntity") || (rec.String("reason") == "deleted" && rec.String(pk) == "" && rec.String("id") != "") {
		return rec.String("id"), true
	}
	return "", false
}

// apply applies one change in generation gen.
func (t *tableRun) apply(rec dataverse.Record, gen int64) error {
	t.sum.Read++
	if id, ok := isDeleted(t.pk, rec); ok {
		return t.ap.Delete(id)
	}
	return t.ap.Upsert(rec, gen)
}

func (t *tableRun) count(o mirror.Outcome) {
	switch o {
	case mirror.Upserted:
		t.sum.Upserted++
	case mirror.Deleted:
		t.sum.Deleted++
	default:
		t.sum.Unchanged++
	}
}

// Reject is one line of the rejects file.
type Reject struct {
	Time  time.Time `json:"time"`
	Job   string    `json:"job"`
	Table string    `json:"table"`
	ID    string    `json:"id"`
	Error string    `json:"error"`
}

func (t *tableRun) reject(id string, cause error) error {
	t.sum.Rejected++
	rj := Reject{Time: t.r.o.Now().UTC(), Job: t.r.job.Name, Table: t.name, ID: id, Error: cause.Error()}
	if t.r.o.RunID != "" {
		// Recorded with the page's checkpoint: a page done again after
		// a worker died is not rejected twice.
		t.pending = append(t.pending, rj)
		return nil
	}
	if w := t.r.o.Rejects; w != nil {
		b, _ := json.Marshal(rj)
		if _, err := w.Write(append(b, '\n')); err != nil {
			return fmt.Errorf("writing rejects: %w", err)
		}
	}
	return nil
}

// readPages drives p: rec for every record, page with the link that
// re-reads the current page each time a new page begins (so every record
// of the pages before it has been passed to rec). It returns how many
// records were read and the delta link of a tracked read.
func readPages(p *dataverse.Pager, rec func(dataverse.Record) error, page func(link string) error) (int64, string, error) {
	defer p.Close()
	var n int64
	pages := 0
	for p.Next() {
		if k := p.Pages(); k != pages {
			if pages > 0 {
				if err := page(p.PageLink()); err != nil {
					return n, "", err
				}
			}
			pages = k
		}
		n++
		if err := rec(p.Record()); err != nil {
			return n, "", err
		}
	}
	if err := p.Err(); err != nil {
		return n, "", err
	}
	return n, p.DeltaLink(), nil
}

func (t *tableRun) tracked() error {
	switch t.cp.Phase {
	case "current":
		if t.cp.Mode != ModeChangeTracking {
			break
		}
		if reason := t.tokenTooOld(); reason != "" {
			return t.baseline(reason, "")
		}
		return t.delta(t.cp.Link, false)
	case "delta":
		return t.delta(t.cp.Link, true)
	case "baseline":
		return t.baseline(t.cp.Reason, t.cp.Link)
	}
	reason := "initial"
	if t.cp.Mode == ModeModifiedOn {
		reason = "change tracking was turned on for the table"
	}
	return t.baseline(reason, "")
}

// tokenTooOld says why the saved delta link is past the organisation's
// retention, or "" when it is not (or the retention is unknown).
func (t *tableRun) tokenTooOld() string {
	days := t.r.expiryDays(t.ctx)
	if days <= 0 {
		return ""
	}
	issued := t.cp.TokenAt
	if issued.IsZero() {
		issued = tokenTime(t.cp.Link)
	}
	if issued.IsZero() {
		return ""
	}
	if age := t.r.o.Now().Sub(issued); age > time.Duration(days)*24*time.Hour {
		return fmt.Sprintf("delta token is %s old, past the organisation's expirechangetrackingindays (%d days)", age.Round(time.Minute), days)
	}
	return ""
}

// tokenTime reads the issue time from a delta link's token,
// "<version>!<MM/dd/yyyy HH:mm:ss>" (use-change-tracking-…md).
func tokenTime(link string) time.Time {
	u, err := url.Parse(link)
	if err != nil {
		return time.Time{}
	}
	tok := u.Query().Get("$deltatoken")
	_, ts, ok := strings.Cut(tok, "!")
	if !ok {
		return time.Time{}
	}
	tm, err := time.Parse("01/02/2006 15:04:05", ts)
	if err != nil {
		return time.Time{}
	}
	return tm
}

// baseline reads every row (a tracked read without a token) in a new
// generation, upserting what differs, then deletes the rows it did not see.
// resume continues an interrupted baseline from its page link.
func (t *tableRun) baseline(reason, resume string) error {
	if reason != "initial" {
		t.sum.Rebaselined = true
		t.sum.RebaselineReason = reason
	}
	if resume == "" {
		empty, err := t.ap.Empty(t.ctx)
		if err != nil {
			return err
		}
		t.ap.Rollback()
		cp := Checkpoint{Mode: ModeChangeTracking, Phase: "baseline", Gen: t.cp.Gen + 1, Fresh: empty, Reason: reason}
		if err := t.save(cp); err != nil {
			return err
		}
	}
	gen := t.cp.Gen
	q := t.query()
	var p *dataverse.Pager
	if resume != "" {
		p = t.r.o.Client.ResumePager(t.ctx, resume, q, true)
	} else {
		p = t.r.o.Client.NewTrackPager(t.ctx, t.name, q)
	}
	n, delta, err := readPages(p, func(rec dataverse.Record) error { return t.apply(rec, gen) }, func(link string) error {
		t.progress("baseline")
		cp := t.cp
		cp.Link = link
		return t.save(cp)
	})
	if err != nil {
		if resume != "" && n == 0 && dataverse.IsBadRequest(err) && t.r.o.Client != nil {
			// The saved page link is no longer accepted: read again from
			// the start in a new generation; rows are matched by key, so
			// nothing is duplicated.
			return t.baseline(reason, "")
		}
		return err
	}
	if delta == "" {
		return fmt.Errorf("the tracked read of %s ended without @odata.deltaLink; is change tracking enabled for it?", t.name)
	}
	if err := t.ap.Sweep(gen); err != nil {
		return err
	}
	t.progress("baseline")
	return t.save(Checkpoint{Mode: ModeChangeTracking, Phase: "current", Link: delta, Gen: gen, TokenAt: t.r.o.Now().UTC()})
}

// delta reads the changes after a delta link, or resumes an interrupted
// change read at its page link (resumed), and applies them.
func (t *tableRun) delta(link string, resumed bool) error {
	gen := t.cp.Gen
	tokenAt := t.cp.TokenAt
	p := t.r.o.Client.ResumePager(t.ctx, link, t.query(), true)
	n, next, err := readPages(p, func(rec dataverse.Record) error { return t.apply(rec, gen) }, func(l string) error {
		t.progress("delta")
		return t.save(Checkpoint{Mode: ModeChangeTracking, Phase: "delta", Link: l, Gen: gen, TokenAt: tokenAt})
	})
	if err != nil {
		if n == 0 && dataverse.IsDeltaTokenExpired(err) {
			return t.baseline("delta token expired (ExpiredVersionStamp 0x80044352)", "")
		}
		if n == 0 && resumed && dataverse.IsBadRequest(err) {
			// The page link saved by an interrupted run is refused; the
			// changes it led to can only be recovered by a full read.
			return t.baseline("the page link saved by the interrupted run was refused: "+oneLine(err.Error()), "")
		}
		return err
	}
	if next == "" {
		return fmt.Errorf("the change read of %s ended without @odata.deltaLink", t.name)
	}
	t.progress("delta")
	return t.save(Checkpoint{Mode: ModeChangeTracking, Phase: "current", Link: next, Gen: gen, TokenAt: t.r.o.Now().UTC()})
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
