package migrations_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dvsync/dvsync/internal/browsertest"
	"github.com/dvsync/dvsync/migrations"
)

// TestReportsRenderInChromium opens the migration and the verification
// reports in headless Chromium and checks, on the screenshot of the first
// screen, that the chart at the top was painted in the colours of each
// outcome (created or matched, skipped, rejected): the charts are inline SVG a real browser draws with nothing fetched.
func TestReportsRenderInChromium(t *testing.T) {
	chromium := browsertest.Find(t)
	sum, rep, _, _, _, _ := runHelpdesk(t)
	src := migrations.NewEndpoint("Odoo helpdesk", "https://acme.odoo.com/", "acme")
	dst := migrations.NewEndpoint("Dynamics 365 (Dataverse)", "https://acme.crm4.dynamics.com/", "")
	rep.Source, rep.Target = src, dst
	dir := t.TempDir()
	runPage := filepath.Join(dir, "migration.html")
	f, err := os.Create(runPage)
	if err != nil {
		t.Fatal(err)
	}
	if err := (&migrations.RunReport{Title: "Odoo helpdesk migration", Summary: sum, Source: src, Target: dst}).WriteHTML(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	verifyPage, _, err := rep.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, page := range []string{runPage, verifyPage} {
		t.Run(filepath.Base(page), func(t *testing.T) {
			img := chromium.Screenshot(t, page, 1280, 1400)
			browsertest.WantPainted(t, img, 150, map[string]string{"#2E8540": "created or matched", "#B4591A": "rejected", "#B8C4CE": "skipped"})
		})
	}
}
