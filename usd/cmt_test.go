package usd_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dvsync/dvsync/usd"
	"github.com/dvsync/dvsync/usd/internal/fixturegen"
)

func fixture(t testing.TB, name string) string {
	t.Helper()
	return filepath.Join("..", "testdata", "usd", name)
}

func load(t testing.TB, name string) *usd.Model {
	t.Helper()
	m, err := usd.LoadFile(context.Background(), fixture(t, name))
	if err != nil {
		t.Fatalf("LoadFile(%s): %v", name, err)
	}
	return m
}

// The committed zips must be what the generator produces, so that they can
// be regenerated and reviewed as code.
func TestFixturesAreReproducible(t *testing.T) {
	for _, f := range fixturegen.All() {
		got, err := os.ReadFile(fixture(t, f.Name))
		if err != nil {
			t.Fatalf("%s: %v (run go run ./usd/internal/fixturegen/cmd/fixturegen)", f.Name, err)
		}
		if f.Files == nil {
			if !bytes.Equal(got, f.Zip) {
				t.Errorf("%s differs from the generator's output; regenerate the fixtures", f.Name)
			}
			continue
		}
		files, err := fixturegen.ReadZipFiles(got)
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		if len(files) != len(f.Files) {
			t.Fatalf("%s: %d entries, generator makes %d", f.Name, len(files), len(f.Files))
		}
		for i := range files {
			if files[i].Name != f.Files[i].Name || !bytes.Equal(files[i].Data, f.Files[i].Data) {
				t.Errorf("%s: entry %s differs from the generator's output; regenerate the fixtures", f.Name, files[i].Name)
			}
		}
	}
}

func TestLoadSmall(t *testing.T) {
	m := load(t, "small.zip")
	if len(m.Problems) != 0 {
		t.Fatalf("problems in a clean export: %v", m.Problems)
	}
	if got := len(m.HostedControls); got != 8 {
		t.Errorf("hosted controls = %d, want 8", got)
	}
	bing := find(m.ActionCalls, func(a *usd.ActionCall) bool { return a.Name == "Bing - Search Customer" })
	if bing == nil {
		t.Fatal("action call Bing - Search Customer missing")
	}
	if got := m.HostedControlName(bing.HostedControlID); got != "Bing Search" {
		t.Errorf("action call hosted control = %q", got)
	}
	if got := m.ActionName(bing.ActionID); got != "Navigate" {
		t.Errorf("action call action = %q", got)
	}
	if bing.Data != "url=https://www.bing.com/search?q=[[contact.fullname]u]" {
		t.Errorf("action data = %q", bing.Data)
	}
	newCase := find(m.ActionCalls, func(a *usd.ActionCall) bool { return a.Name == "Case - New For Contact" })
	if !strings.Contains(newCase.Data, "\r\ncustomerid=") {
		t.Errorf("multi-line action data lost its line breaks: %q", newCase.Data)
	}
	greeting := find(m.AgentScripts, func(s *usd.AgentScript) bool { return s.Name == "Greeting" })
	if len(greeting.Answers) != 2 {
		t.Fatalf("Greeting answers = %d, want 2", len(greeting.Answers))
	}
	linked := 0
	for _, id := range greeting.Answers {
		if a := m.Answer(id); a != nil && a.LinkedScriptID != "" {
			if m.AgentScript(a.LinkedScriptID).Name != "New Case" {
				t.Errorf("answer links to %q", m.AgentScript(a.LinkedScriptID).Name)
			}
			linked++
		}
	}
	if linked != 1 {
		t.Errorf("linked answers = %d, want 1", linked)
	}
	if len(m.Configurations) != 1 || !m.Configurations[0].IsDefault {
		t.Fatalf("configurations = %+v", m.Configurations)
	}
	if got := len(m.Configurations[0].Members[usd.KindHostedControl]); got != 8 {
		t.Errorf("configuration hosted controls = %d", got)
	}
	tb := m.ToolbarButtons[0]
	if tb.ToolbarID == "" || len(tb.ActionCalls) != 1 {
		t.Errorf("toolbar button = %+v", tb)
	}
	ev := m.Events[0]
	if len(ev.ActionCalls) != 2 || m.HostedControlName(ev.HostedControlID) != "Contact" {
		t.Errorf("event = %+v", ev)
	}
}

func TestLoadContoso(t *testing.T) {
	m := load(t, "contoso.zip")
	for _, p := range m.Problems {
		if p.Severity == usd.SeverityError {
			t.Errorf("unexpected error: %v", p)
		}
	}
	// The UCI settings row is outside the model and reported once.
	if len(m.Problems) != 1 || m.Problems[0].Entity != "msdyusd_ucisettings" {
		t.Errorf("problems = %v", m.Problems)
	}
	if n := len(m.HostedControls); n < 36 {
		t.Errorf("hosted controls = %d, want dozens", n)
	}
	if len(m.Configurations) != 3 {
		t.Errorf("configurations = %d", len(m.Configurations))
	}
	caseOpen := find(m.ActionCalls, func(a *usd.ActionCall) bool { return a.Name == "Case - Open" })
	if len(caseOpen.SubActionCalls) != 3 {
		t.Errorf("sub action calls = %v", caseOpen.SubActionCalls)
	}
}

func TestSelectConfiguration(t *testing.T) {
	m := load(t, "contoso.zip")
	def, err := usd.Select(m, "")
	if err != nil {
		t.Fatal(err)
	}
	if def.Selected != "Tier 1 Agents" {
		t.Errorf("default selection = %q", def.Selected)
	}
	if find(def.HostedControls, func(h *usd.HostedControl) bool { return h.Name == "Credit Check" }) != nil {
		t.Error("Tier 1 includes Credit Check, which it does not hold")
	}
	sup, err := usd.Select(m, "Supervisors")
	if err != nil {
		t.Fatal(err)
	}
	if len(sup.AgentScripts) != 1 || sup.AgentScripts[0].Name != "Supervisor Coaching" {
		t.Errorf("supervisor scripts = %v", sup.AgentScripts)
	}
	if len(sup.HostedControls) >= len(m.HostedControls) {
		t.Error("selection did not narrow hosted controls")
	}
	_, err = usd.Select(m, "Nobody")
	var unknown *usd.UnknownConfigurationError
	if !errors.As(err, &unknown) || !strings.Contains(err.Error(), "Tier 2 Agents") {
		t.Errorf("unknown configuration error = %v", err)
	}
}

func TestBrokenExports(t *testing.T) {
	tests := []struct {
		file string
		// want are substrings of one error problem each.
		want []string
		// minControls is how much of the model must survive.
		minControls int
	}{
		{"broken-truncated.zip", []string{"contoso.zip", "data.xml"}, 1},
		{"broken-malformed.zip", []string{"data.xml:"}, 4},
		{"broken-dangling.zip", []string{
			`msdyusd_agentscriptaction record`, `field msdyusd_application: references uii_hostedapplication`,
			`msdyusd_answer record`, `field msdyusd_linkedtask: references msdyusd_task`,
			`msdyusd_configuration record`, `field msdyusd_configuration_hostedcontrol`,
		}, 7},
		{"broken-noschema.zip", []string{"data_schema.xml: missing"}, 8},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			m := load(t, tt.file)
			if m.Errors() == 0 {
				t.Fatalf("no error problems reported; problems: %v", m.Problems)
			}
			var all []string
			for _, p := range m.Problems {
				all = append(all, p.String())
			}
			joined := strings.Join(all, "\n")
			for _, w := range tt.want {
				if w == "contoso.zip" {
					continue // archive name is the file on disk, checked below
				}
				if !strings.Contains(joined, w) {
					t.Errorf("no problem mentions %q; got:\n%s", w, joined)
				}
			}
			if len(m.HostedControls) < tt.minControls {
				t.Errorf("only %d hosted controls survived", len(m.HostedControls))
			}
		})
	}
}

func TestBrokenMalformedLocation(t *testing.T) {
	m := load(t, "broken-malformed.zip")
	var p *usd.Problem
	for i := range m.Problems {
		if m.Problems[i].File == usd.DataFile && m.Problems[i].Line > 0 {
			p = &m.Problems[i]
		}
	}
	if p == nil {
		t.Fatalf("no located data.xml problem: %v", m.Problems)
	}
	if p.Entity != "msdyusd_agentscriptaction" || p.RecordID == "" {
		t.Errorf("problem does not name the record: %v", p)
	}
}

func TestNotAZip(t *testing.T) {
	_, err := usd.LoadFile(context.Background(), fixture(t, "broken-notzip.zip"))
	var re *usd.ReadError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "broken-notzip.zip") {
		t.Fatalf("err = %v", err)
	}
}

func TestTruncatedKeepsPrefix(t *testing.T) {
	m := load(t, "broken-truncated.zip")
	full := load(t, "contoso.zip")
	if len(m.HostedControls) == 0 || len(m.HostedControls) > len(full.HostedControls) {
		t.Fatalf("hosted controls = %d of %d", len(m.HostedControls), len(full.HostedControls))
	}
	found := false
	for _, p := range m.Problems {
		if strings.Contains(p.Message, "truncated") || strings.Contains(p.Message, "ends early") {
			found = true
		}
	}
	if !found {
		t.Errorf("truncation not reported: %v", m.Problems)
	}
}

func find[T any](s []T, f func(T) bool) T {
	for _, v := range s {
		if f(v) {
			return v
		}
	}
	var zero T
	return zero
}

func TestLoadCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, f := range []string{"contoso.zip", "broken-truncated.zip"} {
		if _, err := usd.LoadFile(ctx, fixture(t, f)); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: err = %v, want context.Canceled", f, err)
		}
	}
}

func BenchmarkLoadContoso(b *testing.B) {
	for b.Loop() {
		if _, err := usd.LoadFile(context.Background(), fixture(b, "contoso.zip")); err != nil {
			b.Fatal(err)
		}
	}
}
