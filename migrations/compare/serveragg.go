package compare

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/dvsync/dvsync/mapping/canonical"
	"github.com/dvsync/dvsync/odoo"
	"github.com/dvsync/dvsync/odoo/helpdesk"
)

// ServerCounts are figures a server computed: figure ID → label → count,
// in the canonical labels, and SLA outcomes per policy.
type ServerCounts struct {
	Method string
	Counts map[string]map[string]float64
	SLA    map[string]map[string]int64
}

func (s *ServerCounts) add(fig, label string, n float64) {
	if label == "" {
		label = "(none)"
	}
	if s.Counts[fig] == nil {
		s.Counts[fig] = map[string]float64{}
	}
	s.Counts[fig][label] += n
}

// OdooServerCounts groups the tickets on the Odoo server (read_group on
// 16–18, formatted_read_group on 19): one call per figure, whatever the
// number of tickets. Groups are turned into canonical labels through the
// map file (a stage into its case status, a priority key into the case
// priority), so they line up with the Dataverse side.
//
// SLA outcomes are grouped by policy with two calls: status is a computed
// field Odoo cannot group by, so met and breached are spelled as domains
// over the stored fields, the way helpdesk.sla.status computes status
// (EE helpdesk_sla_status.py: reached on time, reached late, or not
// reached with the deadline passed at now).
func OdooServerCounts(ctx context.Context, r *helpdesk.Reader, md *canonical.Model, since, now time.Time) (*ServerCounts, error) {
	c := r.Client()
	sc := &ServerCounts{Method: MethodOdooGroup, Counts: map[string]map[string]float64{}, SLA: map[string]map[string]int64{}}
	domain := odoo.Domain{}
	if !since.IsZero() {
		domain = odoo.Cond("create_date", odoo.Ge, since.UTC())
	}
	cx := odoo.Context{}
	if md.Map().Tickets.MigrateArchived {
		cx = cx.WithArchived()
	}
	fields, err := r.Fields(ctx, r.Models.Ticket)
	if err != nil {
		return nil, err
	}
	stages, err := r.Stages(ctx)
	if err != nil {
		return nil, err
	}
	closed := map[int]bool{}
	for _, s := range stages {
		closed[s.ID] = s.Closed
	}
	group := func(by string) ([]odoo.Group, error) {
		q := odoo.GroupQuery{Domain: domain, Aggregates: []string{"__count"}, Context: cx}
		if by != "" {
			q.GroupBy = []string{by}
		}
		return c.ReadGroup(ctx, r.Models.Ticket, q)
	}
	type figure struct {
		id, by string
		label  func(odoo.Group) (string, error)
	}
	m2o := func(field string, name func(odoo.Many2One) string) func(odoo.Group) (string, error) {
		return func(g odoo.Group) (string, error) {
			v, err := odoo.Record(g).Many2One(field)
			return name(v), err
		}
	}
	figs := []figure{
		{"team", "team_id", m2o("team_id", func(v odoo.Many2One) string { return md.OdooQueueName(v.ID, v.Name) })},
		{"status", "stage_id", m2o("stage_id", func(v odoo.Many2One) string { return md.OdooStageStatus(v.Name, closed[v.ID]) })},
		{"priority", "priority", func(g odoo.Group) (string, error) {
			k, err := odoo.Record(g).String("priority")
			return md.OdooPriorityLabel(k), err
		}},
		{"month", "create_date:month", func(g odoo.Group) (string, error) { return monthLabel(g["create_date:month"], md.Rules().Location) }},
	}
	if slices.Contains(fields, "channel_id") {
		figs = append(figs, figure{"channel", "channel_id", m2o("channel_id", func(v odoo.Many2One) string { return md.OdooChannelLabel(v.Name) })})
	} else {
		// Enterprise has no channel: every ticket is "(none)", counted
		// by one ungrouped call.
		figs = append(figs, figure{"channel", "", func(odoo.Group) (string, error) { return "", nil }})
	}
	for _, f := range figs {
		groups, err := group(f.by)
		if err != nil {
			return nil, fmt.Errorf("odoo read_group by %s: %w", f.by, err)
		}
		for _, g := range groups {
			n, err := g.Count()
			if err != nil {
				return nil, err
			}
			label, err := f.label(g)
			if err != nil {
				return nil, fmt.Errorf("odoo read_group by %s: %w", f.by, err)
			}
			sc.add(f.id, label, float64(n))
		}
	}
	if r.Models.SLAStatus != "" {
		if err := odooSLACounts(ctx, r, sc, since, now); err != nil {
			return nil, err
		}
	}
	return sc, nil
}

func odooSLACounts(ctx context.Context, r *helpdesk.Reader, sc *ServerCounts, since, now time.Time) error {
	reached := odoo.Cond("reached_datetime", odoo.Ne, false)
	notReached := odoo.Cond("reached_datetime", odoo.Eq, false)
	for _, o := range []struct {
		status string
		domain odoo.Domain
	}{
		{SLAMet, odoo.And(reached, odoo.Cond("exceeded_hours", odoo.Le, 0))},
		{SLABreached, odoo.Or(odoo.And(reached, odoo.Cond("exceeded_hours", odoo.Gt, 0)),
			odoo.And(notReached, odoo.Cond("deadline", odoo.Ne, false), odoo.Cond("deadline", odoo.Lt, now.UTC())))},
	} {
		d := o.domain
		if !since.IsZero() {
			d = odoo.And(d, odoo.Cond("ticket_id.create_date", odoo.Ge, since.UTC()))
		}
		groups, err := r.Client().ReadGroup(ctx, r.Models.SLAStatus, odoo.GroupQuery{Domain: d, GroupBy: []string{"sla_id"}, Aggregates: []string{"__count"}})
		if err != nil {
			return fmt.Errorf("odoo read_group of SLA statuses: %w", err)
		}
		for _, g := range groups {
			sla, err := odoo.Record(g).Many2One("sla_id")
			if err != nil {
				return err
			}
			n, err := g.Count()
			if err != nil {
				return err
			}
			if sc.SLA[sla.Name] == nil {
				sc.SLA[sla.Name] = map[string]int64{}
			}
			sc.SLA[sla.Name][o.status] += int64(n)
		}
	}
	return nil
}

// monthLabel reads a month group key: "March 2026" on Odoo 16–18 (en_US
// babel 'MMMM yyyy'), ["2026-03-01", "March 2026"] on 19.
func monthLabel(raw json.RawMessage, loc *time.Location) (string, error) {
	var pair []any
	if json.Unmarshal(raw, &pair) == nil && len(pair) > 0 {
		if s, ok := pair[0].(string); ok && len(s) >= 7 {
			return s[:7], nil
		}
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		if string(raw) == "false" {
			return "", nil
		}
		return "", fmt.Errorf("month group %s", raw)
	}
	t, err := time.ParseInLocation("January 2006", s, loc)
	if err != nil {
		return s, nil
	}
	return t.Format("2006-01"), nil
}

// overlay puts one side's server-side counts in a figure in place of the
// streamed ones.
func overlay(fig *Figure, counts map[string]float64, odooSide bool, method string) {
	if counts == nil {
		return
	}
	seen := map[string]bool{}
	for i := range fig.Rows {
		r := &fig.Rows[i]
		v := counts[r.Label]
		seen[r.Label] = true
		if odooSide {
			r.Odoo = f64(v)
		} else {
			r.Dataverse = f64(v)
		}
	}
	var extra []string
	for l := range counts {
		if !seen[l] {
			extra = append(extra, l)
		}
	}
	slices.Sort(extra)
	for _, l := range extra {
		r := FigureRow{Label: l, Odoo: f64(0), Dataverse: f64(0)}
		if odooSide {
			r.Odoo = f64(counts[l])
		} else {
			r.Dataverse = f64(counts[l])
		}
		fig.Rows = append(fig.Rows, r)
	}
	if fig.ID == "month" {
		slices.SortFunc(fig.Rows, func(a, b FigureRow) int {
			switch {
			case a.Label < b.Label:
				return -1
			case a.Label > b.Label:
				return 1
			}
			return 0
		})
	}
	if odooSide {
		fig.OdooMethod = method
	} else {
		fig.DataverseMethod = method
	}
}
