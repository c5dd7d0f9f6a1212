package usd

import (
	"strings"
	"testing"
)

func TestTranslateParams(t *testing.T) {
	tests := []struct {
		in     string
		ctx    SlugContext
		anchor string
		want   string
		kinds  []SlugIssueKind
	}{
		{"[[incident.title]]", SlugTemplate, "incident", "{anchor.title}", nil},
		{"[[incident.title]]", SlugMacro, "incident", "${anchor.title}", nil},
		{"[[incident.Id]]", SlugTemplate, "incident", "{anchor.incidentid}", nil},
		{"[[email.Id]]", SlugMacro, "email", "${anchor.activityid}", nil},
		{"[[incident.customerid.Id]]", SlugMacro, "incident", "${anchor._customerid_value}", nil},
		{"[[incident.customerid.name]]", SlugTemplate, "incident", "{anchor._customerid_value@OData.Community.Display.V1.FormattedValue}", nil},
		{"Case [[incident.ticketnumber]]: [[incident.title]+]", SlugTemplate, "incident", "Case {anchor.ticketnumber}: {anchor.title}", nil},
		{"[[contact.fullname]]", SlugTemplate, "incident", "{customerName}", []SlugIssueKind{SlugApproximate}},
		{"[[account.Id]]", SlugMacro, "incident", "${anchor._customerid_value}", []SlugIssueKind{SlugApproximate}},
		{"q=[[contact.fullname]u]", SlugTemplate, "contact", "q={anchor.fullname}", []SlugIssueKind{SlugApproximate}},
		{"[[$Context.casenumber]]", SlugMacro, "", "${$session.casenumber}", []SlugIssueKind{SlugApproximate}},
		{"[[$Context.casenumber]]", SlugTemplate, "", "[[$Context.casenumber]]", []SlugIssueKind{SlugUnsupported}},
		{"[[$Return.Find Order]]", SlugMacro, "incident", "[[$Return.Find Order]]", []SlugIssueKind{SlugUnsupported}},
		{"[[script.CaseAge]]", SlugTemplate, "incident", "[[script.CaseAge]]", []SlugIssueKind{SlugUnsupported}},
		{"[[Contact.fullname]]", SlugTemplate, "contact", "[[Contact.fullname]]", []SlugIssueKind{SlugUnsupported}},
		{"[[account.name]]", SlugTemplate, "", "[[account.name]]", []SlugIssueKind{SlugUnsupported}},
		{"[[incident.title]g]", SlugTemplate, "incident", "[[incident.title]g]", []SlugIssueKind{SlugUnsupported}},
		{"$Multiline([[incident.description]$])", SlugMacro, "incident", "${anchor.description}", nil},
		{"due $Expression(1+1)", SlugMacro, "incident", "due $Expression(1+1)", []SlugIssueKind{SlugUnsupported}},
		{"[[incident.title]q]", SlugTemplate, "incident", "[[incident.title]q]", []SlugIssueKind{SlugUnsupported}},
	}
	for _, tt := range tests {
		got := TranslateParams(tt.in, tt.ctx, tt.anchor)
		if got.Text != tt.want {
			t.Errorf("%q: text %q, want %q", tt.in, got.Text, tt.want)
		}
		var kinds []string
		for _, i := range got.Issues {
			kinds = append(kinds, string(i.Kind))
		}
		var want []string
		for _, k := range tt.kinds {
			want = append(want, string(k))
		}
		if strings.Join(kinds, ",") != strings.Join(want, ",") {
			t.Errorf("%q: issues %v, want %v (%+v)", tt.in, kinds, want, got.Issues)
		}
	}
}

func TestParseActionData(t *testing.T) {
	lines := ParseActionData("LogicalName=incident\r\nid=[[incident.Id]]\r\n\r\ntitle=a=b")
	if len(lines) != 3 || lines[2].Name != "title" || lines[2].Value != "a=b" {
		t.Fatalf("lines = %+v", lines)
	}
	if v, ok := DataValue(lines, "logicalname"); !ok || v != "incident" {
		t.Errorf("DataValue = %q %v", v, ok)
	}
	bare := ParseActionData("Greeting")
	if len(bare) != 1 || bare[0].Name != "" || bare[0].Value != "Greeting" {
		t.Errorf("bare = %+v", bare)
	}
	js := ParseActionData(`function f(){ x = 1; }`)
	if len(js) != 1 || js[0].Name != "" {
		t.Errorf("script line parsed as name=value: %+v", js)
	}
}
