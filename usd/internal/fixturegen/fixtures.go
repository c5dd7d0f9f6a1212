package fixturegen

import (
	"fmt"
	"strings"

	"github.com/dvsync/dvsync/usd"
)

const (
	tHC      = "uii_hostedapplication"
	tAction  = "uii_action"
	tCall    = "msdyusd_agentscriptaction"
	tEvent   = "msdyusd_uiievent"
	tEntity  = "msdyusd_entityassignment"
	tRule    = "msdyusd_windowroute"
	tScript  = "msdyusd_task"
	tAnswer  = "msdyusd_answer"
	tLine    = "msdyusd_sessioninformation"
	tToolbar = "msdyusd_toolbarstrip"
	tButton  = "msdyusd_toolbarbutton"
	tSearch  = "msdyusd_entitysearch"
	tScriptl = "msdyusd_scriptlet"
	tForm    = "msdyusd_form"
	tOption  = "uii_option"
	tConfig  = "msdyusd_configuration"
)

// builder adds USD components by name and remembers ids for references.
type builder struct {
	*Export
	controls map[string]string
	actions  map[string]string // control/action
	calls    map[string]string
	entities map[string]string
	scripts  map[string]string
	searches map[string]string
	toolbars map[string]string
}

func newBuilder() *builder {
	return &builder{Export: newExport(), controls: map[string]string{}, actions: map[string]string{}, calls: map[string]string{},
		entities: map[string]string{}, scripts: map[string]string{}, searches: map[string]string{}, toolbars: map[string]string{}}
}

func (b *builder) entityType(name string, code int) {
	b.entities[name] = b.add(tEntity, name, n("msdyusd_numericcode", code))
}

func (b *builder) control(name string, ct usd.ComponentType, panel string, global bool, extra ...Value) {
	f := []Value{s("msdyusd_displayname", name), n("msdyusd_crmwindowhosttype", int(ct)), s("uii_displaygroup", panel),
		b2("uii_isglobalapplication", global), n("uii_sortorder", len(b.controls)+1), b2("uii_usercanclose", !global)}
	b.controls[name] = b.add(tHC, name, append(f, extra...)...)
}

func b2(field string, v bool) Value { return b(field, v) }

// action declares a UII action on a control; names repeat across controls.
func (b *builder) action(control, name string) string {
	key := control + "/" + name
	if id, ok := b.actions[key]; ok {
		return id
	}
	hc, ok := b.controls[control]
	if !ok {
		panic("fixture: unknown control " + control)
	}
	id := b.addKeyed(tAction, key, name, ref("uii_hostedapplicationid", tHC, hc))
	b.actions[key] = id
	return id
}

// call declares an action call; data lines are joined with CRLF as the USD
// admin form stores them.
func (b *builder) call(name, control, action string, order int, condition string, data ...string) {
	hc, ok := b.controls[control]
	if !ok {
		panic("fixture: unknown control " + control)
	}
	f := []Value{ref("msdyusd_application", tHC, hc), ref("msdyusd_action", tAction, b.action(control, action)),
		n("msdyusd_order", order), s("msdyusd_actiondata", strings.Join(data, "\r\n")), s("msdyusd_condition", condition)}
	b.calls[name] = b.add(tCall, name, f...)
}

func (b *builder) callIDs(names ...string) []string {
	out := make([]string, len(names))
	for i, nm := range names {
		id, ok := b.calls[nm]
		if !ok {
			panic("fixture: unknown action call " + nm)
		}
		out[i] = id
	}
	return out
}

func (b *builder) subCalls(parent string, children ...string) {
	b.relate("msdyusd_subactioncalls", tCall, b.calls[parent], tCall, b.callIDs(children...)...)
}

func (b *builder) event(control, name string, calls ...string) {
	id := b.addKeyed(tEvent, control+"/"+name, name, ref("msdyusd_hostedapplicationid", tHC, b.controls[control]))
	b.relate("msdyusd_uiievent_agentscriptaction", tEvent, id, tCall, b.callIDs(calls...)...)
}

type rule struct {
	name, from, entity, url, target, showTab, condition, fromSearch string
	order, routeType, action                                        int
	calls                                                           []string
}

func (b *builder) rule(r rule) {
	f := []Value{n("msdyusd_order", r.order), n("msdyusd_routetype", r.routeType), n("msdyusd_action", r.action),
		n("msdyusd_destination", usd.RouteDestinationTab), s("msdyusd_url", r.url), s("msdyusd_condition", r.condition)}
	if r.from != "" {
		f = append(f, ref("msdyusd_from", tHC, b.controls[r.from]))
	}
	if r.fromSearch != "" {
		f = append(f, ref("msdyusd_fromsearch", tSearch, b.searches[r.fromSearch]))
	}
	if r.entity != "" {
		f = append(f, ref("msdyusd_entity", tEntity, b.entities[r.entity]))
	}
	if r.target != "" {
		f = append(f, ref("msdyusd_application", tHC, b.controls[r.target]))
	}
	if r.showTab != "" {
		f = append(f, ref("msdyusd_showtab", tHC, b.controls[r.showTab]))
	}
	id := b.add(tRule, r.name, f...)
	b.relate("msdyusd_windowroute_agentscriptaction", tRule, id, tCall, b.callIDs(r.calls...)...)
}

type answer struct {
	text, next, enabled string
	calls               []string
}

func (b *builder) script(name, text, instructions string, onEntry []string, answers ...answer) {
	id, ok := b.scripts[name]
	if !ok {
		id = ID(tScript, name)
		b.scripts[name] = id
	}
	b.add(tScript, name, s("msdyusd_scripttext", text), s("msdyusd_instructions", instructions))
	b.relate("msdyusd_task_agentscriptaction", tScript, id, tCall, b.callIDs(onEntry...)...)
	for i, a := range answers {
		f := []Value{s("msdyusd_answertext", a.text), n("msdyusd_order", i+1), s("msdyusd_enabledcondition", a.enabled)}
		if a.next != "" {
			f = append(f, ref("msdyusd_linkedtask", tScript, ID(tScript, a.next)))
		}
		aid := b.addKeyed(tAnswer, name+"/"+a.text, a.text, f...)
		b.relate("msdyusd_task_answer", tScript, id, tAnswer, aid)
		b.relate("msdyusd_answer_agentscriptaction", tAnswer, aid, tCall, b.callIDs(a.calls...)...)
	}
}

func (b *builder) sessionLine(name string, typ int, entity, display string, order int) {
	b.add(tLine, name, n("msdyusd_type", typ), ref("msdyusd_selectedentity", tEntity, b.entities[entity]),
		s("msdyusd_display", display), n("msdyusd_order", order))
}

type button struct {
	name, text, tooltip, image, visible string
	enable                              int
	calls                               []string
	children                            []button
}

func (b *builder) toolbar(name, container string, order int, buttons ...button) {
	id := b.add(tToolbar, name, s("msdyusd_title", name), n("msdyusd_order", order))
	b.toolbars[name] = id
	b.relate("msdyusd_toolbarstrip_uii_hostedapplication", tToolbar, id, tHC, b.controls[container])
	var addButtons func(parent string, bs []button)
	addButtons = func(parent string, bs []button) {
		for i, bt := range bs {
			f := []Value{ref("msdyusd_toolbarid", tToolbar, id), s("msdyusd_buttontext", bt.text), s("msdyusd_tooltip", bt.tooltip),
				s("msdyusd_image", bt.image), n("msdyusd_order", i+1), n("msdyusd_enablecondition", bt.enable),
				s("msdyusd_visiblecondition", bt.visible)}
			if parent != "" {
				f = append(f, ref("msdyusd_buttons", tButton, parent))
			}
			bid := b.addKeyed(tButton, name+"/"+bt.name, bt.name, f...)
			b.relate("msdyusd_toolbarbutton_agentscriptaction", tButton, bid, tCall, b.callIDs(bt.calls...)...)
			addButtons(bid, bt.children)
		}
	}
	addButtons("", buttons)
}

func (b *builder) search(name, entity, fetch string) {
	b.searches[name] = b.add(tSearch, name, ref("msdyusd_entity", tEntity, b.entities[entity]), s("msdyusd_fetchxml", fetch))
}

// configuration declares a configuration holding every component whose
// name the filter accepts (nil: everything so far).
func (b *builder) configuration(name string, isDefault bool, keep func(entity, name string) bool) {
	id := b.add(tConfig, name, b2("msdyusd_isdefault", isDefault))
	rels := map[string]string{
		tHC: "msdyusd_configuration_hostedcontrol", tCall: "msdyusd_configuration_actioncalls", tEvent: "msdyusd_configuration_event",
		tRule: "msdyusd_configuration_windowroute", tToolbar: "msdyusd_configuration_toolbar", tSearch: "msdyusd_configuration_entitysearch",
		tLine: "msdyusd_configuration_sessionlines", tScript: "msdyusd_configuration_agentscript", tScriptl: "msdyusd_configuration_scriptlet",
		tForm: "msdyusd_configuration_form", tOption: "msdyusd_configuration_option",
	}
	for _, en := range b.entities_() {
		rel, ok := rels[en.Name]
		if !ok {
			continue
		}
		_, pn := primaryFields(en.Name)
		var ids []string
		for _, r := range en.Records {
			name := ""
			for _, f := range r.Fields {
				if f.Field == pn {
					name = f.Value
				}
			}
			if keep == nil || keep(en.Name, name) {
				ids = append(ids, r.ID)
			}
		}
		b.relate(rel, tConfig, id, en.Name, ids...)
	}
}

func (b *builder) entities_() []*Entity { return b.Export.entities }

// Small is a minimal but complete configuration: one default configuration
// with the infrastructure controls, two record pages, a web page, a script
// with answers, a toolbar, a session line and a navigation rule.
func Small() *Export {
	b := newBuilder()
	b.entityType("contact", 2)
	b.entityType("incident", 112)

	b.control("Global Manager", usd.GlobalManager, "HiddenPanel", true)
	b.control("Main Layout", usd.PanelLayout, "MainPanel", true)
	b.control("Connection Manager", usd.ConnectionManager, "HiddenPanel", true)
	b.control("Contact", usd.UnifiedInterfacePage, "MainPanel", false)
	b.control("Case", usd.UnifiedInterfacePage, "MainPanel", false, b2("msdyusd_allowmultiplepages", true))
	b.control("Bing Search", usd.StandardWebApplication, "RightPanel", false)
	b.control("Agent Script", usd.AgentScripting, "WorkflowPanel", false)
	b.control("Toolbar Container", usd.ToolbarContainer, "ToolbarPanel", true)

	b.call("Contact - Open Page", "Contact", "Open_CRM_Page", 10, "", "LogicalName=contact", "id=[[contact.Id]]")
	b.call("Case - New For Contact", "Case", "New_CRM_Page", 10, "",
		"LogicalName=incident", "customerid=[[contact.Id]]", "customeridname=[[contact.fullname]]", "customeridtype=contact",
		"title=Call from [[contact.fullname]+]")
	b.call("Bing - Search Customer", "Bing Search", "Navigate", 20, "", "url=https://www.bing.com/search?q=[[contact.fullname]u]")
	b.call("Script - Greeting", "Agent Script", "GotoTask", 30, "", "Greeting")
	b.call("Global - Save Context", "Global Manager", "CopyToContext", 40, `"[[contact.telephone1]+]" != ""`, "lastphone=[[contact.telephone1]+]")

	b.event("Contact", "BrowserDocumentComplete", "Script - Greeting", "Global - Save Context")

	b.rule(rule{name: "Contact - Create Session", entity: "contact", order: 10, routeType: usd.RouteTypePopup,
		action: usd.RouteActionCreateSession, target: "Contact", showTab: "Contact", calls: []string{"Bing - Search Customer"}})
	b.rule(rule{name: "Case from Contact", from: "Contact", entity: "incident", order: 20, routeType: usd.RouteTypePopup,
		action: usd.RouteActionRouteWindow, target: "Case", showTab: "Case"})

	b.script("Greeting", "Thank you for calling Contoso, [[contact.firstname]+]. How can I help you today?",
		"Verify the caller before discussing an account.", nil,
		answer{text: "Caller verified, new problem", next: "New Case", calls: []string{"Case - New For Contact"}},
		answer{text: "Caller not verified", next: ""})
	b.script("New Case", "Capture the problem in the case title and description.", "", nil)

	b.sessionLine("Contact Session Name", usd.SessionLineName, "contact", "[[contact.fullname]]", 1)

	b.toolbar("Main Toolbar", "Toolbar Container", 1,
		button{name: "New Case", text: "New Case", tooltip: "Create a case for the customer", enable: usd.ButtonEnableCustomerSession,
			calls: []string{"Case - New For Contact"}})

	b.add(tOption, "maxNumberOfSessions", s("uii_value", "5"), n("msdyusd_globaloption", 100000003))

	b.configuration("Contoso Agents", true, nil)
	return b.Export
}

// Contoso is a realistic contact-centre configuration: three configurations
// (tier 1, tier 2, supervisors), dozens of hosted controls of most types,
// navigation rules, events, agent scripts, toolbars, searches, scriptlets,
// forms and options.
func Contoso() *Export {
	b := newBuilder()
	for i, e := range []string{"account", "contact", "incident", "email", "phonecall", "task", "knowledgearticle",
		"entitlement", "queueitem", "msdyn_ocliveworkitem", "salesorder", "product"} {
		b.entityType(e, []int{1, 2, 112, 4202, 4210, 4212, 9953, 9700, 2029, 10673, 1088, 1024}[i])
	}

	// Infrastructure.
	b.control("Global Manager", usd.GlobalManager, "HiddenPanel", true)
	b.control("Main Panel Layout", usd.PanelLayout, "MainPanel", true)
	b.control("Connection Manager", usd.ConnectionManager, "HiddenPanel", true)
	b.control("Session Tabs", usd.SessionTabs, "MainPanel", true)
	b.control("Debugger", usd.Debugger, "MainPanel", true)
	b.control("Session Overview", usd.SessionLinesControl, "LeftPanel1", false)
	b.control("Toolbar Container", usd.ToolbarContainer, "ToolbarPanel", true)
	b.control("About Toolbar", usd.ToolbarContainer, "StatusPanel", true)
	b.control("Agent Script", usd.AgentScripting, "WorkflowPanel", false)
	b.control("KM Control", usd.UnifiedInterfaceKMControl, "RightPanel", false)
	b.control("Legacy KB Search", usd.KMControl, "RightPanel", false)
	b.control("CTI Desktop Manager", usd.CTIDesktopManager, "HiddenPanel", true,
		s("uii_assemblyuri", "Contoso.Cti.Genesys"), s("uii_assemblytype", "Contoso.Cti.Genesys.DesktopManager"))
	b.control("Channel Integration", usd.ChannelIntegrationFramework, "CtiPanel", true,
		s("msdyusd_cifurl", "https://cti.contoso.example/widget"))
	b.control("Usage Listener", usd.ListenerHostedControl, "HiddenPanel", true)
	b.control("Incoming Call Popup", usd.PopupNotification, "FloatingPanel", true)
	b.control("Customer Notes", usd.UserNotes, "LeftPanel2", false)
	b.control("Follow-ups", usd.TodoList, "LeftPanel2", true)
	b.control("Interaction Tree", usd.TreeBar, "SessionExplorerPanel", true)

	// Record pages.
	for _, p := range []struct{ name, entity string }{
		{"Account", "account"}, {"Contact", "contact"}, {"Case", "incident"}, {"Email", "email"}, {"Phone Call", "phonecall"},
		{"Task", "task"}, {"Entitlement", "entitlement"}, {"Order", "salesorder"}, {"Product", "product"},
		{"Conversation", "msdyn_ocliveworkitem"},
	} {
		b.control(p.name, usd.UnifiedInterfacePage, "MainPanel", false, b2("msdyusd_allowmultiplepages", p.entity == "incident"))
		b.call(p.name+" - Open", p.name, "Open_CRM_Page", 10, "", "LogicalName="+p.entity, "id=[["+p.entity+".Id]]")
	}
	b.control("Case (legacy form)", usd.CRMPage, "MainPanel", false)
	b.control("Agent Dashboard", usd.UnifiedInterfacePage, "MainPanel", true, s("msdyusd_dashboardname", "Tier 1 Dashboard"))
	b.control("Queue View", usd.UnifiedInterfacePage, "MainPanel", true)
	b.control("Service Hub Case", usd.InteractiveServiceHubPage, "MainPanel", false)
	b.control("Case Resolution Dialog", usd.CRMDialog, "FloatingPanel", false)

	// Web applications.
	b.control("Bing Search", usd.StandardWebApplication, "RightPanel", false)
	b.control("Order Portal", usd.StandardWebApplication, "MainPanel", false)
	b.control("Shipment Tracker", usd.StandardWebApplication, "MainPanel", false)
	b.control("Warranty Lookup", usd.StandardWebApplication, "MainPanel", false, s("uii_webappurl", "https://warranty.contoso.example/lookup"))
	b.control("Intranet Wiki", usd.StandardWebApplication, "RightPanel", true, s("uii_webappurl", "http://wiki.corp.contoso.local/support"))

	// Custom code.
	b.control("Credit Check", usd.USDHostedControl, "RightPanel", false,
		s("uii_assemblyuri", "Contoso.Usd.CreditCheck"), s("uii_assemblytype", "Contoso.Usd.CreditCheck.CreditCheckControl"))
	b.control("Legacy Billing", usd.CCAHostedApplication, "MainPanel", false, s("uii_webappurl", "C:\\Program Files\\Contoso\\Billing\\billing.exe"))
	b.control("Case Ribbon", usd.RibbonHostedControl, "RibbonPanel", true)

	// Action calls.
	b.call("Account - Open From Case", "Account", "Open_CRM_Page", 20, "", "LogicalName=account", "id=[[incident.customerid.Id]]")
	b.call("Case - New For Contact", "Case", "New_CRM_Page", 10, "", "LogicalName=incident", "customerid=[[contact.Id]]",
		"customeridname=[[contact.fullname]]", "customeridtype=contact", "title=Call from [[contact.fullname]+]")
	b.call("Case - New For Account", "Case", "New_CRM_Page", 10, "", "LogicalName=incident", "customerid=[[account.Id]]",
		"customeridname=[[account.name]]", "customeridtype=account")
	b.call("Case - Resolve", "Case", "RunXrmCommand", 30, "", "function resolve(){ Xrm.Page.data.entity.save('saveandclose'); }", "resolve();")
	b.call("Case - Close Tab", "Case", "Close", 40, "")
	b.call("Case - Set Focus", "Case", "SetFocus", 5, "")
	b.call("Case - Copy Title To Context", "Global Manager", "CopyToContext", 50, "", "casetitle=[[incident.title]+]",
		"casenumber=[[incident.ticketnumber]+]")
	b.call("Email - Draft To Customer", "Email", "New_CRM_Page", 10, "", "LogicalName=email", "subject=Your case [[incident.ticketnumber]]",
		"regardingobjectid=[[incident.Id]]", "regardingobjectidname=[[incident.title]]", "regardingobjectidtype=incident")
	b.call("Phone Call - Log Inbound", "Phone Call", "New_CRM_Page", 10, "", "LogicalName=phonecall",
		"phonenumber=[[$Context.ani]+]", "directioncode=false", "subject=Inbound call [[$Context.ani]+]")
	b.call("Task - Follow Up", "Task", "New_CRM_Page", 10, "[[incident.prioritycode]] == 1", "LogicalName=task",
		"subject=Follow up: [[incident.title]]", "scheduledend=$Expression(new Date(Date.now()+86400000).toISOString())")
	b.call("Bing - Search Customer", "Bing Search", "Navigate", 20, "", "url=https://www.bing.com/search?q=[[contact.fullname]u]")
	b.call("Bing - Search Error Code", "Bing Search", "Navigate", 20, "[[incident.title]+] != \"\"",
		"url=https://www.bing.com/search?q=[[incident.title]u+]")
	b.call("Order Portal - Customer Orders", "Order Portal", "Navigate", 10, "",
		"url=https://orders.contoso.example/customer/[[account.accountnumber]u]?agent=[[$User.domainname]u]")
	b.call("Shipment - Track Last Order", "Shipment Tracker", "Navigate", 10, "",
		"url=https://track.contoso.example/?order=[[$Return.Order Portal - Find Last Order]u]")
	b.call("Order Portal - Find Last Order", "Order Portal", "ExecuteScript", 5, "", "return document.getElementById('lastOrder').innerText;")
	b.call("Warranty - Lookup Serial", "Warranty Lookup", "Navigate", 10, "", "url=https://warranty.contoso.example/lookup?serial=[[incident.msdyn_serialnumber]u]")
	b.call("Wiki - Open Home", "Intranet Wiki", "Navigate", 10, "", "url=http://wiki.corp.contoso.local/support")
	b.call("Script - Greeting", "Agent Script", "GotoTask", 30, "", "Greeting")
	b.call("Script - Verify Caller", "Agent Script", "GotoTask", 30, "", "Verify Caller")
	b.call("Script - Escalation", "Agent Script", "GotoTask", 30, "", "Escalation")
	b.call("KB - Search Case Title", "KM Control", "Search", 10, "", "[[incident.title]+]")
	b.call("Legacy KB - Search", "Legacy KB Search", "Search", 10, "", "[[incident.title]+]")
	b.call("Credit Check - Run", "Credit Check", "RunCheck", 10, "", "accountnumber=[[account.accountnumber]]")
	b.call("Billing - Open Customer", "Legacy Billing", "OpenCustomer", 10, "", "[[account.accountnumber]]")
	b.call("Dashboard - Show", "Agent Dashboard", "Navigate", 1, "", "url=/main.aspx?pagetype=dashboard&id={A9F3C1A5-0D2E-4F7B-9B7F-3D2B7D9A1E10}")
	b.call("Queue - Show My Items", "Queue View", "Navigate", 1, "", "url=/main.aspx?pagetype=entitylist&etn=queueitem")
	b.call("Session - Close", "Global Manager", "CloseActiveSession", 90, "")
	b.call("Notes - Load", "Customer Notes", "Load", 10, "", "[[contact.Id]]")
	b.call("Popup - Incoming Call", "Incoming Call Popup", "Show", 1, "",
		"formname=Incoming Call", "top=10", "left=10", "timeout=15", "caller=[[$Context.ani]+]")
	b.call("Debug - Dump Context", "Debugger", "Show", 99, "[[$Settings.DebugMode]+] == \"true\"")
	b.call("Session Name - Refresh", "Session Overview", "RefreshSessionLines", 50, "")
	b.call("CTI - Answer", "Channel Integration", "Answer", 1, "")
	b.call("Case - Multiline Notes", "Case", "New_CRM_Page", 20, "", "LogicalName=annotation",
		"notetext=$Multiline([[incident.description]$])", "objectid=[[incident.Id]]", "objectidtype=incident")
	b.call("Case - Broken Parameter", "Case", "New_CRM_Page", 30, "", "LogicalName=task", "subject=Check [[incident.title]q]")
	b.call("Service Hub - Open Case", "Service Hub Case", "Navigate", 10, "",
		"url=/main.aspx?appid=[[$Global.ServiceHubAppId]]&pagetype=entityrecord&etn=incident&id=[[incident.Id]]")
	b.call("Legacy Case - Open", "Case (legacy form)", "Navigate", 10, "", "url=/main.aspx?etn=incident&pagetype=entityrecord&id=[[incident.Id]]")
	b.call("Resolution Dialog - Open", "Case Resolution Dialog", "Navigate", 10, "", "url=/cs/dialog/start.aspx?DialogId=resolve&EntityName=incident&ObjectId=[[incident.Id]]")
	b.call("Product - Open From Case", "Product", "Open_CRM_Page", 20, "", "LogicalName=product", "id=[[incident.productid.Id]]")
	b.call("Conversation - Link Case", "Conversation", "RunXrmCommand", 20, "", "linkCase('[[incident.Id]]');")

	b.subCalls("Case - New For Contact", "Case - Set Focus", "Script - Verify Caller")
	b.subCalls("Shipment - Track Last Order", "Order Portal - Find Last Order")
	b.subCalls("Case - Open", "Case - Copy Title To Context", "KB - Search Case Title", "Session Name - Refresh")

	// Events.
	b.event("Contact", "BrowserDocumentComplete", "Script - Greeting", "Notes - Load")
	b.event("Case", "BrowserDocumentComplete", "Case - Copy Title To Context", "KB - Search Case Title")
	b.event("Case", "DataReady", "Session Name - Refresh")
	b.event("Account", "BrowserDocumentComplete", "Credit Check - Run", "Order Portal - Customer Orders")
	b.event("Global Manager", "DesktopReady", "Dashboard - Show", "Queue - Show My Items")
	b.event("Global Manager", "SessionNew", "Script - Greeting")
	b.event("Global Manager", "SessionClosed", "Debug - Dump Context")
	b.event("CTI Desktop Manager", "CallRinging", "Popup - Incoming Call")
	b.event("CTI Desktop Manager", "CallConnected", "Phone Call - Log Inbound", "CTI - Answer")
	b.event("Order Portal", "BrowserDocumentComplete", "Shipment - Track Last Order")
	b.event("Email", "BrowserDocumentComplete")
	b.event("Warranty Lookup", "PopupRouted", "Warranty - Lookup Serial")
	b.event("Global Manager", "NewCustomerSession", "Case - New For Account")
	b.event("Case", "Saved", "Email - Draft To Customer")

	// Searches (before rules that come from them).
	b.search("Contact by Phone", "contact", `<fetch version="1.0" mapping="logical"><entity name="contact"><attribute name="fullname"/><attribute name="telephone1"/><filter><condition attribute="telephone1" operator="eq" value="[[$Context.ani]]"/></filter></entity></fetch>`)
	b.search("Account by Number", "account", `<fetch version="1.0" mapping="logical"><entity name="account"><attribute name="name"/><filter><condition attribute="accountnumber" operator="eq" value="[[$Context.accountnumber]]"/></filter></entity></fetch>`)
	b.search("Open Cases for Customer", "incident", `<fetch version="1.0" mapping="logical"><entity name="incident"><attribute name="title"/><attribute name="ticketnumber"/><filter><condition attribute="customerid" operator="eq" value="[[contact.Id]]"/><condition attribute="statecode" operator="eq" value="0"/></filter></entity></fetch>`)
	b.search("Case by Number", "incident", `<fetch version="1.0" mapping="logical"><entity name="incident"><attribute name="title"/><filter><condition attribute="ticketnumber" operator="eq" value="[[$Context.casenumber]]"/></filter></entity></fetch>`)
	b.search("Products", "product", `<fetch version="1.0" mapping="logical"><entity name="product"><attribute name="name"/><attribute name="productnumber"/></entity></fetch>`)

	// Navigation rules.
	rules := []rule{
		{name: "Contact Search - Create Session", fromSearch: "Contact by Phone", entity: "contact", order: 10, routeType: usd.RouteTypePopup,
			action: usd.RouteActionCreateSession, target: "Contact", showTab: "Contact", calls: []string{"Bing - Search Customer"}},
		{name: "Account Search - Create Session", fromSearch: "Account by Number", entity: "account", order: 11, routeType: usd.RouteTypePopup,
			action: usd.RouteActionCreateSession, target: "Account", showTab: "Account", calls: []string{"Order Portal - Customer Orders"}},
		{name: "Case - Create Session", entity: "incident", order: 12, routeType: usd.RouteTypePopup, action: usd.RouteActionCreateSession,
			target: "Case", showTab: "Case", calls: []string{"Account - Open From Case", "KB - Search Case Title"}},
		{name: "Conversation - Create Session", entity: "msdyn_ocliveworkitem", order: 13, routeType: usd.RouteTypePopup,
			action: usd.RouteActionCreateSession, target: "Conversation", showTab: "Conversation"},
		{name: "Case from Contact", from: "Contact", entity: "incident", order: 20, routeType: usd.RouteTypePopup,
			action: usd.RouteActionRouteWindow, target: "Case", showTab: "Case"},
		{name: "Case from Account", from: "Account", entity: "incident", order: 21, routeType: usd.RouteTypePopup,
			action: usd.RouteActionRouteWindow, target: "Case", showTab: "Case"},
		{name: "Contact from Case", from: "Case", entity: "contact", order: 22, routeType: usd.RouteTypePopup,
			action: usd.RouteActionRouteWindow, target: "Contact", showTab: "Contact"},
		{name: "Account from Case", from: "Case", entity: "account", order: 23, routeType: usd.RouteTypePopup,
			action: usd.RouteActionRouteWindow, target: "Account", showTab: "Account"},
		{name: "Email from Case", from: "Case", entity: "email", order: 24, routeType: usd.RouteTypePopup,
			action: usd.RouteActionRouteWindow, target: "Email", showTab: "Email"},
		{name: "Phone Call from Contact", from: "Contact", entity: "phonecall", order: 25, routeType: usd.RouteTypePopup,
			action: usd.RouteActionRouteWindow, target: "Phone Call", showTab: "Phone Call"},
		{name: "Task from Case", from: "Case", entity: "task", order: 26, routeType: usd.RouteTypePopup,
			action: usd.RouteActionRouteWindow, target: "Task", showTab: "Task"},
		{name: "Entitlement from Case", from: "Case", entity: "entitlement", order: 27, routeType: usd.RouteTypeInPlace,
			action: usd.RouteActionInPlace, target: "Entitlement"},
		{name: "Order from Account", from: "Account", entity: "salesorder", order: 28, routeType: usd.RouteTypePopup,
			action: usd.RouteActionRouteWindow, target: "Order", showTab: "Order"},
		{name: "Product from Case", from: "Case", entity: "product", order: 29, routeType: usd.RouteTypePopup,
			action: usd.RouteActionRouteWindow, target: "Product", showTab: "Product", calls: []string{"Product - Open From Case"}},
		{name: "Order Portal Links Stay In Tab", from: "Order Portal", url: "https://orders.contoso.example/*", order: 30,
			routeType: usd.RouteTypePopup, action: usd.RouteActionRouteWindow, target: "Order Portal"},
		{name: "Tracking Links Open Tracker", from: "Order Portal", url: "https://track.contoso.example/*", order: 31,
			routeType: usd.RouteTypePopup, action: usd.RouteActionRouteWindow, target: "Shipment Tracker", showTab: "Shipment Tracker"},
		{name: "External Links Outside", from: "Bing Search", url: "*", order: 90, routeType: usd.RouteTypePopup,
			action: usd.RouteActionShowOutside},
		{name: "Wiki Links Outside", from: "Intranet Wiki", url: "*", order: 91, routeType: usd.RouteTypePopup,
			action: usd.RouteActionShowOutside},
		{name: "Priority Case Escalation", from: "Case", entity: "incident", order: 15, routeType: usd.RouteTypeOnLoad,
			action: usd.RouteActionNone, condition: "\"[[incident.prioritycode]]\" == \"1\"", calls: []string{"Script - Escalation"}},
		{name: "Queue Item Opens Case", from: "Queue View", entity: "incident", order: 32, routeType: usd.RouteTypePopup,
			action: usd.RouteActionCreateSession, target: "Case", showTab: "Case"},
		{name: "Dashboard Case Opens Session", from: "Agent Dashboard", entity: "incident", order: 33, routeType: usd.RouteTypePopup,
			action: usd.RouteActionCreateSession, target: "Case", showTab: "Case"},
		{name: "Menu - Open Product Catalogue", from: "Case", entity: "product", order: 34, routeType: usd.RouteTypeMenuChosen,
			action: usd.RouteActionDefault, target: "Product"},
		{name: "Legacy Case Popup", from: "Case (legacy form)", entity: "incident", url: "*cs/home_cases*", order: 35,
			routeType: usd.RouteTypePopup, action: usd.RouteActionRouteWindow, target: "Case"},
		{name: "Billing Pops Account", from: "Legacy Billing", entity: "account", order: 36, routeType: usd.RouteTypePopup,
			action: usd.RouteActionCreateSession, target: "Account", showTab: "Account"},
	}
	for _, r := range rules {
		b.rule(r)
	}

	// Agent scripts.
	b.script("Greeting", "Thank you for calling Contoso, this is [[$User.firstname]]. Am I speaking with [[contact.fullname]+]?",
		"Greet the caller by name when the session has a contact.", nil,
		answer{text: "Yes, verify the caller", next: "Verify Caller"},
		answer{text: "No, search for the customer", calls: []string{"Phone Call - Log Inbound"}})
	b.script("Verify Caller", "Please confirm the postcode on the account.", "Compare with [[contact.address1_postalcode]+].", nil,
		answer{text: "Verified - new problem", next: "Troubleshooting", calls: []string{"Case - New For Contact"}},
		answer{text: "Verified - existing case", next: "Case Update", calls: []string{"Case - Open"}},
		answer{text: "Not verified", next: "Closing"})
	b.script("Troubleshooting", "Ask for the product and serial number.", "", []string{"KB - Search Case Title"},
		answer{text: "Known issue found", next: "Resolve Case", calls: []string{"KB - Search Case Title"}},
		answer{text: "Warranty question", calls: []string{"Warranty - Lookup Serial"}},
		answer{text: "Needs escalation", next: "Escalation", enabled: "[[incident.prioritycode]] <= 2"})
	b.script("Case Update", "Case [[incident.ticketnumber]] is currently [[incident.statuscode]+].", "", []string{"Case - Copy Title To Context"},
		answer{text: "Send update by email", calls: []string{"Email - Draft To Customer"}},
		answer{text: "Add a follow-up task", calls: []string{"Task - Follow Up"}},
		answer{text: "Done", next: "Closing"})
	b.script("Resolve Case", "Confirm the fix worked before resolving.", "", nil,
		answer{text: "Resolve now", next: "Closing", calls: []string{"Case - Resolve"}},
		answer{text: "Not fixed", next: "Escalation"})
	b.script("Escalation", "This case will go to tier 2. Reference: [[$Return.Case - Copy Title To Context]+].", "", []string{"Case - Copy Title To Context"},
		answer{text: "Escalate and close session", next: "Closing", calls: []string{"Case - Close Tab", "Session - Close"}})
	b.script("Order Enquiry", "Which order is this about?", "", []string{"Order Portal - Customer Orders"},
		answer{text: "Track shipment", calls: []string{"Shipment - Track Last Order"}},
		answer{text: "Open billing", calls: []string{"Billing - Open Customer"}},
		answer{text: "Credit check", calls: []string{"Credit Check - Run"}})
	b.script("Closing", "Is there anything else I can help with today?", "", nil,
		answer{text: "No - end call", calls: []string{"Session - Close"}},
		answer{text: "Yes - new request", next: "Verify Caller"})
	b.script("Supervisor Coaching", "$Multiline(Listen for: greeting, verification, empathy.\r\nScore each from 1 to 5.)", "", nil)

	// Session lines.
	b.sessionLine("Contact Session Name", usd.SessionLineName, "contact", "[[contact.fullname]]", 1)
	b.sessionLine("Account Session Name", usd.SessionLineName, "account", "[[account.name]] ([[account.accountnumber]+])", 2)
	b.sessionLine("Case Session Name", usd.SessionLineName, "incident", "[[incident.ticketnumber]]: [[incident.title]]", 3)
	b.sessionLine("Case Session Name Fallback", usd.SessionLineName, "incident", "Case [[$Context.casenumber]]", 4)
	b.sessionLine("Conversation Session Name", usd.SessionLineName, "msdyn_ocliveworkitem", "[[msdyn_ocliveworkitem.msdyn_customer]+] - chat", 5)
	b.sessionLine("Contact Overview", usd.SessionLineOverview, "contact",
		`<StackPanel xmlns="http://schemas.microsoft.com/winfx/2006/xaml/presentation"><TextBlock Text="[[contact.fullname]+]"/><TextBlock Text="[[contact.telephone1]+]"/></StackPanel>`, 1)
	b.sessionLine("Case Overview", usd.SessionLineOverview, "incident",
		`<StackPanel xmlns="http://schemas.microsoft.com/winfx/2006/xaml/presentation"><TextBlock Text="[[incident.title]+]"/><TextBlock Text="SLA: [[script.CaseAge]]"/></StackPanel>`, 2)

	// Toolbars.
	b.toolbar("Main Toolbar", "Toolbar Container", 1,
		button{name: "Home", text: "Home", image: "msdyusd_Home", enable: usd.ButtonEnableAlways, calls: []string{"Dashboard - Show"}},
		button{name: "New Case", text: "New Case", tooltip: "Create a case for the customer", enable: usd.ButtonEnableCustomerSession,
			calls: []string{"Case - New For Contact"}},
		button{name: "Search", text: "Search", enable: usd.ButtonEnableAlways, children: []button{
			{name: "Search Bing", text: "Bing", calls: []string{"Bing - Search Customer"}, enable: usd.ButtonEnableCustomerSession},
			{name: "Search Wiki", text: "Wiki", calls: []string{"Wiki - Open Home"}, enable: usd.ButtonEnableAlways},
			{name: "Search KB", text: "Knowledge", calls: []string{"KB - Search Case Title"}, enable: usd.ButtonEnableCustomerSession},
		}},
		button{name: "Orders", text: "Orders", enable: usd.ButtonEnableCustomerSession, calls: []string{"Order Portal - Customer Orders"}},
		button{name: "Credit Check", text: "Credit", enable: usd.ButtonEnableScript, visible: "[[account.Id]+] != \"\"",
			calls: []string{"Credit Check - Run"}},
		button{name: "Close Session", text: "Close", enable: usd.ButtonEnableCustomerSession, calls: []string{"Session - Close"}},
	)
	b.toolbar("Case Toolbar", "Toolbar Container", 2,
		button{name: "Resolve", text: "Resolve", enable: usd.ButtonEnableCustomerSession, calls: []string{"Case - Resolve"}},
		button{name: "Email Customer", text: "Email", enable: usd.ButtonEnableCustomerSession, calls: []string{"Email - Draft To Customer"}},
		button{name: "Follow Up", text: "Follow up", enable: usd.ButtonEnableCustomerSession, calls: []string{"Task - Follow Up"}},
		button{name: "Escalate", text: "Escalate", enable: usd.ButtonEnableScript, visible: "[[incident.prioritycode]] <= 2",
			calls: []string{"Script - Escalation"}},
	)
	b.toolbar("About Toolbar", "About Toolbar", 3,
		button{name: "Debugger", text: "Debug", enable: usd.ButtonEnableAlways, calls: []string{"Debug - Dump Context"}},
		button{name: "Version", text: "About", enable: usd.ButtonEnableAlways},
	)

	// Scriptlets, forms, options.
	b.add(tScriptl, "CaseAge", s("msdyusd_scripttext", `var created = new Date("[[incident.createdon]]"); Math.round((Date.now() - created) / 3600000) + " h";`))
	b.add(tScriptl, "CustomerTier", s("msdyusd_scripttext", `"[[account.msdyn_tier]+]" == "" ? "Standard" : "[[account.msdyn_tier]+]";`))
	b.add(tScriptl, "IsVip", s("msdyusd_scripttext", `[[account.msdyn_vip]+] == true;`))
	b.add(tScriptl, "GreetingTime", s("msdyusd_scripttext", `var h = new Date().getHours(); h < 12 ? "Good morning" : "Good afternoon";`))
	b.add(tForm, "Incoming Call", s("msdyusd_markup", `<Grid xmlns="http://schemas.microsoft.com/winfx/2006/xaml/presentation"><TextBlock Text="Incoming call from [[caller]+]"/></Grid>`))
	b.add(tForm, "Wrap-up Survey", s("msdyusd_markup", `<Grid xmlns="http://schemas.microsoft.com/winfx/2006/xaml/presentation"><CheckBox Content="Issue resolved"/></Grid>`))
	for i, o := range []struct{ name, value string }{
		{"maxNumberOfSessions", "6"}, {"ClientCacheVersionNumber", "20260301"}, {"HelpImprove", "false"},
		{"DefaultSessionTimeout", "900"}, {"ExitMonitoringEnabled", "true"}, {"InactivityTimeout", "1800"},
		{"SessionCloseConfirmation", "true"}, {"GlobalManagerLanguage", "1033"},
	} {
		b.add(tOption, o.name, s("uii_value", o.value), n("msdyusd_globaloption", []int{100000003, 100000000, 1000000040, 1000000040, 1000000040, 1000000040, 1000000040, 1000000040}[i]))
	}

	// Configurations. Tier 1 is the default and excludes supervisor tools
	// and custom code; tier 2 adds them; supervisors get dashboards only.
	custom := map[string]bool{"Credit Check": true, "Legacy Billing": true, "Credit Check - Run": true, "Billing - Open Customer": true,
		"Supervisor Coaching": true, "Debugger": true, "Debug - Dump Context": true, "Order Enquiry": true}
	b.configuration("Tier 1 Agents", true, func(entity, name string) bool { return !custom[name] })
	b.configuration("Tier 2 Agents", false, nil)
	b.configuration("Supervisors", false, func(entity, name string) bool {
		switch entity {
		case tHC:
			return strings.Contains("Global Manager|Main Panel Layout|Connection Manager|Session Tabs|Agent Dashboard|Queue View|Case|Toolbar Container|Agent Script", name)
		case tCall:
			return strings.HasPrefix(name, "Dashboard") || strings.HasPrefix(name, "Queue") || name == "Case - Open"
		case tScript:
			return name == "Supervisor Coaching"
		case tOption:
			return name == "maxNumberOfSessions"
		case tRule:
			return name == "Queue Item Opens Case" || name == "Dashboard Case Opens Session"
		case tLine:
			return strings.HasPrefix(name, "Case")
		}
		return false
	})
	// Settings rows exported alongside USD configuration that the model
	// does not cover.
	b.add("msdyusd_ucisettings", "Contoso UCI", s("msdyusd_uciapp", "Customer Service Hub"))
	return b.Export
}

// Evidence is an export whose Unified Interface Page controls say what
// they show only the way a real configuration does: through their action
// calls (Navigate to record, list, dashboard, search and web resource
// URLs; Find), through Open_CRM_Page calls of other controls that
// navigation rules route to them, through navigation rules alone, or
// through a dashboard name. It also holds a web control with one clean
// and one problematic Navigate call, evidence that disagrees, a URL no tab
// page shows, and one control of every natively provided and every
// no-equivalent type.
func Evidence() *Export {
	b := newBuilder()
	for i, e := range []string{"account", "contact", "incident", "salesorder"} {
		b.entityType(e, []int{1, 2, 112, 1088}[i])
	}
	// No equivalent in the workspace.
	b.control("Global Manager", usd.GlobalManager, "HiddenPanel", true)
	b.control("Main Layout", usd.PanelLayout, "MainPanel", true)
	b.control("Connection Manager", usd.ConnectionManager, "HiddenPanel", true)
	b.control("Debugger", usd.Debugger, "MainPanel", true)
	b.control("Session Tree", usd.TreeBar, "SessionExplorerPanel", true)
	// Provided natively.
	b.control("Agent Script", usd.AgentScripting, "WorkflowPanel", false)
	b.control("Knowledge", usd.UnifiedInterfaceKMControl, "RightPanel", false)
	b.control("Session Tabs", usd.SessionTabs, "MainPanel", true)
	b.control("Session Lines", usd.SessionLinesControl, "LeftPanel1", false)

	// Pages.
	b.control("Contact", usd.UnifiedInterfacePage, "MainPanel", false)
	b.control("Case Form", usd.UnifiedInterfacePage, "MainPanel", false)
	b.control("Account Details", usd.UnifiedInterfacePage, "MainPanel", false)
	b.control("Order Details", usd.UnifiedInterfacePage, "MainPanel", false)
	b.control("Case Search", usd.UnifiedInterfacePage, "MainPanel", true)
	b.control("Knowledge Search", usd.UnifiedInterfacePage, "MainPanel", false)
	b.control("Service Dashboard", usd.UnifiedInterfacePage, "MainPanel", true, s("msdyusd_dashboardname", "Service Dashboard"))
	b.control("Team Dashboard", usd.UnifiedInterfacePage, "MainPanel", true, s("msdyusd_dashboardname", "Team Performance"))
	b.control("My Cases", usd.UnifiedInterfacePage, "MainPanel", true)
	b.control("Queue View", usd.UnifiedInterfacePage, "MainPanel", true, s("msdyusd_dashboardname", "Queue Dashboard"))
	b.control("Case Summary", usd.UnifiedInterfacePage, "RightPanel", false)
	b.control("Legacy Report", usd.UnifiedInterfacePage, "MainPanel", false)
	b.control("Customer Portal", usd.StandardWebApplication, "MainPanel", false)

	b.call("Contact - Open", "Contact", "Open_CRM_Page", 10, "", "LogicalName=contact", "id=[[contact.Id]]")
	// Shown in Account Details: the rule "Account from Contact" routes it.
	b.call("Contact - Open Parent Account", "Contact", "Open_CRM_Page", 20, "", "LogicalName=account", "id=[[contact.parentcustomerid.Id]]")
	b.call("Case Form - Open", "Case Form", "Navigate", 10, "",
		"url=/main.aspx?pagetype=entityrecord&etn=incident&id=[[incident.Id]]&formid={B1F2C3D4-0000-4000-8000-00000000CA5E}")
	b.call("Case Search - Find", "Case Search", "Find", 10, "", "case", "hideNavigationBar=True")
	b.call("Knowledge Search - Case Title", "Knowledge Search", "Navigate", 10, "",
		"url=/main.aspx?pagetype=search&searchText=[[incident.title]]&searchType=1")
	b.call("Dashboard - Show Service", "Service Dashboard", "Navigate", 1, "",
		"url=/main.aspx?pagetype=dashboard&id={5D0C9A8B-1E2F-4A3B-8C4D-5E6F7A8B9C0D}")
	b.call("My Cases - Show", "My Cases", "Navigate", 1, "",
		"url=/main.aspx?pagetype=entitylist&etn=incident&viewid={00000000-0000-0000-00AA-000010001031}")
	b.call("Queue View - Show", "Queue View", "Navigate", 1, "", "url=/main.aspx?pagetype=entitylist&etn=queueitem")
	b.call("Case Summary - Show", "Case Summary", "Navigate", 10, "", "url=/WebResources/new_casesummary.html?data=[[incident.Id]]")
	b.call("Legacy Report - Open", "Legacy Report", "Navigate", 10, "", "url=/crmreports/viewer/viewer.aspx?id={0F0E0D0C-0B0A-4900-8800-776655443322}")
	// One problematic call (a $Global parameter, run first) and one clean
	// call: the tab template is written from the clean one.
	b.call("Portal - Agent Home", "Customer Portal", "Navigate", 10, "", "url=https://portal.contoso.example/agent?id=[[$Global.PortalAgentId]]")
	b.call("Portal - Customer", "Customer Portal", "Navigate", 20, "", "url=https://portal.contoso.example/customer?id=[[contact.Id]]")
	b.call("Script - Greeting", "Agent Script", "GotoTask", 30, "", "Greeting")
	b.call("Debug - Show", "Debugger", "Show", 99, "")

	b.event("Global Manager", "DesktopReady", "Dashboard - Show Service", "My Cases - Show", "Queue View - Show", "Case Search - Find")
	b.event("Global Manager", "SessionClosed")

	for _, r := range []rule{
		{name: "Contact - Create Session", entity: "contact", order: 10, routeType: usd.RouteTypePopup,
			action: usd.RouteActionCreateSession, target: "Contact", showTab: "Contact", calls: []string{"Contact - Open", "Script - Greeting"}},
		{name: "Account from Contact", from: "Contact", entity: "account", order: 20, routeType: usd.RouteTypePopup,
			action: usd.RouteActionRouteWindow, target: "Account Details", showTab: "Account Details"},
		{name: "Order from Contact", from: "Contact", entity: "salesorder", order: 21, routeType: usd.RouteTypePopup,
			action: usd.RouteActionRouteWindow, target: "Order Details", showTab: "Order Details"},
		{name: "Case from Search", from: "Case Search", entity: "incident", order: 22, routeType: usd.RouteTypePopup,
			action: usd.RouteActionRouteWindow, target: "Case Form", showTab: "Case Form"},
	} {
		b.rule(r)
	}
	b.script("Greeting", "Hello [[contact.firstname]+].", "", nil)
	b.sessionLine("Contact Session Name", usd.SessionLineName, "contact", "[[contact.fullname]]", 1)
	b.add(tOption, "ClientCacheVersionNumber", s("uii_value", "20260301"), n("msdyusd_globaloption", 100000000))
	b.configuration("Agents", true, nil)
	return b.Export
}

// Broken returns the damaged archives: a truncated download, a data.xml
// with an unescaped ampersand, an export with dangling references, one
// without its schema, and one that is not a zip at all.
func Broken() []Fixture {
	contoso := Contoso().Files()
	full := Zip(contoso)
	// Cut inside data.xml's compressed stream: keep the first 55 %.
	truncated := append([]byte(nil), full[:len(full)*55/100]...)

	small := Small()
	data := small.DataXML()
	// An unescaped & inside an attribute, as hand-edited exports have.
	bad := strings.Replace(string(data), "q=[[contact.fullname]u]", "q=[[contact.fullname]u]&form=QBLH", 1)
	if bad == string(data) {
		panic("fixture: malformed replacement not applied")
	}
	malformed := []File{{ContentTypesName, ContentTypesXML()}, {"data.xml", []byte(bad)}, {"data_schema.xml", small.SchemaXML()}}

	// Dangling: remove the Case hosted control and the New Case script,
	// which action calls, rules, answers and the configuration refer to.
	dang := Small()
	for _, en := range dang.entities {
		switch en.Name {
		case tHC:
			en.Records = dropRecord(en.Records, ID(tHC, "Case"))
		case tScript:
			en.Records = dropRecord(en.Records, ID(tScript, "New Case"))
		}
	}
	noSchema := []File{{ContentTypesName, ContentTypesXML()}, {"data.xml", Small().DataXML()}}
	return []Fixture{
		{Name: "broken-truncated.zip", Zip: truncated},
		{Name: "broken-malformed.zip", Files: malformed},
		{Name: "broken-dangling.zip", Files: dang.Files()},
		{Name: "broken-noschema.zip", Files: noSchema},
		{Name: "broken-notzip.zip", Zip: []byte("<html><body>Sign in to continue</body></html>\n")},
	}
}

func dropRecord(recs []*Rec, id string) []*Rec {
	out := recs[:0]
	for _, r := range recs {
		if r.ID != id {
			out = append(out, r)
		}
	}
	if len(out) == len(recs) {
		panic(fmt.Sprintf("fixture: record %s not found", id))
	}
	return out
}
