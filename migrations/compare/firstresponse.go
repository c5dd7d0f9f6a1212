package compare

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"time"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/odoo"
	"github.com/dvsync/dvsync/odoo/helpdesk"
)

// Time to first response is measured differently by the two systems, so
// each side states its definition beside the figure.
//
// Odoo counts a helpdesk answer the way its own helpdesk does
// (helpdesk/models/mail_message.py): a message on the ticket in a public
// subtype (Discussions, not an internal note) whose author is an internal
// user (a res.users with share = False). Odoo's first_response_hours field
// is not used: it counts working hours of the team's calendar from the
// oldest unanswered customer message, and the reference server, like an
// Odoo whose messages were imported, does not compute it.
//
// Dataverse keeps no first-response time on a case (firstresponsesent is
// a yes/no): the time is when the case's First Response By SLA KPI
// instance succeeded (slakpiinstance.succeededon; the KPI of an SLA item
// whose relatedfield is firstresponsebykpiid, which incident.
// firstresponsebykpiid links to). A case without that KPI, or whose KPI
// has not succeeded, has no first response; a KPI that went Noncompliant
// before the answer keeps no succeededon (dataverse/refserver/csrules
// RULES.md), so late answers are not counted on that side.
const (
	FirstResponseOdoo = "calendar hours from the ticket's creation to the first message on it by an internal user " +
		"(share = False) of type comment or e-mail in a public subtype (a reply, not an internal note): the messages Odoo's helpdesk " +
		"counts as answers; Odoo's own first_response_hours (working hours from the oldest unanswered customer message) is not used"
	FirstResponseDataverse = "calendar hours from the case's createdon to succeededon of its First Response By SLA KPI instance " +
		"(an SLA item whose relatedfield is firstresponsebykpiid); a case keeps no first-response time of its own (firstresponsesent " +
		"is yes/no), so cases without that KPI, or whose KPI has not succeeded (a late answer leaves it Noncompliant), are not counted"
)

// FirstResponse is when a ticket or case was first answered.
type FirstResponse struct {
	// Ticket is the Odoo ticket id or the Dataverse incidentid.
	Ticket string
	At     time.Time
}

// responsePage bounds the groups one read_group call returns (a variable
// so a test can page through a small helpdesk).
var responsePage = 10000

// OdooFirstResponses groups the helpdesk's answers per ticket on the
// server (read_group, min(date) by res_id), one call per 10,000 tickets
// answered, and yields each ticket's first answer.
func OdooFirstResponses(ctx context.Context, r *helpdesk.Reader) iter.Seq2[FirstResponse, error] {
	return func(yield func(FirstResponse, error) bool) {
		c := r.Client()
		users, err := c.SearchRead(ctx, r.Models.User, odoo.Query{Domain: odoo.Cond("share", odoo.Eq, false), Fields: []string{"partner_id"},
			Context: odoo.Context{}.WithArchived()})
		if err != nil {
			yield(FirstResponse{}, fmt.Errorf("reading the internal users: %w", err))
			return
		}
		var authors []any
		for _, u := range users {
			p, err := u.Many2One("partner_id")
			if err != nil {
				yield(FirstResponse{}, err)
				return
			}
			if p.Valid() {
				authors = append(authors, p.ID)
			}
		}
		if len(authors) == 0 {
			return
		}
		domain := odoo.And(odoo.Cond("model", odoo.Eq, r.Models.Ticket),
			odoo.Cond("message_type", odoo.In, []any{"comment", "email", "email_outgoing"}),
			odoo.Cond("subtype_id.internal", odoo.Eq, false),
			odoo.Cond("author_id", odoo.In, authors))
		for offset := 0; ; offset += responsePage {
			groups, err := c.ReadGroup(ctx, r.Models.Message, odoo.GroupQuery{Domain: domain, GroupBy: []string{"res_id"},
				Aggregates: []string{"date:min"}, Order: "res_id", Offset: offset, Limit: responsePage})
			if err != nil {
				yield(FirstResponse{}, fmt.Errorf("odoo read_group of answers: %w", err))
				return
			}
			for _, g := range groups {
				rec := odoo.Record(g)
				id, err := rec.Int("res_id")
				if err != nil {
					yield(FirstResponse{}, fmt.Errorf("odoo read_group of answers: %w", err))
					return
				}
				at, err := rec.Time("date:min")
				if err != nil {
					yield(FirstResponse{}, fmt.Errorf("odoo read_group of answers, ticket %d: %w", id, err))
					return
				}
				if !yield(FirstResponse{Ticket: strconv.Itoa(id), At: at}, nil) {
					return
				}
			}
			if len(groups) < responsePage {
				return
			}
		}
	}
}

// DataverseFirstResponses streams the succeeded First Response By KPI
// instances: their case and succeededon.
func DataverseFirstResponses(ctx context.Context, c *dataverse.Client) iter.Seq2[FirstResponse, error] {
	return func(yield func(FirstResponse, error) bool) {
		var items []any
		for rec, err := range c.Records(ctx, "slaitem", dataverse.Query{Select: []string{"slaitemid"},
			Filter: dataverse.Eq("relatedfield", "firstresponsebykpiid")}) {
			if err != nil {
				yield(FirstResponse{}, fmt.Errorf("reading the SLA items: %w", err))
				return
			}
			items = append(items, rec.String("slaitemid"))
		}
		for chunk := range slices.Chunk(items, 100) {
			q := dataverse.Query{Select: []string{"_regarding_value", "succeededon"},
				Filter: dataverse.NotNull("succeededon").And(dataverse.In("_msdyn_slaitemid_value", chunk...))}
			for rec, err := range c.Records(ctx, "slakpiinstance", q) {
				if err != nil {
					yield(FirstResponse{}, fmt.Errorf("reading the SLA KPI instances: %w", err))
					return
				}
				at, err := time.Parse(time.RFC3339, rec.String("succeededon"))
				if err != nil || rec.String("_regarding_value") == "" {
					continue
				}
				if !yield(FirstResponse{Ticket: rec.String("_regarding_value"), At: at}, nil) {
					return
				}
			}
		}
	}
}

// loadResponses brings one side's first responses into the spill store.
func (e *engine) loadResponses(ctx context.Context, side string, seq iter.Seq2[FirstResponse, error]) error {
	if seq == nil {
		return nil
	}
	in := e.sp.inserter(ctx, `INSERT INTO response (side, ticket, at) VALUES (?, ?, ?)`)
	for r, err := range seq {
		if err != nil {
			in.abort()
			if errors.Is(err, helpdesk.ErrNotInstalled) {
				return nil
			}
			return err
		}
		if err := in.add(side, lowerKey(r.Ticket), unix(r.At)); err != nil {
			in.abort()
			return err
		}
	}
	return in.flush()
}

// firstResponse is time to first response, median and 90th percentile,
// exact (the store sorts), per side with its definition. A ticket
// counts once, with its earliest answer at or after its creation.
func (e *engine) firstResponse(ctx context.Context) (Figure, error) {
	fig := Figure{ID: "firstresponse", Title: "Time to first response (hours, answered tickets)", Unit: "hours",
		OdooMethod: e.o.OdooResponsesMethod, DataverseMethod: e.o.DataverseResponsesMethod,
		OdooDefinition: FirstResponseOdoo, DataverseDefinition: FirstResponseDataverse}
	if e.o.OdooResponses == nil {
		fig.OdooMethod = MethodNone
	} else if fig.OdooMethod == "" {
		fig.OdooMethod = MethodStreamed
	}
	if e.o.DataverseResponses == nil {
		fig.DataverseMethod = MethodNone
	} else if fig.DataverseMethod == "" {
		fig.DataverseMethod = MethodStreamed
	}
	rows := []FigureRow{{Label: "median"}, {Label: "90th percentile"}, {Label: "answered tickets"}}
	for _, side := range []struct {
		t, key string
		has    bool
	}{{"o", "src", e.o.OdooResponses != nil}, {"d", "idk", e.o.DataverseResponses != nil}} {
		if !side.has {
			continue
		}
		// One row per answered ticket: its first answer after creation.
		from := ` FROM (SELECT min(r.at) - t.created AS secs FROM ` + side.t + ` t JOIN response r ON r.side = '` + side.t +
			`' AND r.ticket = t.` + side.key + ` WHERE t.created > 0 AND r.at >= t.created GROUP BY t.` + side.key + `)`
		var n int64
		if err := e.sp.db.QueryRowContext(ctx, `SELECT count(*)`+from).Scan(&n); err != nil {
			return fig, err
		}
		vals := [3]*float64{nil, nil, f64(float64(n))}
		for i, q := range []float64{0.5, 0.9} {
			if n == 0 {
				break
			}
			var secs int64
			off := int64(q*float64(n-1) + 0.5)
			if err := e.sp.db.QueryRowContext(ctx, `SELECT secs`+from+` ORDER BY 1 LIMIT 1 OFFSET ?`, off).Scan(&secs); err != nil {
				return fig, err
			}
			vals[i] = f64(float64(secs) / 3600)
		}
		for i := range rows {
			if side.t == "o" {
				rows[i].Odoo = vals[i]
			} else {
				rows[i].Dataverse = vals[i]
			}
		}
	}
	fig.Rows = rows
	return fig, nil
}
