package canonical

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dvsync/dvsync/mapping/odoodv"
	"github.com/dvsync/dvsync/odoo"
	"github.com/dvsync/dvsync/odoo/helpdesk"
)

func model(t *testing.T, edit func(*odoodv.Map)) *Model {
	t.Helper()
	m := odoodv.DefaultMap()
	if edit != nil {
		edit(m)
	}
	md, err := New(m)
	if err != nil {
		t.Fatal(err)
	}
	return md
}

func TestClassify(t *testing.T) {
	md := model(t, nil)
	for _, c := range []struct {
		field, o, d string
		want        Class
	}{
		{FieldTitle, "Printer jam", "Printer jam", Equal},
		{FieldTitle, "", "", BothEmpty},
		{FieldTitle, "", "Printer jam", EmptyInOdoo},
		{FieldTitle, "Printer jam", "", EmptyInDataverse},
		{FieldTitle, "Printer jam", "Printer on fire", Differs},
		{FieldTitle, "Printer jam in the north wing", "Printer jam…", Equal},
		{FieldTitle, "Printer", "Printer jam…", Differs},
		{FieldDescription, "abc def", "abc…", Equal},
		{FieldStatus, "In Progress", "On Hold", Differs},
	} {
		if got := md.Classify(c.field, c.o, c.d); got != c.want {
			t.Errorf("Classify(%s, %q, %q) = %s, want %s", c.field, c.o, c.d, got, c.want)
		}
	}
	off := model(t, func(m *odoodv.Map) { m.Compare.TruncatedPrefix = false })
	if got := off.Classify(FieldTitle, "Printer jam in the north wing", "Printer jam…"); got != Differs {
		t.Errorf("truncated_prefix off: %s, want differs", got)
	}
	for _, c := range Classes {
		if c.IsDifference() != (c != Equal && c != BothEmpty) {
			t.Errorf("%s.IsDifference wrong", c)
		}
	}
}

func odooTicket() helpdesk.Ticket {
	return helpdesk.Ticket{ID: 7, Number: "07", Name: "  Cannot  log in ", Description: "<p>Hello,</p><p>the portal&nbsp;says <b>no</b>.</p>",
		PartnerEmail: "Ingrid@Example.com", Stage: odoo.Many2One{ID: 4, Name: "Solved"}, Closed: true, Priority: "2",
		Channel: odoo.Many2One{ID: 1, Name: "Email"}, CreateDate: time.Date(2025, 12, 20, 18, 14, 29, 0, time.UTC),
		SLADeadline: time.Date(2025, 12, 24, 18, 14, 29, 0, time.UTC), CloseDate: time.Date(2025, 12, 22, 8, 0, 0, 0, time.UTC)}
}

func dvCase() map[string]any {
	return map[string]any{"incidentid": "8aa2d854-fd2c-587f-98d5-7e283ec390ce", "ticketnumber": "07", "title": "Cannot log in",
		"description":  "Hello,\nthe portal says no.\n\n[Odoo ticket 07; channel: Email; stage: Solved]",
		"emailaddress": "ingrid@example.com", "statecode": 1, "statuscode": 5, "prioritycode": 1, "caseorigincode": 2,
		"createdon": "2025-12-20T18:14:29Z", "resolveby": "2025-12-24T18:14:29Z"}
}

// TestCleanMigrationIsEqual: a ticket and the case the migration made of
// it compare equal on every field under the default rules.
func TestCleanMigrationIsEqual(t *testing.T) {
	md := model(t, nil)
	o := md.FromOdoo(odooTicket())
	d, err := md.FromDataverse(dvCase())
	if err != nil {
		t.Fatal(err)
	}
	// The resolution time comes from the case resolution, not the case.
	d.Closed = time.Date(2025, 12, 22, 8, 0, 0, 0, time.UTC)
	ov, dv := md.Values(Odoo, o), md.Values(Dataverse, d)
	for i, f := range md.Rules().Fields {
		if c := md.Classify(f, ov[i], dv[i]); c != Equal {
			t.Errorf("%s: %s (odoo %q, dataverse %q)", f, c, ov[i], dv[i])
		}
	}
	if o.State != "resolved" || md.StatusLabel(o) != "Problem Solved" || md.PriorityLabel(d) != "High" || md.ChannelLabel(d) != "Email" {
		t.Errorf("labels: %s %s %s %s", o.State, md.StatusLabel(o), md.PriorityLabel(d), md.ChannelLabel(d))
	}
}

// TestNormalisationRules switches each rule off (or changes it) and checks
// that the values it reconciles then differ, or compare as configured.
func TestNormalisationRules(t *testing.T) {
	for _, c := range []struct {
		name  string
		edit  func(*odoodv.Map)
		field string
		odoo  func(*helpdesk.Ticket)
		dv    func(map[string]any)
		want  Class
	}{
		{"trim_space on", nil, FieldTitle, nil, func(r map[string]any) { r["title"] = "Cannot log in \r\n" }, Equal},
		{"trim_space off", func(m *odoodv.Map) { m.Compare.TrimSpace = false }, FieldTitle, nil, nil, Differs},
		{"html as text", nil, FieldDescription, nil, nil, Equal},
		{"html raw", func(m *odoodv.Map) { m.Compare.Description = "html" }, FieldDescription, nil, nil, Differs},
		{"footer kept", func(m *odoodv.Map) { m.Compare.StripMigrationFooter = false }, FieldDescription, nil, nil, Differs},
		{"footer only is empty", nil, FieldDescription, func(t *helpdesk.Ticket) { t.Description = "" },
			func(r map[string]any) { r["description"] = "[Odoo ticket 07]" }, BothEmpty},
		{"email case-insensitive", nil, FieldCustomerEmail, nil, nil, Equal},
		{"email case-sensitive", func(m *odoodv.Map) { m.Compare.CaseInsensitiveEmail = false }, FieldCustomerEmail, nil, nil, Differs},
		{"precision 1s", nil, FieldCreated, nil, func(r map[string]any) { r["createdon"] = "2025-12-20T18:14:30Z" }, Differs},
		{"precision 1m", func(m *odoodv.Map) { m.Compare.TimePrecision = "1m" }, FieldCreated, nil,
			func(r map[string]any) { r["createdon"] = "2025-12-20T18:14:59Z" }, Equal},
		{"time zone offset is the same instant", func(m *odoodv.Map) { m.Compare.TimeZone = "Europe/Oslo" }, FieldCreated, nil,
			func(r map[string]any) { r["createdon"] = "2025-12-20T19:14:29+01:00" }, Equal},
		{"choice label: priorities 2 and 3 are both High", nil, FieldPriority, func(t *helpdesk.Ticket) { t.Priority = "3" }, nil, Equal},
		{"choice value", func(m *odoodv.Map) { m.Compare.Choices = "value" }, FieldPriority, nil, nil, Equal},
		{"custom stage map honoured", func(m *odoodv.Map) {
			m.Stages.Rules = append([]odoodv.StageRule{{Names: []string{"Solved"}, StageOutcome: odoodv.StageOutcome{State: "resolved", Status: 1000}}}, m.Stages.Rules...)
		}, FieldStatus, nil, func(r map[string]any) { r["statuscode"] = 1000 }, Equal},
		{"stage differs", nil, FieldStatus, nil, func(r map[string]any) { r["statecode"], r["statuscode"] = 0, 2 }, Differs},
		{"unmapped channel is no channel", nil, FieldChannel, func(t *helpdesk.Ticket) { t.Channel.Name = "Fax" },
			func(r map[string]any) { delete(r, "caseorigincode") }, BothEmpty},
		{"channel missing in Dataverse", nil, FieldChannel, nil, func(r map[string]any) { delete(r, "caseorigincode") }, EmptyInDataverse},
		{"resolve by missing in Odoo", nil, FieldResolveBy, func(t *helpdesk.Ticket) { t.SLADeadline = time.Time{} }, nil, EmptyInOdoo},
		{"a cancelled ticket has no resolution time", nil, FieldClosed, func(t *helpdesk.Ticket) { t.Stage.Name = "Cancelled" },
			func(r map[string]any) { r["statecode"], r["statuscode"] = 2, 6 }, BothEmpty},
	} {
		t.Run(c.name, func(t *testing.T) {
			md := model(t, c.edit)
			ot, dr := odooTicket(), dvCase()
			if c.odoo != nil {
				c.odoo(&ot)
			}
			if c.dv != nil {
				c.dv(dr)
			}
			d, err := md.FromDataverse(dr)
			if err != nil {
				t.Fatal(err)
			}
			o := md.FromOdoo(ot)
			ov, dv := md.Value(Odoo, c.field, o), md.Value(Dataverse, c.field, d)
			if got := md.Classify(c.field, ov, dv); got != c.want {
				t.Errorf("%s: %s, want %s (odoo %q, dataverse %q)", c.field, got, c.want, ov, dv)
			}
		})
	}
}

func TestBadRulesNameTheKey(t *testing.T) {
	for _, c := range []struct {
		edit func(*odoodv.Map)
		key  string
	}{
		{func(m *odoodv.Map) { m.Compare.TimeZone = "Mars/Olympus" }, "compare.time_zone"},
		{func(m *odoodv.Map) { m.Compare.TimePrecision = "-1s" }, "compare.time_precision"},
		{func(m *odoodv.Map) { m.Compare.Description = "markdown" }, "compare.description"},
		{func(m *odoodv.Map) { m.Compare.Choices = "colour" }, "compare.choices"},
		{func(m *odoodv.Map) { m.Compare.Fields = []string{"title", "colour"} }, "compare.fields"},
	} {
		m := odoodv.DefaultMap()
		c.edit(m)
		_, err := New(m)
		var me *odoodv.MapError
		if !errors.As(err, &me) || !strings.Contains(err.Error(), c.key) {
			t.Errorf("want a map error naming %s, got %v", c.key, err)
		}
	}
	if _, err := odoodv.ParseMap([]byte("compare:\n  colour: red\n")); err == nil || !strings.Contains(err.Error(), "colour") {
		t.Errorf("unknown compare key: %v", err)
	}
}

func TestStripFooter(t *testing.T) {
	for in, want := range map[string]string{
		"text\n\n[Odoo ticket 1; tags: a]":    "text",
		"[Odoo ticket 1]":                     "",
		"text without footer":                 "text without footer",
		"text [Odoo ticket 1] then more text": "text [Odoo ticket 1] then more text",
	} {
		if got := StripFooter(in); got != want {
			t.Errorf("StripFooter(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTeamsCountUnderTheirQueueName(t *testing.T) {
	md := model(t, func(m *odoodv.Map) { m.Teams.QueueName = "Odoo {name} ({id})" })
	tk := odooTicket()
	tk.Team = odoo.Many2One{ID: 3, Name: "Customer Care"}
	if got := md.FromOdoo(tk).Team; got != "Odoo Customer Care (3)" {
		t.Errorf("team %q", got)
	}
	tk.Team = odoo.Many2One{}
	if got := md.FromOdoo(tk).Team; got != "" {
		t.Errorf("no team: %q", got)
	}
}
