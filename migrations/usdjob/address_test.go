package usdjob_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/dataverse/schema"
	"github.com/dvsync/dvsync/mapping/workspace"
	migrate "github.com/dvsync/dvsync/migrations/usdjob"
)

// newKeylessEnv is an environment like a real one out of the box: no
// alternate key on the workspace tables' unique names, none on workflow.
func newKeylessEnv(t *testing.T) *env {
	t.Helper()
	reg := schema.Default()
	for _, name := range workspace.TableOrder {
		tb, ok := reg.Table(name)
		if !ok {
			t.Fatalf("no %s in the catalogue", name)
		}
		tb.AlternateKeys = nil
	}
	srv, err := refserver.New(refserver.Options{Token: token, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	e := &env{}
	e.c, err = dataverse.NewClient(hs.URL, dataverse.StaticToken(token), &dataverse.ClientOptions{MaxRetries: 1, Schema: reg,
		Transport: countingTransport{base: hs.Client().Transport, writes: &e.writes}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestAddressingAutoDetects(t *testing.T) {
	ctx := context.Background()
	res := translate(t, loadModel(t, "small.zip"))
	mode, missing, err := (&migrate.Migrator{Client: newEnv(t).c, Result: res}).ResolveAddressing(ctx)
	if err != nil || mode != migrate.AddressByKey || len(missing) != 0 {
		t.Errorf("with keys: %s %v %v", mode, missing, err)
	}
	mode, missing, err = (&migrate.Migrator{Client: newKeylessEnv(t).c, Result: res}).ResolveAddressing(ctx)
	// Only the tables the translation writes are read (small.zip has no
	// popup notification, so no notification tables).
	var want []string
	for _, r := range res.Records {
		if !slices.Contains(want, r.Table) {
			want = append(want, r.Table)
		}
	}
	slices.Sort(want)
	if err != nil || mode != migrate.AddressByID || !slices.Equal(missing, want) {
		t.Errorf("without keys: %s %v %v", mode, missing, err)
	}
	if _, _, err := (&migrate.Migrator{Client: newEnv(t).c, Result: res, Options: migrate.Options{Addressing: "guid"}}).ResolveAddressing(ctx); err == nil {
		t.Error("unknown addressing accepted")
	}
}

// Without alternate keys the run writes by ID: deterministic IDs for new
// records, binds and links by ID, and the re-run is still a no-op.
func TestAddressByIDWithoutKeys(t *testing.T) {
	e := newKeylessEnv(t)
	ctx := context.Background()
	res := translate(t, loadModel(t, "contoso.zip"))

	// Forcing keys fails record by record with Dataverse's answer, and
	// verification finds nothing written.
	run, err := (&migrate.Migrator{Client: e.c, Result: res, Options: migrate.Options{Addressing: migrate.AddressByKey}}).Apply(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if run.Counts.Created != 0 || run.Counts.Rejected != len(res.Records) || run.OK() {
		t.Fatalf("by key without keys: %+v", run.Counts)
	}
	if msg := run.Records[0].Error; !strings.Contains(msg, "key") {
		t.Errorf("rejection does not mention the key: %s", msg)
	}

	var written atomic.Int64
	mg := &migrate.Migrator{Client: e.c, Result: res, Options: migrate.Options{Progress: func(migrate.Phase, int, int) { written.Add(1) }}}
	run, err = mg.Apply(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if run.Addressing != migrate.AddressByID {
		t.Errorf("addressing %s", run.Addressing)
	}
	checkRun(t, run, len(res.Records), len(res.Associations))
	for i, r := range run.Records {
		if want := migrate.RecordID(res.Records[i].Ref()).String(); r.ID != want {
			t.Errorf("%s %s created with ID %s, want %s", r.Table, r.UniqueName, r.ID, want)
			break
		}
	}
	before := e.writes.Load()
	run, err = mg.Apply(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, run, len(res.Records), len(res.Associations))
	if run.Counts.Unchanged != len(res.Records) || e.writes.Load() != before {
		t.Errorf("re-run: %+v, %d writes", run.Counts, e.writes.Load()-before)
	}
}

// Without a key nothing stops a second record with the same unique name;
// the plan lists it and verification says what to do.
func TestDuplicateUniqueNames(t *testing.T) {
	e := newKeylessEnv(t)
	ctx := context.Background()
	res := translate(t, loadModel(t, "small.zip"))
	var profile *workspace.Record
	for _, r := range res.Records {
		if r.Table == "msdyn_appconfiguration" {
			profile = r
		}
	}
	// A profile made by hand long ago that the first run takes over, then
	// a copy made today: the older one is kept in step.
	if _, err := e.c.Create(ctx, profile.Table, dataverse.Record{"msdyn_uniquename": profile.UniqueName, "msdyn_name": "Old",
		"overriddencreatedon": "2020-01-01T00:00:00Z"}); err != nil {
		t.Fatal(err)
	}
	mg := &migrate.Migrator{Client: e.c, Result: res}
	run, err := mg.Apply(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if run.Counts.Updated != 1 || !run.OK() {
		t.Fatalf("first run %+v", run.Counts)
	}
	if _, err := e.c.Create(ctx, profile.Table, dataverse.Record{"msdyn_uniquename": profile.UniqueName, "msdyn_name": "Copy"}); err != nil {
		t.Fatal(err)
	}
	plan, err := mg.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Duplicates) != 1 || plan.Duplicates[0] != profile.Ref() {
		t.Errorf("duplicates %v", plan.Duplicates)
	}
	run, err = mg.Apply(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	if run.OK() || run.Counts.Unchanged != len(res.Records) || len(run.Verification.Mismatches) != 1 || !strings.Contains(run.Verification.Mismatches[0].Problem, "1 more record(s) have this unique name") {
		t.Errorf("verification %+v", run.Verification.Mismatches)
	}
}
