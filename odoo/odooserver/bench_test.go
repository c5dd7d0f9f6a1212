package odooserver

import (
	"encoding/json"
	"io"
	"path/filepath"
	"testing"

	"github.com/dvsync/dvsync/odoo/odooseed"
)

// BenchmarkSearchReadPage measures one 1,000-ticket search_read page with
// the helpdesk field list, including JSON encoding, which is what bounds
// export throughput against the reference server.
func BenchmarkSearchReadPage(b *testing.B) {
	seed := filepath.Join(b.TempDir(), "seed")
	if _, err := odooseed.Generate(odooseed.Options{BaseDir: seedDir, OutDir: seed, Tickets: 5000, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	srv, err := New(Options{SeedDir: seed, Now: fixedClock()})
	if err != nil {
		b.Fatal(err)
	}
	fields := []any{"name", "description", "active", "ticket_ref", "team_id", "stage_id", "user_id", "partner_id",
		"commercial_partner_id", "partner_name", "partner_email", "partner_phone", "company_id", "priority",
		"kanban_state", "tag_ids", "ticket_type_id", "fold", "assign_date", "close_date", "date_last_stage_update",
		"assign_hours", "close_hours", "sla_ids", "sla_status_ids", "sla_deadline", "sla_reached",
		"sla_reached_late", "email_cc", "create_date", "write_date"}
	b.ResetTimer()
	for b.Loop() {
		out, err := srv.run(&call{model: "helpdesk.ticket", method: "search_read", ctx: map[string]any{"active_test": false},
			args: map[string]any{"domain": []any{[]any{"id", ">", 2000}}, "fields": fields, "order": "id asc", "limit": 1000}})
		if err != nil {
			b.Fatal(err)
		}
		if err := json.NewEncoder(io.Discard).Encode(map[string]any{"jsonrpc": "2.0", "id": 1, "result": out}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(1000*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
