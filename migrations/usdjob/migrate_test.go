package usdjob_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/mapping/workspace"
	migrate "github.com/dvsync/dvsync/migrations/usdjob"
	"github.com/dvsync/dvsync/usd"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const token = "migrate-test"

// env is a reference Dataverse behind httptest, with a client that counts
// the writes it sends.
type env struct {
	c      *dataverse.Client
	writes atomic.Int64
}

type countingTransport struct {
	base   http.RoundTripper
	writes *atomic.Int64
}

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodGet {
		t.writes.Add(1)
	}
	return t.base.RoundTrip(r)
}

func newEnv(t testing.TB) *env {
	t.Helper()
	srv, err := refserver.New(refserver.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	e := &env{}
	e.c, err = dataverse.NewClient(hs.URL, dataverse.StaticToken(token), &dataverse.ClientOptions{MaxRetries: 1,
		Transport: countingTransport{base: hs.Client().Transport, writes: &e.writes}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func loadModel(t testing.TB, fixture string) *usd.Model {
	t.Helper()
	m, err := usd.LoadFile(context.Background(), filepath.Join("..", "..", "testdata", "usd", fixture))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func translate(t testing.TB, m *usd.Model) *workspace.Result {
	t.Helper()
	res, err := workspace.Translate(m, workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func checkRun(t *testing.T, run *migrate.Run, n, links int) {
	t.Helper()
	c := run.Counts
	if c.Records != n || c.Created+c.Updated+c.Unchanged+c.Rejected != n {
		t.Errorf("record counts do not reconcile with %d records: %+v", n, c)
	}
	if c.Associations != links || c.AssociationsAdded+c.AssociationsPresent+c.AssociationsRejected+c.AssociationsSkipped != links {
		t.Errorf("association counts do not reconcile with %d links: %+v", links, c)
	}
	for _, r := range run.Records {
		if r.Error != "" {
			t.Errorf("record %s %s: %s", r.Table, r.UniqueName, r.Error)
		}
	}
	for _, a := range run.Associations {
		if a.Error != "" {
			t.Errorf("link %s %s → %s: %s", a.Relationship, a.From.UniqueName, a.To.UniqueName, a.Error)
		}
	}
	if run.Verification == nil {
		t.Fatal("no verification")
	}
	if run.Verification.Records != n || run.Verification.Associations != links {
		t.Errorf("verification read %d records and %d links, want %d and %d", run.Verification.Records, run.Verification.Associations, n, links)
	}
	for _, m := range run.Verification.Mismatches {
		t.Errorf("verification: %v", m)
	}
	if !run.OK() {
		t.Error("run not OK")
	}
}

// The realistic fixture, every configuration: into an empty environment,
// verified, re-run as a no-op, and the key records read back through the
// Web API independently of the migrator.
func TestContosoEndToEnd(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	model := loadModel(t, "contoso.zip")
	res := translate(t, model)
	var progressed atomic.Int64
	mg := &migrate.Migrator{Client: e.c, Result: res, Options: migrate.Options{Progress: func(migrate.Phase, int, int) { progressed.Add(1) }}}

	plan, err := mg.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Counts.Create != len(res.Records) || plan.Counts.AssociationsAdd != len(res.Associations) || e.writes.Load() != 0 {
		t.Fatalf("plan against an empty environment: %+v, %d writes", plan.Counts, e.writes.Load())
	}
	run, err := mg.Apply(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, run, len(res.Records), len(res.Associations))
	if run.Counts.Created != len(res.Records) || run.Counts.AssociationsAdded != len(res.Associations) {
		t.Errorf("first run: %+v", run.Counts)
	}
	if progressed.Load() == 0 {
		t.Error("no progress reported")
	}

	// Re-run: nothing to write, nothing written.
	before := e.writes.Load()
	run, err = mg.Apply(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, run, len(res.Records), len(res.Associations))
	if run.Counts.Unchanged != len(res.Records) || run.Counts.AssociationsPresent != len(res.Associations) {
		t.Errorf("re-run: %+v", run.Counts)
	}
	if n := e.writes.Load() - before; n != 0 {
		t.Errorf("re-run sent %d writes", n)
	}

	// Read back what a workspace admin would look at.
	read := func(table string, q dataverse.Query) []dataverse.Record {
		t.Helper()
		var out []dataverse.Record
		for rec, err := range e.c.Records(ctx, table, q) {
			if err != nil {
				t.Fatalf("reading %s: %v", table, err)
			}
			out = append(out, rec)
		}
		return out
	}
	profiles := read("msdyn_appconfiguration", dataverse.Query{})
	var profileNames, configNames []string
	for _, p := range profiles {
		profileNames = append(profileNames, p.String("msdyn_name"))
	}
	for _, c := range model.Configurations {
		configNames = append(configNames, c.Name)
	}
	slices.Sort(profileNames)
	slices.Sort(configNames)
	if len(configNames) < 2 || !slices.Equal(profileNames, configNames) {
		t.Errorf("app profiles %v, configurations %v", profileNames, configNames)
	}
	sessions := read("msdyn_sessiontemplate", dataverse.Query{})
	slugs := 0
	for _, s := range sessions {
		if strings.Contains(s.String("msdyn_title"), "{anchor.") {
			slugs++
		}
		if !strings.HasPrefix(s.String("msdyn_uniquename"), "dvs_") {
			t.Errorf("session template unique name %q", s.String("msdyn_uniquename"))
		}
	}
	if len(sessions) == 0 || slugs == 0 {
		t.Errorf("%d session templates, %d with slug titles", len(sessions), slugs)
	}
	// Every profile lists session templates through the N:N relationship.
	for _, p := range profiles {
		n := 0
		for _, err := range e.c.Related(ctx, "msdyn_appconfiguration", dataverse.ByKey("msdyn_uniquename", p.String("msdyn_uniquename")),
			"msdyn_appconfiguration_sessiontemplate", dataverse.Query{Select: []string{"msdyn_uniquename"}}) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n == 0 {
			t.Errorf("app profile %s has no session templates", p.String("msdyn_name"))
		}
	}
	tabs := read("msdyn_applicationtabtemplate", dataverse.Query{})
	params := read("msdyn_templateparameter", dataverse.Query{})
	tabIDs := map[string]bool{}
	for _, tb := range tabs {
		tabIDs[tb.String("msdyn_applicationtabtemplateid")] = true
	}
	withParams := map[string]bool{}
	for _, p := range params {
		id := p.String("_msdyn_applicationtabtemplateid_value")
		if !tabIDs[id] || p.String("msdyn_name") == "" {
			t.Errorf("template parameter %s points at %q", p.String("msdyn_uniquename"), id)
		}
		withParams[id] = true
	}
	if len(tabs) < 5 || len(withParams) < 3 {
		t.Errorf("%d tab templates, %d with parameters", len(tabs), len(withParams))
	}
	scripts := read("msdyn_productivityagentscript", dataverse.Query{})
	steps := read("msdyn_productivityagentscriptstep", dataverse.Query{OrderBy: []dataverse.Order{{Column: "msdyn_order"}}})
	stepsOf := map[string][]int{}
	for _, s := range steps {
		o, _ := s["msdyn_order"].(json.Number).Int64()
		stepsOf[s.String("_msdyn_agentscriptid_value")] = append(stepsOf[s.String("_msdyn_agentscriptid_value")], int(o))
	}
	for _, s := range scripts {
		orders := stepsOf[s.String("msdyn_productivityagentscriptid")]
		if len(orders) == 0 {
			t.Errorf("agent script %s has no steps", s.String("msdyn_name"))
		}
		if !slices.IsSorted(orders) || len(slices.Compact(slices.Clone(orders))) != len(orders) {
			t.Errorf("agent script %s step orders %v", s.String("msdyn_name"), orders)
		}
	}
	if len(scripts) == 0 {
		t.Error("no agent scripts")
	}
	// The Incoming Call Popup arrives as a notification template with the
	// field its form showed, linked through the N:N relationship.
	notes := read("msdyn_notificationtemplate", dataverse.Query{})
	if len(notes) != 1 {
		t.Fatalf("%d notification templates, want 1", len(notes))
	}
	if n := notes[0]; n.String("msdyn_title") != "Incoming Call Popup" || n.String("msdyn_timeout") != "15" || n.String("msdyn_uniquename") != "dvs_notification_incoming_call_popup" {
		t.Errorf("notification template %v", n)
	}
	var noteFields []string
	for rec, err := range e.c.Related(ctx, "msdyn_notificationtemplate", dataverse.ByKey("msdyn_uniquename", notes[0].String("msdyn_uniquename")),
		"msdyn_notificationtemplate_notificationfield", dataverse.Query{Select: []string{"msdyn_title", "msdyn_value"}}) {
		if err != nil {
			t.Fatal(err)
		}
		noteFields = append(noteFields, rec.String("msdyn_title")+" = "+rec.String("msdyn_value"))
	}
	if want := []string{"Incoming call from = [[$Context.ani]+]"}; !slices.Equal(noteFields, want) {
		t.Errorf("notification fields %q, want %q", noteFields, want)
	}
	macros := read("workflow", dataverse.Query{Filter: dataverse.Eq("category", 9000)})
	if len(macros) == 0 {
		t.Error("no macros")
	}
	for _, m := range macros {
		var cd struct {
			Properties struct {
				Definition struct {
					Actions map[string]struct {
						Type string `json:"type"`
					} `json:"actions"`
				} `json:"definition"`
			} `json:"properties"`
		}
		if err := json.Unmarshal([]byte(m.String("clientdata")), &cd); err != nil || len(cd.Properties.Definition.Actions) == 0 {
			t.Errorf("macro %s clientdata %q: %v", m.String("name"), m.String("clientdata"), err)
		}
		if m.String("statecode") != "1" {
			t.Errorf("macro %s statecode %s", m.String("name"), m.String("statecode"))
		}
	}
}

// Changes made by hand after a migration are found by the plan, put right
// by the run, and anything the translation does not know is left alone.
func TestPlanFindsDrift(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	res := translate(t, loadModel(t, "small.zip"))
	mg := &migrate.Migrator{Client: e.c, Result: res}
	if _, err := mg.Apply(ctx, nil); err != nil {
		t.Fatal(err)
	}
	var session, step *workspace.Record
	for _, r := range res.Records {
		if r.Table == "msdyn_sessiontemplate" && session == nil {
			session = r
		}
		if r.Table == "msdyn_productivityagentscriptstep" && step == nil {
			step = r
		}
	}
	var link *workspace.Association
	for i, a := range res.Associations {
		if a.From == session.Ref() || a.To == session.Ref() {
			link = &res.Associations[i]
			break
		}
	}
	if session == nil || step == nil || link == nil {
		t.Fatal("small fixture lacks a session template with a link, or a script step")
	}
	byName := func(r workspace.Ref) dataverse.Key {
		return dataverse.ByKey(workspace.KeyColumn(r.Table), r.UniqueName)
	}
	// Retitle the session, clear a step's order, drop a link.
	if err := e.c.Update(ctx, session.Table, byName(session.Ref()), dataverse.Record{"msdyn_title": "edited by hand", "msdyn_name": session.Fields["msdyn_name"]}, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Update(ctx, step.Table, byName(step.Ref()), dataverse.Record{"msdyn_order": nil}, nil); err != nil {
		t.Fatal(err)
	}
	other, err := e.c.Get(ctx, link.To.Table, byName(link.To))
	if err != nil {
		t.Fatal(err)
	}
	otherTable, _ := e.c.Table(ctx, link.To.Table)
	otherID, _ := uuid.Parse(other.String(otherTable.PrimaryID))
	if err := e.c.Disassociate(ctx, link.From.Table, byName(link.From), link.Relationship, dataverse.ByID(otherID)); err != nil {
		t.Fatal(err)
	}
	// An extra link made by hand is reported, not removed.
	extra, err := e.c.Create(ctx, "msdyn_applicationtabtemplate", dataverse.Record{"msdyn_name": "Hand-made", "msdyn_uniquename": "new_handmade", "msdyn_pagetype": 509180006})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.c.Associate(ctx, "msdyn_sessiontemplate", byName(session.Ref()), "msdyn_sessiontemplate_applicationtab", "msdyn_applicationtabtemplate", dataverse.ByID(extra)); err != nil {
		t.Fatal(err)
	}

	plan, err := mg.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	changed := map[string][]string{}
	for _, r := range plan.Records {
		if r.Action == migrate.ActionUpdate {
			changed[r.UniqueName] = r.Changed
		}
	}
	if len(changed) != 2 || !slices.Equal(changed[session.UniqueName], []string{"msdyn_title"}) || !slices.Equal(changed[step.UniqueName], []string{"msdyn_order"}) {
		t.Errorf("updates planned: %v", changed)
	}
	if plan.Counts.AssociationsAdd != 1 || plan.Counts.Create != 0 {
		t.Errorf("plan counts %+v", plan.Counts)
	}
	if len(plan.Extra) != 1 || plan.Extra[0].To.UniqueName != "new_handmade" {
		t.Errorf("extra links %+v", plan.Extra)
	}
	before := e.writes.Load()
	run, err := mg.Apply(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, run, len(res.Records), len(res.Associations))
	if run.Counts.Updated != 2 || run.Counts.AssociationsAdded != 1 {
		t.Errorf("run counts %+v", run.Counts)
	}
	if n := e.writes.Load() - before; n != 3 {
		t.Errorf("run sent %d writes, want 3 (two updates, one link)", n)
	}
	if _, err := e.c.Get(ctx, "msdyn_applicationtabtemplate", dataverse.ByID(extra)); err != nil {
		t.Errorf("hand-made record: %v", err)
	}
}

// A record Dataverse refuses is reported with its error; the links that
// need it are skipped, the rest of the run goes on, the counts add up and
// verification says what is missing.
func TestRejectedRecord(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	res := &workspace.Result{
		Records: []*workspace.Record{
			{Table: "msdyn_applicationtabtemplate", UniqueName: "dvs_bad", Fields: map[string]any{
				"msdyn_uniquename": "dvs_bad", "msdyn_name": "Bad", "msdyn_pagetype": 12345}},
			{Table: "msdyn_applicationtabtemplate", UniqueName: "dvs_good", Fields: map[string]any{
				"msdyn_uniquename": "dvs_good", "msdyn_name": "Good", "msdyn_pagetype": 509180006}},
			{Table: "msdyn_sessiontemplate", UniqueName: "dvs_session", Fields: map[string]any{
				"msdyn_uniquename": "dvs_session", "msdyn_name": "Session", "msdyn_sessiontype": 1, "msdyn_entity": "incident", "msdyn_title": "{anchor.title}"}},
			{Table: "msdyn_templateparameter", UniqueName: "dvs_bad_url", Fields: map[string]any{
				"msdyn_uniquename": "dvs_bad_url", "msdyn_name": "url", "msdyn_value": "https://example.com/",
				"msdyn_applicationtabtemplateid": workspace.Ref{Table: "msdyn_applicationtabtemplate", UniqueName: "dvs_bad"}}},
		},
		Associations: []workspace.Association{
			{Relationship: "msdyn_sessiontemplate_applicationtab", From: workspace.Ref{Table: "msdyn_sessiontemplate", UniqueName: "dvs_session"},
				To: workspace.Ref{Table: "msdyn_applicationtabtemplate", UniqueName: "dvs_bad"}},
			{Relationship: "msdyn_sessiontemplate_applicationtab", From: workspace.Ref{Table: "msdyn_sessiontemplate", UniqueName: "dvs_session"},
				To: workspace.Ref{Table: "msdyn_applicationtabtemplate", UniqueName: "dvs_good"}},
		},
	}
	calls := 0 // Progress is never called concurrently: -race checks this
	run, err := (&migrate.Migrator{Client: e.c, Result: res, Options: migrate.Options{Progress: func(migrate.Phase, int, int) { calls++ }}}).Apply(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if calls == 0 {
		t.Error("no progress reported")
	}
	c := run.Counts
	if c.Created != 2 || c.Rejected != 2 || c.AssociationsAdded != 1 || c.AssociationsSkipped != 1 || c.Records != 4 || c.Associations != 2 {
		t.Errorf("counts %+v", c)
	}
	if run.Records[0].Outcome != migrate.Rejected || !strings.Contains(run.Records[0].Error, "12345") {
		t.Errorf("bad record: %+v", run.Records[0])
	}
	if r := run.Records[3]; r.Outcome != migrate.Rejected || r.Error != "not written: msdyn_applicationtabtemplateid points at msdyn_applicationtabtemplate dvs_bad, which was rejected" {
		t.Errorf("record pointing at the rejected one: %+v", r)
	}
	if run.OK() {
		t.Error("run with a rejected record is OK")
	}
	var problems []string
	for _, m := range run.Verification.Mismatches {
		problems = append(problems, m.String())
	}
	want := []string{
		"msdyn_applicationtabtemplate dvs_bad: record not found",
		"msdyn_templateparameter dvs_bad_url: record not found",
		"msdyn_sessiontemplate dvs_session: msdyn_sessiontemplate_applicationtab dvs_bad: association not found",
	}
	if !slices.Equal(problems, want) {
		t.Errorf("mismatches:\n%s\nwant\n%s", strings.Join(problems, "\n"), strings.Join(want, "\n"))
	}
}

// The dry-run plan of the small fixture against an empty environment.
func TestSmallPlanGolden(t *testing.T) {
	e := newEnv(t)
	res := translate(t, loadModel(t, "small.zip"))
	plan, err := (&migrate.Migrator{Client: e.c, Result: res}).Plan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(plan); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "small-plan.golden.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("plan differs from %s (run with -update after checking):\n%s", path, buf.String())
	}
}

// A configuration that grew between runs: records already there are
// updated or left alone, new ones created, and links of records not yet
// written are planned without reading them.
func TestMigrateGrownConfiguration(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := (&migrate.Migrator{Client: e.c, Result: translate(t, loadModel(t, "small.zip"))}).Apply(ctx, nil); err != nil {
		t.Fatal(err)
	}
	res := translate(t, loadModel(t, "contoso.zip"))
	mg := &migrate.Migrator{Client: e.c, Result: res, Options: migrate.Options{Progress: func(migrate.Phase, int, int) {}}}
	plan, err := mg.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := plan.Counts
	if c.Create == 0 || c.Create == len(res.Records) || c.Create+c.Update+c.Unchanged != len(res.Records) ||
		c.AssociationsAdd+c.AssociationsPresent != len(res.Associations) {
		t.Errorf("plan counts %+v for %d records, %d links", c, len(res.Records), len(res.Associations))
	}
	run, err := mg.Apply(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, run, len(res.Records), len(res.Associations))
	if run.Counts.Created != c.Create || run.Counts.Updated != c.Update {
		t.Errorf("run %+v, plan %+v", run.Counts, c)
	}
}
