package refserver

// SLAs: when a case gets an SLA, each SLA item whose "Applicable When"
// condition holds starts an SLA KPI instance regarding the case, whose
// warning and failure times count from the SLA's "applicable from" column
// in the business hours of its calendar; the instance moves through In
// Progress, Nearing Noncompliance and Noncompliant with the clock, pauses
// while the case is On Hold, succeeds when its success criteria hold and
// is canceled with the case. Sources: "Define service level agreements"
// (learn.microsoft.com/dynamics365/customer-service/administer/define-service-level-agreements,
// [SLA]), "Apply SLAs" (…/administer/apply-slas), "Manage changes to customer
// service and holiday schedules" (…/administer/change-schedules, [SCHED])
// and the sla, slaitem, msdyn_slakpi, slakpiinstance and incident table
// references.

import (
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse/refserver/csrules"
	"github.com/dvsync/dvsync/dataverse/schema"
)

// kpiStatusColumn is the case column that mirrors the KPI linked from a
// case lookup ([CE] incident.md: firstresponsebykpiid/resolvebykpiid and
// firstresponseslastatus/resolvebyslastatus).
var kpiStatusColumn = map[string]string{
	"firstresponsebykpiid": "firstresponseslastatus",
	"resolvebykpiid":       "resolvebyslastatus",
}

// kpiByColumn is the case column that carries the KPI's failure time.
var kpiByColumn = map[string]string{
	"firstresponsebykpiid": "responseby",
	"resolvebykpiid":       "resolveby",
}

type slaItem struct {
	rec        row
	id         string
	related    string
	applicable *csrules.Condition
	success    *csrules.Condition
	pausable   bool
	calendarID string
}

type slaDef struct {
	rec      row
	items    []slaItem
	calendar *csrules.Calendar
	from     string // applicablefrom column
	pausable bool
}

// csLoadSLA reads an active SLA with its items in sequence order; nil when
// the SLA is missing or not active ([SLA]: only an active SLA applies).
func (s *Server) csLoadSLA(tx *writeTx, id string) (*slaDef, error) {
	st, it := s.table("sla"), s.table("slaitem")
	if id == "" || st == nil || it == nil {
		return nil, nil
	}
	if d, ok := s.cs().cachedSLA(tx, id); ok {
		return d, nil
	}
	d, err := s.loadSLA(tx, id)
	if err == nil {
		s.cs().storeSLA(tx, id, d)
	}
	return d, err
}

func (s *Server) loadSLA(tx *writeTx, id string) (*slaDef, error) {
	st, it := s.table("sla"), s.table("slaitem")
	rec, err := tx.get(st, id)
	if err != nil || rec == nil || intOf(rec["statecode"]) != 1 {
		return nil, err
	}
	d := &slaDef{rec: rec, from: strings.ToLower(asString(rec["applicablefrom"])), pausable: boolOf(rec["allowpauseresume"], false)}
	if rec["applicablefrom"] == nil || d.from == "" {
		d.from = "createdon"
	}
	if d.calendar, err = s.csCalendar(tx, idOf(rec["businesshoursid"])); err != nil {
		return nil, err
	}
	rows, err := s.store.selectRows(tx.ctx, tx.q, it, nil, `"slaid" = ?`, []any{id}, `"sequencenumber", `+quoteIdent(it.PrimaryID), 0)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		app, err := csrules.ParseCondition(asString(nilEmpty(r["applicablewhenxml"])))
		if err != nil {
			return nil, refuse("SLA item '%s' has an unreadable Applicable When condition: %v", asString(r["name"]), err)
		}
		suc, err := csrules.ParseCondition(asString(nilEmpty(r["successconditionsxml"])))
		if err != nil {
			return nil, refuse("SLA item '%s' has an unreadable success condition: %v", asString(r["name"]), err)
		}
		d.items = append(d.items, slaItem{rec: r, id: asString(r["slaitemid"]), related: strings.ToLower(asString(nilEmpty(r["relatedfield"]))),
			applicable: app, success: suc, pausable: boolOf(r["allowpauseresume"], true), calendarID: idOf(r["businesshoursid"])})
	}
	return d, nil
}

func nilEmpty(v any) any {
	if v == nil {
		return ""
	}
	return v
}

// csCalendar builds the business hours of a customer service schedule:
// the weekly rules of the calendar, each day's working time from the
// inner calendar's Available rules (timecode 0; other time codes are
// breaks), and the holidays of its holiday schedule
// (calendar.holidayschedulecalendarid). [SCHED]: "The time calculation
// for SLA KPIs works according to the Warning and Failure time, which are
// based on the customer service and holiday schedules".
//
// Decision: a weekly rule without an inner calendar gives its own offset
// and duration as the working time; a calendar with no weekly rule counts
// around the clock; rule time zones use calendarrule.timezonecode.
func (s *Server) csCalendar(tx *writeTx, id string) (*csrules.Calendar, error) {
	ct, rt := s.table("calendar"), s.table("calendarrule")
	if id == "" || ct == nil || rt == nil {
		return nil, nil
	}
	cal, err := tx.get(ct, id)
	if err != nil || cal == nil {
		return nil, err
	}
	rules, err := s.store.selectRows(tx.ctx, tx.q, rt, nil, `"calendarid" = ?`, []any{id}, `"rank", `+quoteIdent(rt.PrimaryID), 0)
	if err != nil {
		return nil, err
	}
	out := &csrules.Calendar{Loc: time.UTC}
	weekly := false
	for _, r := range rules {
		days, ok := csrules.ParseWeeklyDays(asString(nilEmpty(r["pattern"])))
		if !ok {
			continue
		}
		weekly = true
		if r["timezonecode"] != nil {
			out.Loc = csrules.TimeZone(intOf(r["timezonecode"]))
		}
		spans := [][2]int{}
		if inner := idOf(r["innercalendarid"]); inner != "" {
			irs, err := s.store.selectRows(tx.ctx, tx.q, rt, nil, `"calendarid" = ?`, []any{inner}, `"offset"`, 0)
			if err != nil {
				return nil, err
			}
			for _, ir := range irs {
				if intOf(ir["timecode"]) != 0 {
					continue
				}
				off := int(intOf(ir["offset"]))
				spans = append(spans, [2]int{off, off + int(intOf(ir["duration"]))})
			}
		} else {
			off := int(intOf(r["offset"]))
			spans = append(spans, [2]int{off, off + int(intOf(r["duration"]))})
		}
		for _, d := range days {
			for _, sp := range spans {
				out.Windows = append(out.Windows, csrules.Window{Day: d, Start: sp[0], End: sp[1]})
			}
		}
	}
	if !weekly {
		return nil, nil
	}
	if hol := idOf(cal["holidayschedulecalendarid"]); hol != "" {
		hrs, err := s.store.selectRows(tx.ctx, tx.q, rt, nil, `"calendarid" = ?`, []any{hol}, "", 0)
		if err != nil {
			return nil, err
		}
		for _, h := range hrs {
			start := timeOf(h["starttime"])
			if start.IsZero() {
				continue
			}
			end := timeOf(h["endtime"])
			if d := intOf(h["duration"]); d > 0 {
				end = start.Add(time.Duration(d) * time.Minute)
			}
			if end.After(start) {
				out.Holidays = append(out.Holidays, csrules.Span{Start: start, End: end})
			}
		}
	}
	return out, nil
}

// csDefaultSLA is the organization's default SLA for cases: "If no SLA is
// set on the entitlement, the default SLA applies" ([SLA], "Apply SLAs").
func (s *Server) csDefaultSLA(tx *writeTx) (string, error) {
	t := s.table("sla")
	if t == nil {
		return "", nil
	}
	rows, err := s.store.selectRows(tx.ctx, tx.q, t, []string{t.PrimaryID, colVersion}, `"isdefault" = 1 AND "statecode" = 1 AND ("primaryentityotc" = 112 OR "primaryentityotc" IS NULL)`, nil, quoteIdent(t.PrimaryID), 1)
	if err != nil || len(rows) == 0 {
		return "", err
	}
	return asString(rows[0][t.PrimaryID]), nil
}

// csApplicableItem picks, for one case lookup, the first item in sequence
// order whose Applicable When condition holds ([SLA]: items are evaluated
// in order and the first that applies is used).
func (d *slaDef) applicableItem(related string, inc map[string]any) *slaItem {
	for i := range d.items {
		it := &d.items[i]
		if it.related == related && it.applicable.Holds(inc) {
			return it
		}
	}
	return nil
}

// relatedFields lists the case lookups the SLA's items fill.
func (d *slaDef) relatedFields() []string {
	var out []string
	seen := map[string]bool{}
	for _, it := range d.items {
		if it.related != "" && !seen[it.related] {
			seen[it.related] = true
			out = append(out, it.related)
		}
	}
	return out
}

// csStartKPI creates the SLA KPI instance of item for a case and returns
// its id and status. The warning and failure times are warnafter and
// failureafter minutes after the SLA's applicable-from value, counted in
// business hours ([SCHED]).
func (s *Server) csStartKPI(tx *writeTx, d *slaDef, it *slaItem, inc row, related string) (string, row, error) {
	kt := s.table("slakpiinstance")
	cal := d.calendar
	if it.calendarID != "" {
		c, err := s.csCalendar(tx, it.calendarID)
		if err != nil {
			return "", nil, err
		}
		cal = c
	}
	from := timeOf(inc[d.from])
	if from.IsZero() {
		from = tx.now
	}
	warn, err := cal.AddWorkingMinutes(from, int(intOf(it.rec["warnafter"])))
	if err != nil {
		return "", nil, refuse("SLA '%s': %v", asString(d.rec["name"]), err)
	}
	fail, err := cal.AddWorkingMinutes(from, int(intOf(it.rec["failureafter"])))
	if err != nil {
		return "", nil, refuse("SLA '%s': %v", asString(d.rec["name"]), err)
	}
	plainInc := plain(inc)
	status := csrules.TimedStatus(csrules.KPIInProgress, tx.now, warn, fail)
	v := row{
		"name": s.kpiName(tx, it), "regarding": lookupValue{ID: asString(inc["incidentid"]), Target: "incident"},
		"msdyn_slaitemid": lookupValue{ID: it.id, Target: "slaitem"},
		"warningtime":     fmtTime(warn), "failuretime": fmtTime(fail),
		"computedwarningtime": fmtTime(warn), "computedfailuretime": fmtTime(fail),
		"applicablefromvalue": fmtTime(from),
	}
	if lv, ok := inc["ownerid"].(lookupValue); ok && lv.Target == "systemuser" {
		v["ownerid"] = lv
	}
	switch {
	case it.success.Holds(plainInc) && !it.success.Empty():
		status = csrules.KPISucceeded
		v["succeededon"] = fmtTime(tx.now)
	case status != csrules.KPINoncompliant && s.kpiPaused(d, it, inc):
		status = csrules.KPIPaused
		v["pausedon"] = fmtTime(tx.now)
	}
	if status == csrules.KPINearing {
		v["warningtimereached"] = int64(1)
	}
	v["status"] = int64(status)
	id := uuid.NewString()
	if _, err := s.createRecord(tx, kt, &payload{values: v}, id); err != nil {
		return "", nil, err
	}
	if _, err := tx.q.ExecContext(tx.ctx, `INSERT INTO _cs_timers (id) VALUES (?)`, id); err != nil {
		return "", nil, err
	}
	return id, v, nil
}

// kpiName is the KPI's name (msdyn_slakpi.msdyn_name), or the item's.
func (s *Server) kpiName(tx *writeTx, it *slaItem) string {
	if kid := idOf(it.rec["msdyn_slakpiid"]); kid != "" {
		if t := s.table("msdyn_slakpi"); t != nil {
			if k, err := tx.get(t, kid); err == nil && k != nil && asString(nilEmpty(k["msdyn_name"])) != "" {
				return truncate(asString(k["msdyn_name"]), 100)
			}
		}
	}
	return truncate(asString(it.rec["name"]), 100)
}

// kpiPaused: [SLA] "Allow Pause and Resume": with it on, the SLA timer
// pauses while the case is in a pause status, On Hold by default.
//
// Decision: On Hold (statuscode 2) is the pause status; the SLA and the
// item must both allow pausing.
func (s *Server) kpiPaused(d *slaDef, it *slaItem, inc row) bool {
	return d.pausable && it.pausable && intOf(inc["statecode"]) == incidentActive && intOf(inc["statuscode"]) == 2
}

// csSLAOnCreate applies the case's SLA (its own, the entitlement's, or the
// default) to a new case.
func (s *Server) csSLAOnCreate(tx *writeTx, v row) error {
	if v["slaid"] == nil {
		id, err := s.csDefaultSLA(tx)
		if err != nil {
			return err
		}
		if id != "" {
			v["slaid"] = lookupValue{ID: id, Target: "sla"}
		}
	}
	d, err := s.csLoadSLA(tx, idOf(v["slaid"]))
	if err != nil || d == nil {
		return err
	}
	return s.csStartKPIs(tx, d, v, v)
}

// csStartKPIs starts the KPIs of d that a case has none for.
func (s *Server) csStartKPIs(tx *writeTx, d *slaDef, inc, changes row) error {
	pl := plain(inc)
	clientCols := map[string]bool{}
	for k := range changes {
		clientCols[k] = true
	}
	for _, rel := range d.relatedFields() {
		if idOf(inc[rel]) != "" {
			continue // the client linked its own instance (a migration copying history)
		}
		it := d.applicableItem(rel, pl)
		if it == nil {
			continue
		}
		id, kv, err := s.csStartKPI(tx, d, it, inc, rel)
		if err != nil {
			return err
		}
		changes[rel] = lookupValue{ID: id, Target: "slakpiinstance"}
		inc[rel] = changes[rel]
		mirrored := row{}
		s.mirrorKPI(mirrored, rel, kv)
		for col, val := range mirrored {
			// Decision: a value the client wrote itself in this request
			// (a deadline it already knows) is kept.
			if _, given := clientCols[col]; !given {
				changes[col] = val
			}
		}
	}
	return nil
}

// mirrorKPI copies a KPI's status and failure time to the case columns.
func (s *Server) mirrorKPI(changes row, rel string, kpi row) {
	if col, ok := kpiStatusColumn[rel]; ok {
		if cs, ok := csrules.CaseStatus(int(intOf(kpi["status"]))); ok {
			changes[col] = int64(cs)
		}
	}
	if col, ok := kpiByColumn[rel]; ok && kpi["failuretime"] != nil {
		changes[col] = kpi["failuretime"]
	}
}

// csSLAOnUpdate moves the case's KPIs for a change of the case: pause and
// resume with On Hold, success, cancellation with the case, and a new SLA
// when slaid changes.
func (s *Server) csSLAOnUpdate(tx *writeTx, old, changes, m row) error {
	kt := s.table("slakpiinstance")
	if kt == nil {
		return nil
	}
	slaChanged := false
	if raw, ok := changes["slaid"]; ok && !strings.EqualFold(idOf(raw), idOf(old["slaid"])) {
		slaChanged = true
	}
	d, err := s.csLoadSLA(tx, idOf(m["slaid"]))
	if err != nil {
		return err
	}
	pl := plain(m)
	oldPaused := intOf(old["statecode"]) == incidentActive && intOf(old["statuscode"]) == 2
	for _, rel := range []string{"firstresponsebykpiid", "resolvebykpiid"} {
		kid := idOf(m[rel])
		if kid == "" {
			continue
		}
		k, err := tx.get(kt, kid)
		if err != nil {
			return err
		}
		if k == nil {
			continue
		}
		kc := row{}
		status := int(intOf(k["status"]))
		var it *slaItem
		if d != nil {
			for i := range d.items {
				if strings.EqualFold(d.items[i].id, idOf(k["msdyn_slaitemid"])) {
					it = &d.items[i]
				}
			}
		}
		terminal := status == csrules.KPISucceeded || status == csrules.KPICanceled || status == csrules.KPINoncompliant
		switch {
		case terminal:
		case slaChanged || (d != nil && it == nil):
			// [SLA]: when the SLA of a case changes, the KPIs of the old SLA
			// stop. Decision: they are canceled and the new SLA's start.
			status = csrules.KPICanceled
			changes[rel] = nil
			m[rel] = nil
		case intOf(m["statecode"]) == incidentCancelled:
			// The case is cancelled: its running KPIs are canceled.
			status = csrules.KPICanceled
		default:
			cal := (*csrules.Calendar)(nil)
			if d != nil {
				cal = d.calendar
			}
			nowPaused := it != nil && s.kpiPaused(d, it, m)
			if status == csrules.KPIPaused && !nowPaused {
				// Resume: the failure and warning times move out by the
				// paused business time ([SCHED]: "The elapsed time is added
				// to the final failure time").
				pausedOn := timeOf(k["pausedon"])
				elapsed := cal.WorkingMinutes(pausedOn, tx.now)
				fail, err1 := cal.AddWorkingMinutes(timeOf(k["failuretime"]), elapsed)
				warn, err2 := cal.AddWorkingMinutes(timeOf(k["warningtime"]), elapsed)
				if err1 == nil && err2 == nil {
					kc["failuretime"], kc["warningtime"] = fmtTime(fail), fmtTime(warn)
					k["failuretime"], k["warningtime"] = kc["failuretime"], kc["warningtime"]
				}
				kc["elapsedtime"] = intOf(k["elapsedtime"]) + int64(elapsed)
				kc["lastresumetime"] = fmtTime(tx.now)
				kc["pausedon"] = nil
				status = csrules.KPIInProgress
			}
			// The clock first: a KPI whose failure time passed before the
			// sweep saw it is Noncompliant, and stays so when it succeeds late.
			if status != csrules.KPIPaused {
				status = csrules.TimedStatus(status, tx.now, timeOf(k["warningtime"]), timeOf(k["failuretime"]))
			}
			if status != csrules.KPINoncompliant && it != nil && !it.success.Empty() && it.success.Holds(pl) {
				status = csrules.KPISucceeded
				kc["succeededon"] = fmtTime(tx.now)
				break
			}
			if nowPaused && !oldPaused && status != csrules.KPINoncompliant {
				status = csrules.KPIPaused
				kc["pausedon"] = fmtTime(tx.now)
			}
		}
		if int64(status) != intOf(k["status"]) {
			kc["status"] = int64(status)
			if status == csrules.KPINearing {
				kc["warningtimereached"] = int64(1)
			}
		}
		if len(kc) > 0 {
			if err := s.csUpdate(tx, kt, kid, kc); err != nil {
				return err
			}
		}
		k = merged(k, kc)
		if changes[rel] != nil || m[rel] != nil {
			s.mirrorKPI(changes, rel, k)
		}
	}
	if d != nil && intOf(m["statecode"]) == incidentActive {
		return s.csStartKPIs(tx, d, m, changes)
	}
	return nil
}

// csSweepKPIs moves running KPI instances whose warning or failure time
// has passed, and the case columns that mirror them.
//
// Decision: only the instances the engine started run on its clock; an
// instance a client writes (a migration's history) keeps the status it was
// written with.
func (s *Server) csSweepKPIs(tx *writeTx) error {
	kt, it := s.table("slakpiinstance"), s.table("incident")
	if kt == nil || it == nil {
		return nil
	}
	now := tx.now.Format(dateTimeLayout)
	rows, err := s.store.selectRows(tx.ctx, tx.q, kt, []string{kt.PrimaryID, "status", "warningtime", "failuretime", "regarding", "regarding" + targetSufix},
		`"status" IN (0, 2) AND (("status" = 0 AND "warningtime" <= ?) OR "failuretime" <= ?) AND `+quoteIdent(kt.PrimaryID)+` IN (SELECT id FROM _cs_timers)`, []any{now, now}, "", 0)
	if err != nil {
		return err
	}
	for _, k := range rows {
		st := csrules.TimedStatus(int(intOf(k["status"])), tx.now, timeOf(k["warningtime"]), timeOf(k["failuretime"]))
		if int64(st) == intOf(k["status"]) {
			continue
		}
		kid := asString(k[kt.PrimaryID])
		kc := row{"status": int64(st), "warningtimereached": int64(1)}
		if err := s.csUpdate(tx, kt, kid, kc); err != nil {
			return err
		}
		inc := idOf(k["regarding"])
		if inc == "" {
			continue
		}
		cases, err := s.store.selectRows(tx.ctx, tx.q, it, []string{it.PrimaryID, "firstresponsebykpiid", "resolvebykpiid"},
			`"incidentid" = ?`, []any{inc}, "", 1)
		if err != nil || len(cases) == 0 {
			if err != nil {
				return err
			}
			continue
		}
		ic := row{}
		for rel, col := range kpiStatusColumn {
			if strings.EqualFold(idOf(cases[0][rel]), kid) {
				if cs, ok := csrules.CaseStatus(st); ok {
					ic[col] = int64(cs)
				}
			}
		}
		if len(ic) > 0 {
			if err := s.csUpdate(tx, it, inc, ic); err != nil {
				return err
			}
		}
	}
	return nil
}

// historical tells whether a record was imported as history: created
// with overriddencreatedon, the "Record Created On" column Dataverse keeps
// for data migration (overriddencreatedon: "Date and time that the record
// was migrated").
//
// Decision: the engine treats such records as imports of end states, the
// way the seed is loaded and the Configuration Migration Tool imports: a
// historical case takes no entitlement terms (the migrated balance already
// counts it) and starts no SLA KPIs (its outcomes travel with it), and a
// historical article gets no root article made for it. Cases created
// without it are live and get the whole engine.
func historical(r row) bool {
	s, _ := r["overriddencreatedon"].(string)
	return s != ""
}

// csIncidentCreate runs the engine for a new case.
func (s *Server) csIncidentCreate(tx *writeTx, t *schema.Table, v row) error {
	if tx.importing || historical(v) {
		return nil
	}
	if err := s.csEntitlementOnCreate(tx, v); err != nil {
		return err
	}
	return s.csSLAOnCreate(tx, v)
}

// csIncidentUpdate runs the engine for a change to a case: entitlement
// terms first (a refusal stops the change), then the SLA KPIs.
func (s *Server) csIncidentUpdate(tx *writeTx, t *schema.Table, old, changes row) error {
	if tx.importing || historical(old) {
		return nil
	}
	m := merged(old, changes)
	if err := s.csEntitlementOnUpdate(tx, old, changes, m); err != nil {
		return err
	}
	return s.csSLAOnUpdate(tx, old, changes, m)
}
