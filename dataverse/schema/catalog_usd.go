package schema

// Unified Service Desk and Copilot Service workspace table catalogue: the
// tables `dvsync usd assess/migrate` read (USD configuration) and write
// (workspace configuration), so that the reference server can serve both
// and the whole migration runs locally.
//
// Sources:
//
//	[DK-USD] github.com/phuocle/Dynamics-Crm-DevKit @8db5a46f
//	         test/3.11.11.11/Test.Cli.Generator/Dev.DevKit.Shared/Entities/<table>.generated.cs
//	         (generated from a real organisation with USD installed)
//	[DK-CSW] same repository, test/3.44.44.44/.../Entities/<table>.generated.cs
//	[CE]     github.com/MicrosoftDocs/dynamics-365-customer-engagement
//	[PT]     github.com/MadhaviChidaraboyina/CRM.Omnichannel.ProductivityTools
//	         (copy of Microsoft's productivity tools source)
//	shared/research/usd.md is the digest of these with the choice values.
//
// Lengths: verified against [DK-USD]/[DK-CSW] where this file says so;
// elsewhere 100 for names and 2000/1048576 for memo text, the USD and CSW
// solution conventions seen in the verified tables.
//
// Entity set names of the USD tables are not published; they follow the
// plural rule Dataverse applies to custom tables (…s, …es after s/ch/sh).
// Readers of a real environment should take EntitySetName from metadata.
// Choice columns whose values could not be verified (CTI match decisions,
// notification theme) are left out rather than guessed.
//
// Alternate keys: the workspace tables declare one on msdyn_uniquename so
// that migration upserts by unique name (PATCH /msdyn_sessiontemplates(
// msdyn_uniquename='dvs_case')). A real environment must define the same
// key before such upserts work there; without it the migrator has to query
// by unique name first.

func init() { registerTableSet(usdTables) }

func usdTables() ([]*Table, []ManyToMany) {
	tables := []*Table{
		// USD configuration tables, lookup targets first.
		usdEntityAssignment(), usdHostedApplication(), usdUIIAction(), usdActionCall(), usdEvent(),
		usdEntitySearch(), usdCTISearch(), usdWindowRoute(), usdTask(), usdAnswer(), usdSessionInformation(),
		usdToolbarStrip(), usdToolbarButton(), usdScriptlet(), usdForm(), usdOption(), usdUCISettings(), usdConfiguration(),
		// Copilot Service workspace tables.
		usdWorkflow(), usdAppTabTemplate(), usdTemplateParameter(), usdSessionTemplate(), usdAppConfiguration(),
		usdAgentScript(), usdAgentScriptStep(), usdNotificationField(), usdNotificationTemplate(),
	}
	rels := []ManyToMany{
		// USD [DK-USD]; relationship schema names double as intersect names.
		{SchemaName: "msdyusd_subactioncalls", Entity1: "msdyusd_agentscriptaction", Entity2: "msdyusd_agentscriptaction"},
		{SchemaName: "msdyusd_uiievent_agentscriptaction", Entity1: "msdyusd_uiievent", Entity2: "msdyusd_agentscriptaction"},
		{SchemaName: "msdyusd_windowroute_agentscriptaction", Entity1: "msdyusd_windowroute", Entity2: "msdyusd_agentscriptaction"},
		{SchemaName: "msdyusd_windowroute_ctisearch", Entity1: "msdyusd_windowroute", Entity2: "msdyusd_search"},
		{SchemaName: "msdyusd_task_agentscriptaction", Entity1: "msdyusd_task", Entity2: "msdyusd_agentscriptaction"},
		{SchemaName: "msdyusd_task_answer", Entity1: "msdyusd_task", Entity2: "msdyusd_answer"},
		{SchemaName: "msdyusd_answer_agentscriptaction", Entity1: "msdyusd_answer", Entity2: "msdyusd_agentscriptaction"},
		{SchemaName: "msdyusd_toolbarstrip_uii_hostedapplication", Entity1: "msdyusd_toolbarstrip", Entity2: "uii_hostedapplication"},
		{SchemaName: "msdyusd_toolbarbutton_agentscriptaction", Entity1: "msdyusd_toolbarbutton", Entity2: "msdyusd_agentscriptaction"},
		{SchemaName: "msdyusd_configuration_hostedcontrol", Entity1: "msdyusd_configuration", Entity2: "uii_hostedapplication"},
		{SchemaName: "msdyusd_configuration_actioncalls", Entity1: "msdyusd_configuration", Entity2: "msdyusd_agentscriptaction"},
		{SchemaName: "msdyusd_configuration_event", Entity1: "msdyusd_configuration", Entity2: "msdyusd_uiievent"},
		{SchemaName: "msdyusd_configuration_windowroute", Entity1: "msdyusd_configuration", Entity2: "msdyusd_windowroute"},
		{SchemaName: "msdyusd_configuration_toolbar", Entity1: "msdyusd_configuration", Entity2: "msdyusd_toolbarstrip"},
		{SchemaName: "msdyusd_configuration_entitysearch", Entity1: "msdyusd_configuration", Entity2: "msdyusd_entitysearch"},
		{SchemaName: "msdyusd_configuration_sessionlines", Entity1: "msdyusd_configuration", Entity2: "msdyusd_sessioninformation"},
		{SchemaName: "msdyusd_configuration_agentscript", Entity1: "msdyusd_configuration", Entity2: "msdyusd_task"},
		{SchemaName: "msdyusd_configuration_scriptlet", Entity1: "msdyusd_configuration", Entity2: "msdyusd_scriptlet"},
		{SchemaName: "msdyusd_configuration_form", Entity1: "msdyusd_configuration", Entity2: "msdyusd_form"},
		{SchemaName: "msdyusd_configuration_option", Entity1: "msdyusd_configuration", Entity2: "uii_option"},
		// Copilot Service workspace [DK-CSW]; research/usd.md §2.
		{SchemaName: "msdyn_appconfiguration_sessiontemplate", Entity1: "msdyn_appconfiguration", Entity2: "msdyn_sessiontemplate"},
		{SchemaName: "msdyn_appconfiguration_systemuser", Entity1: "msdyn_appconfiguration", Entity2: "systemuser"},
		{SchemaName: "msdyn_sessiontemplate_applicationtab", Entity1: "msdyn_sessiontemplate", Entity2: "msdyn_applicationtabtemplate"},
		{SchemaName: "msdyn_msdyn_prod_agentscript_msdyn_sessiontempl", Entity1: "msdyn_productivityagentscript", Entity2: "msdyn_sessiontemplate"},
		{SchemaName: "msdyn_notificationtemplate_notificationfield", Entity1: "msdyn_notificationtemplate", Entity2: "msdyn_notificationfield"},
	}
	return tables, rels
}

// ---- helpers (prefixed usd so they do not clash with other catalogue files)

func usdIntPtr(v int) *int                  { return &v }
func usdFloatPtr(v float64) *float64        { return &v }
func usdOpt(value int, label string) Option { return Option{Value: value, Label: label} }

func usdKey(name string) Column {
	return Column{LogicalName: name, Type: TypeUniqueidentifier, Required: RequiredSystem, CreateOnly: true}
}
func usdString(name, display string, maxLength int, req RequiredLevel) Column {
	return Column{LogicalName: name, Type: TypeString, DisplayName: display, MaxLength: maxLength, Required: req}
}
func usdMemo(name, display string, maxLength int) Column {
	return Column{LogicalName: name, Type: TypeMemo, DisplayName: display, MaxLength: maxLength}
}
func usdInt(name, display string) Column {
	return Column{LogicalName: name, Type: TypeInteger, DisplayName: display, MinValue: usdFloatPtr(-2147483648), MaxValue: usdFloatPtr(2147483647)}
}
func usdBool(name, display string, def bool) Column {
	return Column{LogicalName: name, Type: TypeBoolean, DisplayName: display, DefaultValue: def}
}
func usdLookup(name, display string, targets ...string) Column {
	return Column{LogicalName: name, Type: TypeLookup, DisplayName: display, Targets: targets}
}
func usdPicklist(name, display string, options ...Option) Column {
	return Column{LogicalName: name, Type: TypePicklist, DisplayName: display, Options: options}
}
func usdRequired(c Column, level RequiredLevel) Column { c.Required = level; return c }
func usdDefault(c Column, v any) Column                { c.DefaultValue = v; return c }

// usdSystemColumns are the columns every user-owned USD and workspace table
// has ([DK-USD] msdyusd_toolbarstrip, [DK-CSW] msdyn_sessiontemplate):
// audit stamps, row version, owner, and the Active/Inactive state pair.
func usdSystemColumns() []Column {
	ro := func(c Column) Column { c.ReadOnly = true; return c }
	return []Column{
		ro(Column{LogicalName: "createdon", Type: TypeDateTime, DisplayName: "Created On"}),
		ro(Column{LogicalName: "modifiedon", Type: TypeDateTime, DisplayName: "Modified On"}),
		ro(usdLookup("createdby", "Created By", "systemuser")),
		ro(usdLookup("modifiedby", "Modified By", "systemuser")),
		ro(Column{LogicalName: "versionnumber", Type: TypeBigInt, DisplayName: "Version Number"}),
		{LogicalName: "overriddencreatedon", Type: TypeDateTime, DisplayName: "Record Created On", CreateOnly: true},
		{LogicalName: "ownerid", Type: TypeOwner, DisplayName: "Owner", Required: RequiredSystem, Targets: []string{"systemuser", "team"}},
		ro(usdLookup("owningbusinessunit", "Owning Business Unit", "businessunit")),
		ro(usdLookup("owninguser", "Owning User", "systemuser")),
		ro(usdLookup("owningteam", "Owning Team", "team")),
		{LogicalName: "statecode", Type: TypeState, DisplayName: "Status", Required: RequiredSystem, DefaultValue: 0,
			Options: []Option{{Value: 0, Label: "Active", DefaultStatus: usdIntPtr(1)}, {Value: 1, Label: "Inactive", DefaultStatus: usdIntPtr(2)}}},
		{LogicalName: "statuscode", Type: TypeStatus, DisplayName: "Status Reason",
			Options: []Option{{Value: 1, Label: "Active", State: usdIntPtr(0)}, {Value: 2, Label: "Inactive", State: usdIntPtr(1)}}},
	}
}

// usdTable assembles a user-owned table with the system columns.
func usdTable(logical, set, display, primaryID, primaryName string, cols ...Column) *Table {
	all := append([]Column{usdKey(primaryID)}, cols...)
	all = append(all, usdSystemColumns()...)
	return &Table{LogicalName: logical, EntitySetName: set, DisplayName: display, PrimaryID: primaryID,
		PrimaryName: primaryName, OwnershipType: "UserOwned", Columns: all}
}

// usdWithUniqueKey adds the alternate key on msdyn_uniquename.
func usdWithUniqueKey(t *Table) *Table {
	t.AlternateKeys = append(t.AlternateKeys, AlternateKey{Name: t.LogicalName + "_uniquename", Columns: []string{"msdyn_uniquename"}})
	return t
}

func usdName(name string) Column { return usdString(name, "Name", 100, RequiredApplication) }

// ---- USD tables -------------------------------------------------------------

func usdEntityAssignment() *Table {
	return usdTable("msdyusd_entityassignment", "msdyusd_entityassignments", "Entity Type", "msdyusd_entityassignmentid", "msdyusd_name",
		usdName("msdyusd_name"), usdInt("msdyusd_numericcode", "Numeric Code"))
}

// usdComponentTypes is uii_hostedapplication.msdyusd_crmwindowhosttype [DK-USD].
func usdComponentTypes() []Option {
	names := []string{"CRM Dialog", "Global Manager", "CCA Hosted Application", "CRM Page", "Standard Web Application",
		"USD Hosted Control", "Agent Scripting", "Ribbon Hosted Control", "Toolbar Container", "Session Tabs", "User Notes",
		"Connection Manager", "Session Lines", "Tree Bar", "CTI Desktop Manager", "Panel Layout", "Debugger", "Todo List"}
	var out []Option
	for i, n := range names {
		out = append(out, usdOpt(803750000+i, n))
	}
	// 803750018 is not used by the solution.
	for i, n := range []string{"KM Control", "Listener Hosted Control", "Interactive Service Hub Page", "Popup Notification",
		"Unified Interface Page", "Unified Interface KM Control", "Channel Integration Framework"} {
		out = append(out, usdOpt(803750019+i, n))
	}
	return out
}

func usdHostedApplication() *Table {
	return usdTable("uii_hostedapplication", "uii_hostedapplications", "Hosted Control", "uii_hostedapplicationid", "uii_name",
		usdName("uii_name"),
		usdString("msdyusd_displayname", "Display Name", 100, RequiredNone),
		usdRequired(usdPicklist("msdyusd_crmwindowhosttype", "USD Component Type", usdComponentTypes()...), RequiredApplication),
		usdString("uii_displaygroup", "Display Group", 100, RequiredNone),
		usdBool("uii_isglobalapplication", "Application is Global", false),
		usdBool("uii_isappdynamic", "Application is Dynamic", false),
		usdBool("uii_usercanclose", "User Can Close", false),
		usdInt("uii_sortorder", "Sort Order"),
		usdBool("msdyusd_allowmultiplepages", "Allow Multiple Pages", false),
		usdInt("msdyusd_maximumbrowsers", "Maximum Browsers"),
		usdBool("msdyusd_autolaunch", "Pre-fetch Data", false),
		usdString("msdyusd_dashboardname", "Dashboard Name", 100, RequiredNone),
		usdMemo("msdyusd_xaml", "XAML", 1048576),
		usdString("msdyusd_cifurl", "CIF URL", 1000, RequiredNone),
		usdMemo("msdyusd_customparameters", "Custom Parameters", 2000),
		usdString("uii_assemblyuri", "Assembly URI", 1000, RequiredNone),
		usdString("uii_assemblytype", "Assembly Type", 1000, RequiredNone),
		usdString("uii_webappurl", "Web Application URL", 1000, RequiredNone),
		usdMemo("uii_extensionsxml", "Extensions XML", 1048576),
		usdPicklist("msdyusd_hostingtype", "Hosting Type", usdOpt(803750000, "Internal WPF"), usdOpt(803750001, "IE Process"),
			usdOpt(803750002, "Edge Process"), usdOpt(803750003, "Chrome Process")),
		usdPicklist("msdyusd_paneltype", "Panel Type", usdOpt(803750000, "Standard Main Panel"), usdOpt(803750001, "User Defined"),
			usdOpt(803750002, "XAML"), usdOpt(803750003, "Ribbon Main Panel"), usdOpt(803750004, "Vertical Split"),
			usdOpt(803750005, "Horizontal Split")),
		usdPicklist("uii_hostedapplicationtype", "Hosted Application Type", usdOpt(1, "Hosted Control"), usdOpt(2, "Web Hosted Application"),
			usdOpt(3, "External Hosted Application"), usdOpt(4, "Remote Hosted Application")),
	)
}

func usdUIIAction() *Table {
	return usdTable("uii_action", "uii_actions", "UII Action", "uii_actionid", "uii_name",
		usdName("uii_name"),
		usdLookup("uii_hostedapplicationid", "Hosted Control", "uii_hostedapplication"),
		usdMemo("msdyusd_help", "Help", 2000),
		usdBool("uii_isdefault", "Is Default", false),
		usdString("uii_url", "URL", 1000, RequiredNone),
		usdString("uii_querystring", "Query String", 1000, RequiredNone),
		usdPicklist("uii_method", "Method", usdOpt(1, "GET"), usdOpt(2, "POST")),
	)
}

func usdActionCall() *Table {
	return usdTable("msdyusd_agentscriptaction", "msdyusd_agentscriptactions", "Action Call", "msdyusd_agentscriptactionid", "msdyusd_name",
		usdName("msdyusd_name"),
		usdLookup("msdyusd_application", "Hosted Control", "uii_hostedapplication"),
		usdLookup("msdyusd_action", "Action", "uii_action"),
		usdMemo("msdyusd_actiondata", "Data", 1048576),
		usdMemo("msdyusd_condition", "Condition", 2000),
		usdInt("msdyusd_order", "Order"),
		usdString("msdyusd_shortcutkey", "Shortcut Key", 100, RequiredNone),
		usdBool("msdyusd_launchifdynamic", "Launch If Dynamic", false),
	)
}

func usdEvent() *Table {
	return usdTable("msdyusd_uiievent", "msdyusd_uiievents", "Event", "msdyusd_uiieventid", "msdyusd_name",
		usdName("msdyusd_name"), usdLookup("msdyusd_hostedapplicationid", "Hosted Control", "uii_hostedapplication"))
}

func usdEntitySearch() *Table {
	return usdTable("msdyusd_entitysearch", "msdyusd_entitysearches", "Entity Search", "msdyusd_entitysearchid", "msdyusd_name",
		usdName("msdyusd_name"), usdMemo("msdyusd_fetchxml", "FetchXML", 1048576),
		usdLookup("msdyusd_entity", "Entity Type", "msdyusd_entityassignment"))
}

func usdCTISearch() *Table {
	return usdTable("msdyusd_search", "msdyusd_searches", "CTI Search", "msdyusd_searchid", "msdyusd_name",
		usdName("msdyusd_name"), usdMemo("msdyusd_fetchxml", "FetchXML", 1048576), usdInt("msdyusd_searchorder", "Search Order"),
		usdPicklist("msdyusd_direction", "Direction", usdOpt(0, "Outbound"), usdOpt(1, "Inbound"), usdOpt(2, "Both")))
}

func usdWindowRoute() *Table {
	return usdTable("msdyusd_windowroute", "msdyusd_windowroutes", "Window Navigation Rule", "msdyusd_windowrouteid", "msdyusd_name",
		usdName("msdyusd_name"),
		usdInt("msdyusd_order", "Order"),
		usdLookup("msdyusd_from", "From", "uii_hostedapplication"),
		usdLookup("msdyusd_fromsearch", "From Search", "msdyusd_entitysearch"),
		usdLookup("msdyusd_entity", "Entity", "msdyusd_entityassignment"),
		usdString("msdyusd_url", "Url", 1000, RequiredNone),
		usdPicklist("msdyusd_routetype", "Route Type", usdOpt(803750000, "Popup"), usdOpt(803750001, "OnLoad"),
			usdOpt(803750002, "Menu Chosen"), usdOpt(803750003, "In Place")),
		usdPicklist("msdyusd_action", "Action", usdOpt(803750000, "Create Session"), usdOpt(803750001, "Show Outside"),
			usdOpt(803750002, "Route Window"), usdOpt(803750003, "None"), usdOpt(803750004, "Default"), usdOpt(803750005, "In Place")),
		usdPicklist("msdyusd_destination", "Destination", usdOpt(803750000, "Tab"), usdOpt(803750001, "Entity Search")),
		usdLookup("msdyusd_application", "Target Tab", "uii_hostedapplication"),
		usdLookup("msdyusd_showtab", "Show Tab", "uii_hostedapplication"),
		usdLookup("msdyusd_entitysearch", "Search", "msdyusd_entitysearch"),
		usdMemo("msdyusd_condition", "Condition", 2000),
		usdBool("msdyusd_hidenavbar", "Hide Navigation Bar", false),
		usdBool("msdyusd_hideribbon", "Hide Command Bar", false),
		usdString("msdyusd_loadarea", "Load Area", 100, RequiredNone),
		usdString("msdyusd_field", "Field", 100, RequiredNone),
		usdString("msdyusd_sourceframe", "Source Frame", 100, RequiredNone),
		usdString("msdyusd_dashboardframe", "Dashboard Frame", 100, RequiredNone),
		usdPicklist("msdyusd_direction", "Direction", usdOpt(0, "Outbound"), usdOpt(1, "Inbound"), usdOpt(2, "Both")),
	)
}

func usdTask() *Table {
	return usdTable("msdyusd_task", "msdyusd_tasks", "Agent Script", "msdyusd_taskid", "msdyusd_name",
		usdName("msdyusd_name"), usdMemo("msdyusd_scripttext", "Script Text", 1048576), usdMemo("msdyusd_instructions", "Instructions", 1048576),
		usdMemo("msdyusd_description", "Description", 2000), usdString("msdyusd_category", "Category", 100, RequiredNone),
		usdLookup("msdyusd_showtab", "Show Tab", "uii_hostedapplication"), usdBool("msdyusd_starttask", "Start Task", false))
}

func usdAnswer() *Table {
	return usdTable("msdyusd_answer", "msdyusd_answers", "Answer", "msdyusd_answerid", "msdyusd_name",
		usdName("msdyusd_name"), usdString("msdyusd_answertext", "Answer Text", 1000, RequiredNone), usdInt("msdyusd_order", "Order"),
		usdLookup("msdyusd_linkedtask", "Linked Agent Script", "msdyusd_task"),
		usdLookup("msdyusd_showtab", "Show Tab", "uii_hostedapplication"),
		usdMemo("msdyusd_enabledcondition", "Enabled Condition", 2000), usdMemo("msdyusd_visiblecondition", "Visible Condition", 2000))
}

func usdSessionInformation() *Table {
	return usdTable("msdyusd_sessioninformation", "msdyusd_sessioninformations", "Session Lines", "msdyusd_sessioninformationid", "msdyusd_name",
		usdName("msdyusd_name"),
		usdPicklist("msdyusd_type", "Type", usdOpt(803750000, "Session Name"), usdOpt(803750001, "Session Overview Line")),
		usdMemo("msdyusd_display", "Display", 1048576), usdInt("msdyusd_order", "Order"),
		usdLookup("msdyusd_selectedentity", "Selected Entity", "msdyusd_entityassignment"))
}

// usdToolbarStrip follows [DK-USD] msdyusd_toolbarstrip.generated.cs.
func usdToolbarStrip() *Table {
	return usdTable("msdyusd_toolbarstrip", "msdyusd_toolbarstrips", "Toolbar", "msdyusd_toolbarstripid", "msdyusd_name",
		usdName("msdyusd_name"), usdString("msdyusd_title", "Title", 100, RequiredNone),
		Column{LogicalName: "msdyusd_order", Type: TypeInteger, DisplayName: "Order", MinValue: usdFloatPtr(1), MaxValue: usdFloatPtr(2147483647)},
		usdMemo("msdyusd_enabledcondition", "Enabled Condition", 2000), usdMemo("msdyusd_visiblecondition", "Visible Condition", 2000),
		usdMemo("msdyusd_customstyles", "Custom Styles", 100000),
		usdPicklist("msdyusd_autoload", "Autoload", usdOpt(803750001, "Application"), usdOpt(803750003, "Unified Service Desk Control")))
}

func usdToolbarButton() *Table {
	return usdTable("msdyusd_toolbarbutton", "msdyusd_toolbarbuttons", "Toolbar Button", "msdyusd_toolbarbuttonid", "msdyusd_name",
		usdName("msdyusd_name"),
		usdLookup("msdyusd_toolbarid", "Toolbar", "msdyusd_toolbarstrip"),
		usdLookup("msdyusd_buttons", "Parent Button", "msdyusd_toolbarbutton"),
		usdString("msdyusd_buttontext", "Button Text", 100, RequiredNone), usdString("msdyusd_tooltip", "Tooltip", 1000, RequiredNone),
		usdString("msdyusd_image", "Image", 100, RequiredNone), usdInt("msdyusd_order", "Order"),
		usdPicklist("msdyusd_enablecondition", "Enable Condition", usdOpt(803750000, "Always"), usdOpt(803750001, "Customer Session"),
			usdOpt(803750002, "Script Expression")),
		usdMemo("msdyusd_visiblecondition", "Visible Condition", 2000))
}

func usdScriptlet() *Table {
	return usdTable("msdyusd_scriptlet", "msdyusd_scriptlets", "Scriptlet", "msdyusd_scriptletid", "msdyusd_name",
		usdName("msdyusd_name"), usdMemo("msdyusd_scripttext", "Script Text", 1048576))
}

func usdForm() *Table {
	return usdTable("msdyusd_form", "msdyusd_forms", "Form", "msdyusd_formid", "msdyusd_name",
		usdName("msdyusd_name"), usdMemo("msdyusd_markup", "Markup", 1048576))
}

func usdOption() *Table {
	opts := []Option{usdOpt(100000000, "ClientCacheVersionNumber"), usdOpt(100000001, "DefaultConfigurationName"),
		usdOpt(100000002, "HelpImprove"), usdOpt(100000003, "maxNumberOfSessions"), usdOpt(1000000040, "Others")}
	return usdTable("uii_option", "uii_options", "Option", "uii_optionid", "uii_name",
		usdName("uii_name"), usdMemo("uii_value", "Value", 1048576), usdPicklist("msdyusd_globaloption", "Global Option", opts...))
}

func usdUCISettings() *Table {
	return usdTable("msdyusd_ucisettings", "msdyusd_ucisettingses", "UCI Settings", "msdyusd_ucisettingsid", "msdyusd_name",
		usdName("msdyusd_name"), usdString("msdyusd_uciapp", "UCI App", 100, RequiredNone))
}

func usdConfiguration() *Table {
	return usdTable("msdyusd_configuration", "msdyusd_configurations", "Configuration", "msdyusd_configurationid", "msdyusd_name",
		usdName("msdyusd_name"), usdBool("msdyusd_isdefault", "Is Default", false),
		usdInt("msdyusd_clientconfigcacheversionnumber", "Client Cache Version Number"),
		usdLookup("msdyusd_parentconfigurationid", "Parent Configuration", "msdyusd_configuration"),
		usdLookup("msdyusd_ucisettingsid", "UCI Settings", "msdyusd_ucisettings"))
}

// ---- Copilot Service workspace tables ----------------------------------------

// usdWorkflow is the part of the platform workflow table that macros use:
// the macro runtime reads name and clientdata of rows with category 6 or
// 9000, statecode 1 and statuscode 2 ([PT] ProductivityMacroRuntime.ts;
// learn.microsoft.com/power-apps/developer/data-platform/reference/entities/workflow).
func usdWorkflow() *Table {
	t := &Table{LogicalName: "workflow", EntitySetName: "workflows", DisplayName: "Process", PrimaryID: "workflowid",
		PrimaryName: "name", OwnershipType: "UserOwned", ObjectTypeCode: 4703,
		Columns: []Column{
			usdKey("workflowid"),
			usdString("name", "Process Name", 100, RequiredSystem),
			usdString("uniquename", "Unique Name", 256, RequiredNone),
			usdMemo("description", "Description", 100000),
			usdMemo("clientdata", "Client Data", 1073741823),
			usdString("primaryentity", "Primary Entity", 100, RequiredSystem),
			usdRequired(usdPicklist("category", "Category", usdOpt(0, "Workflow"), usdOpt(1, "Dialog"), usdOpt(2, "Business Rule"),
				usdOpt(3, "Action"), usdOpt(4, "Business Process Flow"), usdOpt(5, "Modern Flow"), usdOpt(6, "Desktop Flow"),
				usdOpt(7, "AI Flow"), usdOpt(9000, "Web Client API Flow")), RequiredSystem),
			usdDefault(usdPicklist("type", "Type", usdOpt(1, "Definition"), usdOpt(2, "Activation"), usdOpt(3, "Template")), 1),
			usdDefault(usdPicklist("mode", "Mode", usdOpt(0, "Background"), usdOpt(1, "Real-time")), 0),
			{LogicalName: "createdon", Type: TypeDateTime, DisplayName: "Created On", ReadOnly: true},
			{LogicalName: "modifiedon", Type: TypeDateTime, DisplayName: "Modified On", ReadOnly: true},
			{LogicalName: "versionnumber", Type: TypeBigInt, DisplayName: "Version Number", ReadOnly: true},
			{LogicalName: "ownerid", Type: TypeOwner, DisplayName: "Owner", Required: RequiredSystem, Targets: []string{"systemuser", "team"}},
			{LogicalName: "statecode", Type: TypeState, DisplayName: "Status", Required: RequiredSystem, DefaultValue: 0,
				Options: []Option{{Value: 0, Label: "Draft", DefaultStatus: usdIntPtr(1)}, {Value: 1, Label: "Activated", DefaultStatus: usdIntPtr(2)},
					{Value: 2, Label: "Suspended", DefaultStatus: usdIntPtr(3)}}},
			{LogicalName: "statuscode", Type: TypeStatus, DisplayName: "Status Reason",
				Options: []Option{{Value: 1, Label: "Draft", State: usdIntPtr(0)}, {Value: 2, Label: "Activated", State: usdIntPtr(1)},
					{Value: 3, Label: "Company DLP Violation", State: usdIntPtr(2)}}},
		},
		// uniquename is dvsync's upsert key for macros; see the file comment.
		AlternateKeys: []AlternateKey{{Name: "workflow_uniquename", Columns: []string{"uniquename"}}},
	}
	return t
}

func usdUnique() Column {
	return usdString("msdyn_uniquename", "Unique Name", 128, RequiredApplication)
}

// usdAppTabTemplate: page types from [DK-CSW] msdyn_applicationtabtemplate;
// parameters per page type in [CE] ce/customer-service/administer/application-tab-templates.md.
func usdAppTabTemplate() *Table {
	return usdWithUniqueKey(usdTable("msdyn_applicationtabtemplate", "msdyn_applicationtabtemplates", "Application Tab Template",
		"msdyn_applicationtabtemplateid", "msdyn_name",
		usdString("msdyn_name", "Name", 100, RequiredApplication), usdUnique(),
		usdString("msdyn_title", "Title", 200, RequiredNone),
		usdMemo("msdyn_description", "Description", 2000),
		usdBool("msdyn_pinned", "Can be closed", false),
		usdRequired(usdPicklist("msdyn_pagetype", "Page Type", usdOpt(509180000, "Entity List"), usdOpt(509180001, "Entity Record"),
			usdOpt(509180002, "Web Resource"), usdOpt(509180003, "Control (internal)"), usdOpt(509180004, "Dashboard"),
			usdOpt(509180005, "Search"), usdOpt(509180006, "Third Party Website"), usdOpt(509180007, "Custom")), RequiredApplication),
		usdMemo("msdyn_templateparameters", "Template Parameters", 1048576),
	))
}

func usdTemplateParameter() *Table {
	return usdWithUniqueKey(usdTable("msdyn_templateparameter", "msdyn_templateparameters", "Template Parameter",
		"msdyn_templateparameterid", "msdyn_name",
		usdString("msdyn_name", "Name", 100, RequiredApplication), usdUnique(),
		usdMemo("msdyn_value", "Value", 2000),
		usdLookup("msdyn_applicationtabtemplateid", "Application Tab Template", "msdyn_applicationtabtemplate"),
	))
}

// usdSessionTemplate follows [DK-CSW] msdyn_sessiontemplate.generated.cs
// (lengths, required levels and defaults verified there). msdyn_sessionicon
// (lookup to webresource) is left out: dvsync does not migrate icons.
func usdSessionTemplate() *Table {
	return usdWithUniqueKey(usdTable("msdyn_sessiontemplate", "msdyn_sessiontemplates", "Session Template",
		"msdyn_sessiontemplateid", "msdyn_name",
		usdString("msdyn_name", "Name", 100, RequiredApplication), usdUnique(),
		usdString("msdyn_title", "Title", 200, RequiredNone),
		usdMemo("msdyn_description", "Description", 2000),
		usdRequired(usdDefault(usdPicklist("msdyn_sessiontype", "Type", usdOpt(0, "Generic"), usdOpt(1, "Entity")), 1), RequiredApplication),
		usdRequired(usdBool("msdyn_type", "msdyn_Type", false), RequiredApplication),
		usdString("msdyn_entity", "Entity", 100, RequiredNone),
		usdLookup("msdyn_anchortab", "Anchor Tab", "msdyn_applicationtabtemplate"),
		usdRequired(usdDefault(usdPicklist("msdyn_panelstate", "Communication panel mode", usdOpt(162450000, "Minimized"),
			usdOpt(162450001, "Hidden"), usdOpt(162450002, "Docked")), 162450002), RequiredApplication),
		usdBool("msdyn_enabletitlesync", "Apply session title to anchor tab", false),
		usdBool("msdyn_enablebuildexpression", "Enable build expression", false),
		usdMemo("msdyn_expressiondata", "Expression data", 1048576),
	))
}

func usdAppConfiguration() *Table {
	return usdWithUniqueKey(usdTable("msdyn_appconfiguration", "msdyn_appconfigurations", "App Profile",
		"msdyn_appconfigurationid", "msdyn_name",
		usdString("msdyn_name", "Name", 100, RequiredApplication), usdUnique(),
		usdMemo("msdyn_description", "Description", 2000),
		usdString("msdyn_appmoduleuniquename", "App Module Unique Name", 100, RequiredNone),
		usdString("msdyn_productivitypaneuniquename", "Productivity Pane Unique Name", 128, RequiredNone),
		usdInt("msdyn_profileorder", "Profile Order"),
	))
}

// usdAgentScript and usdAgentScriptStep: [DK-CSW]; step action types in
// [CE] ce/customer-service/administer/agent-scripts.md.
func usdAgentScript() *Table {
	return usdWithUniqueKey(usdTable("msdyn_productivityagentscript", "msdyn_productivityagentscripts", "Agent Script",
		"msdyn_productivityagentscriptid", "msdyn_name",
		usdString("msdyn_name", "Name", 100, RequiredApplication), usdUnique(),
		usdMemo("msdyn_description", "Description", 2000),
		usdInt("msdyn_language", "Language"),
	))
}

func usdAgentScriptStep() *Table {
	return usdWithUniqueKey(usdTable("msdyn_productivityagentscriptstep", "msdyn_productivityagentscriptsteps", "Agent Script Step",
		"msdyn_productivityagentscriptstepid", "msdyn_name",
		usdString("msdyn_name", "Name", 100, RequiredApplication), usdUnique(),
		usdMemo("msdyn_description", "Description", 2000),
		usdLookup("msdyn_agentscriptid", "Agent Script", "msdyn_productivityagentscript"),
		usdInt("msdyn_order", "Order"),
		usdRequired(usdPicklist("msdyn_actiontype", "Action Type", usdOpt(192350000, "Text Instruction"), usdOpt(192350001, "Macro"),
			usdOpt(192350002, "Script")), RequiredApplication),
		usdMemo("msdyn_textinstruction", "Text Instruction", 1048576),
		usdLookup("msdyn_macroactionid", "Macro", "workflow"),
		usdLookup("msdyn_routeactionid", "Script", "msdyn_productivityagentscript"),
	))
}

// usdNotificationField and usdNotificationTemplate: columns, lengths,
// defaults and choice values from [DK-CSW] msdyn_notificationfield and
// msdyn_notificationtemplate; what each column does in the admin centre
// (Field header = msdyn_title, Value = msdyn_value, Countdown = msdyn_timeout)
// from [CE] ce/customer-service/administer/notification-templates.md.
func usdNotificationField() *Table {
	return usdWithUniqueKey(usdTable("msdyn_notificationfield", "msdyn_notificationfields", "Notification Field",
		"msdyn_notificationfieldid", "msdyn_name",
		usdString("msdyn_name", "Name", 100, RequiredApplication), usdUnique(),
		usdString("msdyn_title", "Title", 200, RequiredApplication),
		usdString("msdyn_value", "Value", 1028, RequiredNone),
		usdInt("msdyn_order", "Order"),
	))
}

func usdNotificationTemplate() *Table {
	timeout := usdInt("msdyn_timeout", "Countdown (seconds)")
	timeout.MaxValue = usdFloatPtr(500)
	return usdWithUniqueKey(usdTable("msdyn_notificationtemplate", "msdyn_notificationtemplates", "Notification Template",
		"msdyn_notificationtemplateid", "msdyn_name",
		usdString("msdyn_name", "Name", 100, RequiredApplication), usdUnique(),
		usdString("msdyn_title", "Title", 100, RequiredApplication),
		usdMemo("msdyn_description", "Description", 2000),
		usdString("msdyn_icon", "Icon", 1024, RequiredNone),
		timeout,
		usdBool("msdyn_showtimeout", "Show countdown", true),
		usdBool("msdyn_autoacceptnotification", "Auto Accept Notification", false),
		usdBool("msdyn_autopopupsession", "Auto popup session", false),
		usdString("msdyn_acceptbuttontext", "Accept Button Text", 100, RequiredNone),
		usdString("msdyn_rejectbuttontext", "Reject Button Text", 100, RequiredNone),
		usdBool("msdyn_showrejectbutton", "Show Reject Button", true),
		usdDefault(usdPicklist("msdyn_theme", "Theme", usdOpt(509180000, "Dark"), usdOpt(509180001, "Light")), 509180000),
		usdDefault(usdPicklist("msdyn_desktopnotificationmode", "Show Desktop Notifications", usdOpt(509180000, "Never"),
			usdOpt(509180001, "When app is in background"), usdOpt(509180002, "Always")), 509180000),
	))
}
