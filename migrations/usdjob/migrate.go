package usdjob

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse/sink"
	"github.com/dvsync/dvsync/mapping/workspace"
	"github.com/dvsync/dvsync/migrations"
)

// Result is what a migration did or, in a dry run, would do: the engine's
// summary (steps, counts, warnings), what the target did with each
// record, every reject with its error, and after a run the engine's
// verification.
type Result struct {
	*migrations.Summary
	Addressing Addressing      `json:"addressing"`
	Keyless    []string        `json:"keylessTables,omitempty"`
	Duplicates []workspace.Ref `json:"duplicates,omitempty"`
	// Records lists what the target did (or, in a dry run, would do) with
	// each record it was given, in table order then by unique name.
	Records []RecordOutcome `json:"records"`
	// Rejects lists the records rejected by this run or plan, with why.
	Rejects      []migrations.RejectLine `json:"rejects,omitempty"`
	Verification *migrations.Report      `json:"verification,omitempty"`
}

// RecordOutcome is what the target did with one record.
type RecordOutcome struct {
	Table      string             `json:"table"`
	UniqueName string             `json:"uniqueName"`
	Name       string             `json:"name,omitempty"`
	Outcome    migrations.Outcome `json:"outcome"`
	ID         string             `json:"id,omitempty"`
	// Links is the number of N:N links the record carries.
	Links int    `json:"links,omitempty"`
	Error string `json:"error,omitempty"`
}

// OK reports a run that finished, rejected nothing, and whose
// verification found every record as written and nothing rejected.
func (r *Result) OK() bool {
	if r.Summary == nil || r.Status != migrations.StatusSucceeded || r.Total().Rejected > 0 {
		return false
	}
	if r.DryRun {
		return true
	}
	v := r.Verification
	return v != nil && v.OK && v.TotalRejected() == 0
}

// Migrate prepares the job and runs it (or, with DryRun, plans it); see
// Prepared.Migrate.
func Migrate(ctx context.Context, cfg Config) (*Result, error) {
	p, err := Prepare(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return p.Migrate(ctx, cfg.Store)
}

// Migrate runs the job with store, then verifies it; with DryRun it plans
// instead, asking the sink what each write would do, and touches neither
// the environment nor any store (store is ignored).
//
// A run whose predecessor did not finish resumes from its checkpoints; a
// run after a finished one reads the translation from the start, since
// any record of a configuration may have changed (records still as they
// are come out unchanged, with no write). The Result is returned with an
// error too, holding what was done before the run stopped.
func (p *Prepared) Migrate(ctx context.Context, store migrations.Store) (*Result, error) {
	cfg := p.cfg
	rejects := &rejectLines{w: cfg.Rejects}
	// Steps whose dependencies are written run side by side: a USD
	// configuration is a few hundred records in nine small steps, so the
	// time goes in round trips, and the dependency graph is three deep.
	o := migrations.RunOptions{BatchSize: cfg.BatchSize, Concurrency: cfg.Concurrency, ParallelSteps: cfg.readers(),
		Rejects: rejects, Warnings: cfg.Warnings, Progress: cfg.Progress, Logger: cfg.Logger}
	if cfg.DryRun {
		sum, err := migrations.Plan(ctx, p.Job, o)
		return p.result(sum, rejects), err
	}
	if store == nil {
		return nil, errors.New("usdjob: a run needs a Store (a dry run goes without)")
	}
	if cfg.Fresh {
		if err := store.Clear(ctx, p.Job.Name); err != nil {
			return nil, err
		}
	}
	restart, err := finished(ctx, store, p.Job.Name)
	if err != nil {
		return nil, err
	}
	o.Store, o.Restart = store, restart
	sum, err := migrations.Run(ctx, p.Job, o)
	res := p.result(sum, rejects)
	if err != nil {
		return res, err
	}
	res.Verification, err = p.Verify(ctx, store)
	return res, err
}

// finished reports whether the job's last run finished (or there was
// none), so the next one starts from the beginning.
func finished(ctx context.Context, store migrations.Store, job string) (bool, error) {
	runs, err := store.Runs(ctx, job)
	if err != nil || len(runs) == 0 {
		return true, err
	}
	return runs[len(runs)-1].Status == migrations.StatusSucceeded, nil
}

// Verify is the engine's verify of the job: every translated record read
// back by its unique name (so a second record holding it shows as
// duplicated) and compared by the sink, lookups, state and links
// included. The store supplies the ID map and the recorded rejects.
func (p *Prepared) Verify(ctx context.Context, store migrations.Store) (*migrations.Report, error) {
	return migrations.Verify(ctx, p.Job, migrations.VerifyOptions{Target: byName{s: p.Sink, book: p.book}, Store: store,
		Compare: p.Sink.Compare, Concurrency: p.cfg.readers(), Progress: p.cfg.VerifyProgress, Logger: p.cfg.Logger})
}

func (p *Prepared) result(sum *migrations.Summary, rejects *rejectLines) *Result {
	if sum == nil {
		return nil
	}
	return &Result{Summary: sum, Addressing: p.Addressing, Keyless: p.Keyless, Duplicates: p.Duplicates,
		Records: p.target.outcomes(), Rejects: rejects.all()}
}

// byName reads translated records back by their unique names alone, not
// by the keys they were written with, so that verify sees every record
// holding a name; a batch at a time, with one In filter per table.
type byName struct {
	s    *sink.Sink
	book *addressBook
}

var _ migrations.BatchReader = byName{}

func (b byName) key(table string, k migrations.Key) migrations.Key {
	if ref, ok := b.book.ref(table, k); ok {
		return migrations.Key{Alternate: map[string]any{workspace.KeyColumn(table): ref.UniqueName}}
	}
	return k
}

func (b byName) Lookup(ctx context.Context, table string, k migrations.Key) ([]map[string]any, error) {
	return b.s.Lookup(ctx, table, b.key(table, k))
}

func (b byName) LookupBatch(ctx context.Context, table string, keys []migrations.Key) ([][]map[string]any, error) {
	named := make([]migrations.Key, len(keys))
	for i, k := range keys {
		named[i] = b.key(table, k)
	}
	return b.s.LookupBatch(ctx, table, named)
}

// recorder is the job's target: the sink, noting what it did (or would
// do) with each record for the Result. Everything else a target may offer
// the engine (naming the environment a state belongs to, probing the
// records a checkpoint wrote) is the sink's own.
type recorder struct {
	*sink.Sink
	book *addressBook
	mu   sync.Mutex
	out  []RecordOutcome
}

var (
	_ migrations.Planner      = (*recorder)(nil)
	_ migrations.TargetProber = (*recorder)(nil)
)

// Write writes through the sink. An upsert that Dataverse answers with
// 204 No Content does not say whether it created or updated the record
// (use-upsert-insert-update-record.md); the job read which records exist
// before it started, so a record it did not find was created.
func (r *recorder) Write(ctx context.Context, batch []migrations.TargetRecord) ([]migrations.WriteResult, error) {
	res, err := r.Sink.Write(ctx, batch)
	if err != nil {
		return res, err
	}
	for i, t := range batch {
		if i < len(res) && res[i].Outcome == migrations.Written {
			res[i].Outcome = migrations.Created
			if ref, ok := r.book.ref(t.Table, t.Key); ok && r.book.found[ref] != uuid.Nil {
				res[i].Outcome = migrations.Updated
			}
		}
	}
	r.note(batch, res)
	return res, nil
}

// Holds implements migrations.TargetProber, the engine's check before a
// run (or plan) that the environment still holds records its state says
// were written. The address book read every translated record by unique
// name, with its ID, from this environment before the job started, and
// before anything was written; a record it found with the ID the state
// names is held, with no read of its own. The others are read by the sink
// (one In query per table), so in a reset or another environment, where
// the book found none of the state's records, they are read there, found
// missing, and the run is refused before it writes. A re-run of an
// unchanged configuration sends no probe at all (9 requests fewer for
// contoso).
func (r *recorder) Holds(ctx context.Context, refs []migrations.Ref) ([]bool, error) {
	held := make([]bool, len(refs))
	var rest []migrations.Ref
	var at []int
	for i, ref := range refs {
		if r.book.holds(ref.Table, ref.ID) {
			held[i] = true
			continue
		}
		rest = append(rest, ref)
		at = append(at, i)
	}
	if len(rest) == 0 {
		return held, nil
	}
	got, err := r.Sink.Holds(ctx, rest)
	if err != nil {
		return nil, err
	}
	if len(got) != len(rest) {
		return nil, fmt.Errorf("usdjob: the sink answered for %d records of %d", len(got), len(rest))
	}
	for k, i := range at {
		held[i] = got[k]
	}
	return held, nil
}

func (r *recorder) Plan(ctx context.Context, batch []migrations.TargetRecord) ([]migrations.WriteResult, error) {
	res, err := r.Sink.Plan(ctx, batch)
	if err == nil {
		r.note(batch, res)
	}
	return res, err
}

func (r *recorder) note(batch []migrations.TargetRecord, res []migrations.WriteResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, t := range batch {
		if i >= len(res) {
			break
		}
		o := RecordOutcome{Table: t.Table, Outcome: res[i].Outcome, ID: res[i].ID, Links: len(t.Links)}
		o.UniqueName, _ = t.Fields[workspace.KeyColumn(t.Table)].(string)
		for _, col := range []string{"msdyn_name", "name"} {
			if s, ok := t.Fields[col].(string); ok {
				o.Name = s
				break
			}
		}
		if o.ID == "" {
			o.ID = t.Key.ID
		}
		if res[i].Err != nil {
			o.Error = res[i].Err.Error()
		}
		r.out = append(r.out, o)
	}
}

func (r *recorder) outcomes() []RecordOutcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	rank := map[string]int{}
	for i, t := range workspace.TableOrder {
		rank[t] = i
	}
	out := slices.Clone(r.out)
	slices.SortStableFunc(out, func(a, b RecordOutcome) int {
		if rank[a.Table] != rank[b.Table] {
			return rank[a.Table] - rank[b.Table]
		}
		return strings.Compare(a.UniqueName, b.UniqueName)
	})
	return out
}

// rejectLines keeps the engine's reject lines for the Result and passes
// them on to w. The engine writes whole lines, one per Write, but a line
// split across writes is put back together all the same.
type rejectLines struct {
	w     io.Writer
	mu    sync.Mutex
	buf   []byte
	lines []migrations.RejectLine
}

func (r *rejectLines) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf = append(r.buf, p...)
	for {
		i := bytes.IndexByte(r.buf, '\n')
		if i < 0 {
			break
		}
		var l migrations.RejectLine
		if err := json.Unmarshal(r.buf[:i], &l); err == nil {
			r.lines = append(r.lines, l)
		}
		r.buf = r.buf[i+1:]
	}
	if r.w == nil {
		return len(p), nil
	}
	return r.w.Write(p)
}

func (r *rejectLines) all() []migrations.RejectLine {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lines)
}
