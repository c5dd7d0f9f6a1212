package refserver

import (
	"net/http"
	"strings"
	"testing"

	"github.com/dvsync/dvsync/dataverse/schema"
)

// $apply as "Aggregate data using OData" (webapi/query/aggregate-data.md)
// shows it, over the accounts of fetchEnv.
func TestApplyAggregates(t *testing.T) {
	e := fetchEnv(t)
	g := mustStatus(t, e.get("accounts?$apply=groupby((statuscode),aggregate($count as count))", `Prefer: odata.include-annotations="OData.Community.Display.V1.FormattedValue"`), http.StatusOK).values(t)
	if len(g) != 1 || g[0]["statuscode"] != float64(1) || g[0]["count"] != float64(10) ||
		g[0]["statuscode@OData.Community.Display.V1.FormattedValue"] != "Active" || g[0]["count@OData.Community.Display.V1.FormattedValue"] != "10" {
		t.Fatalf("groupby statuscode: %v", g)
	}
	a := mustStatus(t, e.get("accounts?$apply=aggregate(numberofemployees with sum as total,numberofemployees with average as avg,numberofemployees with min as lo,numberofemployees with max as hi,address1_city with countdistinct as cities)"), http.StatusOK).values(t)
	want := map[string]float64{"total": 35200, "avg": 3911, "lo": 1500, "hi": 6200, "cities": 7}
	for k, v := range want {
		if a[0][k] != v {
			t.Errorf("%s = %v, want %v", k, a[0][k], v)
		}
	}
	f := mustStatus(t, e.get("accounts?$apply=filter(address1_city eq 'Redmond')/groupby((address1_city),aggregate(numberofemployees with sum as total))"), http.StatusOK).values(t)
	if len(f) != 1 || f[0]["total"] != float64(10600) {
		t.Fatalf("filter/groupby: %v", f)
	}
	n := mustStatus(t, e.get("accounts?$apply=groupby((primarycontactid/lastname))&$orderby=primarycontactid/lastname"), http.StatusOK).values(t)
	// Three contacts and the accounts without one (null group, left out).
	if len(n) != 4 || n[1]["contact_lastname"] != "Contact 1" {
		t.Fatalf("groupby navigation: %v", n)
	}
	lm := mustStatus(t, e.get("accounts?$apply=groupby((_primarycontactid_value))"), http.StatusOK).values(t)
	if len(lm) != 4 {
		t.Fatalf("groupby lookup: %v", lm)
	}
	for _, c := range []struct{ q, msg string }{
		{"accounts?$apply=groupby((createdon))", "groupby with datetime values is not supported."},
		{"accounts?$apply=groupby((statuscode),aggregate($count as n))&$orderby=n", "The query node SingleValueOpenPropertyAccess is not supported"},
		{"accounts?$apply=aggregate(name with sum as s)", "The aggregate function 'sum' is not valid for the attribute 'name' of type String on 'account'."},
		{"accounts?$apply=groupby((nosuch))", "Could not find a property named 'nosuch' on type 'Microsoft.Dynamics.CRM.account'."},
	} {
		r := e.get(c.q)
		if r.status != http.StatusBadRequest {
			t.Errorf("%s: status %d", c.q, r.status)
			continue
		}
		if _, msg := r.errorPayload(t); msg != c.msg {
			t.Errorf("%s: %q, want %q", c.q, msg, c.msg)
		}
	}
}

// The 50,000-record aggregate limit (aggregate-data.md) with its
// documented error, checked on a lowered limit so the test stays small.
func TestApplyAggregateLimit(t *testing.T) {
	e := fetchEnv(t)
	p := &aggPlan{from: sqlTable(mustTable(t, e.srv, "account")) + " t0", recordLimit: 9, limit: 10,
		cols: []aggColumn{{name: "n", kind: "count", sql: "COUNT(*)"}}}
	req, _ := http.NewRequest("GET", e.api+"accounts", nil)
	rec := newRecorder()
	e.srv.serveAggregate(rec, req, mustTable(t, e.srv, "account"), p, nil)
	if rec.code() != http.StatusBadRequest || !strings.Contains(rec.body.String(), "AggregateQueryRecordLimit exceeded") {
		t.Fatalf("limit: %d %s", rec.code(), rec.body.Bytes())
	}
}

func mustTable(t *testing.T, s *Server, name string) *schema.Table {
	t.Helper()
	tb, ok := s.reg.Table(name)
	if !ok {
		t.Fatalf("no table %s", name)
	}
	return tb
}
