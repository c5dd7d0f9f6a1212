package helpdesk

import (
	"context"
	"iter"
	"time"

	"github.com/dvsync/dvsync/odoo"
)

// wantedFields lists, per model, every field the readers use in either
// flavour and any version; Reader.Fields narrows it per server.
var wantedFields = map[string][]string{
	"helpdesk.ticket": {"name", "description", "active", "ticket_ref", "number", "team_id", "stage_id", "user_id",
		"partner_id", "commercial_partner_id", "partner_name", "partner_email", "partner_phone", "company_id",
		"priority", "kanban_state", "tag_ids", "ticket_type_id", "category_id", "channel_id", "fold", "closed",
		"assign_date", "assigned_date", "close_date", "closed_date", "date_last_stage_update", "last_stage_update",
		"assign_hours", "close_hours", "sla_ids", "sla_status_ids", "sla_deadline", "sla_reached", "sla_reached_late",
		"email_cc", "create_date", "write_date"},
	"helpdesk.team": {"name", "description", "active", "company_id", "sequence", "member_ids", "stage_ids",
		"privacy_visibility", "use_sla", "resource_calendar_id", "alias_name", "assign_method", "auto_assignment",
		"website_article_id", "create_date", "write_date"},
	"helpdesk.ticket.team": {"name", "active", "company_id", "sequence", "user_ids", "user_id", "category_ids",
		"alias_name", "show_in_portal", "create_date", "write_date"},
	"helpdesk.stage": {"name", "description", "sequence", "fold", "team_ids", "active", "create_date", "write_date"},
	"helpdesk.ticket.stage": {"name", "description", "sequence", "fold", "closed", "unattended", "team_ids",
		"active", "company_id", "create_date", "write_date"},
	"helpdesk.tag":             {"name", "color", "create_date", "write_date"},
	"helpdesk.ticket.tag":      {"name", "color", "active", "create_date", "write_date"},
	"helpdesk.ticket.type":     {"name", "sequence", "create_date", "write_date"},
	"helpdesk.ticket.category": {"name", "sequence", "active", "create_date", "write_date"},
	"helpdesk.ticket.channel":  {"name", "sequence", "active", "create_date", "write_date"},
	"helpdesk.sla": {"name", "description", "active", "team_id", "stage_id", "exclude_stage_ids", "priority",
		"tag_ids", "partner_ids", "ticket_type_ids", "company_id", "time", "create_date", "write_date"},
	"helpdesk.sla.status": {"ticket_id", "sla_id", "sla_stage_id", "deadline", "reached_datetime", "status",
		"exceeded_hours", "create_date", "write_date"},
	"res.partner": {"name", "email", "phone", "mobile", "is_company", "parent_id", "commercial_partner_id", "type",
		"company_id", "lang", "tz", "active", "create_date", "write_date"},
	"res.users": {"name", "login", "email", "partner_id", "company_id", "tz", "lang", "share", "active",
		"create_date", "write_date"},
	"mail.message": {"model", "res_id", "date", "subject", "body", "author_id", "email_from", "message_type",
		"subtype_id", "is_internal", "partner_ids", "parent_id", "message_id", "create_date", "write_date"},
	"knowledge.article": {"name", "body", "icon", "parent_id", "sequence", "category", "internal_permission",
		"is_published", "website_url", "is_article_item", "is_template", "to_delete", "active", "last_edition_date",
		"create_date", "write_date"},
	"resource.calendar": {"name", "tz", "hours_per_day", "attendance_ids", "company_id", "active", "create_date", "write_date"},
	"resource.calendar.attendance": {"name", "calendar_id", "dayofweek", "hour_from", "hour_to", "day_period",
		"create_date", "write_date"},
}

// decoder accumulates the first decoding error so that typed readers stay
// linear; a malformed value fails the record instead of becoming a zero.
type decoder struct {
	r   odoo.Record
	err error
}

func (d *decoder) keep(err error) {
	if d.err == nil {
		d.err = err
	}
}
func (d *decoder) str(f string) string        { v, err := d.r.String(f); d.keep(err); return v }
func (d *decoder) num(f string) int           { v, err := d.r.Int(f); d.keep(err); return v }
func (d *decoder) flt(f string) float64       { v, err := d.r.Float(f); d.keep(err); return v }
func (d *decoder) b(f string) bool            { v, err := d.r.Bool(f); d.keep(err); return v }
func (d *decoder) m2o(f string) odoo.Many2One { v, err := d.r.Many2One(f); d.keep(err); return v }
func (d *decoder) ids(f string) []int         { v, err := d.r.IDs(f); d.keep(err); return v }
func (d *decoder) t(f string) time.Time       { v, err := d.r.Time(f); d.keep(err); return v }

// active is true when the model has no active field.
func (d *decoder) active() bool {
	if !d.r.Has("active") {
		return true
	}
	return d.b("active")
}

func (d *decoder) firstTime(fields ...string) time.Time {
	for _, f := range fields {
		if d.r.Has(f) {
			return d.t(f)
		}
	}
	return time.Time{}
}

// Ticket is a helpdesk ticket in either flavour.
type Ticket struct {
	ID int
	// Number is Enterprise ticket_ref ("42") or OCA number ("HT00042").
	Number      string
	Name        string
	Description string // HTML
	Active      bool
	Team        odoo.Many2One
	Stage       odoo.Many2One
	// Closed: Enterprise treats a folded stage as closed, OCA has a closed
	// flag on the stage.
	Closed            bool
	User              odoo.Many2One
	Partner           odoo.Many2One
	CommercialPartner odoo.Many2One
	PartnerName       string
	PartnerEmail      string
	PartnerPhone      string // Enterprise only
	Company           odoo.Many2One
	// Priority is the key '0'..'3'; see PriorityLabel for the flavour's label.
	Priority    string
	KanbanState string
	Tags        []int
	TicketType  odoo.Many2One // Enterprise 16/17 only
	Category    odoo.Many2One // OCA only
	Channel     odoo.Many2One // OCA only
	EmailCC     string
	// Dates are UTC. AssignDate/CloseDate/LastStageUpdate map Enterprise
	// assign_date/close_date/date_last_stage_update and OCA
	// assigned_date/closed_date/last_stage_update.
	CreateDate, WriteDate, AssignDate, CloseDate, LastStageUpdate time.Time
	AssignHours, CloseHours                                       float64 // Enterprise; working hours
	SLAs                                                          []int
	SLAStatuses                                                   []int
	SLADeadline                                                   time.Time
	SLAReached, SLAReachedLate                                    bool
	Flavour                                                       Flavour
	Raw                                                           odoo.Record
}

// PriorityLabel is the label Odoo shows for a priority key: Enterprise says
// Low/Medium/High priority and Urgent; OCA says Low/Medium/High/Very High.
func PriorityLabel(f Flavour, key string) string {
	labels := map[string]string{"0": "Low priority", "1": "Medium priority", "2": "High priority", "3": "Urgent"}
	if f == OCA {
		labels = map[string]string{"0": "Low", "1": "Medium", "2": "High", "3": "Very High"}
	}
	return labels[key]
}

// DefaultPriority is the key a new ticket gets: '0' on Enterprise, '1' on OCA.
func DefaultPriority(f Flavour) string {
	if f == OCA {
		return "1"
	}
	return "0"
}

// Tickets streams tickets (keyset on id, or on write_date with q.Since).
func (r *Reader) Tickets(ctx context.Context, q Query) iter.Seq2[Ticket, error] {
	return func(yield func(Ticket, error) bool) {
		// Enterprise 16 has no related ticket.fold: look the stage up.
		closedStages := map[int]bool{}
		if r.Flavour == Enterprise && r.Version < 17 {
			stages, err := r.Stages(ctx)
			if err != nil {
				yield(Ticket{}, err)
				return
			}
			for _, s := range stages {
				closedStages[s.ID] = s.Closed
			}
		}
		for t, err := range stream(ctx, r, r.Models.Ticket, "tickets", q, r.decodeTicket) {
			if err == nil && r.Flavour == Enterprise && !t.Raw.Has("fold") {
				t.Closed = closedStages[t.Stage.ID]
			}
			if !yield(t, err) || err != nil {
				return
			}
		}
	}
}

func (r *Reader) decodeTicket(d *decoder) Ticket {
	t := Ticket{
		ID: d.r.ID(), Name: d.str("name"), Description: d.str("description"), Active: d.active(),
		Team: d.m2o("team_id"), Stage: d.m2o("stage_id"), User: d.m2o("user_id"), Partner: d.m2o("partner_id"),
		CommercialPartner: d.m2o("commercial_partner_id"), PartnerName: d.str("partner_name"),
		PartnerEmail: d.str("partner_email"), PartnerPhone: d.str("partner_phone"), Company: d.m2o("company_id"),
		Priority: d.str("priority"), KanbanState: d.str("kanban_state"), Tags: d.ids("tag_ids"),
		TicketType: d.m2o("ticket_type_id"), Category: d.m2o("category_id"), Channel: d.m2o("channel_id"),
		EmailCC: d.str("email_cc"), CreateDate: d.t("create_date"), WriteDate: d.t("write_date"),
		AssignDate:      d.firstTime("assign_date", "assigned_date"),
		CloseDate:       d.firstTime("close_date", "closed_date"),
		LastStageUpdate: d.firstTime("date_last_stage_update", "last_stage_update"),
		AssignHours:     d.flt("assign_hours"), CloseHours: d.flt("close_hours"),
		SLAs: d.ids("sla_ids"), SLAStatuses: d.ids("sla_status_ids"), SLADeadline: d.t("sla_deadline"),
		SLAReached: d.b("sla_reached"), SLAReachedLate: d.b("sla_reached_late"),
		Flavour: r.Flavour, Raw: d.r,
	}
	if r.Flavour == OCA {
		t.Number = d.str("number")
		t.Closed = d.b("closed")
	} else {
		t.Number = d.str("ticket_ref")
		t.Closed = d.b("fold")
	}
	return t
}

// Team is a helpdesk team.
type Team struct {
	ID          int
	Name        string
	Description string // HTML, Enterprise
	Active      bool
	Company     odoo.Many2One
	Sequence    int
	// Members: Enterprise member_ids, OCA user_ids.
	Members []int
	// Stages: Enterprise stage_ids; on OCA the link lives on the stage
	// (Stage.Teams) and this is nil.
	Stages         []int
	Leader         odoo.Many2One // OCA user_id
	Calendar       odoo.Many2One // Enterprise resource_calendar_id (SLA working hours)
	UseSLA         bool
	Visibility     string // Enterprise privacy_visibility
	AliasName      string
	HelpCenterRoot odoo.Many2One // Enterprise website_article_id (knowledge)
	Flavour        Flavour
	Raw            odoo.Record
}

// Teams reads every team, archived ones included.
func (r *Reader) Teams(ctx context.Context) ([]Team, error) {
	return collect(stream(ctx, r, r.Models.Team, "teams", Query{Archived: true}, func(d *decoder) Team {
		members := d.ids("member_ids")
		if d.r.Has("user_ids") {
			members = d.ids("user_ids")
		}
		return Team{ID: d.r.ID(), Name: d.str("name"), Description: d.str("description"), Active: d.active(),
			Company: d.m2o("company_id"), Sequence: d.num("sequence"), Members: members, Stages: d.ids("stage_ids"),
			Leader: d.m2o("user_id"), Calendar: d.m2o("resource_calendar_id"), UseSLA: d.b("use_sla"),
			Visibility: d.str("privacy_visibility"), AliasName: d.str("alias_name"),
			HelpCenterRoot: d.m2o("website_article_id"), Flavour: r.Flavour, Raw: d.r}
	}))
}

// Stage is a ticket stage.
type Stage struct {
	ID       int
	Name     string
	Sequence int
	// Closed: Enterprise fold, OCA closed.
	Closed     bool
	Fold       bool
	Unattended bool // OCA
	Teams      []int
	Active     bool
	Flavour    Flavour
	Raw        odoo.Record
}

// Stages reads every stage, archived ones included.
func (r *Reader) Stages(ctx context.Context) ([]Stage, error) {
	return collect(stream(ctx, r, r.Models.Stage, "stages", Query{Archived: true}, func(d *decoder) Stage {
		s := Stage{ID: d.r.ID(), Name: d.str("name"), Sequence: d.num("sequence"), Fold: d.b("fold"),
			Unattended: d.b("unattended"), Teams: d.ids("team_ids"), Active: d.active(), Flavour: r.Flavour, Raw: d.r}
		s.Closed = s.Fold
		if r.Flavour == OCA {
			s.Closed = d.b("closed")
		}
		return s
	}))
}

// Tag is a ticket tag.
type Tag struct {
	ID    int
	Name  string
	Color int
	Raw   odoo.Record
}

// Tags reads every tag.
func (r *Reader) Tags(ctx context.Context) ([]Tag, error) {
	return collect(stream(ctx, r, r.Models.Tag, "tags", Query{Archived: true}, func(d *decoder) Tag {
		return Tag{ID: d.r.ID(), Name: d.str("name"), Color: d.num("color"), Raw: d.r}
	}))
}

// Classifier is a ticket type (Enterprise 16/17), category or channel (OCA).
type Classifier struct {
	ID       int
	Name     string
	Sequence int
	Raw      odoo.Record
}

func (r *Reader) classifiers(ctx context.Context, model, concept string) ([]Classifier, error) {
	return collect(stream(ctx, r, model, concept, Query{Archived: true}, func(d *decoder) Classifier {
		return Classifier{ID: d.r.ID(), Name: d.str("name"), Sequence: d.num("sequence"), Raw: d.r}
	}))
}

// TicketTypes reads ticket types; ErrNotInstalled on 18+ and on OCA.
func (r *Reader) TicketTypes(ctx context.Context) ([]Classifier, error) {
	return r.classifiers(ctx, r.Models.TicketType, "ticket types")
}

// Categories reads OCA ticket categories; ErrNotInstalled on Enterprise.
func (r *Reader) Categories(ctx context.Context) ([]Classifier, error) {
	return r.classifiers(ctx, r.Models.Category, "ticket categories")
}

// Channels reads OCA ticket channels; ErrNotInstalled on Enterprise.
func (r *Reader) Channels(ctx context.Context) ([]Classifier, error) {
	return r.classifiers(ctx, r.Models.Channel, "ticket channels")
}

// SLAPolicy is an Enterprise helpdesk.sla.
type SLAPolicy struct {
	ID            int
	Name          string
	Active        bool
	Team          odoo.Many2One
	ReachStage    odoo.Many2One
	ExcludeStages []int
	Priority      string
	Tags          []int
	Partners      []int
	TicketTypes   []int // 16/17
	// Hours is working time from creation to ReachStage, on the team's
	// calendar.
	Hours float64
	Raw   odoo.Record
}

// SLAPolicies reads SLA policies; ErrNotInstalled on OCA (helpdesk_mgmt_sla
// is a separate add-on with another model).
func (r *Reader) SLAPolicies(ctx context.Context) ([]SLAPolicy, error) {
	return collect(stream(ctx, r, r.Models.SLA, "SLA policies", Query{Archived: true}, func(d *decoder) SLAPolicy {
		return SLAPolicy{ID: d.r.ID(), Name: d.str("name"), Active: d.active(), Team: d.m2o("team_id"),
			ReachStage: d.m2o("stage_id"), ExcludeStages: d.ids("exclude_stage_ids"), Priority: d.str("priority"),
			Tags: d.ids("tag_ids"), Partners: d.ids("partner_ids"), TicketTypes: d.ids("ticket_type_ids"),
			Hours: d.flt("time"), Raw: d.r}
	}))
}

// SLAStatus is one ticket's progress against one policy.
type SLAStatus struct {
	ID            int
	Ticket        odoo.Many2One
	SLA           odoo.Many2One
	Stage         odoo.Many2One
	Deadline      time.Time
	Reached       time.Time
	Status        string // reached, failed, ongoing
	ExceededHours float64
	Raw           odoo.Record
}

// SLAStatuses streams SLA statuses; ErrNotInstalled on OCA.
func (r *Reader) SLAStatuses(ctx context.Context, q Query) iter.Seq2[SLAStatus, error] {
	return stream(ctx, r, r.Models.SLAStatus, "SLA statuses", q, func(d *decoder) SLAStatus {
		return SLAStatus{ID: d.r.ID(), Ticket: d.m2o("ticket_id"), SLA: d.m2o("sla_id"), Stage: d.m2o("sla_stage_id"),
			Deadline: d.t("deadline"), Reached: d.t("reached_datetime"), Status: d.str("status"),
			ExceededHours: d.flt("exceeded_hours"), Raw: d.r}
	})
}

// Partner is a res.partner (customer company or contact).
type Partner struct {
	ID                int
	Name              string
	Email, Phone      string
	IsCompany         bool
	Parent            odoo.Many2One
	CommercialPartner odoo.Many2One
	Type              string
	Active            bool
	Raw               odoo.Record
}

// Partners streams partners.
func (r *Reader) Partners(ctx context.Context, q Query) iter.Seq2[Partner, error] {
	return stream(ctx, r, r.Models.Partner, "partners", q, func(d *decoder) Partner {
		return Partner{ID: d.r.ID(), Name: d.str("name"), Email: d.str("email"), Phone: d.str("phone"),
			IsCompany: d.b("is_company"), Parent: d.m2o("parent_id"), CommercialPartner: d.m2o("commercial_partner_id"),
			Type: d.str("type"), Active: d.active(), Raw: d.r}
	})
}

// User is a res.users (agent).
type User struct {
	ID      int
	Name    string
	Login   string
	Email   string
	Partner odoo.Many2One
	Active  bool
	Raw     odoo.Record
}

// Users streams users.
func (r *Reader) Users(ctx context.Context, q Query) iter.Seq2[User, error] {
	return stream(ctx, r, r.Models.User, "users", q, func(d *decoder) User {
		return User{ID: d.r.ID(), Name: d.str("name"), Login: d.str("login"), Email: d.str("email"),
			Partner: d.m2o("partner_id"), Active: d.active(), Raw: d.r}
	})
}

// Message is one chatter message of a ticket.
type Message struct {
	ID          int
	TicketID    int
	Date        time.Time
	Subject     string
	Body        string // HTML
	Author      odoo.Many2One
	EmailFrom   string
	MessageType string // email, comment, notification, … (email_outgoing from 17)
	Subtype     odoo.Many2One
	// Internal: a note (mail.mt_note) rather than a public reply.
	Internal bool
	Partners []int
	Parent   odoo.Many2One
	Raw      odoo.Record
}

// TicketMessages streams the messages of every ticket (or of tickets
// matching q.Domain on mail.message, e.g. res_id in [...]), in id order.
func (r *Reader) TicketMessages(ctx context.Context, q Query) iter.Seq2[Message, error] {
	q.Domain = odoo.And(odoo.Cond("model", odoo.Eq, r.Models.Ticket), q.Domain)
	return stream(ctx, r, r.Models.Message, "messages", q, func(d *decoder) Message {
		return Message{ID: d.r.ID(), TicketID: d.num("res_id"), Date: d.t("date"), Subject: d.str("subject"),
			Body: d.str("body"), Author: d.m2o("author_id"), EmailFrom: d.str("email_from"),
			MessageType: d.str("message_type"), Subtype: d.m2o("subtype_id"), Internal: d.b("is_internal"),
			Partners: d.ids("partner_ids"), Parent: d.m2o("parent_id"), Raw: d.r}
	})
}

// Article is a knowledge.article (Enterprise Knowledge app).
type Article struct {
	ID          int
	Name        string
	Body        string // HTML
	Parent      odoo.Many2One
	Sequence    int
	Category    string // workspace, private, shared
	Published   bool
	Active      bool
	LastEdition time.Time
	Raw         odoo.Record
}

// Articles streams knowledge articles; ErrNotInstalled without Knowledge.
func (r *Reader) Articles(ctx context.Context, q Query) iter.Seq2[Article, error] {
	return stream(ctx, r, r.Models.Article, "knowledge articles", q, func(d *decoder) Article {
		return Article{ID: d.r.ID(), Name: d.str("name"), Body: d.str("body"), Parent: d.m2o("parent_id"),
			Sequence: d.num("sequence"), Category: d.str("category"), Published: d.b("is_published"),
			Active: d.active(), LastEdition: d.t("last_edition_date"), Raw: d.r}
	})
}

// Calendar is a resource.calendar: the working hours SLA deadlines count in.
type Calendar struct {
	ID          int
	Name        string
	TZ          string
	HoursPerDay float64
	Attendances []Attendance
	Raw         odoo.Record
}

// Attendance is one weekly working interval. DayOfWeek is Odoo's key,
// "0" = Monday … "6" = Sunday; hours are local to the calendar's TZ.
type Attendance struct {
	ID        int
	DayOfWeek string
	HourFrom  float64
	HourTo    float64
	DayPeriod string
}

// Calendars reads the working-hour calendars with their attendances.
func (r *Reader) Calendars(ctx context.Context) ([]Calendar, error) {
	cals, err := collect(stream(ctx, r, r.Models.Calendar, "working-hour calendars", Query{Archived: true}, func(d *decoder) Calendar {
		return Calendar{ID: d.r.ID(), Name: d.str("name"), TZ: d.str("tz"), HoursPerDay: d.flt("hours_per_day"), Raw: d.r}
	}))
	if err != nil {
		return nil, err
	}
	byCal := map[int][]Attendance{}
	for a, err := range stream(ctx, r, r.Models.CalendarAttendance, "calendar attendances", Query{}, func(d *decoder) struct {
		cal int
		a   Attendance
	} {
		return struct {
			cal int
			a   Attendance
		}{d.m2o("calendar_id").ID, Attendance{ID: d.r.ID(), DayOfWeek: d.str("dayofweek"), HourFrom: d.flt("hour_from"), HourTo: d.flt("hour_to"), DayPeriod: d.str("day_period")}}
	}) {
		if err != nil {
			return nil, err
		}
		byCal[a.cal] = append(byCal[a.cal], a.a)
	}
	for i := range cals {
		cals[i].Attendances = byCal[cals[i].ID]
	}
	return cals, nil
}
