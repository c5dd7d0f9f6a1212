package dataverse

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Query describes a collection read. Values reach $filter only through the
// Filter constructors, which format and escape them as OData literals.
type Query struct {
	// Select lists the columns to return; empty returns all columns.
	Select []string
	Filter Filter
	// OrderBy sorts the result. Leave it empty for partitioned reads.
	OrderBy []Order
	Expand  []Expand
	// Top limits the total number of records. Dataverse ignores $top when
	// odata.maxpagesize is also sent (page-results.md), so a query with Top
	// is read as one page of at most Top records.
	Top int
	// Count asks for @odata.count (capped at 5,000 by Dataverse).
	Count bool
	// Annotations is the odata.include-annotations preference, e.g. "*" or
	// "OData.Community.Display.V1.FormattedValue".
	Annotations string
	// PageSize overrides the client's odata.maxpagesize for this query.
	PageSize int
}

// Order is one $orderby key.
type Order struct {
	Column string
	Desc   bool
}

// Expand is one single-valued navigation property to expand, with the
// columns to return from the related record.
type Expand struct {
	Property string
	Select   []string
}

// Filter is a $filter expression built from escaped parts. The zero value
// means "no filter". Construction errors (a bad column name, an
// unsupported value type) are carried and reported by Query.Encode, so
// builder chains stay readable.
type Filter struct {
	expr string
	err  error
}

// IsZero reports whether f is empty.
func (f Filter) IsZero() bool { return f.expr == "" && f.err == nil }

// String returns the expression text (for logs and tests).
func (f Filter) String() string { return f.expr }

// Err returns the first construction error.
func (f Filter) Err() error { return f.err }

func combine(op string, fs []Filter) Filter {
	var parts []string
	for _, f := range fs {
		if f.err != nil {
			return Filter{err: f.err}
		}
		if f.expr != "" {
			parts = append(parts, "("+f.expr+")")
		}
	}
	switch len(parts) {
	case 0:
		return Filter{}
	case 1:
		return Filter{expr: strings.TrimSuffix(strings.TrimPrefix(parts[0], "("), ")")}
	}
	return Filter{expr: strings.Join(parts, " "+op+" ")}
}

// And combines f with more conditions; empty filters are skipped.
func (f Filter) And(more ...Filter) Filter { return combine("and", append([]Filter{f}, more...)) }

// Or combines f with alternatives; empty filters are skipped.
func (f Filter) Or(more ...Filter) Filter { return combine("or", append([]Filter{f}, more...)) }

// All is the conjunction of fs.
func All(fs ...Filter) Filter { return combine("and", fs) }

// Any is the disjunction of fs.
func Any(fs ...Filter) Filter { return combine("or", fs) }

// Not negates f.
func Not(f Filter) Filter {
	if f.err != nil || f.expr == "" {
		return f
	}
	return Filter{expr: "not (" + f.expr + ")"}
}

// RawFilter wraps an expression written by a person, such as the --filter
// flag. Never build its text from values: use the constructors.
func RawFilter(expr string) Filter {
	expr = strings.TrimSpace(expr)
	if strings.ContainsAny(expr, "\r\n") {
		return Filter{err: errors.New("dataverse: filter contains a line break")}
	}
	return Filter{expr: expr}
}

// propertyPath accepts column names, lookup value properties
// (_customerid_value) and navigation paths (primarycontactid/fullname).
var propertyPath = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*$`)

func checkProperty(name string) error {
	if !propertyPath.MatchString(name) {
		return fmt.Errorf("dataverse: %q is not a column name", name)
	}
	return nil
}

func compare(op, col string, v any) Filter {
	if err := checkProperty(col); err != nil {
		return Filter{err: err}
	}
	lit, err := Literal(v)
	if err != nil {
		return Filter{err: fmt.Errorf("dataverse: filter on %s: %w", col, err)}
	}
	return Filter{expr: col + " " + op + " " + lit}
}

// Comparison operators (filter-rows.md, "Comparison operators").
func Eq(col string, v any) Filter { return compare("eq", col, v) }
func Ne(col string, v any) Filter { return compare("ne", col, v) }
func Gt(col string, v any) Filter { return compare("gt", col, v) }
func Ge(col string, v any) Filter { return compare("ge", col, v) }
func Lt(col string, v any) Filter { return compare("lt", col, v) }
func Le(col string, v any) Filter { return compare("le", col, v) }

// IsNull matches rows where col has no value.
func IsNull(col string) Filter { return compare("eq", col, nil) }

// NotNull matches rows where col has a value.
func NotNull(col string) Filter { return compare("ne", col, nil) }

func stringFunc(fn, col, s string) Filter {
	if err := checkProperty(col); err != nil {
		return Filter{err: err}
	}
	lit, _ := Literal(s)
	return Filter{expr: fn + "(" + col + "," + lit + ")"}
}

// Contains, StartsWith and EndsWith are the OData string functions. Note
// that Dataverse honours SQL wildcards (% _ [ ]) inside the value
// (filter-rows.md, "Use wildcard characters").
func Contains(col, s string) Filter   { return stringFunc("contains", col, s) }
func StartsWith(col, s string) Filter { return stringFunc("startswith", col, s) }
func EndsWith(col, s string) Filter   { return stringFunc("endswith", col, s) }

// In is Microsoft.Dynamics.CRM.In: Dataverse is OData 4.0 and has no "in"
// operator (filter-rows.md, "Dataverse query functions").
func In(col string, values ...any) Filter { return queryFunction("In", col, values) }

// Between is Microsoft.Dynamics.CRM.Between (inclusive).
func Between(col string, lo, hi any) Filter { return queryFunction("Between", col, []any{lo, hi}) }

func queryFunction(name, col string, values []any) Filter {
	if err := checkProperty(col); err != nil {
		return Filter{err: err}
	}
	if len(values) == 0 {
		return Filter{err: fmt.Errorf("dataverse: %s on %s needs values", name, col)}
	}
	strs := make([]string, len(values))
	for i, v := range values {
		s, err := plainValue(v)
		if err != nil {
			return Filter{err: fmt.Errorf("dataverse: %s on %s: %w", name, col, err)}
		}
		strs[i] = s
	}
	arr, _ := json.Marshal(strs)
	return Filter{expr: "Microsoft.Dynamics.CRM." + name + "(PropertyName='" + col + "',PropertyValues=" + string(arr) + ")"}
}

// Date is a date-only value (DateOnly columns), written as YYYY-MM-DD.
type Date struct{ time.Time }

// DateOf returns the date part of t in t's location.
func DateOf(t time.Time) Date { return Date{t} }

// Literal formats v as an OData 4.0 literal: strings quoted with ' doubled
// (filter-rows.md: "escape the single quote as two single quotes"), GUIDs
// bare, times as UTC ISO 8601, Date as YYYY-MM-DD, nil as null.
func Literal(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "null", nil
	case string:
		return "'" + strings.ReplaceAll(x, "'", "''") + "'", nil
	case uuid.UUID:
		return x.String(), nil
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano), nil
	case Date:
		return x.Format("2006-01-02"), nil
	}
	return plainValue(v)
}

// plainValue formats non-string scalars; strings are returned unquoted (for
// the PropertyValues arrays of query functions).
func plainValue(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.FormatInt(int64(x), 10), nil
	case int8:
		return strconv.FormatInt(int64(x), 10), nil
	case int16:
		return strconv.FormatInt(int64(x), 10), nil
	case int32:
		return strconv.FormatInt(int64(x), 10), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint8:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint16:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint32:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float32:
		return formatFloat(float64(x))
	case float64:
		return formatFloat(x)
	case json.Number:
		if _, err := strconv.ParseFloat(x.String(), 64); err != nil {
			return "", fmt.Errorf("%q is not a number", x.String())
		}
		return x.String(), nil
	case uuid.UUID:
		return x.String(), nil
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano), nil
	case Date:
		return x.Format("2006-01-02"), nil
	}
	return "", fmt.Errorf("unsupported literal type %T", v)
}

func formatFloat(f float64) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", fmt.Errorf("%v has no OData literal", f)
	}
	return strconv.FormatFloat(f, 'g', -1, 64), nil
}

// Encode returns the query string (without "?"). The Prefer header parts
// are separate; see preferences.
func (q Query) Encode() (string, error) {
	var parts []string
	if len(q.Select) > 0 {
		for _, c := range q.Select {
			if err := checkProperty(c); err != nil {
				return "", err
			}
		}
		parts = append(parts, "$select="+escapeQuery(strings.Join(q.Select, ",")))
	}
	if q.Filter.err != nil {
		return "", q.Filter.err
	}
	if q.Filter.expr != "" {
		parts = append(parts, "$filter="+escapeQuery(q.Filter.expr))
	}
	if len(q.OrderBy) > 0 {
		keys := make([]string, len(q.OrderBy))
		for i, o := range q.OrderBy {
			if err := checkProperty(o.Column); err != nil {
				return "", err
			}
			keys[i] = o.Column
			if o.Desc {
				keys[i] += " desc"
			}
		}
		parts = append(parts, "$orderby="+escapeQuery(strings.Join(keys, ",")))
	}
	if len(q.Expand) > 0 {
		items := make([]string, len(q.Expand))
		for i, e := range q.Expand {
			if err := checkProperty(e.Property); err != nil {
				return "", err
			}
			items[i] = e.Property
			if len(e.Select) > 0 {
				for _, c := range e.Select {
					if err := checkProperty(c); err != nil {
						return "", err
					}
				}
				items[i] += "($select=" + strings.Join(e.Select, ",") + ")"
			}
		}
		parts = append(parts, "$expand="+escapeQuery(strings.Join(items, ",")))
	}
	if q.Top > 0 {
		parts = append(parts, "$top="+strconv.Itoa(q.Top))
	}
	if q.Count {
		parts = append(parts, "$count=true")
	}
	return strings.Join(parts, "&"), nil
}

// escapeQuery percent-encodes a query option value. It keeps the characters
// OData expressions are made of readable ('(),:/$=@*!;) and encodes the
// rest, notably space, '&', '#', '+', '%' and non-ASCII, so that a value can
// never end the option or start another.
func escapeQuery(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			strings.IndexByte("-._~'(),:/$=@*!;", c) >= 0:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// KeySegment formats the key part of a record URL: a GUID for the primary
// key, or "col='v',col2=1" for an alternate key
// (use-alternate-key-reference-record.md). Values are escaped as literals
// and then for the URL path.
func KeySegment(key Key) (string, error) {
	if key.ID != uuid.Nil {
		return key.ID.String(), nil
	}
	if len(key.Alternate) == 0 {
		return "", errors.New("dataverse: a record key needs an ID or alternate key values")
	}
	names := make([]string, 0, len(key.Alternate))
	for n := range key.Alternate {
		names = append(names, n)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, n := range names {
		if err := checkProperty(n); err != nil {
			return "", err
		}
		lit, err := Literal(key.Alternate[n])
		if err != nil {
			return "", fmt.Errorf("dataverse: key %s: %w", n, err)
		}
		// A '/' would end the path segment.
		parts[i] = n + "=" + strings.ReplaceAll(escapeQuery(lit), "/", "%2F")
	}
	return strings.Join(parts, ","), nil
}

// Key addresses one record: by primary key ID, or by alternate key column
// values.
type Key struct {
	ID        uuid.UUID
	Alternate map[string]any
}

// ByID addresses a record by its primary key.
func ByID(id uuid.UUID) Key { return Key{ID: id} }

// ByKey addresses a record by alternate key column values, given as
// column, value pairs.
func ByKey(pairs ...any) Key {
	k := Key{Alternate: map[string]any{}}
	for i := 0; i < len(pairs); i += 2 {
		name, ok := pairs[i].(string)
		if !ok || i+1 == len(pairs) {
			// Recorded as an invalid column name so KeySegment reports it.
			k.Alternate[fmt.Sprintf("!bad key pair %d", i/2)] = nil
			continue
		}
		k.Alternate[name] = pairs[i+1]
	}
	return k
}
