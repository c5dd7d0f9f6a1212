package migrateodoo

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dvsync/dvsync/cmd/internal/exitcode"
	"github.com/dvsync/dvsync/odoo/odooserver"
)

// Against an environment where no Odoo user has a Dataverse user (the
// built-in map matches users by their own address), the run rejects the
// users and skips what the map leaves out. Every skipped record is listed
// with its reason beside the rejects file, the summary groups skips and
// rejects by reason with counts, --json carries the groups and names both
// systems, and the run writes its HTML report (issue 11 items 4 and 10).
func TestSkipsAndRejectsWithReasons(t *testing.T) {
	s := startServers(t, smallSeed(t, 25))
	t.Setenv("DVSYNC_TOKEN", dvToken)
	t.Setenv("ODOO_API_KEY", odooKey)
	args := func(dir string) []string {
		return []string{"--odoo", s.odooURL, "--odoo-db", odooserver.Database, "--odoo-user", "admin", "--env", s.dvURL,
			"--state", filepath.Join(dir, "state.db"), "--quiet"}
	}
	dir := t.TempDir()
	out, errOut, err := runCmd(t, args(dir)...)
	if exitCode(err) != exitcode.Rejects {
		t.Fatalf("exit %d (%v), want %d for a run with rejects\n%s", exitCode(err), err, exitcode.Rejects, out)
	}
	if strings.Contains(errOut, "migrating") {
		t.Errorf("--quiet printed progress: %q", errOut)
	}
	skipsFile := filepath.Join(dir, "state.skips.jsonl")
	for _, re := range []string{
		`Skipped (\d+) records on purpose; each one, with its reason, is in ` + regexp.QuoteMeta(skipsFile) + `:`,
		`\n +1  users +Odoo's system user \(OdooBot\)  \(e\.g\. 1\)\n`,
		`Rejected (\d+) records; each one, with the record and its full error, is in ` + regexp.QuoteMeta(filepath.Join(dir, "state.rejects.jsonl")) + `:`,
		`\n +6  users +systemuser `,
		`Report: ` + regexp.QuoteMeta(filepath.Join(dir, "migration.html")),
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("summary does not match %s:\n%s", re, out)
		}
	}
	b, err := os.ReadFile(skipsFile)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for _, l := range lines {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil || v["reason"] == "" || v["sourceId"] == "" || v["step"] == "" {
			t.Errorf("skip line %s (%v)", l, err)
		}
	}
	if m := regexp.MustCompile(`Skipped (\d+) records`).FindStringSubmatch(out); m == nil || m[1] != itoa(len(lines)) {
		t.Errorf("summary skipped %v, file lists %d", m, len(lines))
	}
	page, err := os.ReadFile(filepath.Join(dir, "migration.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{s.odooURL, "database " + odooserver.Database, s.dvURL, "Odoo&#39;s system user (OdooBot)", "state.skips.jsonl", "What to do next"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("migration.html lacks %q", want)
		}
	}

	// --json: the groups, the files and both systems.
	dir = t.TempDir()
	out, _, _ = runCmd(t, append(args(dir), "--json")...)
	var res struct {
		Source, Target struct{ URL, Database string }
		SkipsFile      string
		Steps          []struct {
			Step   string
			Counts struct{ Skipped, Rejected int64 }
			Skips  []struct {
				Reason string
				Count  int64
			}
			Rejects []struct{ Count int64 }
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if res.Source.Database != odooserver.Database || !strings.HasPrefix(res.Target.URL, s.dvURL) || res.SkipsFile != filepath.Join(dir, "state.skips.jsonl") {
		t.Errorf("JSON names %+v → %+v, skips in %q", res.Source, res.Target, res.SkipsFile)
	}
	for _, st := range res.Steps {
		var skipped, rejected int64
		for _, g := range st.Skips {
			skipped += g.Count
		}
		for _, g := range st.Rejects {
			rejected += g.Count
		}
		if skipped != st.Counts.Skipped || rejected != st.Counts.Rejected {
			t.Errorf("%s: groups %d skipped %d rejected, counts %+v", st.Step, skipped, rejected, st.Counts)
		}
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
