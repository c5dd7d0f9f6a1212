package browsertest_test

import (
	"fmt"
	"image"
	"image/color"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dvsync/dvsync/internal/browsertest"
)

// A page is painted, its scripts run, and nothing it asks for leaves the
// browser: an image, a stylesheet and a fetch aimed at a server on
// loopback never reach it.
func TestPageRendersWithNetworkingOff(t *testing.T) {
	chromium := browsertest.Find(t)
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "text/css")
		fmt.Fprint(w, "body { background: #FF00FF }")
	}))
	t.Cleanup(srv.Close)
	page := filepath.Join(t.TempDir(), "page.html")
	html := `<!doctype html><html><head><link rel="stylesheet" href="` + srv.URL + `/style.css"></head>
<body style="margin:0"><div style="width:200px;height:100px;background:#123456"></div>
<img src="` + srv.URL + `/pixel.png">
<script>document.body.setAttribute('data-ran', 'yes'); fetch('` + srv.URL + `/data.json').catch(() => {});</script>
</body></html>`
	if err := os.WriteFile(page, []byte(html), 0o644); err != nil {
		t.Fatal(err)
	}

	img := chromium.Screenshot(t, page, 400, 300)
	if b := img.Bounds(); b.Dx() != 400 || b.Dy() != 300 {
		t.Errorf("screenshot of %v, want 400×300", b)
	}
	if n := browsertest.Pixels(img, "#123456"); n != 200*100 {
		t.Errorf("the box: %d pixels of #123456, want 20000", n)
	}
	if !strings.Contains(chromium.DOM(t, page), `data-ran="yes"`) {
		t.Error("the page's script did not run")
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the page reached the network: %d requests to %s", n, srv.URL)
	}
}

func TestPixels(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 4, 3))
	for x := range 4 {
		img.Set(x, 0, color.RGBA{0x2E, 0x85, 0x40, 0xFF})
	}
	img.Set(0, 1, color.RGBA{0x2E, 0x85, 0x41, 0xFF})
	for hex, want := range map[string]int{"#2E8540": 4, "#2e8540": 4, "#2E8541": 1, "#000000": 7} {
		if got := browsertest.Pixels(img, hex); got != want {
			t.Errorf("Pixels(%s) = %d, want %d", hex, got, want)
		}
	}
}
