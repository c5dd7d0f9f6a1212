package usd_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/usd"
)

func TestDataverseSource(t *testing.T) {
	srv, err := refserver.New(refserver.Options{Token: "usd-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()
	ctx := context.Background()
	c, err := dataverse.NewClient(hs.URL, dataverse.StaticToken("usd-test"), &dataverse.ClientOptions{MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	const (
		hcID   = "6f1d1c1e-0000-4000-8000-000000000001"
		actID  = "6f1d1c1e-0000-4000-8000-000000000002"
		callID = "6f1d1c1e-0000-4000-8000-000000000003"
	)
	mustCreate := func(table string, rec dataverse.Record) {
		t.Helper()
		if _, err := c.Create(ctx, table, rec); err != nil {
			t.Fatalf("create %s: %v", table, err)
		}
	}
	mustCreate("uii_hostedapplication", dataverse.Record{"uii_hostedapplicationid": hcID, "uii_name": "Bing Search",
		"msdyusd_crmwindowhosttype": int(usd.StandardWebApplication), "uii_isglobalapplication": false, "uii_displaygroup": "RightPanel"})
	mustCreate("uii_action", dataverse.Record{"uii_actionid": actID, "uii_name": "Navigate",
		"uii_hostedapplicationid@odata.bind": "/uii_hostedapplications(" + hcID + ")"})
	mustCreate("msdyusd_agentscriptaction", dataverse.Record{"msdyusd_agentscriptactionid": callID, "msdyusd_name": "Bing - Search",
		"msdyusd_application@odata.bind": "/uii_hostedapplications(" + hcID + ")",
		"msdyusd_action@odata.bind":      "/uii_actions(" + actID + ")",
		"msdyusd_actiondata":             "url=https://www.bing.com/search?q=[[contact.fullname]u]", "msdyusd_order": 10})

	m, err := (&usd.DataverseSource{Client: c, Name: hs.URL}).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.HostedControls) != 1 || m.HostedControls[0].ComponentType != usd.StandardWebApplication || m.HostedControls[0].DisplayGroup != "RightPanel" {
		t.Fatalf("hosted controls = %+v", m.HostedControls)
	}
	if len(m.ActionCalls) != 1 {
		t.Fatalf("action calls = %+v", m.ActionCalls)
	}
	ac := m.ActionCalls[0]
	if m.HostedControlName(ac.HostedControlID) != "Bing Search" || m.ActionName(ac.ActionID) != "Navigate" || ac.Order != 10 ||
		!strings.HasPrefix(ac.Data, "url=https://www.bing.com") {
		t.Errorf("action call = %+v", ac)
	}
	// Every relationship was either read or reported by name.
	for _, rel := range usd.Relationships {
		for _, p := range m.Problems {
			if p.Field == rel.Name && !strings.Contains(p.Message, "memberships could not be read") {
				t.Errorf("problem for %s does not say what failed: %v", rel.Name, p)
			}
		}
	}
	for _, p := range m.Problems {
		if p.Field == "" && p.Severity == usd.SeverityError {
			t.Errorf("table read failed: %v", p)
		}
	}

	// A membership reader plugged in by the caller feeds the same builder.
	const cfgID = "6f1d1c1e-0000-4000-8000-000000000004"
	mustCreate("msdyusd_configuration", dataverse.Record{"msdyusd_configurationid": cfgID, "msdyusd_name": "Agents", "msdyusd_isdefault": true})
	src := &usd.DataverseSource{Client: c, Name: hs.URL, Memberships: func(_ context.Context, rel usd.Relationship, pair func(string, string)) error {
		if rel.Name == "msdyusd_configuration_hostedcontrol" {
			pair(cfgID, hcID)
		}
		return nil
	}}
	m, err = src.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Problems) != 0 {
		t.Errorf("problems = %v", m.Problems)
	}
	if got := m.Configurations[0].Members[usd.KindHostedControl]; len(got) != 1 || got[0] != hcID {
		t.Errorf("configuration members = %v", m.Configurations[0].Members)
	}
}
