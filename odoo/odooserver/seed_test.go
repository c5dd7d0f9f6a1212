package odooserver

import (
	"fmt"
	"testing"
)

const seedDir = "../../testdata/odoo/seed"

func TestSeedLoadsOnEveryVersionAndFlavour(t *testing.T) {
	for v := 16; v <= 19; v++ {
		for _, fl := range []string{FlavourEnterprise, FlavourOCA} {
			t.Run(fmt.Sprintf("%d-%s", v, fl), func(t *testing.T) {
				srv, err := New(Options{Version: v, Flavour: fl, SeedDir: seedDir, Now: fixedClock()})
				if err != nil {
					t.Fatal(err)
				}
				s := srv.store
				if n := len(s.tables["helpdesk.ticket"].ids); n != 300 {
					t.Fatalf("tickets = %d", n)
				}
				m := s.models["helpdesk.ticket"]
				r := s.tables["helpdesk.ticket"].byID[7]
				if fl == FlavourOCA {
					if got := r.get(m, "number"); got != "HT00007" {
						t.Fatalf("number = %v", got)
					}
					if _, ok := s.models["helpdesk.team"]; ok {
						t.Fatal("OCA flavour has helpdesk.team")
					}
					st := s.models["helpdesk.ticket.stage"]
					solved := s.tables["helpdesk.ticket.stage"].byID[4]
					if solved.get(st, "closed") != true || len(solved.get(st, "team_ids").([]int)) != 4 {
						t.Fatalf("OCA Solved stage = %v", solved.vals)
					}
				} else {
					if got := r.get(m, "ticket_ref"); got != "07" {
						t.Fatalf("ticket_ref = %v", got)
					}
					if _, ok := s.models["helpdesk.ticket.type"]; ok != (v <= 17) {
						t.Fatalf("helpdesk.ticket.type present = %v on %d", ok, v)
					}
					if m.has("ticket_type_id") != (v <= 17) {
						t.Fatalf("ticket_type_id present on %d = %v", v, m.has("ticket_type_id"))
					}
					if n := len(s.tables["helpdesk.sla.status"].ids); n == 0 {
						t.Fatal("no SLA statuses")
					}
				}
				if n := len(s.tables["mail.message"].ids); n < 600 {
					t.Fatalf("messages = %d", n)
				}
			})
		}
	}
}
