package odoo_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/dvsync/dvsync/odoo"
	"github.com/dvsync/dvsync/odoo/odooseed"
	"github.com/dvsync/dvsync/odoo/odooserver"
)

// BenchmarkStreamTickets streams 10,000 generated tickets over each
// protocol, with the page size the client defaults to and a small one.
func BenchmarkStreamTickets(b *testing.B) {
	seed := filepath.Join(b.TempDir(), "seed")
	if _, err := odooseed.Generate(odooseed.Options{BaseDir: seedDir, OutDir: seed, Tickets: 10_000, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	e := start(b, odooserver.Options{Version: 19, SeedDir: seed}, nil)
	fields := []string{"name", "description", "team_id", "stage_id", "user_id", "partner_id", "priority", "tag_ids", "create_date", "write_date", "close_date"}
	for _, tc := range []struct {
		name     string
		protocol odoo.Protocol
		pageSize int
	}{
		{"jsonrpc/page=1000", odoo.ProtocolJSONRPC, 1000},
		{"json2/page=1000", odoo.ProtocolJSON2, 1000},
		{"json2/page=100", odoo.ProtocolJSON2, 100},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c := connect(b, e, func(o *odoo.Options) { o.Protocol, o.PageSize = tc.protocol, tc.pageSize })
			n := 0
			for b.Loop() {
				for _, err := range c.Stream(context.Background(), "helpdesk.ticket", odoo.StreamOptions{Fields: fields, Context: odoo.Context{}.WithArchived()}) {
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
		})
	}
	// The naive way many scripts page: offset/limit in the model's default
	// order (priority desc, id desc), which makes the server sort and skip
	// the whole table for every page, and which skips or repeats records
	// when the table changes in between.
	b.Run("naive-offset/page=1000", func(b *testing.B) {
		c := connect(b, e, func(o *odoo.Options) { o.Protocol = odoo.ProtocolJSON2 })
		n := 0
		for b.Loop() {
			for offset := 0; ; offset += 1000 {
				page, err := c.SearchRead(context.Background(), "helpdesk.ticket", odoo.Query{Fields: fields, Offset: offset, Limit: 1000, Context: odoo.Context{}.WithArchived()})
				if err != nil {
					b.Fatal(err)
				}
				n += len(page)
				if len(page) < 1000 {
					break
				}
			}
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
	})
}
