package usd

import (
	"fmt"
	"strings"
)

// UnknownConfigurationError is returned by Select for a name the export
// does not contain.
type UnknownConfigurationError struct {
	Name      string
	Available []string
}

func (e *UnknownConfigurationError) Error() string {
	if len(e.Available) == 0 {
		return fmt.Sprintf("usd: configuration %q not found: the export has no configurations", e.Name)
	}
	return fmt.Sprintf("usd: configuration %q not found; the export has: %s", e.Name, strings.Join(e.Available, ", "))
}

// Select narrows a model to one named configuration. With an empty name it
// picks the configuration marked default; when none is, the whole model is
// returned unchanged, which is what the USD client loads for users without
// a configuration.
//
// A user with a configuration only gets the components associated with it
// (learn.microsoft.com/dynamics365/unified-service-desk/admin/manage-access-using-unified-service-desk-configuration),
// so the narrowed model holds the members plus what belongs to them: the
// UII actions of member hosted controls, the answers of member scripts, the
// buttons of member toolbars, and all entity types.
func Select(m *Model, name string) (*Model, error) {
	var c *Configuration
	if name == "" {
		c = m.DefaultConfiguration()
		if c == nil {
			return m, nil
		}
	} else if c = m.Configuration(name); c == nil {
		names := make([]string, len(m.Configurations))
		for i, c := range m.Configurations {
			names[i] = c.Name
		}
		return nil, &UnknownConfigurationError{Name: name, Available: names}
	}
	in := func(k Kind) map[string]bool {
		set := map[string]bool{}
		for _, id := range c.Members[k] {
			set[id] = true
		}
		return set
	}
	hcs, calls, events, rules := in(KindHostedControl), in(KindActionCall), in(KindEvent), in(KindNavigationRule)
	toolbars, searches, lines, scripts := in(KindToolbar), in(KindEntitySearch), in(KindSessionLine), in(KindAgentScript)
	scriptlets, forms, options := in(KindScriptlet), in(KindForm), in(KindOption)

	out := &Model{Selected: c.Name, Problems: m.Problems, EntityTypes: m.EntityTypes, Configurations: []*Configuration{c}}
	out.HostedControls = filter(m.HostedControls, func(v *HostedControl) bool { return hcs[v.ID] })
	out.Actions = filter(m.Actions, func(v *Action) bool { return hcs[v.HostedControlID] })
	out.Events = filter(m.Events, func(v *Event) bool { return events[v.ID] })
	out.NavigationRules = filter(m.NavigationRules, func(v *NavigationRule) bool { return rules[v.ID] })
	out.Toolbars = filter(m.Toolbars, func(v *Toolbar) bool { return toolbars[v.ID] })
	out.ToolbarButtons = filter(m.ToolbarButtons, func(v *ToolbarButton) bool { return toolbars[v.ToolbarID] })
	out.EntitySearches = filter(m.EntitySearches, func(v *EntitySearch) bool { return searches[v.ID] })
	out.SessionLines = filter(m.SessionLines, func(v *SessionLine) bool { return lines[v.ID] })
	out.AgentScripts = filter(m.AgentScripts, func(v *AgentScript) bool { return scripts[v.ID] })
	answers := map[string]bool{}
	for _, s := range out.AgentScripts {
		for _, a := range s.Answers {
			answers[a] = true
		}
	}
	out.Answers = filter(m.Answers, func(v *Answer) bool { return answers[v.ID] })
	out.Scriptlets = filter(m.Scriptlets, func(v *Scriptlet) bool { return scriptlets[v.ID] })
	out.Forms = filter(m.Forms, func(v *Form) bool { return forms[v.ID] })
	out.Options = filter(m.Options, func(v *Option) bool { return options[v.ID] })
	out.ActionCalls = filter(m.ActionCalls, func(v *ActionCall) bool { return calls[v.ID] })
	return out, nil
}

func filter[T any](s []T, keep func(T) bool) []T {
	var out []T
	for _, v := range s {
		if keep(v) {
			out = append(out, v)
		}
	}
	return out
}
