package pull_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/cmd/internal/push"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/dataverse/schema"
)

// TestPulledFilesPushBack: a plain `dvsync pull` of every table in the seed
// pushes back as it is (issue 11 item 13: 400 of 400 incidents were
// rejected with "_customerid_value: cannot tell which table…"), in JSONL
// and in CSV. Every record comes back written or unchanged, none rejected.
func TestPulledFilesPushBack(t *testing.T) {
	srv, err := refserver.New(refserver.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	seed := "../../../testdata/dataverse/seed"
	if _, err := srv.LoadSeed(context.Background(), seed); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	t.Setenv("DVSYNC_TOKEN", token)
	t.Setenv("DVSYNC_ENV", "")

	files, _ := filepath.Glob(filepath.Join(seed, "*.json"))
	sort.Strings(files)
	reg := schema.Default()
	dir := t.TempDir()
	for _, f := range files {
		_, set, _ := strings.Cut(strings.TrimSuffix(filepath.Base(f), ".json"), "-")
		tbl, ok := reg.TableBySet(set)
		if !ok {
			t.Fatalf("%s: no table", set)
		}
		for _, format := range []string{"jsonl", "csv"} {
			out := filepath.Join(dir, set+"."+format)
			if _, stderr, err := runPull(t, tbl.LogicalName, "--env", hs.URL, "--out", out, "--json"); err != nil {
				t.Fatalf("pull %s: %v\n%s", set, err, stderr)
			}
			var stdout, stderr strings.Builder
			cmd := push.NewCommand(output.NewStreams(strings.NewReader(""), &stdout, &stderr))
			cmd.SetArgs([]string{tbl.LogicalName, out, "--env", hs.URL, "--json", "--rejects", out + ".rejects"})
			err := cmd.ExecuteContext(context.Background())
			var sum push.Summary
			if jerr := json.Unmarshal([]byte(stdout.String()), &sum); jerr != nil {
				t.Fatalf("push %s %s: %v %v\n%s%s", set, format, err, jerr, stdout.String(), stderr.String())
			}
			if n := rejectCount(t, out+".rejects"); n > 0 || sum.Rejected > 0 {
				t.Errorf("push %s (%s): %d of %d rejected: %v", set, format, n, sum.Input, err)
				continue
			}
			if sum.Input == 0 || sum.Created+sum.Updated+sum.Written+sum.Unchanged+sum.Rejected != sum.Input {
				t.Errorf("push %s (%s): counts do not reconcile: %+v", set, format, sum)
			}
		}
	}
}

// rejectCount counts the lines of a push's rejects file (none: 0) and
// logs the first, so a failure says why.
func rejectCount(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	t.Logf("%s: first reject: %.400s", filepath.Base(path), lines[0])
	return len(lines)
}
