package refserver

import (
	"net/http"
	"strings"
	"testing"
)

// Issue 13, defect 3: a long $filter gave "500 0x80040216 An unexpected
// error occurred." Limits are now checked before SQL is built.
func TestLongFilterIsRefusedNot500(t *testing.T) {
	e := newTestEnv(t, Options{})
	e.createID("accounts", map[string]any{"name": "a", "numberofemployees": 7})
	chain := func(n int) string {
		return "numberofemployees eq 0" + strings.Repeat(" or numberofemployees eq 7", n-1)
	}
	r := e.do("GET", "accounts?$select=name&$filter="+chain(999), nil)
	if code, msg := r.errorPayload(t); r.status != http.StatusBadRequest || code != "0x80060888" || msg != "Recursion depth exceeded allowed limit." {
		t.Fatalf("999 ORs: %d %s %s", r.status, code, msg)
	}
	// Below ODL's limit the chain runs: SQL gets a balanced tree.
	if v := mustStatus(t, e.do("GET", "accounts?$select=name&$filter="+chain(790), nil), http.StatusOK).values(t); len(v) != 1 {
		t.Fatalf("790 ORs: %d rows", len(v))
	}
	nots := strings.Repeat("not (", 400) + "numberofemployees eq 7" + strings.Repeat(")", 400)
	r = e.do("GET", "accounts?$select=name&$filter="+nots, nil)
	if r.status != http.StatusBadRequest {
		t.Fatalf("400 nots: status %d: %s", r.status, r.body)
	}
	long := strings.Repeat("x", maxLikePattern+1)
	r = e.do("GET", "accounts?$filter=contains(name,'"+long+"')", nil)
	if r.status != http.StatusBadRequest {
		t.Fatalf("long contains: status %d", r.status)
	}
}
