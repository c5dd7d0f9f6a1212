package migrations

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// BatchReader is a TargetReader that reads many records of one table in
// one request (a Dataverse $filter with Microsoft.Dynamics.CRM.In). Verify
// then reads back a batch of records at a time, as a run writes them,
// instead of one request per record, which a service's request limits
// make slow (6,000 requests per 5 minutes on Dataverse).
type BatchReader interface {
	TargetReader
	// LookupBatch returns, for each key, what Lookup would return for it,
	// in the order of keys.
	LookupBatch(ctx context.Context, table string, keys []Key) ([][]map[string]any, error)
}

// Defaults of VerifyOptions.
const (
	DefaultVerifyBatchSize   = 100
	DefaultVerifyConcurrency = 4
)

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// Target reads the target back; required. A BatchReader is read a
	// batch at a time.
	Target TargetReader
	// Store supplies the ID map the mappings look up (so expected records
	// carry the IDs the run wrote) and the rejects recorded by the runs:
	// a source record a run recorded as rejected is counted as rejected
	// (it was not migrated) and not looked up. Without a store every
	// lookup fails.
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
	// BatchSize is the number of source records checked together, whose
	// target records a BatchReader reads per table in one request
	// (default DefaultVerifyBatchSize).
	BatchSize int
	// Concurrency is the number of batches being read at once (default
	// DefaultVerifyConcurrency). The client's limiter still caps requests.
	Concurrency int
	// MaxMismatches caps the mismatches listed per step (default 100);
	// the counts always cover all of them.
	MaxMismatches int
	// Examples is the number of records each reason group names (default
	// DefaultExamples; negative names none).
	Examples int
	// Skips receives one SkipLine per skipped source record and Rejects
	// one RejectLine per source record a run recorded as rejected (with
	// the error the run recorded), so a report can point at the full
	// lists. Nil discards them; they are still counted and grouped.
	Skips, Rejects io.Writer
	Logger         *slog.Logger
	// Progress is called as source records are settled, with the step,
	// its source's count when the source can count (Total, else -1) and
	// in Counts.Read the records settled so far: checked, skipped or
	// rejected (with Sample, read). It is called when a step starts and
	// ends (Status), never concurrently, and must not block for long.
	Progress func(StepProgress)
}

// Report is the result of Verify: JSON-serialisable, and rendered by
// WriteJSON and WriteHTML.
type Report struct {
	Job string `json:"job"`
	// Source and Target name the two systems for readers of the report
	// (set by the caller; never credentials).
	Source  Endpoint  `json:"source,omitzero"`
	Target  Endpoint  `json:"target,omitzero"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended"`
	Sample  int       `json:"sample,omitempty"`
	Seed    uint64    `json:"seed,omitempty"`
	// OK is true when nothing differs; rejected records (Rejected) are
	// reported beside it and are never shown as OK.
	OK bool `json:"ok"`
	// Rejected counts the source records of every step that runs
	// recorded as rejected (TotalRejected).
	Rejected int64 `json:"rejected"`
	// Files names the files that list every skipped and rejected record
	// (set by the caller that wrote them).
	Files Files        `json:"files,omitzero"`
	Steps []StepReport `json:"steps"`
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
//
//	SourceRead = Expected + Skipped + Rejected + Unrecorded
//	Checked    = Matched + Mismatched   (Checked = Expected unless sampled)
//
// where Expected counts the source records the migration should have
// written (mapped to target records, not recorded as rejected). Target
// records of the checked ones are Found (and then Duplicated or Differing
// or neither) or Missing.
type StepReport struct {
	Step       string `json:"step"`
	SourceRead int64  `json:"sourceRead"`
	Expected   int64  `json:"expected"`
	Skipped    int64  `json:"skipped"`
	// Rejected are source records a run recorded as rejected, by the
	// mapping or by the target: they were not migrated, so they are not
	// looked up.
	Rejected int64 `json:"rejected"`
	// Unrecorded are source records the mapping rejects now but no run
	// recorded as rejected (the source changed, or the run is incomplete).
	Unrecorded int64 `json:"unrecorded"`
	// Checked source records (all of Expected unless sampled), Matched
	// when every target record was found once with its values, else
	// Mismatched.
	Checked    int64                   `json:"checked"`
	Matched    int64                   `json:"matched"`
	Mismatched int64                   `json:"mismatched"`
	Sampled    bool                    `json:"sampled"`
	Tables     map[string]*TableReport `json:"tables"`
	// Skips and Rejects group the skipped and rejected source records by
	// reason, largest first.
	Skips      []ReasonGroup `json:"skips,omitempty"`
	Rejects    []ReasonGroup `json:"rejects,omitempty"`
	Mismatches []Mismatch    `json:"mismatches,omitempty"`
	// MismatchesOmitted counts mismatches beyond MaxMismatches.
	MismatchesOmitted int64 `json:"mismatchesOmitted,omitempty"`
}

func (s StepReport) mismatchCount() int64 {
	n := s.Unrecorded
	for _, t := range s.Tables {
		n += t.Missing + t.Duplicated + t.Differing
	}
	return n
}

// TableReport counts target records of one table. For a full check,
// Checked = Expected = Found + Missing.
type TableReport struct {
	// Expected are the target records of the source records expected
	// in the target (StepReport.Expected).
	Expected   int64 `json:"expected"`
	Checked    int64 `json:"checked"`
	Found      int64 `json:"found"`
	Missing    int64 `json:"missing"`
	Duplicated int64 `json:"duplicated"` // found more than once
	Differing  int64 `json:"differing"`  // found, with values that differ
	// Rejected are the target records of source records recorded as
	// rejected; they are not looked up.
	Rejected int64 `json:"rejected"`
	// TargetCount is the table's record count (less what it held before
	// the migration) when the reader can count; Unexpected is
	// TargetCount minus the expected records found, when every record was
	// checked. It is information, not a mismatch: the table may hold
	// records that were there before the migration.
	TargetCount *int64 `json:"targetCount,omitempty"`
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
	SourceID string      `json:"sourceId"`
	Table    string      `json:"table,omitempty"`
	Key      string      `json:"key,omitempty"`
	Found    int         `json:"found,omitempty"` // for duplicates
	Fields   []FieldDiff `json:"fields,omitempty"`
	Error    string      `json:"error,omitempty"`
}

// Verify reconciles the source and the target of every step of job: it
// reads each source in full, maps every record as a run would (with the
// IDs the runs recorded), and reads back the expected target records (all,
// or a seeded sample of o.Sample source records per step), a batch at a
// time, to report missing, duplicated and differing ones. Report.OK is
// false on any mismatch.
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
		o.Concurrency = DefaultVerifyConcurrency
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultVerifyBatchSize
	}
	if o.MaxMismatches <= 0 {
		o.MaxMismatches = 100
	}
	if o.Examples == 0 {
		o.Examples = DefaultExamples
	}
	o.Examples = max(o.Examples, 0)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	want := map[string]bool{}
	for _, n := range o.Steps {
		want[n] = true
	}
	rep := &Report{Job: job.Name, Started: time.Now(), Sample: max(o.Sample, 0), Seed: o.Seed}
	lines := verifyLines{skips: newLinesFile(o.Skips, "skips"), rejects: newLinesFile(o.Rejects, "rejects")}
	for _, s := range order {
		if len(want) > 0 && !want[s.Name] {
			continue
		}
		delete(want, s.Name)
		sr, err := verifyStep(ctx, job, s, o, lines)
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

type verifyLines struct{ skips, rejects *linesFile }

type verifyItem struct {
	rec  SourceRecord
	recs []TargetRecord
}

// stepVerifier checks one step; mu guards the report and the tallies
// against the batches being checked at once.
type stepVerifier struct {
	job     *Job
	s       *Step
	o       VerifyOptions
	sr      *StepReport
	total   int64
	mu      sync.Mutex
	settled int64
	skips   *reasonTally
	rejects *reasonTally
}

func (v *stepVerifier) table(name string) *TableReport {
	t := v.sr.Tables[name]
	if t == nil {
		t = &TableReport{}
		v.sr.Tables[name] = t
	}
	return t
}

func (v *stepVerifier) addMismatch(m Mismatch) {
	if len(v.sr.Mismatches) < v.o.MaxMismatches {
		v.sr.Mismatches = append(v.sr.Mismatches, m)
	} else {
		v.sr.MismatchesOmitted++
	}
}

// progress reports n more settled records; v.mu must be held.
func (v *stepVerifier) progress(n int64, status Status) {
	v.settled += n
	if v.o.Progress != nil {
		v.o.Progress(StepProgress{Step: v.s.Name, Status: status, Total: v.total, Counts: Counts{Read: v.settled}})
	}
}

// found is what the target holds for one expected target record.
type found struct {
	rows  []map[string]any
	diffs []FieldDiff
}

// read reads back the target records of items, per table, a batch per
// request when the target can.
func (v *stepVerifier) read(ctx context.Context, items []verifyItem) ([][]found, error) {
	got := make([][]found, len(items))
	type at struct{ item, rec int }
	var tables []string
	byTable := map[string][]at{}
	for i, it := range items {
		got[i] = make([]found, len(it.recs))
		for j, t := range it.recs {
			if _, ok := byTable[t.Table]; !ok {
				tables = append(tables, t.Table)
			}
			byTable[t.Table] = append(byTable[t.Table], at{i, j})
		}
	}
	br, batched := v.o.Target.(BatchReader)
	for _, table := range tables {
		pos := byTable[table]
		if batched {
			keys := make([]Key, len(pos))
			for n, p := range pos {
				keys[n] = items[p.item].recs[p.rec].Key
			}
			rows, err := br.LookupBatch(ctx, table, keys)
			if err != nil {
				return nil, fmt.Errorf("read back %d %s records: %w", len(keys), table, err)
			}
			if len(rows) != len(keys) {
				return nil, fmt.Errorf("target read back %d results for %d %s keys", len(rows), len(keys), table)
			}
			for n, p := range pos {
				got[p.item][p.rec].rows = rows[n]
			}
			continue
		}
		for _, p := range pos {
			t := items[p.item].recs[p.rec]
			rows, err := v.o.Target.Lookup(ctx, t.Table, t.Key)
			if err != nil {
				return nil, fmt.Errorf("look up %s %s: %w", t.Table, t.Key, err)
			}
			got[p.item][p.rec].rows = rows
		}
	}
	// Comparing may read the target (a reference bound by alternate key):
	// outside the lock, so batches compare at once.
	for i, it := range items {
		for j, t := range it.recs {
			if f := &got[i][j]; len(f.rows) == 1 {
				f.diffs = v.o.Compare(ctx, t, f.rows[0])
			}
		}
	}
	return got, nil
}

// check reads back and judges a batch of expected source records.
func (v *stepVerifier) check(ctx context.Context, items []verifyItem, settle bool) error {
	got, err := v.read(ctx, items)
	if err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for i, it := range items {
		v.sr.Checked++
		bad := false
		for j, t := range it.recs {
			tr := v.table(t.Table)
			tr.Checked++
			f := got[i][j]
			switch {
			case len(f.rows) == 0:
				tr.Missing++
				bad = true
				v.addMismatch(Mismatch{Kind: MismatchMissing, SourceID: it.rec.ID, Table: t.Table, Key: t.Key.String()})
			case len(f.rows) > 1:
				tr.Found++
				tr.Duplicated++
				bad = true
				v.addMismatch(Mismatch{Kind: MismatchDuplicated, SourceID: it.rec.ID, Table: t.Table, Key: t.Key.String(), Found: len(f.rows)})
			default:
				tr.Found++
				if len(f.diffs) > 0 {
					tr.Differing++
					bad = true
					v.addMismatch(Mismatch{Kind: MismatchDiffering, SourceID: it.rec.ID, Table: t.Table, Key: t.Key.String(), Fields: f.diffs})
				}
			}
		}
		if bad {
			v.sr.Mismatched++
		} else {
			v.sr.Matched++
		}
	}
	if settle {
		v.progress(int64(len(items)), StatusRunning)
	}
	return nil
}

func verifyStep(ctx context.Context, job *Job, s *Step, o VerifyOptions, lines verifyLines) (*StepReport, error) {
	sr := &StepReport{Step: s.Name, Tables: map[string]*TableReport{}, Sampled: o.Sample > 0}
	v := &stepVerifier{job: job, s: s, o: o, sr: sr, total: -1, skips: newReasonTally(o.Examples), rejects: newReasonTally(o.Examples)}
	rejected := map[string]RejectState{}
	if o.Store != nil {
		for r, err := range o.Store.Rejects(ctx, job.Name, s.Name) {
			if err != nil {
				return nil, err
			}
			rejected[r.SourceID] = r
		}
	}
	if cs, ok := s.Source.(CountingSource); ok && o.Progress != nil {
		n, err := cs.Count(ctx, "")
		if err != nil {
			return nil, fmt.Errorf("count source records: %w", err)
		}
		v.total = n
	}
	v.mu.Lock()
	v.progress(0, StatusRunning)
	v.mu.Unlock()
	ids := &idLookup{store: o.Store, job: job.Name, ctx: ctx}

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.Concurrency)
	var reservoir []verifyItem
	var pending []verifyItem
	pendingRecs := 0
	flush := func() {
		if len(pending) == 0 {
			return
		}
		batch := pending
		pending, pendingRecs = nil, 0
		g.Go(func() error { return v.check(gctx, batch, true) })
	}
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
			v.mu.Lock()
			sr.SourceRead++
			rj, isRejected := rejected[rec.ID]
			switch {
			case res.SkipReason != "":
				sr.Skipped++
				v.skips.add(res.SkipReason, rec.ID, "")
				err := lines.skips.write(SkipLine{Time: time.Now().UTC(), Job: job.Name, Step: s.Name, SourceID: rec.ID, Reason: res.SkipReason, Source: rec.Data})
				v.progress(1, StatusRunning)
				v.mu.Unlock()
				if err != nil {
					return err
				}
				continue
			case isRejected:
				// The run said it did not migrate this record: it is a
				// reject, whatever the target holds.
				sr.Rejected++
				for _, t := range res.Records {
					v.table(t.Table).Rejected++
				}
				v.rejects.add(RejectPattern(rj.Error), rec.ID, rj.Error)
				err := lines.rejects.write(RejectLine{Time: time.Now().UTC(), RunID: rj.RunID, Job: job.Name, Step: s.Name, SourceID: rec.ID,
					Reason: rj.Reason, Error: rj.Error, Source: rec.Data})
				v.progress(1, StatusRunning)
				v.mu.Unlock()
				if err != nil {
					return err
				}
				continue
			case res.Err != nil:
				sr.Unrecorded++
				v.addMismatch(Mismatch{Kind: MismatchUnrecorded, SourceID: rec.ID, Error: res.Err.Error()})
				v.progress(1, StatusRunning)
				v.mu.Unlock()
				continue
			}
			sr.Expected++
			for _, t := range res.Records {
				v.table(t.Table).Expected++
			}
			if o.Sample > 0 {
				v.progress(1, StatusRunning)
			}
			v.mu.Unlock()
			it := verifyItem{rec: rec, recs: res.Records}
			if o.Sample <= 0 {
				pending = append(pending, it)
				pendingRecs += len(it.recs)
				if len(pending) >= o.BatchSize || pendingRecs >= o.BatchSize {
					flush()
				}
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
	if readErr == nil {
		flush()
		for batch := range slices.Chunk(reservoir, o.BatchSize) {
			g.Go(func() error { return v.check(gctx, batch, false) })
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if readErr != nil {
		return nil, readErr
	}
	if counter, ok := o.Target.(TableCounter); ok {
		for _, name := range slices.Sorted(maps.Keys(sr.Tables)) {
			tr := sr.Tables[name]
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
	sr.Skips, sr.Rejects = v.skips.sorted(), v.rejects.sorted()
	v.mu.Lock()
	v.progress(0, StatusSucceeded)
	v.mu.Unlock()
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
