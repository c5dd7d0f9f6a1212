package pull_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/cmd/internal/pull"
	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
)

const token = "pull-test-token"

// server starts a reference Dataverse with n accounts and returns its URL
// and a client for arranging data.
func server(t *testing.T, n int) (string, *dataverse.Client) {
	t.Helper()
	srv, err := refserver.New(refserver.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	t.Setenv("DVSYNC_TOKEN", token)
	t.Setenv("DVSYNC_ENV", "")
	c, err := dataverse.NewClient(hs.URL, dataverse.StaticToken(token), &dataverse.ClientOptions{Limiter: dataverse.NewLimiter(dataverse.LimiterOptions{})})
	if err != nil {
		t.Fatal(err)
	}
	in := func(yield func(dataverse.Item) bool) {
		for i := range n {
			if !yield(dataverse.Item{Ref: int64(i), Record: dataverse.Record{"name": fmt.Sprintf("Account %03d, \"quoted\"", i), "accountnumber": fmt.Sprintf("A-%03d", i)}}) {
				return
			}
		}
	}
	if err := c.WriteAll(context.Background(), "account", in, dataverse.BatchOptions{Mode: dataverse.ModeCreate}, func(r dataverse.Result) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}); err != nil {
		t.Fatal(err)
	}
	return hs.URL, c
}

func runPull(t testing.TB, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := pull.NewCommand(output.NewStreams(strings.NewReader(""), &out, &errOut))
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func readJSONL(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("bad line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestPullJSONLWithSummary(t *testing.T) {
	url, _ := server(t, 37)
	dir := t.TempDir()
	file := filepath.Join(dir, "accounts.jsonl")
	stdout, _, err := runPull(t, "account", "--env", url, "--select", "name,accountnumber", "--page-size", "10", "--out", file, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var sum pull.Summary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("summary %q: %v", stdout, err)
	}
	recs := readJSONL(t, file)
	// The reference server seeds no accounts of its own here.
	if sum.Records != 37 || len(recs) != 37 || sum.EntitySet != "accounts" {
		t.Fatalf("summary %+v, %d lines", sum, len(recs))
	}
	ids := map[string]bool{}
	for _, r := range recs {
		ids[r["accountid"].(string)] = true
		if !strings.HasPrefix(r["name"].(string), "Account ") {
			t.Fatalf("record %v", r)
		}
	}
	if len(ids) != 37 {
		t.Fatalf("%d distinct records", len(ids))
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

func TestPullPartitionedCSVMatchesSequential(t *testing.T) {
	url, _ := server(t, 50)
	dir := t.TempDir()
	one, four := filepath.Join(dir, "one.csv"), filepath.Join(dir, "four.csv")
	if _, _, err := runPull(t, "accounts", "--env", url, "--select", "name", "--out", one); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runPull(t, "accounts", "--env", url, "--select", "name", "--partitions", "4", "--out", four); err != nil {
		t.Fatal(err)
	}
	rows := func(path string) map[string]string {
		f, _ := os.Open(path)
		defer f.Close()
		all, err := csv.NewReader(f).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(all[0], ",") != "accountid,name" {
			t.Fatalf("header %v", all[0])
		}
		m := map[string]string{}
		for _, r := range all[1:] {
			m[r[0]] = r[1]
		}
		if len(m) != len(all)-1 {
			t.Fatal("duplicate rows")
		}
		return m
	}
	a, b := rows(one), rows(four)
	if len(a) != 50 || len(b) != 50 {
		t.Fatalf("%d and %d rows", len(a), len(b))
	}
	for id, name := range a {
		if b[id] != name {
			t.Fatalf("row %s: %q vs %q", id, name, b[id])
		}
	}
}

func TestPullTrackAndSinceToken(t *testing.T) {
	url, c := server(t, 5)
	dir := t.TempDir()
	tok := filepath.Join(dir, "account.delta")
	all := filepath.Join(dir, "all.jsonl")
	if _, _, err := runPull(t, "account", "--env", url, "--track", "--select", "name", "--token-out", tok, "--out", all); err != nil {
		t.Fatal(err)
	}
	if n := len(readJSONL(t, all)); n != 5 {
		t.Fatalf("full tracked read: %d records", n)
	}
	first, _ := os.ReadFile(tok)
	if !strings.Contains(string(first), "deltatoken") {
		t.Fatalf("token file %q", first)
	}
	id, err := c.Create(context.Background(), "account", dataverse.Record{"name": "new one"})
	if err != nil {
		t.Fatal(err)
	}
	changes := filepath.Join(dir, "changes.jsonl")
	stdout, _, err := runPull(t, "account", "--env", url, "--since-token", "@"+tok, "--token-out", tok, "--out", changes, "--json")
	if err != nil {
		t.Fatal(err)
	}
	recs := readJSONL(t, changes)
	if len(recs) != 1 || recs[0]["accountid"] != id.String() {
		t.Fatalf("delta: %v", recs)
	}
	var sum pull.Summary
	json.Unmarshal([]byte(stdout), &sum)
	second, _ := os.ReadFile(tok)
	if sum.FullRead || string(second) == string(first) {
		t.Fatalf("summary %+v; token not advanced", sum)
	}
}

func TestPullErrorsAreActionable(t *testing.T) {
	url, _ := server(t, 0)
	if _, _, err := runPull(t, "account"); err == nil || !strings.Contains(err.Error(), "--env") {
		t.Fatalf("no env: %v", err)
	}
	if _, _, err := runPull(t, "nosuchtable", "--env", url); err == nil {
		t.Fatal("unknown table accepted")
	}
	if _, _, err := runPull(t, "account", "--env", url, "--track", "--filter", "name eq 'x'"); err == nil {
		t.Fatal("tracked read with a filter accepted")
	}
	dir := t.TempDir()
	_, _, err := runPull(t, "account", "--env", url, "--filter", "name eq", "--out", filepath.Join(dir, "x.jsonl"))
	if !dataverse.IsBadRequest(err) {
		t.Fatalf("bad filter: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("a failed pull left files: %v", entries)
	}
}
