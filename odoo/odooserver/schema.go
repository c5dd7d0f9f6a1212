package odooserver

import (
	"fmt"
	"slices"
)

// Field types, spelled as Odoo's fields_get reports them.
const (
	tChar      = "char"
	tText      = "text"
	tHTML      = "html"
	tInteger   = "integer"
	tFloat     = "float"
	tBoolean   = "boolean"
	tDate      = "date"
	tDatetime  = "datetime"
	tSelection = "selection"
	tMany2one  = "many2one"
	tOne2many  = "one2many"
	tMany2many = "many2many"
	tBinary    = "binary"
)

type fieldDef struct {
	name      string
	typ       string
	label     string
	relation  string // comodel of relational fields
	inverse   string // one2many: the many2one on the comodel pointing back
	mirror    string // many2many stored on the comodel's field of this name (same relation table)
	selection [][2]string
	required  bool
	readonly  bool
	computed  bool // not stored: display_name (one2many are never stored either)
	help      string
	domain    any // relational fields: fields_get "domain" ([] or a string expression)
	def       any // default on create, already in storage form
	pos       int // index into record.vals
}

// access is a model's ACL for the only user of the reference database.
type access struct{ read, write, create, unlink bool }

var fullAccess = access{true, true, true, true}

type modelDef struct {
	name        string
	description string
	order       string
	recName     string
	access      access
	fields      map[string]*fieldDef
	fieldNames  []string // declaration order, as fields_get lists them
	displayName func(s *store, r *record) string
}

func (m *modelDef) add(f *fieldDef) *modelDef {
	if m.fields == nil {
		m.fields = map[string]*fieldDef{}
	}
	f.pos = len(m.fieldNames)
	m.fields[f.name] = f
	m.fieldNames = append(m.fieldNames, f.name)
	return m
}

func (m *modelDef) has(field string) bool { _, ok := m.fields[field]; return ok }

// stored reports whether the field has a column (fields_get "store",
// sortable): everything here except computed fields and one2many.
func (f *fieldDef) stored() bool { return !f.computed && f.typ != tOne2many }

// Field constructors keep the model tables below readable.
func char(name, label string) *fieldDef { return &fieldDef{name: name, typ: tChar, label: label} }
func text(name, label string) *fieldDef { return &fieldDef{name: name, typ: tText, label: label} }
func html(name, label string) *fieldDef { return &fieldDef{name: name, typ: tHTML, label: label} }
func integer(name, label string) *fieldDef {
	return &fieldDef{name: name, typ: tInteger, label: label}
}
func float(name, label string) *fieldDef { return &fieldDef{name: name, typ: tFloat, label: label} }
func boolean(name, label string) *fieldDef {
	return &fieldDef{name: name, typ: tBoolean, label: label}
}
func date(name, label string) *fieldDef { return &fieldDef{name: name, typ: tDate, label: label} }
func datetime(name, label string) *fieldDef {
	return &fieldDef{name: name, typ: tDatetime, label: label}
}
func selection(name, label string, keys ...[2]string) *fieldDef {
	return &fieldDef{name: name, typ: tSelection, label: label, selection: keys}
}
func m2o(name, label, comodel string) *fieldDef {
	return &fieldDef{name: name, typ: tMany2one, label: label, relation: comodel}
}
func o2m(name, label, comodel, inverse string) *fieldDef {
	return &fieldDef{name: name, typ: tOne2many, label: label, relation: comodel, inverse: inverse}
}
func m2m(name, label, comodel string) *fieldDef {
	return &fieldDef{name: name, typ: tMany2many, label: label, relation: comodel}
}

func (f *fieldDef) req() *fieldDef              { f.required = true; return f }
func (f *fieldDef) ro() *fieldDef               { f.readonly = true; return f }
func (f *fieldDef) compute() *fieldDef          { f.readonly, f.computed = true, true; return f }
func (f *fieldDef) withDefault(v any) *fieldDef { f.def = v; return f }
func (f *fieldDef) withHelp(h string) *fieldDef { f.help = h; return f }

// Selections shared by several models.
var (
	priorityEE = [][2]string{{"0", "Low priority"}, {"1", "Medium priority"}, {"2", "High priority"}, {"3", "Urgent"}}
	// OCA helpdesk_mgmt labels its top priority "Very High" and defaults to '1'.
	priorityOCA = [][2]string{{"0", "Low"}, {"1", "Medium"}, {"2", "High"}, {"3", "Very High"}}
)

func kanbanState(version int) *fieldDef {
	// The keys never changed; 18 relabelled them (EE helpdesk_ticket.py).
	labels := [][2]string{{"normal", "Grey"}, {"done", "Green"}, {"blocked", "Red"}}
	if version >= 18 {
		labels = [][2]string{{"normal", "In progress"}, {"done", "Ready"}, {"blocked", "Blocked"}}
	}
	return selection("kanban_state", "Status", labels...).withDefault("normal")
}

// newModel starts a model with the magic fields every Odoo model carries.
func newModel(name, description, order string) *modelDef {
	m := &modelDef{name: name, description: description, order: order, recName: "name", access: fullAccess}
	m.add(integer("id", "ID").ro())
	m.add(&fieldDef{name: "display_name", typ: tChar, label: "Display Name", readonly: true, computed: true})
	m.add(datetime("create_date", "Created on").ro())
	m.add(m2o("create_uid", "Created by", "res.users").ro())
	m.add(datetime("write_date", "Last Updated on").ro())
	m.add(m2o("write_uid", "Last Updated by", "res.users").ro())
	return m
}

// buildSchema returns the models of one Odoo version and flavour, following
// research/odoo.md §2 (Enterprise helpdesk, field lists per version) and §3
// (OCA helpdesk_mgmt). Only the fields a helpdesk migration reads are
// modelled; the rest of Odoo's ~120 fields per model are left out.
func buildSchema(version int, flavour string) (map[string]*modelDef, error) {
	if version < 16 || version > 19 {
		return nil, fmt.Errorf("odooserver: unsupported Odoo version %d (want 16..19)", version)
	}
	if flavour != FlavourEnterprise && flavour != FlavourOCA {
		return nil, fmt.Errorf("odooserver: unknown flavour %q (want %q or %q)", flavour, FlavourEnterprise, FlavourOCA)
	}
	ms := map[string]*modelDef{}
	put := func(m *modelDef) { ms[m.name] = m }

	company := newModel("res.company", "Companies", "sequence, name").
		add(char("name", "Company Name").req()).
		add(integer("sequence", "Sequence").withDefault(10)).
		add(m2o("partner_id", "Partner", "res.partner")).
		add(m2o("resource_calendar_id", "Default Working Hours", "resource.calendar"))
	put(company)

	partner := newModel("res.partner", "Contact", "complete_name ASC, id DESC").
		add(char("name", "Name")).
		add(char("complete_name", "Complete Name").ro()).
		add(char("email", "Email")).
		add(char("phone", "Phone")).
		add(boolean("is_company", "Is a Company").withDefault(false)).
		add(selection("company_type", "Company Type", [2]string{"person", "Individual"}, [2]string{"company", "Company"}).withDefault("person")).
		add(m2o("parent_id", "Related Company", "res.partner")).
		add(o2m("child_ids", "Contact", "res.partner", "parent_id")).
		add(m2o("commercial_partner_id", "Commercial Entity", "res.partner").ro()).
		add(selection("type", "Address Type", [2]string{"contact", "Contact"}, [2]string{"invoice", "Invoice Address"}, [2]string{"delivery", "Delivery Address"}, [2]string{"other", "Other Address"}).withDefault("contact")).
		add(m2o("company_id", "Company", "res.company")).
		add(char("lang", "Language")).
		add(char("tz", "Timezone")).
		add(boolean("active", "Active").withDefault(true)).
		// The fields the External API documentation's examples read and
		// write (external_rpc_api.rst: search_read of name/country_id/
		// comment), as base/models/res_partner.py declares them.
		add(char("street", "Street")).
		add(char("street2", "Street2")).
		add(char("zip", "Zip")).
		add(char("city", "City")).
		add(m2o("country_id", "Country", "res.country")).
		add(char("website", "Website Link")).
		add(char("function", "Job Position")).
		add(char("vat", "Tax ID").withHelp("The Tax Identification Number. Values here will be validated based on the country format. You can use '/' to indicate that the partner is not subject to tax.")).
		add(char("ref", "Reference")).
		add(html("comment", "Notes")).
		add(date("date", "Date")).
		add(m2o("user_id", "Salesperson", "res.users").withHelp("The internal user in charge of this contact."))
	if version < 18 {
		// mobile went away in 18.2 (odoo/odoo PR #189739); 18.0 still had it,
		// but the reference server models the 18 series as it ends up.
		partner.add(char("mobile", "Mobile"))
	}
	partner.displayName = partnerDisplayName
	put(partner)

	// res.country (base/models/res_country.py): read-only reference data
	// for everyone but the administrator; the seed holds a few countries.
	country := newModel("res.country", "Country", "name").
		add(char("name", "Country Name").req().withHelp("The full name of the country.")).
		add(char("code", "Country Code").withHelp("The ISO country code in two chars. \nYou can use this field for quick search.")).
		add(integer("phone_code", "Country Calling Code"))
	put(country)

	users := newModel("res.users", "User", "name, login").
		add(char("name", "Name")).
		add(char("login", "Login").req()).
		add(char("email", "Email")).
		add(m2o("partner_id", "Related Partner", "res.partner").req()).
		add(m2o("company_id", "Company", "res.company")).
		add(boolean("share", "Share User").ro().withDefault(false)).
		add(char("tz", "Timezone")).
		add(char("lang", "Language")).
		add(boolean("active", "Active").withDefault(true))
	put(users)

	// API keys are only handled through their own wizard methods; the model
	// has no ACL that lets RPC read or write it, so touching it over RPC is
	// the simplest way to get a genuine AccessError even as admin.
	apikeys := newModel("res.users.apikeys", "Users API Keys", "id").
		add(char("name", "Description").req()).
		add(m2o("user_id", "User", "res.users")).
		add(char("scope", "Scope"))
	apikeys.access = access{}
	put(apikeys)

	calendar := newModel("resource.calendar", "Resource Working Time", "id").
		add(char("name", "Name").req()).
		add(o2m("attendance_ids", "Working Time", "resource.calendar.attendance", "calendar_id")).
		add(float("hours_per_day", "Average Hour per Day").withDefault(8.0)).
		add(char("tz", "Timezone")).
		add(m2o("company_id", "Company", "res.company")).
		add(boolean("active", "Active").withDefault(true))
	put(calendar)

	weekday := [][2]string{{"0", "Monday"}, {"1", "Tuesday"}, {"2", "Wednesday"}, {"3", "Thursday"}, {"4", "Friday"}, {"5", "Saturday"}, {"6", "Sunday"}}
	attendance := newModel("resource.calendar.attendance", "Work Detail", "dayofweek, hour_from").
		add(char("name", "Name").req()).
		add(m2o("calendar_id", "Resource's Calendar", "resource.calendar").req()).
		add(selection("dayofweek", "Day of Week", weekday...).req()).
		add(float("hour_from", "Work from").req()).
		add(float("hour_to", "Work to").req()).
		add(selection("day_period", "Day Period", [2]string{"morning", "Morning"}, [2]string{"lunch", "Break"}, [2]string{"afternoon", "Afternoon"}).withDefault("morning"))
	put(attendance)

	subtype := newModel("mail.message.subtype", "Message subtypes", "sequence, id").
		add(char("name", "Message Type").req()).
		add(boolean("internal", "Internal Only")).
		add(integer("sequence", "Sequence").withDefault(1))
	put(subtype)

	msgTypes := [][2]string{{"email", "Incoming Email"}, {"comment", "Comment"}, {"notification", "System notification"}, {"auto_comment", "Automated Targeted Notification"}, {"user_notification", "User Specific Notification"}}
	if version >= 17 {
		msgTypes = slices.Insert(msgTypes, 2, [2]string{"email_outgoing", "Outgoing Email"})
	}
	message := newModel("mail.message", "Message", "id desc").
		add(char("subject", "Subject")).
		add(datetime("date", "Date")).
		add(html("body", "Contents")).
		add(char("model", "Related Document Model")).
		add(integer("res_id", "Related Document ID")).
		add(char("record_name", "Message Record Name").ro()).
		add(selection("message_type", "Type", msgTypes...).req().withDefault("comment")).
		add(m2o("subtype_id", "Subtype", "mail.message.subtype")).
		add(boolean("is_internal", "Employee Only")).
		add(m2o("author_id", "Author", "res.partner")).
		add(char("email_from", "From")).
		add(m2m("partner_ids", "Recipients", "res.partner")).
		add(m2o("parent_id", "Parent Message", "mail.message")).
		add(m2m("attachment_ids", "Attachments", "ir.attachment")).
		add(char("message_id", "Message-Id").ro())
	message.recName = "record_name"
	message.displayName = func(s *store, r *record) string {
		if v, _ := r.get(message, "subject").(string); v != "" {
			return v
		}
		v, _ := r.get(message, "record_name").(string)
		return v
	}
	put(message)

	if flavour == FlavourEnterprise {
		addEnterpriseHelpdesk(ms, version)
		article := newModel("knowledge.article", "Knowledge Article", "sequence, id").
			add(char("name", "Title")).
			add(html("body", "Body")).
			add(char("icon", "Emoji")).
			add(m2o("parent_id", "Parent Article", "knowledge.article")).
			add(o2m("child_ids", "Child Articles", "knowledge.article", "parent_id")).
			add(m2o("root_article_id", "Menu Article", "knowledge.article").ro()).
			add(integer("sequence", "Sequence").withDefault(0)).
			add(selection("category", "Section", [2]string{"workspace", "Workspace"}, [2]string{"private", "Private"}, [2]string{"shared", "Shared"}).ro()).
			add(selection("internal_permission", "Internal Permission", [2]string{"write", "Can edit"}, [2]string{"read", "Can read"}, [2]string{"none", "No access"})).
			add(boolean("is_article_item", "Is Item")).
			add(boolean("is_template", "Is Template")).
			add(boolean("to_delete", "Trashed")).
			add(boolean("is_published", "Is Published")).
			add(char("website_url", "Website URL").ro()).
			add(datetime("last_edition_date", "Last Edition Date")).
			add(boolean("active", "Active").withDefault(true))
		put(article)
		ms["helpdesk.team"].add(m2o("website_article_id", "Help Center Article", "knowledge.article"))
	} else {
		addOCAHelpdesk(ms, version)
	}

	// ir.attachment (base/models/ir_attachment.py): files on any record,
	// res_model/res_id pointing at it, datas in base64.
	attachment := newModel("ir.attachment", "Attachment", "id desc").
		add(char("name", "Name").req()).
		add(text("description", "Description")).
		add(char("res_model", "Resource Model").withHelp("The database object this attachment will be attached to.")).
		add(integer("res_id", "Resource ID").withHelp("The record id this is attached to.")).
		add(selection("type", "Type", [2]string{"url", "URL"}, [2]string{"binary", "File"}).req().withDefault("binary").withHelp("You can either upload a file from your computer or copy/paste an internet link to your file.")).
		add(char("url", "Url")).
		add(&fieldDef{name: "datas", typ: tBinary, label: "File Content (base64)"}).
		add(char("mimetype", "Mime Type").ro()).
		add(integer("file_size", "File Size").ro()).
		add(boolean("public", "Is public document")).
		add(m2o("company_id", "Company", "res.company"))
	put(attachment)

	// mail.followers (mail/models/mail_followers.py): who follows a record.
	followers := newModel("mail.followers", "Document Followers", "id").
		add(char("res_model", "Related Document Model Name").req()).
		add(integer("res_id", "Related Document ID").withHelp("Id of the followed resource")).
		add(m2o("partner_id", "Related Partner", "res.partner").req()).
		add(m2m("subtype_ids", "Subtype", "mail.message.subtype").withHelp("Message subtypes followed, meaning subtypes that will be pushed onto the user's Wall."))
	followers.recName = "partner_id"
	put(followers)

	// ir.model lists the installed models, which is how clients tell the
	// flavours apart (research/odoo.md §3 "Supporting both flavours").
	irModel := newModel("ir.model", "Models", "model").
		add(char("name", "Model Description").req()).
		add(char("model", "Model").req()).
		add(selection("state", "Type", [2]string{"manual", "Custom Object"}, [2]string{"base", "Base Object"}).withDefault("manual")).
		add(boolean("transient", "Transient Model")).
		add(o2m("field_id", "Fields", "ir.model.fields", "model_id"))
	// Administrators (base.group_system) have full access to ir.model and
	// ir.model.fields; base records are protected in custom.go.
	put(irModel)

	// ir.model.fields describes every field (base/models/ir_model.py), the
	// introspection the External API documentation shows.
	ttypes := [][2]string{}
	for _, t := range []string{tBinary, tBoolean, tChar, tDate, tDatetime, tFloat, tHTML, tInteger, tMany2many, tMany2one, tOne2many, tSelection, tText} {
		ttypes = append(ttypes, [2]string{t, t})
	}
	irFields := newModel("ir.model.fields", "Fields", "name").
		add(char("name", "Field Name").req()).
		add(char("complete_name", "Complete Name")).
		add(char("model", "Model Name").req().withHelp("The technical name of the model this field belongs to")).
		add(m2o("model_id", "Model", "ir.model").req()).
		add(char("field_description", "Field Label").req()).
		add(text("help", "Field Help")).
		add(selection("ttype", "Field Type", ttypes...).req()).
		add(char("relation", "Related Model").withHelp("For relationship fields, the technical name of the target model")).
		add(char("relation_field", "Relation Field").withHelp("For one2many fields, the field on the target model that implement the opposite many2one relationship")).
		add(boolean("required", "Required")).
		add(boolean("readonly", "Readonly")).
		add(boolean("store", "Stored").withDefault(true)).
		add(selection("state", "Type", [2]string{"manual", "Custom Field"}, [2]string{"base", "Base Field"}).withDefault("manual"))
	put(irFields)

	for _, m := range ms {
		for _, f := range m.fields {
			if f.relation != "" && ms[f.relation] == nil {
				return nil, fmt.Errorf("odooserver: %s.%s refers to missing model %s", m.name, f.name, f.relation)
			}
		}
	}
	if version < 17 {
		for _, m := range ms {
			addLastUpdate(m)
		}
	}
	return ms, nil
}

// addLastUpdate adds the magic __last_update field that every model has up
// to 16 (odoo/models.py LOG_ACCESS_COLUMNS / CONCURRENCY_CHECK_FIELD:
// write_date, or create_date); 17 removed it.
func addLastUpdate(m *modelDef) {
	m.add(&fieldDef{name: "__last_update", typ: tDatetime, label: "Last Modified on", readonly: true, computed: true})
}

func addEnterpriseHelpdesk(ms map[string]*modelDef, version int) {
	tag := newModel("helpdesk.tag", "Helpdesk Tags", "name").
		add(char("name", "Tag Name").req()).
		add(integer("color", "Color"))
	ms[tag.name] = tag

	if version <= 17 {
		// Ticket types were dropped in 18 (research/odoo.md §2).
		tt := newModel("helpdesk.ticket.type", "Helpdesk Ticket Type", "sequence, name").
			add(char("name", "Type").req()).
			add(integer("sequence", "Sequence").withDefault(10))
		ms[tt.name] = tt
	}

	stage := newModel("helpdesk.stage", "Helpdesk Stage", "sequence, id").
		add(char("name", "Stage Name").req()).
		add(text("description", "Description")).
		add(integer("sequence", "Sequence").withDefault(10)).
		add(boolean("fold", "Folded in Kanban")).
		add(&fieldDef{name: "team_ids", typ: tMany2many, label: "Helpdesk Teams", relation: "helpdesk.team", mirror: "stage_ids"}).
		add(char("legend_blocked", "Red Kanban Label").withDefault("Blocked")).
		add(char("legend_done", "Green Kanban Label").withDefault("Ready")).
		add(char("legend_normal", "Grey Kanban Label").withDefault("In Progress")).
		add(boolean("active", "Active").withDefault(true))
	if version >= 19 {
		stage.add(integer("color", "Color")).add(integer("rotting_threshold_days", "Days to rot"))
	}
	ms[stage.name] = stage

	assign := [][2]string{{"randomly", "Each user is assigned an equal number of tickets"}, {"balanced", "Each user has an equal number of open tickets"}}
	if version >= 19 {
		assign = append(assign, [2]string{"tags", "Tickets are assigned based on tags"})
	}
	team := newModel("helpdesk.team", "Helpdesk Team", "sequence,id").
		add(char("name", "Helpdesk Team").req()).
		add(html("description", "About Team")).
		add(boolean("active", "Active").withDefault(true)).
		add(m2o("company_id", "Company", "res.company")).
		add(integer("sequence", "Sequence").withDefault(10)).
		add(integer("color", "Color Index")).
		add(m2m("member_ids", "Team Members", "res.users")).
		add(m2m("stage_ids", "Stages", "helpdesk.stage")).
		add(boolean("auto_assignment", "Automatic Assignment")).
		add(selection("assign_method", "Assignment Method", assign...).withDefault("randomly")).
		add(selection("privacy_visibility", "Visibility", [2]string{"invited_internal", "Invited internal users (private)"}, [2]string{"internal", "All internal users (company)"}, [2]string{"portal", "Invited portal users and all internal users (public)"}).withDefault("portal")).
		add(boolean("use_alias", "Email Alias").withDefault(true)).
		add(char("alias_name", "Alias Name")).
		add(boolean("use_sla", "SLA Policies").withDefault(true)).
		add(m2o("resource_calendar_id", "Working Hours", "resource.calendar")).
		add(boolean("use_rating", "Customer Ratings")).
		add(boolean("use_website_helpdesk_form", "Website Form")).
		add(boolean("use_website_helpdesk_knowledge", "Knowledge")).
		add(boolean("allow_portal_ticket_closing", "Closure by Customers")).
		add(boolean("auto_close_ticket", "Automatic Closing")).
		add(integer("auto_close_day", "Inactive Period(days)").withDefault(7)).
		add(m2o("to_stage_id", "Move to Stage", "helpdesk.stage"))
	ms[team.name] = team

	hoursType := tInteger
	if version >= 18 {
		hoursType = tFloat // assign_hours/close_hours became Float in 18.
	}
	ticket := newModel("helpdesk.ticket", "Helpdesk Ticket", "priority desc, id desc").
		add(char("name", "Subject").req()).
		add(html("description", "Description")).
		add(boolean("active", "Active").withDefault(true)).
		add(integer("color", "Color Index")).
		add(char("email_cc", "Email cc")).
		add(char("ticket_ref", "Ticket IDs Sequence").ro()).
		add(m2o("team_id", "Helpdesk Team", "helpdesk.team")).
		add(m2o("user_id", "Assigned to", "res.users")).
		add(m2o("partner_id", "Customer", "res.partner")).
		add(m2o("commercial_partner_id", "Commercial Entity", "res.partner").ro()).
		add(char("partner_name", "Customer Name")).
		add(char("partner_email", "Customer Email")).
		add(char("partner_phone", "Customer Phone")).
		add(m2o("company_id", "Company", "res.company").ro()).
		add(m2o("stage_id", "Stage", "helpdesk.stage")).
		add(kanbanState(version)).
		add(selection("priority", "Priority", priorityEE...).withDefault("0")).
		add(m2m("tag_ids", "Tags", "helpdesk.tag")).
		add(datetime("assign_date", "First assignment date").ro()).
		add(datetime("close_date", "Close date").ro()).
		add(datetime("date_last_stage_update", "Last Stage Update").ro()).
		add(&fieldDef{name: "assign_hours", typ: hoursType, label: "Time to first assignment (hours)", readonly: true}).
		add(&fieldDef{name: "close_hours", typ: hoursType, label: "Time to close (hours)", readonly: true}).
		add(boolean("closed_by_partner", "Closed by Partner").ro()).
		add(float("first_response_hours", "Hours to First Response").ro()).
		add(float("avg_response_hours", "Average Hours to Respond").ro()).
		add(m2m("sla_ids", "SLAs", "helpdesk.sla").ro()).
		add(o2m("sla_status_ids", "SLA Status", "helpdesk.sla.status", "ticket_id")).
		add(datetime("sla_deadline", "SLA Deadline").ro()).
		add(boolean("sla_reached", "Has SLA reached").ro()).
		add(boolean("sla_reached_late", "Has SLA reached late").ro()).
		add(o2m("message_ids", "Messages", "mail.message", "res_id"))
	if version <= 17 {
		ticket.add(m2o("ticket_type_id", "Type", "helpdesk.ticket.type"))
	}
	if version >= 17 {
		ticket.add(boolean("fold", "Folded in Kanban").ro())
	}
	ticket.displayName = func(s *store, r *record) string {
		name, _ := r.get(ticket, "name").(string)
		if ref, _ := r.get(ticket, "ticket_ref").(string); ref != "" {
			return fmt.Sprintf("%s (#%s)", name, ref)
		}
		return name
	}
	ms[ticket.name] = ticket

	sla := newModel("helpdesk.sla", "Helpdesk SLA Policies", "name").
		add(char("name", "SLA Policy Name").req()).
		add(html("description", "SLA Policy Description")).
		add(boolean("active", "Active").withDefault(true)).
		add(m2o("team_id", "Helpdesk Team", "helpdesk.team").req()).
		add(m2o("stage_id", "Reach Stage", "helpdesk.stage").req()).
		add(m2m("exclude_stage_ids", "Excluding Stages", "helpdesk.stage")).
		add(selection("priority", "Priority", priorityEE...).withDefault("0")).
		add(m2m("tag_ids", "Tags", "helpdesk.tag")).
		add(m2m("partner_ids", "Customers", "res.partner")).
		add(m2o("company_id", "Company", "res.company").ro()).
		add(float("time", "Within").req())
	if version <= 17 {
		sla.add(m2m("ticket_type_ids", "Ticket Types", "helpdesk.ticket.type"))
	}
	ms[sla.name] = sla

	status := newModel("helpdesk.sla.status", "Ticket SLA Status", "deadline ASC, sla_stage_id").
		add(m2o("ticket_id", "Ticket", "helpdesk.ticket").req()).
		add(m2o("sla_id", "SLA", "helpdesk.sla").req()).
		add(m2o("sla_stage_id", "SLA Stage", "helpdesk.stage").ro()).
		add(datetime("deadline", "Deadline").ro()).
		add(datetime("reached_datetime", "Reached Date")).
		add(selection("status", "Status", [2]string{"failed", "Failed"}, [2]string{"reached", "Reached"}, [2]string{"ongoing", "Ongoing"}).compute()).
		add(float("exceeded_hours", "Exceeded Working Hours").ro())
	status.recName = "sla_id"
	ms[status.name] = status
}

func addOCAHelpdesk(ms map[string]*modelDef, version int) {
	tag := newModel("helpdesk.ticket.tag", "Helpdesk Ticket Tag", "name").
		add(char("name", "Name").req()).
		add(integer("color", "Color Index")).
		add(boolean("active", "Active").withDefault(true)).
		add(m2o("company_id", "Company", "res.company"))
	ms[tag.name] = tag

	category := newModel("helpdesk.ticket.category", "Helpdesk Ticket Category", "sequence, id").
		add(char("name", "Name").req()).
		add(integer("sequence", "Sequence").withDefault(10)).
		add(boolean("active", "Active").withDefault(true)).
		add(m2o("company_id", "Company", "res.company"))
	ms[category.name] = category

	channel := newModel("helpdesk.ticket.channel", "Helpdesk Ticket Channel", "sequence, id").
		add(char("name", "Name").req()).
		add(integer("sequence", "Sequence").withDefault(10)).
		add(boolean("active", "Active").withDefault(true)).
		add(m2o("company_id", "Company", "res.company"))
	ms[channel.name] = channel

	team := newModel("helpdesk.ticket.team", "Helpdesk Ticket Team", "sequence, id").
		add(char("name", "Name").req()).
		add(integer("sequence", "Sequence").withDefault(10)).
		add(boolean("active", "Active").withDefault(true)).
		add(m2m("user_ids", "Members", "res.users")).
		add(m2o("user_id", "Team Leader", "res.users")).
		add(m2m("category_ids", "Category", "helpdesk.ticket.category")).
		add(char("alias_name", "Alias Name")).
		add(m2o("company_id", "Company", "res.company")).
		add(boolean("show_in_portal", "Show in portal form").withDefault(true)).
		add(integer("color", "Color Index"))
	ms[team.name] = team

	stage := newModel("helpdesk.ticket.stage", "Helpdesk Ticket Stage", "sequence, id").
		add(char("name", "Stage Name").req()).
		add(html("description", "Description")).
		add(integer("sequence", "Sequence").withDefault(1)).
		add(boolean("active", "Active").withDefault(true)).
		add(boolean("unattended", "Unattended")).
		add(boolean("closed", "Closed")).
		add(boolean("close_from_portal", "Close From Portal")).
		add(boolean("fold", "Folded in Kanban")).
		add(m2m("team_ids", "Helpdesk Teams", "helpdesk.ticket.team")).
		add(m2o("company_id", "Company", "res.company"))
	ms[stage.name] = stage

	ticket := newModel("helpdesk.ticket", "Helpdesk Ticket", "priority desc, sequence, number desc, id desc").
		add(char("number", "Ticket number").ro()).
		add(char("name", "Title").req()).
		add(html("description", "Description").req()).
		add(m2o("user_id", "Assigned user", "res.users")).
		add(m2o("stage_id", "Stage", "helpdesk.ticket.stage")).
		add(m2o("partner_id", "Contact", "res.partner")).
		add(char("partner_name", "Partner Name")).
		add(char("partner_email", "Email")).
		add(m2o("commercial_partner_id", "Commercial Entity", "res.partner").ro()).
		add(datetime("last_stage_update", "Last Stage Update").ro()).
		add(datetime("assigned_date", "Assigned Date").ro()).
		add(datetime("closed_date", "Closed Date").ro()).
		add(boolean("closed", "Closed").ro()).
		add(boolean("unattended", "Unattended").ro()).
		add(m2m("tag_ids", "Tags", "helpdesk.ticket.tag")).
		add(m2o("company_id", "Company", "res.company")).
		add(m2o("channel_id", "Channel", "helpdesk.ticket.channel")).
		add(m2o("category_id", "Category", "helpdesk.ticket.category")).
		add(m2o("team_id", "Team", "helpdesk.ticket.team")).
		add(selection("priority", "Priority", priorityOCA...).withDefault("1")).
		add(kanbanState(version)).
		add(integer("sequence", "Sequence").withDefault(10)).
		add(integer("color", "Color Index")).
		add(boolean("active", "Active").withDefault(true)).
		add(o2m("message_ids", "Messages", "mail.message", "res_id"))
	ticket.recName = "number"
	ticket.displayName = func(s *store, r *record) string {
		num, _ := r.get(ticket, "number").(string)
		name, _ := r.get(ticket, "name").(string)
		if num == "" {
			return name
		}
		return num + " - " + name
	}
	ms[ticket.name] = ticket
}

func partnerDisplayName(s *store, r *record) string {
	m := s.models["res.partner"]
	name, _ := r.get(m, "name").(string)
	if parent, _ := r.get(m, "parent_id").(int); parent != 0 {
		if p := s.tables["res.partner"].byID[parent]; p != nil {
			pn, _ := p.get(m, "name").(string)
			if name == "" {
				return pn
			}
			return pn + ", " + name
		}
	}
	return name
}
