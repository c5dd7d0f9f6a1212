// Package canonical is the one model of a service desk that `dvsync
// compare` speaks: an Odoo helpdesk ticket and a Dataverse case become the
// same Ticket, read through the migration's own map file (mapping/odoodv
// Map), so that an Odoo stage "Solved" and a case in statecode 1 /
// statuscode 5 are the same status, and a partner's custom map is honoured.
//
// The package is pure: records in, canonical tickets and comparable values
// out. Normalisation is explicit, configured in the map file's compare
// section (time zone and precision, HTML or text descriptions, the
// migration's description footer, white space, cut texts, e-mail case,
// choice labels or values), and every rule is one function here.
package canonical

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dvsync/dvsync/dataverse/schema"
	"github.com/dvsync/dvsync/mapping/odoodv"
	"github.com/dvsync/dvsync/odoo/helpdesk"
)

// Ticket is a helpdesk ticket or a Dataverse case in the canonical model.
// Choice-like values (State, Status, Priority, Channel) are already in the
// Dataverse vocabulary the map file translates into; Team, Stage,
// Customer and ChannelName keep the system's own names for the reports.
type Ticket struct {
	// SourceID is the Odoo ticket id or the Dataverse incidentid.
	SourceID string
	// Number is the case number: Dataverse ticketnumber, or the Odoo
	// reference expanded through tickets.number.
	Number        string
	Title         string
	Description   string
	CustomerEmail string
	Customer      string
	Team          string
	Stage         string
	// State is active, resolved or cancelled.
	State string
	// StatusCode, PriorityCode and ChannelCode are incident option values
	// (0 when unset).
	StatusCode, PriorityCode, ChannelCode int
	ChannelName                           string
	Created, Closed, ResolveBy            time.Time
}

// Open reports whether the ticket is still being worked on.
func (t Ticket) Open() bool { return t.State == odoodv.StateActive }

// Comparable fields.
const (
	FieldTitle         = "title"
	FieldDescription   = "description"
	FieldCustomerEmail = "customer_email"
	FieldState         = "state"
	FieldStatus        = "status"
	FieldPriority      = "priority"
	FieldChannel       = "channel"
	FieldCreated       = "created"
	FieldResolveBy     = "resolve_by"
	// FieldClosed is when a resolved ticket was resolved: Odoo close_date
	// (else the last stage change), the case resolution's actualend.
	FieldClosed = "closed"
)

// AllFields lists every comparable field in report order.
var AllFields = []string{FieldTitle, FieldDescription, FieldCustomerEmail, FieldState, FieldStatus, FieldPriority,
	FieldChannel, FieldCreated, FieldClosed, FieldResolveBy}

// Rules are the normalisation rules of a map file's compare section.
type Rules struct {
	Location             *time.Location
	Precision            time.Duration
	DescriptionAsText    bool
	StripMigrationFooter bool
	TrimSpace            bool
	TruncatedPrefix      bool
	CaseInsensitiveEmail bool
	ChoiceLabels         bool
	Fields               []string
}

// ParseRules checks a compare section and returns its rules; errors name
// the map key at fault.
func ParseRules(c odoodv.CompareMap) (Rules, error) {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("compare."+format, a...)) }
	r := Rules{StripMigrationFooter: c.StripMigrationFooter, TrimSpace: c.TrimSpace, TruncatedPrefix: c.TruncatedPrefix,
		CaseInsensitiveEmail: c.CaseInsensitiveEmail}
	var err error
	if r.Location, err = time.LoadLocation(c.TimeZone); err != nil || c.TimeZone == "" {
		bad("time_zone %q: want an IANA zone name such as UTC or Europe/Oslo", c.TimeZone)
	}
	if r.Precision, err = time.ParseDuration(c.TimePrecision); err != nil || r.Precision <= 0 {
		bad("time_precision %q: want a positive duration such as 1s or 1m", c.TimePrecision)
	}
	switch c.Description {
	case "text":
		r.DescriptionAsText = true
	case "html":
	default:
		bad("description %q: want text or html", c.Description)
	}
	switch c.Choices {
	case "label":
		r.ChoiceLabels = true
	case "value":
	default:
		bad("choices %q: want label or value", c.Choices)
	}
	for _, f := range c.Fields {
		if !slices.Contains(AllFields, f) {
			bad("fields: %q is not a comparable field (%s)", f, strings.Join(AllFields, ", "))
		} else if !slices.Contains(r.Fields, f) {
			r.Fields = append(r.Fields, f)
		}
	}
	if len(c.Fields) == 0 {
		bad("fields is empty: name at least one of %s", strings.Join(AllFields, ", "))
	}
	if len(errs) > 0 {
		return Rules{}, &odoodv.MapError{Err: errors.Join(errs...)}
	}
	return r, nil
}

// Model turns Odoo tickets and Dataverse cases into canonical tickets with
// one map file.
type Model struct {
	m      *odoodv.Map
	mapper *odoodv.Mapper
	rules  Rules
	inc    *schema.Table
}

// New returns the model of map m (nil: the default map).
func New(m *odoodv.Map) (*Model, error) {
	if m == nil {
		m = odoodv.DefaultMap()
	}
	rules, err := ParseRules(m.Compare)
	if err != nil {
		return nil, err
	}
	// The mapper is used only for its pure rules (stages, priorities);
	// the database name salts IDs, which compare never derives.
	mp, err := odoodv.New(m, odoodv.Context{Database: "compare"})
	if err != nil {
		return nil, err
	}
	inc, ok := schema.Default().Table("incident")
	if !ok {
		return nil, errors.New("canonical: the incident table is not defined")
	}
	return &Model{m: m, mapper: mp, rules: rules, inc: inc}, nil
}

// Map is the map file the model reads.
func (md *Model) Map() *odoodv.Map { return md.m }

// Rules are the model's normalisation rules.
func (md *Model) Rules() Rules { return md.rules }

// Number is the case number the migration gives a ticket (tickets.number).
func (md *Model) Number(t helpdesk.Ticket) string {
	ref := t.Number
	if ref == "" {
		ref = strconv.Itoa(t.ID)
	}
	return strings.NewReplacer("{ref}", ref, "{id}", strconv.Itoa(t.ID)).Replace(md.m.Tickets.Number)
}

// FromOdoo is the canonical ticket of an Odoo ticket.
func (md *Model) FromOdoo(t helpdesk.Ticket) Ticket {
	st := md.mapper.CaseState(helpdesk.Stage{ID: t.Stage.ID, Name: t.Stage.Name, Closed: t.Closed})
	c := Ticket{
		SourceID: strconv.Itoa(t.ID), Number: md.Number(t), Title: t.Name, Description: t.Description,
		CustomerEmail: t.PartnerEmail, Customer: t.CommercialPartner.Name, Team: md.OdooQueueName(t.Team.ID, t.Team.Name), Stage: t.Stage.Name,
		State: st.State, StatusCode: st.Status, ChannelName: t.Channel.Name,
		Created: t.CreateDate, ResolveBy: t.SLADeadline,
	}
	// The case's customer is the company's account (tickets.customer
	// account) or the person's contact (contact), as the migration binds it.
	if c.Customer == "" || md.m.Tickets.Customer == odoodv.CustomerContact {
		c.Customer = t.PartnerName
	}
	if strings.TrimSpace(c.Title) == "" {
		ref := t.Number
		if ref == "" {
			ref = strconv.Itoa(t.ID)
		}
		c.Title = "Odoo ticket " + ref
	}
	c.PriorityCode, _ = md.mapper.Priority(t.Priority)
	if t.Channel.Valid() {
		// A channel the map does not carry is no channel on the case.
		c.ChannelCode = md.m.Tickets.Origins[strings.ToLower(t.Channel.Name)]
	}
	if st.State != odoodv.StateActive {
		c.Closed = t.CloseDate
		if c.Closed.IsZero() {
			c.Closed = t.LastStageUpdate
		}
	}
	if md.rules.DescriptionAsText {
		c.Description = odoodv.HTMLToText(c.Description)
	}
	return c
}

// DataverseColumns are the incident columns FromDataverse reads.
var DataverseColumns = []string{"incidentid", "ticketnumber", "title", "description", "emailaddress", "statecode",
	"statuscode", "prioritycode", "caseorigincode", "createdon", "resolveby", "_customerid_value"}

// FromDataverse is the canonical ticket of an incident as the Web API
// returns it (with FormattedValue annotations for the customer's name).
// Resolution times are not incident columns; Closed stays zero.
func (md *Model) FromDataverse(r map[string]any) (Ticket, error) {
	s := func(col string) string {
		switch v := r[col].(type) {
		case nil:
			return ""
		case string:
			return v
		case json.Number:
			return v.String()
		default:
			return fmt.Sprint(v)
		}
	}
	num := func(col string) (int, error) {
		v := s(col)
		if v == "" {
			return 0, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, fmt.Errorf("incident %s: %s %q is not an option value", s("incidentid"), col, v)
		}
		return n, nil
	}
	tm := func(col string) (time.Time, error) {
		v := s(col)
		if v == "" {
			return time.Time{}, nil
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return time.Time{}, fmt.Errorf("incident %s: %s %q is not a date and time", s("incidentid"), col, v)
		}
		return t.UTC(), nil
	}
	c := Ticket{SourceID: s("incidentid"), Number: s("ticketnumber"), Title: s("title"), Description: s("description"),
		CustomerEmail: s("emailaddress"), Customer: s("_customerid_value@OData.Community.Display.V1.FormattedValue")}
	var errs [6]error
	var state int
	state, errs[0] = num("statecode")
	c.StatusCode, errs[1] = num("statuscode")
	c.PriorityCode, errs[2] = num("prioritycode")
	c.ChannelCode, errs[3] = num("caseorigincode")
	c.Created, errs[4] = tm("createdon")
	c.ResolveBy, errs[5] = tm("resolveby")
	if err := errors.Join(errs[:]...); err != nil {
		return Ticket{}, err
	}
	c.State = []string{odoodv.StateActive, odoodv.StateResolved, odoodv.StateCancelled}[min(max(state, 0), 2)]
	c.Stage = md.label("statuscode", c.StatusCode)
	return c, nil
}

// label is the incident option label of a value ("" for 0 or unknown).
func (md *Model) label(col string, v int) string {
	if v == 0 && col != "statecode" {
		return ""
	}
	c, ok := md.inc.Column(col)
	if !ok {
		return ""
	}
	o, ok := c.OptionByValue(v)
	if !ok {
		return strconv.Itoa(v)
	}
	return o.Label
}

// StatusLabel, PriorityLabel and ChannelLabel are the Dataverse labels of
// a canonical ticket's choices, for reports.
func (md *Model) StatusLabel(t Ticket) string   { return md.label("statuscode", t.StatusCode) }
func (md *Model) PriorityLabel(t Ticket) string { return md.label("prioritycode", t.PriorityCode) }
func (md *Model) ChannelLabel(t Ticket) string  { return md.label("caseorigincode", t.ChannelCode) }

// OdooStageStatus is the case status label an Odoo stage becomes, and
// OdooPriorityLabel and OdooChannelLabel the case labels of an Odoo
// priority key and channel name ("" when the map does not carry it): the
// labels server-side Odoo groups are counted under, so they line up with
// the Dataverse side.
func (md *Model) OdooStageStatus(name string, closed bool) string {
	return md.label("statuscode", md.mapper.CaseState(helpdesk.Stage{Name: name, Closed: closed}).Status)
}

func (md *Model) OdooPriorityLabel(key string) string {
	v, _ := md.mapper.Priority(key)
	return md.label("prioritycode", v)
}

func (md *Model) OdooChannelLabel(name string) string {
	return md.label("caseorigincode", md.m.Tickets.Origins[strings.ToLower(name)])
}

// ChoiceLabel is the incident option label of a value of col
// (statuscode, prioritycode, caseorigincode).
func (md *Model) ChoiceLabel(col string, v int) string { return md.label(col, v) }

// OdooQueueName is the name of the queue a team became (teams.queue_name),
// so tickets by team and cases by queue line up ("" for no team).
func (md *Model) OdooQueueName(id int, name string) string {
	if id == 0 && name == "" {
		return ""
	}
	return strings.NewReplacer("{name}", name, "{id}", strconv.Itoa(id)).Replace(md.m.Teams.QueueName)
}
