package synccmd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dvsync/dvsync/cmd/internal/exitcode"
	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/cmd/internal/synccmd"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/migrations/odoojob/odoojobtest"
	"github.com/dvsync/dvsync/migrations/syncjob"
	"github.com/dvsync/dvsync/odoo/odooserver"
)

const token = "synccmd-token"

func server(t *testing.T, incidents int) (string, *refserver.Server) {
	t.Helper()
	srv, err := refserver.New(refserver.Options{Token: token, DataPath: filepath.Join(t.TempDir(), "dv.db")})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { hs.Close(); srv.Close() })
	ctx := context.Background()
	acc := "0a0a0a0a-0000-4000-8000-0000000000aa"
	if err := srv.InsertRows(ctx, "account", 1, func(int) map[string]any {
		return map[string]any{"accountid": acc, "name": "Contoso", "statecode": 0, "statuscode": 1}
	}); err != nil {
		t.Fatal(err)
	}
	if err := srv.InsertRows(ctx, "incident", incidents, func(i int) map[string]any {
		return map[string]any{"incidentid": fmt.Sprintf("00000000-0000-4000-8000-%012x", i), "title": fmt.Sprintf("Case %d", i), "ticketnumber": fmt.Sprintf("CAS-%d", i),
			"statecode": 0, "statuscode": 1, "customerid": refserver.Ref{Table: "account", ID: acc}}
	}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DVSYNC_TOKEN", token)
	return hs.URL, srv
}

func writeJob(t *testing.T, dir, text string) string {
	t.Helper()
	p := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// execute runs `dvsync <args>` the way the root command does: an
// output.ExitError's code, 1 for any other error.
func execute(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	cmd := synccmd.NewCommand(output.NewStreams(strings.NewReader(""), &out, &errb))
	cmd.SetArgs(args[1:])
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(context.Background())
	if err == nil {
		return 0, out.String(), errb.String()
	}
	fmt.Fprintln(&errb, "dvsync:", err)
	var exit *output.ExitError
	if errors.As(err, &exit) {
		return exit.Code, out.String(), errb.String()
	}
	return 1, out.String(), errb.String()
}

func TestSyncCommandSucceedsWithJSONMetricsAndHistory(t *testing.T) {
	url, _ := server(t, 12)
	dir := t.TempDir()
	job := writeJob(t, dir, "name: nightly\nsource:\n  dataverse: {env: "+url+"}\ntarget:\n  sqlite: mirror.db\ntables: [incident, subject]\n")
	metrics := filepath.Join(dir, "dvsync.prom")
	code, out, errOut := execute("sync", "--job", job, "--json", "--metrics", metrics)
	if code != exitcode.OK {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	var sum syncjob.Summary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Status != "succeeded" || len(sum.Tables) != 2 || sum.Tables[0].Upserted != 12 || sum.Tables[1].Mode != syncjob.ModeModifiedOn || sum.Totals.Requests == 0 {
		t.Fatalf("%+v", sum)
	}
	if _, err := os.Stat(filepath.Join(dir, "mirror.db")); err != nil {
		t.Fatalf("mirror not beside the job file: %v", err)
	}
	prom, _ := os.ReadFile(metrics)
	if !strings.Contains(string(prom), `dvsync_sync_last_run_records{job="nightly",table="incident",outcome="upserted"} 12`) {
		t.Fatalf("metrics:\n%s", prom)
	}
	code, out, _ = execute("sync", "--job", job)
	if code != 0 || !strings.Contains(out, "subject: change tracking is off") || !strings.Contains(out, "UPSERTED") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	code, out, _ = execute("sync", "history", "--job", job)
	if code != 0 || strings.Count(out, "succeeded") != 2 {
		t.Fatalf("history exit %d:\n%s", code, out)
	}
}

func TestSyncCommandUsageErrorsExit2(t *testing.T) {
	dir := t.TempDir()
	job := writeJob(t, dir, "name: bad\nsource:\n  dataverse: {env: https://org.crm.dynamics.com}\ntarget:\n  sqlit: x.db\ntables: [incident]\n")
	code, _, errOut := execute("sync", "--job", job)
	if code != exitcode.Usage || !strings.Contains(errOut, "job.yaml:5: target.sqlit: unknown endpoint") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if code, _, errOut = execute("sync", "--job", job, "--no-such-flag"); code != exitcode.Usage {
		t.Fatalf("unknown flag: exit %d: %s", code, errOut)
	}
	if code, _, errOut = execute("sync"); code != exitcode.Usage || !strings.Contains(errOut, "--job") {
		t.Fatalf("no job: exit %d: %s", code, errOut)
	}
}

func TestSyncCommandRejectsExit3(t *testing.T) {
	url, srv := server(t, 3)
	if err := srv.InsertRows(context.Background(), "incident", 1, func(int) map[string]any {
		return map[string]any{"incidentid": "00000000-0000-4000-8000-0000000000ff", "title": "bad", "statecode": 0, "statuscode": 1,
			"customerid": refserver.Ref{Table: "account", ID: "not-a-guid"}}
	}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	job := writeJob(t, dir, "name: rej\nsource:\n  dataverse: {env: "+url+"}\ntarget:\n  sqlite: m.db\ntables: [incident]\n")
	code, out, errOut := execute("sync", "--job", job)
	if code != exitcode.Rejects || !strings.Contains(errOut, "1 records rejected") || !strings.Contains(out, "REJECTS") {
		t.Fatalf("exit %d:\n%s\n%s", code, out, errOut)
	}
	b, err := os.ReadFile(filepath.Join(dir, "rej.rejects.jsonl"))
	if err != nil || !strings.Contains(string(b), "0000000000ff") {
		t.Fatalf("rejects file: %s %v", b, err)
	}
}

func TestSyncCommandLockHeldExit4(t *testing.T) {
	url, _ := server(t, 1)
	dir := t.TempDir()
	job := writeJob(t, dir, "name: busy\nsource:\n  dataverse: {env: "+url+"}\ntarget:\n  sqlite: m.db\ntables: [incident]\n")
	st, err := syncjob.OpenStore(context.Background(), filepath.Join(dir, "busy.state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	unlock, err := st.Lock(context.Background(), "busy")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	code, _, errOut := execute("sync", "--job", job)
	if code != exitcode.Locked || !strings.Contains(errOut, "holds the lock") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

func TestSyncCommandFailureExit1(t *testing.T) {
	url, _ := server(t, 1)
	dir := t.TempDir()
	job := writeJob(t, dir, "name: fail\nsource:\n  dataverse: {env: "+url+"}\ntarget:\n  sqlite: m.db\ntables: [incident, nosuchtable]\n")
	code, out, errOut := execute("sync", "--job", job)
	if code != exitcode.Failure || !strings.Contains(errOut, "nosuchtable") || !strings.Contains(out, "FAILED") {
		t.Fatalf("exit %d:\n%s\n%s", code, out, errOut)
	}
	// The table that could be synced was.
	if !strings.Contains(out, "incident") {
		t.Fatalf("%s", out)
	}
}

func TestSyncCommandDataverseToDataverse(t *testing.T) {
	src, _ := server(t, 4)
	dst, _ := server(t, 0)
	dir := t.TempDir()
	job := writeJob(t, dir, "name: copy\nsource:\n  dataverse: {env: "+src+"}\ntarget:\n  dataverse: {env: "+dst+"}\ntables: [incident]\n")
	// A dry run first: what would be created, and nothing written.
	code, out, errOut := execute("sync", "--job", job, "--dry-run")
	if code != exitcode.OK || !strings.Contains(out, "dry run, nothing written") || !regexp.MustCompile(`(?m)^incident\s+change-tracking\s+4\s+4\s+4\s+0\s`).MatchString(out) {
		t.Fatalf("dry run into Dataverse: exit %d:\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "CREATED  UPDATED") {
		t.Errorf("the dry run's summary does not split what it would create and update:\n%s", out)
	}
	code, out, errOut = execute("sync", "--job", job, "--json")
	if code != exitcode.OK {
		t.Fatalf("exit %d:\n%s\n%s", code, out, errOut)
	}
	var sum syncjob.Summary
	if err := json.Unmarshal([]byte(out), &sum); err != nil || sum.Target != "dataverse" || sum.Tables[0].Upserted != 4 {
		t.Fatalf("%+v %v", sum, err)
	}
}

func TestSyncCommandOdooToDataverse(t *testing.T) {
	srv := odoojobtest.Start(t, odoojobtest.SmallSeed(t, 10), nil)
	dir := t.TempDir()
	job := writeJob(t, dir, "name: odoo\nsource:\n  odoo: {url: "+srv.OdooURL+", db: "+odooserver.Database+", user: admin}\ntarget:\n  dataverse: {env: "+srv.DVURL+
		"}\nmap: "+odoojobtest.Testdata("odoodv", "demo-map.yaml")+"\n")
	t.Setenv("DVSYNC_TOKEN", odoojobtest.DVToken)
	t.Setenv("ODOO_API_KEY", "")
	if code, _, errOut := execute("sync", "--job", job); code != exitcode.Failure || !strings.Contains(errOut, "ODOO_API_KEY") {
		t.Fatalf("without a key: exit %d: %s", code, errOut)
	}
	t.Setenv("ODOO_API_KEY", odoojobtest.OdooKey)
	code, out, errOut := execute("sync", "--job", job, "--json")
	if code != exitcode.OK {
		t.Fatalf("exit %d:\n%s\n%s", code, out, errOut)
	}
	var sum syncjob.Summary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ts := range sum.Tables {
		if ts.Table == "cases" {
			found = ts.Upserted == 10 && ts.Mode == "odoo write_date cursor"
		}
	}
	if !found || sum.Status != "succeeded" {
		t.Fatalf("%s", out)
	}
	if code, out, _ = execute("sync", "history", "--job", job); code != 0 || !strings.Contains(out, "succeeded") {
		t.Fatalf("history: %d %s", code, out)
	}
}
