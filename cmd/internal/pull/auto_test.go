package pull_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dvsync/dvsync/cmd/internal/pull"
)

// TestPullPartitionsAutomatically: with its default flags, pull reads a
// table of several pages with one reader per page up to the server's
// x-ms-dop-hint (4 on the reference server), and a one-page table with one
// request (issue 11 item 6: the default was one reader, 1.08x the npm
// client).
func TestPullPartitionsAutomatically(t *testing.T) {
	url, _ := server(t, 300)
	for _, c := range []struct {
		args       []string
		partitions int
	}{
		{[]string{"--page-size", "50"}, 4},
		{[]string{"--page-size", "100"}, 3},
		{nil, 1}, // 300 rows fit one 5,000-row page
		{[]string{"--page-size", "50", "--partitions", "2"}, 2},
		{[]string{"--page-size", "50", "--filter", "startswith(accountnumber,'A-00')"}, 1}, // 10 rows
	} {
		out := filepath.Join(t.TempDir(), "a.jsonl")
		stdout, stderr, err := runPull(t, append([]string{"account", "--env", url, "--out", out, "--json"}, c.args...)...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", c.args, err, stderr)
		}
		var sum pull.Summary
		if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
			t.Fatal(err)
		}
		want := int64(300)
		if c.partitions == 1 && len(c.args) > 0 {
			want = 10
		}
		if sum.Partitions != c.partitions || sum.Records != want || sum.Expected == nil || *sum.Expected != want || len(readJSONL(t, out)) != int(want) {
			t.Errorf("%v: partitions %d (want %d), records %d, expected %v (want %d)", c.args, sum.Partitions, c.partitions, sum.Records, sum.Expected, want)
		}
	}
	for _, bad := range []string{"0", "65", "many"} {
		if _, _, err := runPull(t, "account", "--env", url, "--partitions", bad); err == nil || !strings.Contains(err.Error(), "--partitions must be auto or between 1 and 64") {
			t.Errorf("--partitions %s: %v", bad, err)
		}
	}
}
