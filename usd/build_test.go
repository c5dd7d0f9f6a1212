package usd

import (
	"strings"
	"testing"
)

func TestBuilderAssociationsEitherSide(t *testing.T) {
	b := NewBuilder()
	b.AddRecord(Record{Entity: "msdyusd_configuration", ID: "{C0000000-0000-0000-0000-000000000001}", Fields: []Field{{Name: "msdyusd_name", Value: "Agents"}}})
	b.AddRecord(Record{Entity: "uii_hostedapplication", ID: "h1", Fields: []Field{{Name: "uii_name", Value: "Case"}, {Name: "msdyusd_crmwindowhosttype", Value: "803750023"}}})
	b.AddRecord(Record{Entity: "msdyusd_agentscriptaction", ID: "a1", Fields: []Field{{Name: "msdyusd_name", Value: "Parent"}}})
	b.AddRecord(Record{Entity: "msdyusd_agentscriptaction", ID: "a2", Fields: []Field{{Name: "msdyusd_name", Value: "Child"}}})
	// Written on the member side, as some exports do, with braces and capitals.
	b.AddAssociation(Association{Relationship: "msdyusd_configuration_hostedcontrol", SourceEntity: "uii_hostedapplication", SourceID: "H1",
		TargetIDs: []string{"c0000000-0000-0000-0000-000000000001"}})
	b.AddAssociation(Association{Relationship: "msdyusd_subactioncalls", SourceEntity: "msdyusd_agentscriptaction", SourceID: "a1", TargetIDs: []string{"a2", "a2"}})
	b.AddAssociation(Association{Relationship: "msdyusd_unknown", SourceEntity: "uii_hostedapplication", SourceID: "h1", TargetIDs: []string{"x"}})
	// Duplicate and id-less rows.
	b.AddRecord(Record{Entity: "uii_hostedapplication", ID: "h1", Fields: []Field{{Name: "uii_name", Value: "Case again"}}})
	b.AddRecord(Record{Entity: "uii_hostedapplication", Fields: []Field{{Name: "uii_name", Value: "No id"}}})
	b.AddRecord(Record{Entity: "uii_hostedapplication", ID: "h2", Fields: []Field{{Name: "uii_name", Value: "Bad"}, {Name: "uii_sortorder", Value: "first"}, {Name: "uii_isglobalapplication", Value: "yes"}}})
	m := b.Model()

	if got := m.Configurations[0].Members[KindHostedControl]; len(got) != 1 || got[0] != "h1" {
		t.Errorf("members = %v", m.Configurations[0].Members)
	}
	if got := m.ActionCall("a1").SubActionCalls; len(got) != 1 || got[0] != "a2" {
		t.Errorf("sub action calls = %v", got)
	}
	if m.HostedControl("h1").Name != "Case" || len(m.HostedControls) != 2 {
		t.Errorf("hosted controls = %+v", m.HostedControls)
	}
	var msgs []string
	for _, p := range m.Problems {
		msgs = append(msgs, p.String())
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{
		"field msdyusd_unknown: relationship is not part of",
		`uii_hostedapplication record h1 ("Case again"): duplicate record id`,
		"field uii_hostedapplicationid: record has no id",
		`record h2 ("Bad") field uii_sortorder: value "first" is not an integer`,
		`field uii_isglobalapplication: value "yes" is not a boolean`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no problem %q in:\n%s", want, all)
		}
	}
}
