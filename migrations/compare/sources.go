package compare

import (
	"context"
	"errors"
	"iter"
	"strconv"
	"time"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/mapping/canonical"
	"github.com/dvsync/dvsync/odoo"
	"github.com/dvsync/dvsync/odoo/helpdesk"
)

const formatted = "@OData.Community.Display.V1.FormattedValue"

// OdooTickets streams the helpdesk's tickets as canonical tickets;
// archived tickets are read when the map migrates them. A zero since
// reads every ticket.
func OdooTickets(ctx context.Context, r *helpdesk.Reader, md *canonical.Model, since time.Time) Source {
	q := helpdesk.Query{Archived: md.Map().Tickets.MigrateArchived}
	if !since.IsZero() {
		q.Domain = odoo.Cond("create_date", odoo.Ge, since.UTC())
	}
	return func(yield func(canonical.Ticket, error) bool) {
		for t, err := range r.Tickets(ctx, q) {
			if err != nil {
				yield(canonical.Ticket{}, err)
				return
			}
			if !yield(md.FromOdoo(t), nil) {
				return
			}
		}
	}
}

// OdooSLA streams Enterprise SLA statuses as outcomes; OCA has none, and
// reports that as an empty stream.
func OdooSLA(ctx context.Context, r *helpdesk.Reader) iter.Seq2[SLAOutcome, error] {
	return func(yield func(SLAOutcome, error) bool) {
		for s, err := range r.SLAStatuses(ctx, helpdesk.Query{}) {
			if errors.Is(err, helpdesk.ErrNotInstalled) {
				return
			}
			if err != nil {
				yield(SLAOutcome{}, err)
				return
			}
			st := map[string]string{"reached": SLAMet, "failed": SLABreached, "ongoing": SLAInProgress}[s.Status]
			if !yield(SLAOutcome{Policy: s.SLA.Name, Status: st}, nil) {
				return
			}
		}
	}
}

func since(col string, t time.Time) dataverse.Filter {
	if t.IsZero() {
		return dataverse.Filter{}
	}
	return dataverse.Ge(col, t.UTC())
}

// DataverseCases streams the environment's cases as canonical tickets.
func DataverseCases(ctx context.Context, c *dataverse.Client, md *canonical.Model, from time.Time) Source {
	q := dataverse.Query{Select: canonical.DataverseColumns, Filter: since("createdon", from), Annotations: "OData.Community.Display.V1.FormattedValue"}
	return func(yield func(canonical.Ticket, error) bool) {
		for rec, err := range c.Records(ctx, "incident", q) {
			if err != nil {
				yield(canonical.Ticket{}, err)
				return
			}
			t, err := md.FromDataverse(rec)
			if !yield(t, err) || err != nil {
				return
			}
		}
	}
}

// DataverseQueues streams (case, queue name) from the queue items.
func DataverseQueues(ctx context.Context, c *dataverse.Client) iter.Seq2[[2]string, error] {
	q := dataverse.Query{Select: []string{"_objectid_value", "_queueid_value"}, Annotations: "OData.Community.Display.V1.FormattedValue"}
	return func(yield func([2]string, error) bool) {
		for rec, err := range c.Records(ctx, "queueitem", q) {
			if err != nil {
				yield([2]string{}, err)
				return
			}
			if !yield([2]string{rec.String("_objectid_value"), rec.String("_queueid_value" + formatted)}, nil) {
				return
			}
		}
	}
}

// DataverseClosings streams when cases were resolved (incidentresolution
// actualend): a case keeps no resolution time of its own.
func DataverseClosings(ctx context.Context, c *dataverse.Client) iter.Seq2[Closing, error] {
	q := dataverse.Query{Select: []string{"_incidentid_value", "actualend"}}
	return func(yield func(Closing, error) bool) {
		for rec, err := range c.Records(ctx, "incidentresolution", q) {
			if err != nil {
				yield(Closing{}, err)
				return
			}
			at, _ := time.Parse(time.RFC3339, rec.String("actualend"))
			if at.IsZero() {
				continue
			}
			if !yield(Closing{Incident: rec.String("_incidentid_value"), At: at}, nil) {
				return
			}
		}
	}
}

// DataverseSLA streams SLA KPI instances as outcomes, named by their SLA
// item (the migration names SLA items after the Odoo policies).
func DataverseSLA(ctx context.Context, c *dataverse.Client) iter.Seq2[SLAOutcome, error] {
	q := dataverse.Query{Select: []string{"name", "status", "_msdyn_slaitemid_value"}, Annotations: "OData.Community.Display.V1.FormattedValue"}
	return func(yield func(SLAOutcome, error) bool) {
		for rec, err := range c.Records(ctx, "slakpiinstance", q) {
			if err != nil {
				yield(SLAOutcome{}, err)
				return
			}
			policy := rec.String("_msdyn_slaitemid_value" + formatted)
			if policy == "" {
				policy = rec.String("name")
			}
			st := kpiStatus[rec.String("status")]
			if !yield(SLAOutcome{Policy: policy, Status: st}, nil) {
				return
			}
		}
	}
}

// DataverseEntitlements streams entitlements (statecode 1 is Active).
func DataverseEntitlements(ctx context.Context, c *dataverse.Client) iter.Seq2[Entitlement, error] {
	q := dataverse.Query{Select: []string{"name", "totalterms", "remainingterms", "enddate", "statecode", "_customerid_value"},
		Annotations: "OData.Community.Display.V1.FormattedValue"}
	return func(yield func(Entitlement, error) bool) {
		for rec, err := range c.Records(ctx, "entitlement", q) {
			if err != nil {
				yield(Entitlement{}, err)
				return
			}
			total, _ := strconv.ParseFloat(rec.String("totalterms"), 64)
			rem, _ := strconv.ParseFloat(rec.String("remainingterms"), 64)
			end, _ := time.Parse(time.RFC3339, rec.String("enddate"))
			en := Entitlement{Name: rec.String("name"), Customer: rec.String("_customerid_value" + formatted), Total: total, Remaining: rem,
				End: end, Active: rec.String("statecode") == "1"}
			if !yield(en, nil) {
				return
			}
		}
	}
}
