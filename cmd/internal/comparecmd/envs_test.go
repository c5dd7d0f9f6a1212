package comparecmd

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/migrations/compare"
)

// fmtCount is a count as the reports print it (digits grouped by commas).
func fmtCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func seededDataverse(t *testing.T) (string, *dataverse.Client) {
	t.Helper()
	ref, err := refserver.New(refserver.Options{Token: dvToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ref.Close() })
	if _, err := ref.LoadSeed(context.Background(), seedDV); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(ref)
	t.Cleanup(hs.Close)
	c, err := dataverse.NewClient(hs.URL, dataverse.StaticToken(dvToken), nil)
	if err != nil {
		t.Fatal(err)
	}
	return hs.URL, c
}

// TestCompareEnvironments: two environments loaded from one seed are
// equal; after an edit, a delete and a new account in B, exactly those
// are reported.
func TestCompareEnvironments(t *testing.T) {
	t.Setenv("DVSYNC_TOKEN", dvToken)
	aURL, _ := seededDataverse(t)
	bURL, b := seededDataverse(t)
	out := t.TempDir()
	run := func() (*compare.EnvironmentsReport, error) {
		var stdout, stderr strings.Builder
		cmd := NewCommand(output.NewStreams(strings.NewReader(""), &stdout, &stderr))
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		cmd.SetArgs([]string{"--env", aURL, "--env-b", bURL, "--tables", "account,contact", "--out", out, "--json", "--fail-on-diff"})
		err := cmd.ExecuteContext(context.Background())
		var rep compare.EnvironmentsReport
		if jerr := json.Unmarshal([]byte(stdout.String()), &rep); jerr != nil {
			t.Fatalf("%v; output: %s %s", jerr, stdout.String(), stderr.String())
		}
		return &rep, err
	}
	rep, err := run()
	if err != nil || !rep.Clean() || len(rep.Tables) != 2 || rep.Tables[0].Matched == 0 {
		t.Fatalf("same seed: %v %+v", err, rep)
	}
	ctx := context.Background()
	var ids []string
	for rec, err := range b.Records(ctx, "account", dataverse.Query{Select: []string{"accountid"}, OrderBy: []dataverse.Order{{Column: "accountid"}}, Top: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rec.String("accountid"))
	}
	// A value with Markdown markup in it: the Markdown report shows it as
	// it is, in one cell.
	if err := b.Update(ctx, "account", dataverse.ByID(mustUUID(t, ids[0])), dataverse.Record{"telephone1": "+47 | <b>00</b>"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, "account", dataverse.ByID(mustUUID(t, ids[1])), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Create(ctx, "account", dataverse.Record{"name": "Only in B"}); err != nil {
		t.Fatal(err)
	}
	rep, err = run()
	var exit *output.ExitError
	if !errors.As(err, &exit) || exit.Code != ExitDifferences {
		t.Fatalf("--fail-on-diff: %v", err)
	}
	acc := rep.Tables[0]
	if acc.Table != "account" || acc.OnlyInA != 1 || acc.OnlyInB != 1 || acc.Differing != 1 || acc.FieldDifferences["telephone1"] != 1 || len(acc.FieldDifferences) != 1 {
		t.Errorf("account: %+v", acc)
	}
	page, err := os.ReadFile(filepath.Join(out, compare.FileEnvHTML))
	if err != nil || !strings.Contains(string(page), "telephone1") || !strings.Contains(string(page), "only in b") {
		t.Errorf("HTML report: %v\n%.2000s", err, page)
	}
	md, err := os.ReadFile(filepath.Join(out, compare.FileEnvMarkdown))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| account | " + fmtCount(acc.A) + " | " + fmtCount(acc.B) + " | " + fmtCount(acc.Matched) + " | 1 | 1 | 1 |",
		"| telephone1 | 1 |",
		"| account | " + strings.ToLower(ids[0]) + " | telephone1 | differs | ",
		` | +47 \| \<b\>00\</b\> |`,
		"| account | " + strings.ToLower(ids[1]) + " |  | only in a |  |  |",
		"**The environments differ.**",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("Markdown report lacks %q:\n%s", want, md)
		}
	}
	if keep := os.Getenv("DVSYNC_KEEP_REPORT"); keep != "" {
		os.CopyFS(keep, os.DirFS(out))
	}
	f, err := os.Open(filepath.Join(out, compare.FileEnvDifferencesCSV))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) != 4 {
		t.Errorf("differences: %v %v", rows, err)
	}
}
