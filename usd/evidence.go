package usd

import (
	"fmt"
	"net/url"
	"path"
	"sort"
	"strings"
)

// A Unified Interface Page (or CRM Page) hosted control has no column
// saying what it shows: USD loads a page into it when an action call runs
// (Navigate with a URL, Find with an entity, Open_CRM_Page/New_CRM_Page
// routed by the window navigation rules) or when a navigation rule routes
// a page to it as its Target Tab
// (learn.microsoft.com/dynamics365/unified-service-desk/unified-interface-page-hosted-control,
// .../use-window-navigation-rules-unified-service-desk). Reading the
// configuration the way USD runs it means collecting all of that
// evidence; the assessment and the workspace translation both use PageOf,
// so that they agree on every control.

// PageType is the application tab template page type a piece of evidence
// points at (learn.microsoft.com/dynamics365/customer-service/administer/application-tab-templates).
type PageType string

const (
	PageEntityRecord PageType = "entityRecord"
	PageEntityList   PageType = "entityList"
	PageDashboard    PageType = "dashboard"
	PageSearch       PageType = "search"
	PageWebResource  PageType = "webResource"
	PageCustom       PageType = "custom"
	PageWebsite      PageType = "website"
)

// Label is the page type as the tab template form names it.
func (p PageType) Label() string {
	switch p {
	case PageEntityRecord:
		return "entity record"
	case PageEntityList:
		return "entity list"
	case PageDashboard:
		return "dashboard"
	case PageSearch:
		return "search"
	case PageWebResource:
		return "web resource"
	case PageCustom:
		return "custom page"
	case PageWebsite:
		return "third-party website"
	}
	return string(p)
}

// Evidence ranks: the lower, the more directly it says what USD loads
// into the control.
const (
	// RankDirect: an action call of the control itself loads the page.
	RankDirect = iota
	// RankRouted: an Open_CRM_Page/New_CRM_Page call of another control
	// pops a page up that a navigation rule routes to this control.
	RankRouted
	// RankRule: a navigation rule routes records of an entity here.
	RankRule
	// RankField: a column of the control (dashboard name, web
	// application URL).
	RankField
)

// Evidence is one fact of the configuration about the page a hosted
// control shows.
type Evidence struct {
	Page PageType `json:"page"`
	// Params are application tab template parameters (entityName,
	// entityId, formId, viewId, dashboardId, searchText, searchType, url,
	// webresourceName, data, name), values still in USD syntax.
	Params map[string]string `json:"params,omitempty"`
	// Source is the component that holds the evidence.
	SourceKind Kind   `json:"sourceKind"`
	SourceID   string `json:"sourceId,omitempty"`
	SourceName string `json:"sourceName,omitempty"`
	// How says what in the source is the evidence, e.g. `Navigate url
	// pagetype=dashboard`.
	How   string `json:"how"`
	Rank  int    `json:"rank"`
	Order int    `json:"order"`
	// Issues are reasons the evidence may not carry over as it is
	// ($Global, URL-encoding modifiers, a JavaScript condition, http://).
	// They belong to the source and are assessed there.
	Issues []string `json:"issues,omitempty"`
}

// Describe names the evidence for a report: `action call "X" (Navigate
// url pagetype=dashboard)`.
func (e Evidence) Describe() string {
	label := strings.ToLower(e.SourceKind.Label())
	if e.SourceKind == KindHostedControl {
		return fmt.Sprintf("the control's %s", e.How)
	}
	return fmt.Sprintf("%s %q (%s)", label, e.SourceName, e.How)
}

// Target summarises what the evidence opens: "dashboard a9f3…", "entity
// list of queueitem".
func (e Evidence) Target() string {
	p := e.Params
	switch e.Page {
	case PageDashboard:
		if p["dashboardId"] != "" {
			return "dashboard " + p["dashboardId"]
		}
		return "a dashboard named " + quote(p["dashboardName"])
	case PageEntityList:
		return "entity list of " + p["entityName"]
	case PageEntityRecord:
		if e.SourceKind == KindNavigationRule {
			return p["entityName"] + " records routed by the rule (the template opens a new form unless the record id is passed)"
		}
		if p["entityId"] == "" {
			return "new " + p["entityName"] + " form"
		}
		return p["entityName"] + " record"
	case PageSearch:
		return "search for " + quote(p["searchText"])
	case PageWebResource:
		return "web resource " + p["webresourceName"]
	case PageCustom:
		return "custom page " + p["name"]
	case PageWebsite:
		return p["url"]
	}
	return string(e.Page)
}

// same reports whether two pieces of evidence open the same page, so that
// only real disagreements are reported.
func (e Evidence) same(o Evidence) bool {
	if e.Page != o.Page {
		return false
	}
	switch e.Page {
	case PageDashboard:
		return e.Params["dashboardId"] == o.Params["dashboardId"] || e.Params["dashboardId"] == "" || o.Params["dashboardId"] == ""
	case PageWebsite:
		return e.Params["url"] == o.Params["url"]
	case PageSearch:
		return true
	case PageWebResource:
		return e.Params["webresourceName"] == o.Params["webresourceName"]
	case PageCustom:
		return e.Params["name"] == o.Params["name"]
	}
	return strings.EqualFold(e.Params["entityName"], o.Params["entityName"])
}

// PageChoice is what a control shows in the workspace and why.
type PageChoice struct {
	// Chosen is the evidence the tab template is written from; nil when
	// the configuration says nothing about the page.
	Chosen *Evidence `json:"chosen,omitempty"`
	// Evidence is everything found, Chosen first.
	Evidence []Evidence `json:"evidence,omitempty"`
	// Disagreements explain, one sentence each, the evidence that points
	// elsewhere and why it was not used.
	Disagreements []string `json:"disagreements,omitempty"`
	// Unrecognised lists action calls that navigate the control to a URL
	// no tab template page type can show.
	Unrecognised []string `json:"unrecognised,omitempty"`
}

// ShowsPages reports whether t is a hosted control type whose tab
// template comes from page evidence.
func ShowsPages(t ComponentType) bool { return isPageControl(t) || t == StandardWebApplication }

// PageOf collects the evidence for what hc shows and picks one: the lowest
// rank, then evidence without issues (a clean action call over one that
// uses $Global or a u modifier), then the lowest order (USD runs lower
// orders first), then the name.
func (m *Model) PageOf(hc *HostedControl) PageChoice {
	var ch PageChoice
	if !ShowsPages(hc.ComponentType) {
		return ch
	}
	web := hc.ComponentType == StandardWebApplication
	for _, ac := range m.ActionCallsOf(hc.ID) {
		action := m.ActionName(ac.ActionID)
		data := ParseActionData(ac.Data)
		var ev *Evidence
		switch {
		case strings.EqualFold(action, "Navigate"):
			raw, ok := DataValue(data, "url")
			if !ok || strings.TrimSpace(raw) == "" {
				continue
			}
			if web {
				ev = &Evidence{Page: PageWebsite, Params: map[string]string{"url": raw}, How: "Navigate url"}
			} else if ev = pageFromURL(raw); ev == nil {
				ch.Unrecognised = append(ch.Unrecognised, fmt.Sprintf("action call %q navigates to %s, which no application tab template page type shows", ac.Name, clip(raw)))
				continue
			}
		case web:
			continue
		case strings.EqualFold(action, "Find"):
			ev = findPage(data)
			if ev == nil {
				ch.Unrecognised = append(ch.Unrecognised, fmt.Sprintf("action call %q runs Find without an entity", ac.Name))
				continue
			}
		case strings.EqualFold(action, "Open_CRM_Page"), strings.EqualFold(action, "New_CRM_Page"):
			ev = crmPage(action, data)
			if ev == nil {
				continue
			}
			if r := m.routeOf(hc.ID, ev.Params["entityName"]); r != nil && r.TargetTabID != hc.ID {
				continue // shown where the rule sends it; counted there
			}
		default:
			continue
		}
		ev.SourceKind, ev.SourceID, ev.SourceName, ev.Order, ev.Rank = KindActionCall, ac.ID, ac.Name, ac.Order, RankDirect
		ev.Issues = evidenceIssues(ac.Condition, ev)
		ch.Evidence = append(ch.Evidence, *ev)
	}
	if !web {
		// Pages other controls pop up that a rule routes here.
		for _, r := range m.RulesTo(hc.ID) {
			if r.FromID == "" || r.FromID == hc.ID || !routes(r) {
				continue
			}
			entity := m.EntityName(r.EntityTypeID)
			for _, ac := range m.ActionCallsOf(r.FromID) {
				action := m.ActionName(ac.ActionID)
				if !strings.EqualFold(action, "Open_CRM_Page") && !strings.EqualFold(action, "New_CRM_Page") {
					continue
				}
				ev := crmPage(action, ParseActionData(ac.Data))
				if ev == nil || (entity != "" && !strings.EqualFold(ev.Params["entityName"], entity)) {
					continue
				}
				if first := m.routeOf(r.FromID, ev.Params["entityName"]); first == nil || first.ID != r.ID {
					continue // an earlier rule wins
				}
				ev.SourceKind, ev.SourceID, ev.SourceName, ev.Order, ev.Rank = KindActionCall, ac.ID, ac.Name, ac.Order, RankRouted
				ev.How += fmt.Sprintf(", routed here by navigation rule %q", r.Name)
				ev.Issues = evidenceIssues(ac.Condition, ev)
				ch.Evidence = append(ch.Evidence, *ev)
			}
		}
		// Records a rule routes here.
		for _, r := range m.RulesTo(hc.ID) {
			if !routes(r) {
				continue
			}
			if entity := m.EntityName(r.EntityTypeID); entity != "" {
				ch.Evidence = append(ch.Evidence, Evidence{Page: PageEntityRecord, Params: map[string]string{"entityName": entity},
					SourceKind: KindNavigationRule, SourceID: r.ID, SourceName: r.Name, Order: r.Order, Rank: RankRule,
					How: fmt.Sprintf("Target Tab for %s records", entity)})
			}
		}
		if hc.DashboardName != "" {
			ch.Evidence = append(ch.Evidence, Evidence{Page: PageDashboard, Params: map[string]string{"dashboardName": hc.DashboardName},
				SourceKind: KindHostedControl, SourceID: hc.ID, SourceName: hc.Name, Rank: RankField,
				How:    fmt.Sprintf("dashboard name %q (msdyusd_dashboardname)", hc.DashboardName),
				Issues: []string{fmt.Sprintf("dashboard %q is named, not identified: set dashboardId", hc.DashboardName)}})
		}
	} else if hc.WebAppURL != "" {
		ev := Evidence{Page: PageWebsite, Params: map[string]string{"url": hc.WebAppURL}, SourceKind: KindHostedControl,
			SourceID: hc.ID, SourceName: hc.Name, Rank: RankField, How: "web application URL (uii_webappurl)"}
		ev.Issues = evidenceIssues("", &ev)
		ch.Evidence = append(ch.Evidence, ev)
	}
	if len(ch.Evidence) == 0 {
		return ch
	}
	sort.SliceStable(ch.Evidence, func(i, j int) bool {
		a, b := ch.Evidence[i], ch.Evidence[j]
		if a.Rank != b.Rank {
			return a.Rank < b.Rank
		}
		if (len(a.Issues) == 0) != (len(b.Issues) == 0) {
			return len(a.Issues) == 0
		}
		if a.Order != b.Order {
			return a.Order < b.Order
		}
		return a.SourceName < b.SourceName
	})
	chosen := ch.Evidence[0]
	ch.Chosen = &chosen
	for _, o := range ch.Evidence[1:] {
		if o.same(chosen) {
			continue
		}
		ch.Disagreements = append(ch.Disagreements, fmt.Sprintf("%s points at %s; used %s (%s) because %s",
			o.Describe(), o.Target(), chosen.Describe(), chosen.Target(), whyChosen(chosen, o)))
	}
	return ch
}

func whyChosen(c, o Evidence) string {
	switch {
	case c.Rank < o.Rank && c.Rank == RankDirect:
		return "an action call of the control itself loads its page, which is what USD shows when it runs"
	case c.Rank < o.Rank && c.Rank == RankRouted:
		return "a page routed to the control by a rule is more specific than the rule's entity alone"
	case c.Rank < o.Rank:
		return "a navigation rule routes pages to the control, which a column alone does not"
	case len(c.Issues) == 0 && len(o.Issues) > 0:
		return "it carries over without the other's problems (" + strings.Join(o.Issues, "; ") + ")"
	case c.Order != o.Order:
		return fmt.Sprintf("it has the lower order (%d before %d), so USD runs it first", c.Order, o.Order)
	}
	return "its name sorts first (same order)"
}

// routes reports whether a rule moves a popped-up page into its target
// tab (Popup or In Place route types with a routing action).
func routes(r *NavigationRule) bool {
	switch r.Action {
	case RouteActionRouteWindow, RouteActionCreateSession, RouteActionInPlace, RouteActionDefault:
		return r.RouteType == RouteTypePopup || r.RouteType == RouteTypeInPlace || r.RouteType == 0
	}
	return false
}

// routeOf returns the navigation rule USD applies to a page of entity
// popped up from a control: the lowest-order routing rule from that
// control for the entity (or with no entity), nil when none applies.
func (m *Model) routeOf(fromID, entity string) *NavigationRule {
	return m.idx().routes[routeKey{fromID, strings.ToLower(entity)}]
}

// crmPage reads an Open_CRM_Page or New_CRM_Page call: LogicalName and
// (for Open) id.
func crmPage(action string, data []DataLine) *Evidence {
	entity, _ := DataValue(data, "LogicalName")
	entity = strings.TrimSpace(entity)
	if entity == "" {
		return nil
	}
	p := map[string]string{"entityName": entity}
	if strings.EqualFold(action, "Open_CRM_Page") {
		if id, _ := DataValue(data, "id"); strings.TrimSpace(id) != "" {
			p["entityId"] = strings.TrimSpace(id)
		}
		return &Evidence{Page: PageEntityRecord, Params: p, How: "Open_CRM_Page LogicalName=" + entity}
	}
	return &Evidence{Page: PageEntityRecord, Params: p, How: "New_CRM_Page LogicalName=" + entity}
}

// findEntities maps the special values the Find action accepts to the
// entity whose quick find list it shows.
var findEntities = map[string]string{"case": "incident", "activities": "activitypointer", "activity": "activitypointer"}

// findPage reads a Find call: its data is the entity logical name of the
// quick find list (unified-interface-page-hosted-control, "Find").
func findPage(data []DataLine) *Evidence {
	for _, l := range data {
		if l.Name != "" {
			continue
		}
		e := strings.TrimSpace(l.Value)
		if e == "" {
			continue
		}
		if m, ok := findEntities[strings.ToLower(e)]; ok {
			e = m
		}
		return &Evidence{Page: PageEntityList, Params: map[string]string{"entityName": e}, How: "Find " + strings.TrimSpace(l.Value) + " (quick find list)"}
	}
	return nil
}

// pageFromURL reads a model-driven app URL (main.aspx?pagetype=…), the
// form Navigate action calls and rules use
// (learn.microsoft.com/power-apps/developer/model-driven-apps/open-forms-views-dialogs-reports-url).
func pageFromURL(raw string) *Evidence {
	// Split by hand rather than with url.Parse: replacement parameters
	// such as [[contact.fullname]+] are not valid URL syntax, and a
	// decoded '+' would turn that modifier into a space.
	rest, _, _ := strings.Cut(strings.TrimSpace(raw), "#")
	urlPath, query, _ := strings.Cut(rest, "?")
	get := func(k string) string {
		for _, pair := range strings.Split(query, "&") {
			key, v, _ := strings.Cut(pair, "=")
			if strings.EqualFold(key, k) {
				if d, err := url.PathUnescape(v); err == nil {
					return d
				}
				return v
			}
		}
		return ""
	}
	pt := strings.ToLower(get("pagetype"))
	how := "Navigate url pagetype=" + pt
	switch pt {
	case "dashboard":
		p := map[string]string{}
		if id := get("id"); id != "" {
			p["dashboardId"] = normalizeParamID(id)
		}
		return &Evidence{Page: PageDashboard, Params: p, How: how}
	case "entitylist":
		if get("etn") == "" {
			return nil
		}
		p := map[string]string{"entityName": get("etn")}
		if v := get("viewid"); v != "" {
			p["viewId"] = normalizeParamID(v)
		}
		return &Evidence{Page: PageEntityList, Params: p, How: how}
	case "entityrecord":
		if get("etn") == "" {
			return nil
		}
		p := map[string]string{"entityName": get("etn")}
		if v := get("id"); v != "" {
			p["entityId"] = normalizeParamID(v)
		}
		if v := get("formid"); v != "" {
			p["formId"] = normalizeParamID(v)
		}
		return &Evidence{Page: PageEntityRecord, Params: p, How: how}
	case "search":
		p := map[string]string{"searchText": get("searchText")}
		if v := get("searchType"); v != "" {
			p["searchType"] = v
		}
		return &Evidence{Page: PageSearch, Params: p, How: how}
	case "webresource":
		if get("webresourceName") == "" {
			return nil
		}
		p := map[string]string{"webresourceName": get("webresourceName")}
		if v := get("data"); v != "" {
			p["data"] = v
		}
		return &Evidence{Page: PageWebResource, Params: p, How: how}
	case "custom":
		if get("name") == "" {
			return nil
		}
		p := map[string]string{"name": get("name")}
		if v := get("entityName"); v != "" {
			p["entityName"] = v
		}
		if v := get("recordId"); v != "" {
			p["recordId"] = v
		}
		return &Evidence{Page: PageCustom, Params: p, How: how}
	case "":
		// /WebResources/<name> is how a web resource is addressed directly.
		if i := strings.Index(strings.ToLower(urlPath), "/webresources/"); i >= 0 {
			name := urlPath[i+len("/webresources/"):]
			if name != "" && path.Ext(name) != "" {
				p := map[string]string{"webresourceName": name}
				if v := get("data"); v != "" {
					p["data"] = v
				}
				return &Evidence{Page: PageWebResource, Params: p, How: "Navigate url /WebResources/" + name}
			}
		}
	}
	return nil
}

// normalizeParamID lower-cases and unbraces a GUID; a replacement
// parameter is kept as it is.
func normalizeParamID(v string) string {
	if strings.Contains(v, "[[") {
		return v
	}
	return NormalizeID(v)
}

// evidenceIssues lists what keeps evidence from carrying over as it is,
// independent of the session it opens in: a JavaScript condition,
// parameters of system groups, modifiers without a slug equivalent,
// unparseable parameters, and plain-http websites.
func evidenceIssues(condition string, ev *Evidence) []string {
	var out []string
	if strings.TrimSpace(condition) != "" {
		out = append(out, "a JavaScript condition")
	}
	keys := make([]string, 0, len(ev.Params))
	for k := range ev.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, k := range keys {
		tpl, errs := ParseParams(ev.Params[k])
		if len(errs) > 0 {
			add(k + ": an unparseable replacement parameter")
		}
		for _, p := range tpl.Params() {
			if p.SystemGroup() {
				add(fmt.Sprintf("%s: %s (no slug equivalent)", k, p.Raw))
			}
			for _, mod := range p.Modifiers {
				if strings.ContainsRune("uxgav", mod) {
					add(fmt.Sprintf("%s: %s (modifier %c has no slug equivalent)", k, p.Raw, mod))
				}
			}
		}
		if len(tpl.Handlers()) > 0 {
			add(k + ": a $Expression")
		}
	}
	if ev.Page == PageWebsite && !strings.HasPrefix(strings.ToLower(strings.TrimSpace(ev.Params["url"])), "https://") {
		add("url is not https (third-party tabs need https and a site that allows framing)")
	}
	return out
}

// IsTabPageURL reports whether a Navigate URL on a page control opens a
// page an application tab template can show.
func IsTabPageURL(raw string) bool { return pageFromURL(raw) != nil }
