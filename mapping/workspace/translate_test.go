package workspace_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dvsync/dvsync/dataverse/schema"
	"github.com/dvsync/dvsync/mapping/workspace"
	"github.com/dvsync/dvsync/usd"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func testdata(parts ...string) string {
	return filepath.Join(append([]string{"..", "..", "testdata", "usd"}, parts...)...)
}

func model(t testing.TB, name, config string) *usd.Model {
	t.Helper()
	m, err := usd.LoadFile(context.Background(), testdata(name))
	if err != nil {
		t.Fatal(err)
	}
	if config != "-" {
		if m, err = usd.Select(m, config); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func encode(t testing.TB, r *workspace.Result) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct{ fixture, config, golden string }{
		{"small.zip", "", "translate-small.json"},
		{"contoso.zip", "-", "translate-contoso-all.json"},
		{"evidence.zip", "", "translate-evidence.json"},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			r, err := workspace.Translate(model(t, tc.fixture, tc.config), workspace.Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := encode(t, r)
			path := testdata("golden", tc.golden)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./mapping/workspace -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the golden file; inspect and run go test ./mapping/workspace -update", tc.golden)
			}
		})
	}
}

// Translating twice, and translating a reloaded model, gives identical
// bytes: re-runs update the same records.
func TestDeterministic(t *testing.T) {
	a, _ := workspace.Translate(model(t, "contoso.zip", "-"), workspace.Options{Prefix: "cso"})
	b, _ := workspace.Translate(model(t, "contoso.zip", "-"), workspace.Options{Prefix: "cso_"})
	if !bytes.Equal(encode(t, a), encode(t, b)) {
		t.Fatal("two translations of the same export differ")
	}
	for _, r := range a.Records {
		if !strings.HasPrefix(r.UniqueName, "cso_") {
			t.Errorf("%s %s lacks the prefix", r.Table, r.UniqueName)
		}
	}
}

func TestPrefixValidation(t *testing.T) {
	for _, p := range []string{"a_", "toolongprefix", "1abc", "ab-c", "x y"} {
		_, err := workspace.Translate(&usd.Model{}, workspace.Options{Prefix: p})
		var pe *workspace.PrefixError
		if !errors.As(err, &pe) {
			t.Errorf("prefix %q accepted", p)
		}
	}
	for _, p := range []string{"", "dvs", "Contoso1_"} {
		if _, err := workspace.Translate(&usd.Model{}, workspace.Options{Prefix: p}); err != nil {
			t.Errorf("prefix %q rejected: %v", p, err)
		}
	}
}

// Every record fits the table definitions the writer and reference server
// use: known tables and columns, unique names unique per table, choice
// values declared, lookups pointing at records of the translation.
func TestRecordsMatchSchema(t *testing.T) {
	reg := schema.Default()
	r, err := workspace.Translate(model(t, "contoso.zip", "-"), workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, rec := range r.Records {
		seen[rec.Table+"/"+rec.UniqueName] = true
	}
	for _, rec := range r.Records {
		tbl, ok := reg.Table(rec.Table)
		if !ok {
			t.Fatalf("table %s not in the catalogue", rec.Table)
		}
		if _, ok := tbl.AlternateKeyFor([]string{workspace.KeyColumn(rec.Table)}); !ok {
			t.Errorf("%s: no alternate key on %s", rec.Table, workspace.KeyColumn(rec.Table))
		}
		for col, v := range rec.Fields {
			c, ok := tbl.Column(col)
			if !ok {
				t.Errorf("%s.%s: column not in the catalogue", rec.Table, col)
				continue
			}
			switch v := v.(type) {
			case workspace.Ref:
				if !c.Type.IsLookup() || !seen[v.Table+"/"+v.UniqueName] {
					t.Errorf("%s %s.%s: bad lookup %v", rec.Table, rec.UniqueName, col, v)
				}
			case int:
				if c.Type.IsChoice() {
					if _, ok := c.OptionByValue(v); !ok {
						t.Errorf("%s.%s: value %d is not a declared choice", rec.Table, col, v)
					}
				}
			case string:
				if c.MaxLength > 0 && len([]rune(v)) > c.MaxLength {
					t.Errorf("%s %s.%s: %d characters exceed %d", rec.Table, rec.UniqueName, col, len([]rune(v)), c.MaxLength)
				}
			}
		}
	}
	for _, a := range r.Associations {
		rel, ok := reg.ManyToMany(a.Relationship)
		if !ok {
			t.Errorf("relationship %s not in the catalogue", a.Relationship)
			continue
		}
		if a.From.Table != rel.Entity1 || a.To.Table != rel.Entity2 {
			t.Errorf("%s joins %s→%s, declared %s→%s", a.Relationship, a.From.Table, a.To.Table, rel.Entity1, rel.Entity2)
		}
		if !seen[a.From.Table+"/"+a.From.UniqueName] || !seen[a.To.Table+"/"+a.To.UniqueName] {
			t.Errorf("association %v points outside the translation", a)
		}
	}
}

func find(r *workspace.Result, table, unique string) *workspace.Record {
	for _, rec := range r.Records {
		if rec.Table == table && rec.UniqueName == unique {
			return rec
		}
	}
	return nil
}

func TestTranslationContent(t *testing.T) {
	r, err := workspace.Translate(model(t, "small.zip", ""), workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := find(r, "msdyn_sessiontemplate", "dvs_session_contact")
	if st == nil {
		t.Fatal("no contact session template")
	}
	if st.Fields["msdyn_title"] != "{anchor.fullname}" || st.Fields["msdyn_entity"] != "contact" {
		t.Errorf("session template fields = %v", st.Fields)
	}
	bing := find(r, "msdyn_applicationtabtemplate", "dvs_tab_bing_search")
	if bing == nil || bing.Fields["msdyn_pagetype"] != 509180006 {
		t.Fatalf("bing tab = %+v", bing)
	}
	if got := bing.Fields["msdyn_templateparameters"]; got != `{"url":"https://www.bing.com/search?q={anchor.fullname}"}` {
		t.Errorf("bing parameters = %v", got)
	}
	contactTab := find(r, "msdyn_applicationtabtemplate", "dvs_tab_contact")
	if contactTab.Fields["msdyn_templateparameters"] != `{"entityId":"{anchor.contactid}","entityName":"contact"}` {
		t.Errorf("contact tab parameters = %v", contactTab.Fields["msdyn_templateparameters"])
	}
	// The Greeting script: text step, macro step for the first answer (new
	// case), script step to New Case, text step for the second answer.
	var steps []*workspace.Record
	for _, rec := range r.Records {
		if rec.Table == "msdyn_productivityagentscriptstep" && strings.HasPrefix(rec.UniqueName, "dvs_greeting_") {
			steps = append(steps, rec)
		}
	}
	types := []int{}
	for _, s := range steps {
		types = append(types, s.Fields["msdyn_actiontype"].(int))
	}
	if want := []int{192350000, 192350001, 192350002, 192350000}; !equalInts(types, want) {
		t.Errorf("greeting step types = %v, want %v", types, want)
	}
	macro := steps[1].Fields["msdyn_macroactionid"].(workspace.Ref)
	wf := find(r, "workflow", macro.UniqueName)
	var cd struct {
		Properties struct {
			Definition struct {
				Actions map[string]struct {
					Type   string         `json:"type"`
					Inputs map[string]any `json:"inputs"`
				} `json:"actions"`
			} `json:"definition"`
		} `json:"properties"`
	}
	if err := json.Unmarshal([]byte(wf.Fields["clientdata"].(string)), &cd); err != nil {
		t.Fatal(err)
	}
	a, ok := cd.Properties.Definition.Actions["Create_New_1"]
	if !ok || a.Inputs["EntityLogicalName"] != "incident" || a.Inputs["title"] != "Call from ${anchor.fullname}" {
		t.Errorf("macro actions = %+v", cd.Properties.Definition.Actions)
	}
	// The greeting script is the contact session's default script.
	found := false
	for _, as := range r.Associations {
		if as.Relationship == "msdyn_msdyn_prod_agentscript_msdyn_sessiontempl" && as.From.UniqueName == "dvs_greeting" && as.To.UniqueName == "dvs_session_contact" {
			found = true
		}
	}
	if !found {
		t.Errorf("greeting script not associated with the contact session: %v", r.Associations)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestUniqueNamesStableOnCollision(t *testing.T) {
	m := &usd.Model{HostedControls: []*usd.HostedControl{
		{ID: "a", Name: "Order Portal", ComponentType: usd.StandardWebApplication, WebAppURL: "https://a.example"},
		{ID: "b", Name: "Order-Portal", ComponentType: usd.StandardWebApplication, WebAppURL: "https://b.example"},
	}}
	r, err := workspace.Translate(m, workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, rec := range r.Records {
		if rec.Table == "msdyn_applicationtabtemplate" {
			names[rec.UniqueName] = true
		}
	}
	if len(names) != 2 || !names["dvs_tab_order_portal"] {
		t.Errorf("tab names = %v", names)
	}
}

func TestBody(t *testing.T) {
	reg := schema.Default()
	r, err := workspace.Translate(model(t, "small.zip", ""), workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	step := find(r, "msdyn_productivityagentscriptstep", "dvs_greeting_03")
	body, err := step.Body(reg)
	if err != nil {
		t.Fatal(err)
	}
	if body["msdyn_agentscriptid@odata.bind"] != "/msdyn_productivityagentscripts(msdyn_uniquename='dvs_greeting')" ||
		body["msdyn_routeactionid@odata.bind"] != "/msdyn_productivityagentscripts(msdyn_uniquename='dvs_new_case')" {
		t.Errorf("body = %v", body)
	}
	if _, ok := body["msdyn_uniquename"]; ok {
		t.Error("body repeats the key column")
	}
	for _, rec := range r.Records {
		if _, err := rec.Body(reg); err != nil {
			t.Errorf("%s %s: %v", rec.Table, rec.UniqueName, err)
		}
	}
	path, _ := workspace.BindPath(reg, workspace.Ref{Table: "workflow", UniqueName: "o'brien"})
	if path != "/workflows(uniquename='o''brien')" {
		t.Errorf("bind path = %s", path)
	}
}

// BodyWith binds as the writer says (here by ID) and keeps the unique
// name, which a writer addressing the record by ID must send.
func TestBodyWithBinder(t *testing.T) {
	reg := schema.Default()
	r, err := workspace.Translate(model(t, "small.zip", ""), workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	step := find(r, "msdyn_productivityagentscriptstep", "dvs_greeting_03")
	byID := func(ref workspace.Ref) (string, error) { return "/by-id/" + ref.UniqueName, nil }
	body, err := step.BodyWith(reg, byID)
	if err != nil {
		t.Fatal(err)
	}
	if body["msdyn_agentscriptid@odata.bind"] != "/by-id/dvs_greeting" || body["msdyn_routeactionid@odata.bind"] != "/by-id/dvs_new_case" ||
		body["msdyn_uniquename"] != "dvs_greeting_03" {
		t.Errorf("body = %v", body)
	}
	bad := &workspace.Record{Table: "msdyn_templateparameter", UniqueName: "x", Fields: map[string]any{"msdyn_applicationtabtemplateid": "not a ref"}}
	if _, err := bad.BodyWith(reg, byID); err == nil || !strings.Contains(err.Error(), "is a lookup") {
		t.Errorf("a lookup holding text: %v", err)
	}
}

// States are instructions to the writer, never columns: macros ask to be
// activated.
func TestStatesAreNotColumns(t *testing.T) {
	r, err := workspace.Translate(model(t, "contoso.zip", "-"), workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	macros := 0
	for _, rec := range r.Records {
		for _, col := range []string{"statecode", "statuscode"} {
			if _, ok := rec.Fields[col]; ok {
				t.Errorf("%s %s carries %s among its columns", rec.Table, rec.UniqueName, col)
			}
		}
		if rec.Table == "workflow" {
			macros++
			if rec.State == nil || *rec.State != (workspace.State{Code: 1, Reason: 2}) {
				t.Errorf("macro %s state %+v, want activated (1, 2)", rec.UniqueName, rec.State)
			}
		}
	}
	if macros == 0 {
		t.Error("no macros translated")
	}
}
