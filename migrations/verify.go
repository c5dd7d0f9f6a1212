package migrations

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/dvsync/dvsync/dataverse"
)

// TargetReader reads target records back for Verify.
type TargetReader interface {
	// Lookup returns every record of table that key addresses: none when
	// it is missing, more than one when it is duplicated (possible for a
	// key the target does not enforce as unique).
	Lookup(ctx context.Context, table string, key Key) ([]map[string]any, error)
}

// TableCounter is implemented by a TargetReader that can count the records
// of a table; Verify then reports, for full (unsampled) checks, how many
// records of the table it did not expect.
type TableCounter interface {
	Count(ctx context.Context, table string) (int64, error)
}

// CompareFunc compares the record a mapping expects with the one found in
// the target and returns the fields that differ. It may read the target
// (to resolve a reference), within ctx.
type CompareFunc func(ctx context.Context, expected TargetRecord, actual map[string]any) []FieldDiff

// FieldDiff is one differing field.
type FieldDiff struct {
	Field    string `json:"field"`
	Expected any    `json:"expected"`
	Actual   any    `json:"actual"`
}

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// Target reads the target back; required.
	Target TargetReader
	// Store supplies the ID map the mappings look up (so expected records
	// carry the IDs the run wrote) and the rejects recorded by the runs:
	// a missing record whose source record is a recorded reject is counted
	// as rejected, not lost. Without a store every lookup fails.
	Store Store
	// Compare compares fields; default DefaultCompare.
	Compare CompareFunc
	// Sample, when positive, checks a seeded random sample of that many
	// source records per step instead of every record. Counts still cover
	// every source record.
	Sample int
	Seed   uint64
	// Steps limits verification to the named steps.
	Steps []string
	// Concurrency is the number of target lookups in flight (default 8).
	Concurrency int
	// MaxMismatches caps the mismatches listed per step (default 100);
	// the counts always cover all of them.
	MaxMismatches int
	Logger        *slog.Logger
	// Progress is called after every checked record with the step's
	// report so far, never concurrently.
	Progress func(step string, checked int64)
}

// Report is the result of Verify: JSON-serialisable, and rendered by
// WriteJSON and WriteHTML.
type Report struct {
	Job     string    `json:"job"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended"`
	Sample  int       `json:"sample,omitempty"`
	Seed    uint64    `json:"seed,omitempty"`
	// OK is true when nothing differs; rejected records (Rejected) are
	// reported beside it and are never shown as OK.
	OK bool `json:"ok"`
	// Rejected counts the rejects of every step and table, the same way
	// the per-step and per-table counts do (TotalRejected).
	Rejected int64        `json:"rejected"`
	Steps    []StepReport `json:"steps"`
}

// Mismatches returns the total number of mismatches.
func (r *Report) Mismatches() int64 {
	var n int64
	for _, s := range r.Steps {
		n += s.mismatchCount()
	}
	return n
}

// StepReport verifies one step. Source records reconcile:
// SourceRead = Expected + Skipped + Rejected, where Expected counts the
// source records whose mapping produced target records; target records of
// the checked ones are Found (and then Differing or not), Missing or
// Duplicated.
type StepReport struct {
	Step       string `json:"step"`
	SourceRead int64  `json:"source_read"`
	Skipped    int64  `json:"skipped"`
	// Rejected are source records the mapping rejects or whose target
	// records are missing, recorded as rejects by a run.
	Rejected int64 `json:"rejected"`
	// Unrecorded are source records the mapping rejects now but no run
	// recorded as rejected (the source changed, or the run is incomplete).
	Unrecorded int64 `json:"unrecorded"`
	Expected   int64 `json:"expected"`
	// Checked source records (all of Expected unless sampled).
	Checked    int64                   `json:"checked"`
	Sampled    bool                    `json:"sampled"`
	Tables     map[string]*TableReport `json:"tables"`
	Mismatches []Mismatch              `json:"mismatches,omitempty"`
	// MismatchesOmitted counts mismatches beyond MaxMismatches.
	MismatchesOmitted int64 `json:"mismatches_omitted,omitempty"`
}

func (s StepReport) mismatchCount() int64 {
	n := s.Unrecorded
	for _, t := range s.Tables {
		n += t.Missing + t.Duplicated + t.Differing
	}
	return n
}

// TableReport counts target records of one table.
type TableReport struct {
	Expected   int64 `json:"expected"` // mapped, over all source records
	Checked    int64 `json:"checked"`
	Found      int64 `json:"found"`
	Missing    int64 `json:"missing"`
	Rejected   int64 `json:"rejected"` // missing, but their source record is a recorded reject
	Duplicated int64 `json:"duplicated"`
	Differing  int64 `json:"differing"`
	// TargetCount is the table's record count when the reader can count;
	// Unexpected is TargetCount minus the expected records found, when
	// every record was checked. It is information, not a mismatch: the
	// table may hold records that were there before the migration.
	TargetCount *int64 `json:"target_count,omitempty"`
	Unexpected  int64  `json:"unexpected,omitempty"`
}

// Mismatch kinds.
const (
	MismatchMissing    = "missing"
	MismatchDuplicated = "duplicated"
	MismatchDiffering  = "differing"
	MismatchUnrecorded = "unrecorded-reject"
)

// Mismatch is one record that does not match.
type Mismatch struct {
	Kind     string      `json:"kind"`
	SourceID string      `json:"source_id"`
	Table    string      `json:"table,omitempty"`
	Key      string      `json:"key,omitempty"`
	Found    int         `json:"found,omitempty"` // for duplicates
	Fields   []FieldDiff `json:"fields,omitempty"`
	Error    string      `json:"error,omitempty"`
}

// Verify reconciles the source and the target of every step of job: it
// reads each source in full, maps every record as a run would (with the
// IDs the runs recorded), and looks up the expected target records (all,
// or a seeded sample of o.Sample source records per step) to report
// missing, duplicated and differing ones. Report.OK is false on any
// mismatch.
func Verify(ctx context.Context, job *Job, o VerifyOptions) (*Report, error) {
	order, err := job.validate()
	if err != nil {
		return nil, err
	}
	if o.Target == nil {
		return nil, errors.New("migrations: Verify needs a TargetReader")
	}
	if o.Compare == nil {
		o.Compare = func(_ context.Context, e TargetRecord, a map[string]any) []FieldDiff { return DefaultCompare(e, a) }
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.MaxMismatches <= 0 {
		o.MaxMismatches = 100
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	want := map[string]bool{}
	for _, n := range o.Steps {
		want[n] = true
	}
	rep := &Report{Job: job.Name, Started: time.Now(), Sample: max(o.Sample, 0), Seed: o.Seed}
	for _, s := range order {
		if len(want) > 0 && !want[s.Name] {
			continue
		}
		delete(want, s.Name)
		sr, err := verifyStep(ctx, job, s, o)
		if err != nil {
			return nil, &StepError{Step: s.Name, Err: err}
		}
		rep.Steps = append(rep.Steps, *sr)
	}
	if len(want) > 0 {
		return nil, fmt.Errorf("migrations: job %s has no step %v", job.Name, slices.Sorted(maps.Keys(want)))
	}
	rep.Ended = time.Now()
	rep.OK = rep.Mismatches() == 0
	rep.Rejected = rep.TotalRejected()
	return rep, nil
}

type verifyItem struct {
	rec  SourceRecord
	recs []TargetRecord
}

func verifyStep(ctx context.Context, job *Job, s *Step, o VerifyOptions) (*StepReport, error) {
	sr := &StepReport{Step: s.Name, Tables: map[string]*TableReport{}, Sampled: o.Sample > 0}
	rejected := map[string]bool{}
	if o.Store != nil {
		for r, err := range o.Store.Rejects(ctx, job.Name, s.Name) {
			if err != nil {
				return nil, err
			}
			rejected[r.SourceID] = true
		}
	}
	ids := &idLookup{store: o.Store, job: job.Name, ctx: ctx}
	table := func(name string) *TableReport {
		t := sr.Tables[name]
		if t == nil {
			t = &TableReport{}
			sr.Tables[name] = t
		}
		return t
	}
	var mu sync.Mutex // guards sr from the checking goroutines
	addMismatch := func(m Mismatch) {
		if len(sr.Mismatches) < o.MaxMismatches {
			sr.Mismatches = append(sr.Mismatches, m)
		} else {
			sr.MismatchesOmitted++
		}
	}
	check := func(ctx context.Context, it verifyItem) error {
		type found struct {
			rows []map[string]any
		}
		got := make([]found, len(it.recs))
		for i, t := range it.recs {
			rows, err := o.Target.Lookup(ctx, t.Table, t.Key)
			if err != nil {
				return fmt.Errorf("look up %s %s: %w", t.Table, t.Key, err)
			}
			got[i] = found{rows}
		}
		mu.Lock()
		defer mu.Unlock()
		sr.Checked++
		for i, t := range it.recs {
			tr := table(t.Table)
			tr.Checked++
			rows := got[i].rows
			switch {
			case len(rows) == 0 && rejected[it.rec.ID]:
				tr.Rejected++
			case len(rows) == 0:
				tr.Missing++
				addMismatch(Mismatch{Kind: MismatchMissing, SourceID: it.rec.ID, Table: t.Table, Key: t.Key.String()})
			case len(rows) > 1:
				tr.Found++
				tr.Duplicated++
				addMismatch(Mismatch{Kind: MismatchDuplicated, SourceID: it.rec.ID, Table: t.Table, Key: t.Key.String(), Found: len(rows)})
			default:
				tr.Found++
				if diffs := o.Compare(ctx, t, rows[0]); len(diffs) > 0 {
					tr.Differing++
					addMismatch(Mismatch{Kind: MismatchDiffering, SourceID: it.rec.ID, Table: t.Table, Key: t.Key.String(), Fields: diffs})
				}
			}
		}
		if o.Progress != nil {
			o.Progress(s.Name, sr.Checked)
		}
		return nil
	}

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.Concurrency)
	var reservoir []verifyItem
	rng := rand.New(rand.NewPCG(o.Seed, hashString(s.Name)))
	readErr := func() error {
		for rec, err := range s.Source.Records(gctx, "") {
			if err != nil {
				return fmt.Errorf("read source: %w", err)
			}
			if rec.IsMarker() {
				continue
			}
			res := mapRecord(s, rec, ids)
			if err := ids.takeErr(); err != nil {
				return err
			}
			mu.Lock()
			sr.SourceRead++
			switch {
			case res.SkipReason != "":
				sr.Skipped++
				mu.Unlock()
				continue
			case res.Err != nil:
				if rejected[rec.ID] {
					sr.Rejected++
				} else {
					sr.Unrecorded++
					addMismatch(Mismatch{Kind: MismatchUnrecorded, SourceID: rec.ID, Error: res.Err.Error()})
				}
				mu.Unlock()
				continue
			}
			sr.Expected++
			for _, t := range res.Records {
				table(t.Table).Expected++
			}
			mu.Unlock()
			it := verifyItem{rec: rec, recs: res.Records}
			if o.Sample <= 0 {
				g.Go(func() error { return check(gctx, it) })
				continue
			}
			// Reservoir sampling (Algorithm R): a uniform sample of the
			// stream, fixed by the seed and the source order.
			if n := sr.Expected; len(reservoir) < o.Sample {
				reservoir = append(reservoir, it)
			} else if j := rng.Int64N(n); j < int64(o.Sample) {
				reservoir[j] = it
			}
		}
		return gctx.Err()
	}()
	for _, it := range reservoir {
		if readErr != nil {
			break
		}
		g.Go(func() error { return check(gctx, it) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if readErr != nil {
		return nil, readErr
	}
	if counter, ok := o.Target.(TableCounter); ok {
		for name, tr := range sr.Tables {
			n, err := counter.Count(ctx, name)
			if err != nil {
				return nil, fmt.Errorf("count %s: %w", name, err)
			}
			tr.TargetCount = &n
			if !sr.Sampled && n > tr.Found {
				tr.Unexpected = n - tr.Found
			}
		}
	}
	slices.SortFunc(sr.Mismatches, func(a, b Mismatch) int {
		return strings.Compare(a.Table+"\x00"+a.Key+"\x00"+a.SourceID, b.Table+"\x00"+b.Key+"\x00"+b.SourceID)
	})
	return sr, nil
}

func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// DefaultCompare compares every field of expected, except annotations
// (names containing "@", such as "x@odata.bind", which a target reports
// differently), with actual. Numbers compare by value whatever their Go
// type (json.Number, int, float64), times by instant, and a nil expected
// value matches an absent field: the rules of dataverse.SameValue, the one
// comparer of values.
func DefaultCompare(expected TargetRecord, actual map[string]any) []FieldDiff {
	var diffs []FieldDiff
	for _, f := range slices.Sorted(maps.Keys(expected.Fields)) {
		if strings.Contains(f, "@") {
			continue
		}
		want := expected.Fields[f]
		got := actual[f]
		if !dataverse.SameValue(want, got) {
			diffs = append(diffs, FieldDiff{Field: f, Expected: want, Actual: got})
		}
	}
	return diffs
}
