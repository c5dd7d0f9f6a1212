package migrations_test

import (
	"bytes"
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/migrationstest"
)

// storedSkips groups the store's current skips of a step by reason, and
// counts them by run.
func storedSkips(t *testing.T, st migrations.Store, job, step string) (byReason, byRun map[string]int64, ids []string) {
	t.Helper()
	byReason, byRun = map[string]int64{}, map[string]int64{}
	for k, err := range st.Skips(t.Context(), job, step) {
		if err != nil {
			t.Fatal(err)
		}
		byReason[k.Reason]++
		byRun[k.RunID]++
		ids = append(ids, k.SourceID)
	}
	return byReason, byRun, ids
}

func groupCounts(gs ...[]migrations.ReasonGroup) map[string]int64 {
	m := map[string]int64{}
	for _, g := range gs {
		for _, r := range g {
			m[r.Reason] += r.Count
		}
	}
	return m
}

// The store keeps exactly the records a run's summary counts as skipped,
// with their reasons: across a run stopped by a failed batch and its
// resume (batches not committed leave no rows, and their records are
// skipped again on resume without doubling), and after a restart that
// writes, rejects or skips the same records otherwise. A coordinator of
// several processes can therefore group and list skips from the store.
func TestStoredSkipsReconcileWithSummaries(t *testing.T) {
	const n = 300
	st := openStore(t)
	tgt := migrationstest.NewTarget()
	src := migrationstest.NewSource(n, func(i int) map[string]any { return map[string]any{"i": i} })
	later := false
	verdict := func(i int) string {
		switch {
		case !later && i%7 == 0:
			return "skip:no e-mail"
		case !later && i%5 == 0:
			return "skip:archived"
		case later && i%7 == 0:
			return "reject"
		case i%11 == 0:
			if later {
				return "skip:duplicate"
			}
			return "reject"
		}
		return "write"
	}
	tgt.Reject = func(r migrations.TargetRecord) error {
		if r.Fields["i"].(int)%13 == 0 {
			return errors.New("refused by the target")
		}
		return nil
	}
	job := &migrations.Job{Name: "j", Steps: []*migrations.Step{{Name: "s", Source: src, Target: tgt,
		Map: func(r migrations.SourceRecord, _ migrations.IDs) migrations.MapResult {
			v := verdict(r.Data["i"].(int))
			switch {
			case v == "reject":
				return migrations.Reject(errors.New("no name"))
			case v != "write":
				return migrations.Skip(v[len("skip:"):])
			}
			return migrations.Write(migrations.TargetRecord{Table: "t", Key: migrations.Key{ID: r.ID}, Fields: map[string]any{"i": r.Data["i"]}})
		}}}}
	want := map[string]int64{}
	for i := 1; i <= n; i++ {
		if v := verdict(i); v != "write" && v != "reject" {
			want[v[len("skip:"):]]++
		}
	}

	// The twelfth batch fails: the run stops with what it committed.
	tgt.Fault = func(call int, _ []migrations.TargetRecord) (int, error) {
		if call == 12 {
			return 0, errors.New("connection reset")
		}
		return 0, nil
	}
	o := migrations.RunOptions{Store: st, BatchSize: 10, Concurrency: 3}
	sum1, err := migrations.Run(t.Context(), job, o)
	if err == nil {
		t.Fatal("the run with a failing batch succeeded")
	}
	tgt.Fault = nil
	byReason, byRun, _ := storedSkips(t, st, "j", "s")
	if got, want := byReason, groupCounts(sum1.Steps[0].Skips); !maps.Equal(got, want) {
		t.Errorf("stored skips after the failed run %v, summary %v", got, want)
	}
	if byRun[sum1.RunID] != sum1.Steps[0].Counts.Skipped || sum1.Steps[0].Counts.Skipped == 0 || sum1.Steps[0].Counts.Skipped >= want["no e-mail"]+want["archived"] {
		t.Errorf("the failed run skipped %d, the store holds %v", sum1.Steps[0].Counts.Skipped, byRun)
	}

	sum2, err := migrations.Run(t.Context(), job, o)
	if err != nil {
		t.Fatal(err)
	}
	byReason, byRun, _ = storedSkips(t, st, "j", "s")
	if !maps.Equal(byReason, want) || !maps.Equal(groupCounts(sum1.Steps[0].Skips, sum2.Steps[0].Skips), want) {
		t.Errorf("stored skips %v, summaries %v + %v, want %v", byReason, sum1.Steps[0].Skips, sum2.Steps[0].Skips, want)
	}
	if byRun[sum1.RunID] != sum1.Steps[0].Counts.Skipped || byRun[sum2.RunID] != sum2.Steps[0].Counts.Skipped {
		t.Errorf("stored skips by run %v; runs skipped %d and %d", byRun, sum1.Steps[0].Counts.Skipped, sum2.Steps[0].Counts.Skipped)
	}

	// Read again with other verdicts: the records skipped before are now
	// written or rejected, and some rejected before are skipped.
	later = true
	o.Restart = true
	var skipLines bytes.Buffer
	o.Skips = &skipLines
	sum3, err := migrations.Run(t.Context(), job, o)
	if err != nil {
		t.Fatal(err)
	}
	byReason, byRun, ids := storedSkips(t, st, "j", "s")
	if got, want := byReason, groupCounts(sum3.Steps[0].Skips); !maps.Equal(got, want) || len(got) != 1 || got["duplicate"] == 0 {
		t.Errorf("stored skips after the restart %v, summary %v", got, want)
	}
	if len(byRun) != 1 || byRun[sum3.RunID] != sum3.Steps[0].Counts.Skipped {
		t.Errorf("stored skips by run %v after run %s", byRun, sum3.RunID)
	}
	var lineIDs []string
	for _, l := range jsonLines(t, &skipLines) {
		lineIDs = append(lineIDs, l["sourceId"].(string))
	}
	slices.Sort(lineIDs)
	slices.Sort(ids)
	if !slices.Equal(ids, lineIDs) {
		t.Errorf("stored skips %v, skips file %v", ids, lineIDs)
	}
	var rejected int64
	for r, err := range st.Rejects(t.Context(), "j", "s") {
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(ids, r.SourceID) {
			t.Errorf("record %s is both skipped and rejected", r.SourceID)
		}
		rejected++
	}
	if rejected != sum3.Steps[0].Counts.Rejected {
		t.Errorf("store holds %d rejects, the run rejected %d", rejected, sum3.Steps[0].Counts.Rejected)
	}
	if sum3.Steps[0].Counts.Read != n {
		t.Errorf("the restart read %d", sum3.Steps[0].Counts.Read)
	}
}
