package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/migrations/compare"
	"github.com/dvsync/dvsync/migrations/reportstyle"
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
		"migration.html", "migration.json", "odoo-skips.jsonl", "verify.html", "verify.json", "verify-skips.jsonl",
		compare.FileHTML, compare.FileJSON, "summary.json"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
		if !strings.Contains(stdout, "  "+filepath.Join(out, f)+"\n") {
			t.Errorf("output does not list %s:\n%s", f, stdout)
		}
	}
	var sum Summary
	b, _ := os.ReadFile(filepath.Join(out, "summary.json"))
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	// One JSON naming style (issue 11 item 10): camelCase, as everywhere.
	for _, k := range []string{`"odooMigration":`, `"timingsSeconds":`, `"verificationMismatches":`} {
		if !bytes.Contains(b, []byte(k)) {
			t.Errorf("summary.json has no %s", k)
		}
	}
	if k := regexp.MustCompile(`"[a-z0-9]+_[a-z0-9_]*"\s*:`).Find(b); k != nil {
		t.Errorf("summary.json has a snake_case key %s", k)
	}
	// The migration's report names both systems (item 10).
	page, err := os.ReadFile(filepath.Join(out, "migration.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Odoo helpdesk", strings.TrimPrefix(sum.Odoo, "http://"), "Dynamics 365 (Dataverse)", strings.TrimPrefix(sum.Dataverse, "http://")} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("migration.html does not name %q", want)
		}
	}
	checkSkips(t, stdout, filepath.Join(out, "odoo-skips.jsonl"), &sum)
	checkModes(t, out)
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

// checkSkips: every skipped record is in the skips file with its reason,
// and the summary prints the reasons grouped with their counts (issue 11
// item 4).
func checkSkips(t *testing.T, stdout, skipsFile string, sum *Summary) {
	t.Helper()
	total := sum.Odoomig.Total().Skipped
	if total == 0 {
		t.Fatal("the demo skipped nothing: nothing to check")
	}
	b, err := os.ReadFile(skipsFile)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	if int64(len(lines)) != total {
		t.Errorf("%s lists %d records, the summary counts %d skipped", skipsFile, len(lines), total)
	}
	for _, l := range lines {
		var skip struct{ Step, SourceID, Reason string }
		if err := json.Unmarshal(l, &skip); err != nil || skip.Reason == "" || skip.SourceID == "" {
			t.Errorf("skip line without its record or reason (%v): %s", err, l)
		}
	}
	if !strings.Contains(stdout, fmt.Sprintf("%d Odoo records skipped on purpose, by reason (each one is in %s)", total, skipsFile)) {
		t.Errorf("output does not announce the skipped records and their file:\n%s", stdout)
	}
	var grouped int64
	for _, st := range sum.Odoomig.Steps {
		for _, g := range st.Skips {
			grouped += g.Count
			line := regexp.MustCompile(fmt.Sprintf(`\n +%d  %s +%s  \(e\.g\. `, g.Count, regexp.QuoteMeta(st.Step), regexp.QuoteMeta(g.Reason)))
			if !line.MatchString(stdout) {
				t.Errorf("output does not show %d %s skipped for %q:\n%s", g.Count, st.Step, g.Reason, stdout)
			}
		}
	}
	if grouped != total {
		t.Errorf("skip groups add up to %d, not %d", grouped, total)
	}
}

// checkModes: every report and data file of the folder has the one file
// mode (reportstyle.FileMode less the umask) of a file created the same
// way here; the state database and its lock may differ.
func checkModes(t *testing.T, dir string) {
	t.Helper()
	probe, err := reportstyle.Create(filepath.Join(t.TempDir(), "probe"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := probe.Stat()
	probe.Close()
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), stateFile) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != want.Mode().Perm() {
			t.Errorf("%s has mode %v, not the %v of every report and data file", e.Name(), info.Mode().Perm(), want.Mode().Perm())
		}
	}
}
