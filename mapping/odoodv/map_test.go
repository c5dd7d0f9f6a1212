package odoodv

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultMap(t *testing.T) {
	m := DefaultMap()
	if m.Tags.Mode != TagsSubject || m.Priorities["3"] != 1 || len(m.Stages.Rules) != 3 || m.Tickets.Customer != CustomerAccount {
		t.Fatalf("default map %+v", m)
	}
	if !bytes.Contains(DefaultMapYAML(), []byte("dvsync migrate odoo --print-default-map")) {
		t.Error("default map is not the documented file")
	}
}

func TestParseMapErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"tickets: {numbr: x}", "field numbr not found"},
		{"priorities: {\"0\": 9}", "9 is not a value of incident.prioritycode"},
		{"priorities: {\"5\": 1}", `"5" is not an Odoo priority`},
		{"stages: {rules: [{names: [x], state: resolved, status: 6}]}", "status 6 (Cancelled) does not belong to state resolved"},
		{"stages: {rules: [{state: resolved, status: 5}]}", "no condition"},
		{"stages: {rules: [{names: ['[x'], state: resolved, status: 5}]}", "pattern"},
		{"stages: {default: {state: closed, status: 5}}", "want active, resolved or cancelled"},
		{"tags: {mode: labels}", "want subject, choice or none"},
		{"tags: {mode: choice, column: casetypecode, values: {Bug: 9}}", "9 is not a value of incident.casetypecode"},
		{"tags: {mode: choice, column: nosuch, values: {Bug: 1}}", "incident has no column nosuch"},
		{"tickets: {number: CASE}", "tickets.number must contain"},
		{"tickets: {customer: both}", "want account or contact"},
		{"tickets: {origins: {fax: 99}}", "caseorigincode"},
		{"sla_outcomes: {status: {failed: 42}}", "slakpiinstance.status"},
		{"slas: {warn_fraction: 2}", "warn_fraction"},
		{"messages: {format: markdown}", "want html or text"},
		{"partners: {account_number: ACME}", "must contain {id}"},
		{"teams: {queue_name: Support}", "queue_name"},
		{"articles: {public_number: KB}", "public_number"},
		{"[not, a, map]", "cannot unmarshal"},
	}
	for _, tt := range tests {
		_, err := ParseMap([]byte(tt.in))
		var me *MapError
		if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.As(err, &me) {
			t.Errorf("ParseMap(%q) = %v, want a *MapError containing %q", tt.in, err, tt.want)
		}
	}
}

func TestParseMapJSONAndMerge(t *testing.T) {
	m, err := ParseMap([]byte(`{"priorities": {"0": 2}, "tags": {"mode": "none"}, "messages": {"skip_types": []}}`))
	if err != nil {
		t.Fatal(err)
	}
	if m.Priorities["0"] != 2 || m.Priorities["3"] != 1 {
		t.Errorf("priorities not merged: %v", m.Priorities)
	}
	if m.Tags.Mode != TagsNone || len(m.Messages.SkipTypes) != 0 {
		t.Errorf("JSON not applied: %+v %+v", m.Tags, m.Messages)
	}
	if m.Tickets.Number != "{ref}" {
		t.Errorf("untouched default lost: %q", m.Tickets.Number)
	}
	// The default map round-trips through JSON.
	b, err := json.Marshal(DefaultMap())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseMap(b); err != nil {
		t.Errorf("default map as JSON: %v", err)
	}
}

func TestLoadMapWithUserFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "users.csv"), []byte("# odoo,dataverse\nElena,elena@contoso.example\n\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "map.yaml"), []byte("users: {map_file: users.csv}\n"), 0o600)
	m, err := LoadMap(filepath.Join(dir, "map.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if m.userFile["elena"] != "elena@contoso.example" {
		t.Errorf("user file %v", m.userFile)
	}
	os.WriteFile(filepath.Join(dir, "bad.csv"), []byte("elena;elena@contoso.example\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("users: {map_file: bad.csv}\n"), 0o600)
	if _, err := LoadMap(filepath.Join(dir, "bad.yaml")); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("bad user file: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "typo.yaml"), []byte("tickest: {}\n"), 0o600)
	if _, err := LoadMap(filepath.Join(dir, "typo.yaml")); err == nil || !strings.Contains(err.Error(), "typo.yaml") {
		t.Errorf("error does not name the file: %v", err)
	}
	if _, err := LoadMap(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("missing file loaded")
	}
}

func TestExampleMaps(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/odoodv/*.yaml")
	files2, _ := filepath.Glob("../../testdata/odoodv/*.json")
	for _, f := range append(files, files2...) {
		if _, err := LoadMap(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
