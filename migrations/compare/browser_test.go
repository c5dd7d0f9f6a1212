package compare

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/dvsync/dvsync/internal/browsertest"
)

// TestReportRendersInChromium opens the HTML report in headless Chromium
// with networking off, takes a screenshot and checks that both systems'
// chart colours were painted: the charts are inline SVG that a real
// browser draws, with nothing fetched.
func TestReportRendersInChromium(t *testing.T) {
	chromium := browsertest.Find(t)
	dir := t.TempDir()
	renderSample(t, dir)
	page := filepath.Join(dir, FileHTML)
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?[a-z]+:|url\(|@import`).Find(html); m != nil {
		t.Fatalf("the report refers to an outside resource: %s", m)
	}
	img := chromium.Screenshot(t, page, 1280, 3000)
	browsertest.WantPainted(t, img, 2000, map[string]string{"#714B67": "Odoo bars", "#0F6CBD": "Dataverse bars"})
}
