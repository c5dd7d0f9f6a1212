package push_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dvsync/dvsync/cmd/internal/exitcode"
	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/cmd/internal/pull"
	"github.com/dvsync/dvsync/cmd/internal/push"
	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
)

const token = "push-test-token"

func server(t *testing.T) (string, *dataverse.Client) {
	t.Helper()
	srv, err := refserver.New(refserver.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	t.Setenv("DVSYNC_TOKEN", token)
	c, err := dataverse.NewClient(hs.URL, dataverse.StaticToken(token), &dataverse.ClientOptions{Limiter: dataverse.NewLimiter(dataverse.LimiterOptions{})})
	if err != nil {
		t.Fatal(err)
	}
	return hs.URL, c
}

func runPush(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := push.NewCommand(output.NewStreams(strings.NewReader(stdin), &out, &errOut))
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func count(t *testing.T, c *dataverse.Client, table string, f dataverse.Filter) int {
	t.Helper()
	n := 0
	for _, err := range c.Records(context.Background(), table, dataverse.Query{Filter: f}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

func lines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func TestPushCountsAddUpAndRejectsAreKept(t *testing.T) {
	url, c := server(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "accounts.jsonl")
	var b strings.Builder
	for i := range 20 {
		fmt.Fprintf(&b, `{"accountnumber":"A-%02d","name":"Account %d"}`+"\n", i, i)
	}
	b.WriteString("{not json\n")
	b.WriteString(`{"accountnumber":"A-90","name":"` + strings.Repeat("x", 500) + `"}` + "\n")
	b.WriteString(`{"name":"no key"}` + "\n")
	b.WriteString(`{"accountnumber":"A-91","name":"n","nosuchcolumn":1}` + "\n")
	b.WriteString("\n")
	os.WriteFile(in, []byte(b.String()), 0o600)

	rejects := filepath.Join(dir, "rejects.jsonl")
	stdout, err := runPush(t, "", "account", in, "--env", url, "--key", "accountnumber", "--rejects", rejects, "--json", "--batch", "7")
	var exit *output.ExitError
	if !errors.As(err, &exit) || exit.Code != exitcode.Rejects {
		t.Fatalf("err = %v, want exit code %d (finished with rejects)", err, exitcode.Rejects)
	}
	var sum push.Summary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("summary %q: %v", stdout, err)
	}
	if sum.Input != 24 || sum.Rejected != 4 || sum.Created+sum.Updated+sum.Written+sum.Unchanged != 20 {
		t.Fatalf("summary %+v", sum)
	}
	rej := lines(t, rejects)
	if len(rej) != 4 {
		t.Fatalf("%d rejects", len(rej))
	}
	byLine := map[float64]map[string]any{}
	for _, r := range rej {
		byLine[r["line"].(float64)] = r
	}
	for line, want := range map[float64]string{21: "invalid JSON", 22: "length", 23: "missing key column accountnumber", 24: "nosuchcolumn"} {
		r, ok := byLine[line]
		if !ok {
			t.Fatalf("line %v not in rejects: %v", line, rej)
		}
		msg := r["error"].(map[string]any)["message"].(string)
		if !strings.Contains(msg, want) {
			t.Fatalf("line %v: %q, want it to mention %q", line, msg, want)
		}
		if r["record"] == nil {
			t.Fatalf("line %v: record not kept", line)
		}
	}
	if n := count(t, c, "account", dataverse.StartsWith("accountnumber", "A-")); n != 20 {
		t.Fatalf("%d accounts stored", n)
	}
	// Pushing again changes nothing: every valid record is unchanged.
	stdout, err = runPush(t, "", "account", in, "--env", url, "--key", "accountnumber", "--rejects", rejects, "--json")
	if !errors.As(err, &exit) {
		t.Fatal(err)
	}
	var again push.Summary
	json.Unmarshal([]byte(stdout), &again)
	if again.Unchanged != 20 || again.Rejected != 4 || again.Input != 24 {
		t.Fatalf("second push %+v", again)
	}
	if n := count(t, c, "account", dataverse.StartsWith("accountnumber", "A-")); n != 20 {
		t.Fatalf("%d accounts after a second push", n)
	}
}

func TestPushDryRunWritesNothing(t *testing.T) {
	url, c := server(t)
	in := `{"accountnumber":"D-1","name":"x"}` + "\n" + `{"name":"no key"}` + "\n"
	stdout, err := runPush(t, in, "account", "-", "--env", url, "--key", "accountnumber", "--dry-run", "--json", "--rejects", filepath.Join(t.TempDir(), "r.jsonl"))
	if err == nil {
		t.Fatal("dry run with a bad record exited 0")
	}
	var sum push.Summary
	json.Unmarshal([]byte(stdout), &sum)
	if !sum.DryRun || sum.Input != 2 || sum.Valid != 1 || sum.Rejected != 1 {
		t.Fatalf("summary %+v", sum)
	}
	if n := count(t, c, "account", dataverse.Filter{}); n != 0 {
		t.Fatalf("dry run wrote %d records", n)
	}
}

func TestPushCSVConvertsTypes(t *testing.T) {
	url, c := server(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "accounts.csv")
	os.WriteFile(in, []byte("accountnumber,name,numberofemployees\nC-1,\"Comma, Inc\",12\nC-2,Plain,\nC-3,Bad,many\n"), 0o600)
	stdout, err := runPush(t, "", "account", in, "--env", url, "--key", "accountnumber", "--json")
	if err == nil {
		t.Fatal("a bad number was accepted")
	}
	var sum push.Summary
	json.Unmarshal([]byte(stdout), &sum)
	if sum.Input != 3 || sum.Rejected != 1 {
		t.Fatalf("summary %+v", sum)
	}
	rec, err := c.Get(context.Background(), "account", dataverse.ByKey("accountnumber", "C-1"), "name", "numberofemployees")
	if err != nil {
		t.Fatal(err)
	}
	if rec.String("name") != "Comma, Inc" || rec.String("numberofemployees") != "12" {
		t.Fatalf("stored %v", rec)
	}
	if _, err := os.Stat(in + ".rejects.jsonl"); err != nil {
		t.Fatalf("default rejects file: %v", err)
	}
}

// A file pulled from one environment pushes into another whose GUIDs
// differ: records keyed by alternate key, lookups bound from annotations.
func TestPullThenPushIntoAnotherEnvironment(t *testing.T) {
	srcURL, src := server(t)
	ctx := context.Background()
	acct, err := src.Create(ctx, "account", dataverse.Record{"name": "Parent", "accountnumber": "P-1"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := src.Create(ctx, "contact", dataverse.Record{
			"firstname": "C", "lastname": fmt.Sprint(i), "emailaddress1": fmt.Sprintf("c%d@example.com", i),
			"parentcustomerid_account@odata.bind": "/accounts(" + acct.String() + ")",
		}); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	accounts, contacts := filepath.Join(dir, "accounts.jsonl"), filepath.Join(dir, "contacts.jsonl")
	pullCmd := func(args ...string) {
		var out, errOut bytes.Buffer
		cmd := pull.NewCommand(output.NewStreams(strings.NewReader(""), &out, &errOut))
		cmd.SetArgs(args)
		if err := cmd.ExecuteContext(ctx); err != nil {
			t.Fatalf("pull %v: %v (%s)", args, err, errOut.String())
		}
	}
	pullCmd("account", "--env", srcURL, "--select", "name,accountnumber", "--out", accounts)
	// --portable writes the parent as a bind by its alternate key.
	pullCmd("contact", "--env", srcURL, "--select", "firstname,lastname,emailaddress1,_parentcustomerid_value", "--portable", "--out", contacts)
	data, _ := os.ReadFile(contacts)
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var m map[string]any
		json.Unmarshal([]byte(line), &m)
		if m["parentcustomerid_account@odata.bind"] != "/accounts(accountnumber='P-1')" || m["_parentcustomerid_value"] != nil {
			t.Fatalf("pulled contact %v", m)
		}
	}

	// The target has the same account under a different GUID.
	dstURL, dst := server(t)
	dstAcct, err := dst.Create(ctx, "account", dataverse.Record{"name": "Parent (target)", "accountnumber": "P-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runPush(t, "", "account", accounts, "--env", dstURL, "--key", "accountnumber"); err != nil {
		t.Fatal(err)
	}
	if _, err := runPush(t, "", "contact", contacts, "--env", dstURL, "--key", "emailaddress1"); err != nil {
		t.Fatal(err)
	}
	n := 0
	for rec, err := range dst.Records(ctx, "contact", dataverse.Query{Select: []string{"_parentcustomerid_value"}}) {
		if err != nil {
			t.Fatal(err)
		}
		if rec.String("_parentcustomerid_value") != dstAcct.String() {
			t.Fatalf("contact bound to %s, want %s", rec.String("_parentcustomerid_value"), dstAcct)
		}
		n++
	}
	if n != 3 {
		t.Fatalf("%d contacts in target", n)
	}
	if n := count(t, dst, "account", dataverse.Filter{}); n != 1 {
		t.Fatalf("%d accounts in target, want the one matched by key", n)
	}
}

func TestPushBindsLookupsFromAnnotations(t *testing.T) {
	url, c := server(t)
	ctx := context.Background()
	acct, err := c.Create(ctx, "account", dataverse.Record{"name": "A", "accountnumber": "L-1"})
	if err != nil {
		t.Fatal(err)
	}
	rec := fmt.Sprintf(`{"emailaddress1":"x@example.com","lastname":"X","_parentcustomerid_value":%q,"_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname":"account","_parentcustomerid_value@Microsoft.Dynamics.CRM.associatednavigationproperty":"parentcustomerid_account","@odata.etag":"W/\"1\""}`, acct)
	if _, err := runPush(t, rec+"\n", "contact", "-", "--env", url, "--key", "emailaddress1", "--rejects", filepath.Join(t.TempDir(), "r")); err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(ctx, "contact", dataverse.ByKey("emailaddress1", "x@example.com"), "_parentcustomerid_value")
	if err != nil {
		t.Fatal(err)
	}
	if got.String("_parentcustomerid_value") != acct.String() {
		t.Fatalf("lookup %v", got)
	}
	// Without annotations a polymorphic lookup cannot be resolved: rejected
	// with a reason, not guessed.
	bad := fmt.Sprintf(`{"emailaddress1":"y@example.com","lastname":"Y","_parentcustomerid_value":%q}`, acct)
	stdout, err := runPush(t, bad+"\n", "contact", "-", "--env", url, "--key", "emailaddress1", "--json", "--rejects", filepath.Join(t.TempDir(), "r"))
	var sum push.Summary
	json.Unmarshal([]byte(stdout), &sum)
	if err == nil || sum.Rejected != 1 {
		t.Fatalf("err %v, summary %+v", err, sum)
	}
}
