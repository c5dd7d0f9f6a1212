package odoo_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/dvsync/dvsync/odoo"
	"github.com/dvsync/dvsync/odoo/odooserver"
)

// Stream the urgent tickets of one team from the reference server, with a
// domain built from typed conditions.
func Example() {
	srv, _ := odooserver.New(odooserver.Options{Version: 17, APIKey: "secret", SeedDir: "../testdata/odoo/seed"})
	ts := httptest.NewServer(srv)
	defer ts.Close()

	ctx := context.Background()
	c, err := odoo.New(ctx, odoo.Options{URL: ts.URL, Database: "dvsync", Login: "admin", APIKey: "secret"})
	if err != nil {
		fmt.Println(err)
		return
	}
	domain := odoo.And(
		odoo.Cond("team_id.name", odoo.Eq, "VIP Support"),
		odoo.Cond("priority", odoo.Eq, "3"),
		odoo.Cond("stage_id.fold", odoo.Eq, false),
	)
	n := 0
	for r, err := range c.Stream(ctx, "helpdesk.ticket", odoo.StreamOptions{Domain: domain, Fields: []string{"name", "stage_id"}}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		stage, _ := r.Many2One("stage_id")
		if n == 0 {
			fmt.Println("first:", r.ID(), stage.Name)
		}
		n++
	}
	fmt.Println("protocol:", c.Protocol(), "open urgent VIP tickets:", n)
	// Output:
	// first: 44 New
	// protocol: jsonrpc open urgent VIP tickets: 3
}
