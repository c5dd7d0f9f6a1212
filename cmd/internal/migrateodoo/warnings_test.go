package migrateodoo

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dvsync/dvsync/cmd/internal/exitcode"
	"github.com/dvsync/dvsync/mapping/odoodv"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/odoojob"
	"github.com/dvsync/dvsync/odoo/odooserver"
)

func TestWarningsPath(t *testing.T) {
	for in, want := range map[string]string{
		"odoo-rejects.jsonl":          "odoo-warnings.jsonl",
		"out/state.rejects.jsonl":     "out/state.warnings.jsonl",
		"rejects/run-rejects.jsonl":   "rejects/run-warnings.jsonl",
		"bad.jsonl":                   "bad.warnings.jsonl",
		filepath.Join("a", "refused"): filepath.Join("a", "refused.warnings.jsonl"),
	} {
		if got := WarningsPath(in); got != want {
			t.Errorf("WarningsPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestUnmatchedUserWarning migrates with a user map that leaves Mei Chen
// (Odoo user 10) unmapped: her own address is no Dataverse user, so the
// users step rejects her and each of her tickets is written with the
// default owner and a warning, which must reach the warnings file, the
// table and the JSON summary without disturbing the reconciliation.
func TestUnmatchedUserWarning(t *testing.T) {
	seed := smallSeed(t, 25)
	var meis []string
	for _, tk := range readJSONL(t, filepath.Join(seed, "helpdesk.ticket.jsonl")) {
		if uid, _ := tk["user_id"].(float64); uid == 10 {
			meis = append(meis, strconv.Itoa(int(tk["id"].(float64))))
		}
	}
	if len(meis) == 0 {
		t.Fatal("the generated seed gives Mei Chen no ticket; pick another user or seed")
	}
	slices.Sort(meis)

	dir := t.TempDir()
	mapYAML, err := os.ReadFile("../../../testdata/odoodv/demo-map.yaml")
	if err != nil {
		t.Fatal(err)
	}
	users, err := os.ReadFile("../../../testdata/odoodv/demo-users.csv")
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, l := range strings.Split(string(users), "\n") {
		if !strings.HasPrefix(l, "mei.chen@") {
			kept = append(kept, l)
		}
	}
	if len(kept) == len(strings.Split(string(users), "\n")) {
		t.Fatal("demo-users.csv no longer maps mei.chen@")
	}
	mapFile := filepath.Join(dir, "map.yaml")
	os.WriteFile(mapFile, mapYAML, 0o600)
	os.WriteFile(filepath.Join(dir, "demo-users.csv"), []byte(strings.Join(kept, "\n")), 0o600)

	s := startServers(t, seed)
	t.Setenv("DVSYNC_TOKEN", dvToken)
	t.Setenv("ODOO_API_KEY", odooKey)
	base := []string{"--odoo", s.odooURL, "--odoo-db", odooserver.Database, "--odoo-user", "admin", "--env", s.dvURL,
		"--state", filepath.Join(dir, "state.db"), "--rejects", filepath.Join(dir, "odoo-rejects.jsonl"), "--map", mapFile}

	// Mei Chen herself is no Dataverse user, so her user record is
	// rejected: the run finishes with the documented "rejects" exit code.
	out, _, err := runCmd(t, base...)
	if code := exitCode(err); code != exitcode.Rejects {
		t.Fatalf("exit %d (%v), want %d", code, err, exitcode.Rejects)
	}
	// The default file sits beside the rejects file.
	warnFile := filepath.Join(dir, "odoo-warnings.jsonl")
	lines := readJSONL(t, warnFile)
	var got []string
	for _, l := range lines {
		if l["step"] != odoodv.StepCases || !strings.Contains(l["message"].(string), "user 10 (Mei Chen) has no Dataverse match; owner falls back to users.default_owner oskar.delgado@harborlane.example") {
			t.Errorf("unexpected warning %v", l)
			continue
		}
		got = append(got, l["sourceId"].(string))
	}
	slices.Sort(got)
	if !slices.Equal(got, meis) {
		t.Errorf("warned tickets %v, want Mei Chen's %v", got, meis)
	}
	header := strings.Fields(strings.SplitN(out, "\n", 2)[0])
	col := slices.Index(header, "WARNINGS")
	if col < 0 {
		t.Fatalf("no WARNINGS column:\n%s", out)
	}
	for _, row := range strings.Split(out, "\n") {
		f := strings.Fields(row)
		if len(f) != len(header) || (f[0] != odoodv.StepCases && f[0] != "total") {
			continue
		}
		if f[col] != strconv.Itoa(len(meis)) {
			t.Errorf("%s row shows %s warnings, want %d:\n%s", f[0], f[col], len(meis), out)
		}
	}
	if !strings.Contains(out, warnFile) || !strings.Contains(out, "has no Dataverse match") {
		t.Errorf("summary does not point to the warnings:\n%s", out)
	}

	// Re-reading everything warns again, in the JSON summary too, and the
	// file is appended to.
	out, _, err = runCmd(t, append(base, "--restart", "--json")...)
	if code := exitCode(err); code != exitcode.Rejects {
		t.Fatalf("exit %d (%v), want %d", code, err, exitcode.Rejects)
	}
	var res odoojob.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if res.Warned != int64(len(meis)) || res.Warnings != warnFile {
		t.Errorf("JSON: warned %d in %q, want %d in %s", res.Warned, res.Warnings, len(meis), warnFile)
	}
	for _, st := range res.Steps {
		if err := st.Counts.Reconcile(st.Step); err != nil {
			t.Error(err)
		}
		if st.Step != odoodv.StepCases {
			continue
		}
		if st.Counts.Warned != int64(len(meis)) || len(st.Warnings) != min(len(meis), migrations.DefaultWarningSampleSize) ||
			st.Counts.Rejected != 0 || st.Counts.TotalWritten()+st.Counts.Unchanged != st.Counts.Read-st.Counts.Skipped {
			t.Errorf("cases %+v, %d sampled warnings", st.Counts, len(st.Warnings))
		}
	}
	if n := len(readJSONL(t, warnFile)); n != 2*len(meis) {
		t.Errorf("warnings file has %d lines after two runs, want %d", n, 2*len(meis))
	}
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
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
