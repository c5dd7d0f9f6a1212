package odoo

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"
)

// Op is a domain operator (research/odoo.md §1.5).
type Op string

// Domain operators. Like and ILike wrap the value in %…%; EqLike and EqILike
// use it as the pattern as given; Any and NotAny take a sub-domain (17+).
const (
	Eq       Op = "="
	Ne       Op = "!="
	Gt       Op = ">"
	Ge       Op = ">="
	Lt       Op = "<"
	Le       Op = "<="
	EqIfSet  Op = "=?"
	Like     Op = "like"
	NotLike  Op = "not like"
	ILike    Op = "ilike"
	NotILike Op = "not ilike"
	EqLike   Op = "=like"
	EqILike  Op = "=ilike"
	In       Op = "in"
	NotIn    Op = "not in"
	ChildOf  Op = "child_of"
	ParentOf Op = "parent_of"
	Any      Op = "any"
	NotAny   Op = "not any"
)

var knownOps = map[Op]bool{Eq: true, Ne: true, Gt: true, Ge: true, Lt: true, Le: true, EqIfSet: true,
	Like: true, NotLike: true, ILike: true, NotILike: true, EqLike: true, EqILike: true, In: true,
	NotIn: true, ChildOf: true, ParentOf: true, Any: true, NotAny: true}

var fieldPath = regexp.MustCompile(`^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$`)

// Domain is an Odoo search domain in prefix (Polish) notation. Build it
// with Cond, And, Or and Not: values travel as JSON or XML-RPC data, never
// spliced into text, and a malformed term is reported by Err instead of
// reaching the server. The zero Domain matches every record.
type Domain struct {
	terms []any
	err   error
}

// Cond is one leaf (field, op, value). Field may be a dotted path through
// relations. time.Time values become Odoo's naive UTC "YYYY-MM-DD HH:MM:SS";
// nil becomes false (Odoo's "not set").
func Cond(field string, op Op, value any) Domain {
	if !fieldPath.MatchString(field) {
		return Domain{err: fmt.Errorf("odoo: domain: invalid field name %q", field)}
	}
	if !knownOps[op] {
		return Domain{err: fmt.Errorf("odoo: domain: unknown operator %q", op)}
	}
	var v any
	switch op {
	case Any, NotAny:
		sub, ok := value.(Domain)
		if !ok {
			return Domain{err: fmt.Errorf("odoo: domain: %q on %s needs a Domain value", op, field)}
		}
		if sub.err != nil {
			return Domain{err: sub.err}
		}
		v = sub.list()
	case In, NotIn:
		list, err := normaliseList(value)
		if err != nil {
			return Domain{err: fmt.Errorf("odoo: domain: %q on %s: %w", op, field, err)}
		}
		v = list
	default:
		var err error
		if v, err = normaliseValue(value); err != nil {
			return Domain{err: fmt.Errorf("odoo: domain: %s: %w", field, err)}
		}
	}
	return Domain{terms: []any{[]any{field, string(op), v}}}
}

func normaliseValue(value any) (any, error) {
	switch x := value.(type) {
	case nil:
		return false, nil
	case string, bool, int, int8, int16, int32, int64, uint8, uint16, uint32, float32, float64:
		return x, nil
	case time.Time:
		return FormatDatetime(x), nil
	case Date:
		return x.String(), nil
	case Domain:
		return nil, errors.New("a Domain is only a value for any / not any")
	}
	rv := reflect.ValueOf(value)
	if rv.Kind() == reflect.Slice {
		return normaliseList(value)
	}
	return nil, fmt.Errorf("unsupported value type %T", value)
}

func normaliseList(value any) ([]any, error) {
	rv := reflect.ValueOf(value)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil, fmt.Errorf("want a list, got %T", value)
	}
	out := make([]any, rv.Len())
	for i := range out {
		v, err := normaliseValue(rv.Index(i).Interface())
		if err != nil {
			return nil, err
		}
		if _, nested := v.([]any); nested {
			return nil, errors.New("nested lists are not values")
		}
		out[i] = v
	}
	return out, nil
}

func (d Domain) count() int {
	// Number of top-level terms once prefix operators are folded.
	n, need := 0, 0
	for _, t := range d.terms {
		switch t {
		case "&", "|":
			need++
		case "!":
		default:
			n++
		}
	}
	return n - need
}

func (d Domain) list() []any {
	if d.terms == nil {
		return []any{}
	}
	return d.terms
}

func combine(op string, ds []Domain) Domain {
	var parts []Domain
	for _, d := range ds {
		if d.err != nil {
			return Domain{err: d.err}
		}
		if len(d.terms) > 0 {
			parts = append(parts, d)
		}
	}
	if len(parts) == 0 {
		return Domain{}
	}
	var out []any
	for i, d := range parts {
		// A domain with several top-level terms is an implicit AND; make it
		// explicit so it nests as one operand.
		terms := d.terms
		if k := d.count(); k > 1 {
			terms = append(repeat("&", k-1), terms...)
		}
		if i > 0 {
			out = append([]any{op}, out...)
		}
		out = append(out, terms...)
	}
	return Domain{terms: out}
}

func repeat(op string, n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = op
	}
	return out
}

// And matches records matching every domain.
func And(ds ...Domain) Domain { return combine("&", ds) }

// Or matches records matching at least one domain.
func Or(ds ...Domain) Domain { return combine("|", ds) }

// Not negates d.
func Not(d Domain) Domain {
	if d.err != nil || len(d.terms) == 0 {
		return d
	}
	inner := And(d)
	return Domain{terms: append([]any{"!"}, inner.terms...)}
}

// Err reports the first malformed term.
func (d Domain) Err() error { return d.err }

// MarshalJSON writes the prefix list, e.g. ["|",["a","=",1],["b","=",2]].
func (d Domain) MarshalJSON() ([]byte, error) {
	if d.err != nil {
		return nil, d.err
	}
	return json.Marshal(d.list())
}

// String renders the domain for logs and messages.
func (d Domain) String() string {
	if d.err != nil {
		return "<invalid domain: " + d.err.Error() + ">"
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(d.list())
	return strings.TrimSuffix(b.String(), "\n")
}

// EscapeLike escapes the LIKE wildcards % and _ (and the escape character
// itself) so that s matches literally inside a Like/ILike/EqLike value.
func EscapeLike(s string) string { return likeEscaper.Replace(s) }

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
