package assess_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dvsync/dvsync/internal/browsertest"
	"github.com/dvsync/dvsync/usd"
	"github.com/dvsync/dvsync/usd/assess"
)

// The charts are inline SVG that a real browser paints in all four
// verdict colours, with nothing fetched.
func TestHTMLRendersInChromium(t *testing.T) {
	chromium := browsertest.Find(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	var buf bytes.Buffer
	if err := assess.Assess(loadModel(t, "contoso.zip", "-"), assess.Options{Source: "contoso.zip"}).WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	img := chromium.Screenshot(t, page, 1280, 2000)
	browsertest.WantPainted(t, img, 1500, map[string]string{"#1A7F37": "automatic", "#BF8700": "partial",
		"#CF222E": "manual", "#8C959F": "no equivalent"})
}

// Markup in an export stays text in the browser: no injected script runs
// and no injected element is created.
func TestHTMLInjectionInChromium(t *testing.T) {
	chromium := browsertest.Find(t)
	dir := t.TempDir()
	evil := `<script>document.body.setAttribute('data-pwned','script')</script><img src=x onerror="document.body.setAttribute('data-pwned','img')">`
	m := &usd.Model{
		HostedControls: []*usd.HostedControl{{ID: "1", Name: evil, ComponentType: usd.StandardWebApplication, WebAppURL: "https://x.example/" + evil}},
		Problems:       []usd.Problem{{Severity: usd.SeverityError, File: "data.xml", Message: evil}},
	}
	var buf bytes.Buffer
	if err := assess.Assess(m, assess.Options{Source: evil}).WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, "report.html")
	if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	dom := chromium.DOM(t, page)
	if strings.Contains(dom, `data-pwned="`) {
		t.Fatal("a script from the export ran in the report")
	}
	if !strings.Contains(dom, "&lt;script&gt;document.body") {
		t.Error("the export's text is not shown as text")
	}
}
