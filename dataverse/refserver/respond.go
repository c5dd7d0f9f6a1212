package refserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
)

func writeJSONBytes(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; odata.metadata=minimal")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// writeError sends Dataverse's error payload.
func writeError(w http.ResponseWriter, err error) {
	ae := asAPIError(err)
	if known := (*apiError)(nil); !errors.As(err, &known) {
		noteUnexpected(w, err)
	}
	if ae.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ae.RetryAfter))
	}
	var buf bytes.Buffer
	buf.WriteString(`{"error":{"code":`)
	writeJSONValue(&buf, ae.Code)
	buf.WriteString(`,"message":`)
	writeJSONValue(&buf, ae.Message)
	buf.WriteString("}}")
	writeJSONBytes(w, ae.Status, buf.Bytes())
}

// writeJSONValue appends v as JSON without HTML escaping. Pages of 5,000
// records write tens of thousands of values, so the common cases (plain
// strings, integers, booleans, null) are appended directly; everything else
// goes through encoding/json, which also defines the escaping the fast path
// must agree with.
func writeJSONValue(buf *bytes.Buffer, v any) {
	switch x := v.(type) {
	case nil:
		buf.WriteString("null")
		return
	case bool:
		if x {
			buf.WriteString("true")
		} else {
			buf.WriteString("false")
		}
		return
	case int64:
		buf.Write(strconv.AppendInt(buf.AvailableBuffer(), x, 10))
		return
	case int:
		buf.Write(strconv.AppendInt(buf.AvailableBuffer(), int64(x), 10))
		return
	case string:
		if plainJSONString(x) {
			buf.WriteByte('"')
			buf.WriteString(x)
			buf.WriteByte('"')
			return
		}
	}
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	buf.Truncate(buf.Len() - 1) // Encode's trailing newline
}

// preferences is the parsed Prefer header (RFC 7240; OData preferences).
type preferences struct {
	maxPageSize          int
	annotations          string // the odata.include-annotations value, unquoted
	returnRepresentation bool
	trackChanges         bool
	continueOnError      bool
}

func parsePrefer(r *http.Request) preferences {
	var p preferences
	for _, header := range r.Header.Values("Prefer") {
		for _, part := range splitPrefer(header) {
			name, value, _ := strings.Cut(strings.TrimSpace(part), "=")
			value = strings.Trim(strings.TrimSpace(value), `"`)
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "odata.maxpagesize":
				if n, err := strconv.Atoi(value); err == nil && n > 0 {
					p.maxPageSize = n
				}
			case "odata.include-annotations":
				p.annotations = value
			case "return":
				p.returnRepresentation = value == "representation"
			case "odata.track-changes":
				p.trackChanges = true
			case "odata.continue-on-error":
				p.continueOnError = true
			}
		}
	}
	return p
}

// splitPrefer splits on commas outside quotes.
func splitPrefer(h string) []string {
	var out []string
	inQ := false
	start := 0
	for i := 0; i < len(h); i++ {
		switch h[i] {
		case '"':
			inQ = !inQ
		case ',':
			if !inQ {
				out = append(out, h[start:i])
				start = i + 1
			}
		}
	}
	return append(out, h[start:])
}

// annotationFilter decides which instance annotations a client asked for:
// "*", a comma-separated list, and wildcards such as "OData.Community.*";
// a leading "-" excludes.
type annotationFilter []string

func (f annotationFilter) wants(name string) bool {
	ok := false
	for _, p := range f {
		p = strings.TrimSpace(p)
		exclude := strings.HasPrefix(p, "-")
		p = strings.TrimPrefix(p, "-")
		match := p == "*" || p == name || (strings.HasSuffix(p, ".*") && strings.HasPrefix(name, strings.TrimSuffix(p, "*")))
		if match {
			if exclude {
				return false
			}
			ok = true
		}
	}
	return ok
}

func newAnnotationFilter(v string) annotationFilter {
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

const (
	annFormatted    = "OData.Community.Display.V1.FormattedValue"
	annLookupName   = "Microsoft.Dynamics.CRM.lookuplogicalname"
	annAssociated   = "Microsoft.Dynamics.CRM.associatednavigationproperty"
	annTotalCount   = "Microsoft.Dynamics.CRM.totalrecordcount"
	annCountLimited = "Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"
)

// plainJSONString reports whether s needs no escaping in JSON: printable
// ASCII without quotes or backslashes.
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
