package dataverse

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"time"

	"github.com/google/uuid"
)

// SameValue reports whether a value to write and a value read back are
// the same Dataverse value. It is the one comparison of values in dvsync:
// unchanged detection before a write, verify after a run and the USD
// re-run check all use it. Numbers compare by value whatever their Go type
// (json.Number, int, float64), date-times by instant (Dataverse returns
// them normalised to UTC, "2024-01-02T03:04:05Z"), GUIDs by their string
// form; nil matches an absent or null value.
func SameValue(want, got any) bool {
	return reflect.DeepEqual(canonical(want), canonical(got))
}

func canonical(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case json.Number:
		if r, ok := new(big.Rat).SetString(string(x)); ok {
			return "num:" + r.RatString()
		}
		return string(x)
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return "num:" + fmt.Sprint(x)
	case float32:
		return canonical(float64(x))
	case float64:
		r := new(big.Rat)
		if r.SetFloat64(x) == nil {
			return fmt.Sprint(x)
		}
		// Through the shortest decimal form, so 0.1 equals json.Number("0.1").
		r.SetString(fmt.Sprint(x))
		return "num:" + r.RatString()
	case time.Time:
		return "time:" + x.UTC().Format(time.RFC3339Nano)
	case string:
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil && len(x) > len("2006-01-02") {
			return "time:" + t.UTC().Format(time.RFC3339Nano)
		}
		return x
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = canonical(e)
		}
		return m
	case Record:
		return canonical(map[string]any(x))
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = canonical(e)
		}
		return s
	case fmt.Stringer:
		return x.String()
	}
	return v
}

// Bind is a parsed "@odata.bind" reference: "/accounts(<guid>)" or
// "/systemusers(internalemailaddress='a@b.c')", with or without the
// service root before the entity set
// (associate-disassociate-entities-using-web-api.md; use-alternate-key-reference-record.md).
type Bind struct {
	EntitySet string
	// Key is the record's ID or its alternate-key values (strings as
	// written, quotes removed and '' unescaped; other literals as text).
	Key Key
}

// ParseBind parses a bind reference. It is the one parser of bind
// references in dvsync.
func ParseBind(ref string) (Bind, error) {
	open := strings.IndexByte(ref, '(')
	if open < 0 || !strings.HasSuffix(ref, ")") {
		return Bind{}, fmt.Errorf("dataverse: bind %q is not /<entity set>(<key>)", ref)
	}
	set := ref[:open]
	if i := strings.LastIndexByte(set, '/'); i >= 0 {
		set = set[i+1:]
	}
	if set == "" {
		return Bind{}, fmt.Errorf("dataverse: bind %q names no entity set", ref)
	}
	inner := ref[open+1 : len(ref)-1]
	if id, err := uuid.Parse(inner); err == nil {
		return Bind{EntitySet: set, Key: ByID(id)}, nil
	}
	key := Key{Alternate: map[string]any{}}
	for inner != "" {
		name, rest, ok := strings.Cut(inner, "=")
		if !ok || name == "" {
			return Bind{}, fmt.Errorf("dataverse: bind %q: key is neither a GUID nor name=value pairs", ref)
		}
		var val any
		if strings.HasPrefix(rest, "'") {
			// A quoted literal ends at a quote not doubled.
			var b strings.Builder
			i := 1
			for ; i < len(rest); i++ {
				if rest[i] == '\'' {
					if i+1 < len(rest) && rest[i+1] == '\'' {
						b.WriteByte('\'')
						i++
						continue
					}
					break
				}
				b.WriteByte(rest[i])
			}
			if i >= len(rest) {
				return Bind{}, fmt.Errorf("dataverse: bind %q: unterminated string", ref)
			}
			val, rest = b.String(), rest[i+1:]
			if rest != "" && !strings.HasPrefix(rest, ",") {
				return Bind{}, fmt.Errorf("dataverse: bind %q: text after a quoted value", ref)
			}
			rest = strings.TrimPrefix(rest, ",")
		} else {
			lit, after, _ := strings.Cut(rest, ",")
			val, rest = lit, after
		}
		key.Alternate[strings.TrimSpace(name)] = val
		inner = rest
	}
	if len(key.Alternate) == 0 {
		return Bind{}, errors.New("dataverse: bind " + ref + " has an empty key")
	}
	return Bind{EntitySet: set, Key: key}, nil
}
