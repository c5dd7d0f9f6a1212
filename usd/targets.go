package usd

import (
	"net/url"
	"strings"
)

// DataLine is one line of action call data: name=value, or a bare value
// (GotoTask takes the script name as its whole data).
type DataLine struct {
	Name  string
	Value string
}

// ParseActionData splits action call data into lines. USD stores it as
// multi-line text, one name=value per line
// (learn.microsoft.com/dynamics365/unified-service-desk/create-action-call-uii-action).
func ParseActionData(data string) []DataLine {
	var out []DataLine
	for _, line := range strings.Split(strings.ReplaceAll(data, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok || strings.ContainsAny(name, " ([\"'") {
			out = append(out, DataLine{Value: line})
			continue
		}
		out = append(out, DataLine{Name: strings.TrimSpace(name), Value: value})
	}
	return out
}

// DataValue returns the value of a named data line, case-insensitively.
func DataValue(lines []DataLine, name string) (string, bool) {
	for _, l := range lines {
		if strings.EqualFold(l.Name, name) {
			return l.Value, true
		}
	}
	return "", false
}

// Macro action template names of the productivity automation and session
// macro actions (msdyn_productivitymacroactiontemplate rows; see
// learn.microsoft.com/dynamics365/customer-service/administer/macros-productivity-automation
// and .../macros-session-action).
const (
	MacroOpenForm          = "Open_Form"
	MacroCreateNew         = "Create_New"
	MacroOpenGrid          = "Open_Grid"
	MacroOpenAppTab        = "Open_Application_Tab"
	MacroSearchKB          = "Search_knowledge_base"
	MacroSetAgentScript    = "Set_AgentScript_focus"
	MacroFocusTab          = "Focus_tab"
	MacroDraftEmail        = "Draft_Email"
	MacroResolveCase       = "Resolve_Case"
	MacroUpdateRecordField = "Update_Record"
)

// MacroStep is the macro equivalent of one action call.
type MacroStep struct {
	// Action is the macro action template name.
	Action string
	// Inputs are the action inputs, values still in USD syntax.
	Inputs map[string]string
	// TabControlID is set for Open_Application_Tab: the hosted control whose
	// application tab template the step opens.
	TabControlID string
	// ScriptID is set for Set_AgentScript_focus.
	ScriptID string
	// Notes are facts a person should know about the translation.
	Notes []string
}

// isPageControl reports hosted control types that show Dataverse pages.
func isPageControl(t ComponentType) bool {
	return t == CRMPage || t == UnifiedInterfacePage || t == InteractiveServiceHubPage
}

// MacroFor returns the macro equivalent of an action call, or ok=false with
// the reason there is none. Action names are USD's predefined UII actions
// (learn.microsoft.com/dynamics365/unified-service-desk/unified-interface-page-hosted-control,
// .../standard-web-application-hosted-control, .../agent-scripting-hosted-control,
// .../unified-interface-km-control).
func (m *Model) MacroFor(ac *ActionCall) (MacroStep, bool, string) {
	hc := m.HostedControl(ac.HostedControlID)
	action := m.ActionName(ac.ActionID)
	if hc == nil || action == "" {
		return MacroStep{}, false, "action call has no hosted control or action"
	}
	data := ParseActionData(ac.Data)
	switch {
	case isPageControl(hc.ComponentType) && strings.EqualFold(action, "Open_CRM_Page"):
		entity, _ := DataValue(data, "LogicalName")
		id, _ := DataValue(data, "id")
		if entity == "" {
			return MacroStep{}, false, "Open_CRM_Page without LogicalName"
		}
		return MacroStep{Action: MacroOpenForm, Inputs: map[string]string{"EntityLogicalName": entity, "EntityId": id}}, true, ""
	case isPageControl(hc.ComponentType) && strings.EqualFold(action, "New_CRM_Page"):
		entity, _ := DataValue(data, "LogicalName")
		if entity == "" {
			return MacroStep{}, false, "New_CRM_Page without LogicalName"
		}
		in := map[string]string{"EntityLogicalName": entity}
		for _, l := range data {
			if l.Name != "" && !strings.EqualFold(l.Name, "LogicalName") {
				in[l.Name] = l.Value
			}
		}
		return MacroStep{Action: MacroCreateNew, Inputs: in,
			Notes: []string{"lookups are prefilled as id, name and type attributes, as both USD and the macro action expect"}}, true, ""
	case isPageControl(hc.ComponentType) && strings.EqualFold(action, "Navigate"):
		raw, _ := DataValue(data, "url")
		if etn, ok := listEntity(raw); ok {
			return MacroStep{Action: MacroOpenGrid, Inputs: map[string]string{"EntityLogicalName": etn}}, true, ""
		}
		return MacroStep{Action: MacroOpenAppTab, TabControlID: hc.ID}, true, ""
	case isPageControl(hc.ComponentType) && strings.EqualFold(action, "Find"):
		// Find shows the quick find list of the entity in its data.
		ev := findPage(data)
		if ev == nil {
			return MacroStep{}, false, "Find without an entity"
		}
		return MacroStep{Action: MacroOpenGrid, Inputs: map[string]string{"EntityLogicalName": ev.Params["entityName"]}}, true, ""
	case hc.ComponentType == StandardWebApplication && strings.EqualFold(action, "Navigate"):
		raw, _ := DataValue(data, "url")
		return MacroStep{Action: MacroOpenAppTab, TabControlID: hc.ID, Inputs: map[string]string{"url": raw}}, true, ""
	case hc.ComponentType == AgentScripting && strings.EqualFold(action, "GotoTask"):
		name := ""
		if len(data) > 0 {
			name = data[0].Value
			if data[0].Name != "" {
				name = data[0].Name + "=" + data[0].Value
			}
		}
		for _, s := range m.AgentScripts {
			if s.Name == name {
				return MacroStep{Action: MacroSetAgentScript, ScriptID: s.ID}, true, ""
			}
		}
		return MacroStep{}, false, "GotoTask names agent script " + quote(name) + ", which is not in the configuration"
	case (hc.ComponentType == UnifiedInterfaceKMControl || hc.ComponentType == KMControl) && strings.EqualFold(action, "Search"):
		q := ""
		if len(data) > 0 {
			q = data[0].Value
		}
		return MacroStep{Action: MacroSearchKB, Inputs: map[string]string{"SearchString": q}}, true, ""
	case strings.EqualFold(action, "SetFocus") || strings.EqualFold(action, "FocusTab"):
		return MacroStep{Action: MacroFocusTab, TabControlID: hc.ID,
			Notes: []string{"Focus_tab needs the tab id at run time; the macro focuses the tab opened from the template"}}, true, ""
	case strings.EqualFold(action, "RunXrmCommand") || strings.EqualFold(action, "RunScript") || strings.EqualFold(action, "ExecuteScript"):
		return MacroStep{}, false, "action " + action + " runs JavaScript; rewrite it as a web resource or Power Fx command"
	case strings.EqualFold(action, "CopyToContext"):
		return MacroStep{}, false, "CopyToContext sets USD context values; recreate with the macro action that sets session context variables"
	}
	return MacroStep{}, false, "action " + action + " on a " + hc.ComponentType.String() + " has no macro equivalent"
}

func quote(s string) string { return "\"" + s + "\"" }

// listEntity recognises a Unified Interface list URL (pagetype=entitylist&etn=X).
func listEntity(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", false
	}
	q := u.Query()
	if strings.EqualFold(q.Get("pagetype"), "entitylist") && q.Get("etn") != "" {
		return q.Get("etn"), true
	}
	return "", false
}

// DashboardID recognises a dashboard URL (pagetype=dashboard&id={GUID}).
func DashboardID(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", false
	}
	q := u.Query()
	if strings.EqualFold(q.Get("pagetype"), "dashboard") && q.Get("id") != "" {
		return NormalizeID(q.Get("id")), true
	}
	return "", false
}

// ListEntity is listEntity for other packages.
func ListEntity(raw string) (string, bool) { return listEntity(raw) }

// RecordURL recognises a Unified Interface or web client record URL
// (pagetype=entityrecord&etn=X&id=Y); id may be empty.
func RecordURL(raw string) (entity, id string, ok bool) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", false
	}
	q := u.Query()
	if strings.EqualFold(q.Get("pagetype"), "entityrecord") && q.Get("etn") != "" {
		return q.Get("etn"), q.Get("id"), true
	}
	return "", "", false
}
