package migrateodoo

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/dvsync/dvsync/cmd/internal/exitcode"
	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/migrations/distribute"
	"github.com/dvsync/dvsync/migrations/pgstore/pgtest"
	"github.com/dvsync/dvsync/odoo/odooserver"
)

// TestDistributedRunWritesItsReport: `migrate odoo --distribute` prints
// the grouped summary and writes migration.html naming both systems, as a
// single-process run does (issue 11 items 4 and 10). The workers keep
// skipped and rejected records in the shared state, so the summary groups
// both by reason and the coordinator's skips and rejects files list as
// many records as the counts say. Its workers report mapping warnings
// only as counts, so --warnings is refused before anything is written.
func TestDistributedRunWritesItsReport(t *testing.T) {
	base := pgtest.URL(t)
	schemas := pgtest.Schemas(t, base, "migdist", "river", "state")
	river := distribute.Options{Schema: schemas[0]}
	state := pgtest.SearchPath(t, base, schemas[1])

	// The built-in map finds no Dataverse user for the Odoo users: they
	// are rejected, and the map skips what it leaves out.
	s := startServers(t, smallSeed(t, 25))
	t.Setenv("DVSYNC_TOKEN", dvToken)
	t.Setenv("ODOO_API_KEY", odooKey)
	dir := t.TempDir()
	rejects := filepath.Join(dir, "rejects.jsonl")
	args := []string{"odoo", "--odoo", s.odooURL, "--odoo-db", odooserver.Database, "--odoo-user", "admin", "--env", s.dvURL,
		"--state", state, "--distribute", "--report", dir, "--rejects", rejects, "--quiet"}
	run := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		cmd := odooCommand(output.NewStreams(strings.NewReader(""), &out, &errOut), &options{dist: distOptions{river: river}})
		cmd.SetArgs(args[1:])
		cmd.SetOut(&out)
		cmd.SetErr(&errOut)
		err := cmd.ExecuteContext(context.Background())
		return out.String() + errOut.String(), err
	}

	if _, err := run(append(args, "--warnings", filepath.Join(dir, "warnings.jsonl"))...); exitCode(err) != exitcode.Usage || !strings.Contains(err.Error(), "--warnings") {
		t.Fatalf("--warnings with --distribute: exit %d: %v", exitCode(err), err)
	}
	if _, err := os.Stat(rejects); !os.IsNotExist(err) {
		t.Fatalf("the refused run opened the rejects file: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	w, err := distribute.NewWorker(ctx, distribute.WorkerOptions{Options: river, State: state, Concurrency: 2, Requests: 8})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); w.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })

	out, err := run(args...)
	if exitCode(err) != exitcode.Rejects {
		t.Fatalf("exit %d (%v), want %d for a run with rejects\n%s", exitCode(err), err, exitcode.Rejects, out)
	}
	skips := filepath.Join(dir, "skips.jsonl")
	for _, want := range []string{
		"on purpose; each one, with its reason, is in " + skips + ":\n",
		"records; each one, with the record and its full error, is in " + rejects,
		"Report: " + filepath.Join(dir, "migration.html"),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "not grouped by reason") {
		t.Errorf("summary says the records are not grouped:\n%s", out)
	}
	if strings.Contains(out, "units enqueued") {
		t.Errorf("--quiet printed progress:\n%s", out)
	}
	// Each file lists exactly as many records as the summary counts.
	for _, f := range []struct{ file, pattern string }{
		{skips, `Skipped ([0-9,]+) records? on purpose`},
		{rejects, `Rejected ([0-9,]+) records?`},
	} {
		m := regexp.MustCompile(f.pattern).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("summary has no %q line:\n%s", f.pattern, out)
		}
		want, _ := strconv.Atoi(strings.ReplaceAll(m[1], ",", ""))
		b, err := os.ReadFile(f.file)
		if err != nil {
			t.Fatal(err)
		}
		if got := bytes.Count(b, []byte("\n")); got != want || want == 0 {
			t.Errorf("%s lists %d records, the summary counts %d", f.file, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "warnings.jsonl")); !os.IsNotExist(err) {
		t.Errorf("a warnings file was written: the workers list no warnings (%v)", err)
	}
	page, err := os.ReadFile(filepath.Join(dir, "migration.html"))
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	for _, want := range []string{s.odooURL, "database " + odooserver.Database, s.dvURL, "rejects.jsonl"} {
		if !strings.Contains(html, want) {
			t.Errorf("migration.html lacks %q", want)
		}
	}
	for _, h := range []string{"Rejected records</h2>", "Skipped records</h2>"} {
		i := strings.Index(html, h)
		if i < 0 {
			t.Fatalf("migration.html has no %s", h)
		}
		section := html[i:]
		if j := strings.Index(section[len(h):], "<h2>"); j >= 0 {
			section = section[:len(h)+j]
		}
		if strings.Contains(section, "None.") {
			t.Errorf("migration.html says None under %s although the run counted some:\n%s", h, section)
		}
	}
}
