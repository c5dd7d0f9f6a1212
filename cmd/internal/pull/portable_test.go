package pull

import (
	"testing"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/schema"
)

func TestMakePortable(t *testing.T) {
	reg := schema.Default()
	inc, _ := reg.Table("incident")
	ls, err := portableLookups(reg, inc, []string{"title", "_customerid_value", "_entitlementid_value"})
	if err != nil {
		t.Fatal(err)
	}
	navs := map[string]bool{}
	for _, l := range ls {
		navs[l.nav] = true
	}
	if !navs["customerid_account"] || !navs["customerid_contact"] || !navs["entitlementid"] || navs["primarycontactid"] {
		t.Fatalf("lookups %v", navs)
	}
	rec := dataverse.Record{
		"title":             "t",
		"_customerid_value": "4f9cf241-c0b8-5f6a-944e-06dbcf991fee",
		"_customerid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "account",
		"customerid_account":   map[string]any{"accountnumber": "A'1 x", "accountid": "4f9cf241-c0b8-5f6a-944e-06dbcf991fee"},
		"customerid_contact":   nil,
		"_entitlementid_value": "ce77205e-520b-5f74-b5a9-678e3570c16f",
		// The entitlement has no name: its GUID stays.
		"entitlementid": map[string]any{"name": nil, "entitlementid": "ce77205e-520b-5f74-b5a9-678e3570c16f"},
	}
	if err := makePortable(rec, ls); err != nil {
		t.Fatal(err)
	}
	want := dataverse.Record{
		"title":                         "t",
		"customerid_account@odata.bind": "/accounts(accountnumber='A''1%20x')",
		"_entitlementid_value":          "ce77205e-520b-5f74-b5a9-678e3570c16f",
	}
	if len(rec) != len(want) {
		t.Fatalf("record %v, want %v", rec, want)
	}
	for k, v := range want {
		if rec[k] != v {
			t.Fatalf("%s = %v, want %v (record %v)", k, rec[k], v, rec)
		}
	}
}
