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
	"time"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/mapping/workspace"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/usdjob"
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
	return envFor(t, srv, nil)
}

func envFor(t testing.TB, h http.Handler, o *dataverse.ClientOptions) *env {
	t.Helper()
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	e := &env{}
	if o == nil {
		o = &dataverse.ClientOptions{}
	}
	o.MaxRetries = 1
	o.Transport = countingTransport{base: hs.Client().Transport, writes: &e.writes}
	var err error
	if e.c, err = dataverse.NewClient(hs.URL, dataverse.StaticToken(token), o); err != nil {
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

func openStore(t testing.TB) migrations.Store {
	t.Helper()
	s, err := migrations.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// migrate runs (or plans) res into e with store.
func migrate(t testing.TB, e *env, res *workspace.Result, store migrations.Store, edit func(*usdjob.Config)) *usdjob.Result {
	t.Helper()
	cfg := usdjob.Config{Dataverse: e.c, Translation: res, Store: store}
	if store == nil {
		cfg.DryRun = true
	}
	if edit != nil {
		edit(&cfg)
	}
	r, err := usdjob.Migrate(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// outcomes counts the records per outcome.
func outcomes(r *usdjob.Result) map[migrations.Outcome]int {
	n := map[migrations.Outcome]int{}
	for _, o := range r.Records {
		n[o.Outcome]++
	}
	return n
}

// checkRun checks a run of n records and links links: counts reconcile
// step by step, nothing rejected, and verify found every record, its
// lookups, state and links.
func checkRun(t *testing.T, r *usdjob.Result, n, links int) {
	t.Helper()
	tot := r.Total()
	if tot.Read != int64(n) || tot.Rejected != 0 || tot.Created+tot.Updated+tot.Unchanged != tot.Read {
		t.Errorf("counts %+v for %d records", tot, n)
	}
	for _, st := range r.Steps {
		if err := st.Counts.Reconcile(st.Step); err != nil || st.Status != migrations.StatusSucceeded {
			t.Errorf("step %s %s: %v", st.Step, st.Status, err)
		}
	}
	carried := 0
	for _, o := range r.Records {
		carried += o.Links
		if o.Error != "" {
			t.Errorf("record %s %s: %s", o.Table, o.UniqueName, o.Error)
		}
	}
	if len(r.Records) != n || carried != links {
		t.Errorf("%d record outcomes carrying %d links, want %d and %d", len(r.Records), carried, n, links)
	}
	for _, l := range r.Rejects {
		t.Errorf("rejected: %s %s: %s", l.Step, l.SourceID, l.Error)
	}
	v := r.Verification
	if v == nil {
		t.Fatal("no verification")
	}
	var checked int64
	for _, s := range v.Steps {
		checked += s.Checked
		for _, m := range s.Mismatches {
			t.Errorf("verify %s: %s %s %s %+v %s", s.Step, m.Kind, m.Table, m.SourceID, m.Fields, m.Error)
		}
	}
	if checked != int64(n) || !v.OK || v.TotalRejected() != 0 {
		t.Errorf("verify checked %d of %d records, ok %v, rejected %d", checked, n, v.OK, v.TotalRejected())
	}
	if !r.OK() {
		t.Error("run not OK")
	}
}

// The realistic fixture, every configuration: planned against an empty
// environment (nothing written), migrated and verified, re-run as a
// no-op, and the key records read back through the Web API independently
// of the job.
func TestContosoEndToEnd(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	model := loadModel(t, "contoso.zip")
	res := translate(t, model)
	store := openStore(t)
	var progressed atomic.Int64
	progress := func(c *usdjob.Config) {
		c.Progress = func(migrations.StepProgress) { progressed.Add(1) }
	}

	plan := migrate(t, e, res, nil, nil)
	if n := outcomes(plan); n[migrations.Created] != len(res.Records) || len(plan.Records) != len(res.Records) || !plan.DryRun || e.writes.Load() != 0 {
		t.Fatalf("plan against an empty environment: %v, %d writes", n, e.writes.Load())
	}
	if tot := plan.Total(); tot.Created != int64(len(res.Records)) || plan.Verification != nil {
		t.Errorf("plan totals %+v", tot)
	}
	if runs, _ := store.Runs(ctx, plan.Job); len(runs) != 0 {
		t.Errorf("the plan left %d runs in the store", len(runs))
	}

	run := migrate(t, e, res, store, progress)
	checkRun(t, run, len(res.Records), len(res.Associations))
	if tot := run.Total(); tot.Created != int64(len(res.Records)) {
		t.Errorf("first run: %+v", tot)
	}
	if progressed.Load() == 0 {
		t.Error("no progress reported")
	}

	// Re-run: nothing to write, nothing written.
	before := e.writes.Load()
	run = migrate(t, e, res, store, nil)
	checkRun(t, run, len(res.Records), len(res.Associations))
	if tot := run.Total(); tot.Unchanged != int64(len(res.Records)) {
		t.Errorf("re-run: %+v", tot)
	}
	if n := e.writes.Load() - before; n != 0 {
		t.Errorf("re-run sent %d writes", n)
	}
	// And a plan now says so.
	if n := outcomes(migrate(t, e, res, nil, nil)); n[migrations.Unchanged] != len(res.Records) {
		t.Errorf("plan after the run: %v", n)
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
	// field its form showed, linked through the N:N relationship (made
	// from the field's side, the record written last).
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
		// Activated by a state change after the write.
		if m.String("statecode") != "1" || m.String("statuscode") != "2" {
			t.Errorf("macro %s state %s/%s", m.String("name"), m.String("statecode"), m.String("statuscode"))
		}
	}
}

// Changes made by hand after a migration are found by the plan, put right
// by the run, and anything the translation does not know is left alone.
func TestPlanFindsDrift(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	res := translate(t, loadModel(t, "small.zip"))
	store := openStore(t)
	migrate(t, e, res, store, nil)
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
	// The link is made from the side written last.
	holder := link.From
	if slices.Index(workspace.TableOrder, link.To.Table) > slices.Index(workspace.TableOrder, link.From.Table) {
		holder = link.To
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
	// A record and a link made by hand are left in place.
	extra, err := e.c.Create(ctx, "msdyn_applicationtabtemplate", dataverse.Record{"msdyn_name": "Hand-made", "msdyn_uniquename": "new_handmade", "msdyn_pagetype": 509180006})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.c.Associate(ctx, "msdyn_sessiontemplate", byName(session.Ref()), "msdyn_sessiontemplate_applicationtab", "msdyn_applicationtabtemplate", dataverse.ByID(extra)); err != nil {
		t.Fatal(err)
	}

	before := e.writes.Load()
	plan := migrate(t, e, res, nil, nil)
	if e.writes.Load() != before {
		t.Errorf("the plan wrote %d times", e.writes.Load()-before)
	}
	updated := map[string]bool{}
	for _, o := range plan.Records {
		if o.Outcome == migrations.Updated {
			updated[o.UniqueName] = true
		}
	}
	want := map[string]bool{session.UniqueName: true, step.UniqueName: true, holder.UniqueName: true}
	if len(updated) != len(want) || !updated[session.UniqueName] || !updated[step.UniqueName] || !updated[holder.UniqueName] {
		t.Errorf("plan would update %v, want %v", updated, want)
	}
	if tot := plan.Total(); tot.Created != 0 || tot.Updated != int64(len(want)) || tot.Unchanged != int64(len(res.Records)-len(want)) {
		t.Errorf("plan counts %+v", tot)
	}
	before = e.writes.Load()
	run := migrate(t, e, res, store, nil)
	checkRun(t, run, len(res.Records), len(res.Associations))
	if tot := run.Total(); tot.Updated != int64(len(want)) {
		t.Errorf("run counts %+v", tot)
	}
	// Two updates (a $batch each) and one link.
	if n := e.writes.Load() - before; n != 3 {
		t.Errorf("run sent %d writes, want 3 (two updates, one link)", n)
	}
	if _, err := e.c.Get(ctx, "msdyn_applicationtabtemplate", dataverse.ByID(extra)); err != nil {
		t.Errorf("hand-made record: %v", err)
	}
}

// A record Dataverse refuses is reported with its error; the record that
// points at it is rejected by the mapping and the link to it is left out
// with a warning; the rest of the run goes on, the counts add up and
// verify counts the rejects without calling the run OK.
func TestRejectedRecord(t *testing.T) {
	e := newEnv(t)
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
	r := migrate(t, e, res, openStore(t), func(c *usdjob.Config) { c.Progress = func(migrations.StepProgress) { calls++ } })
	if calls == 0 {
		t.Error("no progress reported")
	}
	tot := r.Total()
	if tot.Read != 4 || tot.Created != 2 || tot.Rejected != 2 || tot.Warned != 1 {
		t.Errorf("counts %+v", tot)
	}
	rejects := map[string]string{}
	for _, l := range r.Rejects {
		rejects[l.SourceID] = l.Error
	}
	if len(rejects) != 2 || !strings.Contains(rejects["dvs_bad"], "12345") ||
		rejects["dvs_bad_url"] != "not written: msdyn_applicationtabtemplateid points at msdyn_applicationtabtemplate dvs_bad, which was rejected" {
		t.Errorf("rejects %v", rejects)
	}
	var sessionLinks int
	for _, o := range r.Records {
		if o.UniqueName == "dvs_session" {
			sessionLinks = o.Links
		}
	}
	if sessionLinks != 1 {
		t.Errorf("session carries %d links, want the one to dvs_good", sessionLinks)
	}
	var warned []string
	for _, st := range r.Steps {
		for _, w := range st.Warnings {
			warned = append(warned, st.Step+" "+w.SourceID+": "+w.Message)
		}
	}
	if want := []string{"msdyn_sessiontemplate dvs_session: link msdyn_sessiontemplate_applicationtab to msdyn_applicationtabtemplate dvs_bad not made: that record was not written"}; !slices.Equal(warned, want) {
		t.Errorf("warnings %q", warned)
	}
	v := r.Verification
	if v == nil || !v.OK || v.TotalRejected() != 2 || r.OK() {
		t.Fatalf("verification %+v; ok %v", v, r.OK())
	}
	for _, s := range v.Steps {
		for _, tr := range s.Tables {
			if tr.Missing != 0 || tr.Differing != 0 {
				t.Errorf("%s: %+v", s.Step, tr)
			}
		}
	}
}

// The dry-run plan of the small fixture against an empty environment:
// what the sink would do with each record and the records it would
// write (binds and links by the IDs new records are created with).
func TestSmallPlanGolden(t *testing.T) {
	e := newEnv(t)
	res := translate(t, loadModel(t, "small.zip"))
	plan := migrate(t, e, res, nil, nil)
	// The job is named after the target, whose port changes.
	plan.Job, plan.Started, plan.Ended = "usd/TARGET", time.Time{}, time.Time{}
	for i := range plan.Steps {
		plan.Steps[i].Duration = 0
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

// A configuration that grew between runs: records already there are left
// alone or updated, new ones created, as the plan said.
func TestMigrateGrownConfiguration(t *testing.T) {
	e := newEnv(t)
	store := openStore(t)
	migrate(t, e, translate(t, loadModel(t, "small.zip")), store, nil)
	res := translate(t, loadModel(t, "contoso.zip"))
	plan := migrate(t, e, res, nil, nil)
	c := plan.Total()
	if c.Created == 0 || c.Created == int64(len(res.Records)) || c.Read != int64(len(res.Records)) || c.Created+c.Updated+c.Unchanged != c.Read {
		t.Errorf("plan counts %+v for %d records", c, len(res.Records))
	}
	run := migrate(t, e, res, store, nil)
	checkRun(t, run, len(res.Records), len(res.Associations))
	if tot := run.Total(); tot.Created != c.Created || tot.Updated != c.Updated {
		t.Errorf("run %+v, plan %+v", tot, c)
	}
}

// A run stopped part-way (the service fails every write to one table)
// is resumed: the steps it finished are not read again, the rest are
// written and verified. The run after a finished one reads everything
// again and writes nothing.
func TestResume(t *testing.T) {
	srv, err := refserver.New(refserver.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	var failing atomic.Bool
	failing.Store(true)
	e := envFor(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() && r.Method != http.MethodGet && strings.Contains(r.URL.Path, "msdyn_sessiontemplates") {
			http.Error(w, `{"error":{"code":"0x80040216","message":"An unexpected error occurred."}}`, http.StatusServiceUnavailable)
			return
		}
		// $batch bodies name the table in their parts, not in the URL.
		if failing.Load() && strings.HasSuffix(r.URL.Path, "/$batch") {
			var body bytes.Buffer
			body.ReadFrom(r.Body)
			if strings.Contains(body.String(), "msdyn_sessiontemplates") {
				http.Error(w, `{"error":{"code":"0x80040216","message":"An unexpected error occurred."}}`, http.StatusServiceUnavailable)
				return
			}
			r.Body = readCloser{bytes.NewReader(body.Bytes())}
		}
		srv.ServeHTTP(w, r)
	}), nil)
	res := translate(t, loadModel(t, "small.zip"))
	store := openStore(t)
	ctx := context.Background()
	first, err := usdjob.Migrate(ctx, usdjob.Config{Dataverse: e.c, Translation: res, Store: store})
	if err == nil || first == nil || first.Status != migrations.StatusFailed {
		t.Fatalf("a run whose writes to session templates fail: %v, %+v", err, first)
	}
	done := map[string]int64{}
	for _, st := range first.Steps {
		if st.Status == migrations.StatusSucceeded {
			done[st.Step] = st.Counts.Read
		}
	}
	// Steps run side by side as their dependencies allow; those with
	// none finish whatever the order.
	if done["workflow"] == 0 || done["msdyn_applicationtabtemplate"] == 0 || done["msdyn_sessiontemplate"] != 0 {
		t.Fatalf("steps finished before the failure: %v", done)
	}

	failing.Store(false)
	second := migrate(t, e, res, store, nil)
	for _, st := range second.Steps {
		if _, ok := done[st.Step]; ok && st.Counts.Read != 0 {
			t.Errorf("resumed run read %d records of the finished step %s again", st.Counts.Read, st.Step)
		}
	}
	if second.Verification == nil || !second.Verification.OK || second.Verification.TotalRejected() != 0 {
		t.Errorf("verification after the resume: %+v", second.Verification)
	}

	before := e.writes.Load()
	third := migrate(t, e, res, store, nil)
	checkRun(t, third, len(res.Records), len(res.Associations))
	if tot := third.Total(); tot.Unchanged != int64(len(res.Records)) || e.writes.Load() != before {
		t.Errorf("run after a finished one: %+v, %d writes", tot, e.writes.Load()-before)
	}
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }
