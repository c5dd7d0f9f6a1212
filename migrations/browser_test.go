package migrations_test

import (
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dvsync/dvsync/migrations"
)

// chromium finds a headless-capable Chromium; outside CI a missing
// browser skips the test, in CI (CI=true) it fails it, as the comparison
// report's test does.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no Chromium on PATH: CI must install it (apt-get install -y chromium)")
	}
	t.Skip("no Chromium on PATH (apt-get install -y chromium); the HTML reports were not checked in a browser")
	return ""
}

// headless runs Chromium on page with networking off and returns its
// screenshot.
func headless(t *testing.T, bin, page string) image.Image {
	t.Helper()
	dir := t.TempDir()
	shot := filepath.Join(dir, "shot.png")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--window-size=1280,1400", "--screenshot="+shot, "file://"+page)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	if keep := os.Getenv("DVSYNC_KEEP_SCREENSHOT"); keep != "" {
		b, _ := os.ReadFile(shot)
		os.WriteFile(strings.TrimSuffix(keep, ".png")+"-"+filepath.Base(page)+".png", b, 0o644)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func pixels(img image.Image, hex string) int {
	var r, g, b uint8
	for i, p := range []*uint8{&r, &g, &b} {
		var v uint8
		for _, c := range hex[1+2*i : 3+2*i] {
			v <<= 4
			switch {
			case c >= '0' && c <= '9':
				v |= uint8(c - '0')
			default:
				v |= uint8(c-'A') + 10
			}
		}
		*p = v
	}
	n := 0
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if uint8(cr>>8) == r && uint8(cg>>8) == g && uint8(cb>>8) == b {
				n++
			}
		}
	}
	return n
}

// TestReportsRenderInChromium opens the migration and the verification
// reports in headless Chromium and checks, on the screenshot of the first
// screen, that the chart at the top was painted in the colours of each
// outcome (created or matched, skipped, rejected): the charts are inline SVG a real browser draws with nothing fetched.
func TestReportsRenderInChromium(t *testing.T) {
	bin := chromium(t)
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
		img := headless(t, bin, page)
		for colour, what := range map[string]string{"#2E8540": "created or matched", "#B4591A": "rejected", "#B8C4CE": "skipped"} {
			if n := pixels(img, colour); n < 150 {
				t.Errorf("%s: %d pixels of %s (%s), want the chart painted", filepath.Base(page), n, colour, what)
			}
		}
	}
}
