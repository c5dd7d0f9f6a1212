package odoojob

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"testing"

	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/odoo/odooserver"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestPlanGolden plans the migration of the seed with the demo map and
// compares the counts and the first records of every step with
// testdata/odoodv/golden/seed-plan.json (go test -run PlanGolden -update
// rewrites it). A change to the mapping shows here as a reviewable diff.
func TestPlanGolden(t *testing.T) {
	t.Parallel()
	s := startServers(t, "../../testdata/odoo/seed", nil)
	p, err := Prepare(context.Background(), Config{Odoo: s.odoo, Database: odooserver.Database, Dataverse: s.dv, Map: demoMap(t)})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := migrations.Plan(context.Background(), p.Job, migrations.RunOptions{SampleSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	type step struct {
		Step   string                            `json:"step"`
		Counts migrations.Counts                 `json:"counts"`
		Tables map[string]migrations.TableCounts `json:"tables"`
		Sample []migrations.TargetRecord         `json:"sample"`
	}
	var got []step
	for _, st := range sum.Steps {
		got = append(got, step{st.Step, st.Counts, st.Tables, st.Sample})
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(got); err != nil {
		t.Fatal(err)
	}
	const golden = "../../testdata/odoodv/golden/seed-plan.json"
	if *update {
		os.MkdirAll("../../testdata/odoodv/golden", 0o755)
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(want, b.Bytes()) {
		os.WriteFile(golden+".got", b.Bytes(), 0o644)
		t.Errorf("plan differs from %s; see %s.got (run with -update if the change is intended)", golden, golden)
	}
}
