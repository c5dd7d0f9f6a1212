package usdcmd

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dvsync/dvsync/cmd/internal/exitcode"
	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/mapping/workspace"
)

const migrateToken = "usdcmd-migrate"

// refEnv starts a reference Dataverse; wrap, when set, sits in front of
// it. writes counts the requests that are not reads.
func refEnv(t *testing.T, wrap func(http.Handler) http.Handler) (c *dataverse.Client, url string, writes *atomic.Int64) {
	t.Helper()
	srv, err := refserver.New(refserver.Options{Token: migrateToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	writes = &atomic.Int64{}
	var h http.Handler = srv
	if wrap != nil {
		h = wrap(srv)
	}
	inner := h
	h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			writes.Add(1)
		}
		inner.ServeHTTP(w, r)
	})
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	if c, err = dataverse.NewClient(hs.URL, dataverse.StaticToken(migrateToken), &dataverse.ClientOptions{MaxRetries: 1}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DVSYNC_TOKEN", migrateToken)
	return c, hs.URL, writes
}

// inTempDir runs the test in an empty directory, so that the default
// state file lands there and a test can see which files a command left.
func inTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	return dir
}

func decodeMigrate(t *testing.T, stdout string) *migrateOutput {
	t.Helper()
	var v migrateOutput
	if err := json.Unmarshal([]byte(stdout), &v); err != nil || v.Result == nil || v.Summary == nil {
		t.Fatalf("--json output: %v\n%s", err, stdout)
	}
	return &v
}

func files(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// The dry-run plan of the small fixture, as a person reads it: nothing is
// written to the environment and no state file is created.
func TestMigrateDryRunGolden(t *testing.T) {
	golden, _ := filepath.Abs(filepath.Join("testdata", "migrate-small-dry-run.golden.txt"))
	dir := inTempDir(t)
	c, url, writes := refEnv(t, nil)
	stdout, _, err := run(t, "migrate", "--from", fixture("small.zip"), "--to-env", url, "--dry-run")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.ReplaceAll(stdout, c.ServiceRoot(), "TARGET")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (UPDATE_GOLDEN=1 creates it)", err)
	}
	if got != string(want) {
		t.Errorf("dry-run output differs from %s (UPDATE_GOLDEN=1 after checking):\n%s", golden, got)
	}
	if n := writes.Load(); n != 0 {
		t.Errorf("the dry run sent %d writes", n)
	}
	if f := files(t, dir); len(f) != 0 {
		t.Errorf("the dry run left %v behind", f)
	}
}

// The whole USD flow on the realistic fixture: assess, migrate (written
// and verified), re-run (nothing written, everything unchanged and
// verified), dry run (nothing written, nothing would change, the state
// untouched).
func TestMigrateEndToEnd(t *testing.T) {
	dir := inTempDir(t)
	_, url, writes := refEnv(t, nil)
	if _, _, err := run(t, "assess", "--from", fixture("contoso.zip"), "--all-configurations", "--format", "json"); err != nil {
		t.Fatalf("assess: %v", err)
	}
	stdout, _, err := run(t, "migrate", "--from", fixture("contoso.zip"), "--to-env", url, "--all-configurations", "--json")
	if err != nil {
		t.Fatal(err)
	}
	first := decodeMigrate(t, stdout)
	tot := first.Total()
	if first.DryRun || first.Configuration != "" || first.State != defaultState || tot.Created == 0 || tot.Created != tot.Read ||
		tot.Rejected != 0 || !first.Verification.OK || len(first.Records) != int(tot.Read) || !first.OK() {
		t.Fatalf("first run: %+v, verification %+v", tot, first.Verification)
	}
	if len(first.Steps) != len(workspace.TableOrder) {
		t.Errorf("%d steps, want one per workspace table", len(first.Steps))
	}

	before := writes.Load()
	stdout, _, err = run(t, "migrate", "--from", fixture("contoso.zip"), "--to-env", url, "--all-configurations")
	if err != nil {
		t.Fatal(err)
	}
	if n := writes.Load() - before; n != 0 {
		t.Errorf("the re-run sent %d writes", n)
	}
	for _, want := range []string{"Migrated contoso.zip (all configurations)", "Verified: " + n(tot.Read) + " record(s) read back as written"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("re-run output lacks %q:\n%s", want, stdout)
		}
	}
	header, total := columns(stdout, "STEP"), columns(stdout, "total")
	col := func(name string) string {
		for i, h := range header {
			if h == name && i < len(total) {
				return total[i]
			}
		}
		return "?"
	}
	if col("CREATED") != "0" || col("UPDATED") != "0" || col("REJECTED") != "0" || col("UNCHANGED") != n(tot.Read) {
		t.Errorf("re-run totals %v under %v, want everything unchanged", total, header)
	}

	state := filepath.Join(dir, defaultState)
	info, err := os.Stat(state)
	if err != nil {
		t.Fatal(err)
	}
	before = writes.Load()
	stdout, _, err = run(t, "migrate", "--from", fixture("contoso.zip"), "--to-env", url, "--all-configurations", "--dry-run", "--json")
	if err != nil {
		t.Fatal(err)
	}
	plan := decodeMigrate(t, stdout)
	if pt := plan.Total(); !plan.DryRun || pt.Unchanged != tot.Read || plan.Verification != nil || plan.State != "" {
		t.Errorf("dry run after the run: %+v", pt)
	}
	after, err := os.Stat(state)
	if n := writes.Load() - before; n != 0 || err != nil || !after.ModTime().Equal(info.ModTime()) || after.Size() != info.Size() {
		t.Errorf("the dry run sent %d writes or touched the state (%v)", n, err)
	}
}

// columns splits the first line of out starting with prefix.
func columns(out, prefix string) []string {
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, prefix+" ") {
			return strings.Fields(line)
		}
	}
	return nil
}

// A target that acknowledges links without keeping them is caught by the
// verification, and the command says what to do.
func TestMigrateVerificationMismatch(t *testing.T) {
	inTempDir(t)
	_, url, _ := refEnv(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/$ref") {
				w.WriteHeader(http.StatusNoContent)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	stdout, _, err := run(t, "migrate", "--from", fixture("small.zip"), "--to-env", url)
	var exit *output.ExitError
	// The three links of the small fixture sit on two records (the
	// session template and the app profile); differences found exit with
	// the documented "finished with rejects or mismatches" code.
	if !errors.As(err, &exit) || exit.Code != exitcode.Rejects || !strings.Contains(err.Error(), "verification found 2 mismatch(es)") ||
		!strings.Contains(err.Error(), "not linked") || !strings.Contains(err.Error(), "Run the command again") {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(stdout, "Verification: 2 mismatch(es)") || strings.Count(stdout, "not linked") != 3 ||
		!strings.Contains(stdout, "msdyn_sessiontemplate_applicationtab: expected msdyn_applicationtabtemplate dvs_tab_bing_search, found not linked") {
		t.Errorf("summary does not list the differences:\n%s", stdout)
	}
}

func TestMigrateErrors(t *testing.T) {
	dir := inTempDir(t)
	t.Setenv("DVSYNC_TOKEN", "x")
	const target = "http://127.0.0.1:1/"
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"migrate", "--from", fixture("small.zip")}, 2, "--to-env URL is required"},
		{[]string{"migrate", "--to-env", target}, 2, "give --from FILE"},
		{[]string{"migrate", "--from", fixture("small.zip"), "--env", target, "--to-env", target}, 2, "not both"},
		{[]string{"migrate", "--from", fixture("small.zip"), "--to-env", target, "--all-configurations", "--configuration", "X"}, 2, "not both"},
		{[]string{"migrate", "--from", fixture("small.zip"), "--to-env", target, "--prefix", "9x"}, 2, "--prefix"},
		{[]string{"migrate", "--from", fixture("small.zip"), "--to-env", "http://example.com/", "--auth", "token"}, 2, "plain http"},
		{[]string{"migrate", "--from", fixture("contoso.zip"), "--to-env", target, "--configuration", "Nobody"}, 2, "Tier 2 Agents"},
		{[]string{"migrate", "--from", fixture("missing.zip"), "--to-env", target}, 1, "missing.zip"},
		{[]string{"migrate", "--from", fixture("small.zip"), "--to-env", target, "--address", "guid"}, 2, "use auto, key or id"},
		{[]string{"migrate", "--from", fixture("small.zip"), "--to-env", target, "--state", ""}, 2, "--state must name"},
		{[]string{"migrate", "--from", fixture("small.zip"), "--to-env", target}, 1, "cannot reach 127.0.0.1:1"},
	}
	for _, c := range cases {
		start := time.Now()
		_, _, err := run(t, c.args...)
		// Nothing listens on the target: the first request fails at once
		// (it used to be retried silently for minutes).
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("%v took %v", c.args, took)
		}
		var exit *output.ExitError
		if !errors.As(err, &exit) || exit.Code != c.code || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%v: err = %v, want code %d containing %q", c.args, err, c.code, c.msg)
		}
	}
	// A run that could not start leaves no state behind.
	if f := files(t, dir); len(f) != 0 {
		t.Errorf("failed runs left %v behind", f)
	}
}
