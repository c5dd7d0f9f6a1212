package csrules

import (
	"testing"
	"time"
)

func weekdays9to5(loc *time.Location) *Calendar {
	c := &Calendar{Loc: loc}
	for d := time.Monday; d <= time.Friday; d++ {
		c.Windows = append(c.Windows, Window{Day: d, Start: 9 * 60, End: 17 * 60})
	}
	return c
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestAddWorkingMinutes(t *testing.T) {
	c := weekdays9to5(time.UTC)
	cases := []struct {
		name, from string
		minutes    int
		want       string
	}{
		{"friday late rolls to monday", "2026-01-09T16:45:00Z", 60, "2026-01-12T09:45:00Z"},
		{"ends exactly at closing", "2026-01-09T16:45:00Z", 15, "2026-01-09T17:00:00Z"},
		{"created before opening", "2026-01-12T07:00:00Z", 30, "2026-01-12T09:30:00Z"},
		{"created on saturday", "2026-01-10T12:00:00Z", 60, "2026-01-12T10:00:00Z"},
		// [SCHED] example: 8 working hours a day, 12 hours from 10:00, the
		// next day a holiday: day after tomorrow 14:00 (here 9-17: 15:00).
		{"two days", "2026-01-12T10:00:00Z", 12 * 60, "2026-01-13T14:00:00Z"},
		{"zero minutes", "2026-01-10T12:00:00Z", 0, "2026-01-10T12:00:00Z"},
	}
	for _, tc := range cases {
		got, err := c.AddWorkingMinutes(at(tc.from), tc.minutes)
		if err != nil || !got.Equal(at(tc.want)) {
			t.Errorf("%s: got %v %v, want %s", tc.name, got, err, tc.want)
		}
	}
	c.Holidays = []Span{{at("2026-01-13T00:00:00Z"), at("2026-01-14T00:00:00Z")}}
	if got, _ := c.AddWorkingMinutes(at("2026-01-12T10:00:00Z"), 12*60); !got.Equal(at("2026-01-14T14:00:00Z")) {
		t.Errorf("holiday not skipped: %v", got)
	}
	var none *Calendar
	if got, _ := none.AddWorkingMinutes(at("2026-01-09T16:45:00Z"), 60); !got.Equal(at("2026-01-09T17:45:00Z")) {
		t.Errorf("24x7: %v", got)
	}
	if _, err := (&Calendar{Loc: time.UTC}).AddWorkingMinutes(at("2026-01-09T16:45:00Z"), 1); err != ErrNoWorkingTime {
		t.Errorf("calendar without working time: %v", err)
	}
}

func TestAddWorkingMinutesInZone(t *testing.T) {
	c := weekdays9to5(TimeZone(4)) // Pacific
	got, err := c.AddWorkingMinutes(at("2026-01-09T16:45:00-08:00"), 60)
	if err != nil || !got.Equal(at("2026-01-12T09:45:00-08:00")) {
		t.Fatalf("got %v %v", got, err)
	}
}

func TestWorkingMinutes(t *testing.T) {
	c := weekdays9to5(time.UTC)
	if got := c.WorkingMinutes(at("2026-01-09T16:50:00Z"), at("2026-01-12T10:00:00Z")); got != 70 {
		t.Fatalf("paused Friday 16:50 to Monday 10:00 = %d, want 70", got)
	}
	if got := c.WorkingMinutes(at("2026-01-10T10:00:00Z"), at("2026-01-11T10:00:00Z")); got != 0 {
		t.Fatalf("weekend = %d", got)
	}
}

func TestParseWeeklyDays(t *testing.T) {
	days, ok := ParseWeeklyDays("FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,TU,WE,TH,FR")
	if !ok || len(days) != 5 || days[0] != time.Monday || days[4] != time.Friday {
		t.Fatalf("%v %v", days, ok)
	}
	if _, ok := ParseWeeklyDays("FREQ=YEARLY"); ok {
		t.Fatal("yearly taken as weekly")
	}
}

func TestConditionHolds(t *testing.T) {
	rec := map[string]any{"prioritycode": int64(1), "casetypecode": int64(2), "caseorigincode": int64(3),
		"customerid": "6CEF4CA6-6238-5234-A9D3-2858A12DA9B0", "firstresponsesent": true, "title": "Printer jam"}
	cases := []struct {
		xml  string
		want bool
	}{
		{``, true},
		{`<filter type="and"><condition attribute="prioritycode" operator="eq" value="1" /></filter>`, true},
		{`<filter type="and"><condition attribute="prioritycode" operator="eq" value="2" /></filter>`, false},
		{`<filter type="and"><condition attribute="casetypecode" operator="in"><value>1</value><value>2</value></condition></filter>`, true},
		{`<filter type="and"><condition attribute="caseorigincode" operator="not-in"><value>3</value></condition></filter>`, false},
		{`<filter type="and"><condition attribute="customerid" operator="eq" value="{6cef4ca6-6238-5234-a9d3-2858a12da9b0}" /></filter>`, true},
		{`<filter type="and"><condition attribute="firstresponsesent" operator="eq" value="1" /></filter>`, true},
		{`<filter type="or"><condition attribute="prioritycode" operator="eq" value="3" /><filter type="and"><condition attribute="title" operator="like" value="%jam%" /></filter></filter>`, true},
		{`<filter type="and"><condition attribute="productid" operator="null" /></filter>`, true},
		{`<filter type="and"><condition attribute="productid" operator="eq" value="x" /></filter>`, false},
		{`<filter type="and"><condition entityname="account" attribute="name" operator="eq" value="x" /></filter>`, false},
		// dvsync's Odoo mapping writes <and>/<or> groups.
		{`<and><condition attribute="prioritycode" operator="eq" value="1"/></and>`, true},
		{`<or><condition attribute="prioritycode" operator="eq" value="3"/><condition attribute="casetypecode" operator="eq" value="2"/></or>`, true},
		{`<or><condition attribute="prioritycode" operator="eq" value="3"/><and><condition attribute="casetypecode" operator="eq" value="9"/></and></or>`, false},
	}
	for _, tc := range cases {
		c, err := ParseCondition(tc.xml)
		if err != nil {
			t.Fatalf("%s: %v", tc.xml, err)
		}
		if got := c.Holds(rec); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.xml, got, tc.want)
		}
	}
	if _, err := ParseCondition("<filter"); err == nil {
		t.Error("broken XML accepted")
	}
}

func TestEntitlementRules(t *testing.T) {
	now := at("2026-01-09T16:45:00Z")
	if got := ActivatedState(at("2026-02-01T00:00:00Z"), at("2026-12-31T00:00:00Z"), now); got != EntitlementWaiting {
		t.Errorf("future start: %d", got)
	}
	if got := ActivatedState(at("2025-01-01T00:00:00Z"), at("2025-12-31T00:00:00Z"), now); got != EntitlementExpired {
		t.Errorf("past end: %d", got)
	}
	if got := ActivatedState(at("2026-01-01T00:00:00Z"), at("2026-01-09T00:00:00Z"), now); got != EntitlementActive {
		t.Errorf("ends today: %d (the end day is covered)", got)
	}
	for _, tc := range []struct {
		from, to int
		ok       bool
	}{{0, 1, true}, {1, 0, true}, {1, 2, true}, {4, 2, true}, {0, 2, false}, {2, 1, false}, {3, 1, false}, {3, 0, false}} {
		if got := TransitionAllowed(tc.from, tc.to); got != tc.ok {
			t.Errorf("%d→%d: %v", tc.from, tc.to, got)
		}
	}
	for _, tc := range []struct {
		alloc, dec int
		ev         CaseEvent
		want       int
	}{
		{AllocationCases, DecreaseOnCreation, CaseCreated, 1},
		{AllocationCases, DecreaseOnCreation, CaseCancelled, -1},
		{AllocationCases, DecreaseOnCreation, CaseReactivatedFromCancelled, 1},
		{AllocationCases, DecreaseOnCreation, CaseResolved, 0},
		{AllocationCases, DecreaseOnResolution, CaseCreated, 0},
		{AllocationCases, DecreaseOnResolution, CaseResolved, 1},
		{AllocationCases, DecreaseOnResolution, CaseReactivatedFromResolved, -1},
		{AllocationHours, DecreaseOnCreation, CaseCreated, 0},
		{AllocationHours, DecreaseOnCreation, CaseResolved, 1},
	} {
		if got := TermsDirection(tc.alloc, tc.dec, tc.ev); got != tc.want {
			t.Errorf("%+v: %d", tc, got)
		}
	}
	if !Refused(true, 0, 1, true) || Refused(true, 1, 1, true) || Refused(false, 0, 1, true) || !Refused(true, 0, 0, true) || Refused(true, 0, 0, false) {
		t.Error("Refused")
	}
}

func TestPick(t *testing.T) {
	d := func(s string) time.Time { return at(s + "T00:00:00Z") }
	cands := []Candidate{
		{ID: "general-new", Start: d("2026-01-01")},
		{ID: "general-old", Start: d("2025-01-01")},
		{ID: "product", Specificity: 1, Start: d("2026-01-01")},
	}
	if id, _ := Pick(cands); id != "product" {
		t.Errorf("most specific: %s", id)
	}
	if id, _ := Pick(cands[:2]); id != "general-old" {
		t.Errorf("oldest start: %s", id)
	}
	if id, _ := Pick(append(cands, Candidate{ID: "default", IsDefault: true, Start: d("2026-01-05")})); id != "default" {
		t.Errorf("default: %s", id)
	}
	if _, ok := Pick(nil); ok {
		t.Error("none")
	}
}

func TestKPIStatus(t *testing.T) {
	w, f := at("2026-01-12T09:15:00Z"), at("2026-01-12T09:45:00Z")
	for _, tc := range []struct {
		cur  int
		now  string
		want int
	}{
		{KPIInProgress, "2026-01-12T09:00:00Z", KPIInProgress},
		{KPIInProgress, "2026-01-12T09:15:00Z", KPINearing},
		{KPINearing, "2026-01-12T09:45:00Z", KPINoncompliant},
		{KPIPaused, "2026-01-13T00:00:00Z", KPIPaused},
		{KPISucceeded, "2026-01-13T00:00:00Z", KPISucceeded},
	} {
		if got := TimedStatus(tc.cur, at(tc.now), w, f); got != tc.want {
			t.Errorf("%+v: %d", tc, got)
		}
	}
	if s, ok := CaseStatus(KPINoncompliant); !ok || s != CaseSLANoncompliant {
		t.Error("noncompliant maps to 4")
	}
	if _, ok := CaseStatus(KPICanceled); ok {
		t.Error("canceled has no case value")
	}
}
