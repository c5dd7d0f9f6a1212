package odoodv

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dvsync/dvsync/odoo"
	"github.com/dvsync/dvsync/odoo/helpdesk"
)

// migrated answers Migrated from a set of "step/id" strings.
type migrated map[string]bool

func (m migrated) Migrated(step string, id int) bool {
	return m[step+"/"+itoa(id)]
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func all() Migrated  { return MigratedFunc(func(string, int) bool { return true }) }
func none() Migrated { return MigratedFunc(func(string, int) bool { return false }) }

func raw(kv ...any) odoo.Record {
	r := odoo.Record{}
	for i := 0; i < len(kv); i += 2 {
		b, _ := json.Marshal(kv[i+1])
		r[kv[i].(string)] = b
	}
	return r
}

var (
	stNew       = helpdesk.Stage{ID: 1, Name: "New"}
	stProgress  = helpdesk.Stage{ID: 2, Name: "In Progress"}
	stHold      = helpdesk.Stage{ID: 3, Name: "On Hold"}
	stSolved    = helpdesk.Stage{ID: 4, Name: "Solved", Closed: true, Fold: true}
	stCancelled = helpdesk.Stage{ID: 5, Name: "Cancelled", Closed: true, Fold: true}
)

func testContext() Context {
	return Context{
		Database: "prod",
		Stages:   []helpdesk.Stage{stNew, stProgress, stHold, stSolved, stCancelled},
		Tags:     []helpdesk.Tag{{ID: 1, Name: "Billing"}, {ID: 2, Name: "Repair"}},
		Teams: []helpdesk.Team{
			{ID: 1, Name: "Customer Care", UseSLA: true, Active: true, Calendar: odoo.Many2One{ID: 1, Name: "Standard 40 hours/week"}},
			{ID: 2, Name: "Internal", Active: true},
		},
		Users: []helpdesk.User{
			{ID: 6, Name: "Elena Petrova", Login: "elena", Email: "elena@odoo.example", Partner: odoo.Many2One{ID: 100}},
			{ID: 7, Name: "Kwame", Login: "kwame@odoo.example", Partner: odoo.Many2One{ID: 101}},
			{ID: 8, Name: "No Mail", Login: "nomail"},
		},
		SLAs: []helpdesk.SLAPolicy{
			{ID: 1, Name: "2 days to start", Active: true, Team: odoo.Many2One{ID: 1, Name: "Customer Care"}, ReachStage: odoo.Many2One{ID: 2}, Priority: "0", Hours: 16},
			{ID: 2, Name: "7 days to finish", Active: true, Team: odoo.Many2One{ID: 1}, ReachStage: odoo.Many2One{ID: 4}, Priority: "2", Hours: 56, ExcludeStages: []int{3}, Tags: []int{1}},
			{ID: 3, Name: "No team", Active: true, Hours: 8},
		},
		Articles: map[int]ArticleNode{1: {Name: "Help Center"}, 2: {Name: "Billing", Parent: 1}, 3: {Name: "Invoices", Parent: 2}},
	}
}

func newMapper(t *testing.T, m *Map) *Mapper {
	t.Helper()
	mp, err := New(m, testContext())
	if err != nil {
		t.Fatal(err)
	}
	return mp
}

func mustMap(t *testing.T, yaml string) *Map {
	t.Helper()
	m, err := ParseMap([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func one(t *testing.T, r Result, table string) Record {
	t.Helper()
	if r.Err != nil || r.Skip != "" {
		t.Fatalf("want a %s record, got err=%v skip=%q", table, r.Err, r.Skip)
	}
	for _, rec := range r.Records {
		// Writer instructions are typed fields, never columns.
		for col := range rec.Fields {
			if col == "statecode" || col == "statuscode" || strings.HasPrefix(col, "@dvsync") {
				t.Errorf("%s record carries the writer instruction %s among its columns", rec.Table, col)
			}
		}
	}
	for _, rec := range r.Records {
		if rec.Table == table {
			return rec
		}
	}
	t.Fatalf("no %s record in %+v", table, r.Records)
	return Record{}
}

// stateOf is the state a record asks to be moved to; -1, -1 without one.
func stateOf(r Record) (code, reason int) {
	if r.State == nil {
		return -1, -1
	}
	return r.State.Code, r.State.Reason
}

func TestDeterministicIDs(t *testing.T) {
	a := ID("", "prod", "helpdesk.ticket", 42)
	if a != ID("", "prod", "helpdesk.ticket", 42) {
		t.Fatal("same input, different ID")
	}
	for _, other := range []string{
		ID("", "staging", "helpdesk.ticket", 42).String(),
		ID("", "prod", "mail.message", 42).String(),
		ID("", "prod", "helpdesk.ticket", 43).String(),
		ID("x", "prod", "helpdesk.ticket", 42).String(),
	} {
		if other == a.String() {
			t.Errorf("collision with %s", other)
		}
	}
	if a.Version() != 5 {
		t.Errorf("version %d, want 5", a.Version())
	}
	if _, err := New(nil, Context{}); err == nil {
		t.Error("New without a database name succeeded")
	}
}

func TestPartners(t *testing.T) {
	mp := newMapper(t, nil)
	created := raw("create_date", "2025-01-02 03:04:05")
	tests := []struct {
		name    string
		p       helpdesk.Partner
		ids     Migrated
		account bool // expect an account (else contact)
		skip    string
		reject  string
		check   func(*testing.T, Record)
	}{
		{name: "company becomes account", p: helpdesk.Partner{ID: 10, Name: "Alder Dental", Email: "o@a.example", Phone: "+1", IsCompany: true, Active: true, Raw: created},
			account: true, check: func(t *testing.T, r Record) {
				want := map[string]any{"name": "Alder Dental", "accountnumber": "ODOO-10", "emailaddress1": "o@a.example", "telephone1": "+1", "overriddencreatedon": "2025-01-02T03:04:05Z"}
				for k, v := range want {
					if r.Fields[k] != v {
						t.Errorf("%s = %v, want %v", k, r.Fields[k], v)
					}
				}
				if r.State != nil {
					t.Error("active account carries a state")
				}
			}},
		{name: "archived company is inactive", p: helpdesk.Partner{ID: 11, Name: "Old Co", IsCompany: true},
			account: true, check: func(t *testing.T, r Record) {
				if code, reason := stateOf(r); code != 1 || reason != 2 {
					t.Errorf("state %v/%v, want 1/2", code, reason)
				}
			}},
		{name: "company without name is rejected", p: helpdesk.Partner{ID: 12, IsCompany: true, Active: true}, account: true, reject: "no name"},
		{name: "person is not an account", p: helpdesk.Partner{ID: 20, Name: "Ann Lee", Active: true}, account: true, skip: "contact"},
		{name: "person becomes contact under company", p: helpdesk.Partner{ID: 20, Name: "Ann Marie Lee", Email: "ann@a.example", Parent: odoo.Many2One{ID: 10}, Active: true, Raw: raw("mobile", "+32 1")},
			ids: migrated{"accounts/10": true}, check: func(t *testing.T, r Record) {
				if r.Fields["firstname"] != "Ann Marie" || r.Fields["lastname"] != "Lee" {
					t.Errorf("name %v / %v", r.Fields["firstname"], r.Fields["lastname"])
				}
				if r.Fields["parentcustomerid_account@odata.bind"] != "/accounts("+mp.AccountID(10).String()+")" {
					t.Errorf("parent bind %v", r.Fields["parentcustomerid_account@odata.bind"])
				}
				if r.Fields["mobilephone"] != "+32 1" || r.Fields["emailaddress1"] != "ann@a.example" {
					t.Errorf("phone/email %v %v", r.Fields["mobilephone"], r.Fields["emailaddress1"])
				}
			}},
		{name: "company not migrated: contact without parent", p: helpdesk.Partner{ID: 21, Name: "Bo", CommercialPartner: odoo.Many2One{ID: 10}, Active: true},
			ids: none(), check: func(t *testing.T, r Record) {
				if _, ok := r.Fields["parentcustomerid_account@odata.bind"]; ok {
					t.Error("bound to an account that was not migrated")
				}
				if r.Fields["lastname"] != "Bo" {
					t.Errorf("lastname %v", r.Fields["lastname"])
				}
			}},
		{name: "address without name uses email", p: helpdesk.Partner{ID: 22, Email: "desk@a.example", Active: true}, ids: none(),
			check: func(t *testing.T, r Record) {
				if r.Fields["lastname"] != "desk@a.example" {
					t.Errorf("lastname %v", r.Fields["lastname"])
				}
			}},
		{name: "nameless, emailless person rejected", p: helpdesk.Partner{ID: 23, Active: true}, ids: none(), reject: "neither a name nor an email"},
		{name: "user partner skipped", p: helpdesk.Partner{ID: 100, Name: "Elena Petrova", Active: true}, ids: none(), skip: "internal user"},
		{name: "main company skipped", p: helpdesk.Partner{ID: 1, Name: "Us", IsCompany: true, Active: true}, account: true, skip: "skip_ids"},
		{name: "skipped person", p: helpdesk.Partner{ID: 1, Name: "Us", Active: true}, ids: none(), skip: "skip_ids"},
		{name: "company is not a contact", p: helpdesk.Partner{ID: 10, Name: "X", IsCompany: true, Active: true}, ids: none(), skip: "account"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Result
			table := "contact"
			if tt.account {
				r, table = mp.Account(tt.p), "account"
			} else {
				r = mp.Contact(tt.p, tt.ids)
			}
			checkOutcome(t, r, tt.skip, tt.reject)
			if tt.check != nil {
				rec := one(t, r, table)
				if rec.ID != mp.AccountID(tt.p.ID) {
					t.Errorf("ID %s is not the deterministic one", rec.ID)
				}
				tt.check(t, rec)
			}
		})
	}

	t.Run("archived skipped when configured", func(t *testing.T) {
		mp := newMapper(t, mustMap(t, "partners: {migrate_archived: false}"))
		checkOutcome(t, mp.Account(helpdesk.Partner{ID: 5, Name: "X", IsCompany: true}), "archived", "")
		checkOutcome(t, mp.Contact(helpdesk.Partner{ID: 2, Name: "Y"}, none()), "archived", "")
	})
	t.Run("user partners kept when configured", func(t *testing.T) {
		mp := newMapper(t, mustMap(t, "partners: {skip_user_partners: false}"))
		one(t, mp.Contact(helpdesk.Partner{ID: 100, Name: "Elena", Active: true}, none()), "contact")
	})
	t.Run("account number too long", func(t *testing.T) {
		mp := newMapper(t, mustMap(t, "partners: {account_number: 'ODOO-PRODUCTION-EU-{id}'}"))
		checkOutcome(t, mp.Account(helpdesk.Partner{ID: 123456, Name: "X", IsCompany: true, Active: true}), "", "longer than 20")
	})
}

func checkOutcome(t *testing.T, r Result, skip, rejectWith string) {
	t.Helper()
	switch {
	case skip != "":
		if !strings.Contains(r.Skip, skip) || r.Err != nil || len(r.Records) > 0 {
			t.Errorf("want skip containing %q, got skip=%q err=%v records=%d", skip, r.Skip, r.Err, len(r.Records))
		}
	case rejectWith != "":
		if r.Err == nil || !strings.Contains(r.Err.Error(), rejectWith) || len(r.Records) > 0 {
			t.Errorf("want reject containing %q, got err=%v skip=%q", rejectWith, r.Err, r.Skip)
		}
		var re *RejectError
		if r.Err != nil && !errors.As(r.Err, &re) && !strings.Contains(r.Err.Error(), "not mapped") {
			t.Errorf("reject is %T, want *RejectError", r.Err)
		}
	default:
		if r.Err != nil || r.Skip != "" {
			t.Errorf("unexpected err=%v skip=%q", r.Err, r.Skip)
		}
	}
}

func TestQueuesAndSLAs(t *testing.T) {
	mp := newMapper(t, nil)
	q := one(t, mp.Queue(helpdesk.Team{ID: 1, Name: "Customer Care", Description: "<p>First line</p>", AliasName: "care", Active: true, Visibility: "portal"}), "queue")
	if q.Fields["name"] != "Customer Care" || q.Fields["queueviewtype"] != 0 || q.Fields["description"] != "First line\n\nOdoo email alias: care" {
		t.Errorf("queue %v", q.Fields)
	}
	if q.ID != mp.QueueID(1) {
		t.Error("queue ID not deterministic")
	}
	priv := one(t, mp.Queue(helpdesk.Team{ID: 2, Name: "VIP", Visibility: "invited_internal"}), "queue")
	if code, _ := stateOf(priv); priv.Fields["queueviewtype"] != 1 || code != 1 {
		t.Errorf("private archived queue %v, state %+v", priv.Fields, priv.State)
	}
	checkOutcome(t, mp.Queue(helpdesk.Team{ID: 3}), "", "no name")

	sla := one(t, mp.SLA(testContext().Teams[0]), "sla")
	if code, reason := stateOf(sla); sla.Fields["name"] != "Customer Care (Odoo SLA)" || sla.Fields["primaryentityotc"] != 112 || code != 1 || reason != 2 {
		t.Errorf("sla %v, state %+v", sla.Fields, sla.State)
	}
	if d := sla.Fields["description"].(string); !strings.Contains(d, `"Standard 40 hours/week"`) || !strings.Contains(d, "2 policies") || !strings.Contains(d, "not mapped") {
		t.Errorf("calendar not recorded: %q", d)
	}
	checkOutcome(t, mp.SLA(testContext().Teams[1]), "does not use SLA", "")

	mapped := newMapper(t, mustMap(t, `teams: {calendars: {"Standard 40 hours/week": "756d2740-13ec-5c73-bbd1-66079b4493a0"}}`))
	s2 := one(t, mapped.SLA(testContext().Teams[0]), "sla")
	if s2.Fields["businesshoursid@odata.bind"] != "/calendars(756d2740-13ec-5c73-bbd1-66079b4493a0)" {
		t.Errorf("calendar bind %v", s2.Fields["businesshoursid@odata.bind"])
	}
	bad := newMapper(t, mustMap(t, `teams: {calendars: {"Standard 40 hours/week": "nope"}}`))
	checkOutcome(t, bad.SLA(testContext().Teams[0]), "", "not a calendar ID")
}

func TestSLAItems(t *testing.T) {
	mp := newMapper(t, nil)
	c := testContext()
	first := one(t, mp.SLAItem(c.SLAs[0], all()), "slaitem")
	want := map[string]any{"failureafter": 960, "warnafter": 720, "relatedfield": "firstresponsebykpiid", "applicableentity": "incident", "allowpauseresume": false,
		"slaid@odata.bind":  "/slas(" + ID("", "prod", modelTeamSLA, 1).String() + ")",
		"applicablewhenxml": `<and><condition attribute="prioritycode" operator="eq" value="3"/></and>`,
		// In Progress is active/1.
		"successconditionsxml": `<and><condition attribute="statuscode" operator="eq" value="1"/></and>`}
	for k, v := range want {
		if first.Fields[k] != v {
			t.Errorf("%s = %v, want %v", k, first.Fields[k], v)
		}
	}
	resolve := one(t, mp.SLAItem(c.SLAs[1], all()), "slaitem")
	if resolve.Fields["relatedfield"] != "resolvebykpiid" || resolve.Fields["failureafter"] != 3360 || resolve.Fields["allowpauseresume"] != true {
		t.Errorf("resolve item %v", resolve.Fields)
	}
	if x := resolve.Fields["successconditionsxml"]; x != `<and><condition attribute="statecode" operator="eq" value="1"/></and>` {
		t.Errorf("success %v", x)
	}
	if x := resolve.Fields["applicablewhenxml"].(string); !strings.Contains(x, `value="1"/>`) || !strings.Contains(x, "subjectid") {
		t.Errorf("applicable %v (High priority and tag subject expected)", x)
	}
	if x := resolve.Fields["msdyn_pauseconfigurationxml"].(string); !strings.Contains(x, "On Hold") {
		t.Errorf("pause %v", x)
	}
	checkOutcome(t, mp.SLAItem(c.SLAs[2], all()), "", "no team")
	checkOutcome(t, mp.SLAItem(c.SLAs[0], none()), "", "not migrated")
	archived := c.SLAs[0]
	archived.Active = false
	checkOutcome(t, mp.SLAItem(archived, all()), "archived", "")
	odd := c.SLAs[0]
	odd.Priority = "7"
	checkOutcome(t, mp.SLAItem(odd, all()), "", "not mapped")
}

func TestUsers(t *testing.T) {
	mp := newMapper(t, mustMap(t, `users: {map: {KWAME@odoo.example: kwame@contoso.example}}`))
	mp.m.SetUserMap(map[string]string{"elena": "elena.p@contoso.example"})
	tests := []struct {
		u      helpdesk.User
		email  string
		skip   string
		reject string
	}{
		{u: helpdesk.User{ID: 6, Login: "elena", Email: "elena@odoo.example"}, email: "elena.p@contoso.example"}, // user map file wins
		{u: helpdesk.User{ID: 7, Login: "kwame@odoo.example"}, email: "kwame@contoso.example"},                   // users.map, case-insensitive
		{u: helpdesk.User{ID: 9, Login: "sam", Email: "sam@odoo.example"}, email: "sam@odoo.example"},            // own email
		{u: helpdesk.User{ID: 10, Login: "lee@odoo.example"}, email: "lee@odoo.example"},                         // login is an email
		{u: helpdesk.User{ID: 8, Login: "nomail"}, reject: "no email"},
		{u: helpdesk.User{ID: 11, Login: "portal@x.example", Raw: raw("share", true)}, skip: "portal"},
		{u: helpdesk.User{ID: 1, Login: "__system__", Name: "OdooBot"}, skip: "OdooBot"},
	}
	for _, tt := range tests {
		r := mp.User(tt.u)
		checkOutcome(t, r, tt.skip, tt.reject)
		if tt.email == "" {
			continue
		}
		rec := one(t, r, "systemuser")
		if rec.Key["internalemailaddress"] != tt.email || !rec.MatchOnly || len(rec.Fields) != 0 {
			t.Errorf("user %d: %+v, want match on %s", tt.u.ID, rec, tt.email)
		}
	}
}

func TestTags(t *testing.T) {
	mp := newMapper(t, nil)
	root := one(t, mp.SubjectRoot(), "subject")
	if root.Fields["title"] != "Odoo helpdesk tags" {
		t.Errorf("root %v", root.Fields)
	}
	s := one(t, mp.Subject(helpdesk.Tag{ID: 1, Name: "Billing"}), "subject")
	if s.Fields["parentsubject@odata.bind"] != "/subjects("+root.ID.String()+")" || s.Fields["title"] != "Billing" {
		t.Errorf("subject %v", s.Fields)
	}
	checkOutcome(t, mp.Subject(helpdesk.Tag{ID: 3}), "", "no name")

	choice := newMapper(t, mustMap(t, "tags: {mode: choice, column: casetypecode, values: {Repair: 2}}"))
	checkOutcome(t, choice.SubjectRoot(), "tags.mode is choice", "")
	checkOutcome(t, choice.Subject(helpdesk.Tag{ID: 1, Name: "Billing"}), "tags.mode is choice", "")
	inc := one(t, choice.Case(ticket(func(t *helpdesk.Ticket) { t.Tags = []int{1, 2} }), all()), "incident")
	if inc.Fields["casetypecode"] != 2 {
		t.Errorf("casetypecode %v, want 2 (Repair)", inc.Fields["casetypecode"])
	}
	if _, ok := inc.Fields["subjectid@odata.bind"]; ok {
		t.Error("choice mode bound a subject")
	}
	sub := one(t, mp.Case(ticket(func(t *helpdesk.Ticket) { t.Tags = []int{99, 2, 1} }), all()), "incident")
	if sub.Fields["subjectid@odata.bind"] != "/subjects("+ID("", "prod", modelTag, 2).String()+")" {
		t.Errorf("subject bind %v, want the first known tag (2)", sub.Fields["subjectid@odata.bind"])
	}
	if d := sub.Fields["description"].(string); !strings.Contains(d, "tags: Repair, Billing") {
		t.Errorf("tags not listed: %q", d)
	}
}

func TestCaseState(t *testing.T) {
	mp := newMapper(t, nil)
	tests := []struct {
		stage helpdesk.Stage
		want  StageOutcome
	}{
		{stNew, StageOutcome{StateActive, 1}},
		{stProgress, StageOutcome{StateActive, 1}},
		{stHold, StageOutcome{StateActive, 2}},
		{stSolved, StageOutcome{StateResolved, 5}},
		{stCancelled, StageOutcome{StateCancelled, 6}},
		{helpdesk.Stage{Name: "cancelled by customer", Closed: true}, StageOutcome{StateCancelled, 6}}, // case-insensitive glob
		{helpdesk.Stage{Name: "Annulé"}, StageOutcome{StateCancelled, 6}},                              // open but cancelled by name
		{helpdesk.Stage{Name: "Done", Closed: true}, StageOutcome{StateResolved, 5}},
		{helpdesk.Stage{Name: "Waiting on hold", Closed: true}, StageOutcome{StateResolved, 5}}, // hold rule needs closed: false
	}
	for _, tt := range tests {
		if got := mp.CaseState(tt.stage); got != tt.want {
			t.Errorf("%q closed=%v: %v, want %v", tt.stage.Name, tt.stage.Closed, got, tt.want)
		}
	}
	custom := newMapper(t, mustMap(t, `
stages:
  rules:
    - {names: ["Done"], state: resolved, status: 1000}
  default: {state: active, status: 4}
`))
	if got := custom.CaseState(helpdesk.Stage{Name: "done", Closed: true}); got != (StageOutcome{StateResolved, 1000}) {
		t.Errorf("custom rule: %v", got)
	}
	// Rules replace the default list: a closed "Cancelled" stage now falls
	// to the default.
	if got := custom.CaseState(stCancelled); got != (StageOutcome{StateActive, 4}) {
		t.Errorf("custom default: %v", got)
	}
}

func TestPriorities(t *testing.T) {
	mp := newMapper(t, nil)
	for key, want := range map[string]int{"0": 3, "1": 2, "2": 1, "3": 1, "": 3} {
		if got, err := mp.Priority(key); err != nil || got != want {
			t.Errorf("priority %q: %d %v, want %d", key, got, err, want)
		}
	}
	if _, err := mp.Priority("4"); err == nil {
		t.Error("priority 4 mapped")
	}
	custom := newMapper(t, mustMap(t, `priorities: {"3": 1, "2": 2}`))
	if got, _ := custom.Priority("2"); got != 2 {
		t.Errorf("custom priority 2 -> %d", got)
	}
	if got, _ := custom.Priority("0"); got != 3 {
		t.Errorf("merged default priority 0 -> %d", got)
	}
}

func ticket(edit func(*helpdesk.Ticket)) helpdesk.Ticket {
	t := helpdesk.Ticket{
		ID: 42, Number: "42", Name: "Printer on fire", Description: "<p>Hello,</p><p>it <b>burns</b> &amp; smokes.</p>", Active: true,
		Team: odoo.Many2One{ID: 1, Name: "Customer Care"}, Stage: odoo.Many2One{ID: 2, Name: "In Progress"},
		User: odoo.Many2One{ID: 6, Name: "Elena Petrova"}, Partner: odoo.Many2One{ID: 20, Name: "Ann Lee"},
		CommercialPartner: odoo.Many2One{ID: 10, Name: "Alder Dental"}, PartnerEmail: "ann@a.example", Priority: "2",
		Channel: odoo.Many2One{ID: 1, Name: "Email"}, CreateDate: time.Date(2025, 10, 1, 8, 0, 0, 0, time.UTC),
	}
	if edit != nil {
		edit(&t)
	}
	return t
}

func TestCases(t *testing.T) {
	mp := newMapper(t, nil)
	incBind := "/incidents(" + mp.IncidentID(42).String() + ")"
	partnerIDs := migrated{"contacts/20": true, "accounts/10": true, "users/6": true, "queues/1": true, "slas/1": true, "subjects/1": true}
	tests := []struct {
		name   string
		t      helpdesk.Ticket
		ids    Migrated
		m      string
		skip   string
		reject string
		check  func(*testing.T, Result)
	}{
		{name: "open ticket", t: ticket(nil), ids: partnerIDs, check: func(t *testing.T, r Result) {
			inc := one(t, r, "incident")
			want := map[string]any{
				"title": "Printer on fire", "ticketnumber": "42", "prioritycode": 1, "caseorigincode": 2, "emailaddress": "ann@a.example",
				"overriddencreatedon":           "2025-10-01T08:00:00Z",
				"customerid_account@odata.bind": "/accounts(" + mp.AccountID(10).String() + ")",
				"primarycontactid@odata.bind":   "/contacts(" + mp.ContactID(20).String() + ")",
				"ownerid@odata.bind":            "/systemusers(internalemailaddress='elena@odoo.example')",
				"slaid@odata.bind":              "/slas(" + ID("", "prod", modelTeamSLA, 1).String() + ")",
			}
			for k, v := range want {
				if inc.Fields[k] != v {
					t.Errorf("%s = %v, want %v", k, inc.Fields[k], v)
				}
			}
			if d := inc.Fields["description"].(string); d != "Hello,\nit burns & smokes.\n\n[Odoo ticket 42; channel: Email; stage: In Progress]" {
				t.Errorf("description %q", d)
			}
			if inc.State != nil {
				t.Errorf("open case has state %+v", inc.State)
			}
			qi := one(t, r, "queueitem")
			if qi.Fields["objectid_incident@odata.bind"] != incBind || qi.Fields["queueid@odata.bind"] != "/queues("+mp.QueueID(1).String()+")" {
				t.Errorf("queue item %v", qi.Fields)
			}
			if len(r.Records) != 2 || r.Records[0].Table != "incident" {
				t.Errorf("want incident then queue item, got %d records", len(r.Records))
			}
		}},
		{name: "customer as contact", m: "tickets: {customer: contact}", t: ticket(nil), ids: partnerIDs, check: func(t *testing.T, r Result) {
			inc := one(t, r, "incident")
			if inc.Fields["customerid_contact@odata.bind"] != "/contacts("+mp.ContactID(20).String()+")" || inc.Fields["customerid_account@odata.bind"] != nil {
				t.Errorf("customer %v", inc.Fields)
			}
		}},
		{name: "company partner is the account", t: ticket(func(t *helpdesk.Ticket) { t.Partner = odoo.Many2One{ID: 10} }), ids: partnerIDs, check: func(t *testing.T, r Result) {
			inc := one(t, r, "incident")
			if inc.Fields["customerid_account@odata.bind"] != "/accounts("+mp.AccountID(10).String()+")" || inc.Fields["primarycontactid@odata.bind"] != nil {
				t.Errorf("customer %v", inc.Fields)
			}
		}},
		{name: "individual without company", t: ticket(func(t *helpdesk.Ticket) { t.CommercialPartner = odoo.Many2One{ID: 20} }), ids: partnerIDs, check: func(t *testing.T, r Result) {
			if one(t, r, "incident").Fields["customerid_contact@odata.bind"] != "/contacts("+mp.ContactID(20).String()+")" {
				t.Error("not bound to the contact")
			}
		}},
		{name: "no partner rejected", t: ticket(func(t *helpdesk.Ticket) { t.Partner = odoo.Many2One{} }), ids: partnerIDs, reject: "no customer"},
		{name: "partner not migrated rejected", t: ticket(nil), ids: migrated{}, reject: "customer partner 20 of ticket 42 was not migrated"},
		{name: "fallback partner", m: "tickets: {fallback_partner: 10}", t: ticket(func(t *helpdesk.Ticket) { t.Partner = odoo.Many2One{} }), ids: partnerIDs,
			check: func(t *testing.T, r Result) {
				if one(t, r, "incident").Fields["customerid_account@odata.bind"] != "/accounts("+mp.AccountID(10).String()+")" {
					t.Error("not bound to the fallback account")
				}
			}},
		{name: "fallback not migrated", m: "tickets: {fallback_partner: 11}", t: ticket(func(t *helpdesk.Ticket) { t.Partner = odoo.Many2One{} }), ids: partnerIDs, reject: "fallback_partner 11"},
		{name: "solved ticket is resolved", t: ticket(func(t *helpdesk.Ticket) {
			t.Stage = odoo.Many2One{ID: 4, Name: "Solved"}
			t.Closed = true
			t.CloseDate = time.Date(2025, 10, 3, 9, 30, 0, 0, time.UTC)
		}), ids: partnerIDs, check: func(t *testing.T, r Result) {
			inc := one(t, r, "incident")
			if code, reason := stateOf(inc); code != 1 || reason != 5 || inc.State.Close == nil ||
				*inc.State.Close != (Resolution{Subject: "Resolved in Odoo (Solved)", ResolvedOn: "2025-10-03T09:30:00Z"}) {
				t.Errorf("resolved %+v", inc.State)
			}
		}},
		{name: "cancelled ticket", t: ticket(func(t *helpdesk.Ticket) { t.Stage = odoo.Many2One{ID: 5, Name: "Cancelled"}; t.Closed = true }), ids: partnerIDs,
			check: func(t *testing.T, r Result) {
				inc := one(t, r, "incident")
				if code, reason := stateOf(inc); code != 2 || reason != 6 || inc.State.Close != nil {
					t.Errorf("cancelled %+v", inc.State)
				}
			}},
		{name: "on hold", t: ticket(func(t *helpdesk.Ticket) { t.Stage = odoo.Many2One{ID: 3} }), ids: partnerIDs, check: func(t *testing.T, r Result) {
			inc := one(t, r, "incident")
			if code, reason := stateOf(inc); inc.State == nil || code != 0 || reason != 2 {
				t.Errorf("on hold %+v", inc.State)
			}
		}},
		{name: "unknown stage uses the ticket's closed flag", t: ticket(func(t *helpdesk.Ticket) { t.Stage = odoo.Many2One{ID: 77, Name: "Shipped"}; t.Closed = true }), ids: partnerIDs,
			check: func(t *testing.T, r Result) {
				if code, _ := stateOf(one(t, r, "incident")); code != 1 {
					t.Error("closed ticket in an unknown stage not resolved")
				}
			}},
		{name: "unmatched user falls back to default owner", m: "users: {default_owner: desk@contoso.example}", t: ticket(nil), ids: migrated{"contacts/20": true, "accounts/10": true},
			check: func(t *testing.T, r Result) {
				if one(t, r, "incident").Fields["ownerid@odata.bind"] != "/systemusers(internalemailaddress='desk@contoso.example')" {
					t.Error("default owner not used")
				}
				if len(r.Warnings) < 2 || !strings.Contains(r.Warnings[0], "owner falls back to users.default_owner desk@contoso.example") {
					t.Errorf("warnings %v, want unmatched user (naming the fallback owner) and team", r.Warnings)
				}
				if len(r.Records) != 1 {
					t.Error("queue item written for a team that was not migrated")
				}
			}},
		{name: "unmatched user without default owner", t: ticket(nil), ids: migrated{"contacts/20": true, "accounts/10": true},
			check: func(t *testing.T, r Result) {
				if _, ok := one(t, r, "incident").Fields["ownerid@odata.bind"]; ok {
					t.Error("owner bound without a match")
				}
				if len(r.Warnings) == 0 || !strings.Contains(r.Warnings[0], "users.default_owner is not set") {
					t.Errorf("warnings %v, want the unmatched user without a fallback", r.Warnings)
				}
			}},
		{name: "archived ticket skipped when configured", m: "tickets: {migrate_archived: false}", t: ticket(func(t *helpdesk.Ticket) { t.Active = false }), ids: partnerIDs, skip: "archived"},
		{name: "number format and empty reference", m: "tickets: {number: 'ODOO-{ref}'}", t: ticket(func(t *helpdesk.Ticket) { t.Number = ""; t.Name = "" }), ids: partnerIDs,
			check: func(t *testing.T, r Result) {
				inc := one(t, r, "incident")
				if inc.Fields["ticketnumber"] != "ODOO-42" || inc.Fields["title"] != "Odoo ticket 42" {
					t.Errorf("number %v title %v", inc.Fields["ticketnumber"], inc.Fields["title"])
				}
			}},
		{name: "bad priority rejected", t: ticket(func(t *helpdesk.Ticket) { t.Priority = "9" }), ids: partnerIDs, reject: "not mapped"},
		{name: "long description truncated", t: ticket(func(t *helpdesk.Ticket) { t.Description = strings.Repeat("x", 5000) }), ids: partnerIDs,
			check: func(t *testing.T, r Result) {
				d := one(t, r, "incident").Fields["description"].(string)
				if n := len([]rune(d)); n > 2000 || !strings.HasSuffix(d, "stage: In Progress]") {
					t.Errorf("description %d runes, ends %q", n, d[len(d)-30:])
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mp
			if tt.m != "" {
				m = newMapper(t, mustMap(t, tt.m))
			}
			r := m.Case(tt.t, tt.ids)
			checkOutcome(t, r, tt.skip, tt.reject)
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func TestSLAOutcomes(t *testing.T) {
	mp := newMapper(t, nil)
	s := helpdesk.SLAStatus{ID: 9, Ticket: odoo.Many2One{ID: 42}, SLA: odoo.Many2One{ID: 2, Name: "7 days"}, Status: "failed",
		Deadline: time.Date(2025, 10, 9, 17, 0, 0, 0, time.UTC), ExceededHours: 12.5}
	r := one(t, mp.SLAOutcome(s, all()), "slakpiinstance")
	want := map[string]any{"name": "7 days to finish", "status": 1, "failuretime": "2025-10-09T17:00:00Z",
		"description":                   "Odoo: failed, 12.50 working hours late",
		"regarding_incident@odata.bind": "/incidents(" + mp.IncidentID(42).String() + ")",
		"msdyn_slaitemid@odata.bind":    "/slaitems(" + ID("", "prod", modelSLA, 2).String() + ")"}
	for k, v := range want {
		if r.Fields[k] != v {
			t.Errorf("%s = %v, want %v", k, r.Fields[k], v)
		}
	}
	s.Status, s.Reached = "reached", time.Date(2025, 10, 8, 1, 0, 0, 0, time.UTC)
	r = one(t, mp.SLAOutcome(s, all()), "slakpiinstance")
	if r.Fields["status"] != 4 || r.Fields["succeededon"] != "2025-10-08T01:00:00Z" {
		t.Errorf("reached %v", r.Fields)
	}
	s.Status = "ongoing"
	if one(t, mp.SLAOutcome(s, all()), "slakpiinstance").Fields["status"] != 0 {
		t.Error("ongoing not In Progress")
	}
	s.Status = "weird"
	checkOutcome(t, mp.SLAOutcome(s, all()), "", "not mapped")
	checkOutcome(t, mp.SLAOutcome(s, migrated{"sla-items/2": true}), "", "case of ticket 42")
	checkOutcome(t, mp.SLAOutcome(s, migrated{"cases/42": true}), "", "SLA policy 2")
}

func TestNotes(t *testing.T) {
	mp := newMapper(t, nil)
	msg := helpdesk.Message{ID: 7, TicketID: 42, Date: time.Date(2025, 10, 2, 14, 5, 0, 0, time.UTC), Body: "<p>Any news?</p>",
		Author: odoo.Many2One{ID: 20, Name: "Ann Lee"}, EmailFrom: `"Ann Lee" <ann@a.example>`, MessageType: "email"}
	r := one(t, mp.Note(msg, all()), "annotation")
	if r.Fields["subject"] != "Email from Ann Lee" || r.Fields["overriddencreatedon"] != "2025-10-02T14:05:00Z" ||
		r.Fields["objectid_incident@odata.bind"] != "/incidents("+mp.IncidentID(42).String()+")" {
		t.Errorf("note %v", r.Fields)
	}
	if body := r.Fields["notetext"].(string); body != `<p><strong>Ann Lee</strong> · 2025-10-02 14:05 UTC · Email · &#34;Ann Lee&#34; &lt;ann@a.example&gt;</p><p>Any news?</p>` &&
		body != `<p><strong>Ann Lee</strong> · 2025-10-02 14:05 UTC · Email · &quot;Ann Lee&quot; &lt;ann@a.example&gt;</p><p>Any news?</p>` {
		t.Errorf("notetext %q", body)
	}
	if r.ID != ID("", "prod", "mail.message", 7) {
		t.Error("note ID not deterministic")
	}

	internal := msg
	internal.Internal, internal.MessageType, internal.Subject, internal.EmailFrom = true, "comment", "Escalate", ""
	r = one(t, mp.Note(internal, all()), "annotation")
	if r.Fields["subject"] != "Escalate" || !strings.Contains(r.Fields["notetext"].(string), "Internal note") {
		t.Errorf("internal note %v", r.Fields)
	}

	text := newMapper(t, mustMap(t, "messages: {format: text}"))
	r = one(t, text.Note(msg, all()), "annotation")
	if r.Fields["notetext"] != "Ann Lee · 2025-10-02 14:05 UTC · Email · \"Ann Lee\" <ann@a.example>\n\nAny news?" {
		t.Errorf("text note %q", r.Fields["notetext"])
	}

	notif := msg
	notif.MessageType = "notification"
	checkOutcome(t, mp.Note(notif, all()), "notification", "")
	empty := msg
	empty.Body = "<p> </p>"
	checkOutcome(t, mp.Note(empty, all()), "no text", "")
	checkOutcome(t, mp.Note(msg, none()), "", "case of ticket 42 was not migrated")

	long := msg
	long.Body = "<p>" + strings.Repeat("y", 150000) + "</p>"
	body := one(t, mp.Note(long, all()), "annotation").Fields["notetext"].(string)
	if n := len([]rune(body)); n > 100000 || !strings.Contains(body, "truncated by dvsync") {
		t.Errorf("long note: %d runes", n)
	}
}

func TestArticles(t *testing.T) {
	mp := newMapper(t, nil)
	a := helpdesk.Article{ID: 3, Name: "Invoices", Body: "<h2>Invoices</h2><p>Sent monthly.</p>", Parent: odoo.Many2One{ID: 2, Name: "Billing"},
		Published: true, Active: true, Raw: raw("create_date", "2025-11-03 10:12:00")}
	r := one(t, mp.Article(a), "knowledgearticle")
	want := map[string]any{"title": "Invoices", "content": a.Body, "keywords": "Help Center; Billing", "articlepublicnumber": "ODOO-KB-3",
		"isinternal": false, "description": "Invoices Sent monthly.", "overriddencreatedon": "2025-11-03T10:12:00Z"}
	for k, v := range want {
		if r.Fields[k] != v {
			t.Errorf("%s = %v, want %v", k, r.Fields[k], v)
		}
	}
	if code, reason := stateOf(r); code != 3 || reason != 7 {
		t.Errorf("published article state %v/%v", code, reason)
	}
	draft := a
	draft.Published, draft.Parent = false, odoo.Many2One{}
	r = one(t, mp.Article(draft), "knowledgearticle")
	if r.State != nil || r.Fields["isinternal"] != true || r.Fields["keywords"] != nil {
		t.Errorf("draft %v", r.Fields)
	}
	orphan := a
	orphan.Parent = odoo.Many2One{ID: 50, Name: "Unknown parent"}
	if k := one(t, mp.Article(orphan), "knowledgearticle").Fields["keywords"]; k != "Unknown parent" {
		t.Errorf("orphan keywords %v", k)
	}
	loop := newMapper(t, nil)
	loop.articles = map[int]ArticleNode{1: {Name: "A", Parent: 2}, 2: {Name: "B", Parent: 1}}
	if k := one(t, loop.Article(helpdesk.Article{ID: 9, Name: "x", Parent: odoo.Many2One{ID: 1}, Active: true}), "knowledgearticle").Fields["keywords"]; k != "B; A" {
		t.Errorf("cyclic tree keywords %v", k)
	}
	archived := a
	archived.Active = false
	checkOutcome(t, mp.Article(archived), "archived", "")
	keep := newMapper(t, mustMap(t, "articles: {migrate_archived: true}"))
	if r := one(t, keep.Article(archived), "knowledgearticle"); r.State == nil || r.State.Code != 5 || r.State.Reason != 12 {
		t.Errorf("archived article state %+v", r.State)
	}
	tmpl := a
	tmpl.Raw = raw("is_template", true)
	checkOutcome(t, mp.Article(tmpl), "template", "")
	checkOutcome(t, mp.Article(helpdesk.Article{ID: 4, Active: true}), "", "no title")
}

func TestHTMLToText(t *testing.T) {
	for in, want := range map[string]string{
		"":                                  "",
		"<p>a</p><p>b</p>":                  "a\nb",
		"<ul><li>one</li><li>two</li></ul>": "• one\n• two",
		"x<br/>y<br>z":                      "x\ny\nz",
		"<style>p{}</style><p>&lt;tag&gt; &amp;</p>":   "<tag> &",
		"<p>  lots   of\tspace </p>\n\n\n\n<p>end</p>": "lots of space\n\nend",
	} {
		if got := htmlToText(in); got != want {
			t.Errorf("htmlToText(%q) = %q, want %q", in, got, want)
		}
	}
	if first, last := splitName("  Jean  Luc Picard "); first != "Jean Luc" || last != "Picard" {
		t.Errorf("splitName: %q %q", first, last)
	}
}
