package assess_test

import (
	"bytes"
	"context"
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
		{usd.KindHostedControl, "Debugger", assess.Manual, "Debugger has no equivalent"},
		{usd.KindHostedControl, "Bing Search", assess.Partial, "URL-encode"},
		{usd.KindHostedControl, "Intranet Wiki", assess.Partial, "not https"},
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
