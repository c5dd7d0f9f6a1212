package usdcmd

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dvsync/dvsync/cmd/internal/exitcode"
	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/dataverse/schema"
	"github.com/dvsync/dvsync/mapping/workspace"
	"github.com/dvsync/dvsync/usd"
	"github.com/dvsync/dvsync/usd/cmtseed"
)

const migrateToken = "usdcmd-migrate"

// refEnv starts a reference Dataverse; wrap, when set, sits in front of it.
func refEnv(t *testing.T, wrap func(http.Handler) http.Handler) (*dataverse.Client, string) {
	t.Helper()
	srv, err := refserver.New(refserver.Options{Token: migrateToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	var h http.Handler = srv
	if wrap != nil {
		h = wrap(srv)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	c, err := dataverse.NewClient(hs.URL, dataverse.StaticToken(migrateToken), &dataverse.ClientOptions{MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("DVSYNC_TOKEN", migrateToken)
	return c, hs.URL
}

type migrateJSON struct {
	Source        string `json:"source"`
	Configuration string `json:"configuration"`
	DryRun        bool   `json:"dryRun"`
	Plan          *struct {
		Counts struct{ Create, Update, Unchanged, AssociationsAdd int }
	} `json:"plan"`
	Run *struct {
		Counts struct {
			Records, Created, Updated, Unchanged, Rejected int
			AssociationsAdded, AssociationsPresent         int
		} `json:"counts"`
		Verification struct {
			Records    int   `json:"records"`
			Mismatches []any `json:"mismatches"`
		} `json:"verification"`
	} `json:"run"`
	Tables []struct {
		Table   string `json:"table"`
		Created int    `json:"created"`
	} `json:"tables"`
}

func decodeMigrate(t *testing.T, stdout string) migrateJSON {
	t.Helper()
	var v migrateJSON
	if err := json.Unmarshal([]byte(stdout), &v); err != nil {
		t.Fatalf("--json output: %v\n%s", err, stdout)
	}
	return v
}

// The dry-run plan of the small fixture, as a person reads it; nothing is
// written.
func TestMigrateDryRunGolden(t *testing.T) {
	c, url := refEnv(t, nil)
	stdout, _, err := run(t, "migrate", "--from", fixture("small.zip"), "--to-env", url, "--dry-run")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.ReplaceAll(stdout, c.ServiceRoot(), "TARGET")
	path := filepath.Join("testdata", "migrate-small-dry-run.golden.txt")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		_ = os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (UPDATE_GOLDEN=1 creates it)", err)
	}
	if got != string(want) {
		t.Errorf("dry-run output differs from %s (UPDATE_GOLDEN=1 after checking):\n%s", path, got)
	}
	for table := range map[string]bool{"workflow": true, "msdyn_sessiontemplate": true, "msdyn_appconfiguration": true} {
		for _, err := range c.Records(context.Background(), table, dataverse.Query{}) {
			if err != nil {
				t.Fatal(err)
			}
			t.Errorf("dry run wrote to %s", table)
			break
		}
	}
}

func TestMigrateRunThenRerun(t *testing.T) {
	_, url := refEnv(t, nil)
	stdout, _, err := run(t, "migrate", "--from", fixture("contoso.zip"), "--to-env", url, "--all-configurations", "--json")
	if err != nil {
		t.Fatal(err)
	}
	first := decodeMigrate(t, stdout)
	rc := first.Run.Counts
	if first.DryRun || first.Configuration != "" || rc.Created == 0 || rc.Created != rc.Records || rc.Rejected != 0 ||
		first.Run.Verification.Records != rc.Records || len(first.Run.Verification.Mismatches) != 0 {
		t.Fatalf("first run: %+v", first.Run)
	}
	created := 0
	for _, tb := range first.Tables {
		created += tb.Created
	}
	if created != rc.Created || len(first.Tables) != len(workspace.TableOrder) {
		t.Errorf("per-table totals %+v do not add up to %d", first.Tables, rc.Created)
	}
	stdout, _, err = run(t, "migrate", "--from", fixture("contoso.zip"), "--to-env", url, "--all-configurations")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"contoso.zip (all configurations)", "Links: 0 added, ", "Verified: "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("re-run output lacks %q:\n%s", want, stdout)
		}
	}
	var total []string
	for _, line := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(line, "total ") {
			total = strings.Fields(line)
		}
	}
	if len(total) != 5 || total[1] != "0" || total[2] != "0" || total[4] != "0" {
		t.Errorf("re-run total line %v, want nothing created, updated or rejected", total)
	}
}

// USD read from one environment, workspace written to another; the same
// source environment assesses like the zip.
func TestMigrateFromEnvironment(t *testing.T) {
	src, srcURL := refEnv(t, nil)
	_, dstURL := refEnv(t, nil)
	ctx := context.Background()
	if _, err := cmtseed.ImportFile(ctx, src, fixture("contoso.zip")); err != nil {
		t.Fatal(err)
	}
	m, err := usd.LoadFile(ctx, fixture("contoso.zip"))
	if err != nil {
		t.Fatal(err)
	}
	sel, _ := usd.Select(m, "")
	res, _ := workspace.Translate(sel, workspace.Options{})
	stdout, _, err := run(t, "migrate", "--env", srcURL, "--to-env", dstURL, "--json")
	if err != nil {
		t.Fatal(err)
	}
	v := decodeMigrate(t, stdout)
	if v.Configuration != sel.Selected || v.Run.Counts.Created != len(res.Records) || v.Run.Counts.AssociationsAdded != len(res.Associations) {
		t.Errorf("from the environment: configuration %q, counts %+v; from the zip: %q, %d records, %d links",
			v.Configuration, v.Run.Counts, sel.Selected, len(res.Records), len(res.Associations))
	}
	checkAssessEnvironmentMatchesZip(t, srcURL)
}

// A target that acknowledges links without keeping them is caught by the
// verification, and the command says what to do.
func TestMigrateVerificationMismatch(t *testing.T) {
	_, url := refEnv(t, func(next http.Handler) http.Handler {
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
	// Differences found exit with the documented "finished with rejects or
	// mismatches" code.
	if !errors.As(err, &exit) || exit.Code != exitcode.Rejects || !strings.Contains(err.Error(), "verification found 3 difference(s)") ||
		!strings.Contains(err.Error(), "association not found") || !strings.Contains(err.Error(), "Run the command again") {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(stdout, "Verification: 3 difference(s)") {
		t.Errorf("summary does not list the differences:\n%s", stdout)
	}
}

func TestMigrateErrors(t *testing.T) {
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
}

// checkAssessEnvironmentMatchesZip checks that `usd assess --env` against
// an environment holding the realistic fixture reports what `usd assess
// --from` reports for the zip, membership lists included (a
// configuration's report depends on them).
func checkAssessEnvironmentMatchesZip(t *testing.T, url string) {
	t.Helper()
	type report struct {
		Configuration string            `json:"configuration"`
		Items         []json.RawMessage `json:"items"`
		Totals        json.RawMessage   `json:"totals"`
	}
	for _, cfg := range []string{"Tier 1 Agents", "Supervisors"} {
		var fromEnv, fromZip report
		stdout, _, err := run(t, "assess", "--env", url, "--configuration", cfg, "--format", "json")
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(stdout), &fromEnv); err != nil {
			t.Fatal(err)
		}
		stdout, _, err = run(t, "assess", "--from", fixture("contoso.zip"), "--configuration", cfg, "--format", "json")
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(stdout), &fromZip); err != nil {
			t.Fatal(err)
		}
		if fromEnv.Configuration != cfg || len(fromEnv.Items) == 0 || len(fromEnv.Items) != len(fromZip.Items) || string(fromEnv.Totals) != string(fromZip.Totals) {
			t.Errorf("%s: environment gives %d items, totals %s; zip %d items, totals %s", cfg, len(fromEnv.Items), fromEnv.Totals, len(fromZip.Items), fromZip.Totals)
		}
	}
}

// A target without alternate keys on the unique names (a real environment
// out of the box) is written by ID, and the command says so.
func TestMigrateKeylessTarget(t *testing.T) {
	reg := schema.Default()
	for _, name := range workspace.TableOrder {
		tb, _ := reg.Table(name)
		tb.AlternateKeys = nil
	}
	srv, err := refserver.New(refserver.Options{Token: migrateToken, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()
	t.Setenv("DVSYNC_TOKEN", migrateToken)
	stdout, stderr, err := run(t, "migrate", "--from", fixture("small.zip"), "--to-env", hs.URL, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Addressing string `json:"addressing"`
		Run        struct {
			Counts struct{ Records, Created int } `json:"counts"`
		} `json:"run"`
	}
	if err := json.Unmarshal([]byte(stdout), &v); err != nil {
		t.Fatal(err)
	}
	if v.Addressing != "id" || v.Run.Counts.Created == 0 || v.Run.Counts.Created != v.Run.Counts.Records {
		t.Errorf("keyless target: %+v", v)
	}
	if !strings.Contains(stderr, "no alternate key on the unique name of msdyn_appconfiguration") {
		t.Errorf("stderr = %q", stderr)
	}
}
