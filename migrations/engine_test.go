package migrations_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/migrationstest"
)

func openStore(t *testing.T) *migrations.SQLiteStore {
	t.Helper()
	st, err := migrations.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// helpdeskJob is a two-step job: customers, then tickets linked to them.
// Customer i is skipped when i%10 == 0 (archived) and rejected by the
// mapping when i%25 == 0 (no name); ticket j belongs to customer j%nCust+1
// and is rejected by the target when j%40 == 0.
type helpdeskJob struct {
	customers, tickets *migrationstest.Source
	target             *migrationstest.Target
	job                *migrations.Job
}

func newHelpdeskJob(nCust, nTickets int) *helpdeskJob {
	h := &helpdeskJob{target: migrationstest.NewTarget()}
	h.customers = migrationstest.NewSource(nCust, func(i int) map[string]any {
		name := fmt.Sprintf("Customer %d", i)
		if i%25 == 0 {
			name = ""
		}
		return map[string]any{"name": name, "archived": i%10 == 0}
	})
	h.tickets = migrationstest.NewSource(nTickets, func(j int) map[string]any {
		return map[string]any{"subject": fmt.Sprintf("Ticket %d", j), "partner_id": strconv.Itoa(j%nCust + 1), "poison": j%40 == 0}
	})
	h.target.Reject = func(r migrations.TargetRecord) error {
		if r.Fields["poison"] == true {
			return errors.New("invalid subject")
		}
		return nil
	}
	h.job = &migrations.Job{Name: "helpdesk", Steps: []*migrations.Step{
		{
			Name:      "tickets",
			DependsOn: []string{"customers"},
			Source:    h.tickets,
			Map: func(r migrations.SourceRecord, ids migrations.IDs) migrations.MapResult {
				cust, ok := ids.Lookup("customers", r.Field("partner_id"))
				if !ok {
					return migrations.Reject(fmt.Errorf("customer %s was not migrated", r.Field("partner_id")))
				}
				return migrations.Write(migrations.TargetRecord{
					Table:  "incident",
					Key:    migrations.Key{Alternate: map[string]any{"ticketnumber": "T-" + r.ID}},
					Fields: map[string]any{"title": r.Data["subject"], "customerid": cust.ID, "poison": r.Data["poison"]},
				})
			},
			Target: h.target,
		},
		{
			Name:   "customers",
			Source: h.customers,
			Map: func(r migrations.SourceRecord, _ migrations.IDs) migrations.MapResult {
				if r.Data["archived"] == true {
					return migrations.Skip("archived")
				}
				if r.Field("name") == "" {
					return migrations.Reject(errors.New("customer has no name"))
				}
				return migrations.Write(migrations.TargetRecord{
					Table:  "account",
					Key:    migrations.Key{ID: migrations.DeterministicID("helpdesk", "account", r.ID)},
					Fields: map[string]any{"name": r.Field("name")},
				})
			},
			Target: h.target,
		},
	}}
	return h
}

// expected counts of newHelpdeskJob.
func (h *helpdeskJob) expect(nCust, nTickets int) (cust, tick migrations.Counts) {
	cust.Read = int64(nCust)
	migrated := map[int]bool{}
	for i := 1; i <= nCust; i++ {
		switch {
		case i%10 == 0:
			cust.Skipped++
		case i%25 == 0:
			cust.Rejected++
		default:
			cust.Created++
			migrated[i] = true
		}
	}
	tick.Read = int64(nTickets)
	for j := 1; j <= nTickets; j++ {
		switch {
		case !migrated[j%nCust+1], j%40 == 0:
			tick.Rejected++
		default:
			tick.Created++
		}
	}
	return cust, tick
}

func TestRunAccountsForEveryRecord(t *testing.T) {
	st := openStore(t)
	h := newHelpdeskJob(60, 500)
	var rejects bytes.Buffer
	var progress []migrations.StepProgress
	sum, err := migrations.Run(t.Context(), h.job, migrations.RunOptions{
		Store: st, BatchSize: 7, Concurrency: 3, Rejects: &rejects,
		Progress: func(p migrations.StepProgress) { progress = append(progress, p) },
	})
	if err != nil {
		t.Fatal(err)
	}
	wantCust, wantTick := h.expect(60, 500)
	if sum.Status != migrations.StatusSucceeded || len(sum.Steps) != 2 {
		t.Fatalf("summary %+v", sum)
	}
	if sum.Steps[0].Step != "customers" || sum.Steps[1].Step != "tickets" {
		t.Fatalf("steps ran in order %s, %s; want customers before tickets", sum.Steps[0].Step, sum.Steps[1].Step)
	}
	if got := sum.Steps[0].Counts; got != wantCust {
		t.Errorf("customers counts %+v, want %+v", got, wantCust)
	}
	if got := sum.Steps[1].Counts; got != wantTick {
		t.Errorf("tickets counts %+v, want %+v", got, wantTick)
	}
	if tc := sum.Steps[1].Tables["incident"]; tc.Created != wantTick.Created || tc.Rejected != 12 {
		t.Errorf("incident table counts %+v", tc)
	}

	// Rejects file: one line per rejected record, with the source record.
	var lines []migrations.RejectLine
	sc := bufio.NewScanner(&rejects)
	for sc.Scan() {
		var l migrations.RejectLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("rejects line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	if int64(len(lines)) != wantCust.Rejected+wantTick.Rejected {
		t.Fatalf("%d reject lines, want %d", len(lines), wantCust.Rejected+wantTick.Rejected)
	}
	var sawWrite bool
	for _, l := range lines {
		if l.Source == nil || l.Step == "" || l.Error == "" || l.RunID != sum.RunID {
			t.Errorf("incomplete reject line %+v", l)
		}
		if l.Reason == migrations.ReasonWrite {
			sawWrite = true
			if len(l.Target) != 1 || !strings.Contains(l.Error, "invalid subject") {
				t.Errorf("write reject without target record or error: %+v", l)
			}
		}
	}
	if !sawWrite {
		t.Error("no write reject in the rejects file")
	}
	var stored int64
	for _, err := range st.Rejects(t.Context(), "helpdesk", "tickets") {
		if err != nil {
			t.Fatal(err)
		}
		stored++
	}
	if stored != wantTick.Rejected {
		t.Errorf("store holds %d ticket rejects, want %d", stored, wantTick.Rejected)
	}

	// Links: every incident points at the ID its customer was written with.
	for _, row := range h.target.Rows() {
		if row.Table != "incident" {
			continue
		}
		n, _ := strconv.Atoi(strings.TrimPrefix(row.Key.Alternate["ticketnumber"].(string), "T-"))
		want := migrations.DeterministicID("helpdesk", "account", strconv.Itoa(n%60+1))
		if row.Fields["customerid"] != want {
			t.Errorf("ticket %d links %v, want %s", n, row.Fields["customerid"], want)
		}
	}

	// Journal and progress.
	runs, err := st.Runs(t.Context(), "helpdesk")
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].Status != migrations.StatusSucceeded || len(runs[0].Steps) != 2 ||
		runs[0].Steps[1].Counts != wantTick || runs[0].Steps[1].Status != migrations.StatusSucceeded {
		t.Errorf("journal %+v", runs)
	}
	last := progress[len(progress)-1]
	if last.Step != "tickets" || last.Status != migrations.StatusSucceeded || last.Counts != wantTick || last.Total != 500 {
		t.Errorf("last progress %+v", last)
	}
}

func TestRerun(t *testing.T) {
	st := openStore(t)
	h := newHelpdeskJob(30, 100)
	if _, err := migrations.Run(t.Context(), h.job, migrations.RunOptions{Store: st}); err != nil {
		t.Fatal(err)
	}
	calls := h.target.Calls()

	// Without Restart the checkpoints say everything was read.
	sum, err := migrations.Run(t.Context(), h.job, migrations.RunOptions{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if got := sum.Total(); got != (migrations.Counts{}) || h.target.Calls() != calls {
		t.Errorf("re-run after completion read %+v and wrote %d batches, want nothing", got, h.target.Calls()-calls)
	}

	// With Restart everything is read again and nothing changes.
	sum, err = migrations.Run(t.Context(), h.job, migrations.RunOptions{Store: st, Restart: true})
	if err != nil {
		t.Fatal(err)
	}
	wantCust, wantTick := h.expect(30, 100)
	wantCust.Unchanged, wantCust.Created = wantCust.Created, 0
	wantTick.Unchanged, wantTick.Created = wantTick.Created, 0
	if sum.Steps[0].Counts != wantCust || sum.Steps[1].Counts != wantTick {
		t.Errorf("restart counts %+v / %+v, want %+v / %+v", sum.Steps[0].Counts, sum.Steps[1].Counts, wantCust, wantTick)
	}
	for _, row := range h.target.Rows() {
		if row.Creates != 1 || row.Writes != 1 {
			t.Errorf("%s %s created %d times, written %d times", row.Table, row.Key, row.Creates, row.Writes)
		}
	}
}

// TestCrashResume injects failures at random batch boundaries and in the
// middle of batches (part of the batch applied, then an error, as when the
// process dies during a request), and cancels the context at random
// moments; it resumes until the job succeeds and checks exactly-once.
func TestCrashResume(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			const nCust, nTick = 60, 400
			rng := rand.New(rand.NewPCG(seed, 7))
			st := openStore(t)
			h := newHelpdeskJob(nCust, nTick)
			var mu sync.Mutex
			failAt := 0
			h.target.Fault = func(call int, batch []migrations.TargetRecord) (int, error) {
				mu.Lock()
				defer mu.Unlock()
				if call == failAt {
					return rng.IntN(len(batch) + 1), migrationstest.ErrInjected
				}
				return 0, nil
			}
			var total migrations.Counts
			var runs int
			for ; runs < 100; runs++ {
				mu.Lock()
				failAt = h.target.Calls() + 1 + rng.IntN(30)
				cancelAfter := rng.IntN(40)
				mu.Unlock()
				ctx, cancel := context.WithCancel(t.Context())
				progressed := 0
				sum, err := migrations.Run(ctx, h.job, migrations.RunOptions{
					Store: st, BatchSize: 1 + rng.IntN(20), Concurrency: 1 + rng.IntN(4),
					Progress: func(migrations.StepProgress) {
						progressed++
						if runs%2 == 1 && progressed == cancelAfter {
							cancel()
						}
					},
				})
				cancel()
				total.Add(sum.Total())
				if err == nil {
					break
				}
				if !errors.Is(err, migrationstest.ErrInjected) && !errors.Is(err, context.Canceled) {
					t.Fatalf("run %d: unexpected error %v", runs, err)
				}
			}
			if runs == 100 {
				t.Fatal("job did not finish in 100 runs")
			}
			if runs < 2 {
				t.Fatalf("only %d interrupted runs: the test did not exercise resuming", runs)
			}
			wantCust, wantTick := h.expect(nCust, nTick)
			want := wantCust
			want.Add(wantTick)
			// A record applied by a batch that failed before its commit is
			// written again on resume and then counts as unchanged, so the
			// runs' created counts are a lower bound.
			if total.Created > want.Created || total.Created+total.Updated+total.Unchanged < want.Created {
				t.Errorf("over %d runs: %+v; want %d records created once", runs+1, total, want.Created)
			}
			rows := h.target.Rows()
			if int64(len(rows)) != want.Created {
				t.Errorf("target holds %d rows, want %d", len(rows), want.Created)
			}
			for _, row := range rows {
				if row.Creates != 1 {
					t.Errorf("%s %s created %d times", row.Table, row.Key, row.Creates)
				}
			}
			var rejected int64
			for _, step := range []string{"customers", "tickets"} {
				for _, err := range st.Rejects(t.Context(), "helpdesk", step) {
					if err != nil {
						t.Fatal(err)
					}
					rejected++
				}
			}
			if rejected != want.Rejected {
				t.Errorf("store holds %d rejects, want %d", rejected, want.Rejected)
			}
			journal, err := st.Runs(t.Context(), "helpdesk")
			if err != nil {
				t.Fatal(err)
			}
			if len(journal) != runs+1 || journal[len(journal)-1].Status != migrations.StatusSucceeded {
				t.Errorf("journal has %d runs, last %+v", len(journal), journal[len(journal)-1])
			}
			for _, r := range journal[:len(journal)-1] {
				if r.Status != migrations.StatusFailed && r.Status != migrations.StatusCancelled {
					t.Errorf("interrupted run journalled as %s", r.Status)
				}
			}
			// A full re-read finds every record already there, unchanged.
			h.target.Fault = nil
			sum, err := migrations.Run(t.Context(), h.job, migrations.RunOptions{Store: st, Restart: true})
			if err != nil {
				t.Fatal(err)
			}
			if got := sum.Total(); got.Created != 0 || got.Updated != 0 || got.Unchanged != want.Created || got.Rejected != want.Rejected {
				t.Errorf("re-read after resume: %+v, want %d unchanged", got, want.Created)
			}
		})
	}
}

func TestPlanWritesNothing(t *testing.T) {
	st := openStore(t)
	h := newHelpdeskJob(60, 500)
	var rejects bytes.Buffer
	sum, err := migrations.Plan(t.Context(), h.job, migrations.RunOptions{Store: st, SampleSize: 3, BatchSize: 9, Rejects: &rejects})
	if err != nil {
		t.Fatal(err)
	}
	if h.target.Calls() != 0 {
		t.Errorf("plan wrote %d batches", h.target.Calls())
	}
	runs, err := st.Runs(t.Context(), "helpdesk")
	if err != nil || len(runs) != 0 {
		t.Errorf("plan journalled runs %+v, %v", runs, err)
	}
	for _, step := range []string{"customers", "tickets"} {
		if cp, err := st.Checkpoint(t.Context(), "helpdesk", step); err != nil || cp.Cursor != "" || cp.Done || !cp.UpdatedAt.IsZero() {
			t.Errorf("plan moved checkpoint of %s: %+v %v", step, cp, err)
		}
	}
	wantCust, wantTick := h.expect(60, 500)
	// A plan cannot see target rejects: poison tickets would be written.
	wantTick.Created += 12
	wantTick.Rejected -= 12
	wantCust.Written, wantCust.Created = wantCust.Created, 0
	wantTick.Written, wantTick.Created = wantTick.Created, 0
	if sum.Steps[0].Counts != wantCust || sum.Steps[1].Counts != wantTick {
		t.Errorf("plan counts %+v / %+v, want %+v / %+v", sum.Steps[0].Counts, sum.Steps[1].Counts, wantCust, wantTick)
	}
	if got := sum.Steps[1].Tables["incident"].Records; got != wantTick.Written {
		t.Errorf("plan counts %d incidents, want %d", got, wantTick.Written)
	}
	if len(sum.Steps[1].Sample) != 3 || sum.Steps[1].Sample[0].Key.Alternate["ticketnumber"] != "T-1" {
		t.Errorf("sample %+v", sum.Steps[1].Sample)
	}
	if !sum.DryRun || sum.RunID != "" {
		t.Errorf("plan summary %+v", sum)
	}
	var js bytes.Buffer
	if err := sum.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back migrations.Summary
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Steps[1].Sample[0].Key.Alternate["ticketnumber"] != "T-1" || back.Steps[1].Counts != wantTick {
		t.Errorf("summary JSON does not round-trip: %s", js.String())
	}
	// After a run, a plan reads from the checkpoints (nothing left), or
	// from the start with Restart.
	if _, err := migrations.Run(t.Context(), h.job, migrations.RunOptions{Store: st}); err != nil {
		t.Fatal(err)
	}
	calls := h.target.Calls()
	after, err := migrations.Plan(t.Context(), h.job, migrations.RunOptions{Store: st})
	if err != nil || after.Total().Read != 0 {
		t.Errorf("plan after a complete run read %+v, %v", after.Total(), err)
	}
	again, err := migrations.Plan(t.Context(), h.job, migrations.RunOptions{Store: st, Restart: true})
	if err != nil || again.Total().Read != 560 {
		t.Errorf("plan with Restart read %+v, %v", again.Total(), err)
	}
	if cp, _ := st.Checkpoint(t.Context(), "helpdesk", "tickets"); cp.Cursor != "500" || h.target.Calls() != calls {
		t.Errorf("plan with Restart reset the checkpoint (%+v) or wrote", cp)
	}
	// Without a store, too.
	if _, err := migrations.Plan(t.Context(), h.job, migrations.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	if h.target.Calls() != calls {
		t.Errorf("plan wrote %d batches", h.target.Calls())
	}
}

func TestSourceErrorKeepsProgress(t *testing.T) {
	st := openStore(t)
	h := newHelpdeskJob(20, 300)
	failing := true
	h.tickets.Fail = func(i int) error {
		if failing && i == 150 {
			return errors.New("connection reset")
		}
		return nil
	}
	_, err := migrations.Run(t.Context(), h.job, migrations.RunOptions{Store: st, BatchSize: 10})
	var se *migrations.StepError
	if !errors.As(err, &se) || se.Step != "tickets" || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("err = %v, want a tickets StepError", err)
	}
	cp, err := st.Checkpoint(t.Context(), "helpdesk", "tickets")
	if err != nil {
		t.Fatal(err)
	}
	if cp.Cursor != "150" || cp.Done {
		t.Errorf("checkpoint after failure %+v, want cursor 150", cp)
	}
	failing = false
	sum, err := migrations.Run(t.Context(), h.job, migrations.RunOptions{Store: st, BatchSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Steps[1].FromCursor != "150" || sum.Steps[1].Counts.Read != 150 || sum.Steps[1].Total != 150 {
		t.Errorf("resume %+v", sum.Steps[1])
	}
}

func TestMapProblemsAreRejects(t *testing.T) {
	st := openStore(t)
	tgt := migrationstest.NewTarget()
	src := migrationstest.NewSource(5, func(i int) map[string]any { return map[string]any{"i": i} })
	src.Recs[4].ID = ""
	job := &migrations.Job{Name: "j", Steps: []*migrations.Step{{
		Name: "s", Source: src, Target: tgt,
		Map: func(r migrations.SourceRecord, _ migrations.IDs) migrations.MapResult {
			switch r.ID {
			case "1":
				panic("boom")
			case "2":
				return migrations.MapResult{}
			case "3":
				return migrations.Write(migrations.TargetRecord{Table: "t"})
			}
			return migrations.Write(migrations.TargetRecord{Table: "t", Key: migrations.Key{ID: "x"}})
		},
	}}}
	var buf bytes.Buffer
	sum, err := migrations.Run(t.Context(), job, migrations.RunOptions{Store: st, Rejects: &buf})
	if err != nil {
		t.Fatal(err)
	}
	if c := sum.Steps[0].Counts; c.Rejected != 4 || c.Created != 1 {
		t.Errorf("counts %+v", c)
	}
	for _, want := range []string{"mapping panicked: boom", "no records and no skip reason", "without table or key", "source record has no ID"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("rejects file lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestTargetContractViolations(t *testing.T) {
	src := migrationstest.NewSource(3, func(int) map[string]any { return map[string]any{} })
	mapping := func(r migrations.SourceRecord, _ migrations.IDs) migrations.MapResult {
		return migrations.Write(migrations.TargetRecord{Table: "t", Key: migrations.Key{ID: r.ID}})
	}
	for _, tc := range []struct {
		name   string
		target migrations.TargetFunc
		want   string
	}{
		{"short results", func(context.Context, []migrations.TargetRecord) ([]migrations.WriteResult, error) {
			return []migrations.WriteResult{{Outcome: migrations.Created}}, nil
		}, "returned 1 results for 3 records"},
		{"unknown outcome", func(_ context.Context, b []migrations.TargetRecord) ([]migrations.WriteResult, error) {
			return make([]migrations.WriteResult, len(b)), nil
		}, "unknown outcome"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			job := &migrations.Job{Name: "j", Steps: []*migrations.Step{{Name: "s", Source: src, Map: mapping, Target: tc.target}}}
			_, err := migrations.Run(t.Context(), job, migrations.RunOptions{Store: openStore(t)})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// A change-tracking source reads records that cannot be resumed from and
// hands over its delta token at the end as a cursor marker.
func TestCursorMarker(t *testing.T) {
	st := openStore(t)
	tgt := migrationstest.NewTarget()
	var gotCursor string
	src := migrations.SourceFunc(func(ctx context.Context, cursor string) iter.Seq2[migrations.SourceRecord, error] {
		gotCursor = cursor
		return func(yield func(migrations.SourceRecord, error) bool) {
			for i := range 5 {
				if !yield(migrations.SourceRecord{ID: strconv.Itoa(i), Data: map[string]any{}}, nil) {
					return
				}
			}
			yield(migrations.SourceRecord{Cursor: "delta-2"}, nil)
		}
	})
	job := &migrations.Job{Name: "sync", Steps: []*migrations.Step{{Name: "changes", Source: src, Target: tgt,
		Map: func(r migrations.SourceRecord, _ migrations.IDs) migrations.MapResult {
			return migrations.Write(migrations.TargetRecord{Table: "t", Key: migrations.Key{ID: r.ID}})
		}}}}
	if err := st.Commit(t.Context(), migrations.Commit{Job: "sync", Step: "changes", Cursor: "delta-1"}); err != nil {
		t.Fatal(err)
	}
	sum, err := migrations.Run(t.Context(), job, migrations.RunOptions{Store: st, BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if gotCursor != "delta-1" || sum.Steps[0].Counts.Read != 5 {
		t.Errorf("read from %q, counts %+v", gotCursor, sum.Steps[0].Counts)
	}
	cp, _ := st.Checkpoint(t.Context(), "sync", "changes")
	if cp.Cursor != "delta-2" || !cp.Done {
		t.Errorf("checkpoint %+v, want delta-2 done", cp)
	}
}

func TestJobValidation(t *testing.T) {
	src := migrationstest.NewSource(0, nil)
	tgt := migrationstest.NewTarget()
	m := func(migrations.SourceRecord, migrations.IDs) migrations.MapResult { return migrations.Skip("x") }
	step := func(name string, deps ...string) *migrations.Step {
		return &migrations.Step{Name: name, DependsOn: deps, Source: src, Map: m, Target: tgt}
	}
	for _, tc := range []struct {
		name  string
		steps []*migrations.Step
		want  string // error substring, or the order
	}{
		{"order", []*migrations.Step{step("cases", "customers", "entitlements"), step("articles"), step("entitlements", "slas"), step("slas"), step("customers")},
			"articles slas entitlements customers cases"},
		{"cycle", []*migrations.Step{step("a", "b"), step("b", "a"), step("c")}, "dependency cycle among steps a, b"},
		{"unknown", []*migrations.Step{step("a", "zz")}, `unknown step "zz"`},
		{"duplicate", []*migrations.Step{step("a"), step("a")}, `two steps named "a"`},
		{"incomplete", []*migrations.Step{{Name: "a"}}, "needs a Source, a Map and a Target"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sum, err := migrations.Plan(t.Context(), &migrations.Job{Name: "j", Steps: tc.steps}, migrations.RunOptions{})
			if err != nil {
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("err = %v, want %q", err, tc.want)
				}
				return
			}
			var order []string
			for _, s := range sum.Steps {
				order = append(order, s.Step)
			}
			if got := strings.Join(order, " "); got != tc.want {
				t.Errorf("order %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParallelSteps(t *testing.T) {
	st := openStore(t)
	tgt := migrationstest.NewTarget()
	bStarted := make(chan struct{})
	write := func(r migrations.SourceRecord, _ migrations.IDs) migrations.MapResult {
		return migrations.Write(migrations.TargetRecord{Table: r.Field("t"), Key: migrations.Key{ID: r.ID}})
	}
	records := func(table string, n int) []migrations.SourceRecord {
		var recs []migrations.SourceRecord
		for i := range n {
			recs = append(recs, migrations.SourceRecord{ID: fmt.Sprint(table, i), Data: map[string]any{"t": table}})
		}
		return recs
	}
	failA := errors.New("a failed")
	newJob := func(aFails bool) *migrations.Job {
		a := migrations.SourceFunc(func(ctx context.Context, cursor string) iter.Seq2[migrations.SourceRecord, error] {
			return func(yield func(migrations.SourceRecord, error) bool) {
				// a can only proceed once b runs: proof they run together.
				select {
				case <-bStarted:
				case <-ctx.Done():
					yield(migrations.SourceRecord{}, ctx.Err())
					return
				}
				if aFails {
					yield(migrations.SourceRecord{}, failA)
					return
				}
				for _, r := range records("a", 30) {
					if !yield(r, nil) {
						return
					}
				}
			}
		})
		b := migrations.SourceFunc(func(ctx context.Context, cursor string) iter.Seq2[migrations.SourceRecord, error] {
			return func(yield func(migrations.SourceRecord, error) bool) {
				close(bStarted)
				for _, r := range records("b", 30) {
					if !yield(r, nil) {
						return
					}
				}
			}
		})
		return &migrations.Job{Name: "par", Steps: []*migrations.Step{
			{Name: "a", Source: a, Map: write, Target: tgt},
			{Name: "c", DependsOn: []string{"a"}, Source: &migrationstest.Source{Recs: records("c", 5)}, Map: write, Target: tgt},
			{Name: "b", Source: b, Map: write, Target: tgt},
		}}
	}
	var events []string
	progress := func(p migrations.StepProgress) {
		if p.Status != migrations.StatusRunning || p.Counts.Read == 0 {
			events = append(events, p.Step+":"+string(p.Status))
		}
	}
	sum, err := migrations.Run(t.Context(), newJob(false), migrations.RunOptions{Store: st, ParallelSteps: 2, BatchSize: 4, Progress: progress})
	if err != nil {
		t.Fatal(err)
	}
	pos := func(e string) int {
		for i, x := range events {
			if x == e {
				return i
			}
		}
		t.Fatalf("no event %s in %v", e, events)
		return -1
	}
	if pos("a:succeeded") > pos("c:running") {
		t.Errorf("c started before a succeeded: %v", events)
	}
	if got := sum.Total().Created; got != 65 {
		t.Errorf("created %d, want 65", got)
	}

	// When a fails, c (which needs a) never starts; b still finishes.
	bStarted = make(chan struct{})
	sum, err = migrations.Run(t.Context(), newJob(true), migrations.RunOptions{Store: st, ParallelSteps: 2, Restart: true})
	var se *migrations.StepError
	if !errors.As(err, &se) || se.Step != "a" || !errors.Is(err, failA) {
		t.Fatalf("err = %v", err)
	}
	status := map[string]migrations.Status{}
	for _, s := range sum.Steps {
		status[s.Step] = s.Status
	}
	if status["a"] != migrations.StatusFailed || status["b"] != migrations.StatusSucceeded || status["c"] != migrations.StatusPending {
		t.Errorf("statuses %v", status)
	}
}

// A record rejected once and written (or deliberately skipped) by a later
// run leaves the store's reject set.
func TestRejectsClearedByLaterRuns(t *testing.T) {
	st := openStore(t)
	tgt := migrationstest.NewTarget()
	src := migrationstest.NewSource(3, func(i int) map[string]any { return map[string]any{} })
	verdict := map[string]string{"1": "reject", "2": "reject", "3": "write"}
	job := &migrations.Job{Name: "j", Steps: []*migrations.Step{{Name: "s", Source: src, Target: tgt,
		Map: func(r migrations.SourceRecord, _ migrations.IDs) migrations.MapResult {
			switch verdict[r.ID] {
			case "reject":
				return migrations.Reject(errors.New("bad"))
			case "skip":
				return migrations.Skip("not wanted")
			}
			return migrations.Write(migrations.TargetRecord{Table: "t", Key: migrations.Key{ID: r.ID}})
		}}}}
	rejected := func() []string {
		var ids []string
		for r, err := range st.Rejects(t.Context(), "j", "s") {
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, r.SourceID)
		}
		return ids
	}
	if _, err := migrations.Run(t.Context(), job, migrations.RunOptions{Store: st}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rejected(), ","); got != "1,2" {
		t.Fatalf("rejects %q, want 1,2", got)
	}
	verdict["1"], verdict["2"] = "write", "skip"
	if _, err := migrations.Run(t.Context(), job, migrations.RunOptions{Store: st, Restart: true}); err != nil {
		t.Fatal(err)
	}
	if got := rejected(); len(got) != 0 {
		t.Errorf("rejects %v after the records were written or skipped", got)
	}
}

// warningsJob maps n records: every 10th is skipped and every 7th rejected
// by the mapping, each with one warning; every 3rd of the others is written
// with two warnings (an empty one is dropped); the rest are written
// without warnings.
func warningsJob(n int) (*migrations.Job, []migrations.Warning) {
	var want []migrations.Warning
	for i := 1; i <= n; i++ {
		id := strconv.Itoa(i)
		switch {
		case i%10 == 0:
			want = append(want, migrations.Warning{SourceID: id, Message: "archived " + id})
		case i%7 == 0:
			want = append(want, migrations.Warning{SourceID: id, Message: "no owner for " + id})
		case i%3 == 0:
			want = append(want, migrations.Warning{SourceID: id, Message: "owner of " + id + " falls back to default_owner"},
				migrations.Warning{SourceID: id, Message: "tag condition of " + id + " not expressible"})
		}
	}
	src := migrationstest.NewSource(n, func(i int) map[string]any { return map[string]any{"i": i} })
	job := &migrations.Job{Name: "warn", Steps: []*migrations.Step{{
		Name:   "cases",
		Source: src,
		Map: func(r migrations.SourceRecord, _ migrations.IDs) migrations.MapResult {
			i := r.Data["i"].(int)
			switch {
			case i%10 == 0:
				return migrations.Skip("archived").WithWarnings("archived " + r.ID)
			case i%7 == 0:
				return migrations.Reject(errors.New("no customer")).WithWarnings("no owner for " + r.ID)
			}
			res := migrations.Write(migrations.TargetRecord{Table: "incident", Key: migrations.Key{Alternate: map[string]any{"n": r.ID}}, Fields: map[string]any{"i": i}})
			if i%3 == 0 {
				res = res.WithWarnings("owner of "+r.ID+" falls back to default_owner", "").
					WithWarnings("tag condition of " + r.ID + " not expressible")
			}
			return res
		},
		Target: migrationstest.NewTarget(),
	}}}
	return job, want
}

func TestWarningsAreCountedWrittenAndSampled(t *testing.T) {
	ctx := t.Context()
	const n = 60
	job, want := warningsJob(n)
	store := openStore(t)
	var warnings, rejects bytes.Buffer
	sum, err := migrations.Run(ctx, job, migrations.RunOptions{Store: store, BatchSize: 4, Concurrency: 3,
		Warnings: &warnings, Rejects: &rejects, WarningSampleSize: 5})
	if err != nil {
		t.Fatal(err)
	}
	c := sum.Steps[0].Counts
	// Warnings are informational: the outcomes alone reconcile.
	if c.Read != n || c.Skipped != 6 || c.Rejected != 8 || c.Created != n-6-8 || c.Warned != int64(len(want)) {
		t.Fatalf("counts %+v, want read %d skipped 6 rejected 8 created %d warned %d", c, n, n-14, len(want))
	}
	if err := c.Reconcile("cases"); err != nil {
		t.Fatal(err)
	}
	if got := sum.Total().Warned; got != int64(len(want)) {
		t.Errorf("total warned %d, want %d", got, len(want))
	}

	// Every warning reaches the file, in source order despite concurrent
	// batches, with its step and source ID.
	var lines []migrations.WarningLine
	sc := bufio.NewScanner(&warnings)
	for sc.Scan() {
		var l migrations.WarningLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("bad line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	if len(lines) != len(want) {
		t.Fatalf("%d warning lines, want %d", len(lines), len(want))
	}
	for i, l := range lines {
		if l.Job != "warn" || l.Step != "cases" || l.RunID != sum.RunID || l.Time.IsZero() ||
			l.SourceID != want[i].SourceID || l.Message != want[i].Message {
			t.Errorf("line %d = %+v, want %+v", i, l, want[i])
		}
	}
	if strings.Count(rejects.String(), "\n") != 8 {
		t.Errorf("rejects file has %d lines, want 8", strings.Count(rejects.String(), "\n"))
	}

	// The summary keeps a bounded sample: the first warnings.
	if got := sum.Steps[0].Warnings; fmt.Sprint(got) != fmt.Sprint(want[:5]) {
		t.Errorf("sample %v, want %v", got, want[:5])
	}
	var js bytes.Buffer
	if err := sum.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var decoded struct {
		Steps []struct {
			Counts   migrations.Counts    `json:"counts"`
			Warnings []migrations.Warning `json:"warnings"`
		} `json:"steps"`
	}
	if err := json.Unmarshal(js.Bytes(), &decoded); err != nil {
		t.Fatal(err)
	}
	if d := decoded.Steps[0]; d.Counts.Warned != int64(len(want)) || len(d.Warnings) != 5 {
		t.Errorf("summary JSON: warned %d, %d sampled warnings", d.Counts.Warned, len(d.Warnings))
	}

	// The journal keeps the count.
	runs, err := store.Runs(ctx, "warn")
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].Steps[0].Counts != c {
		t.Errorf("journal %+v, want counts %+v", runs, c)
	}

	// A plan reports the same warnings; a negative sample size keeps none.
	plan, err := migrations.Plan(ctx, job, migrations.RunOptions{Restart: true, WarningSampleSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	if p := plan.Steps[0]; p.Counts.Warned != int64(len(want)) || p.Warnings != nil {
		t.Errorf("plan: warned %d, sample %v", p.Counts.Warned, p.Warnings)
	}
}

func TestWarnedIsOutsideReconciliation(t *testing.T) {
	if err := (migrations.Counts{Read: 2, Created: 1, Skipped: 1, Warned: 7}).Reconcile("s"); err != nil {
		t.Errorf("warned counts entered the reconciliation: %v", err)
	}
	if err := (migrations.Counts{Read: 2, Created: 1, Warned: 1}).Reconcile("s"); err == nil {
		t.Error("a missing record was made up by a warning")
	}
}
