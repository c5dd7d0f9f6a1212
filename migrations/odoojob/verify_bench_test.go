package odoojob

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/migrations/odoojob/odoojobtest"
	"github.com/dvsync/dvsync/odoo"
	"github.com/dvsync/dvsync/odoo/odooseed"
	"github.com/dvsync/dvsync/odoo/odooserver"
)

// countingTransport counts the HTTP requests a client sends, re-sends
// included.
type countingTransport struct {
	n    atomic.Int64
	base http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.base.RoundTrip(r)
}

// BenchmarkVerifyUnderLimits verifies a migration of a generated helpdesk
// (DVSYNC_BENCH_VERIFY tickets, default 300, with their messages and SLA
// statuses) against a reference Dataverse enforcing Dataverse's default
// service protection limits (6,000 requests and 1,200 s of execution time
// per 300 s per caller). The migration runs as one caller, verify as
// another, so verify starts with a fresh window as it would the next day.
// It reports the requests verify sent, the time it took and how long it
// was told to wait (Retry-After).
//
//	DVSYNC_BENCH_VERIFY=5000 go test -run '^$' -bench VerifyUnderLimits -benchtime 1x -timeout 60m ./migrations/odoojob
func BenchmarkVerifyUnderLimits(b *testing.B) {
	tickets := 300
	if v := os.Getenv("DVSYNC_BENCH_VERIFY"); v != "" {
		tickets, _ = strconv.Atoi(v)
	}
	seed := filepath.Join(b.TempDir(), "odoo")
	if _, err := odooseed.Generate(odooseed.Options{BaseDir: odoojobtest.Testdata("odoo", "seed"), OutDir: seed, Tickets: tickets, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	limits := refserver.DefaultLimits()
	var requests, records, targets, waited int64
	var elapsed time.Duration
	for b.Loop() {
		b.StopTimer()
		ref, err := refserver.New(refserver.Options{Limits: &limits})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ref.LoadSeed(ctx, odoojobtest.Testdata("dataverse", "seed")); err != nil {
			b.Fatal(err)
		}
		hs := httptest.NewServer(ref)
		osrv, err := odooserver.New(odooserver.Options{APIKey: odoojobtest.OdooKey, SeedDir: seed})
		if err != nil {
			b.Fatal(err)
		}
		os := httptest.NewServer(osrv)
		oc, err := odoo.New(ctx, odoo.Options{URL: os.URL, Database: odooserver.Database, Login: "admin", APIKey: odoojobtest.OdooKey})
		if err != nil {
			b.Fatal(err)
		}
		client := func(token string, rt http.RoundTripper, onRetry func(dataverse.RetryNotice)) *dataverse.Client {
			c, err := dataverse.NewClient(hs.URL, dataverse.StaticToken(token), &dataverse.ClientOptions{Transport: rt, OnRetry: onRetry})
			if err != nil {
				b.Fatal(err)
			}
			return c
		}
		store := openStore(b, b.TempDir())
		cfg := Config{Odoo: oc, Database: odooserver.Database, Dataverse: client("migrate", nil, nil), Map: demoMap(b), Store: store}
		if sum, _, err := Migrate(ctx, cfg); err != nil || sum.Total().Rejected != 0 {
			b.Fatalf("migration: %v (%+v)", err, sum)
		}
		ct := &countingTransport{base: http.DefaultTransport}
		var wait atomic.Int64
		cfg.Dataverse = client("verify", ct, func(n dataverse.RetryNotice) { wait.Add(int64(n.Wait)) })
		b.StartTimer()
		start := time.Now()
		rep, err := Verify(ctx, cfg, 0, 0)
		if err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		b.StopTimer()
		if !rep.OK {
			b.Fatalf("verify found %d mismatches", rep.Mismatches())
		}
		requests += ct.n.Load()
		waited += wait.Load()
		for _, s := range rep.Steps {
			records += s.SourceRead
			for _, t := range s.Tables {
				targets += t.Expected
			}
		}
		hs.Close()
		os.Close()
		ref.Close()
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(float64(records)/n, "source-records")
	b.ReportMetric(float64(targets)/n, "target-records")
	b.ReportMetric(float64(requests)/n, "dataverse-requests")
	b.ReportMetric(elapsed.Seconds()/n, "s/verify")
	b.ReportMetric(time.Duration(waited).Seconds()/n, "s-retry-after")
}
