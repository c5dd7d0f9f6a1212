package usdcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
)

// fixtureDir is absolute, so tests that change directory still find it.
var fixtureDir, _ = filepath.Abs(filepath.Join("..", "..", "..", "testdata", "usd"))

func fixture(name string) string { return filepath.Join(fixtureDir, name) }

func run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	t.Setenv("DVSYNC_ENV", "")
	var out, errOut bytes.Buffer
	cmd := NewCommand(output.NewStreams(strings.NewReader(""), &out, &errOut))
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func TestAssessToFileInEveryFormat(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"html", "md", "json", "csv"} {
		path := filepath.Join(dir, "report."+f)
		_, stderr, err := run(t, "assess", "--from", fixture("contoso.zip"), "--out", path)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		switch f {
		case "html":
			if !bytes.HasPrefix(data, []byte("<!DOCTYPE html>")) {
				t.Errorf("html report starts %q", data[:20])
			}
		case "json":
			var v map[string]any
			if err := json.Unmarshal(data, &v); err != nil {
				t.Errorf("json report: %v", err)
			}
		case "md":
			if !bytes.HasPrefix(data, []byte("# Unified Service Desk")) {
				t.Errorf("md report starts %q", data[:20])
			}
		case "csv":
			if !bytes.HasPrefix(data, []byte("kind,id,name,detail,target,verdict,hours,reasons,evidence\n")) {
				t.Errorf("csv report starts %q", data[:20])
			}
		}
		if !strings.Contains(stderr, "configuration Tier 1 Agents") || !strings.Contains(stderr, "→ "+path) {
			t.Errorf("summary = %q", stderr)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 4 {
		t.Errorf("directory holds %d files; temporary files left behind?", len(entries))
	}
}

func TestAssessConfigurationAndStdout(t *testing.T) {
	stdout, _, err := run(t, "assess", "--from", fixture("contoso.zip"), "--configuration", "Supervisors", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Configuration string `json:"configuration"`
	}
	if err := json.Unmarshal([]byte(stdout), &r); err != nil || r.Configuration != "Supervisors" {
		t.Fatalf("configuration = %q, err %v", r.Configuration, err)
	}
}

func TestAssessAllConfigurations(t *testing.T) {
	stdout, stderr, err := run(t, "assess", "--from", fixture("contoso.zip"), "--all-configurations", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Configuration string `json:"configuration"`
		Items         []any  `json:"items"`
	}
	if err := json.Unmarshal([]byte(stdout), &r); err != nil || r.Configuration != "" || len(r.Items) < 200 {
		t.Fatalf("configuration %q, %d items, err %v", r.Configuration, len(r.Items), err)
	}
	if !strings.Contains(stderr, "all configurations") {
		t.Errorf("summary = %q", stderr)
	}
}

func TestAssessErrors(t *testing.T) {
	t.Setenv("DVSYNC_TOKEN", "x") // so that --auth token reaches the http check
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"assess"}, 2, "--from FILE is required"},
		{[]string{"assess", "--from", fixture("small.zip"), "--format", "pdf"}, 2, `--format "pdf": use html, md, json or csv`},
		{[]string{"assess", "--from", fixture("contoso.zip"), "--configuration", "Nobody"}, 2, "Tier 2 Agents"},
		{[]string{"assess", "--from", fixture("missing.zip")}, 1, "missing.zip"},
		{[]string{"assess", "--from", fixture("broken-notzip.zip")}, 1, "not a zip archive"},
		{[]string{"assess", "--env", "http://example.com/", "--auth", "token"}, 2, "plain http"},
		{[]string{"assess", "--env", "https://org.crm.dynamics.com", "--from", fixture("small.zip")}, 2, "not both"},
		{[]string{"assess", "--from", fixture("broken-dangling.zip"), "--strict"}, 3, "error(s)"},
		{[]string{"assess", "--from", fixture("contoso.zip"), "--strict"}, 3, "--strict: the export has 1 warning(s)"},
		{[]string{"assess", "--from", fixture("small.zip"), "--max-size", "12 parsecs"}, 2, "not a size"},
		{[]string{"assess", "--from", fixture("small.zip"), "--max-ratio", "0"}, 2, "positive ratio"},
		{[]string{"assess", "--from", fixture("small.zip"), "--max-size", "1KiB"}, 1, "data_schema.xml: declares 14505 bytes uncompressed (limit 1KiB)"},
		{[]string{"assess", "--from", fixture("contoso.zip"), "--all-configurations", "--configuration", "Supervisors"}, 2, "not both"},
	}
	for _, c := range cases {
		_, _, err := run(t, c.args...)
		var exit *output.ExitError
		if !errors.As(err, &exit) || exit.Code != c.code || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%v: err = %v, want code %d containing %q", c.args, err, c.code, c.msg)
		}
	}
}

func TestAssessFromEnvironment(t *testing.T) {
	srv, err := refserver.New(refserver.Options{Token: "usdcmd-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()
	c, err := dataverse.NewClient(hs.URL, dataverse.StaticToken("usdcmd-test"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(context.Background(), "uii_hostedapplication", dataverse.Record{"uii_name": "Debugger",
		"msdyusd_crmwindowhosttype": 803750016}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DVSYNC_TOKEN", "usdcmd-test")
	var out, errOut bytes.Buffer
	cmd := NewCommand(output.NewStreams(strings.NewReader(""), &out, &errOut))
	cmd.SetArgs([]string{"assess", "--env", hs.URL, "--format", "md"})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "| Debugger | Debugger | No equivalent | no equivalent | 0.00 |") {
		t.Errorf("report lacks the Debugger row:\n%s", out.String())
	}
}

// A partly broken export still gives a report, with the problems on
// stderr, and ends with exit status 3 so that scripts notice; an export
// with warnings only ends with 0.
func TestAssessBrokenExportStillReports(t *testing.T) {
	for _, tc := range []struct {
		file    string
		code    int
		problem string
	}{
		{"broken-truncated.zip", 3, "archive is damaged"},
		{"broken-malformed.zip", 3, "data.xml:"},
		{"broken-noschema.zip", 3, "schema.xml: missing"},
		{"broken-dangling.zip", 3, "which is not in the export"},
		{"contoso.zip", 0, "ucisettings: table is not part"},
		{"small.zip", 0, ""},
	} {
		t.Run(tc.file, func(t *testing.T) {
			for _, format := range []string{"md", "json", "html"} {
				stdout, stderr, err := run(t, "assess", "--from", fixture(tc.file), "--all-configurations", "--format", format)
				code := 0
				var exit *output.ExitError
				if errors.As(err, &exit) {
					code = exit.Code
				} else if err != nil {
					t.Fatal(err)
				}
				if code != tc.code {
					t.Errorf("%s: exit code %d, want %d (err %v)", format, code, tc.code, err)
				}
				if tc.code == 3 && !strings.Contains(err.Error(), "error(s), listed in the report") {
					t.Errorf("%s: error %q", format, err)
				}
				if tc.problem != "" && ((format == "md" && !strings.Contains(stdout, tc.problem)) || !strings.Contains(stderr, tc.problem)) {
					t.Errorf("%s: problem %q not in the report and on stderr; stderr %q", format, tc.problem, stderr)
				}
				if len(stdout) < 100 {
					t.Errorf("%s: no report written: %q", format, stdout)
				}
			}
		})
	}
}
