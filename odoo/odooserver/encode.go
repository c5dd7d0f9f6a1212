package odooserver

import (
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"
)

// recordOut is one record as read() returns it, keeping the requested field
// order. It encodes itself without reflection: a 1,000-record page spent
// most of its time in encoding/json's map encoder, and the reference
// server's speed bounds every export benchmark run against it.
type recordOut struct {
	names []string
	vals  []any
}

func newRecordOut(n int) *recordOut {
	return &recordOut{names: make([]string, 0, n), vals: make([]any, 0, n)}
}

func (r *recordOut) add(name string, v any) {
	r.names = append(r.names, name)
	r.vals = append(r.vals, v)
}

func (r *recordOut) get(name string) (any, bool) {
	for i, n := range r.names {
		if n == name {
			return r.vals[i], true
		}
	}
	return nil, false
}

func (r *recordOut) set(name string, v any) {
	for i, n := range r.names {
		if n == name {
			r.vals[i] = v
			return
		}
	}
	r.add(name, v)
}

// toMap is the record as a plain map (XML-RPC structs, tests).
func (r *recordOut) toMap() map[string]any {
	m := make(map[string]any, len(r.names))
	for i, n := range r.names {
		m[n] = r.vals[i]
	}
	return m
}

// MarshalJSON writes {"field": value, ...} in field order.
func (r *recordOut) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 64*len(r.names))
	b = append(b, '{')
	for i, n := range r.names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, n)
		b = append(b, ':')
		var err error
		if b, err = appendJSONValue(b, r.vals[i]); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

func appendJSONValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, &json.UnsupportedValueError{Str: strconv.FormatFloat(x, 'g', -1, 64)}
		}
		if x == math.Trunc(x) && math.Abs(x) < 1e16 {
			// Python's json writes floats with a fraction: 8.0, not 8.
			return append(strconv.AppendFloat(b, x, 'f', -1, 64), ".0"...), nil
		}
		return strconv.AppendFloat(b, x, 'g', -1, 64), nil
	case string:
		return appendJSONString(b, x), nil
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSONValue(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, raw...), nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as JSON: quotes, backslashes and control
// characters escaped, invalid UTF-8 replaced, everything else verbatim
// (no HTML escaping, like Python's json.dumps with ensure_ascii=False).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
