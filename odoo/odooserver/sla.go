package odooserver

import (
	"slices"
	"time"
	_ "time/tzdata" // calendars name IANA zones; do not depend on the host's zoneinfo

	"github.com/dvsync/dvsync/odoo/internal/workcal"
)

// Enterprise SLA rules (research/odoo.md §2, helpdesk.sla and
// helpdesk.sla.status), applied when tickets are created or written over
// RPC; seeded tickets bring their statuses with them.
//
//   - A policy applies when it is active, of the ticket's team, of the same
//     priority, shares a tag with the ticket (if it lists tags), covers the
//     ticket's partner or one of its parents (if it lists partners), lists
//     the ticket type (16/17, if it lists types), and its reach stage is not
//     before the ticket's stage at creation.
//   - Its deadline is create_date plus the policy's working hours on the
//     team's calendar (the company's when the team has none).
//   - Reaching a stage marks every status whose stage sequence is lower or
//     equal as reached; going back to an earlier stage un-reaches them.
//   - Statuses of policies that no longer apply are dropped unless reached.
//
// Time spent in excluded stages is not added back (not modelled).

// slaInputs are the ticket fields whose change re-runs the matching.
var slaInputs = []string{"team_id", "priority", "tag_ids", "partner_id", "ticket_type_id"}

func (srv *Server) applySLA(m *modelDef, r, old *record) {
	s := srv.store
	slaM, slaT, err := s.model("helpdesk.sla")
	if err != nil {
		return
	}
	stM, stT, _ := s.model("helpdesk.sla.status")
	stageM, stageT, _ := s.model("helpdesk.stage")
	seq := func(stage int) int {
		if st := stageT.byID[stage]; st != nil {
			n, _ := st.get(stageM, "sequence").(int)
			return n
		}
		return 0
	}
	now := s.now().UTC()
	statusIDs := slices.Clone(s.inverse["helpdesk.sla.status.ticket_id"][r.id])
	stage, _ := r.get(m, "stage_id").(int)

	rematch := old == nil
	for _, f := range slaInputs {
		if old != nil && m.has(f) && !equalStored(old.get(m, f), r.get(m, f)) {
			rematch = true
		}
	}
	if rematch {
		matched := srv.matchingSLAs(m, r, slaM, slaT, seq)
		have := map[int]*record{}
		for _, id := range statusIDs {
			st := stT.byID[id]
			sla, _ := st.get(stM, "sla_id").(int)
			if !slices.Contains(matched, sla) && isNull(st.get(stM, "reached_datetime")) {
				srv.unlinkRecord(stM, stT, st)
				continue
			}
			have[sla] = st
		}
		created, _ := ParseDatetime(r.get(m, "create_date").(string))
		cal := srv.calendarFor(r.get(m, "team_id"))
		for _, slaID := range matched {
			if have[slaID] != nil {
				continue
			}
			sla := slaT.byID[slaID]
			hours, _ := sla.get(slaM, "time").(float64)
			deadline := cal.Deadline(created, hours).Truncate(time.Second)
			vals := map[string]any{"ticket_id": r.id, "sla_id": slaID, "sla_stage_id": sla.get(slaM, "stage_id"),
				"deadline": deadline.Format(odooDatetime)}
			if _, err := srv.insert(stM, stT, vals, 0); err != nil {
				srv.log.Error("odooserver: creating an SLA status", "ticket", r.id, "sla", slaID, "error", err)
			}
		}
		statusIDs = slices.Clone(s.inverse["helpdesk.sla.status.ticket_id"][r.id])
	}

	// Reach (or un-reach) by stage.
	cal := srv.calendarFor(r.get(m, "team_id"))
	var slaIDs []int
	var earliest string
	reached, late := false, false
	for _, id := range statusIDs {
		st := stT.byID[id]
		target, _ := st.get(stM, "sla_stage_id").(int)
		deadline, _ := st.get(stM, "deadline").(string)
		reachedAt, _ := st.get(stM, "reached_datetime").(string)
		switch {
		case seq(stage) >= seq(target) && reachedAt == "":
			reachedAt = now.Format(odooDatetime)
			d, _ := ParseDatetime(deadline)
			_ = srv.writeRecord(stM, st, map[string]any{"reached_datetime": reachedAt, "exceeded_hours": cal.WorkingHours(d, now)})
		case seq(stage) < seq(target) && reachedAt != "":
			reachedAt = ""
			_ = srv.writeRecord(stM, st, map[string]any{"reached_datetime": false, "exceeded_hours": 0.0})
		}
		sla, _ := st.get(stM, "sla_id").(int)
		slaIDs = append(slaIDs, sla)
		switch {
		case reachedAt == "":
			if earliest == "" || deadline < earliest {
				earliest = deadline
			}
		case reachedAt <= deadline:
			reached = true
		default:
			late = true
		}
	}
	slices.Sort(slaIDs)
	set := func(field string, v any) { r.vals[m.fields[field].pos] = v }
	set("sla_ids", slices.Compact(slaIDs))
	if earliest == "" {
		set("sla_deadline", nil)
	} else {
		set("sla_deadline", earliest)
	}
	set("sla_reached", reached)
	set("sla_reached_late", late)
}

func (srv *Server) matchingSLAs(m *modelDef, r *record, slaM *modelDef, slaT *table, seq func(int) int) []int {
	s := srv.store
	team, _ := r.get(m, "team_id").(int)
	priority, _ := r.get(m, "priority").(string)
	tags, _ := r.get(m, "tag_ids").([]int)
	partner, _ := r.get(m, "partner_id").(int)
	ticketType, _ := r.get(m, "ticket_type_id").(int)
	stage, _ := r.get(m, "stage_id").(int)
	pm := s.models["res.partner"]
	var out []int
	for _, id := range slaT.ids {
		sla := slaT.byID[id]
		if active, _ := sla.get(slaM, "active").(bool); !active {
			continue
		}
		if t, _ := sla.get(slaM, "team_id").(int); t != team || team == 0 {
			continue
		}
		if p, _ := sla.get(slaM, "priority").(string); p != priority {
			continue
		}
		if want, _ := sla.get(slaM, "tag_ids").([]int); len(want) > 0 && !slices.ContainsFunc(want, func(t int) bool { return slices.Contains(tags, t) }) {
			continue
		}
		if want, _ := sla.get(slaM, "partner_ids").([]int); len(want) > 0 && (partner == 0 || !hierarchyMatch(s, pm, partner, want, true)) {
			continue
		}
		if want, _ := sla.get(slaM, "ticket_type_ids").([]int); len(want) > 0 && !slices.Contains(want, ticketType) {
			continue
		}
		if target, _ := sla.get(slaM, "stage_id").(int); seq(target) < seq(stage) {
			continue
		}
		out = append(out, id)
	}
	return out
}

// calendarFor builds the team's working-hour calendar, falling back to the
// company's default (resource_calendar_id on res.company 1).
func (srv *Server) calendarFor(teamVal any) *workcal.Calendar {
	s := srv.store
	team, _ := teamVal.(int)
	calID := 0
	if tm, tt, err := s.model("helpdesk.team"); err == nil {
		if t := tt.byID[team]; t != nil {
			calID, _ = t.get(tm, "resource_calendar_id").(int)
		}
	}
	if calID == 0 {
		cm := s.models["res.company"]
		if c := s.tables["res.company"].byID[1]; c != nil {
			calID, _ = c.get(cm, "resource_calendar_id").(int)
		}
	}
	calM, calT, _ := s.model("resource.calendar")
	cal := calT.byID[calID]
	if cal == nil {
		return nil // no calendar: the deadline is the creation date
	}
	loc := time.UTC
	if tz, _ := cal.get(calM, "tz").(string); tz != "" {
		if l, err := time.LoadLocation(tz); err == nil {
			loc = l
		}
	}
	hpd, _ := cal.get(calM, "hours_per_day").(float64)
	out := workcal.New(loc, hpd)
	am, at, _ := s.model("resource.calendar.attendance")
	for _, id := range s.inverse["resource.calendar.attendance.calendar_id"][calID] {
		a := at.byID[id]
		day, _ := a.get(am, "dayofweek").(string)
		from, _ := a.get(am, "hour_from").(float64)
		to, _ := a.get(am, "hour_to").(float64)
		out.Add(day, from, to)
	}
	return out
}

// slaStatus is helpdesk.sla.status.status, a computed field in Odoo:
// reached on time, failed (late, or unreached past the deadline), ongoing.
func slaStatus(deadline, reached string, now time.Time) string {
	switch {
	case reached != "" && (deadline == "" || reached <= deadline):
		return "reached"
	case reached != "":
		return "failed"
	case deadline != "" && deadline < now.UTC().Format(odooDatetime):
		return "failed"
	}
	return "ongoing"
}

// ParseDatetime reads Odoo's naive UTC datetime text.
func ParseDatetime(s string) (time.Time, error) {
	return time.ParseInLocation(odooDatetime, s, time.UTC)
}

func equalStored(a, b any) bool {
	x, okX := a.([]int)
	y, okY := b.([]int)
	if okX || okY {
		return slices.Equal(x, y)
	}
	return a == b
}
