package pull_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
)

// BenchmarkPullDefaultsVersusNpm is the `dvsync pull` command with its
// default flags against the dynamics-web-api npm client's retrieveAll,
// reading N cases (DVSYNC_BENCH_PULL_DEFAULTS, default 50,000) from the
// reference Dataverse with a realistic page latency (100 ms + 0.1 ms per
// record, issue 11 item 6). It mirrors dataverse/conformance's
// BenchmarkPullVersusNpm, which measures the library; this one measures the
// command as a user runs it, metadata and count requests included, and the
// old default (--partitions 1) beside it.
//
//	DVSYNC_BENCH_PULL_DEFAULTS=50000 go test -run '^$' -bench PullDefaultsVersusNpm -benchtime 1x ./cmd/internal/pull
func BenchmarkPullDefaultsVersusNpm(b *testing.B) {
	n := 50000
	if v := os.Getenv("DVSYNC_BENCH_PULL_DEFAULTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("DVSYNC_BENCH_PULL_DEFAULTS=%q", v)
		}
	}
	module, err := filepath.Abs("../../../testdata/peers/node_modules/dynamics-web-api/dist/esm/dynamics-web-api.mjs")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := os.Stat(module); err != nil {
		b.Skipf("dynamics-web-api not installed (npm ci in testdata/peers): %v", err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		b.Skip("node not installed")
	}
	const profile = "100ms+0.1ms/record"
	lat, err := refserver.ParseLatency(profile)
	if err != nil {
		b.Fatal(err)
	}
	srv, err := refserver.New(refserver.Options{Token: token, Latency: lat})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()
	b.Setenv("DVSYNC_TOKEN", token)
	b.Setenv("DVSYNC_ENV", "")
	seedCases(b, hs.URL, n)
	sel := "title,ticketnumber,prioritycode,statecode,_customerid_value,createdon"

	dvsync := func(extra ...string) (float64, int) {
		out := filepath.Join(b.TempDir(), "cases.jsonl")
		start := time.Now()
		stdout, stderr, err := runPull(b, append([]string{"incident", "--env", hs.URL, "--select", sel, "--out", out, "--json", "--quiet"}, extra...)...)
		d := time.Since(start)
		if err != nil {
			b.Fatalf("pull %v: %v\n%s", extra, err, stderr)
		}
		var sum struct {
			Records    int `json:"records"`
			Partitions int `json:"partitions"`
		}
		if err := json.Unmarshal([]byte(stdout), &sum); err != nil || sum.Records != n {
			b.Fatalf("pull %v: %q (%v), want %d records", extra, stdout, err, n)
		}
		return float64(n) / d.Seconds(), sum.Partitions
	}
	npm := func() float64 {
		cmd := exec.Command("node", "../../../dataverse/conformance/testdata/retrieveall.mjs")
		cmd.Env = append(os.Environ(), "DWA_MODULE=file://"+module, "DATAVERSE_URL="+hs.URL+"/api/data/v9.2/",
			"DVSYNC_TOKEN="+token, "COLLECTION=incidents", "SELECT="+sel)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("node: %v: %s", err, stderr.String())
		}
		var res struct {
			Records int     `json:"records"`
			MS      float64 `json:"ms"`
		}
		if err := json.Unmarshal(out, &res); err != nil || res.Records != n {
			b.Fatalf("node output %q (%v), want %d records", out, err, n)
		}
		return float64(n) / (res.MS / 1000)
	}
	b.ResetTimer()
	for range b.N {
		def, parts := dvsync()
		one, _ := dvsync("--partitions", "1")
		peer := npm()
		b.ReportMetric(def, "dvsync-default-rec/s")
		b.ReportMetric(float64(parts), "default-partitions")
		b.ReportMetric(one, "dvsync-1p-rec/s")
		b.ReportMetric(peer, "npm-rec/s")
		b.ReportMetric(def/peer, "ratio-default/npm")
		b.ReportMetric(one/peer, "ratio-1p/npm")
	}
}

// seedCases creates n cases for one account with CreateMultiple.
func seedCases(b *testing.B, url string, n int) {
	b.Helper()
	ctx := context.Background()
	c, err := dataverse.NewClient(url, dataverse.StaticToken(token), &dataverse.ClientOptions{Limiter: dataverse.NewLimiter(dataverse.LimiterOptions{})})
	if err != nil {
		b.Fatal(err)
	}
	acct, err := c.Create(ctx, "account", dataverse.Record{"name": "Bench Customer", "accountnumber": "BENCH-1"})
	if err != nil {
		b.Fatal(err)
	}
	bind := "/accounts(" + acct.String() + ")"
	in := func(yield func(dataverse.Item) bool) {
		for i := range n {
			rec := dataverse.Record{"title": fmt.Sprintf("Bench case %07d", i), "ticketnumber": fmt.Sprintf("BENCH-%07d", i),
				"prioritycode": 1 + i%3, "customerid_account@odata.bind": bind}
			if !yield(dataverse.Item{Ref: int64(i), Record: rec}) {
				return
			}
		}
	}
	failed := 0
	if err := c.WriteAll(ctx, "incident", in, dataverse.BatchOptions{Mode: dataverse.ModeCreate, BatchSize: 1000}, func(r dataverse.Result) {
		if r.Err != nil {
			failed++
		}
	}); err != nil || failed > 0 {
		b.Fatalf("seeding: %v, %d failed", err, failed)
	}
}
