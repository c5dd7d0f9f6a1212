package migrateodoo

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/dataverse/sink"
	"github.com/dvsync/dvsync/mapping/odoodv"
	"github.com/dvsync/dvsync/migrations/odoojob"
	"github.com/dvsync/dvsync/odoo/odooserver"
)

func runCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := NewCommand(output.NewStreams(strings.NewReader(""), &out, &errOut))
	cmd.SetArgs(append([]string{"odoo"}, args...))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func TestPrintDefaultMap(t *testing.T) {
	out, _, err := runCmd(t, "--print-default-map")
	if err != nil {
		t.Fatal(err)
	}
	if out != string(odoodv.DefaultMapYAML()) {
		t.Error("printed map is not the embedded default")
	}
	if _, err := odoodv.ParseMap([]byte(out)); err != nil {
		t.Errorf("printed map does not parse: %v", err)
	}
}

func TestCommandDryRunThenRun(t *testing.T) {
	s := startServers(t, smallSeed(t, 25))
	dir := t.TempDir()
	t.Setenv("DVSYNC_TOKEN", dvToken)
	t.Setenv("ODOO_API_KEY", odooKey)
	state := filepath.Join(dir, "state.db")
	base := []string{"--odoo", s.odooURL, "--odoo-db", odooserver.Database, "--odoo-user", "admin", "--env", s.dvURL,
		"--state", state, "--map", "../../../testdata/odoodv/demo-map.yaml"}

	out, _, err := runCmd(t, append(base, "--dry-run", "--json")...)
	if err != nil {
		t.Fatal(err)
	}
	var plan odoojob.Result
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !plan.DryRun || plan.Total().Read == 0 {
		t.Fatalf("plan %+v", plan.Summary)
	}
	for _, st := range plan.Steps {
		// The sink foresees each write: against an empty target every
		// case would be created.
		if st.Step == odoodv.StepCases && (st.Counts.Created != 25 || len(st.Sample) == 0) {
			t.Errorf("planned cases %+v with %d samples", st.Counts, len(st.Sample))
		}
	}
	// Nothing was written.
	n, err := sink.New(s.dv, nil).Count(context.Background(), "queue")
	if err != nil {
		t.Fatal(err)
	}
	before := n
	if _, err := os.Stat(filepath.Join(dir, "state.rejects.jsonl")); err == nil {
		t.Error("dry run created a rejects file")
	}
	// A dry run writes nothing anywhere: not even the state file; and it
	// speaks of what would happen, never of what was written.
	out, _, err = runCmd(t, append(base, "--dry-run")...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(state); err == nil {
		t.Error("dry run created the state file")
	}
	if !strings.Contains(out, "WOULD CREATE") || strings.Contains(out, "succeeded") || strings.Contains(out, "WRITTEN") {
		t.Errorf("dry run summary:\n%s", out)
	}

	out, _, err = runCmd(t, base...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"STEP", "cases", "25", "total", "succeeded"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	n, _ = sink.New(s.dv, nil).Count(context.Background(), "queue")
	if n != before+4 {
		t.Errorf("queues %d → %d, want 4 more", before, n)
	}
	// Running again resumes: every step is already done.
	out, _, err = runCmd(t, append(base, "--json")...)
	if err != nil {
		t.Fatal(err)
	}
	var again odoojob.Result
	json.Unmarshal([]byte(out), &again)
	if again.Total().Created != 0 {
		t.Errorf("second run created %d records", again.Total().Created)
	}
}

func TestCommandErrors(t *testing.T) {
	t.Setenv("ODOO_API_KEY", "")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--odoo", "http://127.0.0.1:1"}, "missing --odoo-db, --odoo-user"},
		{[]string{"--odoo", "http://127.0.0.1:1", "--odoo-db", "x", "--odoo-user", "u"}, "ODOO_API_KEY"},
		{[]string{"--map", "nope.yaml"}, "nope.yaml"},
		{[]string{"--batch-size", "0"}, "must be positive"},
	} {
		_, _, err := runCmd(t, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want %q", tt.args, err, tt.want)
		}
	}
}
