package odoodv

import (
	"errors"
	"fmt"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/odoo"
	"github.com/dvsync/dvsync/odoo/helpdesk"
)

// Context is what the mapping needs to know beyond the record at hand: the
// small reference tables, read once before a run.
type Context struct {
	// Database names the Odoo database; it salts every deterministic ID so
	// two databases migrated into one environment do not collide.
	Database string
	Stages   []helpdesk.Stage
	Tags     []helpdesk.Tag
	Teams    []helpdesk.Team
	Users    []helpdesk.User
	SLAs     []helpdesk.SLAPolicy
	// Articles is the knowledge tree (id → name and parent), for the
	// keywords that keep an article's place in it.
	Articles map[int]ArticleNode
}

// ArticleNode is an article's place in the knowledge tree.
type ArticleNode struct {
	Name   string
	Parent int
}

// Mapper translates Odoo helpdesk records with one mapping file.
type Mapper struct {
	m            *Map
	db           string
	stages       map[int]helpdesk.Stage
	tags         map[int]helpdesk.Tag
	teams        map[int]helpdesk.Team
	users        map[int]helpdesk.User
	userPartners map[int]bool
	slas         map[int]helpdesk.SLAPolicy
	articles     map[int]ArticleNode
}

// New returns a Mapper; m nil means DefaultMap.
func New(m *Map, c Context) (*Mapper, error) {
	if m == nil {
		m = DefaultMap()
	}
	if c.Database == "" {
		return nil, errors.New("odoodv: Context.Database is empty: it keys every target ID")
	}
	mp := &Mapper{m: m, db: c.Database, stages: map[int]helpdesk.Stage{}, tags: map[int]helpdesk.Tag{},
		teams: map[int]helpdesk.Team{}, users: map[int]helpdesk.User{}, userPartners: map[int]bool{},
		slas: map[int]helpdesk.SLAPolicy{}, articles: c.Articles}
	for _, s := range c.Stages {
		mp.stages[s.ID] = s
	}
	for _, t := range c.Tags {
		mp.tags[t.ID] = t
	}
	for _, t := range c.Teams {
		mp.teams[t.ID] = t
	}
	for _, u := range c.Users {
		mp.users[u.ID] = u
		if u.Partner.Valid() {
			mp.userPartners[u.Partner.ID] = true
		}
	}
	for _, s := range c.SLAs {
		mp.slas[s.ID] = s
	}
	return mp, nil
}

// Map is the mapping file in use.
func (mp *Mapper) Map() *Map { return mp.m }

func (mp *Mapper) id(model string, id int) uuid.UUID { return ID(mp.m.IDSalt, mp.db, model, id) }

// IncidentID is the deterministic ID of the case migrated from a ticket.
func (mp *Mapper) IncidentID(ticketID int) uuid.UUID { return mp.id(modelTicket, ticketID) }

// AccountID and ContactID are the IDs of a migrated partner.
func (mp *Mapper) AccountID(partnerID int) uuid.UUID { return mp.id(modelPartner, partnerID) }
func (mp *Mapper) ContactID(partnerID int) uuid.UUID { return mp.id(modelPartner, partnerID) }

// QueueID is the ID of the queue migrated from a team.
func (mp *Mapper) QueueID(teamID int) uuid.UUID { return mp.id(modelTeam, teamID) }

func setCreated(f map[string]any, t time.Time) {
	if !t.IsZero() {
		// Record Created On: the platform keeps it as createdon
		// (overriddencreatedon, create-only).
		f["overriddencreatedon"] = dvTime(t)
	}
}

func rawTime(r interface {
	Time(string) (time.Time, error)
}, field string) time.Time {
	t, _ := r.Time(field)
	return t
}

// ---- partners ---------------------------------------------------------------

// IsStaff reports whether a partner is an internal user's partner.
func (mp *Mapper) IsStaff(p helpdesk.Partner) bool { return mp.userPartners[p.ID] }

// Account maps a company partner to an account.
func (mp *Mapper) Account(p helpdesk.Partner) Result {
	switch {
	case slices.Contains(mp.m.Partners.SkipIDs, p.ID):
		return skip("listed in partners.skip_ids")
	case !p.IsCompany:
		return skip("a person: migrated as a contact")
	case !p.Active && !mp.m.Partners.MigrateArchived:
		return skip("archived partner (partners.migrate_archived is false)")
	case strings.TrimSpace(p.Name) == "":
		return reject("company partner %d has no name; an account needs one", p.ID)
	}
	number := expand(mp.m.Partners.AccountNumber, map[string]string{"id": strconv.Itoa(p.ID)})
	if len(number) > 20 {
		return reject("account number %q is longer than 20 characters (partners.account_number)", number)
	}
	f := map[string]any{
		"name":          truncate(p.Name, 160),
		"accountnumber": number,
	}
	if p.Email != "" {
		f["emailaddress1"] = truncate(p.Email, 100)
	}
	if p.Phone != "" {
		f["telephone1"] = truncate(p.Phone, 50)
	}
	setCreated(f, rawTime(p.Raw, "create_date"))
	return write(Record{Table: "account", ID: mp.AccountID(p.ID), Fields: f, State: inactive(p.Active)})
}

// inactive is the state of an archived Odoo record: Inactive (1, 2), the
// same on accounts, contacts and queues; nil leaves an active record as
// Dataverse creates it.
func inactive(active bool) *State {
	if active {
		return nil
	}
	return &State{Code: 1, Reason: 2}
}

// Contact maps a person partner to a contact, parented to its company's
// account when that was migrated.
func (mp *Mapper) Contact(p helpdesk.Partner, ids Migrated) Result {
	switch {
	case slices.Contains(mp.m.Partners.SkipIDs, p.ID):
		return skip("listed in partners.skip_ids")
	case p.IsCompany:
		return skip("a company: migrated as an account")
	case mp.m.Partners.SkipUserPartners && mp.userPartners[p.ID]:
		return skip("an internal user's partner (partners.skip_user_partners)")
	case !p.Active && !mp.m.Partners.MigrateArchived:
		return skip("archived partner (partners.migrate_archived is false)")
	}
	first, last := splitName(p.Name)
	if last == "" {
		// An Odoo contact may be just an address of its company.
		if p.Email == "" {
			return reject("partner %d has neither a name nor an email; a contact needs a last name", p.ID)
		}
		last = p.Email
	}
	f := map[string]any{"lastname": truncate(last, 50)}
	if first != "" {
		f["firstname"] = truncate(first, 50)
	}
	if p.Email != "" {
		f["emailaddress1"] = truncate(p.Email, 100)
	}
	if p.Phone != "" {
		f["telephone1"] = truncate(p.Phone, 50)
	}
	if mobile, _ := p.Raw.String("mobile"); mobile != "" {
		f["mobilephone"] = truncate(mobile, 50)
	}
	var res Result
	company := p.Parent
	if !company.Valid() && p.CommercialPartner.Valid() && p.CommercialPartner.ID != p.ID {
		company = p.CommercialPartner
	}
	if company.Valid() {
		if ids.Migrated(StepAccounts, company.ID) {
			f["parentcustomerid_account@odata.bind"] = bind("accounts", mp.AccountID(company.ID))
		} else {
			res.Warnings = append(res.Warnings, fmt.Sprintf("company %d was not migrated: contact has no parent account", company.ID))
		}
	}
	setCreated(f, rawTime(p.Raw, "create_date"))
	res.Records = []Record{{Table: "contact", ID: mp.ContactID(p.ID), Fields: f, State: inactive(p.Active)}}
	return res
}

// ---- teams, users, tags -------------------------------------------------------

// Queue maps a helpdesk team to a queue.
func (mp *Mapper) Queue(t helpdesk.Team) Result {
	name := expand(mp.m.Teams.QueueName, map[string]string{"name": t.Name, "id": strconv.Itoa(t.ID)})
	if strings.TrimSpace(name) == "" {
		return reject("team %d has no name", t.ID)
	}
	desc := htmlToText(t.Description)
	if t.AliasName != "" {
		desc = strings.TrimSpace(desc + "\n\nOdoo email alias: " + t.AliasName)
	}
	f := map[string]any{"name": truncate(name, 400), "queueviewtype": 0}
	if t.Visibility == "invited_internal" {
		// Visible to invited members only: a private queue.
		f["queueviewtype"] = 1
	}
	if desc != "" {
		f["description"] = truncate(desc, 4000)
	}
	setCreated(f, rawTime(t.Raw, "create_date"))
	return write(Record{Table: "queue", ID: mp.QueueID(t.ID), Fields: f, State: inactive(t.Active)})
}

// SLA maps a team that uses SLAs to the SLA grouping its policies. The
// working-time calendar is bound when teams.calendars maps it and recorded
// in the description either way.
func (mp *Mapper) SLA(t helpdesk.Team) Result {
	if !t.UseSLA {
		return skip("team does not use SLA policies")
	}
	var policies int
	for _, p := range mp.slas {
		if p.Team.ID == t.ID {
			policies++
		}
	}
	if policies == 0 {
		return skip("team has no SLA policy")
	}
	name := expand(mp.m.Teams.SLAName, map[string]string{"name": t.Name, "id": strconv.Itoa(t.ID)})
	desc := fmt.Sprintf("Migrated from the SLA policies of the Odoo helpdesk team %q (%d policies). Times are working hours", t.Name, policies)
	f := map[string]any{
		"name":             truncate(name, 160),
		"applicablefrom":   "createdon",
		"slatype":          1, // Enhanced: SLA KPI instances record outcomes per item
		"primaryentityotc": 112,
		"allowpauseresume": false,
	}
	if t.Calendar.Valid() {
		desc += " on the Odoo calendar " + strconv.Quote(t.Calendar.Name)
		if id, ok := mp.m.Teams.Calendars[t.Calendar.Name]; ok {
			cal, err := uuid.Parse(id)
			if err != nil {
				return reject("teams.calendars[%q] = %q is not a calendar ID (GUID)", t.Calendar.Name, id)
			}
			f["businesshoursid@odata.bind"] = bind("calendars", cal)
		} else {
			desc += " (not mapped to a Dataverse calendar: set teams.calendars)"
		}
	} else {
		desc += " (the team has no calendar: around the clock)"
	}
	f["description"] = truncate(desc+".", 2000)
	// An SLA is created in Draft and only applies once Active (1, 2).
	return write(Record{Table: "sla", ID: mp.id(modelTeamSLA, t.ID), Fields: f, State: &State{Code: 1, Reason: 2}})
}

// UserEmail is the Dataverse email an Odoo user is matched by: the user map
// file, then users.map (by login or email), then the Odoo email, then the
// login when it is an email.
func (mp *Mapper) UserEmail(u helpdesk.User) string {
	for _, k := range []string{u.Login, u.Email} {
		if k == "" {
			continue
		}
		if v, ok := mp.m.userFile[strings.ToLower(k)]; ok {
			return v
		}
		for from, to := range mp.m.Users.Map {
			if strings.EqualFold(from, k) {
				return to
			}
		}
	}
	if strings.Contains(u.Email, "@") {
		return u.Email
	}
	if strings.Contains(u.Login, "@") {
		return u.Login
	}
	return ""
}

// User maps an Odoo user to a match of the Dataverse user with the same
// email; users are never created.
func (mp *Mapper) User(u helpdesk.User) Result {
	if share, _ := u.Raw.Bool("share"); share {
		return skip("a portal user, not an agent")
	}
	if u.Login == "__system__" {
		// OdooBot: Odoo's own system user, which authors automatic messages.
		return skip("Odoo's system user (OdooBot)")
	}
	email := mp.UserEmail(u)
	if email == "" {
		return reject("user %d (%s) has no email to match a Dataverse user: add it to users.map", u.ID, u.Login)
	}
	return write(Record{Table: "systemuser", Key: map[string]any{"internalemailaddress": email},
		Fields: map[string]any{}, MatchOnly: true})
}

// SubjectRoot is the subject every tag subject sits under (tags.mode
// subject). It must be written before the tag subjects: a writer sends it
// first, in the same step.
func (mp *Mapper) SubjectRoot() Result {
	if mp.m.Tags.Mode != TagsSubject {
		return skip("tags.mode is " + mp.m.Tags.Mode)
	}
	return write(Record{Table: "subject", ID: mp.id(modelTagRoot, 0), Fields: map[string]any{
		"title": truncate(mp.m.Tags.ParentSubject, 500), "description": "Tags of the Odoo helpdesk, migrated by dvsync."}})
}

// Subject maps a tag to a subject (tags.mode subject) under SubjectRoot.
func (mp *Mapper) Subject(t helpdesk.Tag) Result {
	if mp.m.Tags.Mode != TagsSubject {
		return skip("tags.mode is " + mp.m.Tags.Mode)
	}
	if strings.TrimSpace(t.Name) == "" {
		return reject("tag %d has no name", t.ID)
	}
	f := map[string]any{"title": truncate(t.Name, 500), "parentsubject@odata.bind": bind("subjects", mp.id(modelTagRoot, 0))}
	return write(Record{Table: "subject", ID: mp.id(modelTag, t.ID), Fields: f})
}

// ---- stages and priorities ----------------------------------------------------

// CaseState is the state and status reason a stage gives a case, by the
// first matching stages rule.
func (mp *Mapper) CaseState(s helpdesk.Stage) StageOutcome {
	name := strings.ToLower(strings.TrimSpace(s.Name))
	for _, r := range mp.m.Stages.Rules {
		if r.Closed != nil && *r.Closed != s.Closed {
			continue
		}
		if len(r.Names) > 0 && !slices.ContainsFunc(r.Names, func(p string) bool {
			ok, _ := path.Match(strings.ToLower(p), name)
			return ok
		}) {
			continue
		}
		return r.StageOutcome
	}
	return mp.m.Stages.Default
}

// Priority is the prioritycode of an Odoo priority key.
func (mp *Mapper) Priority(key string) (int, error) {
	if key == "" {
		key = "0"
	}
	v, ok := mp.m.Priorities[key]
	if !ok {
		return 0, fmt.Errorf("priority %q is not mapped (priorities)", key)
	}
	return v, nil
}

// ---- SLA policies -------------------------------------------------------------

// SLAItem maps an SLA policy to an SLA item of its team's SLA. failureafter
// is in minutes of working time, as Odoo's policy time is in working hours
// of the team calendar.
func (mp *Mapper) SLAItem(p helpdesk.SLAPolicy, ids Migrated) Result {
	if !p.Active {
		return skip("archived SLA policy")
	}
	if !p.Team.Valid() {
		return reject("SLA policy %d has no team; Dataverse SLA items belong to an SLA", p.ID)
	}
	if !ids.Migrated(StepSLAs, p.Team.ID) {
		return reject("the SLA of team %d was not migrated", p.Team.ID)
	}
	if p.Hours < 0 || math.IsNaN(p.Hours) {
		return reject("SLA policy %d has a negative time", p.ID)
	}
	prio, err := mp.Priority(p.Priority)
	if err != nil {
		return Result{Err: err}
	}
	failure := int(math.Round(p.Hours * 60))
	reach := mp.stages[p.ReachStage.ID]
	goal := mp.CaseState(reach)
	related := "firstresponsebykpiid"
	success := fmt.Sprintf(`<and><condition attribute="statuscode" operator="eq" value="%d"/></and>`, goal.Status)
	if goal.State != StateActive {
		// Reaching a closing stage is resolving the case.
		related = "resolvebykpiid"
		success = fmt.Sprintf(`<and><condition attribute="statecode" operator="eq" value="%d"/></and>`, stateCodes[goal.State])
	}
	// FetchXML-style conditions (applicablewhenxml/successconditionsxml
	// hold the SLA designer's condition XML): the case's priority, and,
	// when the policy names them, the tags (as subjects).
	conds := []string{fmt.Sprintf(`<condition attribute="prioritycode" operator="eq" value="%d"/>`, prio)}
	if mp.m.Tags.Mode == TagsSubject {
		for _, tag := range p.Tags {
			conds = append(conds, fmt.Sprintf(`<condition attribute="subjectid" operator="eq" value="%s"/>`, mp.id(modelTag, tag)))
		}
	}
	applicable := "<and>" + strings.Join(conds, "") + "</and>"
	team := mp.teams[p.Team.ID]
	cal := "around the clock"
	if team.Calendar.Valid() {
		cal = "calendar " + team.Calendar.Name
	}
	desc := fmt.Sprintf("%gh to %s (%s)", p.Hours, reach.Name, cal)
	f := map[string]any{
		"name":                 truncate(p.Name, 100),
		"description":          truncate(desc, 100),
		"slaid@odata.bind":     bind("slas", mp.id(modelTeamSLA, p.Team.ID)),
		"failureafter":         failure,
		"warnafter":            int(math.Round(float64(failure) * mp.m.SLAs.WarnFraction)),
		"applicablewhenxml":    applicable,
		"successconditionsxml": success,
		"relatedfield":         related,
		"applicableentity":     "incident",
		"allowpauseresume":     len(p.ExcludeStages) > 0,
		"sequencenumber":       min(p.ID, 1500),
	}
	if len(p.ExcludeStages) > 0 {
		var names []string
		for _, id := range p.ExcludeStages {
			names = append(names, mp.stages[id].Name)
		}
		// Odoo stops the clock in these stages; the Dataverse equivalent is
		// a pause configuration, which an admin sets per status.
		f["msdyn_pauseconfigurationxml"] = "<!-- Odoo pauses this SLA in stages: " + strings.ReplaceAll(strings.Join(names, ", "), "--", "- -") + " -->"
	}
	return write(Record{Table: "slaitem", ID: mp.id(modelSLA, p.ID), Fields: f})
}

// ---- tickets --------------------------------------------------------------------

// Case maps a ticket to an incident and, when its team was migrated, a
// queue item putting it in the team's queue (Dataverse links cases to
// queues through queueitem; incident has no queue column).
func (mp *Mapper) Case(t helpdesk.Ticket, ids Migrated) Result {
	if !t.Active && !mp.m.Tickets.MigrateArchived {
		return skip("archived ticket (tickets.migrate_archived is false)")
	}
	ref := t.Number
	if ref == "" {
		ref = strconv.Itoa(t.ID)
	}
	number := expand(mp.m.Tickets.Number, map[string]string{"ref": ref, "id": strconv.Itoa(t.ID)})
	if len(number) > 100 {
		return reject("case number %q is longer than 100 characters", number)
	}
	var res Result
	warn := func(format string, a ...any) { res.Warnings = append(res.Warnings, fmt.Sprintf(format, a...)) }
	title := strings.TrimSpace(t.Name)
	if title == "" {
		title = "Odoo ticket " + ref
	}
	f := map[string]any{"title": truncate(title, 200), "ticketnumber": number}

	// Customer.
	if err := mp.bindCustomer(f, t, ids); err != nil {
		return Result{Err: err}
	}

	// Owner: the matched Dataverse user, else the default owner, else the
	// caller.
	unmatched := false
	if t.User.Valid() {
		u, known := mp.users[t.User.ID]
		if known && ids.Migrated(StepUsers, t.User.ID) {
			f["ownerid@odata.bind"] = bindKey("systemusers", "internalemailaddress", mp.UserEmail(u))
		} else {
			unmatched = true
		}
	}
	if _, ok := f["ownerid@odata.bind"]; !ok && mp.m.Users.DefaultOwner != "" {
		f["ownerid@odata.bind"] = bindKey("systemusers", "internalemailaddress", mp.m.Users.DefaultOwner)
	}
	// The warning names the owner the case gets instead, so the user sees
	// what changed, not only that something did.
	switch {
	case !unmatched:
	case mp.m.Users.DefaultOwner != "":
		warn("user %d (%s) has no Dataverse match; owner falls back to users.default_owner %s", t.User.ID, t.User.Name, mp.m.Users.DefaultOwner)
	default:
		warn("user %d (%s) has no Dataverse match and users.default_owner is not set; the case is owned by the user the migration runs as", t.User.ID, t.User.Name)
	}

	prio, err := mp.Priority(t.Priority)
	if err != nil {
		return Result{Err: err}
	}
	f["prioritycode"] = prio
	if t.Channel.Valid() {
		if v, ok := mp.m.Tickets.Origins[strings.ToLower(t.Channel.Name)]; ok {
			f["caseorigincode"] = v
		}
	}
	if t.PartnerEmail != "" {
		f["emailaddress"] = truncate(t.PartnerEmail, 100)
	}
	if !t.SLADeadline.IsZero() {
		f["resolveby"] = dvTime(t.SLADeadline)
	}

	// Tags.
	var tagNames []string
	tagBound := false
	for _, id := range t.Tags {
		tag, ok := mp.tags[id]
		if !ok {
			continue
		}
		tagNames = append(tagNames, tag.Name)
		switch mp.m.Tags.Mode {
		case TagsSubject:
			if !tagBound && ids.Migrated(StepSubjects, id) {
				f["subjectid@odata.bind"] = bind("subjects", mp.id(modelTag, id))
				tagBound = true
			}
		case TagsChoice:
			if v, ok := mp.m.Tags.Values[tag.Name]; ok && !tagBound {
				f[mp.m.Tags.Column] = v
				tagBound = true
			}
		}
	}

	// SLA of the team.
	if team, ok := mp.teams[t.Team.ID]; ok && team.UseSLA && ids.Migrated(StepSLAs, team.ID) {
		f["slaid@odata.bind"] = bind("slas", mp.id(modelTeamSLA, team.ID))
	}

	// Description: the text of the ticket, then what has no column.
	desc := htmlToText(t.Description)
	var facts []string
	facts = append(facts, "Odoo ticket "+ref)
	if len(tagNames) > 0 {
		facts = append(facts, "tags: "+strings.Join(tagNames, ", "))
	}
	for _, c := range []struct {
		label string
		v     string
	}{{"type", t.TicketType.Name}, {"category", t.Category.Name}, {"channel", t.Channel.Name}, {"stage", t.Stage.Name}} {
		if c.v != "" {
			facts = append(facts, c.label+": "+c.v)
		}
	}
	footer := "[" + strings.Join(facts, "; ") + "]"
	if desc != "" {
		desc = truncate(desc, 2000-len([]rune(footer))-2) + "\n\n"
	}
	f["description"] = desc + footer
	setCreated(f, t.CreateDate)

	// State: resolved through CloseIncident, cancelled by a state change.
	stage, ok := mp.stages[t.Stage.ID]
	if !ok {
		stage = helpdesk.Stage{ID: t.Stage.ID, Name: t.Stage.Name, Closed: t.Closed}
	}
	st := mp.CaseState(stage)
	var state *State
	if st.State != StateActive || st.Status != 1 {
		state = &State{Code: stateCodes[st.State], Reason: st.Status}
	}
	if st.State == StateResolved {
		state.Close = &Resolution{Subject: truncate(expand(mp.m.Tickets.ResolutionSubject, map[string]string{"stage": stage.Name, "ref": ref}), 200)}
		closed := t.CloseDate
		if closed.IsZero() {
			closed = t.LastStageUpdate
		}
		if !closed.IsZero() {
			state.Close.ResolvedOn = dvTime(closed)
		}
	}
	res.Records = append(res.Records, Record{Table: "incident", ID: mp.IncidentID(t.ID), Fields: f, State: state})

	// Queue.
	if t.Team.Valid() {
		if ids.Migrated(StepQueues, t.Team.ID) {
			qf := map[string]any{
				"objectid_incident@odata.bind": bind("incidents", mp.IncidentID(t.ID)),
				"queueid@odata.bind":           bind("queues", mp.QueueID(t.Team.ID)),
				"title":                        truncate(title, 850),
			}
			res.Records = append(res.Records, Record{Table: "queueitem", ID: mp.id(modelTicketQueue, t.ID), Fields: qf})
		} else {
			warn("team %d was not migrated: case is in no queue", t.Team.ID)
		}
	}
	return res
}

// bindCustomer sets customerid (and primarycontactid) from the ticket's
// partner: a company is bound as the account; a person as their company's
// account with the person as primary contact (tickets.customer account), or
// as the contact (tickets.customer contact).
func (mp *Mapper) bindCustomer(f map[string]any, t helpdesk.Ticket, ids Migrated) error {
	partner := t.Partner.ID
	if partner == 0 || !(ids.Migrated(StepAccounts, partner) || ids.Migrated(StepContacts, partner)) {
		if mp.m.Tickets.FallbackPartner == 0 {
			if partner == 0 {
				return &RejectError{Reason: fmt.Sprintf("ticket %d has no customer (partner_id is empty; tickets.fallback_partner is 0)", t.ID)}
			}
			return &RejectError{Reason: fmt.Sprintf("customer partner %d of ticket %d was not migrated", partner, t.ID)}
		}
		partner = mp.m.Tickets.FallbackPartner
		if !(ids.Migrated(StepAccounts, partner) || ids.Migrated(StepContacts, partner)) {
			return &RejectError{Reason: fmt.Sprintf("neither the customer of ticket %d nor tickets.fallback_partner %d was migrated", t.ID, partner)}
		}
	}
	if ids.Migrated(StepAccounts, partner) {
		f["customerid_account@odata.bind"] = bind("accounts", mp.AccountID(partner))
		return nil
	}
	company := t.CommercialPartner.ID
	if mp.m.Tickets.Customer == CustomerAccount && partner == t.Partner.ID && company != 0 && company != partner && ids.Migrated(StepAccounts, company) {
		f["customerid_account@odata.bind"] = bind("accounts", mp.AccountID(company))
		f["primarycontactid@odata.bind"] = bind("contacts", mp.ContactID(partner))
		return nil
	}
	f["customerid_contact@odata.bind"] = bind("contacts", mp.ContactID(partner))
	return nil
}

// SLAOutcome maps one ticket's status against one SLA policy to an SLA KPI
// instance regarding the case: it is the table Dataverse keeps each case's
// outcome per SLA item in (failure time, success time, status), so the
// outcome stays queryable and reportable next to new cases, which a note
// would not be.
func (mp *Mapper) SLAOutcome(s helpdesk.SLAStatus, ids Migrated) Result {
	if !ids.Migrated(StepCases, s.Ticket.ID) {
		return reject("case of ticket %d was not migrated", s.Ticket.ID)
	}
	if !ids.Migrated(StepSLAItems, s.SLA.ID) {
		return reject("SLA policy %d was not migrated", s.SLA.ID)
	}
	status, ok := mp.m.SLAOutcomes.Status[s.Status]
	if !ok {
		return reject("SLA status %q is not mapped (sla_outcomes.status)", s.Status)
	}
	name := s.SLA.Name
	if p, ok := mp.slas[s.SLA.ID]; ok {
		name = p.Name
	}
	if name == "" {
		name = "Odoo SLA " + strconv.Itoa(s.SLA.ID)
	}
	desc := "Odoo: " + s.Status
	if s.ExceededHours > 0 {
		desc += fmt.Sprintf(", %.2f working hours late", s.ExceededHours)
	}
	f := map[string]any{
		"name":                          truncate(name, 100),
		"description":                   truncate(desc, 100),
		"status":                        status,
		"regarding_incident@odata.bind": bind("incidents", mp.IncidentID(s.Ticket.ID)),
		"msdyn_slaitemid@odata.bind":    bind("slaitems", mp.id(modelSLA, s.SLA.ID)),
	}
	if !s.Deadline.IsZero() {
		f["failuretime"] = dvTime(s.Deadline)
		f["computedfailuretime"] = dvTime(s.Deadline)
	}
	if !s.Reached.IsZero() {
		f["succeededon"] = dvTime(s.Reached)
	}
	return write(Record{Table: "slakpiinstance", ID: mp.id(modelSLAStatus, s.ID), Fields: f})
}

// ---- messages -------------------------------------------------------------------

// Note maps a chatter message to a note on its case. The note's creation
// date is the message date, so the case timeline shows the thread in order,
// and its text starts with the author and the date.
func (mp *Mapper) Note(m helpdesk.Message, ids Migrated) Result {
	if slices.Contains(mp.m.Messages.SkipTypes, m.MessageType) {
		return skip("message type " + m.MessageType + " (messages.skip_types)")
	}
	text := htmlToText(m.Body)
	if mp.m.Messages.SkipEmpty && text == "" {
		return skip("message has no text")
	}
	if !ids.Migrated(StepCases, m.TicketID) {
		return reject("case of ticket %d was not migrated", m.TicketID)
	}
	author := m.Author.Name
	if author == "" {
		author = m.EmailFrom
	}
	if author == "" {
		author = "unknown author"
	}
	kind := "Comment"
	switch {
	case m.Internal || strings.EqualFold(m.Subtype.Name, "Note"):
		kind = "Internal note"
	case m.MessageType == "email" || m.MessageType == "email_outgoing":
		kind = "Email"
	}
	subject := strings.TrimSpace(m.Subject)
	if subject == "" {
		subject = kind + " from " + author
	}
	date := m.Date.UTC().Format("2006-01-02 15:04 UTC")
	var body string
	if mp.m.Messages.Format == "text" {
		header := fmt.Sprintf("%s · %s · %s", author, date, kind)
		if m.EmailFrom != "" && m.EmailFrom != author {
			header += " · " + m.EmailFrom
		}
		body = truncate(header+"\n\n"+text, 100000)
	} else {
		header := "<p><strong>" + htmlEscape(author) + "</strong> · " + date + " · " + kind
		if m.EmailFrom != "" && m.EmailFrom != author {
			header += " · " + htmlEscape(m.EmailFrom)
		}
		body = truncateHTML(header+"</p>"+m.Body, 100000)
	}
	f := map[string]any{
		"subject":                      truncate(subject, 500),
		"notetext":                     body,
		"objectid_incident@odata.bind": bind("incidents", mp.IncidentID(m.TicketID)),
	}
	setCreated(f, m.Date)
	return write(Record{Table: "annotation", ID: mp.id(modelMessage, m.ID), Fields: f})
}

var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;")

func htmlEscape(s string) string { return htmlEscaper.Replace(s) }

// ---- knowledge --------------------------------------------------------------------

// Article maps a knowledge article. Dataverse articles are flat: the
// article's ancestors become its keywords, root first.
func (mp *Mapper) Article(a helpdesk.Article) Result {
	if !a.Active && !mp.m.Articles.MigrateArchived {
		return skip("archived article (articles.migrate_archived is false)")
	}
	if t, _ := a.Raw.Bool("is_template"); t {
		return skip("an article template")
	}
	title := strings.TrimSpace(a.Name)
	if title == "" {
		return reject("article %d has no title", a.ID)
	}
	f := map[string]any{
		"title":               truncate(title, 4000),
		"content":             a.Body,
		"articlepublicnumber": expand(mp.m.Articles.PublicNumber, map[string]string{"id": strconv.Itoa(a.ID)}),
		"isinternal":          !a.Published,
	}
	if d := htmlToText(a.Body); d != "" {
		f["description"] = truncate(strings.ReplaceAll(d, "\n", " "), 155)
	}
	if path := mp.ancestors(a); len(path) > 0 {
		f["keywords"] = truncate(strings.Join(path, "; "), 4000)
	}
	setCreated(f, rawTime(a.Raw, "create_date"))
	var state *State
	switch {
	case !a.Active:
		state = &State{Code: 5, Reason: 12} // Archived
	case a.Published:
		state = &State{Code: 3, Reason: 7} // Published
	}
	return write(Record{Table: "knowledgearticle", ID: mp.id(modelArticle, a.ID), Fields: f, State: state})
}

func (mp *Mapper) ancestors(a helpdesk.Article) []string {
	var path []string
	seen := map[int]bool{a.ID: true}
	parent := a.Parent
	for parent.Valid() && !seen[parent.ID] {
		seen[parent.ID] = true
		node, ok := mp.articles[parent.ID]
		name := node.Name
		if !ok {
			name = parent.Name
		}
		if name != "" {
			path = append(path, name)
		}
		if !ok {
			break
		}
		parent = odoo.Many2One{ID: node.Parent}
	}
	slices.Reverse(path)
	return path
}
