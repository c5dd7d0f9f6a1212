package odoo_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/dvsync/dvsync/odoo"
	"github.com/dvsync/dvsync/odoo/odooserver"
)

// ReadGroup gives the same groups keyed the same way on every version:
// read_group up to 18, formatted_read_group on 19.
func TestReadGroupAllVersions(t *testing.T) {
	ctx := context.Background()
	for _, v := range []int{16, 17, 18, 19} {
		t.Run(fmt.Sprint(v), func(t *testing.T) {
			e := start(t, odooserver.Options{Version: v, SeedDir: seedDir}, nil)
			c := connect(t, e, nil)
			// Ground truth: count per priority and the sum of colors, from
			// search_read.
			recs, err := c.SearchRead(ctx, "helpdesk.ticket", odoo.Query{Fields: []string{"priority", "color"}})
			if err != nil {
				t.Fatal(err)
			}
			count, colors := map[string]int{}, map[string]int{}
			for _, r := range recs {
				p, _ := r.String("priority")
				col, _ := r.Int("color")
				count[p]++
				colors[p] += col
			}
			groups, err := c.ReadGroup(ctx, "helpdesk.ticket", odoo.GroupQuery{
				GroupBy: []string{"priority"}, Aggregates: []string{"__count", "color:sum", "id:count"}, Order: "priority asc"})
			if err != nil {
				t.Fatal(err)
			}
			if len(groups) != len(count) {
				t.Fatalf("%d groups, want %d: %v", len(groups), len(count), groups)
			}
			prev := ""
			for _, g := range groups {
				p, err := odoo.Record(g).String("priority")
				if err != nil {
					t.Fatal(err)
				}
				if p < prev {
					t.Fatalf("groups not in priority order: %v", groups)
				}
				prev = p
				n, _ := g.Count()
				sum, _ := odoo.Record(g).Int("color:sum")
				ids, _ := odoo.Record(g).Int("id:count")
				if n != count[p] || sum != colors[p] || ids != count[p] {
					t.Fatalf("priority %s: count %d sum %d ids %d, want %d %d", p, n, sum, ids, count[p], colors[p])
				}
				for k := range g {
					if k != "priority" && k != "__count" && k != "color:sum" && k != "id:count" {
						t.Fatalf("unexpected key %q in %v", k, g)
					}
				}
			}
			// Many2one groups read as Many2One.
			teams, err := c.ReadGroup(ctx, "helpdesk.ticket", odoo.GroupQuery{GroupBy: []string{"team_id"}, Aggregates: []string{"__count"}, Domain: odoo.Cond("team_id", odoo.Ne, false)})
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range teams {
				if m, err := odoo.Record(g).Many2One("team_id"); err != nil || !m.Valid() {
					t.Fatalf("team_id group %v: %v", g, err)
				}
			}
			if _, err := c.ReadGroup(ctx, "helpdesk.ticket", odoo.GroupQuery{Aggregates: []string{"color"}}); err == nil {
				t.Fatal("an aggregate without a function must be refused")
			}
		})
	}
}

// Issue 13, item 7: the API key never travels over plain http to another
// machine.
func TestRefusesPlainHTTPToRemoteHost(t *testing.T) {
	ctx := context.Background()
	for _, u := range []string{"http://odoo.example.com", "http://10.0.0.5:8069", "http://[2001:db8::1]:8069"} {
		_, err := odoo.New(ctx, odoo.Options{URL: u, Database: "d", Login: "admin", APIKey: "secret-key"})
		if err == nil || !strings.Contains(err.Error(), "refusing to send the API key over plain http") {
			t.Errorf("%s: %v", u, err)
		}
		if err != nil && strings.Contains(err.Error(), "secret-key") {
			t.Errorf("%s: the error shows the key", u)
		}
	}
	// Loopback is fine (the reference server), and so is an explicit opt-in.
	e := start(t, odooserver.Options{}, nil)
	connect(t, e, nil)
	localhost := strings.Replace(e.ts.URL, "127.0.0.1", "localhost", 1)
	if _, err := odoo.New(ctx, odoo.Options{URL: localhost, Database: "dvsync", Login: "admin", APIKey: testKey}); err != nil {
		t.Fatalf("localhost: %v", err)
	}
	_, err := odoo.New(ctx, odoo.Options{URL: "http://odoo.invalid", Database: "d", Login: "admin", APIKey: "k", AllowInsecureHTTP: true, MaxAttempts: 1})
	if err == nil || strings.Contains(err.Error(), "refusing") {
		t.Fatalf("AllowInsecureHTTP should let the request go (and fail to resolve): %v", err)
	}
}
