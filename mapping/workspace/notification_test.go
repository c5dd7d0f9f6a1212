package workspace_test

import (
	"strings"
	"testing"

	"github.com/dvsync/dvsync/mapping/workspace"
	"github.com/dvsync/dvsync/usd"
)

// popupModel is a model with one Popup Notification control, its Show
// action and, when showData is not "-", one Show action call; forms are
// name → markup.
func popupModel(showData string, forms map[string]string) *usd.Model {
	m := &usd.Model{
		HostedControls: []*usd.HostedControl{{ID: "hc1", Name: "Call Popup", DisplayName: "Incoming call", ComponentType: usd.PopupNotification, Global: true}},
		Actions:        []*usd.Action{{ID: "a1", Name: "Show", HostedControlID: "hc1"}},
	}
	if showData != "-" {
		m.ActionCalls = []*usd.ActionCall{{ID: "ac1", Name: "Popup - Show", HostedControlID: "hc1", ActionID: "a1", Data: showData, Order: 1}}
	}
	for name, markup := range forms {
		m.Forms = append(m.Forms, &usd.Form{ID: "f-" + name, Name: name, Markup: markup})
	}
	return m
}

const xamlNS = `xmlns="http://schemas.microsoft.com/winfx/2006/xaml/presentation" xmlns:x="http://schemas.microsoft.com/winfx/2006/xaml" ` +
	`xmlns:CCA="clr-namespace:Microsoft.Crm.UnifiedServiceDesk.Dynamics;assembly=Microsoft.Crm.UnifiedServiceDesk.Dynamics"`

func TestNotificationTemplates(t *testing.T) {
	type field struct{ title, value string }
	cases := []struct {
		name     string
		showData string
		forms    map[string]string
		// want: template columns (absent key = must not be written), fields
		// in order, and substrings of the template's diagnostics.
		template map[string]any
		absent   []string
		fields   []field
		diags    []string
	}{
		{
			name:     "full form",
			showData: "formname=Call\r\ntop=10\r\nleft=10\r\ntimeout=30",
			forms: map[string]string{"Call": `<Grid ` + xamlNS + `>
				<Grid.Resources><Style x:Key="s"><Setter Property="Text" Value="ignored"/></Style></Grid.Resources>
				<TextBlock Text="Customer:"/><TextBlock Text="[[contact.fullname]+]"/>
				<TextBlock>Case: [[incident.title]]</TextBlock>
				<TextBlock><Run Text="Closes in "/><Run Text="{Binding TimeoutProperty}"/></TextBlock>
				<Button Command="CCA:ActionCommands.UIIEvent" CommandParameter="Ok">Take call</Button>
				<Button Command="CCA:ActionCommands.UIIEvent" CommandParameter="Cancel?reason=busy" Content="Decline"/>
				<Button Command="CCA:ActionCommands.DoActionCommand" CommandParameter="https://actioncall/Open+Contact">Open</Button>
			</Grid>`},
			template: map[string]any{"msdyn_title": "Incoming call", "msdyn_name": "Call Popup", "msdyn_timeout": 30,
				"msdyn_showtimeout": true, "msdyn_acceptbuttontext": "Take call", "msdyn_showrejectbutton": true,
				"msdyn_rejectbuttontext": "Decline", "msdyn_autoacceptnotification": false, "msdyn_desktopnotificationmode": 509180000},
			fields: []field{{"Customer", "{customerName}"}, {"Case", "{caseTitle}"}},
			diags:  []string{`"Open" runs https://actioncall/Open+Contact`, `static form text not carried over`, `"Closes in"`},
		},
		{
			name:     "show data passed to the form, no timeout, no cancel button",
			showData: "formname=Call\r\ncaller=[[contact.fullname]+]",
			forms:    map[string]string{"Call": `<Grid ` + xamlNS + `><TextBlock Text="Caller [[caller]+]"/></Grid>`},
			template: map[string]any{"msdyn_timeout": 120, "msdyn_showtimeout": false, "msdyn_showrejectbutton": false, "msdyn_acceptbuttontext": "Accept"},
			absent:   []string{"msdyn_rejectbuttontext"},
			fields:   []field{{"Caller", "{customerName}"}},
			diags:    []string{"stayed until closed", "has no Cancel button"},
		},
		{
			name:     "timeout above the template maximum",
			showData: "formname=Call\r\ntimeout=900",
			forms:    map[string]string{"Call": `<Grid ` + xamlNS + `><TextBlock Text="Queue: [[queue.Id]]"/></Grid>`},
			template: map[string]any{"msdyn_timeout": 500},
			fields:   []field{{"Queue", "{queueId}"}},
			diags:    []string{"above the 500 s"},
		},
		{
			name:     "timeout that is not a number",
			showData: "formname=Call\r\ntimeout=[[$Global.PopupTimeout]]",
			forms:    map[string]string{"Call": `<Grid ` + xamlNS + `><TextBlock Text="Case [[incident.Id]]"/></Grid>`},
			template: map[string]any{"msdyn_timeout": 120},
			fields:   []field{{"Case", "{caseId}"}},
			diags:    []string{"not a positive whole number"},
		},
		{
			name:     "form missing from the export: fields from the Show data",
			showData: "formname=Gone\r\ntimeout=20\r\ntitle=Call from [[account.name]]\r\nAccount=[[account.name]]\r\nANI=[[$Context.ani]]",
			template: map[string]any{"msdyn_title": "Call from {customerName}", "msdyn_timeout": 20, "msdyn_rejectbuttontext": "Reject"},
			absent:   []string{"msdyn_showtimeout", "msdyn_showrejectbutton"},
			fields:   []field{{"Account", "{customerName}"}, {"ANI", "[[$Context.ani]]"}},
			diags:    []string{`form "Gone" named by action call "Popup - Show" is not in the export`},
		},
		{
			name:     "malformed markup",
			showData: "formname=Bad\r\ntimeout=10\r\nCase=[[incident.title]]",
			forms:    map[string]string{"Bad": `<Grid ` + xamlNS + `><TextBlock Text="x"></Grid>`},
			template: map[string]any{"msdyn_timeout": 10},
			fields:   []field{{"Case", "{caseTitle}"}},
			diags:    []string{`form "Bad" markup is not well-formed XAML`},
		},
		{
			name:     "form without parameters",
			showData: "formname=Plain\r\ntimeout=10",
			forms:    map[string]string{"Plain": `<Grid ` + xamlNS + `><TextBlock Text="Please wait"/></Grid>`},
			template: map[string]any{"msdyn_timeout": 10},
			diags:    []string{"no notification fields recovered", `"Please wait"`},
		},
		{
			name:     "no Show action call",
			showData: "-",
			template: map[string]any{"msdyn_title": "Incoming call", "msdyn_timeout": 120},
			diags:    []string{"no Show action call"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := workspace.Translate(popupModel(tc.showData, tc.forms), workspace.Options{})
			if err != nil {
				t.Fatal(err)
			}
			tpl := find(r, "msdyn_notificationtemplate", "dvs_notification_call_popup")
			if tpl == nil {
				t.Fatalf("no notification template in %+v", r.Records)
			}
			for k, want := range tc.template {
				if got := tpl.Fields[k]; got != want {
					t.Errorf("%s = %#v, want %#v", k, got, want)
				}
			}
			for _, k := range tc.absent {
				if v, ok := tpl.Fields[k]; ok {
					t.Errorf("%s written (%#v); nothing in USD says what it should be", k, v)
				}
			}
			var got []field
			for _, rec := range r.Records {
				if rec.Table == "msdyn_notificationfield" {
					got = append(got, field{rec.Fields["msdyn_title"].(string), rec.Fields["msdyn_value"].(string)})
					if rec.Fields["msdyn_order"] != len(got) {
						t.Errorf("field %s order %v, want %d", rec.UniqueName, rec.Fields["msdyn_order"], len(got))
					}
					linked := false
					for _, a := range r.Associations {
						linked = linked || (a.Relationship == "msdyn_notificationtemplate_notificationfield" && a.From == tpl.Ref() && a.To == rec.Ref())
					}
					if !linked {
						t.Errorf("field %s not associated with the template", rec.UniqueName)
					}
				}
			}
			if len(got) != len(tc.fields) {
				t.Fatalf("fields %q, want %q", got, tc.fields)
			}
			for i := range got {
				if got[i] != tc.fields[i] {
					t.Errorf("field %d = %q, want %q", i+1, got[i], tc.fields[i])
				}
			}
			var msgs []string
			for _, d := range r.Diagnostics {
				if d.Source.ID == "hc1" {
					msgs = append(msgs, string(d.Severity)+": "+d.Message)
				}
			}
			all := strings.Join(msgs, "\n")
			for _, want := range append(tc.diags, "notification settings of the workstream or channel") {
				if !strings.Contains(all, want) {
					t.Errorf("diagnostics lack %q:\n%s", want, all)
				}
			}
		})
	}
}

// Action calls on the popup's Ok event have no notification hook: a
// warning says so against the template.
func TestNotificationOkEventWarned(t *testing.T) {
	m := popupModel("formname=F\r\ntimeout=5", map[string]string{"F": `<Grid ` + xamlNS + `><TextBlock Text="[[incident.title]]"/></Grid>`})
	m.Actions = append(m.Actions, &usd.Action{ID: "a2", Name: "Close", HostedControlID: "hc1"})
	m.ActionCalls = append(m.ActionCalls, &usd.ActionCall{ID: "ac2", Name: "Popup - Close", HostedControlID: "hc1", ActionID: "a2", Order: 2})
	m.Events = []*usd.Event{{ID: "ev1", Name: "Ok", HostedControlID: "hc1", ActionCalls: []string{"ac2"}}}
	r, err := workspace.Translate(m, workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range r.Diagnostics {
		found = found || (d.Source.ID == "ev1" && d.Severity == workspace.Warning && d.Target != nil &&
			d.Target.Table == "msdyn_notificationtemplate" && strings.Contains(d.Message, "accept only opens"))
	}
	if !found {
		t.Errorf("no warning about the Ok event: %+v", r.Diagnostics)
	}
	// The lone text has no label: the header is the parameter's name.
	if f := find(r, "msdyn_notificationfield", "dvs_notification_call_popup_01"); f == nil || f.Fields["msdyn_title"] != "incident.title" || f.Fields["msdyn_value"] != "{caseTitle}" {
		t.Errorf("field = %+v", f)
	}
}

// An unsupported parameter is kept verbatim and reported as a warning
// against the field that holds it.
func TestNotificationFieldUnsupportedParam(t *testing.T) {
	r, err := workspace.Translate(popupModel("formname=F\r\ntimeout=5", map[string]string{
		"F": `<Grid ` + xamlNS + `><TextBlock Text="Agent: [[$User.fullname]]"/></Grid>`}), workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range r.Diagnostics {
		if d.Target != nil && d.Target.Table == "msdyn_notificationfield" && d.Severity == workspace.Warning && strings.Contains(d.Message, "[[$User.fullname]] unsupported") {
			return
		}
	}
	t.Errorf("no warning for the unsupported parameter: %+v", r.Diagnostics)
}
