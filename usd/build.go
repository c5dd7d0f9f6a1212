package usd

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Field is one column value of a source record, as text the way the CMT
// writes it: choices and integers in decimal, booleans True/False, lookups
// as the target's GUID with LookupEntity naming the target table.
type Field struct {
	Name         string
	Value        string
	LookupEntity string
}

// Record is one row of a USD table, with where it came from.
type Record struct {
	Entity string
	ID     string
	Fields []Field
	File   string
	Line   int
}

// Association is one N:N membership list: SourceID (a row of SourceEntity)
// is related to TargetIDs through Relationship.
type Association struct {
	Relationship string
	SourceEntity string
	SourceID     string
	TargetIDs    []string
	File         string
	Line         int
}

// Builder assembles a Model from records and associations in any order, so
// that every Source (CMT zip, Dataverse tables) shares one interpretation of
// the USD tables. It is not safe for concurrent use.
type Builder struct {
	m         *Model
	ids       map[string]map[string]bool // entity → ids seen
	assocs    []Association
	ignored   map[string]bool
	unknownRl map[string]bool
	locs      map[string]recordLoc // entity/id → where the row was read
}

type recordLoc struct {
	file string
	line int
}

// NewBuilder returns an empty builder.
func NewBuilder() *Builder {
	return &Builder{m: &Model{}, ids: map[string]map[string]bool{}, ignored: map[string]bool{}, unknownRl: map[string]bool{}, locs: map[string]recordLoc{}}
}

// AddProblem records a problem found by the source itself.
func (b *Builder) AddProblem(p Problem) { b.m.Problems = append(b.m.Problems, p) }

// NormalizeID lower-cases a GUID and strips braces, so that ids written by
// different tools compare equal.
func NormalizeID(id string) string {
	return strings.ToLower(strings.Trim(strings.TrimSpace(id), "{}"))
}

type fieldReader struct {
	b      *Builder
	rec    *Record
	name   string
	values map[string]Field
}

func (r *fieldReader) problem(sev Severity, field, format string, args ...any) {
	r.b.AddProblem(Problem{Severity: sev, File: r.rec.File, Line: r.rec.Line, Entity: r.rec.Entity,
		RecordID: r.rec.ID, RecordName: r.name, Field: field, Message: fmt.Sprintf(format, args...)})
}

func (r *fieldReader) str(name string) string { return r.values[name].Value }

func (r *fieldReader) int(name string) int {
	v := strings.TrimSpace(r.values[name].Value)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		r.problem(SeverityError, name, "value %q is not an integer; ignored", v)
		return 0
	}
	return n
}

func (r *fieldReader) bool(name string) bool {
	v := strings.TrimSpace(r.values[name].Value)
	switch strings.ToLower(v) {
	case "", "false", "0":
		return false
	case "true", "1":
		return true
	}
	r.problem(SeverityError, name, "value %q is not a boolean (True/False); read as False", v)
	return false
}

func (r *fieldReader) ref(name string) string { return NormalizeID(r.values[name].Value) }

// AddRecord interprets one row. Rows of tables the model does not cover are
// counted once as a warning; a row without an id is skipped with an error.
func (b *Builder) AddRecord(rec Record) {
	rec.ID = NormalizeID(rec.ID)
	info, ok := TableByLogicalName(rec.Entity)
	if !ok {
		if !b.ignored[rec.Entity] {
			b.ignored[rec.Entity] = true
			b.AddProblem(Problem{Severity: SeverityWarning, File: rec.File, Line: rec.Line, Entity: rec.Entity,
				Message: "table is not part of the USD configuration model; its rows are not assessed"})
		}
		return
	}
	values := make(map[string]Field, len(rec.Fields))
	for _, f := range rec.Fields {
		values[f.Name] = f
	}
	if rec.ID == "" {
		rec.ID = NormalizeID(values[info.PrimaryID].Value)
	}
	r := &fieldReader{b: b, rec: &rec, name: values[info.PrimaryName].Value, values: values}
	if rec.ID == "" {
		r.problem(SeverityError, info.PrimaryID, "record has no id; skipped")
		return
	}
	seen := b.ids[rec.Entity]
	if seen == nil {
		seen = map[string]bool{}
		b.ids[rec.Entity] = seen
	}
	if seen[rec.ID] {
		r.problem(SeverityError, "", "duplicate record id; the later copy is ignored")
		return
	}
	seen[rec.ID] = true
	b.locs[rec.Entity+"/"+rec.ID] = recordLoc{rec.File, rec.Line}
	if r.name == "" && info.Kind != KindAnswer && info.Kind != KindToolbarButton {
		r.problem(SeverityWarning, info.PrimaryName, "record has no name")
	}
	m := b.m
	switch info.Kind {
	case KindHostedControl:
		m.HostedControls = append(m.HostedControls, &HostedControl{
			ID: rec.ID, Name: r.name, DisplayName: r.str("msdyusd_displayname"),
			ComponentType: ComponentType(r.int("msdyusd_crmwindowhosttype")), DisplayGroup: r.str("uii_displaygroup"),
			Global: r.bool("uii_isglobalapplication"), SortOrder: r.int("uii_sortorder"),
			AllowMultiplePages: r.bool("msdyusd_allowmultiplepages"), UserCanClose: r.bool("uii_usercanclose"),
			HostingType: r.int("msdyusd_hostingtype"), WebAppURL: r.str("uii_webappurl"),
			AssemblyURI: r.str("uii_assemblyuri"), AssemblyType: r.str("uii_assemblytype"),
			DashboardName: r.str("msdyusd_dashboardname"), CIFURL: r.str("msdyusd_cifurl"),
		})
	case KindAction:
		m.Actions = append(m.Actions, &Action{ID: rec.ID, Name: r.name, HostedControlID: r.ref("uii_hostedapplicationid"),
			Help: r.str("msdyusd_help"), IsDefault: r.bool("uii_isdefault"), URL: r.str("uii_url"), QueryString: r.str("uii_querystring")})
	case KindActionCall:
		m.ActionCalls = append(m.ActionCalls, &ActionCall{ID: rec.ID, Name: r.name, HostedControlID: r.ref("msdyusd_application"),
			ActionID: r.ref("msdyusd_action"), Data: r.str("msdyusd_actiondata"), Condition: r.str("msdyusd_condition"),
			Order: r.int("msdyusd_order"), ShortcutKey: r.str("msdyusd_shortcutkey")})
	case KindEvent:
		m.Events = append(m.Events, &Event{ID: rec.ID, Name: r.name, HostedControlID: r.ref("msdyusd_hostedapplicationid")})
	case KindEntityType:
		m.EntityTypes = append(m.EntityTypes, &EntityType{ID: rec.ID, Name: r.name, NumericCode: r.int("msdyusd_numericcode")})
	case KindNavigationRule:
		m.NavigationRules = append(m.NavigationRules, &NavigationRule{ID: rec.ID, Name: r.name, Order: r.int("msdyusd_order"),
			FromID: r.ref("msdyusd_from"), FromSearchID: r.ref("msdyusd_fromsearch"), EntityTypeID: r.ref("msdyusd_entity"),
			URL: r.str("msdyusd_url"), RouteType: r.int("msdyusd_routetype"), Action: r.int("msdyusd_action"),
			Destination: r.int("msdyusd_destination"), TargetTabID: r.ref("msdyusd_application"),
			EntitySearchID: r.ref("msdyusd_entitysearch"), ShowTab: r.ref("msdyusd_showtab"), Condition: r.str("msdyusd_condition"),
			HideNavBar: r.bool("msdyusd_hidenavbar"), HideRibbon: r.bool("msdyusd_hideribbon")})
	case KindAgentScript:
		m.AgentScripts = append(m.AgentScripts, &AgentScript{ID: rec.ID, Name: r.name, ScriptText: r.str("msdyusd_scripttext"),
			Instructions: r.str("msdyusd_instructions"), Description: r.str("msdyusd_description"), ShowTab: r.ref("msdyusd_showtab")})
	case KindAnswer:
		m.Answers = append(m.Answers, &Answer{ID: rec.ID, Name: r.name, Text: r.str("msdyusd_answertext"), Order: r.int("msdyusd_order"),
			LinkedScriptID: r.ref("msdyusd_linkedtask"), ShowTab: r.ref("msdyusd_showtab"),
			EnabledCondition: r.str("msdyusd_enabledcondition"), VisibleCondition: r.str("msdyusd_visiblecondition")})
	case KindSessionLine:
		m.SessionLines = append(m.SessionLines, &SessionLine{ID: rec.ID, Name: r.name, Type: r.int("msdyusd_type"),
			Display: r.str("msdyusd_display"), Order: r.int("msdyusd_order"), EntityTypeID: r.ref("msdyusd_selectedentity")})
	case KindToolbar:
		name := r.name
		if name == "" {
			name = r.str("msdyusd_title")
		}
		m.Toolbars = append(m.Toolbars, &Toolbar{ID: rec.ID, Name: name, Order: r.int("msdyusd_order"),
			VisibleCondition: r.str("msdyusd_visiblecondition")})
	case KindToolbarButton:
		m.ToolbarButtons = append(m.ToolbarButtons, &ToolbarButton{ID: rec.ID, Name: r.name, ToolbarID: r.ref("msdyusd_toolbarid"),
			ParentButtonID: r.ref("msdyusd_buttons"), Text: r.str("msdyusd_buttontext"), Tooltip: r.str("msdyusd_tooltip"),
			Image: r.str("msdyusd_image"), Order: r.int("msdyusd_order"), EnableCondition: r.int("msdyusd_enablecondition"),
			VisibleCondition: r.str("msdyusd_visiblecondition")})
	case KindEntitySearch:
		m.EntitySearches = append(m.EntitySearches, &EntitySearch{ID: rec.ID, Name: r.name, FetchXML: r.str("msdyusd_fetchxml"),
			EntityTypeID: r.ref("msdyusd_entity")})
	case KindScriptlet:
		m.Scriptlets = append(m.Scriptlets, &Scriptlet{ID: rec.ID, Name: r.name, ScriptText: r.str("msdyusd_scripttext")})
	case KindForm:
		m.Forms = append(m.Forms, &Form{ID: rec.ID, Name: r.name, Markup: r.str("msdyusd_markup")})
	case KindOption:
		m.Options = append(m.Options, &Option{ID: rec.ID, Name: r.name, Value: r.str("uii_value"), GlobalOption: r.int("msdyusd_globaloption")})
	case KindConfiguration:
		m.Configurations = append(m.Configurations, &Configuration{ID: rec.ID, Name: r.name, IsDefault: r.bool("msdyusd_isdefault"),
			Members: map[Kind][]string{}})
	}
}

// AddAssociation records an N:N membership list; it is applied by Model,
// so associations may arrive before the rows they join.
func (b *Builder) AddAssociation(a Association) {
	a.SourceID = NormalizeID(a.SourceID)
	ids := make([]string, 0, len(a.TargetIDs))
	for _, id := range a.TargetIDs {
		if id = NormalizeID(id); id != "" {
			ids = append(ids, id)
		}
	}
	a.TargetIDs = ids
	b.assocs = append(b.assocs, a)
}

// Model resolves associations and references and returns the model. Every
// reference that points at a row the source did not contain is reported
// and dropped, so consumers only see resolvable ids.
func (b *Builder) Model() *Model {
	m := b.m
	m.index = nil
	x := m.idx()
	scripts := x.scripts
	events := map[string]*Event{}
	for _, e := range m.Events {
		events[e.ID] = e
	}
	rules := map[string]*NavigationRule{}
	for _, r := range m.NavigationRules {
		rules[r.ID] = r
	}
	buttons := map[string]*ToolbarButton{}
	for _, t := range m.ToolbarButtons {
		buttons[t.ID] = t
	}
	configs := map[string]*Configuration{}
	for _, c := range m.Configurations {
		configs[c.ID] = c
	}

	// appendTo returns the id list of owner for relationship rel.
	appendTo := func(rel Relationship, owner string, member string) (bool, *[]string) {
		switch rel.Name {
		case "msdyusd_subactioncalls":
			if ac := x.actionCalls[owner]; ac != nil {
				return true, &ac.SubActionCalls
			}
		case "msdyusd_uiievent_agentscriptaction":
			if e := events[owner]; e != nil {
				return true, &e.ActionCalls
			}
		case "msdyusd_windowroute_agentscriptaction":
			if r := rules[owner]; r != nil {
				return true, &r.ActionCalls
			}
		case "msdyusd_task_agentscriptaction":
			if s := scripts[owner]; s != nil {
				return true, &s.ActionCalls
			}
		case "msdyusd_task_answer":
			if s := scripts[owner]; s != nil {
				return true, &s.Answers
			}
		case "msdyusd_answer_agentscriptaction":
			if a := x.answers[owner]; a != nil {
				return true, &a.ActionCalls
			}
		case "msdyusd_toolbarstrip_uii_hostedapplication":
			if t := x.toolbars[owner]; t != nil {
				return true, &t.HostedControls
			}
		case "msdyusd_toolbarbutton_agentscriptaction":
			if t := buttons[owner]; t != nil {
				return true, &t.ActionCalls
			}
		case "msdyusd_windowroute_ctisearch":
			// CTI searches (msdyusd_search) are outside the model; the rule
			// is assessed from its other columns.
			return true, nil
		default:
			if rel.Member != "" {
				if c := configs[owner]; c != nil {
					l := c.Members[rel.Member]
					c.Members[rel.Member] = l
					return true, nil
				}
			}
		}
		return false, nil
	}
	for _, a := range b.assocs {
		rel, ok := RelationshipByName(a.Relationship)
		if !ok {
			if !b.unknownRl[a.Relationship] {
				b.unknownRl[a.Relationship] = true
				b.AddProblem(Problem{Severity: SeverityWarning, File: a.File, Line: a.Line, Entity: a.SourceEntity,
					Field: a.Relationship, Message: "relationship is not part of the USD configuration model; ignored"})
			}
			continue
		}
		pairs := make([][2]string, 0, len(a.TargetIDs)) // owner, member
		switch {
		case a.SourceEntity == rel.Entity1:
			for _, t := range a.TargetIDs {
				pairs = append(pairs, [2]string{a.SourceID, t})
			}
		case a.SourceEntity == rel.Entity2:
			for _, t := range a.TargetIDs {
				pairs = append(pairs, [2]string{t, a.SourceID})
			}
		default:
			b.AddProblem(Problem{Severity: SeverityError, File: a.File, Line: a.Line, Entity: a.SourceEntity, RecordID: a.SourceID,
				Field: a.Relationship, Message: fmt.Sprintf("relationship joins %s and %s, not this table; ignored", rel.Entity1, rel.Entity2)})
			continue
		}
		memberEntity := rel.Entity2
		for _, p := range pairs {
			owner, member := p[0], p[1]
			ok, list := appendTo(rel, owner, member)
			if !ok {
				b.AddProblem(Problem{Severity: SeverityError, File: a.File, Line: a.Line, Entity: rel.Entity1, RecordID: owner,
					Field: rel.Name, Message: "membership refers to a row that is not in the export; ignored"})
				continue
			}
			if rel.Member != "" {
				c := configs[owner]
				if !b.exists(memberEntity, member) {
					b.dangling(a.File, a.Line, rel.Entity1, owner, c.Name, rel.Name, memberEntity, member)
					continue
				}
				c.Members[rel.Member] = appendUnique(c.Members[rel.Member], member)
				continue
			}
			if list == nil {
				continue
			}
			if !b.exists(memberEntity, member) {
				b.dangling(a.File, a.Line, rel.Entity1, owner, "", rel.Name, memberEntity, member)
				continue
			}
			*list = appendUnique(*list, member)
		}
	}
	b.assocs = nil
	b.checkLookups()
	sortModel(m)
	return m
}

func appendUnique(l []string, id string) []string {
	for _, v := range l {
		if v == id {
			return l
		}
	}
	return append(l, id)
}

func (b *Builder) exists(entity, id string) bool { return b.ids[entity][id] }

func (b *Builder) dangling(file string, line int, entity, id, name, field, target, targetID string) {
	b.AddProblem(Problem{Severity: SeverityError, File: file, Line: line, Entity: entity, RecordID: id, RecordName: name,
		Field: field, Message: fmt.Sprintf("references %s %s, which is not in the export; reference dropped", target, targetID)})
}

// checkLookups drops lookups to rows the export lacks and reports each.
func (b *Builder) checkLookups() {
	m := b.m
	check := func(entity, id, name, field, target string, ref *string) {
		if *ref == "" || b.exists(target, *ref) {
			return
		}
		loc := b.locs[entity+"/"+id]
		b.dangling(loc.file, loc.line, entity, id, name, field, target, *ref)
		*ref = ""
	}
	for _, v := range m.Actions {
		check("uii_action", v.ID, v.Name, "uii_hostedapplicationid", "uii_hostedapplication", &v.HostedControlID)
	}
	for _, v := range m.ActionCalls {
		check("msdyusd_agentscriptaction", v.ID, v.Name, "msdyusd_application", "uii_hostedapplication", &v.HostedControlID)
		check("msdyusd_agentscriptaction", v.ID, v.Name, "msdyusd_action", "uii_action", &v.ActionID)
	}
	for _, v := range m.Events {
		check("msdyusd_uiievent", v.ID, v.Name, "msdyusd_hostedapplicationid", "uii_hostedapplication", &v.HostedControlID)
	}
	for _, v := range m.NavigationRules {
		check("msdyusd_windowroute", v.ID, v.Name, "msdyusd_from", "uii_hostedapplication", &v.FromID)
		check("msdyusd_windowroute", v.ID, v.Name, "msdyusd_fromsearch", "msdyusd_entitysearch", &v.FromSearchID)
		check("msdyusd_windowroute", v.ID, v.Name, "msdyusd_entity", "msdyusd_entityassignment", &v.EntityTypeID)
		check("msdyusd_windowroute", v.ID, v.Name, "msdyusd_application", "uii_hostedapplication", &v.TargetTabID)
		check("msdyusd_windowroute", v.ID, v.Name, "msdyusd_entitysearch", "msdyusd_entitysearch", &v.EntitySearchID)
		check("msdyusd_windowroute", v.ID, v.Name, "msdyusd_showtab", "uii_hostedapplication", &v.ShowTab)
	}
	for _, v := range m.AgentScripts {
		check("msdyusd_task", v.ID, v.Name, "msdyusd_showtab", "uii_hostedapplication", &v.ShowTab)
	}
	for _, v := range m.Answers {
		check("msdyusd_answer", v.ID, v.Name, "msdyusd_linkedtask", "msdyusd_task", &v.LinkedScriptID)
		check("msdyusd_answer", v.ID, v.Name, "msdyusd_showtab", "uii_hostedapplication", &v.ShowTab)
	}
	for _, v := range m.SessionLines {
		check("msdyusd_sessioninformation", v.ID, v.Name, "msdyusd_selectedentity", "msdyusd_entityassignment", &v.EntityTypeID)
	}
	for _, v := range m.ToolbarButtons {
		check("msdyusd_toolbarbutton", v.ID, v.Name, "msdyusd_toolbarid", "msdyusd_toolbarstrip", &v.ToolbarID)
		check("msdyusd_toolbarbutton", v.ID, v.Name, "msdyusd_buttons", "msdyusd_toolbarbutton", &v.ParentButtonID)
	}
	for _, v := range m.EntitySearches {
		check("msdyusd_entitysearch", v.ID, v.Name, "msdyusd_entity", "msdyusd_entityassignment", &v.EntityTypeID)
	}
	m.index = nil
}

func byNameID[T any](s []T, key func(T) (string, string)) {
	sort.SliceStable(s, func(i, j int) bool {
		ni, ii := key(s[i])
		nj, ij := key(s[j])
		if ni != nj {
			return ni < nj
		}
		return ii < ij
	})
}

func sortModel(m *Model) {
	byNameID(m.HostedControls, func(v *HostedControl) (string, string) { return v.Name, v.ID })
	byNameID(m.Actions, func(v *Action) (string, string) { return v.Name, v.ID })
	byNameID(m.ActionCalls, func(v *ActionCall) (string, string) { return v.Name, v.ID })
	byNameID(m.Events, func(v *Event) (string, string) { return v.Name, v.ID })
	byNameID(m.EntityTypes, func(v *EntityType) (string, string) { return v.Name, v.ID })
	byNameID(m.NavigationRules, func(v *NavigationRule) (string, string) { return v.Name, v.ID })
	byNameID(m.AgentScripts, func(v *AgentScript) (string, string) { return v.Name, v.ID })
	byNameID(m.Answers, func(v *Answer) (string, string) { return v.Name, v.ID })
	byNameID(m.SessionLines, func(v *SessionLine) (string, string) { return v.Name, v.ID })
	byNameID(m.Toolbars, func(v *Toolbar) (string, string) { return v.Name, v.ID })
	byNameID(m.ToolbarButtons, func(v *ToolbarButton) (string, string) { return v.Name, v.ID })
	byNameID(m.EntitySearches, func(v *EntitySearch) (string, string) { return v.Name, v.ID })
	byNameID(m.Scriptlets, func(v *Scriptlet) (string, string) { return v.Name, v.ID })
	byNameID(m.Forms, func(v *Form) (string, string) { return v.Name, v.ID })
	byNameID(m.Options, func(v *Option) (string, string) { return v.Name, v.ID })
	byNameID(m.Configurations, func(v *Configuration) (string, string) { return v.Name, v.ID })
	for _, c := range m.Configurations {
		for k := range c.Members {
			sort.Strings(c.Members[k])
		}
	}
	m.index = nil
}
