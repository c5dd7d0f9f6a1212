package canonical

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Side names a system.
type Side string

// The two sides of an Odoo ↔ Dataverse comparison.
const (
	Odoo      Side = "odoo"
	Dataverse Side = "dataverse"
)

// Class is how one field of a matched pair compares, as dbt audit_helper's
// compare_column_values classifies it.
type Class string

// Field classes.
const (
	Equal            Class = "equal"
	BothEmpty        Class = "both_empty"
	EmptyInOdoo      Class = "empty_in_odoo"
	EmptyInDataverse Class = "empty_in_dataverse"
	Differs          Class = "differs"
)

// Classes lists the field classes in report order.
var Classes = []Class{Equal, BothEmpty, EmptyInOdoo, EmptyInDataverse, Differs}

// IsDifference reports whether a class counts as a difference: anything
// but equal and both empty.
func (c Class) IsDifference() bool { return c != Equal && c != BothEmpty }

// Values are the normalised values of the rule's fields, in Rules.Fields
// order; the side matters only for the text rules that undo what the
// migration did to one side (footer, HTML).
func (md *Model) Values(side Side, t Ticket) []string {
	out := make([]string, len(md.rules.Fields))
	for i, f := range md.rules.Fields {
		out[i] = md.Value(side, f, t)
	}
	return out
}

// Value is the normalised value of one field.
func (md *Model) Value(side Side, field string, t Ticket) string {
	r := md.rules
	switch field {
	case FieldTitle:
		return r.text(t.Title)
	case FieldDescription:
		d := t.Description
		if side == Dataverse && r.StripMigrationFooter {
			d = StripFooter(d)
		}
		return r.text(d)
	case FieldCustomerEmail:
		e := strings.TrimSpace(t.CustomerEmail)
		if r.CaseInsensitiveEmail {
			e = strings.ToLower(e)
		}
		return e
	case FieldState:
		return t.State
	case FieldStatus:
		return md.choice("statuscode", t.StatusCode)
	case FieldPriority:
		return md.choice("prioritycode", t.PriorityCode)
	case FieldChannel:
		return md.choice("caseorigincode", t.ChannelCode)
	case FieldCreated:
		return r.Time(t.Created)
	case FieldResolveBy:
		return r.Time(t.ResolveBy)
	case FieldClosed:
		return md.ClosedValue(t.State, t.Closed)
	}
	return ""
}

func (md *Model) choice(col string, v int) string {
	if v == 0 {
		return ""
	}
	if md.rules.ChoiceLabels {
		return md.label(col, v)
	}
	return strconv.Itoa(v)
}

// ClosedValue is the comparable resolution time: only a resolved ticket
// has one (a cancelled case has no resolution in Dataverse).
func (md *Model) ClosedValue(state string, closed time.Time) string {
	if state != "resolved" {
		return ""
	}
	return md.rules.Time(closed)
}

// Time formats an instant in the rules' zone at their precision ("" for
// the zero time).
func (r Rules) Time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Truncate(r.Precision).In(r.Location).Format(time.RFC3339)
}

var (
	hspace = regexp.MustCompile(`[ \t\f\v\x{00a0}]+`)
	blanks = regexp.MustCompile(`\n{3,}`)
)

// text applies trim_space: line endings to \n, runs of blanks to one
// space, each line trimmed, at most one empty line in a row, the whole
// trimmed.
func (r Rules) text(s string) string {
	if !r.TrimSpace {
		return s
	}
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		// The regular expression only where there is something to do:
		// most lines of most tickets are already clean.
		if strings.ContainsAny(l, "\t\f\v\u00a0") || strings.Contains(l, "  ") {
			l = hspace.ReplaceAllString(l, " ")
		}
		lines[i] = strings.TrimSpace(l)
	}
	return strings.TrimSpace(blanks.ReplaceAllString(strings.Join(lines, "\n"), "\n\n"))
}

// footerStart opens the facts footer the migration appends to a case
// description (mapping/odoodv Case).
const footerStart = "[Odoo ticket "

// StripFooter removes the migration's "[Odoo ticket …]" footer from the
// end of a case description.
func StripFooter(s string) string {
	t := strings.TrimRight(s, " \t\r\n")
	i := strings.LastIndex(t, footerStart)
	if i < 0 || !strings.HasSuffix(t, "]") {
		return s
	}
	return strings.TrimRight(t[:i], " \t\r\n")
}

// Classify compares the normalised values of one field: o from Odoo, d
// from Dataverse.
func (md *Model) Classify(field, o, d string) Class {
	switch {
	case o == d && o == "":
		return BothEmpty
	case o == d:
		return Equal
	case o == "":
		return EmptyInOdoo
	case d == "":
		return EmptyInDataverse
	case md.rules.TruncatedPrefix && (field == FieldTitle || field == FieldDescription) && truncatedOf(d, o):
		return Equal
	}
	return Differs
}

// truncatedOf reports whether cut is long cut short with an ellipsis, as
// the migration cuts texts to a column's length.
func truncatedOf(cut, long string) bool {
	p, ok := strings.CutSuffix(cut, "…")
	if !ok || len(long) <= len(p) {
		return false
	}
	return strings.HasPrefix(long, strings.TrimRight(p, " \n"))
}
