package refserver

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dvsync/dvsync/dataverse/batchwire"
)

// friday1645 is Friday 9 January 2026, 16:45 UTC.
var friday1645 = time.Date(2026, 1, 9, 16, 45, 0, 0, time.UTC)

type csEnv struct {
	*testEnv
	clock   *Clock
	account string
}

func newCSEnv(t *testing.T) *csEnv {
	t.Helper()
	clock := NewClock(friday1645, false)
	e := newTestEnv(t, Options{Now: clock.Now})
	acc := e.createID("accounts", map[string]any{"name": "Contoso"})
	return &csEnv{testEnv: e, clock: clock, account: acc}
}

func (e *csEnv) get(path string) map[string]any {
	e.t.Helper()
	return mustStatus(e.t, e.do("GET", path, nil), http.StatusOK).json(e.t)
}

// entitlement creates and activates an entitlement for the env's account.
func (e *csEnv) entitlement(name string, extra map[string]any, activate bool) string {
	e.t.Helper()
	body := map[string]any{"name": name, "customerid_account@odata.bind": "/accounts(" + e.account + ")",
		"startdate": "2026-01-01T00:00:00Z", "enddate": "2026-12-31T00:00:00Z",
		"allocationtypecode": 0, "decreaseremainingon": 1, "totalterms": 2, "restrictcasecreation": true}
	for k, v := range extra {
		body[k] = v
	}
	id := e.createID("entitlements", body)
	if activate {
		mustStatus(e.t, e.do("PATCH", "entitlements("+id+")", map[string]any{"statecode": 1}), http.StatusNoContent)
	}
	return id
}

func (e *csEnv) newCase(title string, extra map[string]any) response {
	e.t.Helper()
	body := map[string]any{"title": title, "customerid_account@odata.bind": "/accounts(" + e.account + ")"}
	for k, v := range extra {
		body[k] = v
	}
	return e.do("POST", "incidents", body)
}

func (e *csEnv) remaining(id string) float64 {
	e.t.Helper()
	return e.get("entitlements(" + id + ")?$select=remainingterms")["remainingterms"].(float64)
}

func wantRefusal(t *testing.T, r response, fragment string) {
	t.Helper()
	if r.status != http.StatusBadRequest {
		t.Fatalf("status %d, want 400: %s", r.status, r.body)
	}
	code, msg := r.errorPayload(t)
	if code != codeBusinessRule || !strings.Contains(msg, fragment) {
		t.Fatalf("error %s %q, want %s containing %q", code, msg, codeBusinessRule, fragment)
	}
}

func TestCSEntitlementRestrictionRefusesThirdCase(t *testing.T) {
	e := newCSEnv(t)
	ent := e.entitlement("Two cases", nil, true)
	if got := e.get("entitlements(" + ent + ")?$select=statecode,statuscode,remainingterms"); got["statecode"] != 1.0 || got["statuscode"] != 1.0 || got["remainingterms"] != 2.0 {
		t.Fatalf("activated entitlement: %v", got)
	}
	for i := 1; i <= 2; i++ {
		mustStatus(t, e.newCase(fmt.Sprint("case ", i), map[string]any{"entitlementid@odata.bind": "/entitlements(" + ent + ")"}), http.StatusNoContent)
		if got := e.remaining(ent); got != float64(2-i) {
			t.Fatalf("after case %d remaining = %v", i, got)
		}
	}
	wantRefusal(t, e.newCase("case 3", map[string]any{"entitlementid@odata.bind": "/entitlements(" + ent + ")"}), "remaining terms are used up")
	if got := e.remaining(ent); got != 0 {
		t.Fatalf("refused case changed the balance: %v", got)
	}
	// Without naming the entitlement the case matches it, and is refused too.
	wantRefusal(t, e.newCase("case 4", nil), "remaining terms are used up")
	if n := len(mustStatus(t, e.do("GET", "incidents?$select=title", nil), 200).values(t)); n != 2 {
		t.Fatalf("%d cases stored, want 2", n)
	}
}

func TestCSEntitlementUnrestrictedGoesNegativeAndIsAudited(t *testing.T) {
	e := newCSEnv(t)
	ent := e.entitlement("Loose", map[string]any{"totalterms": 1, "restrictcasecreation": false}, true)
	mustStatus(t, e.newCase("a", nil), http.StatusNoContent)
	id := e.createID("incidents", map[string]any{"title": "b", "customerid_account@odata.bind": "/accounts(" + e.account + ")"})
	if got := e.remaining(ent); got != -1 {
		t.Fatalf("remaining = %v, want -1", got)
	}
	notes := mustStatus(t, e.do("GET", "annotations?$select=subject&$filter=_objectid_value eq "+id, nil), 200).values(t)
	if len(notes) != 1 || notes[0]["subject"] != "Entitlement terms exceeded" {
		t.Fatalf("audit notes = %v", notes)
	}
	// "Do not decrement entitlement terms": no consumption, and a note.
	id2 := e.createID("incidents", map[string]any{"title": "c", "decremententitlementterm": false, "customerid_account@odata.bind": "/accounts(" + e.account + ")"})
	if got := e.remaining(ent); got != -1 {
		t.Fatalf("remaining = %v after a non-decrementing case", got)
	}
	notes = mustStatus(t, e.do("GET", "annotations?$select=subject&$filter=_objectid_value eq "+id2, nil), 200).values(t)
	if len(notes) != 1 || notes[0]["subject"] != "Entitlement terms not decremented" {
		t.Fatalf("audit notes = %v", notes)
	}
}

func TestCSEntitlementLifecycle(t *testing.T) {
	e := newCSEnv(t)
	// Start in the future: activation waits.
	ent := e.entitlement("Next month", map[string]any{"startdate": "2026-02-01T00:00:00Z"}, true)
	if got := e.get("entitlements(" + ent + ")?$select=statecode,statuscode"); got["statecode"] != 4.0 || got["statuscode"] != 1200.0 {
		t.Fatalf("future entitlement: %v", got)
	}
	// Editing the terms of an entitlement in force is refused.
	wantRefusal(t, e.do("PATCH", "entitlements("+ent+")", map[string]any{"totalterms": 5}), "Deactivate the entitlement")
	e.clock.Set(time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC))
	// On its start date it applies to a new case before any read sweeps it.
	waited := e.createID("incidents", map[string]any{"title": "first day", "customerid_account@odata.bind": "/accounts(" + e.account + ")"})
	if got := e.get("incidents(" + waited + ")?$select=_entitlementid_value")["_entitlementid_value"]; got != ent {
		t.Fatalf("case on the start date got entitlement %v", got)
	}
	mustStatus(t, e.do("PATCH", "incidents("+waited+")", map[string]any{"statecode": 2, "statuscode": 6}), http.StatusNoContent)
	if got := e.get("entitlements(" + ent + ")?$select=statecode,statuscode"); got["statecode"] != 1.0 || got["statuscode"] != 1.0 {
		t.Fatalf("on its start date: %v", got)
	}
	// Deactivate, edit, activate again.
	mustStatus(t, e.do("PATCH", "entitlements("+ent+")", map[string]any{"statecode": 0}), http.StatusNoContent)
	mustStatus(t, e.do("PATCH", "entitlements("+ent+")", map[string]any{"totalterms": 5}), http.StatusNoContent)
	if got := e.remaining(ent); got != 5 {
		t.Fatalf("remaining after editing total = %v", got)
	}
	mustStatus(t, e.do("PATCH", "entitlements("+ent+")", map[string]any{"statecode": 1}), http.StatusNoContent)
	// Past its end date it expires, and an expired one can't be reactivated.
	e.clock.Set(time.Date(2027, 1, 1, 0, 0, 1, 0, time.UTC))
	if got := e.get("entitlements(" + ent + ")?$select=statecode,statuscode"); got["statecode"] != 3.0 || got["statuscode"] != 3.0 {
		t.Fatalf("after its end date: %v", got)
	}
	r := e.do("PATCH", "entitlements("+ent+")", map[string]any{"statecode": 1})
	if code, _ := mustStatus(t, r, 400).errorPayload(t); code != codeInvalidStateChange {
		t.Fatalf("reactivating an expired entitlement: %s", r.body)
	}
	// Renew: a new Draft from today for the same length.
	ren := mustStatus(t, e.do("POST", "RenewEntitlement", map[string]any{"EntitlementId": ent, "Status": 0}), 200).json(t)
	nv := ren["Entitlement"].(map[string]any)
	if nv["statecode"] != 0.0 || nv["startdate"] != "2027-01-01T00:00:00Z" || nv["enddate"] != "2027-11-30T00:00:00Z" || nv["remainingterms"] != 5.0 {
		t.Fatalf("renewed: %v", nv)
	}
	if got := e.get("entitlements(" + ent + ")?$select=statecode"); got["statecode"] != 3.0 {
		t.Fatalf("the renewed entitlement must stay as is: %v", got)
	}
	// Cancelling a Draft is not a documented move.
	mustStatus(t, e.do("PATCH", "entitlements("+nv["entitlementid"].(string)+")", map[string]any{"statecode": 2}), 400)
	// An entitlement past its end date applies to no case, even before a
	// read has swept it to Expired.
	late := e.entitlement("Ends today", map[string]any{"startdate": "2027-01-01T00:00:00Z", "enddate": "2027-01-01T00:00:00Z"}, true)
	e.clock.Set(time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC))
	wantRefusal(t, e.newCase("too late", map[string]any{"entitlementid@odata.bind": "/entitlements(" + late + ")"}), "is Expired")
	// Only active entitlements apply.
	draft := e.entitlement("Draft one", nil, false)
	wantRefusal(t, e.newCase("x", map[string]any{"entitlementid@odata.bind": "/entitlements(" + draft + ")"}), "Only an active entitlement")
}

func TestCSEntitlementCancelReactivateGivesBackAndTakesAgain(t *testing.T) {
	e := newCSEnv(t)
	ent := e.entitlement("Creation", map[string]any{"totalterms": 3}, true)
	c := e.createID("incidents", map[string]any{"title": "a", "customerid_account@odata.bind": "/accounts(" + e.account + ")"})
	if e.remaining(ent) != 2 {
		t.Fatal("creation did not consume")
	}
	mustStatus(t, e.do("PATCH", "incidents("+c+")", map[string]any{"statecode": 2, "statuscode": 6}), http.StatusNoContent)
	if got := e.remaining(ent); got != 3 {
		t.Fatalf("cancel gave back to %v, want 3", got)
	}
	mustStatus(t, e.do("PATCH", "incidents("+c+")", map[string]any{"statecode": 0, "statuscode": 1}), http.StatusNoContent)
	if got := e.remaining(ent); got != 2 {
		t.Fatalf("reactivation took again: %v, want 2", got)
	}

	// Decrease on resolution, by hours: CloseIncident consumes the time
	// spent; reopening gives it back.
	hours := e.entitlement("Hours", map[string]any{"allocationtypecode": 1, "decreaseremainingon": 0, "totalterms": 10, "isdefault": true}, true)
	h := e.createID("incidents", map[string]any{"title": "h", "customerid_account@odata.bind": "/accounts(" + e.account + ")"})
	if got := e.get("incidents(" + h + ")?$select=_entitlementid_value")["_entitlementid_value"]; got != hours {
		t.Fatalf("default entitlement not applied: %v", got)
	}
	if got := e.remaining(hours); got != 10 {
		t.Fatalf("resolution-based entitlement consumed on creation: %v", got)
	}
	mustStatus(t, e.do("POST", "CloseIncident", map[string]any{"IncidentResolution": map[string]any{"subject": "done", "timespent": 90, "incidentid@odata.bind": "/incidents(" + h + ")"}, "Status": -1}), http.StatusNoContent)
	if got := e.remaining(hours); got != 8.5 {
		t.Fatalf("after resolving 90 minutes: %v, want 8.5", got)
	}
	mustStatus(t, e.do("PATCH", "incidents("+h+")", map[string]any{"statecode": 0, "statuscode": 1}), http.StatusNoContent)
	if got := e.remaining(hours); got != 10 {
		t.Fatalf("reopening gave back to %v, want 10", got)
	}
}

func TestCSEntitlementChannelTerms(t *testing.T) {
	e := newCSEnv(t)
	ent := e.entitlement("Channels", map[string]any{"totalterms": 5}, false)
	phone := e.createID("entitlementchannels", map[string]any{"name": "Phone", "channel": 1, "totalterms": 1, "entitlementid@odata.bind": "/entitlements(" + ent + ")"})
	mustStatus(t, e.do("PATCH", "entitlements("+ent+")", map[string]any{"statecode": 1}), http.StatusNoContent)
	mustStatus(t, e.newCase("by phone", map[string]any{"caseorigincode": 1}), http.StatusNoContent)
	if got := e.get("entitlementchannels(" + phone + ")?$select=remainingterms")["remainingterms"]; got != 0.0 {
		t.Fatalf("phone channel remaining = %v", got)
	}
	if e.remaining(ent) != 4 {
		t.Fatal("entitlement not consumed with its channel")
	}
	wantRefusal(t, e.newCase("by phone again", map[string]any{"caseorigincode": 1, "entitlementid@odata.bind": "/entitlements(" + ent + ")"}), "remaining terms are used up")
	// An email case matches no channel of this entitlement: no entitlement.
	id := e.createID("incidents", map[string]any{"title": "by email", "caseorigincode": 2, "customerid_account@odata.bind": "/accounts(" + e.account + ")"})
	if got := e.get("incidents(" + id + ")?$select=_entitlementid_value")["_entitlementid_value"]; got != nil {
		t.Fatalf("email case matched %v", got)
	}
}

func TestCSEntitlementMatchingMostSpecificThenOldest(t *testing.T) {
	e := newCSEnv(t)
	prod := e.createID("products", map[string]any{"name": "Widget", "productnumber": "W-1"})
	contact := e.createID("contacts", map[string]any{"lastname": "Allowed", "parentcustomerid_account@odata.bind": "/accounts(" + e.account + ")"})
	other := e.createID("contacts", map[string]any{"lastname": "Other", "parentcustomerid_account@odata.bind": "/accounts(" + e.account + ")"})
	older := e.entitlement("General older", map[string]any{"totalterms": 10, "startdate": "2025-06-01T00:00:00Z"}, true)
	_ = e.entitlement("General newer", map[string]any{"totalterms": 10}, true)
	specific := e.entitlement("Widget only", map[string]any{"totalterms": 10}, false)
	mustStatus(t, e.do("POST", "entitlements("+specific+")/entitlementproducts_association/$ref", map[string]any{"@odata.id": e.api + "products(" + prod + ")"}), http.StatusNoContent)
	mustStatus(t, e.do("PATCH", "entitlements("+specific+")", map[string]any{"statecode": 1}), http.StatusNoContent)
	restricted := e.entitlement("Named contact", map[string]any{"totalterms": 10}, false)
	mustStatus(t, e.do("POST", "entitlements("+restricted+")/entitlementcontacts_association/$ref", map[string]any{"@odata.id": e.api + "contacts(" + contact + ")"}), http.StatusNoContent)
	mustStatus(t, e.do("PATCH", "entitlements("+restricted+")", map[string]any{"statecode": 1}), http.StatusNoContent)

	entOf := func(extra map[string]any) any {
		t.Helper()
		id := e.createID("incidents", merge(map[string]any{"title": "m", "customerid_account@odata.bind": "/accounts(" + e.account + ")"}, extra))
		return e.get("incidents(" + id + ")?$select=_entitlementid_value")["_entitlementid_value"]
	}
	if got := entOf(map[string]any{"productid@odata.bind": "/products(" + prod + ")"}); got != specific {
		t.Fatalf("case for the widget got %v, want the widget entitlement", got)
	}
	if got := entOf(map[string]any{"primarycontactid@odata.bind": "/contacts(" + contact + ")"}); got != restricted {
		t.Fatalf("case of the named contact got %v", got)
	}
	if got := entOf(map[string]any{"primarycontactid@odata.bind": "/contacts(" + other + ")"}); got != older {
		t.Fatalf("case of another contact got %v, want the older general one", got)
	}
	wantRefusal(t, e.newCase("r", map[string]any{"primarycontactid@odata.bind": "/contacts(" + other + ")", "entitlementid@odata.bind": "/entitlements(" + restricted + ")"}), "contacts allowed")
	// Another customer's entitlement can't be applied.
	acc2 := e.createID("accounts", map[string]any{"name": "Fabrikam"})
	wantRefusal(t, e.do("POST", "incidents", map[string]any{"title": "x", "customerid_account@odata.bind": "/accounts(" + acc2 + ")", "entitlementid@odata.bind": "/entitlements(" + older + ")"}), "another customer")
}

func merge(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func TestCSRefusalRollsBackChangeSetAndBulk(t *testing.T) {
	e := newCSEnv(t)
	ent := e.entitlement("Two", nil, true)
	body := func(title string) map[string]any {
		return map[string]any{"title": title, "customerid_account@odata.bind": "/accounts(" + e.account + ")", "entitlementid@odata.bind": "/entitlements(" + ent + ")"}
	}
	res := e.batch([]batchwire.Part{{ChangeSet: []batchwire.Request{
		op("POST", "incidents", body("b1"), "1"), op("POST", "incidents", body("b2"), "2"), op("POST", "incidents", body("b3"), "3"),
	}}})
	if res.status != http.StatusBadRequest || len(res.parts) != 1 || res.parts[0].Response.ContentID != "3" {
		t.Fatalf("change set: status %d %s", res.status, res.raw)
	}
	if code, _ := partError(t, *res.parts[0].Response); code != codeBusinessRule {
		t.Fatalf("code %s", code)
	}
	if got := e.remaining(ent); got != 2 {
		t.Fatalf("rolled-back change set left remaining = %v", got)
	}
	targets := []map[string]any{}
	for _, n := range []string{"m1", "m2", "m3"} {
		targets = append(targets, merge(body(n), map[string]any{"@odata.type": "Microsoft.Dynamics.CRM.incident"}))
	}
	r := e.do("POST", "incidents/Microsoft.Dynamics.CRM.CreateMultiple", map[string]any{"Targets": targets})
	wantRefusal(t, r, "remaining terms are used up")
	if got := e.remaining(ent); got != 2 {
		t.Fatalf("rolled-back CreateMultiple left remaining = %v", got)
	}
	if n := len(mustStatus(t, e.do("GET", "incidents?$select=title", nil), 200).values(t)); n != 0 {
		t.Fatalf("%d cases stored after refusals", n)
	}
}

// slaFixture builds a Monday-Friday 09:00-17:00 UTC schedule (a weekly
// rule whose inner calendar holds the working time), an optional holiday,
// and an active SLA with a 60-minute resolve-by item (warning at 30) for
// high-priority cases and a first-response item.
func (e *csEnv) slaFixture(holiday string, calendar bool) string {
	e.t.Helper()
	sla := map[string]any{"name": "Gold", "applicablefrom": "createdon", "primaryentityotc": 112, "allowpauseresume": true, "slatype": 1}
	if calendar {
		cal := e.createID("calendars", map[string]any{"name": "Support hours", "type": 1})
		inner := e.createID("calendars", map[string]any{"name": "Support hours day", "type": -1})
		e.createID("calendarrules", map[string]any{"calendarid@odata.bind": "/calendars(" + cal + ")", "pattern": "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,TU,WE,TH,FR",
			"duration": 1440, "offset": 0, "innercalendarid@odata.bind": "/calendars(" + inner + ")"})
		e.createID("calendarrules", map[string]any{"calendarid@odata.bind": "/calendars(" + inner + ")", "offset": 540, "duration": 480, "timecode": 0})
		if holiday != "" {
			hol := e.createID("calendars", map[string]any{"name": "Holidays", "type": 2})
			e.createID("calendarrules", map[string]any{"calendarid@odata.bind": "/calendars(" + hol + ")", "name": "Holiday", "starttime": holiday, "duration": 1440})
			mustStatus(e.t, e.do("PATCH", "calendars("+cal+")", map[string]any{"holidayschedulecalendarid@odata.bind": "/calendars(" + hol + ")"}), http.StatusNoContent)
		}
		sla["businesshoursid@odata.bind"] = "/calendars(" + cal + ")"
	}
	id := e.createID("slas", sla)
	e.createID("slaitems", map[string]any{"name": "Resolve in 1h", "slaid@odata.bind": "/slas(" + id + ")", "relatedfield": "resolvebykpiid",
		"failureafter": 60, "warnafter": 30, "sequencenumber": 1, "allowpauseresume": true,
		"applicablewhenxml":    `<filter type="and"><condition attribute="prioritycode" operator="eq" value="1" /><condition attribute="casetypecode" operator="in"><value>2</value><value>3</value></condition></filter>`,
		"successconditionsxml": `<filter type="and"><condition attribute="statecode" operator="eq" value="1" /></filter>`})
	e.createID("slaitems", map[string]any{"name": "Respond in 8h", "slaid@odata.bind": "/slas(" + id + ")", "relatedfield": "firstresponsebykpiid",
		"failureafter": 480, "warnafter": 240, "sequencenumber": 2,
		"applicablewhenxml":    `<filter type="and"><condition attribute="caseorigincode" operator="eq" value="2" /></filter>`,
		"successconditionsxml": `<filter type="and"><condition attribute="firstresponsesent" operator="eq" value="1" /></filter>`})
	mustStatus(e.t, e.do("PATCH", "slas("+id+")", map[string]any{"statecode": 1, "statuscode": 2}), http.StatusNoContent)
	return id
}

func (e *csEnv) slaCase(sla string, extra map[string]any) (string, map[string]any) {
	e.t.Helper()
	id := e.createID("incidents", merge(map[string]any{"title": "Broken", "prioritycode": 1, "casetypecode": 2, "caseorigincode": 2,
		"customerid_account@odata.bind": "/accounts(" + e.account + ")", "slaid@odata.bind": "/slas(" + sla + ")"}, extra))
	return id, e.kpi(id, "resolvebykpiid")
}

func (e *csEnv) kpi(caseID, rel string) map[string]any {
	e.t.Helper()
	c := e.get("incidents(" + caseID + ")?$select=_" + rel + "_value")
	kid, _ := c["_"+rel+"_value"].(string)
	if kid == "" {
		e.t.Fatalf("case has no %s: %v", rel, c)
	}
	return e.get("slakpiinstances(" + kid + ")?$select=status,warningtime,failuretime,succeededon,pausedon,elapsedtime,_regarding_value")
}

func TestCSSLABusinessHoursFridayToMonday(t *testing.T) {
	e := newCSEnv(t)
	sla := e.slaFixture("", true)
	id, k := e.slaCase(sla, nil)
	if k["warningtime"] != "2026-01-12T09:15:00Z" || k["failuretime"] != "2026-01-12T09:45:00Z" || k["status"] != 0.0 || k["_regarding_value"] != id {
		t.Fatalf("KPI of a Friday 16:45 case: %v", k)
	}
	status := func() any { return e.get("incidents(" + id + ")?$select=resolvebyslastatus")["resolvebyslastatus"] }
	if s := status(); s != 1.0 {
		t.Fatalf("case resolvebyslastatus = %v, want 1 In Progress", s)
	}
	e.clock.Set(time.Date(2026, 1, 12, 9, 20, 0, 0, time.UTC))
	if k := e.kpi(id, "resolvebykpiid"); k["status"] != 2.0 || status() != 2.0 {
		t.Fatalf("after the warning time: KPI %v, case %v", k["status"], status())
	}
	e.clock.Set(time.Date(2026, 1, 12, 9, 45, 0, 0, time.UTC))
	if k := e.kpi(id, "resolvebykpiid"); k["status"] != 1.0 || status() != 4.0 {
		t.Fatalf("at the failure time: KPI %v, case %v", k["status"], status())
	}
	// A low-priority case gets no resolve-by KPI from this item.
	low := e.createID("incidents", map[string]any{"title": "low", "prioritycode": 3, "caseorigincode": 1, "customerid_account@odata.bind": "/accounts(" + e.account + ")", "slaid@odata.bind": "/slas(" + sla + ")"})
	if c := e.get("incidents(" + low + ")?$select=_resolvebykpiid_value,_firstresponsebykpiid_value"); c["_resolvebykpiid_value"] != nil || c["_firstresponsebykpiid_value"] != nil {
		t.Fatalf("conditions not honoured: %v", c)
	}
}

func TestCSSLAHolidayAnd24x7(t *testing.T) {
	e := newCSEnv(t)
	sla := e.slaFixture("2026-01-12T00:00:00Z", true)
	_, k := e.slaCase(sla, nil)
	if k["failuretime"] != "2026-01-13T09:45:00Z" {
		t.Fatalf("Monday is a holiday: failure %v, want Tuesday 09:45", k["failuretime"])
	}
	e2 := newCSEnv(t)
	sla2 := e2.slaFixture("", false)
	_, k2 := e2.slaCase(sla2, nil)
	if k2["failuretime"] != "2026-01-09T17:45:00Z" || k2["warningtime"] != "2026-01-09T17:15:00Z" {
		t.Fatalf("around the clock: %v", k2)
	}
}

func TestCSSLAPauseResumeSucceedCancel(t *testing.T) {
	e := newCSEnv(t)
	sla := e.slaFixture("", true)
	id, _ := e.slaCase(sla, nil)
	e.clock.Set(time.Date(2026, 1, 9, 16, 50, 0, 0, time.UTC))
	mustStatus(t, e.do("PATCH", "incidents("+id+")", map[string]any{"statuscode": 2}), http.StatusNoContent)
	if k := e.kpi(id, "resolvebykpiid"); k["status"] != 3.0 || k["pausedon"] != "2026-01-09T16:50:00Z" {
		t.Fatalf("On Hold: %v", k)
	}
	// While paused the clock passes the failure time without breaching.
	e.clock.Set(time.Date(2026, 1, 12, 10, 0, 0, 0, time.UTC))
	if k := e.kpi(id, "resolvebykpiid"); k["status"] != 3.0 {
		t.Fatalf("paused KPI moved: %v", k)
	}
	mustStatus(t, e.do("PATCH", "incidents("+id+")", map[string]any{"statuscode": 1}), http.StatusNoContent)
	// Paused 10 business minutes on Friday and 60 on Monday: 09:45 + 70.
	if k := e.kpi(id, "resolvebykpiid"); k["status"] != 0.0 || k["failuretime"] != "2026-01-12T10:55:00Z" || k["elapsedtime"] != 70.0 {
		t.Fatalf("resumed: %v", k)
	}
	// First response sent: the first-response KPI succeeds.
	e.clock.Set(time.Date(2026, 1, 12, 10, 5, 0, 0, time.UTC))
	mustStatus(t, e.do("PATCH", "incidents("+id+")", map[string]any{"firstresponsesent": true}), http.StatusNoContent)
	if k := e.kpi(id, "firstresponsebykpiid"); k["status"] != 4.0 || k["succeededon"] != "2026-01-12T10:05:00Z" {
		t.Fatalf("first response: %v", k)
	}
	if c := e.get("incidents(" + id + ")?$select=firstresponseslastatus"); c["firstresponseslastatus"] != 3.0 {
		t.Fatalf("case firstresponseslastatus: %v", c)
	}
	// Resolving through CloseIncident succeeds the resolve-by KPI.
	mustStatus(t, e.do("POST", "CloseIncident", map[string]any{"IncidentResolution": map[string]any{"subject": "fixed", "incidentid@odata.bind": "/incidents(" + id + ")"}, "Status": 5}), http.StatusNoContent)
	if k := e.kpi(id, "resolvebykpiid"); k["status"] != 4.0 || k["succeededon"] != "2026-01-12T10:05:00Z" {
		t.Fatalf("resolved: %v", k)
	}
	if c := e.get("incidents(" + id + ")?$select=resolvebyslastatus"); c["resolvebyslastatus"] != 3.0 {
		t.Fatalf("case resolvebyslastatus: %v", c)
	}
	// Cancelling a case cancels its running KPIs.
	other, _ := e.slaCase(sla, nil)
	mustStatus(t, e.do("PATCH", "incidents("+other+")", map[string]any{"statecode": 2, "statuscode": 6}), http.StatusNoContent)
	if k := e.kpi(other, "resolvebykpiid"); k["status"] != 5.0 {
		t.Fatalf("cancelled case KPI: %v", k)
	}
}

func TestCSEntitlementSLABecomesCaseSLA(t *testing.T) {
	e := newCSEnv(t)
	sla := e.slaFixture("", true)
	e.entitlement("With SLA", map[string]any{"slaid@odata.bind": "/slas(" + sla + ")", "totalterms": 5}, true)
	id := e.createID("incidents", map[string]any{"title": "t", "prioritycode": 1, "casetypecode": 3, "customerid_account@odata.bind": "/accounts(" + e.account + ")"})
	c := e.get("incidents(" + id + ")?$select=_slaid_value,_resolvebykpiid_value,resolveby")
	if c["_slaid_value"] != sla || c["_resolvebykpiid_value"] == nil || c["resolveby"] != "2026-01-12T09:45:00Z" {
		t.Fatalf("case: %v", c)
	}
}

func TestCSKnowledgeArticleLifecycle(t *testing.T) {
	e := newCSEnv(t)
	a := e.createID("knowledgearticles", map[string]any{"title": "Reset the router", "content": "<p>Hold reset.</p>"})
	art := e.get("knowledgearticles(" + a + ")?$select=_rootarticleid_value,islatestversion,articlepublicnumber,majorversionnumber,minorversionnumber,statecode")
	root, _ := art["_rootarticleid_value"].(string)
	if root == "" || art["islatestversion"] != true || art["majorversionnumber"] != 1.0 || art["statecode"] != 0.0 {
		t.Fatalf("new article: %v", art)
	}
	if r := e.get("knowledgearticles(" + root + ")?$select=isrootarticle,articlepublicnumber"); r["isrootarticle"] != true || r["articlepublicnumber"] != art["articlepublicnumber"] {
		t.Fatalf("root article: %v", r)
	}
	mustStatus(t, e.do("PATCH", "knowledgearticles("+a+")", map[string]any{"statecode": 3}), http.StatusNoContent)
	v2 := mustStatus(t, e.do("POST", "CreateKnowledgeArticleVersion", map[string]any{"Source": map[string]any{"@odata.type": "Microsoft.Dynamics.CRM.knowledgearticle", "knowledgearticleid": a}, "IsMajor": true}), 200).json(t)
	if v2["majorversionnumber"] != 2.0 || v2["minorversionnumber"] != 0.0 || v2["_previousarticlecontentid_value"] != a || v2["_rootarticleid_value"] != root || v2["articlepublicnumber"] != art["articlepublicnumber"] || v2["statecode"] != 0.0 {
		t.Fatalf("major version: %v", v2)
	}
	v2id := v2["knowledgearticleid"].(string)
	v21 := mustStatus(t, e.do("POST", "CreateKnowledgeArticleVersion", map[string]any{"Source": map[string]any{"knowledgearticleid": v2id}, "IsMajor": false}), 200).json(t)
	if v21["majorversionnumber"] != 2.0 || v21["minorversionnumber"] != 1.0 {
		t.Fatalf("minor version: %v", v21)
	}
	if got := e.get("knowledgearticles(" + v2id + ")?$select=islatestversion"); got["islatestversion"] != false {
		t.Fatalf("older version still latest: %v", got)
	}
	// Publishing 2.1 archives 1.0: one published version per root and language.
	mustStatus(t, e.do("PATCH", "knowledgearticles("+v21["knowledgearticleid"].(string)+")", map[string]any{"statecode": 3}), http.StatusNoContent)
	if got := e.get("knowledgearticles(" + a + ")?$select=statecode,statuscode"); got["statecode"] != 5.0 || got["statuscode"] != 12.0 {
		t.Fatalf("previous published version: %v", got)
	}
	// A translation: new language, parent linked, same public number.
	lang := e.createID("languagelocale", map[string]any{"name": "German", "code": "de-DE", "language": "German", "region": "Germany", "localeid": 1031})
	tr := mustStatus(t, e.do("POST", "CreateKnowledgeArticleTranslation", map[string]any{"Source": map[string]any{"knowledgearticleid": v2id}, "Language": map[string]any{"languagelocaleid": lang}, "IsMajor": true}), 200).json(t)
	if tr["_languagelocaleid_value"] != lang || tr["_parentarticlecontentid_value"] != v2id || tr["articlepublicnumber"] != art["articlepublicnumber"] || tr["majorversionnumber"] != 2.0 || tr["title"] != "Reset the router" {
		t.Fatalf("translation: %v", tr)
	}
	// Publishing the translation leaves the English version published:
	// one published version per root article and language.
	mustStatus(t, e.do("PATCH", "knowledgearticles("+tr["knowledgearticleid"].(string)+")", map[string]any{"statecode": 3}), http.StatusNoContent)
	if got := e.get("knowledgearticles(" + v21["knowledgearticleid"].(string) + ")?$select=statecode"); got["statecode"] != 3.0 {
		t.Fatalf("English version after publishing the German one: %v", got)
	}
	// Scheduled publishing and expiry follow the clock.
	s := e.createID("knowledgearticles", map[string]any{"title": "Later", "publishon": "2026-01-10T08:00:00Z", "expirationdate": "2026-02-01T00:00:00Z"})
	mustStatus(t, e.do("PATCH", "knowledgearticles("+s+")", map[string]any{"statecode": 3}), http.StatusNoContent)
	state := func() (any, any) {
		g := e.get("knowledgearticles(" + s + ")?$select=statecode,statuscode")
		return g["statecode"], g["statuscode"]
	}
	if st, ss := state(); st != 2.0 || ss != 6.0 {
		t.Fatalf("future publish: %v %v, want Scheduled", st, ss)
	}
	e.clock.Set(time.Date(2026, 1, 10, 8, 0, 0, 0, time.UTC))
	if st, ss := state(); st != 3.0 || ss != 7.0 {
		t.Fatalf("on its publish time: %v %v", st, ss)
	}
	e.clock.Set(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC))
	if st, ss := state(); st != 4.0 || ss != 10.0 {
		t.Fatalf("after expiry: %v %v", st, ss)
	}
}

func TestCSHistoricalImportsAreLeftAsGiven(t *testing.T) {
	e := newCSEnv(t)
	sla := e.slaFixture("", true)
	ent := e.entitlement("Imported balance", map[string]any{"totalterms": 5, "remainingterms": 3}, true)
	id := e.createID("incidents", map[string]any{"title": "From the old desk", "prioritycode": 1, "casetypecode": 2,
		"customerid_account@odata.bind": "/accounts(" + e.account + ")", "slaid@odata.bind": "/slas(" + sla + ")",
		"overriddencreatedon": "2025-06-02T10:00:00Z", "resolveby": "2025-06-03T10:00:00Z"})
	c := e.get("incidents(" + id + ")?$select=createdon,_entitlementid_value,_resolvebykpiid_value,resolveby")
	if c["createdon"] != "2025-06-02T10:00:00Z" || c["_entitlementid_value"] != nil || c["_resolvebykpiid_value"] != nil || c["resolveby"] != "2025-06-03T10:00:00Z" {
		t.Fatalf("historical case: %v", c)
	}
	if got := e.remaining(ent); got != 3 {
		t.Fatalf("historical case took terms: %v", got)
	}
	// A live case keeps a deadline its client wrote, and still gets its KPI.
	live := e.createID("incidents", map[string]any{"title": "Live", "prioritycode": 1, "casetypecode": 2, "decremententitlementterm": false,
		"customerid_account@odata.bind": "/accounts(" + e.account + ")", "slaid@odata.bind": "/slas(" + sla + ")", "resolveby": "2026-01-09T18:00:00Z"})
	lc := e.get("incidents(" + live + ")?$select=_resolvebykpiid_value,resolveby")
	if lc["_resolvebykpiid_value"] == nil || lc["resolveby"] != "2026-01-09T18:00:00Z" {
		t.Fatalf("live case: %v", lc)
	}
	// A KPI instance the client writes (migrated history) keeps its status.
	k := e.createID("slakpiinstances", map[string]any{"name": "Imported KPI", "status": 0, "failuretime": "2025-06-03T10:00:00Z",
		"regarding_incident@odata.bind": "/incidents(" + id + ")"})
	e.clock.Advance(time.Minute)
	if got := e.get("slakpiinstances(" + k + ")?$select=status"); got["status"] != 0.0 {
		t.Fatalf("client-written KPI moved by the clock: %v", got)
	}
	a := e.createID("knowledgearticles", map[string]any{"title": "Imported", "overriddencreatedon": "2025-06-02T10:00:00Z"})
	if got := e.get("knowledgearticles(" + a + ")?$select=_rootarticleid_value"); got["_rootarticleid_value"] != nil {
		t.Fatalf("historical article got a root: %v", got)
	}
}

// A case resolved after its failure time is Noncompliant, even when no read
// swept the KPI before the resolution (CloseIncident is not a table request).
func TestCSSLALateResolutionStaysNoncompliant(t *testing.T) {
	e := newCSEnv(t)
	sla := e.slaFixture("", true)
	id, _ := e.slaCase(sla, nil)
	e.clock.Set(time.Date(2026, 1, 12, 10, 0, 0, 0, time.UTC))
	mustStatus(t, e.do("POST", "CloseIncident", map[string]any{"IncidentResolution": map[string]any{"subject": "late", "incidentid@odata.bind": "/incidents(" + id + ")"}, "Status": 5}), http.StatusNoContent)
	if k := e.kpi(id, "resolvebykpiid"); k["status"] != 1.0 || k["succeededon"] != nil {
		t.Fatalf("late resolution: %v", k)
	}
	if c := e.get("incidents(" + id + ")?$select=resolvebyslastatus"); c["resolvebyslastatus"] != 4.0 {
		t.Fatalf("case: %v", c)
	}
}

// Decrease on resolution with restriction: the resolution that would take
// the terms below zero is refused, and CloseIncident leaves nothing behind.
func TestCSEntitlementRestrictedResolutionRefused(t *testing.T) {
	e := newCSEnv(t)
	ent := e.entitlement("On resolution", map[string]any{"totalterms": 1, "decreaseremainingon": 0}, true)
	a := e.createID("incidents", map[string]any{"title": "a", "customerid_account@odata.bind": "/accounts(" + e.account + ")"})
	b := e.createID("incidents", map[string]any{"title": "b", "customerid_account@odata.bind": "/accounts(" + e.account + ")"})
	if got := e.remaining(ent); got != 1 {
		t.Fatalf("creation consumed under decrease-on-resolution: %v", got)
	}
	closeCase := func(id string) response {
		return e.do("POST", "CloseIncident", map[string]any{"IncidentResolution": map[string]any{"subject": "done", "incidentid@odata.bind": "/incidents(" + id + ")"}, "Status": 5})
	}
	mustStatus(t, closeCase(a), http.StatusNoContent)
	if got := e.remaining(ent); got != 0 {
		t.Fatalf("after resolving a: %v", got)
	}
	wantRefusal(t, closeCase(b), "resolve or reopen this case")
	if c := e.get("incidents(" + b + ")?$select=statecode"); c["statecode"] != 0.0 {
		t.Fatalf("refused resolution changed the case: %v", c)
	}
	if n := len(mustStatus(t, e.do("GET", "incidentresolutions?$select=subject&$filter=_incidentid_value eq "+b, nil), 200).values(t)); n != 0 {
		t.Fatalf("refused CloseIncident left %d resolutions", n)
	}
	// A new case is refused too: the terms are over.
	wantRefusal(t, e.newCase("c", nil), "remaining terms are used up")
}
