package refserver

import (
	"net/http"
	"strings"
	"testing"
)

func accountTarget(fields map[string]any) map[string]any {
	fields["@odata.type"] = "Microsoft.Dynamics.CRM.account"
	return fields
}

func testCreateMultipleReturnsIds(t *testing.T, e *testEnv) {
	r := mustStatus(t, e.do("POST", "accounts/Microsoft.Dynamics.CRM.CreateMultiple", map[string]any{"Targets": []any{
		accountTarget(map[string]any{"name": "bulk-1", "accountnumber": "B-1"}),
		accountTarget(map[string]any{"name": "bulk-2", "accountid": "2d0c8f2e-0000-4000-8000-000000000002"}),
	}}), http.StatusOK)
	m := r.json(t)
	if !strings.HasSuffix(m["@odata.context"].(string), "$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse") {
		t.Fatalf("context %v", m["@odata.context"])
	}
	ids, _ := m["Ids"].([]any)
	if len(ids) != 2 || ids[1] != "2d0c8f2e-0000-4000-8000-000000000002" {
		t.Fatalf("Ids %v", m["Ids"])
	}
	got := mustStatus(t, e.do("GET", "accounts("+ids[0].(string)+")?$select=name,accountnumber", nil), 200).json(t)
	if got["name"] != "bulk-1" || got["accountnumber"] != "B-1" {
		t.Fatalf("record %v", got)
	}
}

func testUpsertMultipleByAlternateKey(t *testing.T, e *testEnv) {
	existing := e.createID("accounts", map[string]any{"name": "old name", "accountnumber": "U-1"})
	r := e.do("POST", "accounts/Microsoft.Dynamics.CRM.UpsertMultiple", map[string]any{"Targets": []any{
		accountTarget(map[string]any{"@odata.id": "accounts(accountnumber='U-1')", "name": "new name"}),
		accountTarget(map[string]any{"@odata.id": "accounts(accountnumber='U-2')", "name": "created"}),
	}})
	mustStatus(t, r, http.StatusNoContent)
	if len(r.body) != 0 {
		t.Fatalf("UpsertMultiple returns no body; got %s", r.body)
	}
	got := mustStatus(t, e.do("GET", "accounts("+existing+")?$select=name", nil), 200).json(t)
	if got["name"] != "new name" {
		t.Fatalf("update by key not applied: %v", got)
	}
	created := mustStatus(t, e.do("GET", "accounts(accountnumber='U-2')?$select=name,accountnumber", nil), 200).json(t)
	if created["name"] != "created" || created["accountnumber"] != "U-2" {
		t.Fatalf("create by key: %v", created)
	}
}

func testBulkFailureRollsBackAllAndNamesTarget(t *testing.T, e *testEnv) {
	a := e.createID("accounts", map[string]any{"name": "keep", "accountnumber": "R-1"})
	missing := "00000000-0000-4000-8000-0000000000ff"

	// UpdateMultiple: the second target does not exist; the first must not stick.
	r := e.do("POST", "accounts/Microsoft.Dynamics.CRM.UpdateMultiple", map[string]any{"Targets": []any{
		accountTarget(map[string]any{"accountid": a, "name": "changed"}),
		accountTarget(map[string]any{"accountid": missing, "name": "ghost"}),
	}})
	mustStatus(t, r, http.StatusNotFound)
	if _, msg := r.errorPayload(t); !strings.HasPrefix(msg, "Targets[1] (accountid="+missing+"): ") {
		t.Fatalf("message does not name the target: %q", msg)
	}
	if got := mustStatus(t, e.do("GET", "accounts("+a+")?$select=name", nil), 200).json(t); got["name"] != "keep" {
		t.Fatalf("UpdateMultiple partly applied: %v", got)
	}

	// CreateMultiple: the third target collides with an existing key.
	r = e.do("POST", "accounts/Microsoft.Dynamics.CRM.CreateMultiple", map[string]any{"Targets": []any{
		accountTarget(map[string]any{"name": "c-1", "accountnumber": "R-2"}),
		accountTarget(map[string]any{"name": "c-2", "accountnumber": "R-3"}),
		accountTarget(map[string]any{"name": "c-3", "accountnumber": "R-1"}),
	}})
	mustStatus(t, r, http.StatusPreconditionFailed)
	if code, msg := r.errorPayload(t); code != codeDuplicateRecord || !strings.HasPrefix(msg, "Targets[2]") {
		t.Fatalf("error %s %q", code, msg)
	}
	if n := len(mustStatus(t, e.do("GET", "accounts?$filter=startswith(name,'c-')", nil), 200).values(t)); n != 0 {
		t.Fatalf("CreateMultiple partly applied: %d records", n)
	}

	// UpsertMultiple: an invalid value in the last target.
	r = e.do("POST", "accounts/Microsoft.Dynamics.CRM.UpsertMultiple", map[string]any{"Targets": []any{
		accountTarget(map[string]any{"@odata.id": "accounts(accountnumber='R-1')", "name": "upserted"}),
		accountTarget(map[string]any{"@odata.id": "accounts(accountnumber='R-9')", "industrycode": 999999}),
	}})
	if r.status < 400 {
		t.Fatalf("status %d", r.status)
	}
	if _, msg := r.errorPayload(t); !strings.HasPrefix(msg, "Targets[1] (accountnumber='R-9'): ") {
		t.Fatalf("message %q", msg)
	}
	if got := mustStatus(t, e.do("GET", "accounts("+a+")?$select=name", nil), 200).json(t); got["name"] != "keep" {
		t.Fatalf("UpsertMultiple partly applied: %v", got)
	}
}

func testBulkRejectsBadTargets(t *testing.T, e *testEnv) {
	cases := []struct {
		name, path string
		body       any
		status     int
		contains   string
	}{
		{"missing @odata.type", "accounts/Microsoft.Dynamics.CRM.CreateMultiple",
			map[string]any{"Targets": []any{map[string]any{"name": "x"}}}, 400, "Targets[0]: the '@odata.type' annotation is required"},
		{"wrong @odata.type", "accounts/Microsoft.Dynamics.CRM.CreateMultiple",
			map[string]any{"Targets": []any{map[string]any{"name": "x", "@odata.type": "Microsoft.Dynamics.CRM.contact"}}}, 400, "Targets[0]: '@odata.type' is 'Microsoft.Dynamics.CRM.contact'"},
		{"duplicate upsert keys", "accounts/Microsoft.Dynamics.CRM.UpsertMultiple",
			map[string]any{"Targets": []any{
				accountTarget(map[string]any{"@odata.id": "accounts(accountnumber='D-1')", "name": "a"}),
				accountTarget(map[string]any{"@odata.id": "accounts(accountnumber='d-1')", "name": "b"}),
			}}, 400, "Targets[1] (accountnumber='d-1'): Targets[0] addresses the same record"},
		{"update without key", "accounts/Microsoft.Dynamics.CRM.UpdateMultiple",
			map[string]any{"Targets": []any{accountTarget(map[string]any{"name": "x"})}}, 400, "Targets[0]: The primary key 'accountid' is required"},
		{"no Targets", "accounts/Microsoft.Dynamics.CRM.CreateMultiple", map[string]any{}, 400, "'Targets' is required"},
		{"table without bulk messages", "queues/Microsoft.Dynamics.CRM.CreateMultiple",
			map[string]any{"Targets": []any{map[string]any{"name": "q", "@odata.type": "Microsoft.Dynamics.CRM.queue"}}}, 400, "not available for the entity 'queue'"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := *e
			e.t = t
			r := e.do("POST", c.path, c.body)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
			}
			if _, msg := r.errorPayload(t); !strings.Contains(msg, c.contains) {
				t.Fatalf("message %q does not contain %q", msg, c.contains)
			}
		})
	}
	if n := len(mustStatus(t, e.do("GET", "accounts?$filter=accountnumber eq 'D-1'", nil), 200).values(t)); n != 0 {
		t.Fatal("a rejected UpsertMultiple wrote records")
	}
}

func testUpdateMultipleIgnoresDuplicateTargets(t *testing.T, e *testEnv) {
	a := e.createID("accounts", map[string]any{"name": "dup"})
	mustStatus(t, e.do("POST", "accounts/Microsoft.Dynamics.CRM.UpdateMultiple", map[string]any{"Targets": []any{
		accountTarget(map[string]any{"accountid": a, "name": "first"}),
		accountTarget(map[string]any{"accountid": a, "name": "second"}),
	}}), http.StatusNoContent)
	if got := mustStatus(t, e.do("GET", "accounts("+a+")?$select=name", nil), 200).json(t); got["name"] != "first" {
		t.Fatalf("the first duplicate wins: %v", got)
	}
}

// TestBulkMessages runs the bulk-message cases against one server; each case
// uses its own keys and names.
func TestBulkMessages(t *testing.T) {
	shared := newTestEnv(t, Options{})
	for _, c := range []struct {
		name string
		fn   func(*testing.T, *testEnv)
	}{
		{"CreateMultipleReturnsIds", testCreateMultipleReturnsIds},
		{"UpsertMultipleByAlternateKey", testUpsertMultipleByAlternateKey},
		{"BulkFailureRollsBackAllAndNamesTarget", testBulkFailureRollsBackAllAndNamesTarget},
		{"BulkRejectsBadTargets", testBulkRejectsBadTargets},
		{"UpdateMultipleIgnoresDuplicateTargets", testUpdateMultipleIgnoresDuplicateTargets},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := *shared
			e.t = t
			c.fn(t, &e)
		})
	}
}
