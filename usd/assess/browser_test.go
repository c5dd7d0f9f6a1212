package assess_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dvsync/dvsync/usd"
	"github.com/dvsync/dvsync/usd/assess"
)

// chromium finds a headless Chromium; outside CI a missing browser skips
// the test, in CI (CI=true) it fails it.
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

func runChromium(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--hide-scrollbars", "--user-data-dir=" + filepath.Join(dir, "profile")}
	out, err := exec.CommandContext(ctx, chromium(t), append(base, args...)...).Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	return out
}

// The charts are inline SVG that a real browser paints in all four
// verdict colours, with nothing fetched.
func TestHTMLRendersInChromium(t *testing.T) {
	chromium(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	var buf bytes.Buffer
	if err := assess.Assess(loadModel(t, "contoso.zip", "-"), assess.Options{Source: "contoso.zip"}).WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "report.png")
	runChromium(t, dir, "--window-size=1280,2000", "--screenshot="+shot, "file://"+page)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string][3]uint8{"automatic": {0x1a, 0x7f, 0x37}, "partial": {0xbf, 0x87, 0x00},
		"manual": {0xcf, 0x22, 0x2e}, "no equivalent": {0x8c, 0x95, 0x9f}} {
		if n := countColour(img, c); n < 1500 {
			t.Errorf("%s: %d pixels of its colour, want the charts drawn", name, n)
		}
	}
}

// Markup in an export stays text in the browser: no injected script runs
// and no injected element is created.
func TestHTMLInjectionInChromium(t *testing.T) {
	chromium(t)
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
	dom := string(runChromium(t, dir, "--dump-dom", "file://"+page))
	if strings.Contains(dom, `data-pwned="`) {
		t.Fatal("a script from the export ran in the report")
	}
	if !strings.Contains(dom, "&lt;script&gt;document.body") {
		t.Error("the export's text is not shown as text")
	}
}

func countColour(img image.Image, c [3]uint8) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if uint8(r>>8) == c[0] && uint8(g>>8) == c[1] && uint8(bl>>8) == c[2] {
				n++
			}
		}
	}
	return n
}
