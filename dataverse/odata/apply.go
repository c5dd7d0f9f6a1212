package odata

import (
	"strings"
)

// $apply: the subset of the OData data-aggregation extension that Dataverse
// implements, as "Aggregate data using OData" (powerapps-docs
// developer/data-platform/webapi/query/aggregate-data.md) shows it:
//
//	groupby((statuscode))
//	groupby((statuscode),aggregate($count as count))
//	groupby((primarycontactid/fullname),aggregate(revenue with sum as total))
//	aggregate(revenue with sum as total)
//	aggregate(createdon with max as lastCreate)
//	filter(address1_stateorprovince eq 'WA')/groupby((primarycontactid/fullname))
//
// with sum, average, min, max and countdistinct, and $count as an alias.
// Other transformations of the extension (compute, topcount, concat, ...) are
// refused with the ODL wording for an unknown transformation.

// TransformKind names one step of a $apply sequence.
type TransformKind string

const (
	TransformFilter    TransformKind = "filter"
	TransformGroupBy   TransformKind = "groupby"
	TransformAggregate TransformKind = "aggregate"
)

// AggregateMethod is the "with" method of an aggregate expression; Count is
// the $count virtual property.
type AggregateMethod string

const (
	AggSum           AggregateMethod = "sum"
	AggAverage       AggregateMethod = "average"
	AggMin           AggregateMethod = "min"
	AggMax           AggregateMethod = "max"
	AggCountDistinct AggregateMethod = "countdistinct"
	AggCount         AggregateMethod = "$count"
)

// AggregateExpr is "path with method as alias" or "$count as alias".
type AggregateExpr struct {
	Path   []string // nil for $count
	Method AggregateMethod
	Alias  string
}

// Transformation is one step of $apply. Filter is set for filter(...);
// GroupBy (property paths) and Aggregates for groupby(...) and aggregate(...).
type Transformation struct {
	Kind       TransformKind
	Filter     Expr
	GroupBy    [][]string
	Aggregates []AggregateExpr
}

// maxApplySteps bounds the transformation sequence; our limit, far above
// anything the documented examples use, so a hostile URL cannot make the
// server plan thousands of steps.
const maxApplySteps = 16

// ParseApply parses a $apply value.
func ParseApply(value string) ([]Transformation, *Error) {
	steps, err := splitApplySteps(value)
	if err != nil {
		return nil, err
	}
	if len(steps) > maxApplySteps {
		return nil, newError(-1, msgTooDeep)
	}
	out := make([]Transformation, 0, len(steps))
	for _, step := range steps {
		step = strings.TrimSpace(step)
		name, rest, ok := strings.Cut(step, "(")
		name = strings.TrimSpace(name)
		if !ok || !strings.HasSuffix(rest, ")") {
			return nil, newError(-1, msgApplySyntax, value)
		}
		inner := rest[:len(rest)-1]
		var tr Transformation
		var err *Error
		switch name {
		case "filter":
			tr.Kind = TransformFilter
			tr.Filter, err = parseFilter(inner, nil, false)
		case "aggregate":
			tr.Kind = TransformAggregate
			tr.Aggregates, err = parseAggregates(inner, value)
		case "groupby":
			tr.Kind = TransformGroupBy
			tr, err = parseGroupBy(inner, value)
		default:
			return nil, newError(-1, msgApplyUnknown, name)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, tr)
	}
	for i, tr := range out {
		if tr.Kind != TransformFilter && i != len(out)-1 {
			// Dataverse translates $apply to one FetchXML aggregate query,
			// which has no stage after the grouping.
			return nil, newError(-1, msgApplyAfterAggregate)
		}
	}
	return out, nil
}

// splitApplySteps splits on '/' outside parentheses and quotes. Slashes
// inside a step are property paths (primarycontactid/fullname).
func splitApplySteps(s string) ([]string, *Error) {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'':
			_, n, ok := scanQuoted(s[i:])
			if !ok {
				return nil, newError(utf16Pos(s, len(s)), msgUnterminatedString, utf16Pos(s, len(s)), s)
			}
			i += n - 1
		case '(':
			depth++
		case ')':
			depth--
			if depth < 0 {
				return nil, newError(utf16Pos(s, i), msgSyntaxError, utf16Pos(s, i), s)
			}
		case '/':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	if depth != 0 {
		return nil, newError(utf16Pos(s, len(s)), msgCloseParenOrComma, utf16Pos(s, len(s)), s)
	}
	return append(parts, s[start:]), nil
}

// parseGroupBy parses "(a,b/c)" optionally followed by ",aggregate(...)".
func parseGroupBy(inner, whole string) (Transformation, *Error) {
	tr := Transformation{Kind: TransformGroupBy}
	inner = strings.TrimSpace(inner)
	if !strings.HasPrefix(inner, "(") {
		return tr, newError(-1, msgApplySyntax, whole)
	}
	end := strings.IndexByte(inner, ')')
	if end < 0 {
		return tr, newError(-1, msgApplySyntax, whole)
	}
	for _, p := range strings.Split(inner[1:end], ",") {
		path, err := applyPath(strings.TrimSpace(p), whole)
		if err != nil {
			return tr, err
		}
		tr.GroupBy = append(tr.GroupBy, path)
	}
	rest := strings.TrimSpace(inner[end+1:])
	if rest == "" {
		return tr, nil
	}
	rest, ok := strings.CutPrefix(rest, ",")
	rest = strings.TrimSpace(rest)
	if !ok || !strings.HasPrefix(rest, "aggregate(") || !strings.HasSuffix(rest, ")") {
		return tr, newError(-1, msgApplySyntax, whole)
	}
	aggs, err := parseAggregates(rest[len("aggregate("):len(rest)-1], whole)
	if err != nil {
		return tr, err
	}
	tr.Aggregates = aggs
	return tr, nil
}

func parseAggregates(inner, whole string) ([]AggregateExpr, *Error) {
	var out []AggregateExpr
	for _, item := range strings.Split(inner, ",") {
		words := strings.Fields(item)
		var a AggregateExpr
		switch {
		case len(words) == 3 && words[0] == "$count" && words[1] == "as":
			a = AggregateExpr{Method: AggCount, Alias: words[2]}
		case len(words) == 5 && words[1] == "with" && words[3] == "as":
			path, err := applyPath(words[0], whole)
			if err != nil {
				return nil, err
			}
			switch m := AggregateMethod(words[2]); m {
			case AggSum, AggAverage, AggMin, AggMax, AggCountDistinct:
				a = AggregateExpr{Path: path, Method: m, Alias: words[4]}
			default:
				return nil, newError(-1, msgApplyMethod, words[2])
			}
		default:
			return nil, newError(-1, msgApplySyntax, whole)
		}
		if !isIdentifier(a.Alias) {
			return nil, newError(-1, msgApplySyntax, whole)
		}
		out = append(out, a)
	}
	return out, nil
}

func applyPath(p, whole string) ([]string, *Error) {
	segs := strings.Split(p, "/")
	for _, s := range segs {
		if !isIdentifier(s) {
			return nil, newError(-1, msgApplySyntax, whole)
		}
	}
	return segs, nil
}

// Wording: msgApplyUnknown and msgApplyMethod follow ODL's
// "'X' is not a valid transformation/aggregation method" resource strings
// (ApplyBinder_UnsupportedType family); the other two are ours.
const (
	msgApplySyntax         = "Syntax error in the $apply expression '%s'."
	msgApplyUnknown        = "'%s' is not a supported $apply transformation."
	msgApplyMethod         = "'%s' is not a supported aggregation method; use sum, average, min, max or countdistinct."
	msgApplyAfterAggregate = "Only filter(...) may come before groupby(...) or aggregate(...) in $apply, and nothing after them."
)
