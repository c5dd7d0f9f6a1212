package usd_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/usd"
	"github.com/dvsync/dvsync/usd/cmtseed"
)

type countingRoundTripper struct {
	base http.RoundTripper
	n    *atomic.Int64
}

func (t countingRoundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	t.n.Add(1)
	return t.base.RoundTrip(r)
}

// BenchmarkDataverseSourceContoso reads the realistic fixture back from
// the reference server, memberships included, locally and with 20 ms
// added to every response (a typical in-region round trip).
// requests/op is what a real environment's latency multiplies.
func BenchmarkDataverseSourceContoso(b *testing.B) {
	for _, bc := range []struct{ name, latency string }{{"local", ""}, {"latency20ms", "20ms"}} {
		b.Run(bc.name, func(b *testing.B) {
			lat, err := refserver.ParseLatency(bc.latency)
			if err != nil {
				b.Fatal(err)
			}
			// Seed without latency into a store on disk, then serve that
			// store with the latency.
			data := filepath.Join(b.TempDir(), "dv.db")
			seedSrv, err := refserver.New(refserver.Options{Token: "usd-bench", DataPath: data})
			if err != nil {
				b.Fatal(err)
			}
			seedHS := httptest.NewServer(seedSrv)
			seed, err := dataverse.NewClient(seedHS.URL, dataverse.StaticToken("usd-bench"), &dataverse.ClientOptions{MaxRetries: 1})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			if _, err := cmtseed.ImportFile(ctx, seed, filepath.Join("..", "testdata", "usd", "contoso.zip")); err != nil {
				b.Fatal(err)
			}
			seedHS.Close()
			seedSrv.Close()
			srv, err := refserver.New(refserver.Options{Token: "usd-bench", Latency: lat, DataPath: data})
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			hs := httptest.NewServer(srv)
			defer hs.Close()
			var requests atomic.Int64
			c, err := dataverse.NewClient(hs.URL, dataverse.StaticToken("usd-bench"), &dataverse.ClientOptions{MaxRetries: 1,
				Transport: countingRoundTripper{hs.Client().Transport, &requests}})
			if err != nil {
				b.Fatal(err)
			}
			for _, conc := range []int{1, 8} {
				b.Run(fmt.Sprintf("concurrency%d", conc), func(b *testing.B) {
					before := requests.Load()
					for b.Loop() {
						m, err := (&usd.DataverseSource{Client: c, Name: hs.URL, Concurrency: conc}).Load(ctx)
						if err != nil || len(m.Problems) != 0 {
							b.Fatalf("load: %v %v", err, m.Problems)
						}
					}
					b.ReportMetric(float64(requests.Load()-before)/float64(b.N), "requests/op")
				})
			}
		})
	}
}
