package odooserver

import (
	"fmt"
	"strings"
	"time"
)

// pyDatetime is a Python datetime.datetime as the ORM receives it from an
// XML-RPC <dateTime.iso8601>: every supported version parses the request
// with xmlrpc.client.loads(data, use_datetime=True) (16/17
// odoo/addons/base/controllers/rpc.py RPC._xmlrpc; 18/19
// addons/rpc/controllers/xmlrpc.py XMLRPC._xmlrpc), so the value reaches
// domains and writes as a naive datetime, not as text. Answers never carry
// one: OdooMarshaller.dump_datetime sends datetimes back as strings.
type pyDatetime struct{ t time.Time }

// xmlrpcDateTimeLayout is xmlrpc.client._datetime_type's strptime format,
// "%Y%m%dT%H:%M:%S": the only form a use_datetime unmarshaller accepts.
const xmlrpcDateTimeLayout = "20060102T15:04:05"

func parseXMLRPCDateTime(raw string) (any, error) {
	t, err := time.Parse(xmlrpcDateTimeLayout, raw)
	if err != nil {
		return nil, errValue("time data %s does not match format '%%Y%%m%%dT%%H:%%M:%%S'", pyRepr(raw))
	}
	return pyDatetime{t}, nil
}

// String is str(datetime): what a char field stores when given one.
func (d pyDatetime) String() string { return d.t.Format(odooDatetime) }

// repr is repr(datetime), for error messages.
func (d pyDatetime) repr() string {
	t := d.t
	args := fmt.Sprintf("%d, %d, %d, %d, %d", t.Year(), int(t.Month()), t.Day(), t.Hour(), t.Minute())
	if t.Second() != 0 {
		args += fmt.Sprintf(", %d", t.Second())
	}
	return "datetime.datetime(" + args + ")"
}

// MarshalJSON follows Odoo's json_default, which writes datetimes with
// fields.Datetime.to_string.
func (d pyDatetime) MarshalJSON() ([]byte, error) { return []byte(`"` + d.String() + `"`), nil }

// datetimeFormat is fields.DATETIME_FORMAT.
const datetimeFormat = "%Y-%m-%d %H:%M:%S"

// toStoredDate converts a value written to a date or datetime field the way
// fields.Date.to_date / fields.Datetime.to_datetime do (odoo/fields.py; 19:
// odoo/orm/fields_temporal.py):
//   - a datetime is kept (datetime field) or cut to its date (date field);
//   - a date field takes a string's first 10 characters as %Y-%m-%d;
//   - a datetime field parses a string with DATETIME_FORMAT[:len(value)-2],
//     so "2024-05-01", "2024-05-01 10:30" and "2024-05-01 10:30:00" are
//     accepted and "2024-05-01T10:30:00" is not.
func toStoredDate(f *fieldDef, v any) (any, error) {
	switch x := v.(type) {
	case pyDatetime:
		if f.typ == tDate {
			return x.t.Format("2006-01-02"), nil
		}
		return x.String(), nil
	case string:
		if f.typ == tDate {
			s := x
			if len(s) > 10 {
				s = s[:10]
			}
			t, err := time.Parse("2006-01-02", s)
			if err != nil {
				return nil, errValue("time data %s does not match format '%%Y-%%m-%%d'", pyRepr(s))
			}
			return t.Format("2006-01-02"), nil
		}
		n := len(x) - 2
		n = max(0, min(n, len(datetimeFormat)))
		format := datetimeFormat[:n]
		layout := map[string]string{"%Y-%m-%d": "2006-01-02", "%Y-%m-%d %H:%M": "2006-01-02 15:04", datetimeFormat: odooDatetime}[format]
		t, err := time.Parse(layout, x)
		if layout == "" || err != nil {
			return nil, errValue("time data %s does not match format %s", pyRepr(x), pyRepr(format))
		}
		return t.Format(odooDatetime), nil
	}
	return nil, errValue("Wrong value for %s: %s", f.name, pyRepr(v))
}

// domainDatetime is expression.py's handling of a datetime field compared
// with a date-only string (16/17 odoo/osv/expression.py __leaf_to_sql,
// "datetime fields: manage time part of the datetime column when it is not
// there"): '>' and '<=' compare with the end of that day, every other
// operator with its start.
func domainDatetime(op string, v any) any {
	s, ok := v.(string)
	if !ok || len(s) != 10 {
		return v
	}
	if op == ">" || op == "<=" {
		return s + " 23:59:59"
	}
	return s + " 00:00:00"
}

// compareDates compares a stored date/datetime with a domain value.
// PostgreSQL compares a date column with a timestamp by taking the date as
// its midnight, which is what a datetime from XML-RPC asks for.
func compareDates(f *fieldDef, stored string, want any) (int, bool) {
	switch w := want.(type) {
	case pyDatetime:
		if f.typ == tDate {
			stored += " 00:00:00"
		}
		return strings.Compare(stored, w.String()), true
	case string:
		// Strings go to PostgreSQL as literals, which reads ISO 8601 with a
		// 'T' as well as Odoo's own format.
		if n, err := normaliseDate(f, w); err == nil {
			w = n.(string)
		}
		return strings.Compare(stored, w), true
	}
	return 0, false
}
