package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/migrations/compare"
	"github.com/dvsync/dvsync/testdata"
)

// runDemo runs `dvsync demo ARGS...` as the command line would.
func runDemo(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var o, e bytes.Buffer
	cmd := NewCommand(output.NewStreams(strings.NewReader(""), &o, &e))
	cmd.SetArgs(args)
	err = cmd.ExecuteContext(context.Background())
	return o.String(), e.String(), err
}

// TestDemo runs the demo with its defaults from an empty folder (issue 11
// item 2: the fixtures are in the binary, not in the working directory),
// then again in the same --out folder, whose state belongs to the first
// run's servers (item 1: the second run starts fresh and is as clean as the
// first).
func TestDemo(t *testing.T) {
	t.Chdir(t.TempDir())
	out := "reports"
	stdout, stderr, err := runDemo(t, "--out", out)
	if err != nil {
		t.Fatalf("demo from an empty folder: %v\n%s", err, stderr)
	}
	for _, f := range []string{"usd-assessment.html", "usd-assessment.md", "usd-assessment.json", "usd-migration.json",
		"odoo-migration.json", "verify.html", "verify.json", compare.FileHTML, compare.FileJSON, "summary.json"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	var sum Summary
	b, _ := os.ReadFile(filepath.Join(out, "summary.json"))
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Verify == nil || !sum.Verify.OK || sum.USD == nil || sum.USD.Migration.Rejected != 0 || sum.Odoomig.Total().Rejected != 0 {
		t.Errorf("summary: %s", b)
	}
	// The comparison ran after the migration (issue 17): after a clean
	// migration every ticket has its case and nothing differs, and its
	// report is listed with the others.
	// The cases only in Dataverse are exactly the ones the reference
	// environment held before (its seed's own).
	var cases int64
	for _, st := range sum.Odoomig.Steps {
		if st.Step == "cases" {
			cases = st.Counts.Read
		}
	}
	if c := sum.Compare; c == nil || cases == 0 || c.Matched != cases || c.OnlyInOdoo != 0 || c.Differing != 0 ||
		c.CasesBefore == 0 || c.OnlyInDataverse != c.CasesBefore || c.Differences() != 0 {
		t.Errorf("compare: %+v", sum.Compare)
	}
	if !strings.Contains(stdout, "  "+filepath.Join(out, compare.FileHTML)+"\n") || !strings.Contains(stdout, "Compare: ") {
		t.Errorf("output does not list the comparison:\n%s", stdout)
	}
	// Servers bind to loopback only.
	for _, u := range []string{sum.Dataverse, sum.Odoo} {
		if !strings.HasPrefix(u, "http://127.0.0.1:") {
			t.Errorf("server URL %s is not loopback", u)
		}
	}
	// The warnings file is written even when empty, and matches the count.
	wb, err := os.ReadFile(filepath.Join(out, "odoo-warnings.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if n := int64(bytes.Count(wb, []byte("\n"))); n != sum.Odoomig.Warned || n != sum.Odoomig.Total().Warned {
		t.Errorf("odoo-warnings.jsonl has %d lines, summary says %d (steps %d)", n, sum.Odoomig.Warned, sum.Odoomig.Total().Warned)
	}
	if want := fmt.Sprintf("; %d mapping warnings", sum.Odoomig.Warned); !strings.Contains(stdout, want) {
		t.Errorf("output does not give the warning count %q:\n%s", want, stdout)
	}
	if !strings.Contains(stdout, "Reports are in "+out) {
		t.Errorf("output does not name the folder:\n%s", stdout)
	}

	// Again, in the folder that now holds the first run's state.
	stdout, stderr, err = runDemo(t, "--out", out, "--usd", "", "--json")
	if err != nil {
		t.Fatalf("second demo in the same folder: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "starting fresh in "+out) {
		t.Errorf("second run does not say it starts fresh:\n%s", stderr)
	}
	var again Summary
	if err := json.Unmarshal([]byte(stdout), &again); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if again.Verify == nil || !again.Verify.OK || again.Odoomig.Total().Rejected != 0 || again.Odoomig.Total().Read != sum.Odoomig.Total().Read {
		t.Errorf("second run is not a fresh one: %s", stdout)
	}
}

// TestDemoRefusesForeignState: a state file no demo wrote is never removed.
func TestDemoRefusesForeignState(t *testing.T) {
	out := t.TempDir()
	if err := os.WriteFile(filepath.Join(out, stateFile), []byte("not the demo's"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := runDemo(t, "--out", out)
	if err == nil || !strings.Contains(err.Error(), "no dvsync demo wrote") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("want a one-line refusal, got %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(out, stateFile)); string(b) != "not the demo's" {
		t.Errorf("the foreign state file was touched")
	}
}

// TestEmbeddedFixtures: the built-in fixtures are the checkout's files.
func TestEmbeddedFixtures(t *testing.T) {
	for _, p := range []string{testdata.DataverseSeed + "/17-incidents.json", testdata.OdooSeed + "/helpdesk.ticket.jsonl", testdata.USD, testdata.DemoMap, "odoodv/demo-users.csv"} {
		emb, err := fs.ReadFile(testdata.FS(), p)
		if err != nil {
			t.Fatal(err)
		}
		disk, err := os.ReadFile(filepath.Join("../../../testdata", filepath.FromSlash(p)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(emb, disk) {
			t.Errorf("%s: embedded copy differs from the file", p)
		}
	}
	if _, err := loadMap(""); err != nil {
		t.Errorf("built-in map: %v", err)
	}
}

func TestDemoNeedsFixtures(t *testing.T) {
	_, err := Run(context.Background(), Options{Out: t.TempDir(), DataverseSeed: "nope", OdooSeed: "nope", Map: "nope"})
	if err == nil || !strings.Contains(err.Error(), "--dataverse-seed") {
		t.Errorf("missing fixtures: %v", err)
	}
}
