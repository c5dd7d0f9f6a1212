package dataverse

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Record is one row as the Web API represents it: column logical names (and
// annotations such as "@odata.etag" or "_customerid_value") to JSON values.
// Numbers are json.Number so that decimals and big integers round-trip
// exactly.
type Record map[string]any

// String returns a column's value as a string ("" when absent or null).
func (r Record) String(col string) string {
	switch v := r[col].(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		return v.String()
	default:
		return fmt.Sprint(v)
	}
}

// ETag returns the record's @odata.etag.
func (r Record) ETag() string { return r.String("@odata.etag") }

// WithoutAnnotations returns a copy without OData annotations
// ("@odata.etag", "x@OData.Community.Display.V1.FormattedValue"), the shape
// a record must have to be written back. Bind annotations
// ("x@odata.bind") are kept.
func (r Record) WithoutAnnotations() Record {
	out := make(Record, len(r))
	for k, v := range r {
		if i := strings.IndexByte(k, '@'); i >= 0 && !strings.HasSuffix(k, "@odata.bind") {
			continue
		}
		out[k] = v
	}
	return out
}

func newDecoder(r io.Reader) *json.Decoder {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	return dec
}

func newEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}
