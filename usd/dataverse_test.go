package usd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/usd"
	"github.com/dvsync/dvsync/usd/assess"
	"github.com/dvsync/dvsync/usd/cmtseed"
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

// The realistic fixture written into the reference server and read back
// through the Web API, memberships included, assesses exactly as the zip
// does, for every configuration and for the whole export.
func TestDataverseSourceMatchesZip(t *testing.T) {
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
	zipPath := filepath.Join("..", "testdata", "usd", "contoso.zip")
	st, err := cmtseed.ImportFile(ctx, c, zipPath)
	if err != nil {
		t.Fatal(err)
	}
	if st.Associations == 0 {
		t.Fatal("fixture wrote no memberships")
	}
	fromZip, err := usd.LoadFile(ctx, zipPath)
	if err != nil {
		t.Fatal(err)
	}
	fromEnv, err := (&usd.DataverseSource{Client: c, Name: hs.URL}).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The zip also holds msdyusd_ucisettings rows, which the model leaves
	// out (a warning there); the environment reader never asks for them.
	if len(fromEnv.Problems) != 0 {
		t.Errorf("problems reading the environment: %v", fromEnv.Problems)
	}
	if len(fromEnv.Configurations) < 2 {
		t.Fatalf("configurations = %d", len(fromEnv.Configurations))
	}
	for _, cfg := range fromZip.Configurations {
		envCfg := fromEnv.Configuration(cfg.Name)
		if envCfg == nil {
			t.Fatalf("configuration %q not read back", cfg.Name)
		}
		for k, ids := range cfg.Members {
			if len(envCfg.Members[k]) != len(ids) {
				t.Errorf("%s %s members: env %d, zip %d", cfg.Name, k, len(envCfg.Members[k]), len(ids))
			}
		}
	}
	compare := func(name string, a, b *usd.Model) {
		t.Helper()
		ra, rb := assess.Assess(a, assess.Options{}), assess.Assess(b, assess.Options{})
		ja, _ := json.Marshal(struct{ Items, Totals any }{ra.Items, ra.Totals})
		jb, _ := json.Marshal(struct{ Items, Totals any }{rb.Items, rb.Totals})
		if !bytes.Equal(ja, jb) {
			t.Errorf("%s: assessment from the environment differs from the zip's:\nenv %s\nzip %s", name, firstDiff(ja, jb), firstDiff(jb, ja))
		}
	}
	compare("all configurations", fromEnv, fromZip)
	for _, cfg := range fromZip.Configurations {
		a, err := usd.Select(fromEnv, cfg.Name)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := usd.Select(fromZip, cfg.Name)
		compare(cfg.Name, a, b)
	}
}

// firstDiff returns a window of a around its first byte that differs from b.
func firstDiff(a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo, hi := max(0, i-120), min(len(a), i+120)
	return string(a[lo:hi])
}
