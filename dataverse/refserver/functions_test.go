package refserver

import (
	"encoding/xml"
	"net/http"
	"strings"
	"testing"
)

func TestRetrieveTotalRecordCountAndVersion(t *testing.T) {
	e := newTestEnv(t, Options{})
	e.createID("accounts", map[string]any{"name": "a"})
	e.createID("accounts", map[string]any{"name": "b"})
	m := mustStatus(t, e.get("RetrieveTotalRecordCount(EntityNames=['account','contact'])"), http.StatusOK).json(t)
	c := m["EntityRecordCountCollection"].(map[string]any)
	if c["Count"] != float64(2) || c["Keys"].([]any)[0] != "account" || c["Values"].([]any)[0] != float64(2) || c["Values"].([]any)[1] != float64(0) {
		t.Fatalf("counts: %v", m)
	}
	m = mustStatus(t, e.get(`RetrieveTotalRecordCount(EntityNames=@p1)?@p1=["account"]`), http.StatusOK).json(t)
	if m["EntityRecordCountCollection"].(map[string]any)["Values"].([]any)[0] != float64(2) {
		t.Fatalf("alias form: %v", m)
	}
	r := e.get("RetrieveTotalRecordCount(EntityNames=['nosuch'])")
	mustStatus(t, r, http.StatusBadRequest)
	v := mustStatus(t, e.get("RetrieveVersion()"), http.StatusOK).json(t)
	if !strings.HasPrefix(v["Version"].(string), "9.2") {
		t.Fatalf("version: %v", v)
	}
}

func TestRelationshipAndOptionSetDefinitions(t *testing.T) {
	e := newTestEnv(t, Options{})
	one := mustStatus(t, e.get("RelationshipDefinitions(SchemaName='contact_customer_accounts')"), http.StatusOK).json(t)
	if one["ReferencingEntity"] != "contact" || one["ReferencingAttribute"] != "parentcustomerid" || one["ReferencedEntity"] != "account" {
		t.Fatalf("contact_customer_accounts: %v", one)
	}
	nn := mustStatus(t, e.get("RelationshipDefinitions/Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata?$select=SchemaName"), http.StatusOK).values(t)
	found := false
	for _, m := range nn {
		if m["SchemaName"] == "teammembership_association" {
			found = true
		}
		if _, ok := m["Entity1LogicalName"]; ok {
			t.Fatalf("$select ignored: %v", m)
		}
	}
	if !found {
		t.Fatalf("N:N list: %v", nn)
	}
	f := mustStatus(t, e.get("RelationshipDefinitions?$filter=ReferencedEntity eq 'incident'"), http.StatusOK).values(t)
	if len(f) == 0 {
		t.Fatal("no relationships referencing incident")
	}
	g := mustStatus(t, e.get("GlobalOptionSetDefinitions(Name='incident_caseorigincode')"), http.StatusOK).json(t)
	if opts := g["Options"].([]any); len(opts) == 0 {
		t.Fatalf("options: %v", g)
	}
	mustStatus(t, e.get("GlobalOptionSetDefinitions(Name='nosuch')"), http.StatusNotFound)
}

// $metadata declares the operations the server implements and navigation
// properties on both sides, and is well-formed XML.
func TestMetadataDeclaresOperationsAndNavigation(t *testing.T) {
	e := newTestEnv(t, Options{})
	r := mustStatus(t, e.get("$metadata"), http.StatusOK)
	if err := xml.Unmarshal(r.body, new(struct{})); err != nil {
		t.Fatalf("not XML: %v", err)
	}
	doc := string(r.body)
	for _, want := range []string{
		`<Action Name="CloseIncident">`, `<Action Name="CreateMultiple" IsBound="true">`, `<Action Name="UpsertMultiple" IsBound="true">`,
		`<Function Name="RetrieveTotalRecordCount">`, `<Function Name="RetrieveVersion">`, `<FunctionImport Name="WhoAmI"`,
		`<ActionImport Name="CloseIncident"`, `<ActionImport Name="RenewEntitlement"`,
		`<NavigationProperty Name="contact_customer_accounts" Type="Collection(mscrm.contact)" Partner="parentcustomerid_account"/>`,
		`<NavigationProperty Name="parentcustomerid_account" Type="mscrm.account" Partner="contact_customer_accounts"/>`,
		`<NavigationProperty Name="Incident_Annotation" Type="Collection(mscrm.annotation)" Partner="objectid_incident"/>`,
		`<NavigationProperty Name="teammembership_association" Type="Collection(mscrm.team)"`,
		`<NavigationPropertyBinding Path="contact_customer_accounts" Target="contacts"/>`,
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("$metadata lacks %s", want)
		}
	}
}

func TestDuplicateDetection(t *testing.T) {
	e := newTestEnv(t, Options{})
	e.createID("accounts", map[string]any{"name": "Contoso"})
	// Off by default (manage-duplicate-detection-create-update.md).
	e.createID("accounts", map[string]any{"name": "contoso"})
	r := e.do("POST", "accounts", map[string]any{"name": "CONTOSO"}, "MSCRM.SuppressDuplicateDetection: false")
	if code, msg := r.errorPayload(t); r.status != 500 || code != "0x80040333" || msg != "A record was not created or updated because a duplicate of the current record already exists." {
		t.Fatalf("duplicate account: %d %s %s", r.status, code, msg)
	}
	mustStatus(t, e.do("POST", "accounts", map[string]any{"name": "Fabrikam"}, "MSCRM.SuppressDuplicateDetection: false"), http.StatusNoContent)
	c1 := e.createID("contacts", map[string]any{"lastname": "A", "emailaddress1": "a@example.com"})
	c2 := e.createID("contacts", map[string]any{"lastname": "B", "emailaddress1": "b@example.com"})
	r = e.do("PATCH", "contacts("+c2+")", map[string]any{"emailaddress1": "A@example.com"}, "MSCRM.SuppressDuplicateDetection: false")
	mustStatus(t, r, 500)
	// Updating a record with its own value is not a duplicate of itself.
	mustStatus(t, e.do("PATCH", "contacts("+c1+")", map[string]any{"emailaddress1": "a@example.com"}, "MSCRM.SuppressDuplicateDetection: false"), http.StatusNoContent)
}

// A code generator reads $metadata as a whole: every navigation property
// must name a declared type, and a partner must exist on that type and point
// back. This walks the CSDL the way such a tool does.
func TestMetadataNavigationIsConsistent(t *testing.T) {
	e := newTestEnv(t, Options{})
	var doc struct {
		Schemas []struct {
			Namespace   string `xml:"Namespace,attr"`
			EntityTypes []struct {
				Name string `xml:"Name,attr"`
				Navs []struct {
					Name    string `xml:"Name,attr"`
					Type    string `xml:"Type,attr"`
					Partner string `xml:"Partner,attr"`
				} `xml:"NavigationProperty"`
			} `xml:"EntityType"`
			Actions []struct {
				Name   string `xml:"Name,attr"`
				Params []struct {
					Type string `xml:"Type,attr"`
				} `xml:"Parameter"`
			} `xml:"Action"`
		} `xml:"DataServices>Schema"`
	}
	if err := xml.Unmarshal(mustStatus(t, e.get("$metadata"), http.StatusOK).body, &doc); err != nil {
		t.Fatal(err)
	}
	type nav struct{ typ, partner string }
	navs := map[string]map[string]nav{}
	for _, s := range doc.Schemas {
		for _, et := range s.EntityTypes {
			navs[et.Name] = map[string]nav{}
			for _, n := range et.Navs {
				navs[et.Name][n.Name] = nav{n.Type, n.Partner}
			}
		}
	}
	target := func(typ string) string {
		typ = strings.TrimSuffix(strings.TrimPrefix(typ, "Collection("), ")")
		return strings.TrimPrefix(typ, "mscrm.")
	}
	checked := 0
	for et, ns := range navs {
		for name, n := range ns {
			tt := target(n.typ)
			if _, ok := navs[tt]; !ok {
				t.Errorf("%s.%s: type %s is not declared", et, name, n.typ)
				continue
			}
			if n.partner == "" {
				continue
			}
			back, ok := navs[tt][n.partner]
			if !ok {
				t.Errorf("%s.%s: partner %s missing on %s", et, name, n.partner, tt)
				continue
			}
			if back.partner != name || target(back.typ) != et {
				t.Errorf("%s.%s: partner %s.%s points at %s.%s", et, name, tt, n.partner, target(back.typ), back.partner)
			}
			checked++
		}
	}
	if checked < 20 {
		t.Fatalf("only %d partnered navigation properties", checked)
	}
	for _, s := range doc.Schemas {
		for _, a := range s.Actions {
			for _, p := range a.Params {
				if tt := target(p.Type); !strings.HasPrefix(tt, "Edm.") && navs[tt] == nil {
					t.Errorf("action %s: parameter type %s is not declared", a.Name, p.Type)
				}
			}
		}
	}
}
