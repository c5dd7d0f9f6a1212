package compare

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"sort"
	"time"
)

// How a figure was obtained.
const (
	MethodStreamed    = "computed from streamed records"
	MethodOdooGroup   = "server-side aggregate (Odoo read_group)"
	MethodDVAggregate = "server-side aggregate (Dataverse FetchXML)"
	MethodNone        = "not available"
)

// Figure is one side-by-side table or chart of the operations report.
type Figure struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	// Unit of the values ("tickets", "%", "hours").
	Unit string      `json:"unit"`
	Rows []FigureRow `json:"rows"`
	// OdooMethod and DataverseMethod say how each side's values were
	// obtained.
	OdooMethod      string `json:"odooMethod"`
	DataverseMethod string `json:"dataverseMethod"`
	// OdooDefinition and DataverseDefinition say what each side's values
	// measure, where the two systems keep different things.
	OdooDefinition      string `json:"odooDefinition,omitempty"`
	DataverseDefinition string `json:"dataverseDefinition,omitempty"`
	Note                string `json:"note,omitempty"`
}

// FigureRow is one label with each side's value; a nil value is "no data".
type FigureRow struct {
	Label     string   `json:"label"`
	Odoo      *float64 `json:"odoo"`
	Dataverse *float64 `json:"dataverse"`
}

// Ranked is a name with a count, for top lists.
type Ranked struct {
	Name  string `json:"name"`
	Count int64  `json:"count"`
}

// Operations is the operations-side-by-side part of the report.
type Operations struct {
	Figures               []Figure            `json:"figures"`
	TopCustomersOdoo      []Ranked            `json:"topCustomersOdoo"`
	TopCustomersDataverse []Ranked            `json:"topCustomersDataverse"`
	TopCustomersMethod    string              `json:"topCustomersMethod"`
	Entitlements          *EntitlementSummary `json:"entitlements,omitempty"`
}

// Figure returns the figure with an ID (nil when absent).
func (o *Operations) Figure(id string) *Figure {
	for i := range o.Figures {
		if o.Figures[i].ID == id {
			return &o.Figures[i]
		}
	}
	return nil
}

func f64(v float64) *float64 { return &v }

// groupCounts counts one spilled column per side and lines the labels up.
func (e *engine) groupCounts(ctx context.Context, id, title, col string, order func([]string)) (Figure, error) {
	fig := Figure{ID: id, Title: title, Unit: "tickets", OdooMethod: MethodStreamed, DataverseMethod: MethodStreamed}
	vals := map[string]*FigureRow{}
	var labels []string
	for _, t := range []string{"o", "d"} {
		rows, err := e.sp.db.QueryContext(ctx, fmt.Sprintf(`SELECT %s, count(*) FROM %s GROUP BY 1`, col, t))
		if err != nil {
			return fig, err
		}
		for rows.Next() {
			var label string
			var n int64
			if err := rows.Scan(&label, &n); err != nil {
				rows.Close()
				return fig, err
			}
			if label == "" {
				label = "(none)"
			}
			r, ok := vals[label]
			if !ok {
				r = &FigureRow{Label: label}
				vals[label] = r
				labels = append(labels, label)
			}
			if t == "o" {
				r.Odoo = f64(float64(n))
			} else {
				r.Dataverse = f64(float64(n))
			}
		}
		if err := rows.Close(); err != nil {
			return fig, err
		}
	}
	order(labels)
	for _, l := range labels {
		r := vals[l]
		if r.Odoo == nil {
			r.Odoo = f64(0)
		}
		if r.Dataverse == nil {
			r.Dataverse = f64(0)
		}
		fig.Rows = append(fig.Rows, *r)
	}
	return fig, nil
}

// byTotal orders labels by the sum of both sides, largest first.
func byTotal(fig *Figure) {
	sort.SliceStable(fig.Rows, func(i, j int) bool {
		return *fig.Rows[i].Odoo+*fig.Rows[i].Dataverse > *fig.Rows[j].Odoo+*fig.Rows[j].Dataverse
	})
}

func (e *engine) operations(ctx context.Context) (*Operations, error) {
	ops := &Operations{TopCustomersMethod: MethodStreamed}
	for _, g := range []struct{ id, title, col string }{
		{"team", "Volume by team (Odoo) / queue (Dataverse)", "team"},
		{"status", "Volume by status", "status"},
		{"priority", "Volume by priority", "priority"},
		{"channel", "Volume by channel", "channel"},
		{"month", "Tickets created per month", "month"},
	} {
		fig, err := e.groupCounts(ctx, g.id, g.title, g.col, sort.Strings)
		if err != nil {
			return nil, fmt.Errorf("operations %s: %w", g.id, err)
		}
		if sc := e.o.OdooServer; sc != nil {
			overlay(&fig, sc.Counts[g.id], true, sc.Method)
		}
		if sc := e.o.DataverseServer; sc != nil {
			overlay(&fig, sc.Counts[g.id], false, sc.Method)
			if sc.Counts[g.id] == nil {
				fig.Note = "Dataverse did not group this figure on the server (an aggregate over more than 50,000 cases is refused, and months are grouped in UTC only), so its values come from the streamed cases."
			}
		}
		if g.id != "month" {
			byTotal(&fig)
		}
		ops.Figures = append(ops.Figures, fig)
	}
	backlog, err := e.backlog(ctx, ops.Figure("month"))
	if err != nil {
		return nil, err
	}
	ops.Figures = append(ops.Figures, backlog)
	res, err := e.durations(ctx)
	if err != nil {
		return nil, err
	}
	ops.Figures = append(ops.Figures, res)
	first, err := e.firstResponse(ctx)
	if err != nil {
		return nil, fmt.Errorf("time to first response: %w", err)
	}
	ops.Figures = append(ops.Figures, first)
	if e.o.OdooSLA != nil || e.o.DataverseSLA != nil || e.o.OdooServer != nil || e.o.DataverseServer != nil {
		o, om, err := slaSide(e.o.OdooServer, e.o.OdooSLA)
		if err != nil {
			return nil, fmt.Errorf("reading Odoo SLA statuses: %w", err)
		}
		d, dm, err := slaSide(e.o.DataverseServer, e.o.DataverseSLA)
		if err != nil {
			return nil, fmt.Errorf("reading Dataverse SLA KPI instances: %w", err)
		}
		ops.Figures = append(ops.Figures, slaFigure(o, d, om, dm))
	}
	if e.o.Entitlements != nil {
		if ops.Entitlements, err = SummariseEntitlements(e.o.Entitlements, e.o.Now, MethodStreamed); err != nil {
			return nil, fmt.Errorf("reading Dataverse entitlements: %w", err)
		}
	}
	if ops.TopCustomersOdoo, err = e.top(ctx, "o"); err != nil {
		return nil, err
	}
	if ops.TopCustomersDataverse, err = e.top(ctx, "d"); err != nil {
		return nil, err
	}
	return ops, nil
}

// backlog counts the tickets open at the end of each month: created
// before it and not closed by then. A closed ticket with no known closing
// time counts as closed.
func (e *engine) backlog(ctx context.Context, months *Figure) (Figure, error) {
	fig := Figure{ID: "backlog", Title: "Open backlog at month end", Unit: "tickets", OdooMethod: MethodStreamed, DataverseMethod: MethodStreamed}
	var labels []string
	for _, r := range months.Rows {
		if r.Label != "(none)" {
			labels = append(labels, r.Label)
		}
	}
	if len(labels) > 24 {
		labels = labels[len(labels)-24:]
	}
	loc := e.md.Rules().Location
	for _, m := range labels {
		start, err := time.ParseInLocation("2006-01", m, loc)
		if err != nil {
			return fig, err
		}
		end := start.AddDate(0, 1, 0)
		if end.After(e.o.Now) {
			end = e.o.Now
		}
		row := FigureRow{Label: m}
		for _, t := range []string{"o", "d"} {
			var n int64
			err := e.sp.db.QueryRowContext(ctx, `SELECT count(*) FROM `+t+` WHERE created > 0 AND created < ?1
				AND (state = 'active' OR (closed > 0 AND closed >= ?1))`, end.Unix()).Scan(&n)
			if err != nil {
				return fig, err
			}
			if t == "o" {
				row.Odoo = f64(float64(n))
			} else {
				row.Dataverse = f64(float64(n))
			}
		}
		fig.Rows = append(fig.Rows, row)
	}
	return fig, nil
}

// durations: time to resolution, median and 90th percentile, exact (the
// store sorts; nothing is held in memory).
func (e *engine) durations(ctx context.Context) (Figure, error) {
	fig := Figure{ID: "durations", Title: "Time to resolution (hours, resolved tickets)", Unit: "hours", OdooMethod: MethodStreamed, DataverseMethod: MethodStreamed,
		OdooDefinition:      "calendar hours from the ticket's creation to its close_date (else its last stage change)",
		DataverseDefinition: "calendar hours from the case's createdon to actualend of its latest Case Resolution"}
	rows := []FigureRow{{Label: "median"}, {Label: "90th percentile"}, {Label: "resolved tickets"}}
	for _, t := range []string{"o", "d"} {
		var n int64
		// Resolved only: a cancelled case has no resolution (Dataverse writes
		// an incidentresolution only when a case is resolved).
		where := ` FROM ` + t + ` WHERE state = 'resolved' AND closed > 0 AND created > 0 AND closed >= created`
		if err := e.sp.db.QueryRowContext(ctx, `SELECT count(*)`+where).Scan(&n); err != nil {
			return fig, err
		}
		vals := [3]*float64{nil, nil, f64(float64(n))}
		for i, q := range []float64{0.5, 0.9} {
			if n == 0 {
				break
			}
			var secs int64
			off := int64(q*float64(n-1) + 0.5)
			if err := e.sp.db.QueryRowContext(ctx, `SELECT closed - created`+where+` ORDER BY 1 LIMIT 1 OFFSET ?`, off).Scan(&secs); err != nil {
				return fig, err
			}
			vals[i] = f64(float64(secs) / 3600)
		}
		for i := range rows {
			if t == "o" {
				rows[i].Odoo = vals[i]
			} else {
				rows[i].Dataverse = vals[i]
			}
		}
	}
	fig.Rows = rows
	return fig, nil
}

func (e *engine) top(ctx context.Context, t string) ([]Ranked, error) {
	rows, err := e.sp.db.QueryContext(ctx, `SELECT customer, count(*) FROM `+t+` WHERE customer <> '' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Ranked
	for rows.Next() {
		var r Ranked
		if err := rows.Scan(&r.Name, &r.Count); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// SLAOutcome is one ticket's outcome against one SLA policy.
type SLAOutcome struct {
	Policy string
	// Status is met, breached, in progress or cancelled.
	Status string
}

// SLA outcome names.
const (
	SLAMet        = "met"
	SLABreached   = "breached"
	SLAInProgress = "in progress"
	SLACancelled  = "cancelled"
)

// slaSide counts one side's SLA outcomes per policy (policies are few: a
// map is the right size here), from the server's groups when it grouped
// them, else from the streamed outcomes.
func slaSide(server *ServerCounts, seq iter.Seq2[SLAOutcome, error]) (map[string]map[string]int64, string, error) {
	if server != nil && server.SLA != nil {
		return server.SLA, server.Method, nil
	}
	out := map[string]map[string]int64{}
	if seq == nil {
		return out, MethodNone, nil
	}
	for s, err := range seq {
		if err != nil {
			return nil, "", err
		}
		if out[s.Policy] == nil {
			out[s.Policy] = map[string]int64{}
		}
		out[s.Policy][s.Status]++
	}
	return out, MethodStreamed, nil
}

// slaFigure is % met and % breached of the decided outcomes per policy.
func slaFigure(o, d map[string]map[string]int64, om, dm string) Figure {
	fig := Figure{ID: "sla", Title: "SLA compliance per policy (% met / % breached of decided)", Unit: "%", OdooMethod: om, DataverseMethod: dm}
	var policies []string
	for p := range o {
		policies = append(policies, p)
	}
	for p := range d {
		if _, ok := o[p]; !ok {
			policies = append(policies, p)
		}
	}
	slices.Sort(policies)
	pct := func(t map[string]int64, status string) *float64 {
		if t[SLAMet]+t[SLABreached] == 0 {
			return nil
		}
		return f64(100 * float64(t[status]) / float64(t[SLAMet]+t[SLABreached]))
	}
	for _, p := range policies {
		fig.Rows = append(fig.Rows, FigureRow{Label: p + " · met", Odoo: pct(o[p], SLAMet), Dataverse: pct(d[p], SLAMet)},
			FigureRow{Label: p + " · breached", Odoo: pct(o[p], SLABreached), Dataverse: pct(d[p], SLABreached)})
	}
	return fig
}
