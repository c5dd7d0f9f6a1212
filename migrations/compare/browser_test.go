package compare

import (
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// chromium finds a headless-capable Chromium; outside CI a missing
// browser skips the test, in CI (CI=true) it fails it.
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
	t.Skip("no Chromium on PATH (apt-get install -y chromium); the HTML report was not checked in a browser")
	return ""
}

// TestReportRendersInChromium opens the HTML report in headless Chromium
// with networking off, takes a screenshot and checks that both systems'
// chart colours were painted: the charts are inline SVG that a real
// browser draws, with nothing fetched.
func TestReportRendersInChromium(t *testing.T) {
	bin := chromium(t)
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
	shot := filepath.Join(dir, "report.png")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--window-size=1280,3000", "--screenshot="+shot, "file://"+page)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	if keep := os.Getenv("DVSYNC_KEEP_SCREENSHOT"); keep != "" {
		b, _ := os.ReadFile(shot)
		os.WriteFile(keep, b, 0o644)
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
	if n := countColour(img, 0x71, 0x4B, 0x67); n < 2000 {
		t.Errorf("Odoo bars: %d pixels of #714B67, want the charts drawn", n)
	}
	if n := countColour(img, 0x0F, 0x6C, 0xBD); n < 2000 {
		t.Errorf("Dataverse bars: %d pixels of #0F6CBD, want the charts drawn", n)
	}
}

func countColour(img image.Image, r, g, b uint8) int {
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
