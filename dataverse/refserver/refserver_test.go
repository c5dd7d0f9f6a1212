package refserver

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func TestAuthRequiresBearerToken(t *testing.T) {
	e := newTestEnv(t, Options{Token: "pinned"})
	r := e.do("GET", "accounts", nil, "Authorization:")
	mustStatus(t, r, http.StatusUnauthorized)
	if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer authorization_uri=") {
		t.Errorf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
	}
	mustStatus(t, e.do("GET", "accounts", nil), http.StatusUnauthorized) // wrong token
	mustStatus(t, e.do("GET", "accounts", nil, "Authorization: Bearer pinned"), http.StatusOK)
}

func TestStandardHeaders(t *testing.T) {
	e := newTestEnv(t, Options{DOPHint: 7})
	r := mustStatus(t, e.do("GET", "WhoAmI", nil), http.StatusOK)
	if r.header.Get("OData-Version") != "4.0" || r.header.Get("x-ms-dop-hint") != "7" || r.header.Get("REQ_ID") == "" {
		t.Errorf("headers: %v", r.header)
	}
	m := r.json(t)
	for _, k := range []string{"UserId", "BusinessUnitId", "OrganizationId"} {
		if m[k] == nil {
			t.Errorf("WhoAmI lacks %s: %s", k, r.body)
		}
	}
}

func TestUnknownSegment(t *testing.T) {
	e := newTestEnv(t, Options{})
	r := mustStatus(t, e.do("GET", "Accounts", nil), http.StatusNotFound) // names are case-sensitive
	code, msg := r.errorPayload(t)
	if code != "0x8006088a" || msg != "Resource not found for the segment 'Accounts'." {
		t.Errorf("got %s %q", code, msg)
	}
}

func TestServiceDocumentAndMetadata(t *testing.T) {
	e := newTestEnv(t, Options{})
	names := map[string]bool{}
	for _, v := range mustStatus(t, e.do("GET", "", nil), 200).values(t) {
		names[v["name"].(string)] = true
	}
	for _, want := range []string{"incidents", "accounts", "entitlements", "knowledgearticles", "slas", "queues"} {
		if !names[want] {
			t.Errorf("service document lacks %s", want)
		}
	}
	r := mustStatus(t, e.do("GET", "$metadata", nil), 200)
	var doc struct {
		DataServices struct {
			Schema struct {
				EntityTypes []struct {
					Name string `xml:"Name,attr"`
					Key  struct {
						Ref struct {
							Name string `xml:"Name,attr"`
						} `xml:"PropertyRef"`
					} `xml:"Key"`
					Nav []struct {
						Name string `xml:"Name,attr"`
					} `xml:"NavigationProperty"`
				} `xml:"EntityType"`
			} `xml:"Schema"`
		} `xml:"DataServices"`
	}
	if err := xml.Unmarshal(r.body, &doc); err != nil {
		t.Fatalf("$metadata is not valid XML: %v", err)
	}
	found := false
	for _, et := range doc.DataServices.Schema.EntityTypes {
		if et.Name == "incident" {
			found = true
			if et.Key.Ref.Name != "incidentid" {
				t.Errorf("incident key = %q", et.Key.Ref.Name)
			}
			navs := map[string]bool{}
			for _, n := range et.Nav {
				navs[n.Name] = true
			}
			if !navs["customerid_account"] || !navs["customerid_contact"] {
				t.Errorf("incident navigation properties: %v", navs)
			}
		}
	}
	if !found {
		t.Error("$metadata lacks incident")
	}
}

func TestEntityDefinitions(t *testing.T) {
	e := newTestEnv(t, Options{})
	m := mustStatus(t, e.do("GET", "EntityDefinitions(LogicalName='incident')?$select=LogicalName,EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute&$expand=Attributes($select=LogicalName,AttributeType)", nil), 200).json(t)
	if m["EntitySetName"] != "incidents" || m["PrimaryIdAttribute"] != "incidentid" || m["PrimaryNameAttribute"] != "title" || m["MetadataId"] == nil {
		t.Errorf("entity metadata: %v", m)
	}
	attrs, _ := m["Attributes"].([]any)
	types := map[string]string{}
	for _, a := range attrs {
		am := a.(map[string]any)
		types[am["LogicalName"].(string)] = am["AttributeType"].(string)
	}
	if types["customerid"] != "Customer" || types["prioritycode"] != "Picklist" || types["title"] != "String" {
		t.Errorf("attribute types: %v", types)
	}
	list := mustStatus(t, e.do("GET", "EntityDefinitions?$select=LogicalName&$filter=LogicalName eq 'account'", nil), 200).values(t)
	if len(list) != 1 || list[0]["LogicalName"] != "account" {
		t.Errorf("filtered EntityDefinitions: %v", list)
	}
	picklists := mustStatus(t, e.do("GET", "EntityDefinitions(LogicalName='incident')/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet", nil), 200).values(t)
	var prio map[string]any
	for _, p := range picklists {
		if p["LogicalName"] == "prioritycode" {
			prio = p
		}
	}
	if prio == nil {
		t.Fatalf("prioritycode missing from picklists: %v", picklists)
	}
	opts := prio["OptionSet"].(map[string]any)["Options"].([]any)
	if len(opts) != 3 {
		t.Errorf("prioritycode options: %v", opts)
	}
	mustStatus(t, e.do("GET", "EntityDefinitions(LogicalName='nosuch')", nil), http.StatusNotFound)
}

func seedAccount(e *testEnv, name, number string) string {
	return e.createID("accounts", map[string]any{"name": name, "accountnumber": number})
}

func TestCreateRetrieveAndEtag(t *testing.T) {
	e := newTestEnv(t, Options{})
	acc := seedAccount(e, "Contoso", "A-1")
	r := mustStatus(t, e.do("POST", "incidents?$select=title,ticketnumber,prioritycode", map[string]any{
		"title": "Printer on fire", "customerid_account@odata.bind": "/accounts(" + acc + ")",
	}, "Prefer: return=representation"), http.StatusCreated)
	if r.header.Get("Preference-Applied") != "return=representation" {
		t.Errorf("Preference-Applied = %q", r.header.Get("Preference-Applied"))
	}
	inc := r.json(t)
	if inc["title"] != "Printer on fire" || !strings.HasPrefix(inc["ticketnumber"].(string), "CAS-") || inc["prioritycode"] != float64(2) {
		t.Errorf("created case: %v", inc)
	}
	if !strings.HasSuffix(inc["@odata.context"].(string), "$metadata#incidents(title,ticketnumber,prioritycode)/$entity") {
		t.Errorf("context: %v", inc["@odata.context"])
	}
	id := inc["incidentid"].(string)
	got := mustStatus(t, e.do("GET", "incidents("+id+")?$select=title,_customerid_value", nil), 200)
	g := got.json(t)
	if g["_customerid_value"] != acc || g["@odata.etag"] == nil || got.header.Get("ETag") != g["@odata.etag"] {
		t.Errorf("retrieved: %v (ETag %q)", g, got.header.Get("ETag"))
	}
	// Conditional GET.
	mustStatus(t, e.do("GET", "incidents("+id+")?$select=title", nil, "If-None-Match: "+g["@odata.etag"].(string)), http.StatusNotModified)
	// Each write changes the etag.
	mustStatus(t, e.do("PATCH", "incidents("+id+")", map[string]any{"description": "smoke"}), http.StatusNoContent)
	g2 := mustStatus(t, e.do("GET", "incidents("+id+")?$select=title", nil), 200).json(t)
	if g2["@odata.etag"] == g["@odata.etag"] {
		t.Error("etag did not change after an update")
	}
	// By alternate key.
	a := mustStatus(t, e.do("GET", "accounts(accountnumber='A-1')?$select=name", nil), 200).json(t)
	if a["name"] != "Contoso" {
		t.Errorf("by key: %v", a)
	}
	nf := mustStatus(t, e.do("GET", "incidents(00000000-0000-0000-0000-000000000001)", nil), http.StatusNotFound)
	if code, msg := nf.errorPayload(t); code != codeObjectDoesNotExist || !strings.Contains(msg, "Does Not Exist") {
		t.Errorf("not found: %s %s", code, msg)
	}
}

func TestWriteValidationErrors(t *testing.T) {
	e := newTestEnv(t, Options{})
	acc := seedAccount(e, "Fabrikam", "A-2")
	bind := "/accounts(" + acc + ")"
	cases := []struct {
		name   string
		set    string
		body   map[string]any
		status int
		code   string
		msg    string
	}{
		{"unknown property", "accounts", map[string]any{"name": "x", "nosuch": 1}, 400, "0x80060888", "The property 'nosuch' does not exist on type 'Microsoft.Dynamics.CRM.account'"},
		{"wrong type", "incidents", map[string]any{"title": "x", "prioritycode": "high", "customerid_account@odata.bind": bind}, 400, "0x0", "Cannot convert the literal 'high' to the expected type 'Edm.Int32'."},
		{"too long", "incidents", map[string]any{"title": strings.Repeat("x", 201), "customerid_account@odata.bind": bind}, 400, "0x80044331", "exceeded the maximum allowed length of '200'"},
		{"choice out of range", "incidents", map[string]any{"title": "x", "prioritycode": 9, "customerid_account@odata.bind": bind}, 400, "0x8004431a", "The value 9 of 'prioritycode' on record of type 'incident' is outside the valid range."},
		{"missing customer", "incidents", map[string]any{"title": "x"}, 400, codeMissingRequired, "You should specify a parent contact or account."},
		{"bind to missing record", "incidents", map[string]any{"title": "x", "customerid_account@odata.bind": "/accounts(00000000-0000-0000-0000-00000000abcd)"}, 404, codeObjectDoesNotExist, "account With Id = 00000000-0000-0000-0000-00000000abcd Does Not Exist"},
		{"bind to wrong set", "incidents", map[string]any{"title": "x", "customerid_account@odata.bind": "/contacts(" + acc + ")"}, 400, "0x0", "is not a valid reference"},
		{"undeclared navigation", "incidents", map[string]any{"title": "x", "customerid@odata.bind": bind}, 400, "0x0", "An undeclared property 'customerid'"},
		{"lookup written as a value", "accounts", map[string]any{"name": "x", "primarycontactid": acc}, 400, "0x0", "navigation property 'primarycontactid'"},
		{"status not in state", "incidents", map[string]any{"title": "x", "customerid_account@odata.bind": bind, "statecode": 0, "statuscode": 6}, 400, codeInvalidArgument, "is not a valid status code"},
		{"resolve by create", "incidents", map[string]any{"title": "x", "customerid_account@odata.bind": bind, "statecode": 1}, 400, codeInvalidStateChange, "use the CloseIncidentRequest message"},
		{"malformed json", "accounts", nil, 400, "0x0", "Invalid JSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body any = c.body
			if c.body == nil {
				body = `{"name":`
			}
			r := mustStatus(t, e.do("POST", c.set, body), c.status)
			code, msg := r.errorPayload(t)
			if code != c.code || !strings.Contains(msg, c.msg) {
				t.Errorf("got %s %q, want %s containing %q", code, msg, c.code, c.msg)
			}
		})
	}
	// Nothing from the failed requests was written.
	if n := string(mustStatus(t, e.do("GET", "incidents/$count", nil), 200).body); n != "0" {
		t.Errorf("failed creates left %s incidents", n)
	}
}

func TestUpsertAndConditionalWrites(t *testing.T) {
	e := newTestEnv(t, Options{})
	const id = "3f1c2b8e-6a1d-4b9e-9a0e-1c2d3e4f5a6b"
	// Upsert by primary key: creates, then updates.
	r := mustStatus(t, e.do("PATCH", "accounts("+id+")", map[string]any{"name": "Upserted"}), http.StatusNoContent)
	if !strings.HasSuffix(r.header.Get("OData-EntityId"), "accounts("+id+")") {
		t.Errorf("OData-EntityId = %q", r.header.Get("OData-EntityId"))
	}
	mustStatus(t, e.do("PATCH", "accounts("+id+")", map[string]any{"name": "Upserted again"}, "Prefer: return=representation"), http.StatusOK)
	// Upsert by alternate key: key values come from the URL.
	mustStatus(t, e.do("PATCH", "accounts(accountnumber='K-9')", map[string]any{"name": "By key"}, "Prefer: return=representation"), http.StatusCreated)
	k := mustStatus(t, e.do("GET", "accounts(accountnumber='K-9')?$select=name,accountnumber", nil), 200).json(t)
	if k["accountnumber"] != "K-9" || k["name"] != "By key" {
		t.Errorf("upsert by key: %v", k)
	}
	mustStatus(t, e.do("PATCH", "accounts(accountnumber='K-9')", map[string]any{"name": "By key 2"}), http.StatusNoContent)
	if n := string(mustStatus(t, e.do("GET", "accounts/$count", nil), 200).body); n != "2" {
		t.Errorf("accounts after upserts = %s, want 2", n)
	}
	// If-Match: * prevents create.
	nf := mustStatus(t, e.do("PATCH", "accounts(accountnumber='NOPE')", map[string]any{"name": "x"}, "If-Match: *"), http.StatusNotFound)
	nf.errorPayload(t)
	// If-None-Match: * prevents update.
	pf := mustStatus(t, e.do("PATCH", "accounts("+id+")", map[string]any{"name": "x"}, "If-None-Match: *"), http.StatusPreconditionFailed)
	if _, msg := pf.errorPayload(t); msg != "A record with matching key values already exists." {
		t.Errorf("If-None-Match message %q", msg)
	}
	// Optimistic concurrency.
	cur := mustStatus(t, e.do("GET", "accounts("+id+")?$select=name", nil), 200).json(t)["@odata.etag"].(string)
	stale := mustStatus(t, e.do("PATCH", "accounts("+id+")", map[string]any{"name": "x"}, `If-Match: W/"1"`), http.StatusPreconditionFailed)
	if code, msg := stale.errorPayload(t); code != codeConcurrency || msg != "The version of the existing record doesn't match the RowVersion property provided." {
		t.Errorf("stale etag: %s %q", code, msg)
	}
	mustStatus(t, e.do("PATCH", "accounts("+id+")", map[string]any{"name": "fresh"}, "If-Match: "+cur), http.StatusNoContent)
	mustStatus(t, e.do("DELETE", "accounts("+id+")", nil, "If-Match: "+cur), http.StatusPreconditionFailed)
	// Alternate keys are unique (case-insensitively, as SQL Server collation is).
	dup := mustStatus(t, e.do("POST", "accounts", map[string]any{"name": "dup", "accountnumber": "k-9"}), http.StatusPreconditionFailed)
	if code, msg := dup.errorPayload(t); code != codeDuplicateRecord || !strings.Contains(msg, "accountnumber") {
		t.Errorf("duplicate key: %s %q", code, msg)
	}
	// Duplicate primary key on create.
	mustStatus(t, e.do("POST", "accounts", map[string]any{"name": "dup", "accountid": id}), http.StatusPreconditionFailed)
	// Delete, then 404.
	mustStatus(t, e.do("DELETE", "accounts("+id+")", nil), http.StatusNoContent)
	mustStatus(t, e.do("DELETE", "accounts("+id+")", nil), http.StatusNotFound)
	mustStatus(t, e.do("DELETE", "accounts(accountnumber='K-9')", nil), http.StatusNoContent)
}

func TestPolymorphicCustomerAndContactName(t *testing.T) {
	e := newTestEnv(t, Options{})
	acc := seedAccount(e, "Northwind", "N-1")
	con := e.createID("contacts", map[string]any{"firstname": "Ada", "lastname": "Byron", "parentcustomerid_account@odata.bind": "/accounts(" + acc + ")"})
	c := mustStatus(t, e.do("GET", "contacts("+con+")?$select=fullname,_parentcustomerid_value", nil), 200).json(t)
	if c["fullname"] != "Ada Byron" || c["_parentcustomerid_value"] != acc {
		t.Errorf("contact: %v", c)
	}
	e.createID("incidents", map[string]any{"title": "For a contact", "customerid_contact@odata.bind": "/contacts(" + con + ")"})
	e.createID("incidents", map[string]any{"title": "For an account", "customerid_account@odata.bind": "/accounts(accountnumber='N-1')"})
	rows := mustStatus(t, e.do("GET", "incidents?$select=title&$orderby=title&$expand=customerid_account($select=name),customerid_contact($select=fullname)", nil,
		`Prefer: odata.include-annotations="*"`), 200).values(t)
	if len(rows) != 2 {
		t.Fatalf("rows: %v", rows)
	}
	// "For a contact" sorts before "For an account".
	if rows[0]["customerid_contact"] == nil || rows[0]["customerid_account"] != nil {
		t.Errorf("contact case expansions: %v", rows[0])
	}
	if rows[1]["customerid_account"] == nil || rows[1]["customerid_contact"] != nil {
		t.Errorf("account case expansions: %v", rows[1])
	}
	full := mustStatus(t, e.do("GET", "incidents?$select=title,_customerid_value&$filter=title eq 'for a contact'", nil, `Prefer: odata.include-annotations="*"`), 200).values(t)
	if len(full) != 1 || full[0]["_customerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] != "contact" ||
		full[0]["_customerid_value@OData.Community.Display.V1.FormattedValue"] != "Ada Byron" ||
		full[0]["_customerid_value@Microsoft.Dynamics.CRM.associatednavigationproperty"] != "customerid_contact" {
		t.Errorf("lookup annotations: %v", full)
	}
	// Without the Prefer header there are no annotations.
	plain := mustStatus(t, e.do("GET", "incidents?$select=prioritycode&$top=1", nil), 200).values(t)
	for k := range plain[0] {
		if strings.Contains(k, "@OData.Community") {
			t.Errorf("unrequested annotation %s", k)
		}
	}
	// Clearing a lookup with null bind, then setting it again with $ref.
	mustStatus(t, e.do("PATCH", "contacts("+con+")", map[string]any{"parentcustomerid_account@odata.bind": nil}), http.StatusNoContent)
	c = mustStatus(t, e.do("GET", "contacts("+con+")?$select=_parentcustomerid_value", nil), 200).json(t)
	if c["_parentcustomerid_value"] != nil {
		t.Errorf("lookup not cleared: %v", c)
	}
	mustStatus(t, e.do("PUT", "contacts("+con+")/parentcustomerid_account/$ref", map[string]any{"@odata.id": e.api + "accounts(" + acc + ")"}), http.StatusNoContent)
	c = mustStatus(t, e.do("GET", "contacts("+con+")/_parentcustomerid_value", nil), 200).json(t)
	if c["value"] != acc {
		t.Errorf("$ref set: %v", c)
	}
}

// queryFixture creates 30 accounts with predictable values.
func queryFixture(e *testEnv) {
	for i := 0; i < 30; i++ {
		body := map[string]any{
			"name":              fmt.Sprintf("Account %02d", i),
			"accountnumber":     fmt.Sprintf("Q-%02d", i),
			"numberofemployees": i * 10,
		}
		if i%3 == 0 {
			body["telephone1"] = "555-01" + fmt.Sprint(i)
		}
		e.createID("accounts", body)
	}
}

func names(rows []map[string]any) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r["name"].(string))
	}
	return out
}

func TestQueryOptions(t *testing.T) {
	e := newTestEnv(t, Options{})
	queryFixture(e)
	q := func(query string) []map[string]any {
		t.Helper()
		return mustStatus(t, e.do("GET", "accounts?"+query, nil), 200).values(t)
	}
	enc := func(s string) string { return url.PathEscape(s) }
	cases := []struct {
		query string
		want  []string
	}{
		{"$select=name&$filter=" + enc("numberofemployees ge 250") + "&$orderby=name desc", []string{"Account 29", "Account 28", "Account 27", "Account 26", "Account 25"}},
		{"$select=name&$filter=" + enc("startswith(name,'account 0') and numberofemployees lt 30") + "&$orderby=name", []string{"Account 00", "Account 01", "Account 02"}},
		{"$select=name&$filter=" + enc("contains(name,'1') and not contains(name,'Account 1')") + "&$orderby=name", []string{"Account 01", "Account 21"}},
		{"$select=name&$filter=" + enc("endswith(name,'5') or name eq 'ACCOUNT 07'") + "&$orderby=name", []string{"Account 05", "Account 07", "Account 15", "Account 25"}},
		{"$select=name&$filter=" + enc("Microsoft.Dynamics.CRM.In(PropertyName='accountnumber',PropertyValues=['Q-03','Q-04'])") + "&$orderby=name", []string{"Account 03", "Account 04"}},
		{"$select=name&$filter=" + enc("Microsoft.Dynamics.CRM.Between(PropertyName='numberofemployees',PropertyValues=['40','60'])") + "&$orderby=name", []string{"Account 04", "Account 05", "Account 06"}},
		{"$select=name&$filter=" + enc("telephone1 ne null and numberofemployees gt 200") + "&$orderby=name", []string{"Account 21", "Account 24", "Account 27"}},
		{"$select=name&$filter=" + enc("contains(name,'unt 1_')") + "&$orderby=name&$top=2", []string{"Account 10", "Account 11"}}, // SQL wildcard honoured
		{"$select=name&$orderby=telephone1 desc,name&$top=3", []string{"Account 09", "Account 06", "Account 03"}},
	}
	for _, c := range cases {
		got := names(q(c.query))
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%s\n got  %v\n want %v", c.query, got, c.want)
		}
	}
	r := mustStatus(t, e.do("GET", "accounts?$select=name&$count=true&$top=2", nil), 200).json(t)
	if r["@odata.count"] != float64(30) || len(r["value"].([]any)) != 2 {
		t.Errorf("$count with $top: %v", r["@odata.count"])
	}
	if _, ok := r["@odata.nextLink"]; ok {
		t.Error("$top result offered a next page")
	}
	if n := string(mustStatus(t, e.do("GET", "accounts/$count?$filter="+enc("numberofemployees lt 50"), nil), 200).body); n != "5" {
		t.Errorf("/$count with filter = %s", n)
	}
	// Selected columns plus key and etag only.
	one := q("$select=name&$top=1")[0]
	keys := []string{}
	for k := range one {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if strings.Join(keys, ",") != "@odata.etag,accountid,name" {
		t.Errorf("projection keys: %v", keys)
	}
}

func TestQueryErrors(t *testing.T) {
	e := newTestEnv(t, Options{})
	enc := url.PathEscape
	cases := []struct {
		query, code, msg string
	}{
		{"$skip=5", "0x80060888", "$skip"},
		{"$filter=" + enc("name eq"), "0x80060888", "at position 7 in 'name eq'"},
		{"$filter=" + enc("nosuch eq 1"), "0x0", "Could not find a property named 'nosuch' on type 'Microsoft.Dynamics.CRM.account'."},
		{"$select=nosuch", "0x0", "Could not find a property named 'nosuch'"},
		{"$filter=" + enc("name eq 5"), "0x0", "A binary operator with incompatible types was detected. Found operand types 'Edm.String' and 'Edm.Int32' for operator kind 'Equal'."},
		{"$orderby=nosuch", "0x0", "Could not find a property named 'nosuch'"},
		{"$top=5001", "0x80060888", "The limit of '5000' for $top query has been exceeded."},
		{"$expand=nosuch", "0x0", "Could not find a property named 'nosuch'"},
		{"$skiptoken=" + enc("<cookie pagenumber=\"2\" pagingcookie=\"garbage\" />"), "0x80060888", "$skiptoken"},
	}
	for _, c := range cases {
		r := e.do("GET", "accounts?"+c.query, nil)
		if r.status != 400 {
			t.Errorf("%s: status %d: %s", c.query, r.status, r.body)
			continue
		}
		code, msg := r.errorPayload(t)
		if code != c.code || !strings.Contains(msg, c.msg) {
			t.Errorf("%s: got %s %q, want %s containing %q", c.query, code, msg, c.code, c.msg)
		}
	}
}

// readAllPages follows nextLinks and returns every row and the page count.
func readAllPages(t *testing.T, e *testEnv, first string, pageSize int, between func(page int)) ([]map[string]any, int) {
	t.Helper()
	var all []map[string]any
	link := first
	pages := 0
	for link != "" {
		r := mustStatus(t, e.do("GET", link, nil, fmt.Sprintf("Prefer: odata.maxpagesize=%d", pageSize)), 200)
		if want := fmt.Sprintf("odata.maxpagesize=%d", min(pageSize, MaxPageSize)); r.header.Get("Preference-Applied") != want {
			t.Fatalf("Preference-Applied = %q, want %q", r.header.Get("Preference-Applied"), want)
		}
		m := r.json(t)
		vals := m["value"].([]any)
		if len(vals) > pageSize {
			t.Fatalf("page of %d rows exceeds %d", len(vals), pageSize)
		}
		for _, v := range vals {
			all = append(all, v.(map[string]any))
		}
		pages++
		link, _ = m["@odata.nextLink"].(string)
		if link != "" {
			u, _ := url.Parse(link)
			if !strings.Contains(u.Query().Get("$skiptoken"), "pagingcookie=") {
				t.Fatalf("nextLink without a paging cookie: %s", link)
			}
		}
		if between != nil && link != "" {
			between(pages)
		}
	}
	return all, pages
}

func TestKeysetPagingSurvivesConcurrentChanges(t *testing.T) {
	e := newTestEnv(t, Options{})
	queryFixture(e)
	// Order by a non-unique column descending, with NULLs, to exercise the
	// full keyset comparison.
	first := "accounts?$select=name,telephone1&$orderby=telephone1 desc,name"
	before, pages := readAllPages(t, e, first, 7, nil)
	if len(before) != 30 || pages != 5 {
		t.Fatalf("read %d rows in %d pages, want 30 in 5", len(before), pages)
	}
	// Now page again while inserting and deleting between pages: every
	// record that existed throughout must appear exactly once.
	deleted := map[string]bool{}
	after, _ := readAllPages(t, e, first, 7, func(page int) {
		e.createID("accounts", map[string]any{"name": fmt.Sprintf("Inserted %d", page)})
		victim := before[len(before)-page]["name"].(string)
		id := before[len(before)-page]["accountid"].(string)
		mustStatus(t, e.do("DELETE", "accounts("+id+")", nil), http.StatusNoContent)
		deleted[victim] = true
	})
	seen := map[string]int{}
	for _, r := range after {
		seen[r["name"].(string)]++
	}
	for _, r := range before {
		n := r["name"].(string)
		if !deleted[n] && seen[n] != 1 {
			t.Errorf("%s seen %d times", n, seen[n])
		}
	}
	for n, c := range seen {
		if c > 1 {
			t.Errorf("%s duplicated", n)
		}
	}
}

func TestMaxPageSizeIsCapped(t *testing.T) {
	e := newTestEnv(t, Options{})
	e.createID("accounts", map[string]any{"name": "only"})
	r := mustStatus(t, e.do("GET", "accounts?$select=name", nil, "Prefer: odata.maxpagesize=9000"), 200)
	if r.header.Get("Preference-Applied") != "odata.maxpagesize=5000" {
		t.Errorf("Preference-Applied = %q", r.header.Get("Preference-Applied"))
	}
}

func TestFormattedValues(t *testing.T) {
	e := newTestEnv(t, Options{})
	acc := e.createID("accounts", map[string]any{"name": "Litware", "numberofemployees": 12345})
	inc := e.createID("incidents", map[string]any{"title": "Slow", "prioritycode": 3, "customerid_account@odata.bind": "/accounts(" + acc + ")"})
	r := mustStatus(t, e.do("GET", "incidents("+inc+")?$select=prioritycode,statecode,statuscode", nil, `Prefer: odata.include-annotations="OData.Community.Display.V1.FormattedValue"`), 200).json(t)
	if r["prioritycode@OData.Community.Display.V1.FormattedValue"] != "Low" || r["statecode@OData.Community.Display.V1.FormattedValue"] != "Active" || r["statuscode@OData.Community.Display.V1.FormattedValue"] != "In Progress" {
		t.Errorf("formatted values: %v", r)
	}
	a := mustStatus(t, e.do("GET", "accounts("+acc+")?$select=numberofemployees", nil, `Prefer: odata.include-annotations="*"`), 200).json(t)
	if a["numberofemployees@OData.Community.Display.V1.FormattedValue"] != "12,345" {
		t.Errorf("number formatting: %v", a)
	}
}

func TestCloseIncidentAndClosedCaseRules(t *testing.T) {
	e := newTestEnv(t, Options{})
	acc := seedAccount(e, "Adatum", "AD-1")
	inc := e.createID("incidents", map[string]any{"title": "To resolve", "customerid_account@odata.bind": "/accounts(" + acc + ")"})
	r := mustStatus(t, e.do("PATCH", "incidents("+inc+")", map[string]any{"statecode": 1, "statuscode": 5}), 400)
	if code, _ := r.errorPayload(t); code != codeInvalidStateChange {
		t.Errorf("resolve by update: %s", r.body)
	}
	mustStatus(t, e.do("POST", "CloseIncident", map[string]any{
		"IncidentResolution": map[string]any{"subject": "Fixed", "incidentid@odata.bind": "/incidents(" + inc + ")", "@odata.type": "Microsoft.Dynamics.CRM.incidentresolution"},
		"Status":             5,
	}), http.StatusNoContent)
	got := mustStatus(t, e.do("GET", "incidents("+inc+")?$select=statecode,statuscode", nil), 200).json(t)
	if got["statecode"] != float64(1) || got["statuscode"] != float64(5) {
		t.Errorf("after CloseIncident: %v", got)
	}
	res := mustStatus(t, e.do("GET", "incidentresolutions?$select=subject,_incidentid_value", nil), 200).values(t)
	if len(res) != 1 || res[0]["_incidentid_value"] != inc {
		t.Errorf("resolution records: %v", res)
	}
	mustStatus(t, e.do("PATCH", "incidents("+inc+")", map[string]any{"title": "edit"}), 400)
	mustStatus(t, e.do("POST", "CloseIncident", map[string]any{
		"IncidentResolution": map[string]any{"subject": "Again", "incidentid@odata.bind": "/incidents(" + inc + ")"}, "Status": 5,
	}), 400)
	// Reactivation is allowed, and cancelling works by update.
	mustStatus(t, e.do("PATCH", "incidents("+inc+")", map[string]any{"statecode": 0, "statuscode": 1}), http.StatusNoContent)
	mustStatus(t, e.do("PATCH", "incidents("+inc+")", map[string]any{"statecode": 2, "statuscode": 6}), http.StatusNoContent)
}

func TestCascadeDeleteOfEntitlementChannels(t *testing.T) {
	e := newTestEnv(t, Options{})
	acc := seedAccount(e, "Tailspin", "T-1")
	ent := e.createID("entitlements", map[string]any{"name": "Gold", "startdate": "2026-01-01", "enddate": "2026-12-31", "customerid_account@odata.bind": "/accounts(" + acc + ")"})
	e.createID("entitlementchannels", map[string]any{"name": "Phone", "channel": 1, "entitlementid@odata.bind": "/entitlements(" + ent + ")"})
	mustStatus(t, e.do("DELETE", "entitlements("+ent+")", nil), http.StatusNoContent)
	if n := string(mustStatus(t, e.do("GET", "entitlementchannels/$count", nil), 200).body); n != "0" {
		t.Errorf("channels left after deleting their entitlement: %s", n)
	}
	bad := mustStatus(t, e.do("POST", "entitlements", map[string]any{"name": "Backwards", "startdate": "2026-05-01", "enddate": "2026-01-01", "customerid_account@odata.bind": "/accounts(" + acc + ")"}), 400)
	bad.errorPayload(t)
}

func TestPropertyEndpoints(t *testing.T) {
	e := newTestEnv(t, Options{})
	acc := seedAccount(e, "Proseware", "P-1")
	v := mustStatus(t, e.do("GET", "accounts("+acc+")/name", nil), 200).json(t)
	if v["value"] != "Proseware" {
		t.Errorf("property GET: %v", v)
	}
	mustStatus(t, e.do("PUT", "accounts("+acc+")/name", map[string]any{"value": "Proseware Inc"}), http.StatusNoContent)
	raw := mustStatus(t, e.do("GET", "accounts("+acc+")/name/$value", nil), 200)
	if string(raw.body) != "Proseware Inc" {
		t.Errorf("$value = %q", raw.body)
	}
	mustStatus(t, e.do("DELETE", "accounts("+acc+")/name", nil), http.StatusNoContent)
	mustStatus(t, e.do("GET", "accounts("+acc+")/name", nil), http.StatusNoContent)
}

func TestPersistenceAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dv.db")
	e := newTestEnv(t, Options{DataPath: path})
	id := seedAccount(e, "Durable", "D-1")
	etag1 := mustStatus(t, e.do("GET", "accounts("+id+")", nil), 200).json(t)["@odata.etag"]
	e.hs.Close()
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	e2 := newTestEnv(t, Options{DataPath: path})
	got := mustStatus(t, e2.do("GET", "accounts(accountnumber='D-1')?$select=name", nil), 200).json(t)
	if got["name"] != "Durable" {
		t.Fatalf("after restart: %v", got)
	}
	mustStatus(t, e2.do("PATCH", "accounts("+id+")", map[string]any{"name": "Durable 2"}), http.StatusNoContent)
	etag2 := mustStatus(t, e2.do("GET", "accounts("+id+")", nil), 200).json(t)["@odata.etag"]
	if etag1 == etag2 {
		t.Error("version counter restarted: etag reused after restart")
	}
}

func TestLoadSeed(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("01-accounts.json", `[{"accountid":"11111111-1111-1111-1111-111111111111","name":"Seed Co","accountnumber":"S-1"}]`)
	write("02-incidents.json", `[{"incidentid":"22222222-2222-2222-2222-222222222222","title":"Seeded","customerid_account@odata.bind":"/accounts(11111111-1111-1111-1111-111111111111)","overriddencreatedon":"2024-02-03T04:05:06Z"}]`)
	e := newTestEnv(t, Options{})
	st, err := e.srv.LoadSeed(t.Context(), dir)
	if err != nil || st.Created != 2 || st.Files != 2 {
		t.Fatalf("LoadSeed = %+v, %v", st, err)
	}
	st, err = e.srv.LoadSeed(t.Context(), dir)
	if err != nil || st.Created != 0 || st.Existing != 2 {
		t.Fatalf("second LoadSeed = %+v, %v", st, err)
	}
	inc := mustStatus(t, e.do("GET", "incidents(22222222-2222-2222-2222-222222222222)?$select=createdon", nil), 200).json(t)
	if inc["createdon"] != "2024-02-03T04:05:06Z" {
		t.Errorf("overriddencreatedon not honoured: %v", inc)
	}
	write("03-incidents.json", `[{"title":"no customer"}]`)
	if _, err := e.srv.LoadSeed(t.Context(), dir); err == nil || !strings.Contains(err.Error(), "03-incidents.json") {
		t.Errorf("bad seed error = %v", err)
	}
}

func TestOwnerBindsToUserOrTeam(t *testing.T) {
	e := newTestEnv(t, Options{})
	team := e.createID("teams", map[string]any{"name": "Tier 2"})
	q := e.createID("queues", map[string]any{"name": "Escalations", "ownerid@odata.bind": "/teams(" + team + ")"})
	r := mustStatus(t, e.do("GET", "queues("+q+")?$select=_ownerid_value", nil, `Prefer: odata.include-annotations="*"`), 200).json(t)
	if r["_ownerid_value"] != team || r["_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] != "team" ||
		r["_ownerid_value@Microsoft.Dynamics.CRM.associatednavigationproperty"] != "ownerid" {
		t.Errorf("team owner: %v", r)
	}
	// Without a bind the caller owns the record.
	q2 := e.createID("queues", map[string]any{"name": "Default"})
	me := mustStatus(t, e.do("GET", "WhoAmI", nil), 200).json(t)["UserId"]
	r = mustStatus(t, e.do("GET", "queues("+q2+")?$select=_ownerid_value", nil), 200).json(t)
	if r["_ownerid_value"] != me {
		t.Errorf("default owner %v, want caller %v", r["_ownerid_value"], me)
	}
}

func TestShippedSeedLoads(t *testing.T) {
	e := newTestEnv(t, Options{})
	st, err := e.srv.LoadSeed(t.Context(), "../../testdata/dataverse/seed")
	if err != nil {
		t.Fatal(err)
	}
	count := func(set, filter string) int {
		path := set + "/$count"
		if filter != "" {
			path += "?$filter=" + url.PathEscape(filter)
		}
		var n int
		fmt.Sscan(string(mustStatus(t, e.do("GET", path, nil), 200).body), &n)
		return n
	}
	if count("incidents", "") < 300 || count("accounts", "") < 40 || count("knowledgearticles", "") < 20 || count("entitlements", "") < 20 {
		t.Errorf("seed too small: %+v", st)
	}
	resolved := count("incidents", "statecode eq 1")
	if resolved == 0 || count("incidentresolutions", "") != resolved {
		t.Errorf("%d resolved cases but %d resolutions", resolved, count("incidentresolutions", ""))
	}
	if n := count("incidents", "_customerid_value eq null"); n != 0 {
		t.Errorf("%d seeded cases without a customer", n)
	}
}

func TestCountIsCappedAt5000(t *testing.T) {
	e := newTestEnv(t, Options{})
	populateIncidents(t, e.srv, 5003)
	if n := string(mustStatus(t, e.do("GET", "incidents/$count", nil), 200).body); n != "5000" {
		t.Errorf("/$count = %s, want 5000", n)
	}
	r := mustStatus(t, e.do("GET", "incidents?$select=title&$count=true", nil,
		`Prefer: odata.maxpagesize=10,odata.include-annotations="Microsoft.Dynamics.CRM.totalrecordcount,Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"`), 200).json(t)
	if r["@odata.count"] != float64(5000) || r["@Microsoft.Dynamics.CRM.totalrecordcount"] != float64(5000) || r["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] != true {
		t.Errorf("count annotations: count=%v total=%v exceeded=%v", r["@odata.count"], r["@Microsoft.Dynamics.CRM.totalrecordcount"], r["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"])
	}
	if len(r["value"].([]any)) != 10 || r["@odata.nextLink"] == nil {
		t.Errorf("page of %d rows, nextLink %v", len(r["value"].([]any)), r["@odata.nextLink"])
	}
}

func TestDeclaredTablesFromJSON(t *testing.T) {
	reg := schemaWithExtraTable(t)
	e := newTestEnv(t, Options{Registry: reg})
	id := e.createID("dvs_widgets", map[string]any{"dvs_name": "Sprocket", "dvs_size": 3})
	w := mustStatus(t, e.do("GET", "dvs_widgets("+id+")?$select=dvs_name,dvs_size", nil), 200).json(t)
	if w["dvs_name"] != "Sprocket" || w["dvs_size"] != float64(3) {
		t.Errorf("declared table record: %v", w)
	}
	mustStatus(t, e.do("POST", "dvs_widgets", map[string]any{"dvs_name": "x", "dvs_size": 7}), 400)
}

func TestManyToManyAssociations(t *testing.T) {
	e := newTestEnv(t, Options{})
	cfg := e.createID("msdyusd_configurations", map[string]any{"msdyusd_name": "Tier 1"})
	hc1 := e.createID("uii_hostedapplications", map[string]any{"uii_name": "Account"})
	hc2 := e.createID("uii_hostedapplications", map[string]any{"uii_name": "Contact"})
	rel := "msdyusd_configuration_hostedcontrol"
	for _, hc := range []string{hc1, hc2} {
		mustStatus(t, e.do("POST", "msdyusd_configurations("+cfg+")/"+rel+"/$ref", map[string]any{"@odata.id": e.api + "uii_hostedapplications(" + hc + ")"}), http.StatusNoContent)
	}
	dup := mustStatus(t, e.do("POST", "msdyusd_configurations("+cfg+")/"+rel+"/$ref", map[string]any{"@odata.id": e.api + "uii_hostedapplications(" + hc1 + ")"}), http.StatusPreconditionFailed)
	dup.errorPayload(t)
	got := mustStatus(t, e.do("GET", "msdyusd_configurations("+cfg+")/"+rel+"?$select=uii_name&$orderby=uii_name", nil), 200).values(t)
	if len(got) != 2 || got[0]["uii_name"] != "Account" {
		t.Fatalf("related: %v", got)
	}
	// From the other side, and through $expand.
	back := mustStatus(t, e.do("GET", "uii_hostedapplications("+hc2+")/"+rel+"?$select=msdyusd_name", nil), 200).values(t)
	if len(back) != 1 || back[0]["msdyusd_name"] != "Tier 1" {
		t.Errorf("reverse side: %v", back)
	}
	ex := mustStatus(t, e.do("GET", "msdyusd_configurations?$select=msdyusd_name&$expand="+rel+"($select=uii_name)", nil), 200).values(t)
	if items, _ := ex[0][rel].([]any); len(items) != 2 {
		t.Errorf("$expand of N:N: %v", ex)
	}
	mustStatus(t, e.do("DELETE", "msdyusd_configurations("+cfg+")/"+rel+"("+hc1+")/$ref", nil), http.StatusNoContent)
	mustStatus(t, e.do("DELETE", "msdyusd_configurations("+cfg+")/"+rel+"/$ref?$id="+url.QueryEscape(e.api+"uii_hostedapplications("+hc2+")"), nil), http.StatusNoContent)
	if left := mustStatus(t, e.do("GET", "msdyusd_configurations("+cfg+")/"+rel, nil), 200).values(t); len(left) != 0 {
		t.Errorf("after disassociate: %v", left)
	}
	mustStatus(t, e.do("POST", "msdyusd_configurations("+cfg+")/"+rel+"/$ref", map[string]any{"@odata.id": e.api + "uii_hostedapplications(00000000-0000-0000-0000-000000000009)"}), http.StatusNotFound)
}

func TestManyToManyCollectionPages(t *testing.T) {
	e := newTestEnv(t, Options{})
	cfg := e.createID("msdyusd_configurations", map[string]any{"msdyusd_name": "Big"})
	rel := "msdyusd_configuration_hostedcontrol"
	for i := range 7 {
		hc := e.createID("uii_hostedapplications", map[string]any{"uii_name": fmt.Sprintf("Control %d", i)})
		mustStatus(t, e.do("POST", "msdyusd_configurations("+cfg+")/"+rel+"/$ref", map[string]any{"@odata.id": e.api + "uii_hostedapplications(" + hc + ")"}), http.StatusNoContent)
	}
	e.createID("uii_hostedapplications", map[string]any{"uii_name": "Unrelated"})
	all, pages := readAllPages(t, e, "msdyusd_configurations("+cfg+")/"+rel+"?$select=uii_name", 3, nil)
	if len(all) != 7 || pages != 3 {
		t.Fatalf("read %d related rows in %d pages, want 7 in 3", len(all), pages)
	}
}

func TestEntityDefinitionsExpandKeys(t *testing.T) {
	e := newTestEnv(t, Options{})
	m := mustStatus(t, e.do("GET", "EntityDefinitions(LogicalName='account')?$select=LogicalName&$expand=Keys($select=KeyAttributes)", nil), 200).json(t)
	keys, _ := m["Keys"].([]any)
	if len(keys) != 1 || fmt.Sprint(keys[0].(map[string]any)["KeyAttributes"]) != "[accountnumber]" {
		t.Errorf("expanded keys: %v", m)
	}
	if m2 := mustStatus(t, e.do("GET", "EntityDefinitions(LogicalName='account')?$select=LogicalName", nil), 200).json(t); m2["Keys"] != nil {
		t.Errorf("keys returned without $expand: %v", m2)
	}
}

func TestKeyValuesFromURLAreValidated(t *testing.T) {
	e := newTestEnv(t, Options{})
	long := strings.Repeat("k", 21) // accountnumber holds 20 characters
	r := mustStatus(t, e.do("PATCH", "accounts(accountnumber='"+long+"')", map[string]any{"name": "x"}), 400)
	if code, msg := r.errorPayload(t); code != codeValidation || !strings.Contains(msg, "'accountnumber'") {
		t.Errorf("got %s %q", code, msg)
	}
}
