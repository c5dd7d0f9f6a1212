package refserver

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/dvsync/dvsync/dataverse/odata"
)

// Fuzz targets for the query paths a client controls completely (issue 13):
// whatever FetchXML or $filter/$apply arrives, the answer is never a 500 —
// limits and unsupported constructs are refused as 4xx before SQL runs, and
// any SQL that is built runs.

func fuzzServer(f *testing.F) *Server {
	f.Helper()
	s, err := New(Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	return s
}

func FuzzFetchXML(f *testing.F) {
	for _, seed := range []string{
		`<fetch><entity name='account'><attribute name='name'/></entity></fetch>`,
		`<fetch count='3' page='2' paging-cookie='&lt;cookie page="1"&gt;&lt;accountid last="{00000000-0000-0000-0000-000000000001}" /&gt;&lt;/cookie&gt;'><entity name='account'><all-attributes/><order attribute='name' descending='true'/></entity></fetch>`,
		`<fetch distinct='true' top='5'><entity name='account'><attribute name='address1_city'/><filter type='or'><condition attribute='name' operator='like' value='%a%'/><filter><condition attribute='numberofemployees' operator='between'><value>1</value><value>9</value></condition></filter></filter></entity></fetch>`,
		`<fetch aggregate='true'><entity name='account'><attribute name='numberofemployees' alias='s' aggregate='sum'/><attribute name='createdon' alias='w' groupby='true' dategrouping='week'/><order alias='w'/></entity></fetch>`,
		`<fetch><entity name='account'><link-entity name='contact' from='contactid' to='primarycontactid' link-type='outer' alias='c'><attribute name='fullname'/></link-entity><filter><condition entityname='c' attribute='contactid' operator='null'/></filter></entity></fetch>`,
		`<fetch><entity name='account'><filter><condition attribute='createdon' operator='last-x-days' value='7'/><condition attribute='ownerid' operator='eq-userid'/></filter></entity></fetch>`,
		`<!DOCTYPE fetch [<!ENTITY x "y">]><fetch/>`,
		`<fetch><entity name='account'><filter><filter><filter/></filter></filter></entity></fetch>`,
		`<fetch><entity name='account'><link-entity name='teammembership' from='teamid' to='accountid' intersect='true'><link-entity name='team' from='teamid' to='teamid' alias='t'><attribute name='name'/></link-entity></link-entity></entity></fetch>`,
	} {
		f.Add(seed)
	}
	s := fuzzServer(f)
	t, _ := s.reg.Table("account")
	f.Fuzz(func(tt *testing.T, fetch string) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/api/data/v9.2/accounts", nil)
		req.Header.Set("Prefer", `odata.include-annotations="*"`)
		s.getFetch(rec, req, t, &odata.Query{FetchXML: fetch, Count: true}, parsePrefer(req))
		if rec.Code >= 500 {
			tt.Fatalf("%d for %q: %s", rec.Code, fetch, rec.Body.String())
		}
	})
}

// FuzzQueryToSQL drives the OData-to-SQL translation through the real
// handler: any raw query string on /accounts must get 200 or a 4xx.
func FuzzQueryToSQL(f *testing.F) {
	for _, seed := range []string{
		"$select=name&$filter=" + url.QueryEscape("name eq 'x' or (numberofemployees gt 5 and not contains(name,'%'))"),
		"$filter=" + url.QueryEscape("primarycontactid/fullname eq null and Microsoft.Dynamics.CRM.In(PropertyName='accountcategorycode',PropertyValues=['1','2'])"),
		"$filter=" + url.QueryEscape("contact_customer_accounts/any(c:c/lastname eq 'x') and contact_customer_accounts/all(c:c/statecode eq 0)"),
		"$apply=" + url.QueryEscape("filter(name ne null)/groupby((primarycontactid/fullname,statuscode),aggregate(numberofemployees with average as a,$count as n))") + "&$orderby=statuscode",
		"$expand=" + url.QueryEscape("contact_customer_accounts($select=fullname;$filter=statecode eq 0;$orderby=fullname desc;$top=2),primarycontactid($select=fullname)"),
		"$filter=" + url.QueryEscape("Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue=3) or Microsoft.Dynamics.CRM.On(PropertyName='createdon',PropertyValue='2024-01-01')"),
		"$orderby=name desc,accountid&$top=3&$count=true",
	} {
		f.Add(seed)
	}
	s := fuzzServer(f)
	f.Fuzz(func(tt *testing.T, raw string) {
		req := httptest.NewRequest("GET", "/api/data/v9.2/accounts", nil)
		req.URL.RawQuery = raw
		req.Header.Set("Authorization", "Bearer fuzz")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			tt.Fatalf("%d for %q: %s", rec.Code, raw, rec.Body.String())
		}
		if rec.Code != http.StatusOK && rec.Code < 400 {
			tt.Fatalf("status %d for %q", rec.Code, raw)
		}
	})
}
