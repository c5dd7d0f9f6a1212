package workspace

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/dvsync/dvsync/usd"
)

// Choice values written (dataverse/schema/catalog_usd.go for sources).
const (
	pageEntityList   = 509180000
	pageEntityRecord = 509180001
	pageWebResource  = 509180002
	pageDashboard    = 509180004
	pageSearch       = 509180005
	pageThirdParty   = 509180006
	pageCustom       = 509180007

	sessionTypeEntity = 1
	panelDocked       = 162450002

	stepText   = 192350000
	stepMacro  = 192350001
	stepScript = 192350002

	// Macros are workflow rows of the "Web Client API Flow" category that
	// the macro runtime loads (category 6 or 9000, activated).
	macroCategory = 9000
	languageEnUS  = 1033
)

type translator struct {
	m   *usd.Model
	opt Options
	n   namer
	res Result

	tabs         map[string]*Record // hosted control id → tab template
	scriptNames  map[string]string  // script id → unique name
	scripts      map[string]*Record
	macros       map[string]*Record // expanded call ids + anchor → macro
	macroNames   map[string]bool
	scriptAnchor map[string]string // script id → session entity
	tabAnchor    map[string]string // hosted control id → entity of the session that opens its tab
	sessionRules map[string][]*usd.NavigationRule
}

// Translate turns a model into workspace records. The only error is an
// invalid prefix; everything else that does not translate is a
// diagnostic.
func Translate(m *usd.Model, opt Options) (*Result, error) {
	prefix, err := NormalizePrefix(opt.Prefix)
	if err != nil {
		return nil, err
	}
	opt.Prefix = prefix
	t := &translator{m: m, opt: opt, n: namer{prefix: prefix, used: map[string]string{}},
		tabs: map[string]*Record{}, scriptNames: map[string]string{}, scripts: map[string]*Record{},
		macros: map[string]*Record{}, macroNames: map[string]bool{}, scriptAnchor: map[string]string{}, tabAnchor: map[string]string{},
		sessionRules: map[string][]*usd.NavigationRule{}}
	t.planSessions()
	t.tabTemplates()
	for _, s := range m.AgentScripts {
		t.scriptNames[s.ID] = t.n.name("msdyn_productivityagentscript", s.ID, s.Name)
	}
	for _, s := range m.AgentScripts {
		t.agentScript(s)
	}
	t.triggerMacros()
	t.sessionTemplates()
	t.appProfiles()
	t.notificationTemplates()
	t.sort()
	return &t.res, nil
}

func src(kind usd.Kind, id, name string) Source { return Source{Kind: kind, ID: id, Name: name} }

func (t *translator) diag(sev Severity, s Source, target *Record, format string, args ...any) {
	d := Diagnostic{Severity: sev, Source: s, Message: fmt.Sprintf(format, args...)}
	if target != nil {
		r := target.Ref()
		d.Target = &r
	}
	t.res.Diagnostics = append(t.res.Diagnostics, d)
}

func (t *translator) record(table, unique string, s Source, fields map[string]any) *Record {
	fields[KeyColumn(table)] = unique
	r := &Record{Table: table, UniqueName: unique, Fields: fields, Sources: []Source{s}}
	t.res.Records = append(t.res.Records, r)
	return r
}

func (t *translator) associate(rel string, from, to *Record) {
	a := Association{Relationship: rel, From: from.Ref(), To: to.Ref()}
	if !slices.Contains(t.res.Associations, a) {
		t.res.Associations = append(t.res.Associations, a)
	}
}

// slugDiags reports the issues of a slug translation against a record.
func (t *translator) slugDiags(s Source, target *Record, field string, tr usd.SlugTranslation) {
	for _, is := range tr.Issues {
		sev := Info
		if is.Kind == usd.SlugUnsupported {
			sev = Warning
		}
		param := is.Param
		if param == "" {
			param = "(syntax)"
		}
		t.diag(sev, s, target, "%s: %s %s: %s", field, param, is.Kind, is.Reason)
	}
}

// planSessions groups session-creating rules by entity (lowest order
// first) and finds the agent scripts each session starts, so that script
// text is translated against the right anchor.
func (t *translator) planSessions() {
	for _, r := range t.m.NavigationRules {
		e := t.m.EntityName(r.EntityTypeID)
		if r.Action != usd.RouteActionCreateSession || e == "" {
			continue
		}
		t.sessionRules[e] = append(t.sessionRules[e], r)
	}
	entities := t.sessionEntities()
	for _, e := range entities {
		rules := t.sessionRules[e]
		sort.SliceStable(rules, func(i, j int) bool { return rules[i].Order < rules[j].Order })
		for _, r := range rules {
			for _, ac := range t.expand(r.ActionCalls) {
				if step, ok, _ := t.m.MacroFor(ac); ok && step.TabControlID != "" {
					if _, ok := t.tabAnchor[step.TabControlID]; !ok {
						t.tabAnchor[step.TabControlID] = e
					}
				}
			}
		}
		for _, sid := range t.sessionScripts(rules[0]) {
			if _, ok := t.scriptAnchor[sid]; !ok {
				t.scriptAnchor[sid] = e
			}
		}
		for _, r := range rules {
			if _, ok := t.tabAnchor[r.TargetTabID]; !ok && r.TargetTabID != "" {
				t.tabAnchor[r.TargetTabID] = e
			}
		}
	}
	// A page a rule routes from a tab of a session opens in that same
	// session ("Route Window: direct the window to another tab within the
	// same session", use-window-navigation-rules-unified-service-desk), so
	// the target tab reads the same anchor.
	for changed := true; changed; {
		changed = false
		for _, r := range t.m.NavigationRules {
			if r.Action != usd.RouteActionRouteWindow && r.Action != usd.RouteActionInPlace {
				continue
			}
			e, ok := t.tabAnchor[r.FromID]
			if _, done := t.tabAnchor[r.TargetTabID]; ok && !done && r.TargetTabID != "" {
				t.tabAnchor[r.TargetTabID] = e
				changed = true
			}
		}
	}
	// Scripts reached from an anchored script share its anchor.
	for changed := true; changed; {
		changed = false
		for _, s := range t.m.AgentScripts {
			e, ok := t.scriptAnchor[s.ID]
			if !ok {
				continue
			}
			for _, aid := range s.Answers {
				if a := t.m.Answer(aid); a != nil && a.LinkedScriptID != "" {
					if _, ok := t.scriptAnchor[a.LinkedScriptID]; !ok {
						t.scriptAnchor[a.LinkedScriptID] = e
						changed = true
					}
				}
			}
		}
	}
}

func (t *translator) sessionEntities() []string {
	var out []string
	for e := range t.sessionRules {
		out = append(out, e)
	}
	sort.Strings(out)
	return out
}

// expand resolves action call ids with their sub-action calls, depth
// first in USD order, each call once.
func (t *translator) expand(ids []string) []*usd.ActionCall {
	var out []*usd.ActionCall
	seen := map[string]bool{}
	var walk func(ids []string)
	walk = func(ids []string) {
		for _, ac := range t.m.ActionCallsFor(ids) {
			if seen[ac.ID] {
				continue
			}
			seen[ac.ID] = true
			out = append(out, ac)
			walk(ac.SubActionCalls)
		}
	}
	walk(ids)
	return out
}

// sessionScripts are the agent scripts a session rule starts: GotoTask
// calls of the rule and of the target tab's events.
func (t *translator) sessionScripts(r *usd.NavigationRule) []string {
	ids := append([]string(nil), r.ActionCalls...)
	for _, ev := range t.m.Events {
		if ev.HostedControlID != "" && ev.HostedControlID == r.TargetTabID {
			ids = append(ids, ev.ActionCalls...)
		}
	}
	var out []string
	for _, ac := range t.expand(ids) {
		if step, ok, _ := t.m.MacroFor(ac); ok && step.ScriptID != "" && !slices.Contains(out, step.ScriptID) {
			out = append(out, step.ScriptID)
		}
	}
	return out
}

// ---- application tab templates ------------------------------------------------

type tabPlan struct {
	pageType int
	params   map[string]string
	from     string // what the plan was recovered from, for diagnostics
}

// pageTypes are the msdyn_pagetype choices of the page types evidence
// can point at ([DK-CSW] msdyn_applicationtabtemplate).
var pageTypes = map[usd.PageType]int{
	usd.PageEntityList: pageEntityList, usd.PageEntityRecord: pageEntityRecord, usd.PageDashboard: pageDashboard,
	usd.PageSearch: pageSearch, usd.PageWebResource: pageWebResource, usd.PageCustom: pageCustom, usd.PageWebsite: pageThirdParty,
}

// plan reads the page a control shows from the evidence usd.PageOf
// collects (the same evidence the assessment uses), so that a control is
// written as the report says. notes explain disagreeing evidence.
func (t *translator) plan(hc *usd.HostedControl) (plan *tabPlan, why string, notes []string) {
	ch := t.m.PageOf(hc)
	notes = append(notes, ch.Disagreements...)
	if ch.Chosen == nil {
		why = "no action call (Navigate, Find, Open_CRM_Page, New_CRM_Page), navigation rule or column says which page the control shows; no tab template written"
		if hc.ComponentType == usd.StandardWebApplication {
			why = "no URL on the control or in a Navigate action call; no tab template written"
		}
		return nil, why, append(notes, ch.Unrecognised...)
	}
	c := ch.Chosen
	params := map[string]string{}
	for k, v := range c.Params {
		if k != "dashboardName" {
			params[k] = v
		}
	}
	if c.Page == usd.PageDashboard && params["dashboardId"] == "" {
		why = fmt.Sprintf("dashboard %q is named, not identified; set the dashboardId parameter", c.Params["dashboardName"])
	}
	from := fmt.Sprintf("%s %q", strings.ToLower(c.SourceKind.Label()), c.SourceName)
	switch {
	case c.SourceKind == usd.KindHostedControl && c.Page == usd.PageDashboard:
		from = "dashboard name"
	case c.SourceKind == usd.KindHostedControl:
		from = "web application URL"
	}
	return &tabPlan{pageType: pageTypes[c.Page], params: params, from: from}, why, notes
}

func (t *translator) tabTemplates() {
	for _, hc := range t.m.HostedControls {
		s := src(usd.KindHostedControl, hc.ID, hc.Name)
		if !usd.ShowsPages(hc.ComponentType) {
			continue
		}
		plan, why, notes := t.plan(hc)
		if plan == nil {
			t.diag(Warning, s, nil, "%s", why)
			for _, n := range notes {
				t.diag(Info, s, nil, "%s", n)
			}
			continue
		}
		unique := t.n.name("msdyn_applicationtabtemplate", hc.ID, "tab", hc.Name)
		title := hc.DisplayName
		if title == "" {
			title = hc.Name
		}
		fields := map[string]any{
			"msdyn_name":     truncate(hc.Name, 100),
			"msdyn_pagetype": plan.pageType,
			"msdyn_pinned":   !hc.UserCanClose,
			"msdyn_description": truncate(fmt.Sprintf("Migrated from USD hosted control %q (%s) by dvsync; page from %s.",
				hc.Name, hc.ComponentType, plan.from), 2000),
		}
		rec := t.record("msdyn_applicationtabtemplate", unique, s, fields)
		titleTr := usd.TranslateParams(title, usd.SlugTemplate, "")
		fields["msdyn_title"] = truncate(titleTr.Text, 200)
		t.slugDiags(s, rec, "title", titleTr)
		if why != "" {
			t.diag(Warning, s, rec, "%s", why)
		}
		for _, n := range notes {
			t.diag(Info, s, rec, "%s", n)
		}
		if hc.ComponentType == usd.CRMPage || hc.ComponentType == usd.InteractiveServiceHubPage {
			t.diag(Info, s, rec, "%s pages open as Unified Interface forms; check the form", hc.ComponentType)
		}
		if plan.pageType == pageThirdParty && !strings.HasPrefix(strings.ToLower(plan.params["url"]), "https://") {
			t.diag(Warning, s, rec, "url is not https; third-party tabs load in an iframe and need https and a site that allows framing")
		}
		// Parameters read the anchor of the session the tab opens in: the
		// page's own table when it starts sessions, else the session whose
		// rule opens the tab.
		anchor := t.tabAnchor[hc.ID]
		if e := plan.params["entityName"]; e != "" && len(t.sessionRules[e]) > 0 {
			anchor = e
		}
		names := make([]string, 0, len(plan.params))
		for k := range plan.params {
			names = append(names, k)
		}
		sort.Strings(names)
		values := map[string]string{}
		for _, k := range names {
			tr := usd.TranslateParams(plan.params[k], usd.SlugTemplate, anchor)
			values[k] = tr.Text
			t.slugDiags(s, rec, "parameter "+k, tr)
			t.record("msdyn_templateparameter", t.n.name("msdyn_templateparameter", hc.ID+"/"+k, strings.TrimPrefix(unique, t.opt.Prefix), k), s,
				map[string]any{
					"msdyn_name":                     k,
					"msdyn_value":                    tr.Text,
					"msdyn_applicationtabtemplateid": rec.Ref(),
				})
		}
		js, _ := json.Marshal(values) // map keys are sorted by encoding/json
		fields["msdyn_templateparameters"] = string(js)
		if hc.Global {
			t.diag(Info, s, rec, "global control: add this tab to the sessions that need it (the workspace has no global tabs)")
		}
		t.tabs[hc.ID] = rec
	}
}

// ---- macros ----------------------------------------------------------------------

type macroAction struct {
	Type     string              `json:"type"`
	Inputs   map[string]any      `json:"inputs"`
	RunAfter map[string][]string `json:"runAfter"`
}

// macro builds (or reuses) the macro for a chain of action calls. It
// returns nil when none of the calls has a macro equivalent.
func (t *translator) macro(trigger Source, name, anchor string, ids []string) *Record {
	calls := t.expand(ids)
	if len(calls) == 0 {
		return nil
	}
	var keyParts []string
	for _, ac := range calls {
		keyParts = append(keyParts, ac.ID)
	}
	key := strings.Join(keyParts, ",") + "|" + anchor
	if r, ok := t.macros[key]; ok {
		if !slices.Contains(r.Sources, trigger) {
			r.Sources = append(r.Sources, trigger)
		}
		return r
	}
	actions := map[string]macroAction{}
	type pendingDiag struct {
		sev Severity
		s   Source
		msg string
	}
	var diags []pendingDiag
	var slugIssues []struct {
		s     Source
		field string
		tr    usd.SlugTranslation
	}
	prev := ""
	for _, ac := range calls {
		s := src(usd.KindActionCall, ac.ID, ac.Name)
		step, ok, why := t.m.MacroFor(ac)
		if !ok {
			diags = append(diags, pendingDiag{Warning, s, "left out of the macro: " + why})
			continue
		}
		if strings.TrimSpace(ac.Condition) != "" {
			diags = append(diags, pendingDiag{Warning, s, "action call uses a JavaScript condition; the macro action runs unconditionally"})
		}
		for _, note := range step.Notes {
			diags = append(diags, pendingDiag{Info, s, note})
		}
		inputs := map[string]any{}
		keys := make([]string, 0, len(step.Inputs))
		for k := range step.Inputs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := step.Inputs[k]
			tr := usd.TranslateParams(v, usd.SlugMacro, anchor)
			inputs[k] = tr.Text
			if len(tr.Issues) > 0 {
				slugIssues = append(slugIssues, struct {
					s     Source
					field string
					tr    usd.SlugTranslation
				}{s, "input " + k, tr})
			}
		}
		if step.TabControlID != "" {
			tab := t.tabs[step.TabControlID]
			if tab == nil {
				diags = append(diags, pendingDiag{Warning, s, "left out of the macro: the hosted control has no application tab template"})
				continue
			}
			inputs["TemplateUniqueName"] = tab.UniqueName
		}
		if step.ScriptID != "" {
			inputs["AgentScriptUniqueName"] = t.scriptNames[step.ScriptID]
		}
		actionName := fmt.Sprintf("%s_%d", step.Action, len(actions)+1)
		runAfter := map[string][]string{}
		if prev != "" {
			runAfter[prev] = []string{"Succeeded"}
		}
		actions[actionName] = macroAction{Type: step.Action, Inputs: inputs, RunAfter: runAfter}
		prev = actionName
	}
	if len(actions) == 0 {
		for _, d := range diags {
			t.diag(d.sev, d.s, nil, "%s", d.msg)
		}
		t.diag(Warning, trigger, nil, "no action call has a macro equivalent; no macro written")
		return nil
	}
	// The Logic Apps shape the macro runtime executes: clientdata.properties
	// .definition.actions, ordered by runAfter ([PT] ProductivityMacroRuntime.ts,
	// LogicAppExecutor.ts).
	clientdata, _ := json.Marshal(map[string]any{"properties": map[string]any{"definition": map[string]any{
		"$schema":        "https://schema.management.azure.com/providers/Microsoft.Logic/schemas/2016-06-01/workflowdefinition.json#",
		"contentVersion": "1.0.0.0",
		"actions":        actions,
	}}})
	unique := t.n.name("workflow", key, "macro", name)
	display := truncate(name, 100)
	if t.macroNames[display] {
		display = truncate(name, 90) + " " + shortHash(key)
	}
	t.macroNames[display] = true
	rec := t.record("workflow", unique, trigger, map[string]any{
		"name":          display,
		"category":      macroCategory,
		"type":          1, // definition
		"primaryentity": "none",
		"clientdata":    string(clientdata),
		"description":   truncate(fmt.Sprintf("Migrated from USD %s %q by dvsync.", strings.ToLower(trigger.Kind.Label()), trigger.Name), 2000),
	})
	// Activated (1, 2): the runtime only loads activated macros.
	rec.State = &State{Code: 1, Reason: 2}
	for _, d := range diags {
		t.diag(d.sev, d.s, rec, "%s", d.msg)
	}
	for _, si := range slugIssues {
		t.slugDiags(si.s, rec, si.field, si.tr)
	}
	t.macros[key] = rec
	return rec
}

// triggerMacros writes the macros of events and toolbar buttons. Nothing
// in the workspace runs them by itself: Microsoft does not map USD events,
// so a form event handler or a command bar button must call
// Microsoft.ProductivityMacros.runMacro with the macro's name.
func (t *translator) triggerMacros() {
	anchorOf := func(hcID string) string {
		if e := t.tabAnchor[hcID]; e != "" {
			return e
		}
		if tab := t.tabs[hcID]; tab != nil {
			var p map[string]string
			if js, ok := tab.Fields["msdyn_templateparameters"].(string); ok && json.Unmarshal([]byte(js), &p) == nil {
				if len(t.sessionRules[p["entityName"]]) > 0 {
					return p["entityName"]
				}
			}
		}
		return ""
	}
	for _, ev := range t.m.Events {
		s := src(usd.KindEvent, ev.ID, ev.Name)
		hc := t.m.HostedControlName(ev.HostedControlID)
		if m := t.macro(s, hc+" "+ev.Name, anchorOf(ev.HostedControlID), ev.ActionCalls); m != nil {
			t.diag(Info, s, m, "run this macro from a form or app event handler (Microsoft.ProductivityMacros.runMacro); USD events have no workspace equivalent")
		}
	}
	for _, b := range t.m.ToolbarButtons {
		s := src(usd.KindToolbarButton, b.ID, b.Name)
		if m := t.macro(s, "Button "+b.Name, "", b.ActionCalls); m != nil {
			t.diag(Info, s, m, "add a command bar button that runs this macro (Microsoft.ProductivityMacros.runMacro)")
		}
	}
}

// ---- agent scripts -----------------------------------------------------------

func (t *translator) agentScript(s *usd.AgentScript) {
	source := src(usd.KindAgentScript, s.ID, s.Name)
	anchor := t.scriptAnchor[s.ID]
	unique := t.scriptNames[s.ID]
	rec := t.record("msdyn_productivityagentscript", unique, source, map[string]any{
		"msdyn_name":        truncate(s.Name, 100),
		"msdyn_language":    languageEnUS,
		"msdyn_description": truncate(strings.TrimSpace(s.Description+"\nMigrated from USD agent script "+fmt.Sprintf("%q", s.Name)+" by dvsync."), 2000),
	})
	t.scripts[s.ID] = rec
	order := 0
	step := func(name string, actionType int, extra map[string]any) {
		order++
		fields := map[string]any{
			"msdyn_name":          truncate(name, 100),
			"msdyn_order":         order,
			"msdyn_actiontype":    actionType,
			"msdyn_agentscriptid": rec.Ref(),
		}
		for k, v := range extra {
			fields[k] = v
		}
		t.record("msdyn_productivityagentscriptstep",
			t.n.name("msdyn_productivityagentscriptstep", fmt.Sprintf("%s/%02d", s.ID, order), strings.TrimPrefix(unique, t.opt.Prefix), fmt.Sprintf("%02d", order)),
			source, fields)
	}
	text := strings.TrimSpace(strings.Join(nonEmpty(s.ScriptText, s.Instructions), "\n\n"))
	if text != "" {
		tr := usd.TranslateParams(text, usd.SlugMacro, anchor)
		t.slugDiags(source, rec, "script text", tr)
		step(firstLine(s.Name+": "+tr.Text), stepText, map[string]any{"msdyn_textinstruction": tr.Text})
	}
	if m := t.macro(source, s.Name+" - on start", anchor, s.ActionCalls); m != nil {
		step("Run on start", stepMacro, map[string]any{"msdyn_macroactionid": m.Ref()})
	}
	answers := make([]*usd.Answer, 0, len(s.Answers))
	for _, id := range s.Answers {
		if a := t.m.Answer(id); a != nil {
			answers = append(answers, a)
		}
	}
	sort.SliceStable(answers, func(i, j int) bool {
		if answers[i].Order != answers[j].Order {
			return answers[i].Order < answers[j].Order
		}
		return answers[i].Name < answers[j].Name
	})
	branches := 0
	for _, a := range answers {
		as := src(usd.KindAnswer, a.ID, a.Name)
		label := a.Text
		if label == "" {
			label = a.Name
		}
		labelTr := usd.TranslateParams(label, usd.SlugMacro, anchor)
		t.slugDiags(as, rec, "answer text", labelTr)
		label = labelTr.Text
		if a.EnabledCondition != "" || a.VisibleCondition != "" {
			t.diag(Warning, as, rec, "answer condition dropped: script steps have no conditions")
		}
		did := false
		if m := t.macro(as, s.Name+" - "+label, anchor, a.ActionCalls); m != nil {
			step(label, stepMacro, map[string]any{"msdyn_macroactionid": m.Ref()})
			did = true
		}
		if a.LinkedScriptID != "" {
			if next := t.scriptNames[a.LinkedScriptID]; next != "" {
				step(label+" → "+t.m.AgentScript(a.LinkedScriptID).Name, stepScript,
					map[string]any{"msdyn_routeactionid": Ref{Table: "msdyn_productivityagentscript", UniqueName: next}})
				did = true
			}
		}
		if did {
			branches++
		} else {
			step(label, stepText, map[string]any{"msdyn_textinstruction": label})
		}
	}
	if branches > 1 {
		t.diag(Info, source, rec, "USD answers are alternatives; they become consecutive steps and the agent runs the one that applies")
	}
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			out = append(out, strings.TrimSpace(s))
		}
	}
	return out
}

func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}

// ---- session templates -------------------------------------------------------

// primaryNames are the primary name columns of the tables sessions are
// usually about, for a default title when no session line applies.
var primaryNames = map[string]string{"incident": "title", "contact": "fullname", "account": "name",
	"msdyn_ocliveworkitem": "subject", "email": "subject", "phonecall": "subject", "task": "subject"}

func (t *translator) sessionTemplates() {
	for _, e := range t.sessionEntities() {
		rules := t.sessionRules[e]
		winner := rules[0]
		s := src(usd.KindNavigationRule, winner.ID, winner.Name)
		unique := t.n.name("msdyn_sessiontemplate", "session/"+e, "session", e)
		var ruleNames []string
		for _, r := range rules {
			ruleNames = append(ruleNames, fmt.Sprintf("%q", r.Name))
		}
		fields := map[string]any{
			"msdyn_name":            truncate(winner.Name, 100),
			"msdyn_sessiontype":     sessionTypeEntity,
			"msdyn_type":            true,
			"msdyn_entity":          e,
			"msdyn_panelstate":      panelDocked,
			"msdyn_enabletitlesync": false,
			"msdyn_description":     truncate("Migrated from USD navigation rule(s) "+strings.Join(ruleNames, ", ")+" by dvsync.", 2000),
		}
		rec := t.record("msdyn_sessiontemplate", unique, s, fields)
		for _, r := range rules[1:] {
			rec.Sources = append(rec.Sources, src(usd.KindNavigationRule, r.ID, r.Name))
			t.diag(Info, src(usd.KindNavigationRule, r.ID, r.Name), rec, "merged into the %s session template: one entity session template per table", e)
		}
		fields["msdyn_title"] = t.sessionTitle(e, rec, s)
		for _, r := range rules {
			rs := src(usd.KindNavigationRule, r.ID, r.Name)
			if strings.TrimSpace(r.Condition) != "" {
				t.diag(Warning, rs, rec, "rule condition dropped: session templates have no conditions")
			}
			if r.FromSearchID != "" {
				t.diag(Info, rs, rec, "session started from entity search %q; in the workspace it starts from the record or a channel notification", t.searchName(r.FromSearchID))
			}
			for _, ac := range t.expand(r.ActionCalls) {
				step, ok, _ := t.m.MacroFor(ac)
				if ok && step.TabControlID != "" && step.TabControlID != r.TargetTabID {
					if tab := t.tabs[step.TabControlID]; tab != nil {
						t.associate("msdyn_sessiontemplate_applicationtab", rec, tab)
					}
				}
			}
			if tab := t.tabs[r.TargetTabID]; tab != nil && r.TargetTabID != "" {
				if p := tab.Fields["msdyn_pagetype"]; p != pageEntityRecord {
					t.associate("msdyn_sessiontemplate_applicationtab", rec, tab)
				}
			}
		}
		for _, sid := range t.sessionScripts(winner) {
			if sc := t.scripts[sid]; sc != nil {
				t.associate("msdyn_msdyn_prod_agentscript_msdyn_sessiontempl", sc, rec)
			}
		}
	}
}

func (t *translator) searchName(id string) string {
	if s := t.m.EntitySearch(id); s != nil {
		return s.Name
	}
	return id
}

// sessionTitle picks the session line USD would use: the lowest-order
// Session Name line for the entity whose parameters all carry over.
func (t *translator) sessionTitle(entity string, rec *Record, rule Source) string {
	var lines []*usd.SessionLine
	for _, l := range t.m.SessionLines {
		if l.Type == usd.SessionLineName && t.m.EntityName(l.EntityTypeID) == entity {
			lines = append(lines, l)
		}
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].Order < lines[j].Order })
	for _, l := range lines {
		s := src(usd.KindSessionLine, l.ID, l.Name)
		tr := usd.TranslateParams(l.Display, usd.SlugTemplate, entity)
		if tr.Unsupported() {
			t.slugDiags(s, rec, "session line", tr)
			t.diag(Info, s, rec, "session line skipped: not all its parameters have slugs")
			continue
		}
		rec.Sources = append(rec.Sources, s)
		t.slugDiags(s, rec, "session line", tr)
		return truncate(tr.Text, 200)
	}
	if col, ok := primaryNames[entity]; ok {
		t.diag(Info, rule, rec, "no usable session line; title defaults to {anchor.%s}", col)
		return "{anchor." + col + "}"
	}
	t.diag(Warning, rule, rec, "no usable session line and no known name column; set the title by hand")
	return ""
}

// ---- app profiles ------------------------------------------------------------

func (t *translator) appProfiles() {
	configs := t.m.Configurations
	if len(configs) == 0 {
		configs = []*usd.Configuration{{ID: "", Name: "Unified Service Desk"}}
	}
	for _, c := range configs {
		s := src(usd.KindConfiguration, c.ID, c.Name)
		fields := map[string]any{
			"msdyn_name":        truncate(c.Name, 100),
			"msdyn_description": truncate(fmt.Sprintf("Migrated from USD configuration %q by dvsync.", c.Name), 2000),
		}
		if t.opt.AppModuleUniqueName != "" {
			fields["msdyn_appmoduleuniquename"] = t.opt.AppModuleUniqueName
		}
		rec := t.record("msdyn_appconfiguration", t.n.name("msdyn_appconfiguration", "profile/"+c.ID, "profile", c.Name), s, fields)
		if c.ID == "" {
			t.diag(Info, s, rec, "the export has no configurations; one app profile holds every session template")
		}
		members := map[string]bool{}
		for _, id := range c.Members[usd.KindNavigationRule] {
			members[id] = true
		}
		for _, e := range t.sessionEntities() {
			for _, r := range t.sessionRules[e] {
				if c.ID == "" || members[r.ID] {
					for _, st := range t.res.Records {
						if st.Table == "msdyn_sessiontemplate" && st.Fields["msdyn_entity"] == e {
							t.associate("msdyn_appconfiguration_sessiontemplate", rec, st)
						}
					}
					break
				}
			}
		}
		t.diag(Info, s, rec, "assign the configuration's users to the app profile (USD assigned them with systemuser.msdyusd_usdconfigurationid)")
	}
}

// ---- ordering ----------------------------------------------------------------

func (t *translator) sort() {
	rank := map[string]int{}
	for i, tb := range TableOrder {
		rank[tb] = i
	}
	sort.SliceStable(t.res.Records, func(i, j int) bool {
		a, b := t.res.Records[i], t.res.Records[j]
		if rank[a.Table] != rank[b.Table] {
			return rank[a.Table] < rank[b.Table]
		}
		return a.UniqueName < b.UniqueName
	})
	sort.SliceStable(t.res.Associations, func(i, j int) bool {
		a, b := t.res.Associations[i], t.res.Associations[j]
		if a.Relationship != b.Relationship {
			return a.Relationship < b.Relationship
		}
		if a.From.UniqueName != b.From.UniqueName {
			return a.From.UniqueName < b.From.UniqueName
		}
		return a.To.UniqueName < b.To.UniqueName
	})
}
