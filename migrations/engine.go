package migrations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Defaults of RunOptions.
const (
	DefaultBatchSize   = 100
	DefaultConcurrency = 4
	DefaultSampleSize  = 5
	// DefaultWarningSampleSize is the number of warnings a step's summary
	// keeps; the warnings file has them all.
	DefaultWarningSampleSize = 20
)

// RunOptions configure Run and Plan.
type RunOptions struct {
	// Store keeps checkpoints, the ID map and the journal. Required for
	// Run; optional for Plan, which then plans from the start and resolves
	// lookups only against what the plan itself would write.
	Store Store
	// BatchSize is the number of target records per Target.Write (default
	// DefaultBatchSize); a batch is also cut after BatchSize source records
	// so steps that skip most records still checkpoint.
	BatchSize int
	// Concurrency is the number of batches in flight per step (default
	// DefaultConcurrency). The Dataverse client's own limiter still caps
	// requests.
	Concurrency int
	// ParallelSteps is the number of steps that may run at the same time
	// when their dependencies allow (default 1: one step after another).
	ParallelSteps int
	// Restart forgets the checkpoints of the steps to run first, so their
	// sources are read from the start; the ID map is kept and re-written
	// records are updated, not duplicated.
	Restart bool
	// TargetProbed tells Run that its caller read back the samples of the
	// checkpoints it resumes from (ConfirmTarget with Probe) just before:
	// Run then checks only the target's identity. The coordinator of a
	// distributed run probes every unit's checkpoint once; each slice of
	// a unit on a worker would otherwise read them back again.
	TargetProbed bool
	// Steps limits the run to the named steps (their dependencies are
	// assumed done). Empty runs every step.
	Steps []string
	// Rejects receives one JSON line per rejected record (RejectLine).
	// Nil discards the lines; rejects are still counted and kept in Store.
	Rejects io.Writer
	// Warnings receives one JSON line per mapping warning (WarningLine).
	// Nil discards the lines; warnings are still counted (Counts.Warned)
	// and sampled in the summary.
	Warnings io.Writer
	// Skips receives one JSON line per skipped record (SkipLine), with
	// the reason the mapping gave. Nil discards the lines; skips are
	// still counted and grouped by reason in the summary (StepSummary.Skips).
	Skips io.Writer
	// Examples is the number of records each reason group of a summary
	// names (StepSummary.Skips and Rejects; default DefaultExamples,
	// negative names none).
	Examples int
	// WarningSampleSize is the number of warnings each step's summary
	// keeps, the first in source order (default DefaultWarningSampleSize;
	// negative keeps none).
	WarningSampleSize int
	// SampleSize is the number of target records Plan keeps per step
	// (default DefaultSampleSize; negative keeps none).
	SampleSize int
	// Progress is called after every committed batch and when a step
	// starts and ends, never concurrently. It must not block for long.
	Progress func(StepProgress)
	Logger   *slog.Logger
}

// StepProgress is a progress report for one step.
type StepProgress struct {
	Step   string
	Status Status
	Counts Counts
	// Total is the number of source records the step expects to read,
	// from a CountingSource; -1 when unknown.
	Total int64
}

// Estimate is a count a source gave ahead of the work (CountingSource);
// negative means the source could not say. An unknown Estimate is left
// out of JSON rather than written as -1.
type Estimate int64

// IsZero reports an unknown estimate, so `json:",omitzero"` omits it.
func (e Estimate) IsZero() bool { return e < 0 }

// CountingSource is a Source that can count the records Records would
// yield from a cursor, so progress bars know their total. The count is a
// hint (records may arrive or go meanwhile); the engine never relies on it.
type CountingSource interface {
	Source
	Count(ctx context.Context, cursor string) (int64, error)
}

// Summary is the result of a run or a plan.
type Summary struct {
	Job     string        `json:"job"`
	RunID   string        `json:"runId,omitempty"`
	DryRun  bool          `json:"dryRun"`
	Status  Status        `json:"status"`
	Error   string        `json:"error,omitempty"`
	Started time.Time     `json:"started"`
	Ended   time.Time     `json:"ended"`
	Steps   []StepSummary `json:"steps"`
}

// StepSummary is one step of a Summary. In a plan, the counts say what a
// run would do: created, updated and unchanged as the target's Planner
// foresees them, or, for a target that cannot tell without writing,
// Written for every record that would be written.
type StepSummary struct {
	Step   string `json:"step"`
	Status Status `json:"status"`
	// FromCursor is the checkpoint the step resumed from ("" from the start).
	FromCursor string `json:"fromCursor,omitempty"`
	// Total is the source's own count of the records to read (see
	// CountingSource); negative, and absent from JSON, when the source
	// cannot count.
	Total    Estimate               `json:"total,omitzero"`
	Counts   Counts                 `json:"counts"`
	Tables   map[string]TableCounts `json:"tables,omitempty"`
	Duration time.Duration          `json:"durationNs"`
	// Skips groups the step's skipped records by reason, largest group
	// first; their counts add up to Counts.Skipped and the skips file
	// (RunOptions.Skips) lists every one.
	Skips []ReasonGroup `json:"skips,omitempty"`
	// Rejects groups the step's rejected records by cause (see
	// RejectPattern); their counts add up to Counts.Rejected and the
	// rejects file lists every one with its full error.
	Rejects []ReasonGroup `json:"rejects,omitempty"`
	// Sample holds the first target records a plan would write.
	Sample []TargetRecord `json:"sample,omitempty"`
	// Warnings holds the first mapping warnings of the step (at most
	// RunOptions.WarningSampleSize; Counts.Warned has the number of all).
	Warnings []Warning `json:"warnings,omitempty"`
}

// Warning is one mapping warning in a summary.
type Warning struct {
	SourceID string `json:"sourceId"`
	Message  string `json:"message"`
}

// TableCounts count target records (not source records) per table.
type TableCounts struct {
	Records   int64 `json:"records"` // mapped to this table
	Created   int64 `json:"created"`
	Updated   int64 `json:"updated"`
	Written   int64 `json:"written"`
	Unchanged int64 `json:"unchanged"`
	Rejected  int64 `json:"rejected"`
}

// Total returns the counts of all steps together.
func (s *Summary) Total() Counts {
	var c Counts
	for _, st := range s.Steps {
		c.Add(st.Counts)
	}
	return c
}

// WriteJSON writes s as indented JSON (for --json output).
func (s *Summary) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(s)
}

// StepError wraps an error that stopped a step.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return fmt.Sprintf("step %s: %v", e.Step, e.Err) }
func (e *StepError) Unwrap() error { return e.Err }

// Plan runs job without writing anything, to the target or to the store:
// every step reads its source from its checkpoint and maps every record,
// and the summary holds the counts and a sample of the records a run would
// write.
func Plan(ctx context.Context, job *Job, o RunOptions) (*Summary, error) {
	return run(ctx, job, o, true)
}

// Run runs job: each step, in dependency order, streams its source from its
// last checkpoint, maps the records and writes them in concurrent batches,
// committing the checkpoint after each batch is durable in the target.
// Run stops at the first step error (the summary then holds the counts so
// far); running the job again resumes where it stopped.
func Run(ctx context.Context, job *Job, o RunOptions) (*Summary, error) {
	if o.Store == nil {
		return nil, errors.New("migrations: Run needs a Store")
	}
	return run(ctx, job, o, false)
}

func run(ctx context.Context, job *Job, o RunOptions, dry bool) (*Summary, error) {
	order, err := job.validate()
	if err != nil {
		return nil, err
	}
	if len(o.Steps) > 0 {
		want := map[string]bool{}
		for _, n := range o.Steps {
			want[n] = true
		}
		var sel []*Step
		for _, s := range order {
			if want[s.Name] {
				sel = append(sel, s)
				delete(want, s.Name)
			}
		}
		if len(want) > 0 {
			return nil, fmt.Errorf("migrations: job %s has no step %v", job.Name, slices.Sorted(maps.Keys(want)))
		}
		order = sel
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	sum := &Summary{Job: job.Name, DryRun: dry, Started: time.Now(), Status: StatusRunning}
	names := make([]string, len(order))
	for i, s := range order {
		names[i] = s.Name
		sum.Steps = append(sum.Steps, StepSummary{Step: s.Name, Status: StatusPending})
	}
	r := &runner{job: job, o: o, dry: dry, sum: sum, rejects: newLinesFile(o.Rejects, "rejects"), warnings: newLinesFile(o.Warnings, "warnings"),
		skips: newLinesFile(o.Skips, "skips")}
	// A state that belongs to another target must not drive this run:
	// its ID map would bind records to IDs the target does not hold.
	if err := ConfirmTarget(ctx, job, o.Store, ConfirmOptions{Probe: !o.TargetProbed, Record: !dry}); err != nil {
		return nil, err
	}
	if dry {
		r.plan = &planIDs{m: map[string][]Ref{}}
	} else {
		if o.Restart {
			if err := o.Store.ResetCheckpoints(ctx, job.Name, names...); err != nil {
				return nil, err
			}
		}
		if r.runID, err = o.Store.BeginRun(ctx, job.Name, names); err != nil {
			return nil, err
		}
		sum.RunID = r.runID
	}
	o.Logger.Info("job started", "job", job.Name, "run", r.runID, "dry_run", dry, "steps", len(order))
	err = r.schedule(ctx, order)
	sum.Ended = time.Now()
	switch {
	case err == nil:
		sum.Status = StatusSucceeded
	case ctx.Err() != nil:
		sum.Status = StatusCancelled
		sum.Error = err.Error()
	default:
		sum.Status = StatusFailed
		sum.Error = err.Error()
	}
	if !dry {
		// The journal is closed even when ctx is cancelled.
		ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if eerr := o.Store.EndRun(ectx, r.runID, sum.Status, sum.Error); eerr != nil && err == nil {
			err = eerr
		}
		cancel()
	}
	o.Logger.Info("job ended", "job", job.Name, "run", r.runID, "status", sum.Status, "duration", sum.Ended.Sub(sum.Started))
	return sum, err
}

type runner struct {
	job      *Job
	o        RunOptions
	dry      bool
	runID    string
	sum      *Summary
	plan     *planIDs // what a plan would have written
	rejects  *linesFile
	warnings *linesFile
	skips    *linesFile
	progMu   sync.Mutex
}

// schedule runs the steps of order (topologically sorted), starting each
// once the steps it depends on have succeeded, at most o.ParallelSteps at a
// time, preferring earlier steps. After a failure no new step starts; the
// running ones finish (saving their progress) and the first error is
// returned. Dependencies outside order (RunOptions.Steps) count as done.
func (r *runner) schedule(ctx context.Context, order []*Step) error {
	parallel := max(r.o.ParallelSteps, 1)
	inRun := map[string]bool{}
	for _, s := range order {
		inRun[s.Name] = true
	}
	succeeded := map[string]bool{}
	started := make([]bool, len(order))
	errs := make([]error, len(order))
	finished := make(chan int)
	running := 0
	var first error
	for {
		for i, s := range order {
			if first != nil || running >= parallel || ctx.Err() != nil {
				break
			}
			if started[i] {
				continue
			}
			ready := true
			for _, d := range s.DependsOn {
				if inRun[d] && !succeeded[d] {
					ready = false
					break
				}
			}
			if !ready {
				continue
			}
			started[i] = true
			running++
			go func() {
				errs[i] = r.step(ctx, s, &r.sum.Steps[i])
				finished <- i
			}()
		}
		if running == 0 {
			break
		}
		i := <-finished
		running--
		if errs[i] != nil {
			if first == nil {
				first = &StepError{Step: order[i].Name, Err: errs[i]}
			}
			continue
		}
		succeeded[order[i].Name] = true
	}
	if first == nil {
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return first
}

// item is one source record in a batch and the slice of the batch's target
// records it produced.
type item struct {
	rec   SourceRecord
	res   MapResult
	first int
}

type batch struct {
	seq     int
	items   []item
	targets []TargetRecord
	cursor  string // position after the batch's last record
	done    bool   // the last batch of a completely read source
}

func (r *runner) step(ctx context.Context, s *Step, ss *StepSummary) (err error) {
	log := r.o.Logger.With("job", r.job.Name, "step", s.Name)
	started := time.Now()
	ss.Status = StatusRunning
	ss.Tables = map[string]TableCounts{}
	size := firstPositive(s.BatchSize, r.o.BatchSize, DefaultBatchSize)
	conc := firstPositive(s.Concurrency, r.o.Concurrency, DefaultConcurrency)
	sample := r.o.SampleSize
	if sample == 0 {
		sample = DefaultSampleSize
	}
	warnSample := r.o.WarningSampleSize
	if warnSample == 0 {
		warnSample = DefaultWarningSampleSize
	}

	var cp Checkpoint
	// A plan with Restart reads from the start without resetting anything.
	if r.o.Store != nil && !(r.dry && r.o.Restart) {
		if cp, err = r.o.Store.Checkpoint(ctx, r.job.Name, s.Name); err != nil {
			return err
		}
	}
	ss.FromCursor = cp.Cursor
	ss.Total = -1
	if cs, ok := s.Source.(CountingSource); ok {
		n, err := cs.Count(ctx, cp.Cursor)
		if err != nil {
			return fmt.Errorf("count source records: %w", err)
		}
		ss.Total = Estimate(n)
	}
	if !r.dry {
		if err := r.o.Store.SetStepStatus(ctx, r.runID, s.Name, StatusRunning); err != nil {
			return err
		}
	}
	log.Info("step started", "from_cursor", cp.Cursor, "dry_run", r.dry)
	r.progress(ss)

	defer func() {
		ss.Duration = time.Since(started)
		if err == nil {
			// Every source record read must be accounted for exactly once.
			err = ss.Counts.Reconcile(s.Name)
		}
		switch {
		case err == nil:
			ss.Status = StatusSucceeded
		case ctx.Err() != nil:
			ss.Status = StatusCancelled
		default:
			ss.Status = StatusFailed
		}
		if !r.dry {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			if serr := r.o.Store.SetStepStatus(sctx, r.runID, s.Name, ss.Status); serr != nil && err == nil {
				err = serr
			}
			cancel()
		}
		r.progress(ss)
		c := ss.Counts
		log.Info("step ended", "status", ss.Status, "read", c.Read, "created", c.Created, "updated", c.Updated,
			"written", c.Written, "unchanged", c.Unchanged, "skipped", c.Skipped, "rejected", c.Rejected, "warned", c.Warned, "duration", ss.Duration)
	}()

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(conc)
	ids := &idLookup{store: r.o.Store, job: r.job.Name, ctx: gctx, plan: r.plan}
	examples := r.o.Examples
	if examples == 0 {
		examples = DefaultExamples
	}
	cm := &committer{r: r, s: s, ss: ss, log: log, sample: sample, warnSample: warnSample, pending: map[int]finished{},
		skips: newReasonTally(max(examples, 0)), rejected: newReasonTally(max(examples, 0))}
	dispatch := func(b *batch) {
		if r.dry {
			// Nothing to write, so no concurrency: plan batches in order,
			// asking the target what it would do when it can say.
			g.Go(func() error {
				var results []WriteResult
				if pl, ok := s.Target.(Planner); ok && len(b.targets) > 0 {
					var err error
					if results, err = pl.Plan(gctx, b.targets); err != nil {
						return fmt.Errorf("plan batch of %d records: %w", len(b.targets), err)
					}
					if len(results) != len(b.targets) {
						return fmt.Errorf("target planned %d results for %d records", len(results), len(b.targets))
					}
				}
				return cm.finish(gctx, b, results)
			})
			return
		}
		g.Go(func() error {
			var results []WriteResult
			if len(b.targets) > 0 {
				var err error
				if results, err = s.Target.Write(gctx, b.targets); err != nil {
					return fmt.Errorf("write batch of %d records: %w", len(b.targets), err)
				}
				if len(results) != len(b.targets) {
					return fmt.Errorf("target returned %d results for %d records", len(results), len(b.targets))
				}
			}
			// The batch is durable in the target: record it even if the
			// run is being cancelled, so a Ctrl-C keeps every finished batch.
			return cm.finish(context.WithoutCancel(gctx), b, results)
		})
	}

	readErr := func() error {
		cur := &batch{cursor: cp.Cursor}
		seq := 0
		for rec, err := range s.Source.Records(gctx, cp.Cursor) {
			if err != nil {
				return fmt.Errorf("read source: %w", err)
			}
			if gctx.Err() != nil {
				break
			}
			if rec.IsMarker() {
				cur.cursor = rec.Cursor
				continue
			}
			var res MapResult
			if rec.ID == "" {
				res = MapResult{Err: errors.New("source record has no ID"), Reason: ReasonMap}
			} else {
				res = mapRecord(s, rec, ids)
				if err := ids.takeErr(); err != nil {
					return err
				}
			}
			cur.items = append(cur.items, item{rec: rec, res: res, first: len(cur.targets)})
			if res.Err == nil && res.SkipReason == "" {
				cur.targets = append(cur.targets, res.Records...)
			}
			if rec.Cursor != "" {
				cur.cursor = rec.Cursor
			}
			if len(cur.targets) >= size || len(cur.items) >= size {
				cur.seq = seq
				seq++
				dispatch(cur)
				cur = &batch{cursor: cur.cursor}
			}
		}
		if err := gctx.Err(); err != nil {
			return err
		}
		cur.seq, cur.done = seq, true
		dispatch(cur)
		return nil
	}()
	werr := g.Wait()
	switch {
	case werr != nil && !errors.Is(werr, context.Canceled):
		return werr
	case readErr != nil:
		return readErr
	case werr != nil:
		return werr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !cm.sawDone {
		return errors.New("internal error: the last batch was not committed")
	}
	return nil
}

// mapRecord calls the step's MapFunc, turning a panic into a reject so one
// malformed record cannot stop a migration.
func mapRecord(s *Step, rec SourceRecord, ids IDs) (res MapResult) {
	defer func() {
		if p := recover(); p != nil {
			res = MapResult{Err: fmt.Errorf("mapping panicked: %v", p), Reason: ReasonMap}
		}
	}()
	res = s.Map(rec, ids)
	switch {
	case res.Err != nil:
		if res.Reason == "" {
			res.Reason = ReasonMap
		}
	case res.SkipReason != "":
	case len(res.Records) == 0:
		res = MapResult{Err: errors.New("mapping returned no records and no skip reason"), Reason: ReasonEmpty, Warnings: res.Warnings}
	default:
		for _, t := range res.Records {
			if t.Table == "" || t.Key.IsZero() {
				return MapResult{Err: fmt.Errorf("mapping returned a record without table or key (table %q)", t.Table), Reason: ReasonMap, Warnings: res.Warnings}
			}
		}
	}
	return res
}

func (r *runner) progress(ss *StepSummary) {
	if r.o.Progress != nil {
		r.progMu.Lock()
		defer r.progMu.Unlock()
		r.o.Progress(StepProgress{Step: ss.Step, Status: ss.Status, Counts: ss.Counts, Total: int64(ss.Total)})
	}
}

func firstPositive(vals ...int) int {
	for _, v := range vals {
		if v > 0 {
			return v
		}
	}
	return 0
}

type finished struct {
	b       *batch
	results []WriteResult
}

// committer applies finished batches in source order, so the committed
// cursor never passes a batch that is not yet durable.
type committer struct {
	r      *runner
	s      *Step
	ss     *StepSummary
	log    *slog.Logger
	sample int
	// warnSample bounds ss.Warnings.
	warnSample int
	mu         sync.Mutex
	next       int
	pending    map[int]finished
	sawDone    bool

	// skips and rejected group the step's skips and rejects by reason
	// for ss.Skips and ss.Rejects.
	skips, rejected *reasonTally
}

func (c *committer) finish(ctx context.Context, b *batch, results []WriteResult) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending[b.seq] = finished{b, results}
	for {
		f, ok := c.pending[c.next]
		if !ok {
			return nil
		}
		delete(c.pending, c.next)
		if err := c.apply(ctx, f.b, f.results); err != nil {
			return err
		}
		c.next++
	}
}

func (c *committer) apply(ctx context.Context, b *batch, results []WriteResult) error {
	r, s, ss := c.r, c.s, c.ss
	cm := Commit{Job: r.job.Name, Step: s.Name, RunID: r.runID, Cursor: b.cursor, Done: b.done}
	tables := map[string]TableCounts{}
	var overlay map[string][]Ref
	if r.dry {
		overlay = map[string][]Ref{}
	}
	for _, it := range b.items {
		cm.Counts.Read++
		if err := c.warn(&cm, it); err != nil {
			return err
		}
		switch {
		case it.res.SkipReason != "":
			cm.Counts.Skipped++
			// A record skipped now is no longer a reject.
			cm.Cleared = append(cm.Cleared, it.rec.ID)
			if err := c.skip(&cm, it); err != nil {
				return err
			}
			continue
		case it.res.Err != nil:
			cm.Counts.Rejected++
			rj := RejectLine{Time: time.Now().UTC(), RunID: r.runID, Job: r.job.Name, Step: s.Name, SourceID: it.rec.ID,
				Reason: it.res.Reason, Error: it.res.Err.Error(), Source: it.rec.Data}
			if err := c.reject(&cm, rj); err != nil {
				return err
			}
			continue
		}
		recs := b.targets[it.first : it.first+len(it.res.Records)]
		if r.dry {
			for i, t := range recs {
				overlay[it.rec.ID] = append(overlay[it.rec.ID], Ref{Table: t.Table, Key: t.Key.String(), ID: t.Key.ID})
				if len(ss.Sample) < c.sample {
					ss.Sample = append(ss.Sample, recs[i])
				}
			}
		}
		if r.dry && results == nil {
			cm.Counts.Written++
			for _, t := range recs {
				tc := tables[t.Table]
				tc.Records++
				tc.Written++
				tables[t.Table] = tc
			}
			continue
		}
		res := results[it.first : it.first+len(recs)]
		var created, written, unchanged int
		var rejErr []error
		for i, t := range recs {
			tc := tables[t.Table]
			tc.Records++
			w := res[i]
			switch w.Outcome {
			case Created:
				tc.Created++
				created++
			case Updated:
				tc.Updated++
			case Written:
				tc.Written++
				written++
			case Unchanged:
				tc.Unchanged++
				unchanged++
			case Rejected:
				tc.Rejected++
				if w.Err == nil {
					w.Err = errors.New("rejected by the target")
				}
				rejErr = append(rejErr, fmt.Errorf("%s %s: %w", t.Table, t.Key, w.Err))
			default:
				return fmt.Errorf("target returned unknown outcome %q for %s %s", w.Outcome, t.Table, t.Key)
			}
			tables[t.Table] = tc
			if w.Outcome != Rejected {
				id := w.ID
				if id == "" {
					id = t.Key.ID
				}
				cm.IDs = append(cm.IDs, IDEntry{SourceID: it.rec.ID, Seq: i, Ref: Ref{Table: t.Table, Key: t.Key.String(), ID: id}})
			}
		}
		switch {
		case len(rejErr) > 0:
			cm.Counts.Rejected++
			rj := RejectLine{Time: time.Now().UTC(), RunID: r.runID, Job: r.job.Name, Step: s.Name, SourceID: it.rec.ID,
				Reason: ReasonWrite, Error: errors.Join(rejErr...).Error(), Source: it.rec.Data, Target: recs}
			if err := c.reject(&cm, rj); err != nil {
				return err
			}
		case created > 0:
			cm.Counts.Created++
			cm.Cleared = append(cm.Cleared, it.rec.ID)
		case unchanged == len(recs):
			cm.Counts.Unchanged++
			cm.Cleared = append(cm.Cleared, it.rec.ID)
		case written > 0:
			cm.Counts.Written++
			cm.Cleared = append(cm.Cleared, it.rec.ID)
		default:
			cm.Counts.Updated++
			cm.Cleared = append(cm.Cleared, it.rec.ID)
		}
	}
	if r.dry {
		r.plan.add(s.Name, overlay)
	} else if err := r.o.Store.Commit(ctx, cm); err != nil {
		return err
	}
	ss.Counts.Add(cm.Counts)
	for t, n := range tables {
		tc := ss.Tables[t]
		tc.Records += n.Records
		tc.Created += n.Created
		tc.Updated += n.Updated
		tc.Written += n.Written
		tc.Unchanged += n.Unchanged
		tc.Rejected += n.Rejected
		ss.Tables[t] = tc
	}
	if cm.Counts.Skipped > 0 {
		ss.Skips = c.skips.sorted()
	}
	if cm.Counts.Rejected > 0 {
		ss.Rejects = c.rejected.sorted()
	}
	if b.done {
		c.sawDone = true
	}
	c.log.Debug("batch committed", "seq", b.seq, "records", len(b.targets), "cursor", b.cursor, "done", b.done)
	r.progress(ss)
	return nil
}

// warn records the warnings of one record, whatever its outcome: the
// fallback was taken by the mapping even when the target then refused the
// record, and a later run that writes it reports the warning again.
func (c *committer) warn(cm *Commit, it item) error {
	if len(it.res.Warnings) == 0 {
		return nil
	}
	r := c.r
	at := time.Now().UTC()
	for _, msg := range it.res.Warnings {
		cm.Counts.Warned++
		c.log.Debug("mapping warning", "source_id", it.rec.ID, "warning", msg)
		if c.warnSample > 0 && len(c.ss.Warnings) < c.warnSample {
			c.ss.Warnings = append(c.ss.Warnings, Warning{SourceID: it.rec.ID, Message: msg})
		}
		if err := r.warnings.write(WarningLine{Time: at, RunID: r.runID, Job: r.job.Name, Step: c.s.Name, SourceID: it.rec.ID, Message: msg}); err != nil {
			return err
		}
	}
	return nil
}

// reject records one rejected source record: in the batch's commit, in
// the step's reject groups (by RejectPattern, as verify groups them) and
// in the rejects file.
func (c *committer) reject(cm *Commit, l RejectLine) error {
	c.log.Debug("record rejected", "source_id", l.SourceID, "reason", l.Reason, "error", l.Error)
	cm.Rejects = append(cm.Rejects, RejectState{SourceID: l.SourceID, Reason: l.Reason, Error: l.Error})
	c.rejected.add(RejectPattern(l.Error), l.SourceID, l.Error)
	return c.r.rejects.write(l)
}

// skip records one skipped source record: in the batch's commit (so the
// store's skips and Counts.Skipped move together), in the step's skip
// groups and, with its reason, in the skips file.
func (c *committer) skip(cm *Commit, it item) error {
	cm.Skips = append(cm.Skips, SkipState{SourceID: it.rec.ID, RunID: c.r.runID, Reason: it.res.SkipReason})
	c.skips.add(it.res.SkipReason, it.rec.ID, "")
	return c.r.skips.write(SkipLine{Time: time.Now().UTC(), RunID: c.r.runID, Job: c.r.job.Name, Step: c.s.Name,
		SourceID: it.rec.ID, Reason: it.res.SkipReason, Source: it.rec.Data})
}

// idLookup implements IDs over the store, plus, in a plan, the records the
// plan itself would have written. A store error is kept and turned into a
// step error by the engine right after the MapFunc returns, so mappings
// stay simple and a broken store never looks like a rejected record.
type idLookup struct {
	store Store
	job   string
	ctx   context.Context
	plan  *planIDs
	mu    sync.Mutex
	err   error
}

// planIDs are the records a plan would have written, by step and source ID.
type planIDs struct {
	mu sync.Mutex
	m  map[string][]Ref // step + "\x00" + source ID
}

func (p *planIDs) get(step, sourceID string) ([]Ref, bool) {
	if p == nil {
		return nil, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	refs, ok := p.m[step+"\x00"+sourceID]
	return slices.Clone(refs), ok
}

func (p *planIDs) add(step string, m map[string][]Ref) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, refs := range m {
		p.m[step+"\x00"+id] = refs
	}
}

func (l *idLookup) Lookup(step, sourceID string) (Ref, bool) {
	refs := l.LookupAll(step, sourceID)
	if len(refs) == 0 {
		return Ref{}, false
	}
	return refs[0], true
}

func (l *idLookup) LookupAll(step, sourceID string) []Ref {
	if refs, ok := l.plan.get(step, sourceID); ok {
		return refs
	}
	if l.store == nil {
		return nil
	}
	refs, err := l.store.LookupIDs(l.ctx, l.job, step, sourceID)
	if err != nil {
		l.mu.Lock()
		if l.err == nil {
			l.err = err
		}
		l.mu.Unlock()
		return nil
	}
	return refs
}

func (l *idLookup) takeErr() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	err := l.err
	l.err = nil
	return err
}
