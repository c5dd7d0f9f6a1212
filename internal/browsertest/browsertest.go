// Package browsertest opens the HTML pages dvsync writes (assessment,
// comparison, migration and verification reports) in a real headless
// Chromium, for tests: the charts are inline SVG, and only a browser tells
// whether they were painted and whether markup from the data stayed text.
//
// It is imported by tests only. A test calls Find first: without a
// Chromium on PATH the test is skipped, or fails in CI (CI=true), where
// the browser must be installed (apt-get install -y chromium).
//
// Pages are opened from file:// with networking off: every request the
// page would make goes to a proxy that is not there, so a report that
// needs anything from outside renders without it and its test fails.
//
// DVSYNC_KEEP_SCREENSHOT=/path/shot.png keeps a copy of each screenshot,
// named /path/shot-<page>.png, to look at by eye.
package browsertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// timeout bounds one Chromium run: a browser that hangs fails its test
// instead of the whole package's deadline.
const timeout = 90 * time.Second

// Chromium is a headless-capable Chromium found on PATH.
type Chromium struct {
	bin string
}

// Find returns the Chromium on PATH. Without one it skips the test, or
// fails it when CI=true.
func Find(t testing.TB) Chromium {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return Chromium{bin: p}
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no Chromium on PATH: CI must install it (apt-get install -y chromium)")
	}
	t.Skip("no Chromium on PATH (apt-get install -y chromium); the HTML page was not checked in a browser")
	return Chromium{}
}

// Screenshot opens page (a file path) in a window of width×height pixels
// and returns what Chromium painted.
func (c Chromium) Screenshot(t testing.TB, page string, width, height int) image.Image {
	t.Helper()
	dir := t.TempDir()
	shot := filepath.Join(dir, "shot.png")
	c.run(t, dir, fmt.Sprintf("--window-size=%d,%d", width, height), "--screenshot="+shot, fileURL(t, page))
	b, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("chromium wrote no screenshot of %s: %v", page, err)
	}
	if keep := os.Getenv("DVSYNC_KEEP_SCREENSHOT"); keep != "" {
		name := strings.TrimSuffix(keep, ".png") + "-" + strings.TrimSuffix(filepath.Base(page), filepath.Ext(page)) + ".png"
		if err := os.WriteFile(name, b, 0o644); err != nil {
			t.Logf("keeping the screenshot: %v", err)
		}
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("the screenshot of %s: %v", page, err)
	}
	return img
}

// DOM opens page (a file path) and returns its DOM serialised after the
// page's scripts ran, as Chromium's --dump-dom prints it.
func (c Chromium) DOM(t testing.TB, page string) string {
	t.Helper()
	return string(c.run(t, t.TempDir(), "--dump-dom", fileURL(t, page)))
}

// run runs Chromium headless with a profile of its own in dir and returns
// its standard output; a failure fails the test with its standard error.
func (c Chromium) run(t testing.TB, dir string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
		// Networking off: Chromium's own traffic is disabled, and a page's
		// requests, loopback included (<-loopback>), go to a proxy on the
		// discard port that nothing answers.
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
		"--user-data-dir=" + filepath.Join(dir, "profile")}
	out, err := exec.CommandContext(ctx, c.bin, append(base, args...)...).Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("chromium: %v\n%s", err, exit.Stderr)
		}
		t.Fatalf("chromium: %v", err)
	}
	return out
}

func fileURL(t testing.TB, page string) string {
	t.Helper()
	abs, err := filepath.Abs(page)
	if err != nil {
		t.Fatal(err)
	}
	return "file://" + filepath.ToSlash(abs)
}

// Pixels counts the pixels of img that are exactly the colour hex
// ("#RRGGBB", as the reports' stylesheets write it).
func Pixels(img image.Image, hex string) int {
	v, err := strconv.ParseUint(strings.TrimPrefix(hex, "#"), 16, 32)
	if err != nil || len(hex) != 7 || hex[0] != '#' {
		panic(fmt.Sprintf("browsertest: %q is not a colour #RRGGBB", hex))
	}
	r, g, b := uint8(v>>16), uint8(v>>8), uint8(v)
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

// WantPainted fails the test (and goes on) for each colour of want
// ("#RRGGBB" → what it stands for, e.g. "rejected") that img has fewer
// than least pixels of: the chart drawn in it was not painted.
func WantPainted(t testing.TB, img image.Image, least int, want map[string]string) {
	t.Helper()
	for colour, what := range want {
		if n := Pixels(img, colour); n < least {
			t.Errorf("%s (%s): %d pixels, want at least %d: the chart was not painted", what, colour, n, least)
		}
	}
}
