package csrules

import (
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
)

// Condition is a parsed applicablewhenxml / successconditionsxml: the
// FetchXML <filter> the SLA designer writes ("Applicable When" and "Success
// Criteria" of an SLA item, learn.microsoft.com/dynamics365/customer-service/
// administer/define-service-level-agreements). An empty text holds always.
type Condition struct {
	root *xmlFilter
}

type xmlFilter struct {
	XMLName    xml.Name
	Type       string         `xml:"type,attr"`
	Conditions []xmlCondition `xml:"condition"`
	Filters    []xmlFilter    `xml:"filter"`
	// Some writers use <and>/<or> elements for groups instead of
	// <filter type="...">.
	Ands []xmlFilter `xml:"and"`
	Ors  []xmlFilter `xml:"or"`
}

// kind is the group's operator: the type attribute, or the element name
// for <and>/<or>.
func (f *xmlFilter) or() bool {
	if f.Type != "" {
		return strings.EqualFold(f.Type, "or")
	}
	return strings.EqualFold(f.XMLName.Local, "or")
}

func (f *xmlFilter) groups() []*xmlFilter {
	out := make([]*xmlFilter, 0, len(f.Filters)+len(f.Ands)+len(f.Ors))
	for _, list := range [][]xmlFilter{f.Filters, f.Ands, f.Ors} {
		for i := range list {
			out = append(out, &list[i])
		}
	}
	return out
}

type xmlCondition struct {
	Attribute  string   `xml:"attribute,attr"`
	Operator   string   `xml:"operator,attr"`
	Value      string   `xml:"value,attr"`
	EntityName string   `xml:"entityname,attr"`
	Values     []string `xml:"value"`
}

// ParseCondition parses a filter. Both a bare <filter> and one wrapped in
// <and>/<fetch>-like outer elements are accepted as long as the first
// element is a filter.
func ParseCondition(text string) (*Condition, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return &Condition{}, nil
	}
	var f xmlFilter
	if err := xml.Unmarshal([]byte(text), &f); err != nil {
		return nil, fmt.Errorf("condition is not a FetchXML filter: %w", err)
	}
	return &Condition{root: &f}, nil
}

// Attributes lists the columns the condition reads, so that a caller knows
// when a change can alter its outcome.
func (c *Condition) Attributes() []string {
	var out []string
	var walk func(f *xmlFilter)
	walk = func(f *xmlFilter) {
		for _, cd := range f.Conditions {
			out = append(out, strings.ToLower(cd.Attribute))
		}
		for _, g := range f.groups() {
			walk(g)
		}
	}
	if c.root != nil {
		walk(c.root)
	}
	return out
}

// Holds evaluates the condition on a record whose values are strings,
// int64, float64, bool or nil; lookups are given as their GUID string.
//
// Decision: conditions on a related table (entityname set) are not
// evaluated and never hold, so an item that depends on them does not apply
// rather than applying wrongly.
func (c *Condition) Holds(rec map[string]any) bool {
	if c == nil || c.root == nil {
		return true
	}
	return c.root.holds(rec)
}

func (f *xmlFilter) holds(rec map[string]any) bool {
	or := f.or()
	n := 0
	for _, cd := range f.Conditions {
		ok := cd.holds(rec)
		if or && ok {
			return true
		}
		if !or && !ok {
			return false
		}
		n++
	}
	for _, g := range f.groups() {
		ok := g.holds(rec)
		if or && ok {
			return true
		}
		if !or && !ok {
			return false
		}
		n++
	}
	return !or || n == 0
}

func (cd xmlCondition) holds(rec map[string]any) bool {
	if cd.EntityName != "" {
		return false
	}
	v, present := rec[strings.ToLower(cd.Attribute)]
	isNull := !present || v == nil || v == ""
	op := strings.ToLower(cd.Operator)
	switch op {
	case "null":
		return isNull
	case "not-null":
		return !isNull
	}
	if isNull {
		return op == "ne" || op == "neq" || op == "not-in" || op == "not-like"
	}
	got := canonical(v)
	values := cd.Values
	if cd.Value != "" || len(values) == 0 {
		values = append([]string{cd.Value}, values...)
	}
	switch op {
	case "eq":
		return equal(got, values[0])
	case "ne", "neq":
		return !equal(got, values[0])
	case "in":
		for _, x := range values {
			if equal(got, x) {
				return true
			}
		}
		return false
	case "not-in":
		for _, x := range values {
			if equal(got, x) {
				return false
			}
		}
		return true
	case "gt", "ge", "lt", "le", "on-or-after", "on-or-before":
		cmp := compare(got, values[0])
		switch op {
		case "gt":
			return cmp > 0
		case "ge", "on-or-after":
			return cmp >= 0
		case "lt":
			return cmp < 0
		default:
			return cmp <= 0
		}
	case "like", "not-like", "begins-with", "ends-with":
		pat := strings.ToLower(values[0])
		g := strings.ToLower(got)
		var ok bool
		switch op {
		case "begins-with":
			ok = strings.HasPrefix(g, pat)
		case "ends-with":
			ok = strings.HasSuffix(g, pat)
		default:
			core := strings.Trim(pat, "%")
			switch {
			case strings.HasPrefix(pat, "%") && strings.HasSuffix(pat, "%"):
				ok = strings.Contains(g, core)
			case strings.HasPrefix(pat, "%"):
				ok = strings.HasSuffix(g, core)
			case strings.HasSuffix(pat, "%"):
				ok = strings.HasPrefix(g, core)
			default:
				ok = g == core
			}
			if op == "not-like" {
				ok = !ok
			}
		}
		return ok
	}
	return false
}

// canonical renders a record value the way FetchXML condition values are
// written: booleans as 1/0, numbers in decimal, GUIDs without braces.
func canonical(v any) string {
	switch x := v.(type) {
	case bool:
		if x {
			return "1"
		}
		return "0"
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case string:
		return x
	}
	return fmt.Sprint(v)
}

func equal(got, want string) bool {
	want = strings.Trim(strings.TrimSpace(want), "{}")
	switch strings.ToLower(want) {
	case "true":
		want = "1"
	case "false":
		want = "0"
	}
	if a, err1 := strconv.ParseFloat(got, 64); err1 == nil {
		if b, err2 := strconv.ParseFloat(want, 64); err2 == nil {
			return a == b
		}
	}
	return strings.EqualFold(got, want)
}

func compare(got, want string) int {
	if a, err1 := strconv.ParseFloat(got, 64); err1 == nil {
		if b, err2 := strconv.ParseFloat(want, 64); err2 == nil {
			switch {
			case a < b:
				return -1
			case a > b:
				return 1
			}
			return 0
		}
	}
	return strings.Compare(strings.ToLower(got), strings.ToLower(want))
}

// Empty tells whether the condition has no filter at all; an empty success
// criterion never marks a KPI succeeded by itself.
func (c *Condition) Empty() bool { return c == nil || c.root == nil }
