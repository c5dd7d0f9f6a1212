package odoo

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
)

// Record is one record as Odoo returns it from read/search_read: field name
// to raw JSON value. Values keep Odoo's shapes so that they can be written
// out unchanged; the typed accessors decode them (research/odoo.md §1.5):
// false for every empty value, many2one as [id, "display name"], x2many as
// id lists, selection keys as strings, datetimes as naive UTC text.
type Record map[string]json.RawMessage

// Many2One is a many2one value. The zero value means "not set".
type Many2One struct {
	ID   int
	Name string
}

// Valid reports whether the many2one is set.
func (m Many2One) Valid() bool { return m.ID != 0 }

// Date is an Odoo date (no time, no zone).
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

func (d Date) String() string {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
}

// IsZero reports whether the date is unset.
func (d Date) IsZero() bool { return d.Year == 0 }

const odooDatetime = "2006-01-02 15:04:05"

// FormatDatetime renders t as Odoo expects datetimes: UTC, no zone, no
// fraction ("YYYY-MM-DD HH:MM:SS").
func FormatDatetime(t time.Time) string { return t.UTC().Format(odooDatetime) }

// ParseDatetime reads Odoo's naive UTC datetime text.
func ParseDatetime(s string) (time.Time, error) {
	return time.ParseInLocation(odooDatetime, s, time.UTC)
}

var falseJSON = []byte("false")

func isFalse(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || bytes.Equal(raw, falseJSON) || bytes.Equal(raw, []byte("null"))
}

// Has reports whether the record carries field.
func (r Record) Has(field string) bool { _, ok := r[field]; return ok }

// ID is the record id (always present in read results).
func (r Record) ID() int {
	n, _ := r.Int("id")
	return n
}

func (r Record) bad(field, want string) error {
	return &DecodeError{Field: field, Want: want, Raw: string(r[field])}
}

// String decodes char/text/html/selection values; false and absent give "".
func (r Record) String(field string) (string, error) {
	raw := r[field]
	if isFalse(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", r.bad(field, "string or false")
	}
	return s, nil
}

// Int decodes integer values; false gives 0.
func (r Record) Int(field string) (int, error) {
	raw := r[field]
	if isFalse(raw) {
		return 0, nil
	}
	n, err := strconv.Atoi(string(bytes.TrimSpace(raw)))
	if err != nil {
		// Integer fields that became Float (e.g. assign_hours in 18) still
		// decode when the value is integral.
		f, ferr := strconv.ParseFloat(string(bytes.TrimSpace(raw)), 64)
		if ferr != nil || f != float64(int(f)) {
			return 0, r.bad(field, "integer")
		}
		return int(f), nil
	}
	return n, nil
}

// Float decodes float/monetary values; false gives 0.
func (r Record) Float(field string) (float64, error) {
	raw := r[field]
	if isFalse(raw) {
		return 0, nil
	}
	f, err := strconv.ParseFloat(string(bytes.TrimSpace(raw)), 64)
	if err != nil {
		return 0, r.bad(field, "number")
	}
	return f, nil
}

// Bool decodes boolean values.
func (r Record) Bool(field string) (bool, error) {
	raw := bytes.TrimSpace(r[field])
	switch {
	case len(raw) == 0, bytes.Equal(raw, falseJSON):
		return false, nil
	case bytes.Equal(raw, []byte("true")):
		return true, nil
	}
	return false, r.bad(field, "boolean")
}

// Many2One decodes [id, "name"] (or a bare id, as read(load=None) gives);
// false gives the zero Many2One.
func (r Record) Many2One(field string) (Many2One, error) {
	raw := r[field]
	if isFalse(raw) {
		return Many2One{}, nil
	}
	var pair []json.RawMessage
	if err := json.Unmarshal(raw, &pair); err != nil {
		if n, err := strconv.Atoi(string(bytes.TrimSpace(raw))); err == nil {
			return Many2One{ID: n}, nil
		}
		return Many2One{}, r.bad(field, "[id, name] or false")
	}
	if len(pair) != 2 {
		return Many2One{}, r.bad(field, "[id, name] or false")
	}
	var m Many2One
	if err := json.Unmarshal(pair[0], &m.ID); err != nil {
		return Many2One{}, r.bad(field, "[id, name] or false")
	}
	if !isFalse(pair[1]) {
		if err := json.Unmarshal(pair[1], &m.Name); err != nil {
			return Many2One{}, r.bad(field, "[id, name] or false")
		}
	}
	return m, nil
}

// IDs decodes one2many/many2many id lists; false gives nil.
func (r Record) IDs(field string) ([]int, error) {
	raw := r[field]
	if isFalse(raw) {
		return nil, nil
	}
	var ids []int
	if err := json.Unmarshal(raw, &ids); err != nil {
		return nil, r.bad(field, "list of ids")
	}
	return ids, nil
}

// Time decodes a datetime (naive UTC "YYYY-MM-DD HH:MM:SS"); false gives
// the zero time.
func (r Record) Time(field string) (time.Time, error) {
	s, err := r.String(field)
	if err != nil || s == "" {
		return time.Time{}, err
	}
	t, err := ParseDatetime(s)
	if err != nil {
		return time.Time{}, r.bad(field, "datetime YYYY-MM-DD HH:MM:SS")
	}
	return t, nil
}

// Date decodes a date ("YYYY-MM-DD"); false gives the zero Date.
func (r Record) Date(field string) (Date, error) {
	s, err := r.String(field)
	if err != nil || s == "" {
		return Date{}, err
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, r.bad(field, "date YYYY-MM-DD")
	}
	return Date{t.Year(), t.Month(), t.Day()}, nil
}

// Watermark is the (write_date, id) position of r, for incremental reads.
func (r Record) Watermark() (Watermark, error) {
	t, err := r.Time("write_date")
	if err != nil {
		return Watermark{}, err
	}
	return Watermark{WriteDate: t, ID: r.ID()}, nil
}
