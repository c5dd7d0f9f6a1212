package refserver

import (
	"net/http"
	"testing"
)

func TestOneToManyNavigation(t *testing.T) {
	e := newTestEnv(t, Options{})
	// Deep insert: an account with two contacts and a primary contact in one
	// POST (create-entity-web-api.md).
	acc := e.createID("accounts", map[string]any{
		"name":             "Contoso",
		"primarycontactid": map[string]any{"firstname": "Pat", "lastname": "Primary"},
		"contact_customer_accounts": []any{
			map[string]any{"firstname": "Ann", "lastname": "Alpha"},
			map[string]any{"firstname": "Bob", "lastname": "Beta"},
		},
	})
	other := e.createID("accounts", map[string]any{"name": "Fabrikam"})
	r := mustStatus(t, e.get("accounts("+acc+")/contact_customer_accounts?$select=lastname&$orderby=lastname"), http.StatusOK).values(t)
	if len(r) != 2 || r[0]["lastname"] != "Alpha" || r[1]["lastname"] != "Beta" {
		t.Fatalf("related contacts: %v", r)
	}
	one := mustStatus(t, e.get("accounts("+acc+")?$select=name&$expand=primarycontactid($select=lastname)"), http.StatusOK).json(t)
	if pc, _ := one["primarycontactid"].(map[string]any); pc["lastname"] != "Primary" {
		t.Fatalf("deep-inserted primary contact: %v", one)
	}
	// $expand of the collection with nested options.
	ex := mustStatus(t, e.get("accounts?$select=name&$orderby=name&$expand=contact_customer_accounts($select=lastname;$filter=lastname ne 'Beta';$orderby=lastname desc;$top=5)"), http.StatusOK).values(t)
	if len(ex) != 2 {
		t.Fatalf("accounts: %v", ex)
	}
	if cs := ex[0]["contact_customer_accounts"].([]any); len(cs) != 1 || cs[0].(map[string]any)["lastname"] != "Alpha" {
		t.Fatalf("expanded contacts of Contoso: %v", ex[0])
	}
	if cs := ex[1]["contact_customer_accounts"].([]any); len(cs) != 0 {
		t.Fatalf("expanded contacts of Fabrikam: %v", ex[1])
	}
	// any/all lambdas (filter-rows.md).
	anyRows := mustStatus(t, e.get("accounts?$select=name&$filter=contact_customer_accounts/any(c:c/lastname eq 'Beta')"), http.StatusOK).values(t)
	if len(anyRows) != 1 || anyRows[0]["name"] != "Contoso" {
		t.Fatalf("any: %v", anyRows)
	}
	all := mustStatus(t, e.get("accounts?$select=name&$filter=contact_customer_accounts/all(c:c/lastname eq 'Beta')&$orderby=name"), http.StatusOK).values(t)
	if len(all) != 1 || all[0]["name"] != "Fabrikam" { // vacuously true for Fabrikam
		t.Fatalf("all: %v", all)
	}
	some := mustStatus(t, e.get("accounts?$select=name&$filter=contact_customer_accounts/any()"), http.StatusOK).values(t)
	if len(some) != 1 {
		t.Fatalf("any(): %v", some)
	}
	// $ref moves a contact to the other account, then removes it.
	cid := r[1]["contactid"].(string)
	mustStatus(t, e.do("POST", "accounts("+other+")/contact_customer_accounts/$ref", map[string]any{"@odata.id": e.api + "contacts(" + cid + ")"}), http.StatusNoContent)
	if v := mustStatus(t, e.get("accounts("+other+")/contact_customer_accounts"), http.StatusOK).values(t); len(v) != 1 {
		t.Fatalf("after $ref: %v", v)
	}
	mustStatus(t, e.do("DELETE", "accounts("+other+")/contact_customer_accounts("+cid+")/$ref", nil), http.StatusNoContent)
	if v := mustStatus(t, e.get("accounts("+other+")/contact_customer_accounts"), http.StatusOK).values(t); len(v) != 0 {
		t.Fatalf("after DELETE $ref: %v", v)
	}
	// Deep update is refused, not ignored.
	r2 := e.do("PATCH", "accounts("+acc+")", map[string]any{"contact_customer_accounts": []any{map[string]any{"lastname": "X"}}})
	mustStatus(t, r2, http.StatusBadRequest)
	// A failing nested record rolls the whole deep insert back.
	bad := e.do("POST", "accounts", map[string]any{"name": "Rollback", "contact_customer_accounts": []any{map[string]any{"nosuch": 1}}})
	mustStatus(t, bad, http.StatusBadRequest)
	if v := mustStatus(t, e.get("accounts?$filter=name eq 'Rollback'"), http.StatusOK).values(t); len(v) != 0 {
		t.Fatalf("rolled back parent exists: %v", v)
	}
}

func TestIncidentAnnotationNavigation(t *testing.T) {
	e := newTestEnv(t, Options{})
	acc := e.createID("accounts", map[string]any{"name": "A"})
	inc := e.createID("incidents", map[string]any{"title": "Case", "customerid_account@odata.bind": "/accounts(" + acc + ")",
		"Incident_Annotation": []any{map[string]any{"subject": "note 1"}}})
	v := mustStatus(t, e.get("incidents("+inc+")/Incident_Annotation?$select=subject"), http.StatusOK).values(t)
	if len(v) != 1 || v[0]["subject"] != "note 1" {
		t.Fatalf("notes: %v", v)
	}
	c := mustStatus(t, e.get("accounts("+acc+")?$expand=incident_customer_accounts($select=title)"), http.StatusOK).json(t)
	if cs := c["incident_customer_accounts"].([]any); len(cs) != 1 {
		t.Fatalf("cases of account: %v", c)
	}
}

// join-tables.md: every expanded collection carries a nextLink to the
// filtered collection with the expand's options; $top and $orderby do not
// go with a nested $expand.
func TestExpandedCollectionNextLink(t *testing.T) {
	e := newTestEnv(t, Options{})
	acc := e.createID("accounts", map[string]any{"name": "A", "contact_customer_accounts": []any{map[string]any{"lastname": "One"}}})
	m := mustStatus(t, e.get("accounts("+acc+")?$select=name&$expand=contact_customer_accounts($select=lastname)"), http.StatusOK).json(t)
	link, _ := m["contact_customer_accounts@odata.nextLink"].(string)
	if link != e.api+"accounts("+acc+")/contact_customer_accounts?$select=lastname" {
		t.Fatalf("nextLink = %q", link)
	}
	if v := mustStatus(t, e.get(link), http.StatusOK).values(t); len(v) != 1 || v[0]["lastname"] != "One" {
		t.Fatalf("following the nextLink: %v", v)
	}
	r := e.get("accounts?$expand=contact_customer_accounts($top=1;$expand=parentcustomerid_account($select=name))")
	if code, msg := r.errorPayload(t); r.status != 400 || code != "0x80060888" || msg != "Only $select and $filter clause can be provided while doing $expand on many-to-one relationship or nested one-to-many relationship." {
		t.Fatalf("nested expand with $top: %d %s %s", r.status, code, msg)
	}
}

func TestExpandRef(t *testing.T) {
	e := newTestEnv(t, Options{})
	c := e.createID("contacts", map[string]any{"lastname": "C"})
	acc := e.createID("accounts", map[string]any{"name": "A", "primarycontactid@odata.bind": "/contacts(" + c + ")"})
	m := mustStatus(t, e.get("accounts("+acc+")?$select=name&$expand=primarycontactid/$ref"), http.StatusOK).json(t)
	if ref, _ := m["primarycontactid"].(map[string]any); ref["@odata.id"] != e.api+"contacts("+c+")" {
		t.Fatalf("$ref expand: %v", m)
	}
	r := e.get("accounts?$expand=contact_customer_accounts/$ref")
	if _, msg := r.errorPayload(t); r.status != 400 || msg != "Expand with $ref is only supported on lookup type navigation property." {
		t.Fatalf("collection $ref: %d %s", r.status, msg)
	}
}
