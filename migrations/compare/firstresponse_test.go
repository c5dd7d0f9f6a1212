package compare

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/mapping/canonical"
	"github.com/dvsync/dvsync/odoo"
	"github.com/dvsync/dvsync/odoo/helpdesk"
	"github.com/dvsync/dvsync/odoo/odooserver"
)

// TestFirstResponseFigure: per side, a ticket counts once, with its
// earliest answer at or after its creation; median and 90th percentile
// are exact; a side without answers says so, and each side states what it
// measures.
func TestFirstResponseFigure(t *testing.T) {
	md := testModel(t)
	const n = 40
	odooTickets := seq(n, 1, func(i int) (canonical.Ticket, bool) { return synthetic(i), true })
	dvTickets := seq(n, 2, func(i int) (canonical.Ticket, bool) { return dvOf(synthetic(i), i), true })
	// Odoo: ticket i is answered after i+1 hours (and again later); every
	// fifth is never answered; ticket 1 has an answer dated before its
	// creation (a clock skew), which does not count.
	odooAnswers := func(yield func(FirstResponse, error) bool) {
		for i := range n {
			c := synthetic(i).Created
			switch {
			case i%5 == 4:
				continue
			case i == 1:
				if !yield(FirstResponse{Ticket: "1", At: c.Add(-time.Hour)}, nil) {
					return
				}
				continue
			}
			for _, at := range []time.Time{c.Add(time.Duration(i+1+10) * time.Hour), c.Add(time.Duration(i+1) * time.Hour)} {
				if !yield(FirstResponse{Ticket: strconv.Itoa(i), At: at}, nil) {
					return
				}
			}
		}
	}
	// Dataverse: half the cases were answered within 30 minutes, keyed by
	// an upper-case GUID (as a lookup may print it).
	dvAnswers := func(yield func(FirstResponse, error) bool) {
		for i := 0; i < n; i += 2 {
			id := fmt.Sprintf("00000000-0000-0000-0000-%012d", i)
			if !yield(FirstResponse{Ticket: id, At: synthetic(i).Created.Add(30 * time.Minute)}, nil) {
				return
			}
		}
	}
	res, err := Run(context.Background(), odooTickets, dvTickets, Options{Model: md, Now: base.AddDate(1, 0, 0),
		OdooResponses: odooAnswers, OdooResponsesMethod: MethodOdooGroup, DataverseResponses: dvAnswers})
	if err != nil {
		t.Fatal(err)
	}
	f := res.Operations.Figure("firstresponse")
	if f == nil {
		t.Fatal("no time-to-first-response figure")
	}
	// Answered Odoo tickets: i not ≡ 4 (mod 5) and i ≠ 1, answered after
	// i+1 hours: 31 tickets; sorted hours 1,3,4,6,7,8,9,11,… .
	var hours []float64
	for i := range n {
		if i%5 != 4 && i != 1 {
			hours = append(hours, float64(i+1))
		}
	}
	at := func(q float64) float64 { return hours[int(q*float64(len(hours)-1)+0.5)] }
	if *f.Rows[2].Odoo != float64(len(hours)) || *f.Rows[0].Odoo != at(0.5) || *f.Rows[1].Odoo != at(0.9) {
		t.Errorf("Odoo: answered %v, median %v, p90 %v; want %d, %v, %v", *f.Rows[2].Odoo, *f.Rows[0].Odoo, *f.Rows[1].Odoo, len(hours), at(0.5), at(0.9))
	}
	if *f.Rows[2].Dataverse != n/2 || *f.Rows[0].Dataverse != 0.5 || *f.Rows[1].Dataverse != 0.5 {
		t.Errorf("Dataverse: answered %v, median %v, p90 %v", *f.Rows[2].Dataverse, *f.Rows[0].Dataverse, *f.Rows[1].Dataverse)
	}
	if f.OdooMethod != MethodOdooGroup || f.DataverseMethod != MethodStreamed || f.OdooDefinition != FirstResponseOdoo || f.DataverseDefinition != FirstResponseDataverse {
		t.Errorf("methods and definitions: %+v", f)
	}

	// Without answers on a side, that side has no values and says so.
	res, err = Run(context.Background(), seq(n, 1, func(i int) (canonical.Ticket, bool) { return synthetic(i), true }),
		seq(n, 2, func(i int) (canonical.Ticket, bool) { return dvOf(synthetic(i), i), true }), Options{Model: md, Now: base.AddDate(1, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if f := res.Operations.Figure("firstresponse"); f.OdooMethod != MethodNone || f.DataverseMethod != MethodNone || f.Rows[0].Odoo != nil || f.Rows[2].Odoo != nil {
		t.Errorf("no answers: %+v", f)
	}
}

// TestOdooFirstResponses: on every version and flavour the reference Odoo
// imitates, the server's groups give each ticket its first answer by an
// internal user in a public subtype; a customer's message and an agent's
// internal note are no answer. The groups are paged.
func TestOdooFirstResponses(t *testing.T) {
	defer func(n int) { responsePage = n }(responsePage)
	responsePage = 7
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		version int
		flavour string
	}{{16, odooserver.FlavourEnterprise}, {17, odooserver.FlavourEnterprise}, {19, odooserver.FlavourEnterprise}, {17, odooserver.FlavourOCA}} {
		t.Run(fmt.Sprintf("%s-%d", c.flavour, c.version), func(t *testing.T) {
			var clock atomic.Int64
			clock.Store(start.UnixNano())
			now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
			srv, err := odooserver.New(odooserver.Options{APIKey: "k", Version: c.version, Flavour: c.flavour, SeedDir: "../../testdata/odoo/seed", Now: now})
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
			const agent, customer = 100, 27 // Elena Petrova's partner; a customer contact
			post := func(ticket, author int, subtype string, after time.Duration) {
				t.Helper()
				clock.Store(start.Add(after).UnixNano())
				args := map[string]any{"body": "text", "message_type": "comment", "author_id": author}
				if subtype != "" {
					args["subtype_xmlid"] = subtype
				}
				if err := cl.Call(ctx, r.Models.Ticket, "message_post", []int{ticket}, args, nil, false); err != nil {
					t.Fatal(err)
				}
			}
			ticket := func(name string) int {
				clock.Store(start.UnixNano())
				id, err := cl.Create(ctx, r.Models.Ticket, map[string]any{"name": name, "description": "<p>help</p>", "partner_id": customer})
				if err != nil {
					t.Fatal(err)
				}
				return id
			}
			answered, unanswered := ticket("answered"), ticket("unanswered")
			post(answered, customer, "mail.mt_comment", time.Hour) // the customer writes
			post(answered, agent, "mail.mt_note", 2*time.Hour)     // an internal note
			post(answered, agent, "mail.mt_comment", 3*time.Hour)  // the first answer
			post(answered, agent, "mail.mt_comment", 5*time.Hour)  // a later one
			post(unanswered, agent, "", time.Hour)                 // a note (message_post's default)
			post(unanswered, customer, "mail.mt_comment", 2*time.Hour)

			// What the seed's threads say, message by message: the earliest
			// comment or e-mail in Discussions (subtype 1) by an agent.
			agents := map[int]bool{}
			users, err := cl.SearchRead(ctx, "res.users", odoo.Query{Fields: []string{"partner_id"}, Context: odoo.Context{}.WithArchived()})
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range users {
				p, _ := u.Many2One("partner_id")
				agents[p.ID] = true
			}
			want := map[string]time.Time{}
			for m, err := range r.TicketMessages(ctx, helpdesk.Query{}) {
				if err != nil {
					t.Fatal(err)
				}
				if !agents[m.Author.ID] || m.Subtype.ID != 1 || (m.MessageType != "comment" && m.MessageType != "email") {
					continue
				}
				k := strconv.Itoa(m.TicketID)
				if w, ok := want[k]; !ok || m.Date.Before(w) {
					want[k] = m.Date
				}
			}
			got := map[string]time.Time{}
			for fr, err := range OdooFirstResponses(ctx, r) {
				if err != nil {
					t.Fatal(err)
				}
				if _, dup := got[fr.Ticket]; dup {
					t.Errorf("ticket %s answered twice", fr.Ticket)
				}
				got[fr.Ticket] = fr.At
			}
			if at := got[strconv.Itoa(answered)]; !at.Equal(start.Add(3 * time.Hour)) {
				t.Errorf("answered ticket: first answer %v, want %v", at, start.Add(3*time.Hour))
			}
			if at, ok := got[strconv.Itoa(unanswered)]; ok {
				t.Errorf("unanswered ticket answered at %v", at)
			}
			if len(want) < 2*responsePage || len(got) != len(want) {
				t.Errorf("%d tickets answered, the threads say %d", len(got), len(want))
			}
			for k, w := range want {
				if !got[k].Equal(w) {
					t.Errorf("ticket %s: first answer %v, the thread says %v", k, got[k], w)
				}
			}
		})
	}
}

// TestDataverseFirstResponses: a case's first response is its First
// Response By KPI instance's succeededon; a resolve-by KPI or one that
// has not succeeded is none.
func TestDataverseFirstResponses(t *testing.T) {
	ref, err := refserver.New(refserver.Options{Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	hs := httptest.NewServer(ref)
	defer hs.Close()
	ctx := context.Background()
	c, err := dataverse.NewClient(hs.URL, dataverse.StaticToken("t"), nil)
	if err != nil {
		t.Fatal(err)
	}
	const acc = "0a0a0a0a-0000-4000-8000-0000000000aa"
	const slaID = "5a5a5a5a-0000-4000-8000-000000000001"
	const first, resolve = "5a5a5a5a-0000-4000-8000-0000000000f1", "5a5a5a5a-0000-4000-8000-0000000000f2"
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(ref.InsertRows(ctx, "account", 1, func(int) map[string]any { return map[string]any{"accountid": acc, "name": "Contoso"} }))
	must(ref.InsertRows(ctx, "sla", 1, func(int) map[string]any { return map[string]any{"slaid": slaID, "name": "Standard"} }))
	must(ref.InsertRows(ctx, "slaitem", 2, func(i int) map[string]any {
		return map[string]any{"slaitemid": []string{first, resolve}[i], "name": []string{"First response", "Resolve"}[i],
			"relatedfield": []string{"firstresponsebykpiid", "resolvebykpiid"}[i], "slaid": refserver.Ref{Table: "sla", ID: slaID}}
	}))
	caseID := func(i int) string { return fmt.Sprintf("c0c0c0c0-0000-4000-8000-%012d", i) }
	created := time.Date(2026, 2, 2, 9, 0, 0, 0, time.UTC)
	must(ref.InsertRows(ctx, "incident", 3, func(i int) map[string]any {
		return map[string]any{"incidentid": caseID(i), "title": "Case", "customerid": refserver.Ref{Table: "account", ID: acc},
			"overriddencreatedon": created.Format(time.RFC3339)}
	}))
	kpis := []map[string]any{
		{"item": first, "case": 0, "succeededon": created.Add(90 * time.Minute)}, // answered
		{"item": resolve, "case": 0, "succeededon": created.Add(9 * time.Hour)},  // resolved, not answered
		{"item": first, "case": 1}, // not yet answered
		{"item": resolve, "case": 2, "succeededon": created.Add(time.Hour)}, // only resolved
	}
	must(ref.InsertRows(ctx, "slakpiinstance", len(kpis), func(i int) map[string]any {
		k := kpis[i]
		row := map[string]any{"slakpiinstanceid": fmt.Sprintf("dadadada-0000-4000-8000-%012d", i), "name": "KPI",
			"msdyn_slaitemid": refserver.Ref{Table: "slaitem", ID: k["item"].(string)},
			"regarding":       refserver.Ref{Table: "incident", ID: caseID(k["case"].(int))}}
		if at, ok := k["succeededon"].(time.Time); ok {
			row["succeededon"] = at.Format(time.RFC3339)
		}
		return row
	}))
	var got []FirstResponse
	for fr, err := range DataverseFirstResponses(ctx, c) {
		must(err)
		got = append(got, fr)
	}
	if len(got) != 1 || got[0].Ticket != caseID(0) || !got[0].At.Equal(created.Add(90*time.Minute)) {
		t.Fatalf("first responses: %+v", got)
	}
}
