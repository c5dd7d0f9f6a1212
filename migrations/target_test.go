package migrations_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/migrationstest"
)

// environment is an in-memory target that names its organisation and
// answers Holds, as the Dataverse sink does.
type environment struct {
	*migrationstest.Target
	org, url string

	mu     sync.Mutex
	probes int
}

func newEnvironment(org, url string) *environment {
	return &environment{Target: migrationstest.NewTarget(), org: org, url: url}
}

func (e *environment) Identify(context.Context) (migrations.TargetInfo, error) {
	return migrations.TargetInfo{ID: e.org, URL: e.url}, nil
}

func (e *environment) Holds(_ context.Context, refs []migrations.Ref) ([]bool, error) {
	e.mu.Lock()
	e.probes++
	e.mu.Unlock()
	have := map[string]bool{}
	for _, r := range e.Rows() {
		have[r.Table+"|"+r.ID] = true
	}
	out := make([]bool, len(refs))
	for i, r := range refs {
		out[i] = have[r.Table+"|"+r.ID]
	}
	return out, nil
}

// twoStepJob writes 30 accounts, then 30 contacts pointing at them.
func twoStepJob(target migrations.Target) *migrations.Job {
	src := func() *migrationstest.Source {
		return migrationstest.NewSource(30, func(i int) map[string]any { return map[string]any{"n": i} })
	}
	return &migrations.Job{Name: "helpdesk", Steps: []*migrations.Step{
		{Name: "accounts", Source: src(), Target: target, Map: func(r migrations.SourceRecord, _ migrations.IDs) migrations.MapResult {
			return migrations.Write(migrations.TargetRecord{Table: "account", Key: migrations.Key{ID: migrations.DeterministicID("t", "account", r.ID)},
				Fields: map[string]any{"name": r.Field("n")}})
		}},
		{Name: "contacts", DependsOn: []string{"accounts"}, Source: src(), Target: target, Map: func(r migrations.SourceRecord, ids migrations.IDs) migrations.MapResult {
			acc, ok := ids.Lookup("accounts", r.ID)
			if !ok {
				return migrations.Reject(errors.New("no account"))
			}
			return migrations.Write(migrations.TargetRecord{Table: "contact", Key: migrations.Key{ID: migrations.DeterministicID("t", "contact", r.ID)},
				Fields: map[string]any{"parentcustomerid": acc.ID}})
		}},
	}}
}

func TestRunRefusesStateOfAnotherTarget(t *testing.T) {
	ctx := t.Context()
	st, err := migrations.OpenSQLite(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a := newEnvironment("org-a", "https://a.example/")
	// The first run records the target.
	if _, err := migrations.Run(ctx, twoStepJob(a), migrations.RunOptions{Store: st, BatchSize: 7}); err != nil {
		t.Fatal(err)
	}
	if got, ok, _ := st.Target(ctx, "helpdesk"); !ok || got.ID != "org-a" || got.URL != "https://a.example/" {
		t.Fatalf("recorded target %+v %v", got, ok)
	}
	runs, _ := st.Runs(ctx, "helpdesk")

	// Another organisation: refused before anything is written or journalled.
	b := newEnvironment("org-b", "https://b.example/")
	_, err = migrations.Run(ctx, twoStepJob(b), migrations.RunOptions{Store: st})
	var mismatch *migrations.TargetMismatchError
	if !errors.As(err, &mismatch) || mismatch.Step != "" || mismatch.Recorded.ID != "org-a" || mismatch.Current.ID != "org-b" {
		t.Fatalf("run against another organisation: %v", err)
	}
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "https://a.example/") || !strings.Contains(msg, "https://b.example/") {
		t.Errorf("message %q: one line naming both targets", msg)
	}
	// A dry run is refused as well: it would plan from the other ID map.
	if _, err := migrations.Plan(ctx, twoStepJob(b), migrations.RunOptions{Store: st}); !errors.As(err, &mismatch) {
		t.Errorf("plan against another organisation: %v", err)
	}

	// The same organisation, emptied (a sandbox reset, a new reference
	// server): the records the last checkpoints wrote are gone.
	reset := newEnvironment("org-a", "https://a.example/")
	_, err = migrations.Run(ctx, twoStepJob(reset), migrations.RunOptions{Store: st})
	if !errors.As(err, &mismatch) || mismatch.Step == "" || mismatch.Missing == 0 {
		t.Fatalf("run against an emptied environment: %v", err)
	}
	if b.Calls()+reset.Calls() != 0 {
		t.Errorf("refused runs wrote %d batches", b.Calls()+reset.Calls())
	}
	if again, _ := st.Runs(ctx, "helpdesk"); len(again) != len(runs) {
		t.Errorf("refused runs were journalled: %d → %d", len(runs), len(again))
	}
	if got, _, _ := st.Target(ctx, "helpdesk"); got.ID != "org-a" {
		t.Errorf("a refused run changed the recorded target: %+v", got)
	}

	// A caller that probed the checkpoints itself (TargetProbed) has Run
	// check only the organisation: another one is still refused, and no
	// record is read back.
	if _, err := migrations.Run(ctx, twoStepJob(b), migrations.RunOptions{Store: st, TargetProbed: true}); !errors.As(err, &mismatch) {
		t.Errorf("TargetProbed run against another organisation: %v", err)
	}
	probed := newEnvironment("org-a", "https://a.example/")
	probed.Target = a.Target
	if _, err := migrations.Run(ctx, twoStepJob(probed), migrations.RunOptions{Store: st, TargetProbed: true}); err != nil {
		t.Errorf("TargetProbed resume: %v", err)
	}
	if probed.probes != 0 {
		t.Errorf("a TargetProbed run read back records %d times", probed.probes)
	}

	// The right environment, with a user's deletions: one record of each
	// sample is enough, and the run resumes (nothing left to do).
	cp, err := st.Checkpoint(ctx, "helpdesk", "contacts")
	if err != nil || len(cp.Written) < 2 {
		t.Fatalf("contacts checkpoint %+v %v", cp, err)
	}
	for _, r := range cp.Written[1:] {
		a.Delete(r.Table, migrations.Key{ID: r.ID})
	}
	if _, err := migrations.Run(ctx, twoStepJob(a), migrations.RunOptions{Store: st}); err != nil {
		t.Errorf("resume against the right environment: %v", err)
	}
	if a.probes == 0 {
		t.Error("the resume did not read back any record")
	}

	// Clear, then the emptied environment gets a clean run of its own.
	if err := st.Clear(ctx, "helpdesk"); err != nil {
		t.Fatal(err)
	}
	sum, err := migrations.Run(ctx, twoStepJob(reset), migrations.RunOptions{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if c := sum.Total(); c.Created != 60 || c.Rejected != 0 {
		t.Errorf("fresh run %+v", c)
	}
	if len(reset.Rows()) != 60 {
		t.Errorf("fresh run left %d rows", len(reset.Rows()))
	}
}

func TestConfirmTargetRecordsOnlyWhenAsked(t *testing.T) {
	ctx := t.Context()
	st, err := migrations.OpenSQLite(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a := newEnvironment("org-a", "https://a.example/")
	if _, err := migrations.Plan(ctx, twoStepJob(a), migrations.RunOptions{Store: st}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := st.Target(ctx, "helpdesk"); ok {
		t.Error("a dry run recorded the target")
	}
	if _, err := migrations.Run(ctx, twoStepJob(a), migrations.RunOptions{Store: st}); err != nil {
		t.Fatal(err)
	}
	// The same organisation at another URL: the URL follows.
	moved := &environment{Target: a.Target, org: "org-a", url: "https://a-custom.example/"}
	if err := migrations.ConfirmTarget(ctx, twoStepJob(moved), st, migrations.ConfirmOptions{Probe: true, Record: true}); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := st.Target(ctx, "helpdesk"); got.URL != "https://a-custom.example/" {
		t.Errorf("URL not updated: %+v", got)
	}
	// Without Probe (verify), an emptied environment of the same
	// organisation passes: verify itself reports what is missing.
	empty := newEnvironment("org-a", "https://a.example/")
	if err := migrations.ConfirmTarget(ctx, twoStepJob(empty), st, migrations.ConfirmOptions{}); err != nil {
		t.Errorf("verify-style confirm: %v", err)
	}
	if empty.probes != 0 {
		t.Error("probed without Probe")
	}
	// A target that cannot name itself is not checked.
	if err := migrations.ConfirmTarget(ctx, twoStepJob(migrationstest.NewTarget()), st, migrations.ConfirmOptions{Probe: true}); err != nil {
		t.Errorf("anonymous target: %v", err)
	}
}
