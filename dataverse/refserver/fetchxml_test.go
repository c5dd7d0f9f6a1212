package refserver

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/dvsync/dvsync/dataverse/batchwire"
	"github.com/dvsync/dvsync/dataverse/odata"
)

// fetchEnv seeds ten accounts shaped like the example of
// fetchxml/aggregate-data.md (numberofemployees, city, one without either)
// and contacts as primary contacts of some of them.
func fetchEnv(t *testing.T) *testEnv {
	t.Helper()
	e := newTestEnv(t, Options{})
	rows := []struct {
		name string
		emp  any
		city any
	}{
		{"Example Account", nil, nil},
		{"Contoso Pharmaceuticals (sample)", 1500, "Redmond"},
		{"Fabrikam, Inc. (sample)", 2700, "Lynnwood"},
		{"Blue Yonder Airlines (sample)", 2900, "Los Angeles"},
		{"City Power & Light (sample)", 2900, "Redmond"},
		{"Coho Winery (sample)", 3900, "Phoenix"},
		{"Adventure Works (sample)", 4300, "Santa Cruz"},
		{"Alpine Ski House (sample)", 4800, "Missoula"},
		{"Litware, Inc. (sample)", 6000, "Dallas"},
		{"A. Datum Corporation (sample)", 6200, "Redmond"},
	}
	for i, r := range rows {
		body := map[string]any{"name": r.name, "numberofemployees": r.emp, "address1_city": r.city}
		if i%3 == 1 {
			cid := e.createID("contacts", map[string]any{"firstname": "C", "lastname": fmt.Sprintf("Contact %d", i)})
			body["primarycontactid@odata.bind"] = "/contacts(" + cid + ")"
		}
		e.createID("accounts", body)
	}
	return e
}

func (e *testEnv) get(path string, headers ...string) response {
	e.t.Helper()
	return e.do("GET", path, nil, headers...)
}

func fetchURL(set, xml string) string {
	return set + "?fetchXml=" + url.QueryEscape(xml)
}

func TestFetchXMLAttributesFilterOrder(t *testing.T) {
	e := fetchEnv(t)
	r := mustStatus(t, e.get(fetchURL("accounts", `<fetch>
	  <entity name='account'>
	    <attribute name='name'/>
	    <attribute name='numberofemployees'/>
	    <filter type='or'>
	      <condition attribute='address1_city' operator='eq' value='redmond'/>
	      <filter>
	        <condition attribute='numberofemployees' operator='ge' value='6000'/>
	        <condition attribute='name' operator='like' value='Lit%'/>
	      </filter>
	    </filter>
	    <order attribute='numberofemployees' descending='true'/>
	  </entity>
	</fetch>`)), http.StatusOK)
	got := r.values(t)
	var names []string
	for _, v := range got {
		names = append(names, v["name"].(string))
		if _, ok := v["accountid"]; !ok {
			t.Errorf("primary key missing: %v", v)
		}
		if _, ok := v["address1_city"]; ok {
			t.Errorf("unselected column returned: %v", v)
		}
	}
	want := "A. Datum Corporation (sample)|Litware, Inc. (sample)|City Power & Light (sample)|Contoso Pharmaceuticals (sample)"
	if strings.Join(names, "|") != want {
		t.Fatalf("names = %v, want %s", names, want)
	}
}

func TestFetchXMLOmitsNullsAndAllAttributes(t *testing.T) {
	e := fetchEnv(t)
	got := mustStatus(t, e.get(fetchURL("accounts", `<fetch><entity name='account'><all-attributes/><filter><condition attribute='name' operator='eq' value='Example Account'/></filter></entity></fetch>`)), http.StatusOK).values(t)
	if len(got) != 1 {
		t.Fatalf("got %d rows", len(got))
	}
	if _, ok := got[0]["numberofemployees"]; ok {
		t.Errorf("null column returned: %v", got[0])
	}
	if got[0]["statecode"] != float64(0) || got[0]["@odata.etag"] == nil {
		t.Errorf("all-attributes row lacks statecode or etag: %v", got[0])
	}
}

func TestFetchXMLOperators(t *testing.T) {
	e := fetchEnv(t)
	cases := []struct {
		cond string
		want int
	}{
		{`<condition attribute='numberofemployees' operator='between'><value>2700</value><value>3900</value></condition>`, 4},
		{`<condition attribute='numberofemployees' operator='not-between'><value>2700</value><value>3900</value></condition>`, 5},
		{`<condition attribute='address1_city' operator='in'><value>Dallas</value><value>Phoenix</value></condition>`, 2},
		{`<condition attribute='address1_city' operator='not-in'><value>Redmond</value></condition>`, 6},
		{`<condition attribute='address1_city' operator='null'/>`, 1},
		{`<condition attribute='address1_city' operator='not-null'/>`, 9},
		{`<condition attribute='name' operator='begins-with' value='a'/>`, 3},
		{`<condition attribute='name' operator='ends-with' value='inc. (sample)'/>`, 2},
		{`<condition attribute='name' operator='not-like' value='%(sample)'/>`, 1},
		{`<condition attribute='numberofemployees' operator='ne' value='2900'/>`, 7},
		{`<condition attribute='createdon' operator='today'/>`, 10},
		{`<condition attribute='createdon' operator='last-x-days' value='3'/>`, 10},
		{`<condition attribute='createdon' operator='next-x-days' value='3'/>`, 10},
		{`<condition attribute='createdon' operator='on-or-before' value='2000-01-01'/>`, 0},
		{`<condition attribute='createdon' operator='on-or-after' value='2000-01-01'/>`, 10},
		{`<condition attribute='ownerid' operator='eq-userid'/>`, 10},
		{`<condition attribute='owningbusinessunit' operator='eq-businessid'/>`, 10},
	}
	for _, c := range cases {
		r := e.get(fetchURL("accounts", `<fetch><entity name='account'><attribute name='name'/><filter>`+c.cond+`</filter></entity></fetch>`))
		if r.status != http.StatusOK {
			t.Errorf("%s: status %d: %s", c.cond, r.status, r.body)
			continue
		}
		if n := len(r.values(t)); n != c.want {
			t.Errorf("%s: %d rows, want %d", c.cond, n, c.want)
		}
	}
}

func TestFetchXMLLinkEntity(t *testing.T) {
	e := fetchEnv(t)
	inner := mustStatus(t, e.get(fetchURL("accounts", `<fetch>
	  <entity name='account'>
	    <attribute name='name'/>
	    <link-entity name='contact' from='contactid' to='primarycontactid' link-type='inner' alias='pc'>
	      <attribute name='lastname'/>
	      <filter><condition attribute='lastname' operator='ne' value='Contact 4'/></filter>
	    </link-entity>
	  </entity>
	</fetch>`)), http.StatusOK).values(t)
	if len(inner) != 2 {
		t.Fatalf("inner join: %d rows, want 2: %v", len(inner), inner)
	}
	for _, v := range inner {
		if !strings.HasPrefix(fmt.Sprint(v["pc.lastname"]), "Contact ") {
			t.Errorf("linked column pc.lastname missing: %v", v)
		}
	}
	// Outer join plus a condition on the alias: accounts without a primary
	// contact (the "not exists" pattern of filter-rows.md).
	outer := mustStatus(t, e.get(fetchURL("accounts", `<fetch>
	  <entity name='account'>
	    <attribute name='name'/>
	    <link-entity name='contact' from='contactid' to='primarycontactid' link-type='outer' alias='pc'/>
	    <filter><condition entityname='pc' attribute='contactid' operator='null'/></filter>
	  </entity>
	</fetch>`)), http.StatusOK).values(t)
	if len(outer) != 7 {
		t.Fatalf("outer join: %d rows, want 7", len(outer))
	}
}

func TestFetchXMLPagingCookie(t *testing.T) {
	e := fetchEnv(t)
	prefer := `Prefer: odata.include-annotations="Microsoft.Dynamics.CRM.fetchxmlpagingcookie,Microsoft.Dynamics.CRM.morerecords"`
	var seen []string
	cookie := ""
	cookieRe := regexp.MustCompile(`pagingcookie="([^"]*)"`)
	for page := 1; page < 10; page++ {
		attr := ""
		if cookie != "" {
			attr = ` paging-cookie='` + xmlAttr(cookie) + `'`
		}
		r := mustStatus(t, e.get(fetchURL("accounts", fmt.Sprintf(`<fetch count='3' page='%d'%s><entity name='account'><attribute name='name'/><order attribute='name'/></entity></fetch>`, page, attr)), prefer), http.StatusOK)
		m := r.json(t)
		for _, v := range r.values(t) {
			seen = append(seen, v["name"].(string))
		}
		if m["@Microsoft.Dynamics.CRM.morerecords"] != true {
			break
		}
		raw, _ := m["@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"].(string)
		sub := cookieRe.FindStringSubmatch(raw)
		if sub == nil {
			t.Fatalf("no paging cookie on page %d: %s", page, r.body)
		}
		// page-results.md: URL-decode the pagingcookie value twice.
		once, _ := url.PathUnescape(sub[1])
		cookie, _ = url.PathUnescape(once)
		if !strings.HasPrefix(cookie, `<cookie page="`+fmt.Sprint(page)+`">`) {
			t.Fatalf("decoded cookie %q", cookie)
		}
	}
	if len(seen) != 10 || seen[0] != "A. Datum Corporation (sample)" || seen[9] != "Litware, Inc. (sample)" {
		t.Fatalf("pages gave %v", seen)
	}
	// Simple paging (no cookie) reaches the same third page.
	r := mustStatus(t, e.get(fetchURL("accounts", `<fetch count='3' page='3'><entity name='account'><attribute name='name'/><order attribute='name'/></entity></fetch>`)), http.StatusOK)
	if v := r.values(t); len(v) != 3 || v[0]["name"] != seen[6] {
		t.Fatalf("simple paging page 3 = %v", v)
	}
}

func TestFetchXMLTopDistinctAndCount(t *testing.T) {
	e := fetchEnv(t)
	if v := mustStatus(t, e.get(fetchURL("accounts", `<fetch top='2'><entity name='account'><attribute name='name'/></entity></fetch>`)), http.StatusOK).values(t); len(v) != 2 {
		t.Fatalf("top=2 gave %d", len(v))
	}
	v := mustStatus(t, e.get(fetchURL("accounts", `<fetch distinct='true'><entity name='account'><attribute name='address1_city'/><order attribute='address1_city'/></entity></fetch>`)), http.StatusOK).values(t)
	if len(v) != 8 { // seven cities and the null one
		t.Fatalf("distinct cities: %d rows: %v", len(v), v)
	}
	m := mustStatus(t, e.get(fetchURL("accounts", `<fetch returntotalrecordcount='true' count='2'><entity name='account'><attribute name='name'/></entity></fetch>`)+"&$count=true"), http.StatusOK).json(t)
	if m["@odata.count"] != float64(10) || m["@Microsoft.Dynamics.CRM.totalrecordcount"] != float64(10) {
		t.Fatalf("counts: %v", m)
	}
}

func TestFetchXMLAggregates(t *testing.T) {
	e := fetchEnv(t)
	r := mustStatus(t, e.get(fetchURL("accounts", `<fetch aggregate='true'>
	  <entity name='account'>
	    <attribute name='numberofemployees' alias='Average' aggregate='avg'/>
	    <attribute name='numberofemployees' alias='Count' aggregate='count'/>
	    <attribute name='numberofemployees' alias='ColumnCount' aggregate='countcolumn'/>
	    <attribute name='numberofemployees' alias='Distinct' aggregate='countcolumn' distinct='true'/>
	    <attribute name='numberofemployees' alias='Maximum' aggregate='max'/>
	    <attribute name='numberofemployees' alias='Minimum' aggregate='min'/>
	    <attribute name='numberofemployees' alias='Sum' aggregate='sum'/>
	  </entity>
	</fetch>`)), http.StatusOK).values(t)
	// The figures of aggregate-data.md's example.
	want := map[string]float64{"Average": 3911, "Count": 10, "ColumnCount": 9, "Distinct": 8, "Maximum": 6200, "Minimum": 1500, "Sum": 35200}
	if len(r) != 1 {
		t.Fatalf("rows: %v", r)
	}
	for k, v := range want {
		if r[0][k] != v {
			t.Errorf("%s = %v, want %v", k, r[0][k], v)
		}
	}
	g := mustStatus(t, e.get(fetchURL("accounts", `<fetch aggregate='true'>
	   <entity name='account'>
	      <attribute name='numberofemployees' alias='Total' aggregate='sum'/>
	      <attribute name='address1_city' alias='Count' aggregate='count'/>
	      <attribute name='address1_city' alias='City' groupby='true'/>
	      <order alias='City'/>
	   </entity>
	</fetch>`)), http.StatusOK).values(t)
	if len(g) != 8 || g[0]["City"] != nil || g[0]["Count"] != float64(1) {
		t.Fatalf("grouped rows: %v", g)
	}
	for _, row := range g {
		if row["City"] == "Redmond" && (row["Total"] != float64(10600) || row["Count"] != float64(3)) {
			t.Errorf("Redmond group = %v", row)
		}
	}
	d := mustStatus(t, e.get(fetchURL("accounts", `<fetch aggregate='true'><entity name='account'>
	  <attribute name='accountid' alias='n' aggregate='count'/>
	  <attribute name='createdon' alias='Year' groupby='true' dategrouping='year'/>
	  <attribute name='createdon' alias='Week' groupby='true' dategrouping='week'/>
	</entity></fetch>`)), http.StatusOK).values(t)
	if len(d) != 1 || d[0]["n"] != float64(10) || d[0]["Year"] == nil || d[0]["Week"] == nil {
		t.Fatalf("date grouping rows: %v", d)
	}
	// aggregatelimit lower than the rows aggregated: the documented error.
	lim := e.get(fetchURL("accounts", `<fetch aggregate='true' aggregatelimit='5'><entity name='account'><attribute name='accountid' alias='n' aggregate='count'/></entity></fetch>`))
	mustStatus(t, lim, http.StatusBadRequest)
	if code, msg := lim.errorPayload(t); code != "0x8004E023" || msg != "AggregateQueryRecordLimit exceeded. Cannot perform this operation." {
		t.Fatalf("limit error = %s %s", code, msg)
	}
}

func TestFetchXMLErrors(t *testing.T) {
	e := fetchEnv(t)
	cases := []struct {
		xml, code, msg string
	}{
		{`<fetch><entity name='account'>`, "0x80040201", "Invalid XML."},
		{`<!DOCTYPE x [<!ENTITY a "aaaa">]><fetch><entity name='account'/></fetch>`, "0x80040201", "Invalid XML."},
		{`<fetch><entity name='account'><attribute name='nosuch'/></entity></fetch>`, "0x80041103", "'account' entity doesn't contain attribute with Name = 'nosuch' and NameMapping = 'Logical'."},
		{`<fetch><entity name='contact'/></fetch>`, "0x80060888", "The FetchXML entity 'contact' does not match the entity set 'accounts' (table 'account')."},
		{`<fetch><entity name='nosuch'/></fetch>`, "0x80041102", "The entity with a name = 'nosuch' with namemapping = 'Logical' was not found in the MetadataCache."},
		{`<fetch><entity name='account'><filter><condition attribute='name' operator='sounds-like' value='x'/></filter></entity></fetch>`, "0x80040201", "The 'operator' attribute is invalid - The value 'sounds-like' is invalid according to its datatype 'operator' - The Enumeration constraint failed."},
		{`<fetch><entity name='account'><filter><condition attribute='name' operator='under' value='x'/></filter></entity></fetch>`, "0x80060888", "The condition operator 'under' is not supported by the reference server."},
		{`<fetch foo='1'><entity name='account'/></fetch>`, "0x80040201", "The 'foo' attribute is not declared on the element 'fetch'."},
		{`<fetch top='5' count='2'><entity name='account'/></fetch>`, "0x80040201", "The top attribute can't be specified with paging attribute page or count."},
		{`<fetch><entity name='account'><filter><condition attribute='numberofemployees' operator='eq' value='many'/></filter></entity></fetch>`, "0x80040203", "An exception System.FormatException was thrown while trying to convert input value 'many' to attribute 'numberofemployees'. Expected type of attribute value: Edm.Int32."},
		{`<fetch aggregate='true'><entity name='account'><attribute name='name' aggregate='sum' alias='s'/></entity></fetch>`, "0x80040203", "The aggregate function 'sum' is not valid for the attribute 'name' of type String on 'account'."},
		{`<fetch aggregate='true'><entity name='account'><attribute name='name' aggregate='count'/></entity></fetch>`, "0x80040201", "An alias is required for the attribute 'name' of an aggregate query."},
	}
	for _, c := range cases {
		r := e.get(fetchURL("accounts", c.xml))
		if r.status != http.StatusBadRequest {
			t.Errorf("%s: status %d: %s", c.xml, r.status, r.body)
			continue
		}
		if code, msg := r.errorPayload(t); code != c.code || msg != c.msg {
			t.Errorf("%s:\n got %s %q\nwant %s %q", c.xml, code, msg, c.code, c.msg)
		}
	}
	// More than fifteen link-entity elements (join-tables.md).
	links := strings.Repeat(`<link-entity name='contact' from='contactid' to='primarycontactid' link-type='outer'/>`, 16)
	r := e.get(fetchURL("accounts", `<fetch><entity name='account'>`+links+`</entity></fetch>`))
	if code, msg := r.errorPayload(t); r.status != 400 || code != "0x8004430D" || msg != "Number of link entities in query exceeded maximum limit." {
		t.Fatalf("16 links: %d %s %s", r.status, code, msg)
	}
}

// Issue 13: nesting is bounded before anything recursive runs, and a
// thousand OR conditions do not reach SQLite's expression depth limit.
func TestFetchXMLNestingAndBreadthBounded(t *testing.T) {
	e := fetchEnv(t)
	deep := strings.Repeat("<filter>", 200) + strings.Repeat("</filter>", 200)
	r := e.get(fetchURL("accounts", `<fetch><entity name='account'>`+deep+`</entity></fetch>`))
	if code, msg := r.errorPayload(t); r.status != 400 || code != "0x80040201" || msg != "The FetchXML nests elements more than 32 levels deep." {
		t.Fatalf("deep filter: %d %s %s", r.status, code, msg)
	}
	var conds strings.Builder
	for i := 1; i <= 1500; i++ {
		fmt.Fprintf(&conds, "<condition attribute='numberofemployees' operator='eq' value='%d'/>", i)
	}
	// Too long for a URL: run the handler directly, as a $batch or a
	// future POST would reach it.
	q := &odata.Query{FetchXML: `<fetch><entity name='account'><attribute name='name'/><filter type='or'>` + conds.String() + `</filter></entity></fetch>`}
	rec := httptest.NewRecorder()
	e.srv.getFetch(rec, httptest.NewRequest("GET", "/api/data/v9.2/accounts", nil), mustTable(t, e.srv, "account"), q, preferences{})
	if rec.Code != http.StatusOK || strings.Count(rec.Body.String(), `"name"`) != 1 {
		t.Fatalf("1500 ORs: %d %s", rec.Code, rec.Body.String())
	}
}

func TestUnknownQueryParameterRefused(t *testing.T) {
	e := fetchEnv(t)
	for _, q := range []string{"accounts?fetchxml=%3Cfetch%2F%3E", "accounts?savedQuery=00000000-0000-0000-0000-000000000000", "accounts?foo=bar"} {
		r := e.get(q)
		if r.status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400: %s", q, r.status, r.body)
		}
	}
}

// A FetchXML query too long for a URL goes in a $batch GET, whose
// operations may be 65,536 characters long (research/dataverse.md §1).
func TestFetchXMLInBatch(t *testing.T) {
	e := fetchEnv(t)
	var conds strings.Builder
	for i := 1; i <= 500; i++ {
		fmt.Fprintf(&conds, "<condition attribute='numberofemployees' operator='eq' value='%d'/>", i*100)
	}
	q := `<fetch><entity name='account'><attribute name='name'/><filter type='or'>` + conds.String() + `</filter><order attribute='name'/></entity></fetch>`
	u := "accounts?fetchXml=" + url.QueryEscape(q)
	if len(u) <= MaxURLLength {
		t.Fatalf("query only %d characters; the test needs one past the URL limit", len(u))
	}
	mustStatus(t, e.get(u), http.StatusRequestURITooLong)
	res := e.batch([]batchwire.Part{{Request: &batchwire.Request{Method: "GET", URL: u}}})
	if res.status != http.StatusOK || len(res.parts) != 1 || res.parts[0].Response.StatusCode != http.StatusOK {
		t.Fatalf("batch: %d %s", res.status, res.raw)
	}
	body := string(res.parts[0].Response.Body)
	// 1,500 … 6,200 are multiples of 100: nine accounts.
	if n := strings.Count(body, `"name"`); n != 9 {
		t.Fatalf("%d rows: %s", n, body)
	}
}

// order-rows.md: choice columns sort by label unless useraworderby, lookups
// by the related row's primary name, entityname orders come first.
func TestFetchXMLOrderSemantics(t *testing.T) {
	e := newTestEnv(t, Options{})
	zed := e.createID("contacts", map[string]any{"firstname": "Zed", "lastname": "Zulu"})
	amy := e.createID("contacts", map[string]any{"firstname": "Amy", "lastname": "Alpha"})
	e.createID("accounts", map[string]any{"name": "P", "preferredcontactmethodcode": 3, "primarycontactid@odata.bind": "/contacts(" + amy + ")"}) // Phone
	e.createID("accounts", map[string]any{"name": "F", "preferredcontactmethodcode": 4, "primarycontactid@odata.bind": "/contacts(" + zed + ")"}) // Fax
	names := func(fetch string) string {
		t.Helper()
		var out []string
		for _, v := range mustStatus(t, e.get(fetchURL("accounts", fetch)), http.StatusOK).values(t) {
			out = append(out, v["name"].(string))
		}
		return strings.Join(out, ",")
	}
	ann := mustStatus(t, e.get(fetchURL("accounts", `<fetch><entity name='account'><attribute name='primarycontactid'/><attribute name='preferredcontactmethodcode'/><filter><condition attribute='name' operator='eq' value='P'/></filter></entity></fetch>`), `Prefer: odata.include-annotations="*"`), http.StatusOK).values(t)
	if ann[0]["_primarycontactid_value@OData.Community.Display.V1.FormattedValue"] != "Amy Alpha" || ann[0]["preferredcontactmethodcode@OData.Community.Display.V1.FormattedValue"] != "Phone" {
		t.Errorf("formatted values: %v", ann[0])
	}
	if got := names(`<fetch><entity name='account'><attribute name='name'/><order attribute='preferredcontactmethodcode'/></entity></fetch>`); got != "F,P" {
		t.Errorf("by label: %s, want F,P (Fax before Phone)", got)
	}
	if got := names(`<fetch useraworderby='true'><entity name='account'><attribute name='name'/><order attribute='preferredcontactmethodcode'/></entity></fetch>`); got != "P,F" {
		t.Errorf("useraworderby: %s, want P,F (3 before 4)", got)
	}
	if got := names(`<fetch><entity name='account'><attribute name='name'/><order attribute='primarycontactid'/></entity></fetch>`); got != "P,F" {
		t.Errorf("by lookup name: %s, want P,F (Amy Alpha before Zed Zulu)", got)
	}
	if got := names(`<fetch><entity name='account'><attribute name='name'/><link-entity name='contact' from='contactid' to='primarycontactid' alias='pc'/><order entityname='pc' attribute='lastname' descending='true'/><order attribute='name'/></entity></fetch>`); got != "F,P" {
		t.Errorf("entityname order: %s, want F,P", got)
	}
}

// join-tables.md's many-to-many example: users and the teams they belong
// to, through the teammembership intersect table.
func TestFetchXMLManyToManyIntersect(t *testing.T) {
	e := newTestEnv(t, Options{})
	u := e.createID("systemusers", map[string]any{"firstname": "Ina", "lastname": "Tersect", "domainname": "ina@example.com"})
	team := e.createID("teams", map[string]any{"name": "Fetch Team"})
	mustStatus(t, e.do("POST", "teams("+team+")/teammembership_association/$ref", map[string]any{"@odata.id": e.api + "systemusers(" + u + ")"}), http.StatusNoContent)
	rows := mustStatus(t, e.get(fetchURL("systemusers", `<fetch><entity name='systemuser'><attribute name='fullname'/>
	  <link-entity name='teammembership' from='systemuserid' to='systemuserid' intersect='true'>
	    <link-entity name='team' from='teamid' to='teamid' link-type='inner' alias='team'><attribute name='name'/></link-entity>
	  </link-entity></entity></fetch>`)), http.StatusOK).values(t)
	found := false
	for _, r := range rows {
		if r["systemuserid"] == u && r["team.name"] == "Fetch Team" {
			found = true
		}
	}
	if !found {
		t.Fatalf("user with team not found: %v", rows)
	}
}
