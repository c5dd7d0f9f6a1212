package compare

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/dvsync/dvsync/odoo"
	"github.com/dvsync/dvsync/odoo/helpdesk"
	"github.com/dvsync/dvsync/odoo/odooserver"
)

// TestOdooServerCountsAgreeWithTheStream: on every version and flavour the
// reference Odoo imitates, the figures read_group (16–18) or
// formatted_read_group (19) returns equal those counted from the streamed
// tickets, label by label.
func TestOdooServerCountsAgreeWithTheStream(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		version int
		flavour string
	}{{16, odooserver.FlavourEnterprise}, {17, odooserver.FlavourEnterprise}, {19, odooserver.FlavourEnterprise}, {17, odooserver.FlavourOCA}} {
		t.Run(fmt.Sprintf("%s-%d", c.flavour, c.version), func(t *testing.T) {
			srv, err := odooserver.New(odooserver.Options{APIKey: "k", Version: c.version, Flavour: c.flavour, SeedDir: "../../testdata/odoo/seed", Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			hs := httptest.NewServer(srv)
			defer hs.Close()
			ctx := context.Background()
			cl, err := odoo.New(ctx, odoo.Options{URL: hs.URL, Database: odooserver.Database, Login: "admin", APIKey: "k"})
			if err != nil {
				t.Fatal(err)
			}
			r, err := helpdesk.Detect(ctx, cl)
			if err != nil {
				t.Fatal(err)
			}
			md := testModel(t)
			sc, err := OdooServerCounts(ctx, r, md, time.Time{}, now)
			if err != nil {
				t.Fatal(err)
			}
			streamed := map[string]map[string]float64{}
			add := func(fig, label string) {
				if label == "" {
					label = "(none)"
				}
				if streamed[fig] == nil {
					streamed[fig] = map[string]float64{}
				}
				streamed[fig][label]++
			}
			for tk, err := range OdooTickets(ctx, r, md, time.Time{}) {
				if err != nil {
					t.Fatal(err)
				}
				add("team", tk.Team)
				add("status", md.StatusLabel(tk))
				add("priority", md.PriorityLabel(tk))
				add("channel", md.ChannelLabel(tk))
				add("month", tk.Created.UTC().Format("2006-01"))
			}
			if len(streamed["status"]) == 0 || len(streamed) != 5 {
				t.Fatalf("no tickets streamed: %v", streamed)
			}
			for fig, want := range streamed {
				got := sc.Counts[fig]
				if len(got) != len(want) {
					t.Errorf("%s: server %v, stream %v", fig, got, want)
					continue
				}
				for label, n := range want {
					if got[label] != n {
						t.Errorf("%s %q: server %v, stream %v", fig, label, got[label], n)
					}
				}
			}
			if c.flavour == odooserver.FlavourEnterprise && len(sc.SLA) == 0 {
				t.Error("no SLA outcomes grouped")
			}
			// The SLA domains agree with the statuses the server computes.
			if c.flavour == odooserver.FlavourEnterprise {
				streamedSLA := map[string]map[string]int64{}
				for s, err := range OdooSLA(ctx, r) {
					if err != nil {
						t.Fatal(err)
					}
					if streamedSLA[s.Policy] == nil {
						streamedSLA[s.Policy] = map[string]int64{}
					}
					streamedSLA[s.Policy][s.Status]++
				}
				for p, m := range streamedSLA {
					for _, st := range []string{SLAMet, SLABreached} {
						if sc.SLA[p][st] != m[st] {
							t.Errorf("SLA %q %s: server %d, stream %d", p, st, sc.SLA[p][st], m[st])
						}
					}
				}
			}
		})
	}
}
