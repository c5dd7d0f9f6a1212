package usdjob_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/usdjob"
	"github.com/dvsync/dvsync/usd"
	"github.com/dvsync/dvsync/usd/assess"
)

// BenchmarkContoso measures the whole flow for the realistic fixture:
// read the zip, assess, translate, find the records already there, write
// records and links and verify, into a fresh reference server and state
// store each time; and a re-run that finds everything in place. requests/op counts HTTP calls,
// which is what dominates against a real environment (multiply by its
// round-trip time). With latency, every response is delayed by 20 ms, a
// typical in-region Dataverse round trip.
func BenchmarkContoso(b *testing.B) {
	for _, bc := range []struct {
		name    string
		latency string
	}{{"local", ""}, {"latency20ms", "20ms"}} {
		lat, err := refserver.ParseLatency(bc.latency)
		if err != nil {
			b.Fatal(err)
		}
		for _, rerun := range []bool{false, true} {
			name := bc.name + "/first"
			if rerun {
				name = bc.name + "/rerun"
			}
			b.Run(name, func(b *testing.B) {
				ctx := context.Background()
				var requests atomic.Int64
				for b.Loop() {
					b.StopTimer()
					srv, err := refserver.New(refserver.Options{Token: token, Latency: lat})
					if err != nil {
						b.Fatal(err)
					}
					hs := httptest.NewServer(srv)
					c, err := dataverse.NewClient(hs.URL, dataverse.StaticToken(token), &dataverse.ClientOptions{MaxRetries: 1,
						Transport: countingRoundTripper{hs.Client().Transport, &requests}})
					if err != nil {
						b.Fatal(err)
					}
					store, err := migrations.OpenSQLite(ctx, filepath.Join(b.TempDir(), "state.db"))
					if err != nil {
						b.Fatal(err)
					}
					if rerun {
						migrateContoso(b, ctx, c, store)
					}
					before := requests.Load()
					b.StartTimer()
					migrateContoso(b, ctx, c, store)
					b.StopTimer()
					b.ReportMetric(float64(requests.Load()-before), "requests/op")
					store.Close()
					hs.Close()
					srv.Close()
					b.StartTimer()
				}
			})
		}
	}
}

type countingRoundTripper struct {
	base http.RoundTripper
	n    *atomic.Int64
}

func (t countingRoundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	t.n.Add(1)
	return t.base.RoundTrip(r)
}

func migrateContoso(b *testing.B, ctx context.Context, c *dataverse.Client, store migrations.Store) {
	m, err := usd.LoadFile(ctx, "../../testdata/usd/contoso.zip")
	if err != nil {
		b.Fatal(err)
	}
	_ = assess.Assess(m, assess.Options{})
	res := translate(b, m)
	run, err := usdjob.Migrate(ctx, usdjob.Config{Dataverse: c, Translation: res, Store: store})
	if err != nil {
		b.Fatal(err)
	}
	if !run.OK() {
		b.Fatalf("run not OK: %+v", run.Total())
	}
}
