package push_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dvsync/dvsync/cmd/internal/exitcode"
	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/cmd/internal/push"
	"github.com/dvsync/dvsync/dataverse"
)

func exitCode(err error) int {
	var exit *output.ExitError
	if errors.As(err, &exit) {
		return exit.Code
	}
	if err != nil {
		return -1
	}
	return 0
}

// Records without a key under the default upsert mode stop the push
// before anything is sent, with the way out on the terminal in one line
// (issue 11 item 8: each was rejected, the hint hidden in the rejects file).
func TestPushWithoutKeyStopsBeforeSending(t *testing.T) {
	url, c := server(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "accounts.jsonl")
	os.WriteFile(in, []byte(`{"name":"A","accountnumber":"N-1"}`+"\n"+`{"name":"B","accountnumber":"N-2"}`+"\n"), 0o600)
	_, err := runPush(t, "", "account", in, "--env", url)
	if exitCode(err) != exitcode.Usage {
		t.Fatalf("err = %v, want exit %d", err, exitcode.Usage)
	}
	msg := err.Error()
	for _, want := range []string{"accountid", "--key accountnumber", "--mode create", "nothing was sent", "line 1"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not mention %q", msg, want)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("message is not one line: %q", msg)
	}
	if n := count(t, c, "account", dataverse.Filter{}); n != 0 {
		t.Fatalf("%d accounts written", n)
	}
	if _, err := os.Stat(in + ".rejects.jsonl"); !os.IsNotExist(err) {
		t.Fatalf("rejects file left behind: %v", err)
	}

	// The same file with --mode create creates them, and the summary says so.
	stdout, err := runPush(t, "", "account", in, "--env", url, "--mode", "create")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "2 created as new records (--mode create)") || !strings.Contains(stdout, "2 records read") {
		t.Fatalf("summary %q", stdout)
	}
	if n := count(t, c, "account", dataverse.Filter{}); n != 2 {
		t.Fatalf("%d accounts after --mode create", n)
	}
}

// An unknown CSV column is one usage error from the header, not a reject
// per row, and nothing is sent.
func TestPushCSVUnknownColumnIsReportedOnce(t *testing.T) {
	url, c := server(t)
	in := filepath.Join(t.TempDir(), "accounts.csv")
	os.WriteFile(in, []byte("accountnumber,name,nosuchcolumn\nU-1,A,x\nU-2,B,y\nU-3,C,z\n"), 0o600)
	_, err := runPush(t, "", "account", in, "--env", url, "--key", "accountnumber")
	if exitCode(err) != exitcode.Usage {
		t.Fatalf("err = %v, want exit %d", err, exitcode.Usage)
	}
	if msg := err.Error(); strings.Count(msg, "nosuchcolumn") != 1 || strings.Contains(msg, "\n") {
		t.Fatalf("message %q", msg)
	}
	if n := count(t, c, "account", dataverse.Filter{}); n != 0 {
		t.Fatalf("%d accounts written", n)
	}
	if _, err := os.Stat(in + ".rejects.jsonl"); !os.IsNotExist(err) {
		t.Fatalf("rejects file written: %v", err)
	}
}

// A JSON array file is read as records; an element that is not an object
// is rejected with the line it starts on.
func TestPushReadsAJSONArray(t *testing.T) {
	url, c := server(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "accounts.json")
	os.WriteFile(in, []byte(`
[
  {
    "accountnumber": "J-1",
    "name": "First"
  },
  {"accountnumber": "J-2", "name": "Second"},
  42
]
`), 0o600)
	rejects := filepath.Join(dir, "rejects.jsonl")
	stdout, err := runPush(t, "", "account", in, "--env", url, "--key", "accountnumber", "--json", "--rejects", rejects)
	if exitCode(err) != exitcode.Rejects {
		t.Fatalf("err = %v, want exit %d", err, exitcode.Rejects)
	}
	var sum push.Summary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Input != 3 || sum.Created+sum.Written != 2 || sum.Rejected != 1 {
		t.Fatalf("summary %+v", sum)
	}
	rej := lines(t, rejects)
	if len(rej) != 1 || rej[0]["line"] != float64(8) || !strings.Contains(rej[0]["error"].(map[string]any)["message"].(string), "not a JSON object") {
		t.Fatalf("rejects %v", rej)
	}
	if n := count(t, c, "account", dataverse.StartsWith("accountnumber", "J-")); n != 2 {
		t.Fatalf("%d accounts", n)
	}
	// A broken array ends the push with the line of the error.
	os.WriteFile(in, []byte("[\n{\"accountnumber\": \"J-3\"},\n{\"name\": }\n]"), 0o600)
	if _, err := runPush(t, "", "account", in, "--env", url, "--key", "accountnumber"); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("broken array: %v", err)
	}
}

// The summary counts what happened; it never says "pushed", and records
// not written are counted as unchanged or rejected, adding up to the input.
func TestPushSummarySaysWhatWasWritten(t *testing.T) {
	url, _ := server(t)
	in := `{"accountnumber":"S-1","name":"A"}` + "\n" + `{"accountnumber":"S-2","name":"B"}` + "\n"
	r := filepath.Join(t.TempDir(), "r.jsonl")
	first, err := runPush(t, in, "account", "-", "--env", url, "--key", "accountnumber", "--rejects", r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(first, "accounts: 2 records read") || !strings.Contains(first, ": 2 created or updated, 0 unchanged (not sent), 0 rejected") {
		t.Fatalf("first summary %q", first)
	}
	second, err := runPush(t, in+`{"accountnumber":"S-3","name":"`+strings.Repeat("x", 500)+`"}`+"\n", "account", "-", "--env", url, "--key", "accountnumber", "--rejects", r)
	if exitCode(err) != exitcode.Rejects {
		t.Fatalf("err %v", err)
	}
	if !strings.Contains(second, "3 records read") || !strings.Contains(second, "0 created, 0 updated, 2 unchanged (not sent), 1 rejected (reasons in "+r+")") {
		t.Fatalf("second summary %q", second)
	}
	for _, s := range []string{first, second} {
		if strings.Contains(strings.ToLower(s), "pushed") {
			t.Errorf("summary says pushed: %q", s)
		}
	}
}
