// Package assess tells a partner, component by component, what a Unified
// Service Desk configuration becomes in the Copilot Service workspace and
// how much of it carries over: automatic (dvsync writes it, or the
// workspace provides it natively), partial (dvsync writes something a
// person must finish), manual (a person re-implements it) or no
// equivalent (the workspace has no such concept: nothing to write, no
// hours). Targets follow Microsoft's mapping
// (learn.microsoft.com/dynamics365/guidance/resources/cs-usd-migration-guide-map-components)
// and, for components Microsoft does not map, the reasons say so. The
// rules, with their sources, are in docs/usd-verdicts.md.
package assess

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/dvsync/dvsync/usd"
)

// Verdict is how much of a component carries over.
type Verdict string

const (
	Automatic Verdict = "automatic"
	Partial   Verdict = "partial"
	Manual    Verdict = "manual"
	// NoEquivalent is for components the workspace has no concept for
	// (Global Manager, Connection Manager, panel layouts, the Debugger):
	// nothing is written, no hours are estimated, and they are left out
	// of the automatic share.
	NoEquivalent Verdict = "noEquivalent"
)

// Verdicts in report order.
var Verdicts = []Verdict{Automatic, Partial, Manual, NoEquivalent}

// Label is the verdict as reports print it.
func (v Verdict) Label() string {
	if v == NoEquivalent {
		return "no equivalent"
	}
	return string(v)
}

// Item is the assessment of one component.
type Item struct {
	Kind    usd.Kind `json:"kind"`
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Detail  string   `json:"detail,omitempty"`
	Target  string   `json:"target"`
	Verdict Verdict  `json:"verdict"`
	Reasons []string `json:"reasons,omitempty"`
	// Evidence lists, for controls whose page comes from action calls
	// and navigation rules, what was found and which piece was used.
	Evidence []string `json:"evidence,omitempty"`
	// Hours is the estimated effort for a person, see Effort.
	Hours float64 `json:"hours"`
}

// Tally is a count and its effort.
type Tally struct {
	Count int     `json:"count"`
	Hours float64 `json:"hours"`
}

// KindTotals are the tallies of one component kind.
type KindTotals struct {
	Kind      usd.Kind          `json:"kind"`
	Label     string            `json:"label"`
	ByVerdict map[Verdict]Tally `json:"byVerdict"`
	Total     Tally             `json:"total"`
}

// Totals summarise a report.
type Totals struct {
	ByVerdict map[Verdict]Tally `json:"byVerdict"`
	ByKind    []KindTotals      `json:"byKind"`
	Total     Tally             `json:"total"`
	// AutomaticShare is the percentage of components with a workspace
	// counterpart that are automatic: components without an equivalent
	// are left out, so that they cannot inflate it.
	AutomaticShare float64 `json:"automaticShare"`
}

// Report is a whole assessment.
type Report struct {
	Source        string        `json:"source"`
	Configuration string        `json:"configuration,omitempty"`
	Items         []Item        `json:"items"`
	Totals        Totals        `json:"totals"`
	Problems      []usd.Problem `json:"problems,omitempty"`
	// EffortModel documents the hours used, so that the figures can be
	// challenged and tuned.
	EffortModel string `json:"effortModel"`
}

// Options tune an assessment.
type Options struct {
	// Source names the input in the report (file name or environment URL).
	Source string
}

// EffortModelText explains the hour estimates.
const EffortModelText = "Hours are planning estimates per component: automatic = review only, " +
	"partial = finish what dvsync wrote, manual = re-implement. Base hours per kind and verdict " +
	"are in usd/assess/effort.go; custom code (USD hosted controls, CTI) carries larger fixed estimates."

// Assess assesses every component of m. It does not change m.
func Assess(m *usd.Model, opts Options) *Report {
	a := &assessor{m: m, sessionEntities: sessionEntities(m)}
	for _, hc := range m.HostedControls {
		a.add(a.hostedControl(hc))
	}
	for _, act := range m.Actions {
		a.add(a.action(act))
	}
	for _, ac := range m.ActionCalls {
		a.add(a.actionCall(ac))
	}
	for _, ev := range m.Events {
		a.add(a.event(ev))
	}
	for _, r := range m.NavigationRules {
		a.add(a.rule(r))
	}
	for _, s := range m.AgentScripts {
		a.add(a.script(s))
	}
	for _, an := range m.Answers {
		a.add(a.answer(an))
	}
	for _, l := range m.SessionLines {
		a.add(a.sessionLine(l))
	}
	for _, t := range m.Toolbars {
		a.add(a.toolbar(t))
	}
	for _, b := range m.ToolbarButtons {
		a.add(a.button(b))
	}
	for _, s := range m.EntitySearches {
		a.add(a.search(s))
	}
	for _, s := range m.Scriptlets {
		a.add(Item{Kind: usd.KindScriptlet, ID: s.ID, Name: s.Name, Target: "JavaScript web resource, Power Fx or Power Automate flow",
			Verdict: Manual, Reasons: []string{"scriptlets run JavaScript inside USD; the workspace has no equivalent"}})
	}
	popupForms := popupForms(m)
	for _, f := range m.Forms {
		if popup, ok := popupForms[f.Name]; ok {
			a.add(Item{Kind: usd.KindForm, ID: f.ID, Name: f.Name, Target: "Notification fields (msdyn_notificationfield)", Verdict: Partial,
				Reasons: []string{fmt.Sprintf("shown by popup %q: dvsync writes its texts with replacement parameters as notification fields and its OK/Cancel buttons as accept/reject; layout, static text and other buttons are not carried over", popup)}})
			continue
		}
		a.add(Item{Kind: usd.KindForm, ID: f.ID, Name: f.Name, Target: "Custom page or model-driven form",
			Verdict: Manual, Reasons: []string{"USD forms are XAML/HTML markup; rebuild as a custom page"}})
	}
	for _, o := range m.Options {
		a.add(a.option(o))
	}
	for _, c := range m.Configurations {
		a.add(Item{Kind: usd.KindConfiguration, ID: c.ID, Name: c.Name, Target: "App profile (msdyn_appconfiguration)", Verdict: Automatic,
			Reasons: []string{"users are assigned to the app profile, not by systemuser.msdyusd_usdconfigurationid: re-assign them"}})
	}
	r := &Report{Source: opts.Source, Configuration: m.Selected, Items: a.items, Problems: m.Problems, EffortModel: EffortModelText}
	for i := range r.Items {
		r.Items[i].Hours = Effort(r.Items[i])
	}
	r.Totals = totals(r.Items)
	return r
}

type assessor struct {
	m               *usd.Model
	items           []Item
	sessionEntities map[string]bool
}

func (a *assessor) add(it Item) { a.items = append(a.items, it) }

// sessionEntities are the tables that start sessions: their parameters
// translate to {anchor.*} slugs.
func sessionEntities(m *usd.Model) map[string]bool {
	out := map[string]bool{}
	for _, r := range m.NavigationRules {
		if r.Action == usd.RouteActionCreateSession {
			if e := m.EntityName(r.EntityTypeID); e != "" {
				out[e] = true
			}
		}
	}
	return out
}

// paramReasons lists why parameters in text do not carry over. Entity
// parameters of tables that start sessions are judged as anchor slugs.
func (a *assessor) paramReasons(field, text string, ctx usd.SlugContext) (reasons []string, unsupported bool) {
	if text == "" {
		return nil, false
	}
	tpl, errs := usd.ParseParams(text)
	for _, e := range errs {
		reasons = append(reasons, fmt.Sprintf("%s: unparseable replacement parameter at %s: %s", field, e.Pos, e.Msg))
		unsupported = true
	}
	seen := map[string]bool{}
	check := func(raw, anchor string) {
		tr := usd.TranslateParams(raw, ctx, anchor)
		for _, is := range tr.Issues {
			msg := fmt.Sprintf("%s: %s", field, is.Reason)
			if is.Kind == usd.SlugUnsupported {
				unsupported = true
			}
			if !seen[msg] {
				seen[msg] = true
				reasons = append(reasons, msg)
			}
		}
	}
	for _, n := range tpl.Nodes {
		switch n := n.(type) {
		case *usd.Param:
			anchor := ""
			if a.sessionEntities[n.Source] {
				anchor = n.Source
			}
			check(n.Raw, anchor)
		case *usd.Handler:
			check(text[n.From.Offset:n.To.Offset], "")
		}
	}
	return reasons, unsupported
}

func worst(a, b Verdict) Verdict {
	rank := map[Verdict]int{Automatic: 0, Partial: 1, Manual: 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

func (a *assessor) hostedControl(hc *usd.HostedControl) Item {
	it := Item{Kind: usd.KindHostedControl, ID: hc.ID, Name: hc.Name, Detail: hc.ComponentType.String()}
	set := func(target string, v Verdict, reasons ...string) {
		it.Target, it.Verdict = target, v
		it.Reasons = append(it.Reasons, reasons...)
	}
	switch hc.ComponentType {
	case usd.UnifiedInterfacePage, usd.CRMPage, usd.InteractiveServiceHubPage:
		a.pageControl(hc, &it)
	case usd.StandardWebApplication:
		a.webControl(hc, &it)
	case usd.AgentScripting:
		set("Productivity pane: agent scripts (enabled in the app profile)", Automatic, native)
	case usd.UnifiedInterfaceKMControl:
		set("Productivity pane: knowledge search", Automatic, native+" (Microsoft maps the KM control to native knowledge management)")
	case usd.KMControl:
		set("Productivity pane: knowledge search", Partial, "legacy KM control: check that the knowledge sources it searched are Dataverse knowledge articles")
	case usd.SessionTabs:
		set("Built into the workspace: session tabs", Automatic, native+" (Microsoft maps session tabs to the session's sub tabs)")
	case usd.SessionLinesControl:
		set("Session template title (see session lines)", Automatic, native+" (Microsoft maps session lines to the native session tab; the lines themselves are assessed below)")
	case usd.PanelLayout, usd.GlobalManager, usd.ConnectionManager, usd.Debugger, usd.TreeBar:
		set("No equivalent", NoEquivalent, noEquivalentReason[hc.ComponentType])
	case usd.ToolbarContainer:
		set("Command bar buttons (JavaScript or Power Fx)", Manual, "toolbars become command bar buttons defined in the app designer")
	case usd.RibbonHostedControl:
		set("Command bar customisation", Manual, "ribbon hosted controls have no equivalent; customise the command bar")
	case usd.USDHostedControl:
		set("Custom page or PCF control", Manual, fmt.Sprintf("custom hosted control %s must be rewritten as a custom page or PCF control", orNone(hc.AssemblyType)))
	case usd.CCAHostedApplication:
		set("Custom page, or third-party website tab for a web front end", Manual, "CCA hosted (desktop) applications cannot be hosted in a browser workspace")
	case usd.CRMDialog:
		set("Power Automate flow or custom page", Manual, "CRM dialogs are deprecated; rebuild the guided process")
	case usd.CTIDesktopManager:
		set("Channel Integration Framework 2.0 provider", Manual, "CTI desktop managers are .NET assemblies; a CIF 2.0 provider (JavaScript) replaces them")
	case usd.ChannelIntegrationFramework:
		set("Channel Integration Framework 2.0 provider", Partial, "register the CIF provider for the workspace (CIF 2.0 supports multiple sessions)")
	case usd.ListenerHostedControl:
		set("Application Insights / telemetry", Manual, "listener hosted controls have no equivalent; use the workspace telemetry or Application Insights")
	case usd.PopupNotification:
		set("Notification template (msdyn_notificationtemplate)", Partial, a.popupReason(hc))
	case usd.UserNotes:
		set("Timeline notes", Manual, "User Notes has no equivalent; notes live on the record timeline")
	case usd.TodoList:
		set("Activities / timeline", Manual, "Todo List has no equivalent; use tasks")
	default:
		set("Unknown", Manual, fmt.Sprintf("unknown component type %d", int(hc.ComponentType)))
	}
	return it
}

// native is the reason for components the workspace provides by itself.
const native = "provided natively by the workspace; nothing is written"

// noEquivalentReason says, per control type the workspace has no concept
// for, why nothing is written. Microsoft's mapping does not list these
// types (cs-usd-migration-guide-map-components); the USD pages say what
// they do (panels-panel-types-panel-layouts, global-manager-hosted-control,
// connection-manager-hosted-control, debugger-hosted-control,
// hosted-control-types-action-event-reference for the Tree Bar).
var noEquivalentReason = map[usd.ComponentType]string{
	usd.PanelLayout:       "panel layouts arrange USD's panels; the workspace layout (session list, tabs, productivity pane) is fixed, so there is nothing to write",
	usd.GlobalManager:     "Global Manager loads the USD configuration into the client; the workspace loads app profiles itself, so there is nothing to write (its action calls and events are assessed on their own)",
	usd.ConnectionManager: "Connection Manager holds USD's connection to Dataverse; the workspace runs in the browser session, so there is nothing to write",
	usd.Debugger:          "the Debugger shows USD's context and action call trace; use the browser's developer tools and the macro run history instead, nothing is written",
	usd.TreeBar:           "the Tree Bar shows USD's session hierarchy; the workspace's session list has no tree to configure, so there is nothing to write",
}

// noEquivalentControl reports control types without a counterpart;
// their action calls have none either.
func noEquivalentControl(t usd.ComponentType) bool {
	_, ok := noEquivalentReason[t]
	return ok
}

// popupShows returns the Show action calls of a Popup Notification
// control in USD order; the first one is what mapping/workspace translates.
func popupShows(m *usd.Model, hcID string) []*usd.ActionCall {
	var out []*usd.ActionCall
	for _, ac := range m.ActionCallsOf(hcID) {
		if strings.EqualFold(m.ActionName(ac.ActionID), "show") {
			out = append(out, ac)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Order != out[j].Order {
			return out[i].Order < out[j].Order
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// popupForms maps the forms that popups translate into notification
// fields to the popup control's name.
func popupForms(m *usd.Model) map[string]string {
	out := map[string]string{}
	for _, hc := range m.HostedControls {
		if hc.ComponentType != usd.PopupNotification {
			continue
		}
		if shows := popupShows(m, hc.ID); len(shows) > 0 {
			if f, ok := usd.DataValue(usd.ParseActionData(shows[0].Data), "formname"); ok && strings.TrimSpace(f) != "" {
				if _, taken := out[strings.TrimSpace(f)]; !taken {
					out[strings.TrimSpace(f)] = hc.Name
				}
			}
		}
	}
	return out
}

// popupReason says what dvsync writes for a Popup Notification control.
// The verdict stays partial either way: showing the template needs a
// workstream or channel whose notification settings select it.
func (a *assessor) popupReason(hc *usd.HostedControl) string {
	const wiring = "; select it in a workstream's or channel's notification settings by hand"
	shows := popupShows(a.m, hc.ID)
	if len(shows) == 0 {
		return "dvsync writes a notification template (title, default countdown) without fields: no Show action call names the popup's form; add notification fields by hand" + wiring
	}
	return "dvsync writes a notification template, with the notification fields it can recover from the form and data of Show action call " +
		fmt.Sprintf("%q", shows[0].Name) + ", its countdown and accept/reject buttons" + wiring
}

func orNone(s string) string {
	if s == "" {
		return "(no assembly type)"
	}
	return s
}

// evidenceLines renders a page choice for a report: what was used, then
// the rest, then the disagreements.
func evidenceLines(ch usd.PageChoice) []string {
	var out []string
	for i, e := range ch.Evidence {
		prefix := "also: "
		if i == 0 {
			prefix = "used: "
		}
		line := prefix + e.Describe() + " → " + e.Target()
		if len(e.Issues) > 0 {
			line += " [" + strings.Join(e.Issues, "; ") + "]"
		}
		out = append(out, line)
	}
	for _, u := range ch.Unrecognised {
		out = append(out, "not a tab page: "+u)
	}
	return out
}

// pageFrom explains where the chosen page comes from. A problem of the
// action call the page comes from belongs to that action call: it is
// assessed and estimated there, not again on the control.
func pageFrom(c *usd.Evidence) string {
	s := fmt.Sprintf("tab template written from %s: %s", c.Describe(), c.Target())
	if len(c.Issues) > 0 && c.SourceKind != usd.KindHostedControl {
		s += fmt.Sprintf("; that %s's problems (%s) are assessed on it, not here", strings.ToLower(c.SourceKind.Label()), strings.Join(c.Issues, "; "))
	}
	return s
}

func (a *assessor) pageControl(hc *usd.HostedControl, it *Item) {
	it.Target, it.Verdict = "Application tab template", Automatic
	if hc.ComponentType == usd.CRMPage {
		it.Verdict = Partial
		it.Reasons = append(it.Reasons, "CRM Page is a legacy web client page; the tab opens the Unified Interface form, check the form it shows")
	}
	if hc.ComponentType == usd.InteractiveServiceHubPage {
		it.Verdict = Partial
		it.Reasons = append(it.Reasons, "Interactive Service Hub is retired; the tab opens the Unified Interface form")
	}
	ch := a.m.PageOf(hc)
	it.Evidence = evidenceLines(ch)
	if ch.Chosen == nil {
		it.Verdict = worst(it.Verdict, Partial)
		it.Reasons = append(it.Reasons, "no action call (Navigate, Find, Open_CRM_Page, New_CRM_Page), navigation rule or column says which page the control shows; no tab template is written: create it by hand")
		it.Reasons = append(it.Reasons, ch.Unrecognised...)
		return
	}
	c := ch.Chosen
	it.Target = "Application tab template: " + c.Page.Label()
	it.Reasons = append(it.Reasons, pageFrom(c))
	if c.SourceKind == usd.KindHostedControl && len(c.Issues) > 0 {
		it.Verdict = worst(it.Verdict, Partial)
		it.Reasons = append(it.Reasons, c.Issues...)
	}
	it.Reasons = append(it.Reasons, ch.Disagreements...)
	if hc.Global {
		it.Reasons = append(it.Reasons, "global control: add its tab to the home session or every session template")
	}
}

func (a *assessor) webControl(hc *usd.HostedControl, it *Item) {
	it.Target, it.Verdict = "Application tab template: third-party website", Automatic
	ch := a.m.PageOf(hc)
	it.Evidence = evidenceLines(ch)
	if ch.Chosen == nil {
		it.Verdict = Partial
		it.Reasons = append(it.Reasons, "no URL on the control or in a Navigate action call; no tab template is written")
		return
	}
	c := ch.Chosen
	it.Reasons = append(it.Reasons, pageFrom(c))
	if c.SourceKind == usd.KindHostedControl {
		// The URL is the control's own column: its problems are the
		// control's.
		if len(c.Issues) > 0 {
			it.Verdict = Partial
			it.Reasons = append(it.Reasons, c.Issues...)
		}
		if reasons, _ := a.paramReasons("web application URL", c.Params["url"], usd.SlugTemplate); len(reasons) > 0 {
			it.Verdict = worst(it.Verdict, Partial)
			it.Reasons = append(it.Reasons, reasons...)
		}
	}
	it.Reasons = append(it.Reasons, ch.Disagreements...)
	if hc.Global {
		it.Reasons = append(it.Reasons, "global control: add its tab to the home session or every session template")
	}
}

func (a *assessor) action(act *usd.Action) Item {
	it := Item{Kind: usd.KindAction, ID: act.ID, Name: act.Name, Target: "No equivalent (a definition; its action calls are assessed)", Verdict: NoEquivalent,
		Reasons: []string{"a UII action only declares what a hosted control understands; the workspace has no such declarations, so nothing is written (the action calls that use it are assessed as macro actions)"}}
	hc := a.m.HostedControl(act.HostedControlID)
	if hc == nil {
		it.Verdict = Manual
		it.Reasons = []string{"UII action belongs to no hosted control in the export"}
		return it
	}
	it.Detail = hc.Name
	if hc.ComponentType == usd.USDHostedControl || hc.ComponentType == usd.CCAHostedApplication {
		it.Verdict = Manual
		it.Reasons = []string{fmt.Sprintf("action of custom control %s: its code must be re-implemented with the control", hc.Name)}
	}
	return it
}

func (a *assessor) actionCall(ac *usd.ActionCall) Item {
	it := Item{Kind: usd.KindActionCall, ID: ac.ID, Name: ac.Name}
	hcName, action := a.m.HostedControlName(ac.HostedControlID), a.m.ActionName(ac.ActionID)
	it.Detail = hcName + " / " + action
	if hc := a.m.HostedControl(ac.HostedControlID); hc != nil && noEquivalentControl(hc.ComponentType) && hc.ComponentType != usd.GlobalManager {
		it.Target, it.Verdict = "No equivalent", NoEquivalent
		it.Reasons = []string{fmt.Sprintf("runs on %s (%s), which has no workspace counterpart; nothing is written", hc.Name, hc.ComponentType)}
		return it
	}
	step, ok, why := a.m.MacroFor(ac)
	if !ok {
		it.Target, it.Verdict = "No macro equivalent", Manual
		it.Reasons = append(it.Reasons, why)
	} else {
		it.Target, it.Verdict = "Macro action "+step.Action, Automatic
		it.Reasons = append(it.Reasons, step.Notes...)
	}
	if strings.TrimSpace(ac.Condition) != "" {
		it.Verdict = worst(it.Verdict, Partial)
		it.Reasons = append(it.Reasons, "action call uses a JavaScript condition; macros cannot evaluate it (the action runs unconditionally)")
	}
	if ok {
		reasons, _ := a.paramReasons("data", ac.Data, usd.SlugMacro)
		if len(reasons) > 0 {
			it.Verdict = worst(it.Verdict, Partial)
			it.Reasons = append(it.Reasons, reasons...)
		}
		// What the call opens is also what a tab template may be
		// written from; its problems are this call's.
		if hc := a.m.HostedControl(ac.HostedControlID); hc != nil && strings.EqualFold(action, "Navigate") {
			raw, _ := usd.DataValue(usd.ParseActionData(ac.Data), "url")
			switch {
			case hc.ComponentType == usd.StandardWebApplication && !strings.HasPrefix(strings.ToLower(strings.TrimSpace(raw)), "https://"):
				it.Verdict = worst(it.Verdict, Partial)
				it.Reasons = append(it.Reasons, "url is not https; the workspace shows third-party sites in an iframe and needs https and a site that allows framing")
			case hc.ComponentType != usd.StandardWebApplication && !usd.IsTabPageURL(raw):
				it.Verdict = worst(it.Verdict, Partial)
				it.Reasons = append(it.Reasons, "the URL is not a record, list, dashboard, search, web resource or custom page, so no application tab template shows it")
			}
		}
	}
	if len(ac.SubActionCalls) > 0 {
		it.Reasons = append(it.Reasons, fmt.Sprintf("runs %d sub-action call(s) after it; they become the following macro actions", len(ac.SubActionCalls)))
	}
	return it
}

// callNotes names the action calls of a trigger (event, rule, script,
// answer, button) that do not carry over as they are. Their problems
// belong to them: each is assessed and estimated as an action call, so
// the trigger's verdict does not count them again. translated reports
// whether at least one call has a macro equivalent.
func (a *assessor) callNotes(ids []string) (notes []string, translated bool) {
	for _, ac := range a.m.ActionCallsFor(ids) {
		_, ok, why := a.m.MacroFor(ac)
		if ok {
			translated = true
		}
		switch {
		case !ok:
			notes = append(notes, fmt.Sprintf("action call %q has no macro equivalent (%s); assessed on its own", ac.Name, why))
		case strings.TrimSpace(ac.Condition) != "":
			notes = append(notes, fmt.Sprintf("action call %q uses a JavaScript condition; assessed on its own", ac.Name))
		}
	}
	return notes, translated
}

func (a *assessor) event(ev *usd.Event) Item {
	it := Item{Kind: usd.KindEvent, ID: ev.ID, Name: ev.Name, Detail: a.m.HostedControlName(ev.HostedControlID)}
	if len(ev.ActionCalls) == 0 {
		it.Target, it.Verdict = "No equivalent", NoEquivalent
		it.Reasons = []string{"event runs no action calls; there is nothing to migrate"}
		return it
	}
	it.Target = "Macro run from a form event handler (Microsoft.ProductivityMacros.runMacro)"
	notes, translated := a.callNotes(ev.ActionCalls)
	it.Verdict = Partial
	if translated {
		it.Reasons = []string{"Microsoft does not map USD events; dvsync writes the macro, a person wires it to a form OnLoad/OnSave handler"}
	} else {
		it.Reasons = []string{"Microsoft does not map USD events; none of its action calls has a macro equivalent, so no macro is written: wire the re-implemented actions to a form OnLoad/OnSave handler"}
	}
	it.Reasons = append(it.Reasons, notes...)
	return it
}

func (a *assessor) rule(r *usd.NavigationRule) Item {
	it := Item{Kind: usd.KindNavigationRule, ID: r.ID, Name: r.Name}
	entity := a.m.EntityName(r.EntityTypeID)
	target := a.m.HostedControlName(r.TargetTabID)
	it.Detail = strings.Trim(entity+" → "+target, " →")
	switch r.Action {
	case usd.RouteActionCreateSession:
		if entity == "" {
			it.Target, it.Verdict = "Generic session template", Partial
			it.Reasons = append(it.Reasons, "session is created from a URL, not an entity; a generic session template needs an anchor tab")
		} else {
			it.Target, it.Verdict = fmt.Sprintf("Entity session template (%s)", entity), Automatic
		}
		if r.FromSearchID != "" {
			it.Verdict = worst(it.Verdict, Partial)
			it.Reasons = append(it.Reasons, "session starts from an entity search result; in the workspace sessions start from a record or a channel notification")
		}
	case usd.RouteActionRouteWindow, usd.RouteActionInPlace, usd.RouteActionDefault:
		it.Target, it.Verdict = "Sessions and tabs: the record opens in a session tab", Automatic
		if r.URL != "" && entity == "" {
			it.Verdict = Partial
			it.Reasons = append(it.Reasons, fmt.Sprintf("routing by URL pattern %q has no equivalent; links open as the site decides", r.URL))
		}
		if r.RouteType == usd.RouteTypeMenuChosen {
			it.Verdict = Manual
			it.Reasons = append(it.Reasons, "menu-chosen routing has no equivalent")
		}
	case usd.RouteActionShowOutside:
		it.Target, it.Verdict = "Browser default (new window)", Automatic
		it.Reasons = append(it.Reasons, "links from third-party tabs open outside the workspace by default")
	case usd.RouteActionNone:
		it.Target, it.Verdict = "Macro run from a form event handler", Manual
		it.Reasons = append(it.Reasons, "rule only runs action calls when a page loads; re-implement as a form script that runs the macro")
	default:
		it.Target, it.Verdict = "Unknown", Manual
		it.Reasons = append(it.Reasons, fmt.Sprintf("unknown route action %d", r.Action))
	}
	if strings.TrimSpace(r.Condition) != "" {
		it.Verdict = worst(it.Verdict, Partial)
		it.Reasons = append(it.Reasons, "rule has a condition; session templates have no conditions (use the template's build-expression rules)")
	}
	if len(r.ActionCalls) > 0 {
		notes, _ := a.callNotes(r.ActionCalls)
		it.Reasons = append(it.Reasons, notes...)
	}
	return it
}

func (a *assessor) script(s *usd.AgentScript) Item {
	it := Item{Kind: usd.KindAgentScript, ID: s.ID, Name: s.Name, Target: "Agent script (msdyn_productivityagentscript) with steps", Verdict: Automatic}
	for _, f := range []struct{ name, text string }{{"script text", s.ScriptText}, {"instructions", s.Instructions}} {
		reasons, _ := a.paramReasons(f.name, f.text, usd.SlugMacro)
		if len(reasons) > 0 {
			it.Verdict = worst(it.Verdict, Partial)
			it.Reasons = append(it.Reasons, reasons...)
		}
	}
	branches := 0
	for _, id := range s.Answers {
		if an := a.m.Answer(id); an != nil && (an.LinkedScriptID != "" || len(an.ActionCalls) > 0) {
			branches++
		}
	}
	if branches > 1 {
		it.Verdict = worst(it.Verdict, Partial)
		it.Reasons = append(it.Reasons, fmt.Sprintf("%d answers branch; workspace script steps are an ordered list, so the agent picks the right step instead of an answer", branches))
	}
	if len(s.ActionCalls) > 0 {
		notes, _ := a.callNotes(s.ActionCalls)
		it.Reasons = append(it.Reasons, notes...)
	}
	return it
}

func (a *assessor) answer(an *usd.Answer) Item {
	it := Item{Kind: usd.KindAnswer, ID: an.ID, Name: an.Name, Verdict: Automatic}
	switch {
	case an.LinkedScriptID != "" && len(an.ActionCalls) > 0:
		it.Target = "Macro step and script step"
	case an.LinkedScriptID != "":
		it.Target = "Script step (go to agent script)"
	case len(an.ActionCalls) > 0:
		it.Target = "Macro step"
	default:
		it.Target = "Text step"
	}
	if an.EnabledCondition != "" || an.VisibleCondition != "" {
		it.Verdict = Partial
		it.Reasons = append(it.Reasons, "answer has an enabled/visible condition; script steps have no conditions")
	}
	if len(an.ActionCalls) > 0 {
		notes, _ := a.callNotes(an.ActionCalls)
		it.Reasons = append(it.Reasons, notes...)
	}
	reasons, _ := a.paramReasons("answer text", an.Text, usd.SlugMacro)
	if len(reasons) > 0 {
		it.Verdict = worst(it.Verdict, Partial)
		it.Reasons = append(it.Reasons, reasons...)
	}
	return it
}

func (a *assessor) sessionLine(l *usd.SessionLine) Item {
	it := Item{Kind: usd.KindSessionLine, ID: l.ID, Name: l.Name, Detail: a.m.EntityName(l.EntityTypeID)}
	if l.Type == usd.SessionLineOverview {
		it.Target, it.Verdict = "Form header, quick view or customer summary", Manual
		it.Reasons = []string{"session overview XAML has no equivalent"}
		return it
	}
	it.Target, it.Verdict = "Session template title", Automatic
	entity := a.m.EntityName(l.EntityTypeID)
	tr := usd.TranslateParams(l.Display, usd.SlugTemplate, entity)
	for _, is := range tr.Issues {
		it.Verdict = worst(it.Verdict, Partial)
		it.Reasons = append(it.Reasons, is.Reason)
	}
	if tr.Unsupported() {
		it.Reasons = append(it.Reasons, "USD skips a session line whose parameters do not resolve; the workspace shows the title as written")
	}
	return it
}

func (a *assessor) toolbar(t *usd.Toolbar) Item {
	return Item{Kind: usd.KindToolbar, ID: t.ID, Name: t.Name, Target: "Command bar (app designer)", Verdict: Manual,
		Reasons: []string{"toolbars have no record equivalent; buttons move to the command bar"}}
}

func (a *assessor) button(b *usd.ToolbarButton) Item {
	it := Item{Kind: usd.KindToolbarButton, ID: b.ID, Name: b.Name, Detail: a.m.Toolbar(b.ToolbarID).NameOr(),
		Target: "Command bar button running a macro (JavaScript or Power Fx)", Verdict: Manual}
	if len(b.ActionCalls) > 0 {
		notes, translated := a.callNotes(b.ActionCalls)
		if translated {
			it.Verdict = Partial
			it.Reasons = append(it.Reasons, "dvsync writes the macro; the button itself is added in the app designer")
		} else {
			it.Reasons = append(it.Reasons, "no macro is written: none of its action calls has a macro equivalent")
		}
		it.Reasons = append(it.Reasons, notes...)
	} else {
		it.Reasons = append(it.Reasons, "button runs no action calls")
	}
	if b.EnableCondition == usd.ButtonEnableScript || b.VisibleCondition != "" {
		it.Reasons = append(it.Reasons, "button has a script condition; re-implement as the command's visibility rule")
	}
	return it
}

func (a *assessor) search(s *usd.EntitySearch) Item {
	it := Item{Kind: usd.KindEntitySearch, ID: s.ID, Name: s.Name, Detail: a.m.EntityName(s.EntityTypeID),
		Target: "Dataverse search / Quick Find view", Verdict: Partial,
		Reasons: []string{"add the FetchXML filter columns to the Quick Find view or Dataverse search index"}}
	tpl, _ := usd.ParseParams(s.FetchXML)
	for _, p := range tpl.Params() {
		if strings.EqualFold(p.Source, "$Context") {
			it.Reasons = append(it.Reasons, fmt.Sprintf("search filters on %s, a value from CTI or context: the channel provider must search instead", p.Raw))
			break
		}
	}
	return it
}

func (a *assessor) option(o *usd.Option) Item {
	it := Item{Kind: usd.KindOption, ID: o.ID, Name: o.Name, Detail: o.Value}
	switch strings.ToLower(o.Name) {
	case "maxnumberofsessions":
		it.Target, it.Verdict = "Workspace session limit (built in)", Automatic
		it.Reasons = []string{"the workspace allows up to 9 sessions besides Home (learn.microsoft.com/dynamics365/customer-service/implement/csw-overview)"}
		var n int
		if _, err := fmt.Sscan(o.Value, &n); err == nil && n > 9 {
			it.Verdict = Partial
			it.Reasons = append(it.Reasons, fmt.Sprintf("USD allowed %d sessions", n))
		}
	case "clientcacheversionnumber", "helpimprove":
		it.Target, it.Verdict = "No equivalent", NoEquivalent
		it.Reasons = []string{"USD client setting without a workspace counterpart; nothing is written"}
	default:
		it.Target, it.Verdict = "No direct equivalent", Manual
		it.Reasons = []string{"review whether the setting's behaviour is still needed"}
	}
	return it
}

func totals(items []Item) Totals {
	t := Totals{ByVerdict: map[Verdict]Tally{}}
	byKind := map[usd.Kind]*KindTotals{}
	var order []usd.Kind
	for _, it := range items {
		kt := byKind[it.Kind]
		if kt == nil {
			kt = &KindTotals{Kind: it.Kind, Label: it.Kind.Label(), ByVerdict: map[Verdict]Tally{}}
			byKind[it.Kind] = kt
			order = append(order, it.Kind)
		}
		add := func(m map[Verdict]Tally) {
			x := m[it.Verdict]
			x.Count++
			x.Hours += it.Hours
			m[it.Verdict] = x
		}
		add(kt.ByVerdict)
		add(t.ByVerdict)
		kt.Total.Count++
		kt.Total.Hours += it.Hours
		t.Total.Count++
		t.Total.Hours += it.Hours
	}
	roundMap := func(m map[Verdict]Tally) {
		for v, x := range m {
			x.Hours = round2(x.Hours)
			m[v] = x
		}
	}
	for _, k := range order {
		kt := byKind[k]
		roundMap(kt.ByVerdict)
		kt.Total.Hours = round2(kt.Total.Hours)
		t.ByKind = append(t.ByKind, *kt)
	}
	roundMap(t.ByVerdict)
	t.Total.Hours = round2(t.Total.Hours)
	if n := t.Total.Count - t.ByVerdict[NoEquivalent].Count; n > 0 {
		t.AutomaticShare = math.Round(float64(t.ByVerdict[Automatic].Count)*1000/float64(n)) / 10
	}
	return t
}
