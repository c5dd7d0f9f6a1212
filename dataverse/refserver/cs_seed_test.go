package refserver

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// TestCSSeedOnItsOwnClock: the reference seed, seen on 3 November 2025
// (its own "today"), has a customer one case away from its restricted
// entitlement, SLAs on Pacific business hours, and moves with the clock.
func TestCSSeedOnItsOwnClock(t *testing.T) {
	clock := NewClock(time.Date(2025, 11, 3, 17, 0, 0, 0, time.UTC), false) // Monday 09:00 PST
	e := &csEnv{testEnv: newTestEnv(t, Options{Now: clock.Now}), clock: clock}
	if _, err := e.srv.LoadSeed(context.Background(), "../../testdata/dataverse/seed"); err != nil {
		t.Fatal(err)
	}
	const juniper = "97331cbb-8b72-5abf-b68e-fa66b81714a3"
	const juniperEnt = "4d93f7d9-ef86-57b9-b464-2e4bda2396c1"
	newCase := func(title string) response {
		return e.do("POST", "incidents", map[string]any{"title": title, "caseorigincode": 1, "customerid_account@odata.bind": "/accounts(" + juniper + ")"})
	}
	id := idFromEntityID(t, mustStatus(t, newCase("Minibar sensor offline"), http.StatusNoContent).header.Get("OData-EntityId"))
	c := e.get("incidents(" + id + ")?$select=_entitlementid_value,_slaid_value,_firstresponsebykpiid_value,responseby,firstresponseslastatus")
	if c["_entitlementid_value"] != juniperEnt {
		t.Fatalf("default entitlement not applied: %v", c)
	}
	// Priority Care SLA: first response within 1 business hour of 08:00-18:00
	// Pacific; created at 09:00 PST, so due 10:00 PST.
	if c["responseby"] != "2025-11-03T18:00:00Z" || c["firstresponseslastatus"] != 1.0 {
		t.Fatalf("first response KPI on Pacific business hours: %v", c)
	}
	if got := e.remaining(juniperEnt); got != 0 {
		t.Fatalf("remaining = %v, want 0", got)
	}
	wantRefusal(t, newCase("Second case"), "remaining terms are used up")

	// Thanksgiving (27 November) is a holiday: a case created on the
	// Wednesday evening is due on Friday.
	clock.Set(time.Date(2025, 11, 27, 1, 30, 0, 0, time.UTC)) // Wed 17:30 PST
	const redwater = "ab9c27f6-da88-5501-a64e-ed55be387fdd"
	id2 := e.createID("incidents", map[string]any{"title": "Before the holiday", "caseorigincode": 2, "customerid_account@odata.bind": "/accounts(" + redwater + ")"})
	c2 := e.get("incidents(" + id2 + ")?$select=_slaid_value,responseby")
	// Standard Support: first response within 8 business hours: 30 minutes
	// on Wednesday, none on Thursday, 7.5 hours on Friday from 08:00 PST.
	if c2["responseby"] != "2025-11-28T23:30:00Z" {
		t.Fatalf("Thanksgiving not skipped: %v", c2)
	}

	// The entitlement ending 30 November is Expired on 1 December.
	clock.Set(time.Date(2025, 12, 1, 12, 0, 0, 0, time.UTC))
	if got := e.get("entitlements(8d5e3ffb-9785-57e5-b75a-27b8ab0e10ed)?$select=statecode"); got["statecode"] != 3.0 {
		t.Fatalf("expiring entitlement: %v", got)
	}
	// The scheduled article revision (publish on 15 November) is Published.
	published := mustStatus(t, e.do("GET", "knowledgearticles?$select=title&$filter=statuscode eq 6", nil), 200).values(t)
	if len(published) != 0 {
		t.Fatalf("scheduled articles left after their publish time: %v", published)
	}
}
