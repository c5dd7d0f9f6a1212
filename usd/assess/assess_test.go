package assess_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dvsync/dvsync/usd"
	"github.com/dvsync/dvsync/usd/assess"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func testdata(parts ...string) string {
	return filepath.Join(append([]string{"..", "..", "testdata", "usd"}, parts...)...)
}

func loadModel(t testing.TB, name, config string) *usd.Model {
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

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := testdata("golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./usd/assess -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; inspect and run go test ./usd/assess -update\n--- got (first 2000 bytes)\n%.2000s", name, got)
	}
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		fixture, config, golden string
		formats                 []string
	}{
		{"small.zip", "", "assess-small", []string{"json", "md", "html"}},
		{"contoso.zip", "-", "assess-contoso-all", []string{"json", "md", "html"}},
		{"contoso.zip", "", "assess-contoso-tier1", []string{"md"}},
		{"broken-dangling.zip", "-", "assess-dangling", []string{"md"}},
		{"evidence.zip", "", "assess-evidence", []string{"json", "md", "html", "csv"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			r := assess.Assess(loadModel(t, tc.fixture, tc.config), assess.Options{Source: tc.fixture})
			for _, f := range tc.formats {
				var buf bytes.Buffer
				var err error
				switch f {
				case "json":
					err = r.WriteJSON(&buf)
				case "md":
					err = r.WriteMarkdown(&buf)
				case "html":
					err = r.WriteHTML(&buf)
				case "csv":
					err = r.WriteCSV(&buf)
				}
				if err != nil {
					t.Fatal(err)
				}
				golden(t, tc.golden+"."+f, buf.Bytes())
			}
		})
	}
}

func verdictOf(t *testing.T, r *assess.Report, kind usd.Kind, name string) assess.Item {
	t.Helper()
	for _, it := range r.Items {
		if it.Kind == kind && it.Name == name {
			return it
		}
	}
	t.Fatalf("no %s %q in report", kind, name)
	return assess.Item{}
}

// Spot checks that the verdicts follow the rules, independent of goldens.
func TestVerdicts(t *testing.T) {
	r := assess.Assess(loadModel(t, "contoso.zip", "-"), assess.Options{Source: "contoso.zip"})
	cases := []struct {
		kind    usd.Kind
		name    string
		verdict assess.Verdict
		reason  string
	}{
		{usd.KindHostedControl, "Debugger", assess.NoEquivalent, "developer tools"},
		{usd.KindHostedControl, "Global Manager", assess.NoEquivalent, "loads app profiles itself"},
		{usd.KindHostedControl, "Connection Manager", assess.NoEquivalent, "browser session"},
		{usd.KindHostedControl, "Main Panel Layout", assess.NoEquivalent, "layout"},
		{usd.KindHostedControl, "Interaction Tree", assess.NoEquivalent, "session list"},
		{usd.KindHostedControl, "Agent Script", assess.Automatic, "provided natively"},
		{usd.KindHostedControl, "KM Control", assess.Automatic, "provided natively"},
		{usd.KindHostedControl, "Session Tabs", assess.Automatic, "provided natively"},
		{usd.KindHostedControl, "Session Overview", assess.Automatic, "provided natively"},
		{usd.KindActionCall, "Debug - Dump Context", assess.NoEquivalent, "no workspace counterpart"},
		{usd.KindAction, "Navigate", assess.NoEquivalent, "only declares"},
		{usd.KindEvent, "BrowserDocumentComplete", assess.Partial, ""},
		{usd.KindOption, "ClientCacheVersionNumber", assess.NoEquivalent, "nothing is written"},
		// The control's tab is written from its action call; the call's
		// problems (u modifier, http://) are assessed on the call only.
		{usd.KindHostedControl, "Bing Search", assess.Automatic, "assessed on it, not here"},
		{usd.KindActionCall, "Bing - Search Customer", assess.Partial, "URL-encode"},
		{usd.KindHostedControl, "Intranet Wiki", assess.Automatic, "assessed on it, not here"},
		{usd.KindActionCall, "Wiki - Open Home", assess.Partial, "not https"},
		{usd.KindHostedControl, "Agent Dashboard", assess.Automatic, "a9f3c1a5-0d2e-4f7b-9b7f-3d2b7d9a1e10"},
		{usd.KindHostedControl, "Service Hub Case", assess.Partial, "Interactive Service Hub is retired"},
		{usd.KindActionCall, "Service Hub - Open Case", assess.Partial, "$Global"},
		{usd.KindHostedControl, "Credit Check", assess.Manual, "Contoso.Usd.CreditCheck.CreditCheckControl"},
		{usd.KindHostedControl, "Contact", assess.Automatic, ""},
		{usd.KindActionCall, "Task - Follow Up", assess.Partial, "JavaScript condition"},
		{usd.KindActionCall, "Shipment - Track Last Order", assess.Partial, "$Return has no slug equivalent"},
		{usd.KindActionCall, "Case - Resolve", assess.Manual, "runs JavaScript"},
		{usd.KindActionCall, "Case - Broken Parameter", assess.Partial, "unparseable replacement parameter"},
		{usd.KindActionCall, "Contact - Open", assess.Automatic, ""},
		{usd.KindNavigationRule, "Case - Create Session", assess.Automatic, ""},
		{usd.KindNavigationRule, "Priority Case Escalation", assess.Manual, "only runs action calls"},
		{usd.KindSessionLine, "Case Session Name", assess.Automatic, ""},
		{usd.KindSessionLine, "Case Session Name Fallback", assess.Partial, "$Context"},
		{usd.KindSessionLine, "Contact Overview", assess.Manual, "XAML"},
		{usd.KindScriptlet, "CaseAge", assess.Manual, ""},
		// The template and fields are written; showing it needs a workstream.
		{usd.KindHostedControl, "Incoming Call Popup", assess.Partial, "writes a notification template"},
		{usd.KindForm, "Incoming Call", assess.Partial, "notification fields"},
		{usd.KindForm, "Wrap-up Survey", assess.Manual, "rebuild as a custom page"},
		{usd.KindConfiguration, "Tier 1 Agents", assess.Automatic, ""},
	}
	for _, c := range cases {
		it := verdictOf(t, r, c.kind, c.name)
		if it.Verdict != c.verdict {
			t.Errorf("%s %q: verdict %s, want %s (reasons %v)", c.kind, c.name, it.Verdict, c.verdict, it.Reasons)
		}
		if c.reason != "" && !strings.Contains(strings.Join(it.Reasons, "\n"), c.reason) {
			t.Errorf("%s %q: reasons %v lack %q", c.kind, c.name, it.Reasons, c.reason)
		}
	}
	sum := 0
	for _, v := range assess.Verdicts {
		sum += r.Totals.ByVerdict[v].Count
	}
	if sum != len(r.Items) || r.Totals.Total.Count != len(r.Items) {
		t.Errorf("totals %d/%d do not add up to %d items", sum, r.Totals.Total.Count, len(r.Items))
	}
}

// Each verdict rule, on the export built to exercise it (fixturegen
// Evidence), with the reason that names the rule.
func TestEvidenceRules(t *testing.T) {
	r := assess.Assess(loadModel(t, "evidence.zip", ""), assess.Options{Source: "evidence.zip"})
	cases := []struct {
		kind    usd.Kind
		name    string
		verdict assess.Verdict
		target  string
		reason  string
	}{
		// Identified only through its own action call (Navigate record URL with a form id).
		{usd.KindHostedControl, "Case Form", assess.Automatic, "entity record", `action call "Case Form - Open" (Navigate url pagetype=entityrecord)`},
		// Only through another control's Open_CRM_Page that a rule routes here.
		{usd.KindHostedControl, "Account Details", assess.Automatic, "entity record", `routed here by navigation rule "Account from Contact"`},
		// Only through a navigation rule.
		{usd.KindHostedControl, "Order Details", assess.Automatic, "entity record", `window navigation rule "Order from Contact"`},
		// Find: the quick find list of the entity in its data (case → incident).
		{usd.KindHostedControl, "Case Search", assess.Automatic, "entity list", "entity list of incident"},
		{usd.KindActionCall, "Case Search - Find", assess.Automatic, "Open_Grid", ""},
		// Search, dashboard, entity list and web resource URLs.
		{usd.KindHostedControl, "Knowledge Search", assess.Automatic, "search", "pagetype=search"},
		{usd.KindHostedControl, "Service Dashboard", assess.Automatic, "dashboard", "dashboard 5d0c9a8b-1e2f-4a3b-8c4d-5e6f7a8b9c0d"},
		{usd.KindHostedControl, "My Cases", assess.Automatic, "entity list", "pagetype=entitylist"},
		{usd.KindHostedControl, "Case Summary", assess.Automatic, "web resource", "new_casesummary.html"},
		// A dashboard only named: the control's own problem.
		{usd.KindHostedControl, "Team Dashboard", assess.Partial, "dashboard", "named, not identified: set dashboardId"},
		// Disagreeing evidence: the report says which was used and why.
		{usd.KindHostedControl, "Queue View", assess.Automatic, "entity list", `points at a dashboard named "Queue Dashboard"; used action call "Queue View - Show"`},
		// A URL no tab page shows: no template, the call carries its problem.
		{usd.KindHostedControl, "Legacy Report", assess.Partial, "Application tab template", "no tab template is written"},
		{usd.KindActionCall, "Legacy Report - Open", assess.Partial, "", "no application tab template shows it"},
		// One clean and one problematic action call: the control is
		// automatic (written from the clean one), the problem and its hours
		// stay on the problematic call.
		{usd.KindHostedControl, "Customer Portal", assess.Automatic, "third-party website", `because it carries over without the other's problems`},
		{usd.KindActionCall, "Portal - Agent Home", assess.Partial, "", "$Global has no slug equivalent"},
		{usd.KindActionCall, "Portal - Customer", assess.Automatic, "", ""},
		// Native: automatic, nothing written.
		{usd.KindHostedControl, "Agent Script", assess.Automatic, "agent scripts", "provided natively"},
		{usd.KindHostedControl, "Knowledge", assess.Automatic, "knowledge search", "provided natively"},
		{usd.KindHostedControl, "Session Tabs", assess.Automatic, "session tabs", "provided natively"},
		{usd.KindHostedControl, "Session Lines", assess.Automatic, "Session template title", "provided natively"},
		// No equivalent: no hours, nothing written.
		{usd.KindHostedControl, "Global Manager", assess.NoEquivalent, "No equivalent", "nothing to write"},
		{usd.KindHostedControl, "Main Layout", assess.NoEquivalent, "No equivalent", "nothing to write"},
		{usd.KindHostedControl, "Connection Manager", assess.NoEquivalent, "No equivalent", "nothing to write"},
		{usd.KindHostedControl, "Debugger", assess.NoEquivalent, "No equivalent", "nothing is written"},
		{usd.KindHostedControl, "Session Tree", assess.NoEquivalent, "No equivalent", "nothing to write"},
		{usd.KindActionCall, "Debug - Show", assess.NoEquivalent, "No equivalent", "no workspace counterpart"},
		{usd.KindEvent, "SessionClosed", assess.NoEquivalent, "No equivalent", "runs no action calls"},
		{usd.KindOption, "ClientCacheVersionNumber", assess.NoEquivalent, "No equivalent", "nothing is written"},
	}
	for _, c := range cases {
		it := verdictOf(t, r, c.kind, c.name)
		if it.Verdict != c.verdict {
			t.Errorf("%s %q: verdict %s, want %s (reasons %v)", c.kind, c.name, it.Verdict, c.verdict, it.Reasons)
		}
		if !strings.Contains(it.Target, c.target) {
			t.Errorf("%s %q: target %q, want %q", c.kind, c.name, it.Target, c.target)
		}
		if c.reason != "" && !strings.Contains(strings.Join(it.Reasons, "\n"), c.reason) {
			t.Errorf("%s %q: reasons %v lack %q", c.kind, c.name, it.Reasons, c.reason)
		}
		if c.verdict == assess.NoEquivalent && it.Hours != 0 {
			t.Errorf("%s %q: no equivalent with %.2f h", c.kind, c.name, it.Hours)
		}
	}
	// No equivalent neither costs hours nor raises the automatic share.
	tot := r.Totals
	ne := tot.ByVerdict[assess.NoEquivalent]
	if ne.Count == 0 || ne.Hours != 0 {
		t.Errorf("no-equivalent tally %+v", ne)
	}
	want := float64(tot.ByVerdict[assess.Automatic].Count) * 100 / float64(tot.Total.Count-ne.Count)
	if d := tot.AutomaticShare - want; d > 0.05 || d < -0.05 {
		t.Errorf("automatic share %.1f, want %.1f", tot.AutomaticShare, want)
	}
	// No problem is counted twice: a control whose tab comes from an
	// action call carries none of that call's problems in its verdict.
	for _, it := range r.Items {
		if it.Kind == usd.KindHostedControl && it.Verdict != assess.Automatic {
			for _, reason := range it.Reasons {
				if strings.Contains(reason, "modifier") || strings.Contains(reason, "$Global") {
					t.Errorf("control %q is %s for its action call's problem %q", it.Name, it.Verdict, reason)
				}
			}
		}
	}
}

// Nothing from the export reaches a report as markup: not in Markdown,
// HTML or CSV (formulas), whatever field it hides in.
func TestReportsEscapeInput(t *testing.T) {
	const evil = "<script>alert(1)</script> [x](javascript:alert(2)) `code` *em* | pipe\n# head =HYPERLINK(\"http://evil\")"
	m := &usd.Model{
		HostedControls: []*usd.HostedControl{{ID: "1", Name: evil, ComponentType: usd.StandardWebApplication, WebAppURL: "https://x.example/?" + evil}},
		Problems:       []usd.Problem{{Severity: usd.SeverityError, File: "data.xml", Entity: evil, Message: evil}},
		Configurations: []*usd.Configuration{{ID: "2", Name: "=1+1<img src=x onerror=alert(3)>"}},
	}
	r := assess.Assess(m, assess.Options{Source: "<b>export</b>.zip"})
	var md, html, csvOut bytes.Buffer
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteCSV(&csvOut); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script>", "<img", "<b>", "](javascript", "`code`", "*em*", "| pipe"} {
		for i := 0; ; {
			j := strings.Index(md.String()[i:], bad)
			if j < 0 {
				break
			}
			if i+j == 0 || md.String()[i+j-1] != '\\' {
				t.Errorf("Markdown holds %q unescaped", bad)
				break
			}
			i += j + 1
		}
	}
	if !strings.Contains(md.String(), "\\<script\\>alert(1)\\</script\\> \\[x\\](javascript:alert(2)) \\`code\\` \\*em\\* \\| pipe") {
		t.Errorf("Markdown does not show the text escaped:\n%s", md.String())
	}
	if strings.Contains(html.String(), "<script>alert") || strings.Contains(html.String(), "<img src=x") || strings.Contains(html.String(), "<b>export") {
		t.Error("HTML holds markup from the export")
	}
	if strings.Count(html.String(), "<script>") != 1 {
		t.Error("HTML has more than its own filter script")
	}
	csvText := csvOut.String()
	rows, err := csv.NewReader(strings.NewReader(csvText)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows[1:] {
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("CSV cell %q starts a formula", cell)
			}
		}
	}
	if !strings.Contains(csvText, "'=1+1") {
		t.Errorf("CSV lacks the neutralised configuration name:\n%q", csvText)
	}
}

func TestHTMLIsSelfContained(t *testing.T) {
	var buf bytes.Buffer
	if err := assess.Assess(loadModel(t, "small.zip", ""), assess.Options{Source: "small.zip"}).WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	for _, bad := range []string{"<link", "src=\"http", "href=\"http", "@import", "url("} {
		if strings.Contains(html, bad) {
			t.Errorf("HTML references an external asset (%s)", bad)
		}
	}
	for _, want := range []string{"<svg", "<script>", `id="q"`, `data-verdict="manual"`} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks %s", want)
		}
	}
}

func BenchmarkAssessContoso(b *testing.B) {
	for b.Loop() {
		m, err := usd.LoadFile(context.Background(), testdata("contoso.zip"))
		if err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		if err := assess.Assess(m, assess.Options{Source: "contoso.zip"}).WriteHTML(&buf); err != nil {
			b.Fatal(err)
		}
	}
}
