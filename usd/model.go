// Package usd reads a Unified Service Desk configuration into one in-memory
// model, whatever it came from: a Configuration Migration Tool (CMT) export
// zip today, the USD tables of a Dataverse environment through the same
// Builder later. It also parses USD replacement parameters.
//
// Table and column names follow the USD solution as generated from a real
// organisation (phuocle/Dynamics-Crm-DevKit, Entities/*.generated.cs) and the
// USD documentation (learn.microsoft.com/dynamics365/unified-service-desk/);
// see /work/shared/research/usd.md for the fact sheet with sources.
package usd

import (
	"slices"
	"sort"
	"strings"
)

// ComponentType is the value of uii_hostedapplication.msdyusd_crmwindowhosttype
// ("USD Component Type").
type ComponentType int

// Component types. Values from the msdyusd_crmwindowhosttype option set of
// the USD solution (Dynamics-Crm-DevKit UII_HostedApplication.generated.cs).
const (
	CRMDialog                   ComponentType = 803750000
	GlobalManager               ComponentType = 803750001
	CCAHostedApplication        ComponentType = 803750002
	CRMPage                     ComponentType = 803750003
	StandardWebApplication      ComponentType = 803750004
	USDHostedControl            ComponentType = 803750005
	AgentScripting              ComponentType = 803750006
	RibbonHostedControl         ComponentType = 803750007
	ToolbarContainer            ComponentType = 803750008
	SessionTabs                 ComponentType = 803750009
	UserNotes                   ComponentType = 803750010
	ConnectionManager           ComponentType = 803750011
	SessionLinesControl         ComponentType = 803750012
	TreeBar                     ComponentType = 803750013
	CTIDesktopManager           ComponentType = 803750014
	PanelLayout                 ComponentType = 803750015
	Debugger                    ComponentType = 803750016
	TodoList                    ComponentType = 803750017
	KMControl                   ComponentType = 803750019
	ListenerHostedControl       ComponentType = 803750020
	InteractiveServiceHubPage   ComponentType = 803750021
	PopupNotification           ComponentType = 803750022
	UnifiedInterfacePage        ComponentType = 803750023
	UnifiedInterfaceKMControl   ComponentType = 803750024
	ChannelIntegrationFramework ComponentType = 803750025
)

var componentTypeNames = map[ComponentType]string{
	CRMDialog: "CRM Dialog", GlobalManager: "Global Manager", CCAHostedApplication: "CCA Hosted Application",
	CRMPage: "CRM Page", StandardWebApplication: "Standard Web Application", USDHostedControl: "USD Hosted Control",
	AgentScripting: "Agent Scripting", RibbonHostedControl: "Ribbon Hosted Control", ToolbarContainer: "Toolbar Container",
	SessionTabs: "Session Tabs", UserNotes: "User Notes", ConnectionManager: "Connection Manager",
	SessionLinesControl: "Session Lines", TreeBar: "Tree Bar", CTIDesktopManager: "CTI Desktop Manager",
	PanelLayout: "Panel Layout", Debugger: "Debugger", TodoList: "Todo List", KMControl: "KM Control",
	ListenerHostedControl: "Listener Hosted Control", InteractiveServiceHubPage: "Interactive Service Hub Page",
	PopupNotification: "Popup Notification", UnifiedInterfacePage: "Unified Interface Page",
	UnifiedInterfaceKMControl: "Unified Interface KM Control", ChannelIntegrationFramework: "Channel Integration Framework",
}

// Known reports whether t is one of the documented component types.
func (t ComponentType) Known() bool { _, ok := componentTypeNames[t]; return ok }

func (t ComponentType) String() string {
	if n, ok := componentTypeNames[t]; ok {
		return n
	}
	if t == 0 {
		return "(none)"
	}
	return "Unknown component type"
}

// Window navigation rule choices (msdyusd_windowroute), from
// Dynamics-Crm-DevKit msdyusd_windowroute.generated.cs.
const (
	RouteTypePopup      = 803750000
	RouteTypeOnLoad     = 803750001
	RouteTypeMenuChosen = 803750002
	RouteTypeInPlace    = 803750003

	RouteActionCreateSession = 803750000
	RouteActionShowOutside   = 803750001
	RouteActionRouteWindow   = 803750002
	RouteActionNone          = 803750003
	RouteActionDefault       = 803750004
	RouteActionInPlace       = 803750005

	RouteDestinationTab          = 803750000
	RouteDestinationEntitySearch = 803750001
)

// Session line types (msdyusd_sessioninformation.msdyusd_type).
const (
	SessionLineName     = 803750000
	SessionLineOverview = 803750001
)

// Toolbar button enable conditions (msdyusd_toolbarbutton.msdyusd_enablecondition).
const (
	ButtonEnableAlways          = 803750000
	ButtonEnableCustomerSession = 803750001
	ButtonEnableScript          = 803750002
)

// HostedControl is a uii_hostedapplication row.
type HostedControl struct {
	ID            string        `json:"id"`
	Name          string        `json:"name"`
	DisplayName   string        `json:"displayName,omitempty"`
	ComponentType ComponentType `json:"componentType"`
	// DisplayGroup is the panel the control is shown in (MainPanel, ...).
	DisplayGroup       string `json:"displayGroup,omitempty"`
	Global             bool   `json:"global"`
	SortOrder          int    `json:"sortOrder,omitempty"`
	AllowMultiplePages bool   `json:"allowMultiplePages,omitempty"`
	UserCanClose       bool   `json:"userCanClose,omitempty"`
	HostingType        int    `json:"hostingType,omitempty"`
	WebAppURL          string `json:"webAppUrl,omitempty"`
	AssemblyURI        string `json:"assemblyUri,omitempty"`
	AssemblyType       string `json:"assemblyType,omitempty"`
	DashboardName      string `json:"dashboardName,omitempty"`
	CIFURL             string `json:"cifUrl,omitempty"`
}

// Action is a uii_action row: an operation a hosted control understands.
type Action struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	HostedControlID string `json:"hostedControlId,omitempty"`
	Help            string `json:"help,omitempty"`
	IsDefault       bool   `json:"isDefault,omitempty"`
	URL             string `json:"url,omitempty"`
	QueryString     string `json:"queryString,omitempty"`
}

// ActionCall is a msdyusd_agentscriptaction row: a call of an action on a
// hosted control with data, an optional JavaScript condition and sub-calls.
type ActionCall struct {
	ID              string   `json:"id"`
	Name            string   `json:"name"`
	HostedControlID string   `json:"hostedControlId,omitempty"`
	ActionID        string   `json:"actionId,omitempty"`
	Data            string   `json:"data,omitempty"`
	Condition       string   `json:"condition,omitempty"`
	Order           int      `json:"order"`
	ShortcutKey     string   `json:"shortcutKey,omitempty"`
	SubActionCalls  []string `json:"subActionCalls,omitempty"`
}

// Event is a msdyusd_uiievent row.
type Event struct {
	ID              string   `json:"id"`
	Name            string   `json:"name"`
	HostedControlID string   `json:"hostedControlId,omitempty"`
	ActionCalls     []string `json:"actionCalls,omitempty"`
}

// EntityType is a msdyusd_entityassignment row (a logical name that rules and
// session lines refer to).
type EntityType struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	NumericCode int    `json:"numericCode,omitempty"`
}

// NavigationRule is a msdyusd_windowroute row.
type NavigationRule struct {
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	Order          int      `json:"order"`
	FromID         string   `json:"fromId,omitempty"`
	FromSearchID   string   `json:"fromSearchId,omitempty"`
	EntityTypeID   string   `json:"entityTypeId,omitempty"`
	URL            string   `json:"url,omitempty"`
	RouteType      int      `json:"routeType,omitempty"`
	Action         int      `json:"action,omitempty"`
	Destination    int      `json:"destination,omitempty"`
	TargetTabID    string   `json:"targetTabId,omitempty"`
	EntitySearchID string   `json:"entitySearchId,omitempty"`
	ShowTab        string   `json:"showTab,omitempty"`
	Condition      string   `json:"condition,omitempty"`
	HideNavBar     bool     `json:"hideNavBar,omitempty"`
	HideRibbon     bool     `json:"hideRibbon,omitempty"`
	ActionCalls    []string `json:"actionCalls,omitempty"`
}

// AgentScript is a msdyusd_task row.
type AgentScript struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	ScriptText   string   `json:"scriptText,omitempty"`
	Instructions string   `json:"instructions,omitempty"`
	Description  string   `json:"description,omitempty"`
	ShowTab      string   `json:"showTab,omitempty"`
	Answers      []string `json:"answers,omitempty"`
	ActionCalls  []string `json:"actionCalls,omitempty"`
}

// Answer is a msdyusd_answer row.
type Answer struct {
	ID               string   `json:"id"`
	Name             string   `json:"name"`
	Text             string   `json:"text,omitempty"`
	Order            int      `json:"order"`
	LinkedScriptID   string   `json:"linkedScriptId,omitempty"`
	ShowTab          string   `json:"showTab,omitempty"`
	EnabledCondition string   `json:"enabledCondition,omitempty"`
	VisibleCondition string   `json:"visibleCondition,omitempty"`
	ActionCalls      []string `json:"actionCalls,omitempty"`
}

// SessionLine is a msdyusd_sessioninformation row.
type SessionLine struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Type         int    `json:"type"`
	Display      string `json:"display,omitempty"`
	Order        int    `json:"order"`
	EntityTypeID string `json:"entityTypeId,omitempty"`
}

// Toolbar is a msdyusd_toolbarstrip row.
type Toolbar struct {
	ID               string   `json:"id"`
	Name             string   `json:"name"`
	Order            int      `json:"order"`
	HostedControls   []string `json:"hostedControls,omitempty"`
	VisibleCondition string   `json:"visibleCondition,omitempty"`
}

// ToolbarButton is a msdyusd_toolbarbutton row.
type ToolbarButton struct {
	ID               string   `json:"id"`
	Name             string   `json:"name"`
	ToolbarID        string   `json:"toolbarId,omitempty"`
	ParentButtonID   string   `json:"parentButtonId,omitempty"`
	Text             string   `json:"text,omitempty"`
	Tooltip          string   `json:"tooltip,omitempty"`
	Image            string   `json:"image,omitempty"`
	Order            int      `json:"order"`
	EnableCondition  int      `json:"enableCondition,omitempty"`
	VisibleCondition string   `json:"visibleCondition,omitempty"`
	ActionCalls      []string `json:"actionCalls,omitempty"`
}

// EntitySearch is a msdyusd_entitysearch row.
type EntitySearch struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	FetchXML     string `json:"fetchXml,omitempty"`
	EntityTypeID string `json:"entityTypeId,omitempty"`
}

// Scriptlet is a msdyusd_scriptlet row (JavaScript run by [[script.Name]]).
type Scriptlet struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	ScriptText string `json:"scriptText,omitempty"`
}

// Form is a msdyusd_form row.
type Form struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Markup string `json:"markup,omitempty"`
}

// Option is a uii_option row.
type Option struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Value        string `json:"value,omitempty"`
	GlobalOption int    `json:"globalOption,omitempty"`
}

// Configuration is a msdyusd_configuration row with its members, keyed by
// member kind.
type Configuration struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	IsDefault bool              `json:"isDefault"`
	Members   map[Kind][]string `json:"members,omitempty"`
}

// Model is one USD configuration export. Slices are sorted by (name, id) so
// that everything computed from a model is deterministic.
type Model struct {
	HostedControls  []*HostedControl  `json:"hostedControls"`
	Actions         []*Action         `json:"actions"`
	ActionCalls     []*ActionCall     `json:"actionCalls"`
	Events          []*Event          `json:"events"`
	EntityTypes     []*EntityType     `json:"entityTypes"`
	NavigationRules []*NavigationRule `json:"navigationRules"`
	AgentScripts    []*AgentScript    `json:"agentScripts"`
	Answers         []*Answer         `json:"answers"`
	SessionLines    []*SessionLine    `json:"sessionLines"`
	Toolbars        []*Toolbar        `json:"toolbars"`
	ToolbarButtons  []*ToolbarButton  `json:"toolbarButtons"`
	EntitySearches  []*EntitySearch   `json:"entitySearches"`
	Scriptlets      []*Scriptlet      `json:"scriptlets"`
	Forms           []*Form           `json:"forms"`
	Options         []*Option         `json:"options"`
	Configurations  []*Configuration  `json:"configurations"`

	// Selected names the configuration the model was narrowed to, if any.
	Selected string `json:"selected,omitempty"`
	// Problems lists everything that could not be read or resolved. A model
	// with problems still holds every component that was readable.
	Problems []Problem `json:"problems,omitempty"`

	index *modelIndex
}

type modelIndex struct {
	hostedControls map[string]*HostedControl
	actions        map[string]*Action
	actionCalls    map[string]*ActionCall
	entityTypes    map[string]*EntityType
	scripts        map[string]*AgentScript
	answers        map[string]*Answer
	toolbars       map[string]*Toolbar
	searches       map[string]*EntitySearch
	// callsOf, rulesTo and routes serve PageOf, which would otherwise
	// scan every action call and rule per control and rule: quadratic
	// in the size of an export that anyone may send.
	callsOf map[string][]*ActionCall
	rulesTo map[string][]*NavigationRule
	routes  map[routeKey]*NavigationRule
}

type routeKey struct{ from, entity string }

func (m *Model) idx() *modelIndex {
	if m.index != nil {
		return m.index
	}
	x := &modelIndex{
		hostedControls: indexByID(m.HostedControls, func(v *HostedControl) string { return v.ID }),
		actions:        indexByID(m.Actions, func(v *Action) string { return v.ID }),
		actionCalls:    indexByID(m.ActionCalls, func(v *ActionCall) string { return v.ID }),
		entityTypes:    indexByID(m.EntityTypes, func(v *EntityType) string { return v.ID }),
		scripts:        indexByID(m.AgentScripts, func(v *AgentScript) string { return v.ID }),
		answers:        indexByID(m.Answers, func(v *Answer) string { return v.ID }),
		toolbars:       indexByID(m.Toolbars, func(v *Toolbar) string { return v.ID }),
		searches:       indexByID(m.EntitySearches, func(v *EntitySearch) string { return v.ID }),
		callsOf:        map[string][]*ActionCall{},
		rulesTo:        map[string][]*NavigationRule{},
		routes:         map[routeKey]*NavigationRule{},
	}
	for _, ac := range m.ActionCalls {
		x.callsOf[ac.HostedControlID] = append(x.callsOf[ac.HostedControlID], ac)
	}
	for _, r := range m.NavigationRules {
		x.rulesTo[r.TargetTabID] = append(x.rulesTo[r.TargetTabID], r)
		if r.FromID == "" || r.TargetTabID == "" || !routes(r) {
			continue
		}
		et := x.entityTypes[r.EntityTypeID]
		if et == nil || et.Name == "" {
			continue
		}
		k := routeKey{r.FromID, strings.ToLower(et.Name)}
		if best := x.routes[k]; best == nil || r.Order < best.Order || (r.Order == best.Order && r.Name < best.Name) {
			x.routes[k] = r
		}
	}
	m.index = x
	return x
}

// HostedControl finds a hosted control by id.
func (m *Model) HostedControl(id string) *HostedControl { return m.idx().hostedControls[id] }

// Action finds a UII action by id.
func (m *Model) Action(id string) *Action { return m.idx().actions[id] }

// ActionCall finds an action call by id.
func (m *Model) ActionCall(id string) *ActionCall { return m.idx().actionCalls[id] }

// EntityType finds an entity type by id.
func (m *Model) EntityType(id string) *EntityType { return m.idx().entityTypes[id] }

// AgentScript finds an agent script by id.
func (m *Model) AgentScript(id string) *AgentScript { return m.idx().scripts[id] }

// Answer finds an answer by id.
func (m *Model) Answer(id string) *Answer { return m.idx().answers[id] }

// Toolbar finds a toolbar by id.
func (m *Model) Toolbar(id string) *Toolbar { return m.idx().toolbars[id] }

// EntitySearch finds an entity search by id.
func (m *Model) EntitySearch(id string) *EntitySearch { return m.idx().searches[id] }

// EntityName returns the logical name behind an entity type id, or "".
func (m *Model) EntityName(entityTypeID string) string {
	if et := m.EntityType(entityTypeID); et != nil {
		return et.Name
	}
	return ""
}

// HostedControlName returns the name of a hosted control id, or "".
func (m *Model) HostedControlName(id string) string {
	if hc := m.HostedControl(id); hc != nil {
		return hc.Name
	}
	return ""
}

// ActionName returns the name of a UII action id, or "".
func (m *Model) ActionName(id string) string {
	if a := m.Action(id); a != nil {
		return a.Name
	}
	return ""
}

// ActionCallsFor resolves ids to action calls in USD execution order (order,
// then name), skipping dangling ids, which are reported as problems at load.
func (m *Model) ActionCallsFor(ids []string) []*ActionCall {
	out := make([]*ActionCall, 0, len(ids))
	for _, id := range ids {
		if ac := m.ActionCall(id); ac != nil {
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

// ActionCallsOf returns the action calls that run on a hosted control,
// in the model's order (name, then id).
func (m *Model) ActionCallsOf(hostedControlID string) []*ActionCall {
	return slices.Clone(m.idx().callsOf[hostedControlID])
}

// RulesTo returns the navigation rules whose Target Tab is the control.
func (m *Model) RulesTo(hostedControlID string) []*NavigationRule {
	if hostedControlID == "" {
		return nil
	}
	return m.idx().rulesTo[hostedControlID]
}

// Configuration finds a configuration by name (case-insensitive match is
// not used: USD names are case-sensitive keys in the admin UI).
func (m *Model) Configuration(name string) *Configuration {
	for _, c := range m.Configurations {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// DefaultConfiguration returns the configuration marked default, or nil.
func (m *Model) DefaultConfiguration() *Configuration {
	for _, c := range m.Configurations {
		if c.IsDefault {
			return c
		}
	}
	return nil
}

// Count is the number of components of every kind, for summaries.
func (m *Model) Count() map[Kind]int {
	return map[Kind]int{
		KindHostedControl: len(m.HostedControls), KindAction: len(m.Actions), KindActionCall: len(m.ActionCalls),
		KindEvent: len(m.Events), KindEntityType: len(m.EntityTypes), KindNavigationRule: len(m.NavigationRules),
		KindAgentScript: len(m.AgentScripts), KindAnswer: len(m.Answers), KindSessionLine: len(m.SessionLines),
		KindToolbar: len(m.Toolbars), KindToolbarButton: len(m.ToolbarButtons), KindEntitySearch: len(m.EntitySearches),
		KindScriptlet: len(m.Scriptlets), KindForm: len(m.Forms), KindOption: len(m.Options),
		KindConfiguration: len(m.Configurations),
	}
}

// NameOr returns the toolbar's name, or "" for a nil toolbar, so callers
// can describe a dangling reference without a check.
func (t *Toolbar) NameOr() string {
	if t == nil {
		return ""
	}
	return t.Name
}

// indexByID maps each component to its ID; a later duplicate ID wins, as
// the loops this replaces did.
func indexByID[T any](items []T, id func(T) string) map[string]T {
	out := make(map[string]T, len(items))
	for _, v := range items {
		out[id(v)] = v
	}
	return out
}
