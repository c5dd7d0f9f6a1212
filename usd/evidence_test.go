package usd

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestPageFromURL(t *testing.T) {
	for _, tc := range []struct {
		url    string
		page   PageType
		params string
	}{
		{"/main.aspx?pagetype=dashboard&id={A9F3C1A5-0D2E-4F7B-9B7F-3D2B7D9A1E10}", PageDashboard, "dashboardId=a9f3c1a5-0d2e-4f7b-9b7f-3d2b7d9a1e10"},
		{"main.aspx?appid=[[$Global.App]]&pagetype=entitylist&etn=incident&viewid={00000000-0000-0000-00AA-000010001031}", PageEntityList, "entityName=incident viewId=00000000-0000-0000-00aa-000010001031"},
		{"/main.aspx?etn=incident&pagetype=entityrecord&id=[[incident.Id]+]&formid={B1F2C3D4-0000-4000-8000-00000000CA5E}", PageEntityRecord, "entityId=[[incident.Id]+] entityName=incident formId=b1f2c3d4-0000-4000-8000-00000000ca5e"},
		{"/main.aspx?pagetype=search&searchText=[[incident.title]u]&searchType=1", PageSearch, "searchText=[[incident.title]u] searchType=1"},
		{"/main.aspx?pagetype=search&searchText=contoso%20ltd", PageSearch, "searchText=contoso ltd"},
		{"/main.aspx?pagetype=webresource&webresourceName=new_page.html&data=x", PageWebResource, "data=x webresourceName=new_page.html"},
		{"https://org.crm.dynamics.com/WebResources/new_/summary.html?data=[[incident.Id]]", PageWebResource, "data=[[incident.Id]] webresourceName=new_/summary.html"},
		{"/main.aspx?pagetype=custom&name=new_mypage_e1d2c&recordId=[[incident.Id]]", PageCustom, "name=new_mypage_e1d2c recordId=[[incident.Id]]"},
		{"/crmreports/viewer/viewer.aspx?id={0F0E}", "", ""},
		{"/main.aspx?pagetype=entityrecord", "", ""},
		{"/WebResources/", "", ""},
	} {
		ev := pageFromURL(tc.url)
		if tc.page == "" {
			if ev != nil {
				t.Errorf("%s: recognised as %s", tc.url, ev.Page)
			}
			continue
		}
		if ev == nil || ev.Page != tc.page {
			t.Errorf("%s: got %+v, want %s", tc.url, ev, tc.page)
			continue
		}
		if got := paramString(ev.Params); got != tc.params {
			t.Errorf("%s: params %q, want %q", tc.url, got, tc.params)
		}
	}
}

func paramString(p map[string]string) string {
	var out []string
	for _, k := range []string{"dashboardId", "data", "entityId", "entityName", "formId", "name", "recordId", "searchText", "searchType", "viewId", "webresourceName"} {
		if v, ok := p[k]; ok {
			out = append(out, k+"="+v)
		}
	}
	return strings.Join(out, " ")
}

func TestFindPage(t *testing.T) {
	for data, want := range map[string]string{"case": "incident", "Incident": "Incident", "activities": "activitypointer",
		"activity\r\nhideNavigationBar=True": "activitypointer", "hideCommandBar=True\r\naccount": "account"} {
		ev := findPage(ParseActionData(data))
		if ev == nil || ev.Page != PageEntityList || ev.Params["entityName"] != want {
			t.Errorf("Find %q: %+v, want the %s list", data, ev, want)
		}
	}
	if findPage(ParseActionData("hideNavigationBar=True")) != nil {
		t.Error("Find without an entity gave a page")
	}
}

// bigModel is an export of n page controls, each with three action calls,
// and n navigation rules routing each control's popups to the next one.
func bigModel(n int) *Model {
	m := &Model{EntityTypes: []*EntityType{{ID: "e", Name: "account"}}}
	actions := map[string]*Action{}
	for i := range n {
		hc := &HostedControl{ID: fmt.Sprint("hc", i), Name: fmt.Sprint("Control ", i), ComponentType: UnifiedInterfacePage}
		m.HostedControls = append(m.HostedControls, hc)
		for j, name := range []string{"Open_CRM_Page", "Navigate", "Find"} {
			a := &Action{ID: fmt.Sprint("a", i, "-", j), Name: name, HostedControlID: hc.ID}
			actions[a.ID] = a
			m.Actions = append(m.Actions, a)
			data := []string{"LogicalName=account\r\nid=[[account.Id]]", "url=/main.aspx?pagetype=entitylist&etn=incident", "case"}[j]
			m.ActionCalls = append(m.ActionCalls, &ActionCall{ID: fmt.Sprint("c", i, "-", j), Name: fmt.Sprint("Call ", i, " ", j),
				HostedControlID: hc.ID, ActionID: a.ID, Data: data, Order: j})
		}
		m.NavigationRules = append(m.NavigationRules, &NavigationRule{ID: fmt.Sprint("r", i), Name: fmt.Sprint("Rule ", i),
			FromID: hc.ID, TargetTabID: fmt.Sprint("hc", (i+1)%n), EntityTypeID: "e", RouteType: RouteTypePopup, Action: RouteActionRouteWindow})
	}
	return m
}

// Reading the evidence of every control stays linear in the export: a
// hostile export of many controls and rules cannot make it quadratic.
func TestPageOfScales(t *testing.T) {
	m := bigModel(20000)
	start := time.Now()
	routed := 0
	for _, hc := range m.HostedControls {
		ch := m.PageOf(hc)
		if ch.Chosen == nil {
			t.Fatalf("%s: no page", hc.Name)
		}
		for _, e := range ch.Evidence {
			if e.Rank == RankRouted {
				routed++
			}
		}
	}
	if routed != len(m.HostedControls) {
		t.Errorf("%d routed pieces of evidence, want one per control", routed)
	}
	// Quadratic code needs minutes here; the bound only catches that.
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("PageOf over 20,000 controls took %v", d)
	}
}

func BenchmarkPageOf(b *testing.B) {
	m := bigModel(5000)
	for b.Loop() {
		for _, hc := range m.HostedControls {
			m.PageOf(hc)
		}
	}
}
