// Package sinktest is the conformance suite for write targets, in the
// manner of rclone's fstest/fstests: one set of behaviours every target
// that writes Dataverse tables must show, run against the sink on the
// reference server in CI and against a real environment when
// DVSYNC_TEST_ENV and credentials are set.
//
// The behaviours:
//   - re-writing is idempotent: the same records written again leave one
//     copy each and are reported unchanged;
//   - state transitions: a record is moved to its state after it is
//     written; resolving, cancelling and reactivating cases works, a
//     resolved case edited is reactivated, written and resolved again,
//     and moving a record to the state it has is no change, never a
//     reject; a case the environment refuses to close, among several
//     closed together, is rejected alone with the environment's reason;
//   - match-only records are looked up, never created;
//   - N:N links are made once;
//   - counts reconcile: the table grows by the records reported created;
//   - a batch interrupted mid-way resumes: the engine's resume writes it
//     again and nothing is lost or duplicated;
//   - faults injected (throttling, 5xx, dropped connections) are absorbed
//     by the client's one retry policy: no record is rejected for them;
//   - a target that plans (migrations.Planner) foresees what a write would
//     do, created, updated or unchanged, and writes nothing.
package sinktest

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dvsync/dvsync/migrations"
)

// Target is what the suite tests: a migrations.Target that reads back and
// counts, with the comparison verify uses.
type Target interface {
	migrations.Target
	migrations.TargetReader
	migrations.TableCounter
	Compare(ctx context.Context, expected migrations.TargetRecord, actual map[string]any) []migrations.FieldDiff
}

// Env is one environment to test in.
type Env struct {
	Target Target
	// Prefix makes this run's keys its own: a real environment keeps what
	// earlier runs wrote.
	Prefix string
	// UserEmail and UserID name a systemuser that exists in the
	// environment, for match-only records and N:N links.
	UserEmail, UserID string
}

// Options configure Run.
type Options struct {
	// New returns an environment; with faults it must inject throttling,
	// 5xx answers and dropped connections, or return nil to skip the
	// fault tests (a real environment cannot be made to fail on demand).
	New func(t *testing.T, faults bool) *Env
	// Records is the size of the bulk tests (default 200).
	Records int
}

// Run runs the suite.
func Run(t *testing.T, o Options) {
	if o.Records <= 0 {
		o.Records = 200
	}
	t.Run("RewriteIsIdempotent", func(t *testing.T) { rewrite(t, o) })
	t.Run("StateTransitions", func(t *testing.T) { states(t, o) })
	t.Run("RefusedCloseRejectsOnlyItsCase", func(t *testing.T) { refusedClose(t, o) })
	t.Run("MatchOnly", func(t *testing.T) { matchOnly(t, o) })
	t.Run("Links", func(t *testing.T) { links(t, o) })
	t.Run("CountsReconcile", func(t *testing.T) { counts(t, o) })
	t.Run("InterruptedBatchResumes", func(t *testing.T) { interrupted(t, o) })
	t.Run("FaultsInjected", func(t *testing.T) { faults(t, o) })
	t.Run("PlanForeseesAndWritesNothing", func(t *testing.T) { plan(t, o) })
}

func env(t *testing.T, o Options, faults bool) *Env {
	t.Helper()
	e := o.New(t, faults)
	if e == nil {
		t.Skip("this environment cannot inject faults")
	}
	return e
}

// account is account i of the run, addressed by its alternate key and
// created with a deterministic ID.
func account(e *Env, i int, name string) migrations.TargetRecord {
	num := fmt.Sprintf("%sA-%d", e.Prefix, i)
	return migrations.TargetRecord{Table: "account",
		Key:    migrations.Key{ID: migrations.DeterministicID(e.Prefix, "account", strconv.Itoa(i)), Alternate: map[string]any{"accountnumber": num}},
		Fields: map[string]any{"name": name}}
}

// incident is case i of the run, for account acc, in state st (nil:
// active, the state a case is created in).
func incident(e *Env, i int, title string, acc migrations.TargetRecord, st *migrations.State) migrations.TargetRecord {
	return migrations.TargetRecord{Table: "incident",
		Key: migrations.Key{ID: migrations.DeterministicID(e.Prefix, "incident", strconv.Itoa(i))},
		Fields: map[string]any{"title": title, "prioritycode": 2,
			"customerid_account@odata.bind": "/accounts(" + acc.Key.ID + ")"},
		State: st}
}

func resolved(subject string) *migrations.State {
	return &migrations.State{Code: 1, Reason: 5, Close: &migrations.Resolution{Subject: subject, ResolvedOn: "2025-03-04T05:06:07Z"}}
}

var cancelled = &migrations.State{Code: 2, Reason: 6}

// write writes batch and fails the test on an error; it returns the
// outcomes by record.
func write(t *testing.T, e *Env, batch []migrations.TargetRecord) []migrations.WriteResult {
	t.Helper()
	res, err := e.Target.Write(t.Context(), batch)
	if err != nil {
		t.Fatalf("write: %v", err)
	}
	if len(res) != len(batch) {
		t.Fatalf("%d results for %d records", len(res), len(batch))
	}
	return res
}

func tally(res []migrations.WriteResult) map[migrations.Outcome]int {
	m := map[migrations.Outcome]int{}
	for _, r := range res {
		m[r.Outcome]++
	}
	return m
}

func noRejects(t *testing.T, what string, batch []migrations.TargetRecord, res []migrations.WriteResult) {
	t.Helper()
	for i, r := range res {
		if r.Outcome == migrations.Rejected {
			t.Errorf("%s: %s %s rejected: %v", what, batch[i].Table, batch[i].Key, r.Err)
		}
	}
}

// exactlyOne looks every record up and compares it with what was written.
func exactlyOne(t *testing.T, e *Env, recs []migrations.TargetRecord) {
	t.Helper()
	for _, r := range recs {
		rows, err := e.Target.Lookup(t.Context(), r.Table, r.Key)
		if err != nil {
			t.Fatalf("lookup %s %s: %v", r.Table, r.Key, err)
		}
		if len(rows) != 1 {
			t.Errorf("%s %s: %d records, want exactly one", r.Table, r.Key, len(rows))
			continue
		}
		if d := e.Target.Compare(t.Context(), r, rows[0]); len(d) > 0 {
			t.Errorf("%s %s differs: %+v", r.Table, r.Key, d)
		}
	}
}

func rewrite(t *testing.T, o Options) {
	e := env(t, o, false)
	var batch []migrations.TargetRecord
	for i := range 10 {
		acc := account(e, i, fmt.Sprintf("Rewrite %d", i))
		batch = append(batch, acc, incident(e, i, fmt.Sprintf("Case %d", i), acc, nil))
	}
	res := write(t, e, batch)
	noRejects(t, "first write", batch, res)
	for i, r := range res {
		if r.ID == "" {
			t.Errorf("%s %s: no ID reported", batch[i].Table, batch[i].Key)
		} else if batch[i].Key.ID != "" && r.ID != batch[i].Key.ID {
			t.Errorf("%s %s: ID %s, want the deterministic %s", batch[i].Table, batch[i].Key, r.ID, batch[i].Key.ID)
		}
	}
	again := write(t, e, batch)
	if got := tally(again); got[migrations.Unchanged] != len(batch) {
		t.Errorf("re-writing identical records: %v, want all %d unchanged", got, len(batch))
	}
	// A change is written, and only it.
	batch[1].Fields["title"] = "Case 0, edited"
	third := write(t, e, batch)
	if got := tally(third); got[migrations.Unchanged] != len(batch)-1 || third[1].Outcome == migrations.Unchanged || third[1].Outcome == migrations.Rejected {
		t.Errorf("one changed record: %v (changed one %s)", got, third[1].Outcome)
	}
	exactlyOne(t, e, batch)
}

func states(t *testing.T, o Options) {
	e := env(t, o, false)
	acc := account(e, 100, "States")
	active := incident(e, 100, "stays active", acc, &migrations.State{Code: 0, Reason: 1})
	res1 := incident(e, 101, "resolved", acc, resolved("Fixed"))
	canc := incident(e, 102, "cancelled", acc, cancelled)
	batch := []migrations.TargetRecord{acc, active, res1, canc}
	res := write(t, e, batch)
	noRejects(t, "first write", batch, res)
	exactlyOne(t, e, batch)

	// Again, as a resume after a lost checkpoint or `--restart` does: the
	// cases already have their states; nothing is rejected.
	again := write(t, e, batch)
	noRejects(t, "re-write of closed cases", batch, again)
	if got := tally(again); got[migrations.Unchanged] != len(batch) {
		t.Errorf("re-writing records in their states: %v, want all unchanged", got)
	}

	// A resolved case edited: reactivated, written, resolved again.
	res1.Fields["title"] = "resolved, then edited"
	// A cancelled case resolved; the active one cancelled.
	canc.State = resolved("Fixed after all")
	active.State = cancelled
	batch = []migrations.TargetRecord{acc, active, res1, canc}
	moved := write(t, e, batch)
	noRejects(t, "transitions", batch, moved)
	for i, r := range moved[1:] {
		if r.Outcome == migrations.Unchanged {
			t.Errorf("%s: %s, want a write", batch[i+1].Key, r.Outcome)
		}
	}
	exactlyOne(t, e, batch)

	// And back: a closed case reactivated.
	canc.State = &migrations.State{Code: 0, Reason: 1}
	back := write(t, e, []migrations.TargetRecord{canc})
	noRejects(t, "reactivation", []migrations.TargetRecord{canc}, back)
	exactlyOne(t, e, []migrations.TargetRecord{canc})
}

// refusedClose resolves several cases in one batch, one of them with a
// resolution the environment refuses (its subject is longer than the
// Case Resolution's 200 characters): that case alone is rejected, with
// the refusal, and stays active; the others are resolved. Written again
// with a resolution it accepts, it is resolved.
func refusedClose(t *testing.T, o Options) {
	e := env(t, o, false)
	acc := account(e, 200, "Refused close")
	batch := []migrations.TargetRecord{acc}
	const bad = 3
	for i := range 6 {
		subject := fmt.Sprintf("Fixed %d", i)
		if i == bad {
			subject = strings.Repeat("x", 201)
		}
		batch = append(batch, incident(e, 200+i, fmt.Sprintf("close %d", i), acc, resolved(subject)))
	}
	res := write(t, e, batch)
	for i, r := range res {
		switch {
		case i == bad+1:
			if r.Outcome != migrations.Rejected || r.Err == nil || !strings.Contains(r.Err.Error(), "length") {
				t.Errorf("case with a refused resolution: %s %v, want rejected with the refusal", r.Outcome, r.Err)
			}
		case r.Outcome == migrations.Rejected:
			t.Errorf("%s %s rejected with the refused case: %v", batch[i].Table, batch[i].Key, r.Err)
		}
	}
	refused := batch[bad+1]
	exactlyOne(t, e, append(slices.Clone(batch[:bad+1]), batch[bad+2:]...))
	rows, err := e.Target.Lookup(t.Context(), "incident", refused.Key)
	if err != nil || len(rows) != 1 {
		t.Fatalf("the refused case: %d rows, %v", len(rows), err)
	}
	if d := e.Target.Compare(t.Context(), migrations.TargetRecord{Table: "incident", Key: refused.Key, Fields: refused.Fields,
		State: &migrations.State{Code: 0, Reason: 1}}, rows[0]); len(d) > 0 {
		t.Errorf("the refused case is not as written and active: %+v", d)
	}

	refused.State = resolved("Fixed after all")
	again := write(t, e, []migrations.TargetRecord{acc, refused})
	noRejects(t, "the refused case again", []migrations.TargetRecord{acc, refused}, again)
	exactlyOne(t, e, []migrations.TargetRecord{refused})
}

func matchOnly(t *testing.T, o Options) {
	e := env(t, o, false)
	if e.UserEmail == "" {
		t.Skip("no existing user named for this environment")
	}
	batch := []migrations.TargetRecord{
		{Table: "systemuser", Key: migrations.Key{Alternate: map[string]any{"internalemailaddress": e.UserEmail}}, MatchOnly: true},
		{Table: "systemuser", Key: migrations.Key{Alternate: map[string]any{"internalemailaddress": e.Prefix + "nobody@dvsync.invalid"}}, MatchOnly: true},
	}
	res := write(t, e, batch)
	if res[0].Outcome != migrations.Unchanged || (e.UserID != "" && res[0].ID != e.UserID) {
		t.Errorf("existing user: %+v, want unchanged with ID %s", res[0], e.UserID)
	}
	if res[1].Outcome != migrations.Rejected || res[1].Err == nil {
		t.Errorf("missing user: %+v, want rejected with a reason", res[1])
	}
	rows, err := e.Target.Lookup(t.Context(), "systemuser", batch[1].Key)
	if err != nil || len(rows) != 0 {
		t.Errorf("a match-only record was created: %d rows, %v", len(rows), err)
	}
}

func links(t *testing.T, o Options) {
	e := env(t, o, false)
	if e.UserID == "" {
		t.Skip("no existing user named for this environment")
	}
	team := migrations.TargetRecord{Table: "team",
		Key:    migrations.Key{ID: migrations.DeterministicID(e.Prefix, "team", "1")},
		Fields: map[string]any{"name": e.Prefix + "Sink conformance team"},
		Links:  []migrations.Link{{Relationship: "teammembership_association", Table: "systemuser", Key: migrations.Key{ID: e.UserID}}}}
	first := write(t, e, []migrations.TargetRecord{team})
	noRejects(t, "team with a member", []migrations.TargetRecord{team}, first)
	again := write(t, e, []migrations.TargetRecord{team})
	if again[0].Outcome != migrations.Unchanged {
		t.Errorf("re-writing a team whose link exists: %+v, want unchanged", again[0])
	}
}

func counts(t *testing.T, o Options) {
	e := env(t, o, false)
	ctx := t.Context()
	before, err := e.Target.Count(ctx, "account")
	if err != nil {
		t.Fatal(err)
	}
	var batch []migrations.TargetRecord
	for i := range 25 {
		batch = append(batch, account(e, 1000+i, fmt.Sprintf("Counted %d", i)))
	}
	res := write(t, e, batch)
	noRejects(t, "accounts", batch, res)
	got := tally(res)
	added := got[migrations.Created] + got[migrations.Written]
	after, err := e.Target.Count(ctx, "account")
	if err != nil {
		t.Fatal(err)
	}
	if after-before != int64(len(batch)) || added != len(batch) {
		t.Errorf("count %d → %d after %v for %d new records", before, after, got, len(batch))
	}
	write(t, e, batch)
	if again, _ := e.Target.Count(ctx, "account"); again != after {
		t.Errorf("count %d after re-writing, want %d", again, after)
	}
}

// interruptingTarget writes the first half of its n-th batch through the
// real target and then fails, as a process killed mid-batch does.
type interruptingTarget struct {
	Target
	n, calls atomic.Int32
}

func (t *interruptingTarget) Write(ctx context.Context, batch []migrations.TargetRecord) ([]migrations.WriteResult, error) {
	if t.calls.Add(1) == t.n.Load() {
		if _, err := t.Target.Write(ctx, batch[:len(batch)/2]); err != nil {
			return nil, err
		}
		return nil, errors.New("sinktest: interrupted mid-batch")
	}
	return t.Target.Write(ctx, batch)
}

// source yields n records, resumable by cursor.
type source struct{ n int }

func (s source) Records(_ context.Context, cursor string) iter.Seq2[migrations.SourceRecord, error] {
	return func(yield func(migrations.SourceRecord, error) bool) {
		from := 0
		if cursor != "" {
			from, _ = strconv.Atoi(cursor)
		}
		for i := from + 1; i <= s.n; i++ {
			id := strconv.Itoa(i)
			if !yield(migrations.SourceRecord{ID: id, Cursor: id, Data: map[string]any{"n": i}}, nil) {
				return
			}
		}
	}
}

func job(e *Env, name string, n int, tgt migrations.Target) *migrations.Job {
	return &migrations.Job{Name: e.Prefix + name, Steps: []*migrations.Step{{
		Name: "accounts", Source: source{n}, Target: tgt,
		Map: func(r migrations.SourceRecord, _ migrations.IDs) migrations.MapResult {
			i, _ := strconv.Atoi(r.ID)
			return migrations.Write(account(e, 10000+i, "Resumed "+r.ID))
		},
	}}}
}

func interrupted(t *testing.T, o Options) {
	e := env(t, o, false)
	ctx := t.Context()
	st, err := migrations.OpenSQLite(ctx, t.TempDir()+"/state.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	before, err := e.Target.Count(ctx, "account")
	if err != nil {
		t.Fatal(err)
	}
	n := o.Records
	it := &interruptingTarget{Target: e.Target}
	it.n.Store(3)
	_, err = migrations.Run(ctx, job(e, "interrupted", n, it), migrations.RunOptions{Store: st, BatchSize: 20, Concurrency: 1})
	if err == nil {
		t.Fatal("the interrupted run reported success")
	}
	sum, err := migrations.Run(ctx, job(e, "interrupted", n, e.Target), migrations.RunOptions{Store: st, BatchSize: 20, Concurrency: 2})
	if err != nil {
		t.Fatalf("resume: %v", err)
	}
	c := sum.Steps[0].Counts
	if c.Rejected != 0 || c.Read != c.Created+c.Updated+c.Written+c.Unchanged+c.Skipped+c.Rejected {
		t.Errorf("resume counts %+v do not reconcile", c)
	}
	after, err := e.Target.Count(ctx, "account")
	if err != nil {
		t.Fatal(err)
	}
	if after-before != int64(n) {
		t.Errorf("%d accounts added by the interrupted run and its resume, want %d", after-before, n)
	}
	var recs []migrations.TargetRecord
	for i := 1; i <= n; i += max(1, n/20) {
		recs = append(recs, account(e, 10000+i, "Resumed "+strconv.Itoa(i)))
	}
	exactlyOne(t, e, recs)
}

func faults(t *testing.T, o Options) {
	e := env(t, o, true)
	ctx := t.Context()
	st, err := migrations.OpenSQLite(ctx, t.TempDir()+"/state.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n := o.Records
	sum, err := migrations.Run(ctx, job(e, "faults", n, e.Target), migrations.RunOptions{Store: st, BatchSize: 25, Concurrency: 4})
	if err != nil {
		t.Fatalf("run under faults: %v", err)
	}
	if c := sum.Steps[0].Counts; c.Rejected != 0 || c.Read != int64(n) {
		t.Errorf("under faults: %+v, want %d read and none rejected", c, n)
	}
	var recs []migrations.TargetRecord
	for i := 1; i <= n; i++ {
		recs = append(recs, account(e, 10000+i, "Resumed "+strconv.Itoa(i)))
	}
	exactlyOne(t, e, recs)
}

func plan(t *testing.T, o Options) {
	e := env(t, o, false)
	pl, ok := e.Target.(migrations.Planner)
	if !ok {
		t.Skip("the target does not plan")
	}
	ctx := t.Context()
	acc := account(e, 500, "Planned")
	done := incident(e, 500, "planned, resolved", acc, resolved("Fixed"))
	write(t, e, []migrations.TargetRecord{acc, done})
	before, err := e.Target.Count(ctx, "account")
	if err != nil {
		t.Fatal(err)
	}
	fresh := account(e, 501, "Not yet written")
	edited := account(e, 500, "Planned, renamed")
	moved := incident(e, 500, "planned, resolved", acc, cancelled)
	batch := []migrations.TargetRecord{acc, done, fresh, edited, moved}
	got, err := pl.Plan(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	want := []migrations.Outcome{migrations.Unchanged, migrations.Unchanged, migrations.Created, migrations.Updated, migrations.Updated}
	for i := range batch {
		if got[i].Outcome != want[i] {
			t.Errorf("plan of %s %s: %s, want %s", batch[i].Table, batch[i].Key, got[i].Outcome, want[i])
		}
	}
	after, err := e.Target.Count(ctx, "account")
	if err != nil || after != before {
		t.Errorf("planning changed the account count %d → %d (%v)", before, after, err)
	}
	rows, err := e.Target.Lookup(ctx, "account", fresh.Key)
	if err != nil || len(rows) != 0 {
		t.Errorf("planning created %s (%d rows, %v)", fresh.Key, len(rows), err)
	}
}
