package comparecmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/mapping/odoodv"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/compare"
	"github.com/dvsync/dvsync/migrations/odoojob"
	"github.com/dvsync/dvsync/odoo"
	"github.com/dvsync/dvsync/odoo/odooserver"
)

const (
	dvToken = "compare-test-token"
	odooKey = "compare-test-key"
	seedDV  = "../../../testdata/dataverse/seed"
)

type env struct {
	dvURL, odooURL string
	dv             *dataverse.Client
	odoo           *odoo.Client
	dvRequests     *atomic.Int64
	odooRequests   *atomic.Int64
}

func counting(h http.Handler, n *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1); h.ServeHTTP(w, r) })
}

// seedWithoutCases is the Dataverse seed less its own cases (and what
// hangs off them), so that every case in the environment came from Odoo:
// the seed's users, calendars, accounts and entitlements stay.
func seedWithoutCases(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir(seedDV)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		n := e.Name()
		if strings.Contains(n, "incident") || strings.Contains(n, "slakpiinstances") || strings.Contains(n, "annotations") || strings.Contains(n, "queueitems") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(seedDV, n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func start(t testing.TB, odooSeed string) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{dvRequests: &atomic.Int64{}, odooRequests: &atomic.Int64{}}
	ref, err := refserver.New(refserver.Options{Token: dvToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ref.Close() })
	if _, err := ref.LoadSeed(ctx, seedWithoutCases(t)); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(counting(ref, e.dvRequests))
	t.Cleanup(hs.Close)
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	osrv, err := odooserver.New(odooserver.Options{APIKey: odooKey, SeedDir: odooSeed, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	os := httptest.NewServer(counting(osrv, e.odooRequests))
	t.Cleanup(os.Close)
	e.dvURL, e.odooURL = hs.URL, os.URL
	if e.dv, err = dataverse.NewClient(hs.URL, dataverse.StaticToken(dvToken), nil); err != nil {
		t.Fatal(err)
	}
	if e.odoo, err = odoo.New(ctx, odoo.Options{URL: os.URL, Database: odooserver.Database, Login: "admin", APIKey: odooKey}); err != nil {
		t.Fatal(err)
	}
	return e
}

// migrate runs the Odoo migration (the library entry point of `dvsync
// migrate odoo`) and returns the state file.
func (e *env) migrate(t testing.TB, m *odoodv.Map) string {
	t.Helper()
	state := filepath.Join(t.TempDir(), "state.db")
	store, err := migrations.OpenSQLite(context.Background(), state)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var rejects bytes.Buffer
	sum, _, err := odoojob.Migrate(context.Background(), odoojob.Config{Odoo: e.odoo, Database: odooserver.Database, Dataverse: e.dv, Map: m, Store: store, Rejects: &rejects})
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, rejects.String())
	}
	for _, s := range sum.Steps {
		if s.Step == odoodv.StepCases && s.Counts.Rejected > 0 {
			t.Fatalf("the migration rejected %d tickets:\n%s", s.Counts.Rejected, rejects.String())
		}
	}
	return state
}

func runCmd(t testing.TB, e *env, args ...string) (Summary, string, error) {
	t.Helper()
	t.Setenv("DVSYNC_TOKEN", dvToken)
	t.Setenv("ODOO_API_KEY", odooKey)
	var out, errOut bytes.Buffer
	cmd := NewCommand(output.NewStreams(strings.NewReader(""), &out, &errOut))
	base := []string{"--odoo", e.odooURL, "--odoo-db", odooserver.Database, "--odoo-user", "admin", "--env", e.dvURL}
	// As under the root command, which prints errors itself.
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs(append(base, args...))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.ExecuteContext(context.Background())
	var s Summary
	if err == nil || strings.Contains(strings.Join(args, " "), "--json") && out.Len() > 0 {
		if jerr := json.Unmarshal(out.Bytes(), &s); jerr != nil && err == nil {
			t.Fatalf("--json output: %v\n%s", jerr, out.String())
		}
	}
	return s, errOut.String(), err
}

func demoMapFile(t testing.TB) (string, *odoodv.Map) {
	t.Helper()
	file := "../../../testdata/odoodv/demo-map.yaml"
	m, err := odoodv.LoadMap(file)
	if err != nil {
		t.Fatal(err)
	}
	return file, m
}

// TestCompareAfterMigration migrates the seed helpdesk, compares (zero
// differences, through the ID map and without it), then changes three
// cases and deletes one in Dataverse and compares again: exactly those
// are found, and --fail-on-diff exits 3.
func TestCompareAfterMigration(t *testing.T) {
	if compare.OdooJobName(odooserver.Database) != odoojob.JobName(odooserver.Database) {
		t.Fatal("compare.OdooJobName no longer names the migration's job")
	}
	e := start(t, "../../../testdata/odoo/seed")
	mapFile, m := demoMapFile(t)
	state := e.migrate(t, m)
	out := t.TempDir()
	for _, args := range [][]string{{"--state", state}, {}} {
		s, stderr, err := runCmd(t, e, append([]string{"--map", mapFile, "--out", out, "--json", "--fail-on-diff"}, args...)...)
		if err != nil {
			b, _ := os.ReadFile(filepath.Join(out, "compare-differences.csv"))
			u, _ := os.ReadFile(filepath.Join(out, "compare-unmatched.csv"))
			t.Fatalf("compare %v: %v\n%s\n%+v\n%.3000s\n%.2000s", args, err, stderr, s, b, u)
		}
		if s.Matched != 300 || s.OnlyInOdoo != 0 || s.OnlyInDataverse != 0 || s.Differing != 0 || len(s.FieldDifferences) != 0 {
			b, _ := os.ReadFile(filepath.Join(out, "compare-differences.csv"))
			t.Fatalf("after a clean migration %v: %+v\n%s", args, s, b)
		}
		want := "number"
		if len(args) > 0 {
			want = "id-map"
		}
		if s.MatchedBy[want] != 300 {
			t.Errorf("%v: matched by %v, want all by %s", args, s.MatchedBy, want)
		}
		if s.Report != filepath.Join(out, "compare-report.html") {
			t.Errorf("report: %s", s.Report)
		}
		checkServerFigures(t, out)
	}

	// --since narrows both sides alike.
	s, _, err := runCmd(t, e, "--map", mapFile, "--out", t.TempDir(), "--json", "--fail-on-diff", "--since", "2026-01-01")
	if err != nil || s.Matched == 0 || s.Matched >= 300 || s.OdooRecords != s.Matched || s.DataverseRecords != s.Matched {
		t.Fatalf("--since: %v %+v", err, s)
	}

	// Change three cases, delete one.
	ctx := context.Background()
	var ids []string
	otherPriority := 0
	for rec, err := range e.dv.Records(ctx, "incident", dataverse.Query{Select: []string{"incidentid", "ticketnumber", "prioritycode"}, Filter: dataverse.Eq("statecode", 0), OrderBy: []dataverse.Order{{Column: "ticketnumber"}}, Top: 4}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rec.String("incidentid"))
		if len(ids) == 3 {
			otherPriority = map[string]int{"1": 3, "2": 3, "3": 1}[rec.String("prioritycode")]
		}
	}
	if len(ids) != 4 {
		t.Fatalf("cases: %v", ids)
	}
	for i, change := range []dataverse.Record{{"title": "Renamed in Dynamics"}, {"title": "Also renamed"}, {"prioritycode": otherPriority, "title": "Third"}} {
		if err := e.dv.Update(ctx, "incident", dataverse.ByID(mustUUID(t, ids[i])), change, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.dv.Delete(ctx, "incident", dataverse.ByID(mustUUID(t, ids[3])), nil); err != nil {
		t.Fatal(err)
	}
	s, _, err = runCmd(t, e, "--map", mapFile, "--out", out, "--json", "--fail-on-diff", "--state", state)
	if keep := os.Getenv("DVSYNC_KEEP_REPORT"); keep != "" {
		// For looking at the report of a real migration in a browser.
		os.CopyFS(keep, os.DirFS(out))
	}
	var exit *output.ExitError
	if !errors.As(err, &exit) || exit.Code != ExitDifferences {
		t.Fatalf("--fail-on-diff: %v", err)
	}
	if s.Matched != 299 || s.OnlyInOdoo != 1 || s.OnlyInDataverse != 0 || s.Differing != 3 {
		t.Fatalf("after changes: %+v", s)
	}
	if len(s.FieldDifferences) != 2 || s.FieldDifferences["title"] != 3 || s.FieldDifferences["priority"] != 1 {
		t.Errorf("field differences: %v", s.FieldDifferences)
	}
	diffs, _ := os.ReadFile(filepath.Join(out, "compare-differences.jsonl"))
	if n := strings.Count(string(diffs), "\n"); n != 4 {
		t.Errorf("differences.jsonl has %d lines, want 4:\n%s", n, diffs)
	}
	for _, id := range ids[:3] {
		if !strings.Contains(string(diffs), id) {
			t.Errorf("differences.jsonl does not name case %s", id)
		}
	}
	unmatched, _ := os.ReadFile(filepath.Join(out, "compare-unmatched.csv"))
	if strings.Count(string(unmatched), "\nodoo,") != 1 {
		t.Errorf("unmatched:\n%s", unmatched)
	}
}

func mustUUID(t testing.TB, s string) uuid.UUID {
	t.Helper()
	id, err := uuid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// checkServerFigures: after a clean migration, the Odoo figures grouped
// by the Odoo server (read_group) equal the Dataverse figures grouped by
// the Dataverse server (FetchXML aggregates), label by label, each side
// for a handful of requests.
func checkServerFigures(t *testing.T, out string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(out, compare.FileJSON))
	if err != nil {
		t.Fatal(err)
	}
	var rep compare.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if n := rep.AggregateRequests["odoo"]; n == 0 || n > 15 {
		t.Errorf("Odoo aggregates cost %d requests, want a handful", n)
	}
	if n := rep.AggregateRequests["dataverse"]; n == 0 || n > 10 {
		t.Errorf("Dataverse aggregates cost %d requests, want a handful", n)
	}
	for _, id := range []string{"team", "status", "priority", "channel", "month"} {
		f := rep.Result.Operations.Figure(id)
		if f == nil || f.OdooMethod != compare.MethodOdooGroup || f.DataverseMethod != compare.MethodDVAggregate || len(f.Rows) == 0 {
			t.Errorf("%s: %+v", id, f)
			continue
		}
		for _, r := range f.Rows {
			if *r.Odoo != *r.Dataverse {
				t.Errorf("%s %q: Odoo (read_group) %v, Dataverse (FetchXML) %v", id, r.Label, *r.Odoo, *r.Dataverse)
			}
		}
	}
	// Resolution times: Odoo close_date against the case resolution's
	// actualend, which the migration wrote from it.
	if f := rep.Result.Operations.Figure("durations"); f == nil || f.Rows[2].Odoo == nil || *f.Rows[2].Odoo == 0 ||
		*f.Rows[0].Odoo != *f.Rows[0].Dataverse || *f.Rows[1].Odoo != *f.Rows[1].Dataverse || *f.Rows[2].Odoo != *f.Rows[2].Dataverse {
		t.Errorf("durations: %+v", f)
	}
	// Time to first response: Odoo's answers grouped on the server, the
	// migrated First Response By KPIs streamed, each side defined.
	if f := rep.Result.Operations.Figure("firstresponse"); f == nil || f.OdooMethod != compare.MethodOdooGroup || f.DataverseMethod != compare.MethodStreamed ||
		f.Rows[2].Odoo == nil || *f.Rows[2].Odoo == 0 || f.Rows[2].Dataverse == nil || *f.Rows[2].Dataverse == 0 || f.Rows[0].Odoo == nil ||
		f.OdooDefinition == "" || f.DataverseDefinition == "" {
		t.Errorf("first response: %+v", f)
	}
	if f := rep.Result.Operations.Figure("sla"); f == nil || f.OdooMethod != compare.MethodOdooGroup || f.DataverseMethod != compare.MethodDVAggregate || len(f.Rows) == 0 {
		t.Errorf("sla: %+v", f)
	}
	// Which entitlements are active depends on the reference server's
	// clock; that the panel was read is what this test can hold.
	if rep.Result.Operations.Entitlements == nil {
		t.Errorf("entitlements: %+v", rep.Result.Operations.Entitlements)
	}
}
