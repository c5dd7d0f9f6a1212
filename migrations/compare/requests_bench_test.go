package compare

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dvsync/dvsync/odoo"
	"github.com/dvsync/dvsync/odoo/helpdesk"
	"github.com/dvsync/dvsync/odoo/odooseed"
	"github.com/dvsync/dvsync/odoo/odooserver"
)

// BenchmarkOdooAggregateRequests counts what the Odoo figures cost: the
// server-side groups (read_group) against streaming every ticket, at two
// sizes. The groups cost the same handful of requests at any size; the
// stream costs a page per odoo.DefaultPageSize tickets.
//
//	go test ./migrations/compare/ -run '^$' -bench OdooAggregateRequests -benchtime 1x
func BenchmarkOdooAggregateRequests(b *testing.B) {
	for _, n := range []int{1_000, 20_000} {
		b.Run(fmt.Sprintf("tickets=%d", n), func(b *testing.B) {
			dir := filepath.Join(b.TempDir(), "odoo")
			if _, err := odooseed.Generate(odooseed.Options{BaseDir: "../../testdata/odoo/seed", OutDir: dir, Tickets: n, Seed: 5}); err != nil {
				b.Fatal(err)
			}
			now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
			srv, err := odooserver.New(odooserver.Options{APIKey: "k", SeedDir: dir, Now: func() time.Time { return now }})
			if err != nil {
				b.Fatal(err)
			}
			var requests atomic.Int64
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { requests.Add(1); srv.ServeHTTP(w, r) }))
			defer hs.Close()
			ctx := context.Background()
			c, err := odoo.New(ctx, odoo.Options{URL: hs.URL, Database: odooserver.Database, Login: "admin", APIKey: "k"})
			if err != nil {
				b.Fatal(err)
			}
			r, err := helpdesk.Detect(ctx, c)
			if err != nil {
				b.Fatal(err)
			}
			md := testModel(b)
			for b.Loop() {
				before := requests.Load()
				sc, err := OdooServerCounts(ctx, r, md, time.Time{}, now)
				if err != nil {
					b.Fatal(err)
				}
				groups := requests.Load() - before
				var total float64
				for _, v := range sc.Counts["status"] {
					total += v
				}
				before = requests.Load()
				var streamed int
				for _, err := range OdooTickets(ctx, r, md, time.Time{}) {
					if err != nil {
						b.Fatal(err)
					}
					streamed++
				}
				stream := requests.Load() - before
				if int(total) != streamed || streamed < n {
					b.Fatalf("read_group counted %v tickets, the stream %d (generated %d)", total, streamed, n)
				}
				b.ReportMetric(float64(groups), "group-requests")
				b.ReportMetric(float64(stream), "stream-requests")
			}
		})
	}
}
