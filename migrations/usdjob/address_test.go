package usdjob_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/dataverse/schema"
	"github.com/dvsync/dvsync/mapping/workspace"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/usdjob"
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
	return envFor(t, srv, &dataverse.ClientOptions{Schema: reg})
}

func TestAddressingAutoDetects(t *testing.T) {
	ctx := context.Background()
	res := translate(t, loadModel(t, "small.zip"))
	p, err := usdjob.Prepare(ctx, usdjob.Config{Dataverse: newEnv(t).c, Translation: res})
	if err != nil || p.Addressing != usdjob.AddressByKey || len(p.Keyless) != 0 {
		t.Errorf("with keys: %+v %v", p, err)
	}
	p, err = usdjob.Prepare(ctx, usdjob.Config{Dataverse: newKeylessEnv(t).c, Translation: res})
	// Only the tables the translation writes are read (small.zip has no
	// popup notification, so no notification tables).
	var want []string
	for _, r := range res.Records {
		if !slices.Contains(want, r.Table) {
			want = append(want, r.Table)
		}
	}
	slices.Sort(want)
	if err != nil || p.Addressing != usdjob.AddressByID || !slices.Equal(p.Keyless, want) {
		t.Errorf("without keys: %+v %v", p, err)
	}
	if _, err := usdjob.Prepare(ctx, usdjob.Config{Dataverse: newEnv(t).c, Translation: res, Addressing: "guid"}); err == nil {
		t.Error("unknown addressing accepted")
	}
}

// Without alternate keys the run writes by ID: deterministic IDs for new
// records, binds and links by ID, and the re-run is still a no-op.
func TestAddressByIDWithoutKeys(t *testing.T) {
	e := newKeylessEnv(t)
	res := translate(t, loadModel(t, "contoso.zip"))

	// Forcing keys fails record by record with Dataverse's answer (the
	// records that point at them are not even sent), and verification
	// finds nothing written.
	forced := migrate(t, e, res, openStore(t), func(c *usdjob.Config) { c.Addressing = usdjob.AddressByKey })
	if tot := forced.Total(); tot.Created != 0 || tot.Rejected != int64(len(res.Records)) || forced.OK() {
		t.Fatalf("by key without keys: %+v", tot)
	}
	if msg := forced.Records[0].Error; forced.Records[0].Outcome != migrations.Rejected || !strings.Contains(msg, "key") {
		t.Errorf("rejection does not mention the key: %+v", forced.Records[0])
	}
	if v := forced.Verification; v == nil || v.TotalRejected() != int64(len(res.Records)) {
		t.Errorf("verification of a run that wrote nothing: %+v", v)
	}

	store := openStore(t)
	run := migrate(t, e, res, store, nil)
	if run.Addressing != usdjob.AddressByID {
		t.Errorf("addressing %s", run.Addressing)
	}
	checkRun(t, run, len(res.Records), len(res.Associations))
	for _, o := range run.Records {
		if want := usdjob.RecordID(workspace.Ref{Table: o.Table, UniqueName: o.UniqueName}).String(); o.ID != want {
			t.Errorf("%s %s created with ID %s, want %s", o.Table, o.UniqueName, o.ID, want)
			break
		}
	}
	before := e.writes.Load()
	run = migrate(t, e, res, store, nil)
	checkRun(t, run, len(res.Records), len(res.Associations))
	if tot := run.Total(); tot.Unchanged != int64(len(res.Records)) || e.writes.Load() != before {
		t.Errorf("re-run: %+v, %d writes", tot, e.writes.Load()-before)
	}
}

// Without a key nothing stops a second record with the same unique name;
// Prepare lists it and verify reports it as a duplicate.
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
	store := openStore(t)
	run := migrate(t, e, res, store, nil)
	if tot := run.Total(); tot.Updated != 1 || !run.OK() {
		t.Fatalf("first run %+v", tot)
	}
	if _, err := e.c.Create(ctx, profile.Table, dataverse.Record{"msdyn_uniquename": profile.UniqueName, "msdyn_name": "Copy"}); err != nil {
		t.Fatal(err)
	}
	p, err := usdjob.Prepare(ctx, usdjob.Config{Dataverse: e.c, Translation: res})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Duplicates) != 1 || p.Duplicates[0] != profile.Ref() {
		t.Errorf("duplicates %v", p.Duplicates)
	}
	run, err = p.Migrate(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if tot := run.Total(); run.OK() || tot.Unchanged != int64(len(res.Records)) || run.Verification.Mismatches() != 1 {
		t.Fatalf("run %+v, verification %+v", tot, run.Verification)
	}
	for _, s := range run.Verification.Steps {
		for _, m := range s.Mismatches {
			if m.Kind != migrations.MismatchDuplicated || m.SourceID != profile.UniqueName || m.Found != 2 {
				t.Errorf("mismatch %+v", m)
			}
		}
	}
}
