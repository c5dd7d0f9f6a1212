// Package batchwire reads and writes the multipart/mixed body of a Dataverse
// Web API $batch request and response, including change sets and Content-ID
// references. The client uses WriteRequest and ReadResponse; the reference
// server uses ReadRequest and WriteResponse, so both sides share one framing.
//
// The framing follows Microsoft's documented examples byte for byte: CRLF line
// endings, "batch_<id>"/"changeset_<id>" boundaries on requests,
// "batchresponse_<id>"/"changesetresponse_<id>" on responses, part headers
// "Content-Type: application/http" and "Content-Transfer-Encoding: binary",
// and the inner HTTP/1.1 request or status line.
// Source: MicrosoftDocs/powerapps-docs
// powerapps-docs/developer/data-platform/webapi/execute-batch-operations-using-web-api.md
// ("Batch requests", "Batch responses", "Change sets", "Handling errors"),
// which in turn follows OData 4.0 Part 1 §11.7.
package batchwire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// MaxRequests is the documented limit of individual requests in one batch
// ("Batch requests can contain up to 1,000 individual requests").
const MaxRequests = 1000

const crlf = "\r\n"

// Field is one header line. Headers are kept as an ordered list, not a map,
// so that a parsed message is written back exactly as it was read.
type Field struct {
	Name  string
	Value string
}

// Header is an ordered list of header fields. Lookups are case-insensitive.
type Header []Field

// Get returns the first value of name, or "".
func (h Header) Get(name string) string {
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// Set replaces every field called name with one field, keeping the position
// of the first.
func (h *Header) Set(name, value string) {
	out := (*h)[:0]
	done := false
	for _, f := range *h {
		if strings.EqualFold(f.Name, name) {
			if !done {
				out = append(out, Field{name, value})
				done = true
			}
			continue
		}
		out = append(out, f)
	}
	if !done {
		out = append(out, Field{name, value})
	}
	*h = out
}

// Add appends a field.
func (h *Header) Add(name, value string) { *h = append(*h, Field{name, value}) }

// HTTP converts to net/http's map form.
func (h Header) HTTP() http.Header {
	out := make(http.Header, len(h))
	for _, f := range h {
		out.Add(f.Name, f.Value)
	}
	return out
}

// Request is one operation inside a batch.
type Request struct {
	// ContentID names the operation so later operations of the same change
	// set can refer to its result as "$<ContentID>". Only meaningful inside
	// a change set.
	ContentID string
	Method    string
	// URL is written verbatim on the request line: an absolute path
	// ("/api/data/v9.2/incidents"), an absolute URL, or a reference ("$1").
	URL    string
	Header Header
	Body   []byte
}

// Part is one element of a batch: a single request or an atomic change set.
type Part struct {
	Request   *Request  // set for a request outside any change set
	ChangeSet []Request // set for a change set
}

// IsChangeSet reports whether the part is a change set.
func (p Part) IsChangeSet() bool { return p.Request == nil }

// Response is the outcome of one operation.
type Response struct {
	ContentID  string
	StatusCode int
	// Status is the reason phrase; http.StatusText(StatusCode) when empty.
	Status string
	Header Header
	Body   []byte
}

// ResponsePart mirrors Part on the response side.
type ResponsePart struct {
	Response  *Response
	ChangeSet []Response
}

// IsChangeSet reports whether the part answers a change set.
func (p ResponsePart) IsChangeSet() bool { return p.Response == nil }

// Flatten lists every response in order, change sets expanded.
func Flatten(parts []ResponsePart) []Response {
	var out []Response
	for _, p := range parts {
		if p.Response != nil {
			out = append(out, *p.Response)
		} else {
			out = append(out, p.ChangeSet...)
		}
	}
	return out
}

// NewBoundary returns prefix + "_" + a random UUID, e.g. "batch_80dd1615-…".
// Use the prefixes "batch", "changeset", "batchresponse", "changesetresponse".
func NewBoundary(prefix string) string { return prefix + "_" + uuid.NewString() }

// RequestContentType is the Content-Type of a $batch request body. The
// documented request examples quote the boundary.
func RequestContentType(boundary string) string {
	return `multipart/mixed; boundary="` + boundary + `"`
}

// ResponseContentType is the Content-Type of a $batch response body.
func ResponseContentType(boundary string) string {
	return "multipart/mixed; boundary=" + boundary
}

// Count returns the number of individual requests in parts.
func Count(parts []Part) int {
	n := 0
	for _, p := range parts {
		if p.Request != nil {
			n++
		} else {
			n += len(p.ChangeSet)
		}
	}
	return n
}

// WriteRequest writes a $batch request body. Change-set boundaries are
// generated as "changeset_<uuid>".
func WriteRequest(w io.Writer, boundary string, parts []Part) error {
	return writeRequest(w, boundary, parts, func() string { return NewBoundary("changeset") })
}

// WriteRequestWithBoundaries is WriteRequest with caller-chosen change-set
// boundaries (nextChangeSet is called once per change set), for tests and
// for reproducing documented examples.
func WriteRequestWithBoundaries(w io.Writer, boundary string, parts []Part, nextChangeSet func() string) error {
	return writeRequest(w, boundary, parts, nextChangeSet)
}

func writeRequest(w io.Writer, boundary string, parts []Part, nextChangeSet func() string) error {
	if err := checkBoundary(boundary); err != nil {
		return err
	}
	if n := Count(parts); n > MaxRequests {
		return fmt.Errorf("batchwire: %d requests in one batch; Dataverse accepts at most %d", n, MaxRequests)
	}
	bw := bufio.NewWriter(w)
	for _, p := range parts {
		bw.WriteString("--" + boundary + crlf)
		if p.Request != nil {
			if err := writeRequestPart(bw, *p.Request, false); err != nil {
				return err
			}
			bw.WriteString(crlf)
			continue
		}
		if len(p.ChangeSet) == 0 {
			return errors.New("batchwire: empty change set")
		}
		cs := nextChangeSet()
		if err := checkBoundary(cs); err != nil {
			return err
		}
		bw.WriteString("Content-Type: " + RequestContentType(cs) + crlf + crlf)
		for _, r := range p.ChangeSet {
			if r.Method == http.MethodGet {
				// "GET request are not allowed within change sets."
				return fmt.Errorf("batchwire: GET %s inside a change set", r.URL)
			}
			bw.WriteString("--" + cs + crlf)
			if err := writeRequestPart(bw, r, true); err != nil {
				return err
			}
			bw.WriteString(crlf)
		}
		// The documented request ends a change set with its close delimiter
		// and an empty line before the next batch delimiter.
		bw.WriteString("--" + cs + "--" + crlf + crlf)
	}
	bw.WriteString("--" + boundary + "--" + crlf)
	return bw.Flush()
}

func writeRequestPart(bw *bufio.Writer, r Request, inChangeSet bool) error {
	if r.Method == "" || r.URL == "" || strings.ContainsAny(r.URL, " \r\n") || strings.ContainsAny(r.Method, " \r\n") {
		return fmt.Errorf("batchwire: invalid request line %q %q", r.Method, r.URL)
	}
	bw.WriteString("Content-Type: application/http" + crlf)
	bw.WriteString("Content-Transfer-Encoding: binary" + crlf)
	if r.ContentID != "" {
		if !inChangeSet {
			return fmt.Errorf("batchwire: Content-ID %q outside a change set", r.ContentID)
		}
		bw.WriteString("Content-ID: " + r.ContentID + crlf)
	}
	bw.WriteString(crlf)
	bw.WriteString(r.Method + " " + r.URL + " HTTP/1.1" + crlf)
	if err := writeHeader(bw, r.Header); err != nil {
		return err
	}
	bw.WriteString(crlf)
	bw.Write(r.Body)
	return nil
}

func writeHeader(bw *bufio.Writer, h Header) error {
	for _, f := range h {
		if f.Name == "" || strings.ContainsAny(f.Name, ":\r\n ") || strings.ContainsAny(f.Value, "\r\n") {
			return fmt.Errorf("batchwire: invalid header field %q", f.Name)
		}
		bw.WriteString(f.Name + ": " + f.Value + crlf)
	}
	return nil
}

// WriteResponse writes a $batch response body. Change-set response
// boundaries are generated as "changesetresponse_<uuid>".
func WriteResponse(w io.Writer, boundary string, parts []ResponsePart) error {
	return writeResponse(w, boundary, parts, func() string { return NewBoundary("changesetresponse") })
}

// WriteResponseWithBoundaries is WriteResponse with caller-chosen change-set
// boundaries.
func WriteResponseWithBoundaries(w io.Writer, boundary string, parts []ResponsePart, nextChangeSet func() string) error {
	return writeResponse(w, boundary, parts, nextChangeSet)
}

func writeResponse(w io.Writer, boundary string, parts []ResponsePart, nextChangeSet func() string) error {
	if err := checkBoundary(boundary); err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	for _, p := range parts {
		bw.WriteString("--" + boundary + crlf)
		if p.Response != nil {
			if err := writeResponsePart(bw, *p.Response); err != nil {
				return err
			}
			bw.WriteString(crlf)
			continue
		}
		cs := nextChangeSet()
		if err := checkBoundary(cs); err != nil {
			return err
		}
		// Documented responses leave the change-set boundary unquoted and
		// follow its close delimiter directly with the batch delimiter.
		bw.WriteString("Content-Type: " + ResponseContentType(cs) + crlf + crlf)
		for _, r := range p.ChangeSet {
			bw.WriteString("--" + cs + crlf)
			if err := writeResponsePart(bw, r); err != nil {
				return err
			}
			bw.WriteString(crlf)
		}
		bw.WriteString("--" + cs + "--" + crlf)
	}
	bw.WriteString("--" + boundary + "--" + crlf)
	return bw.Flush()
}

func writeResponsePart(bw *bufio.Writer, r Response) error {
	if r.StatusCode < 100 || r.StatusCode > 999 {
		return fmt.Errorf("batchwire: invalid status code %d", r.StatusCode)
	}
	bw.WriteString("Content-Type: application/http" + crlf)
	bw.WriteString("Content-Transfer-Encoding: binary" + crlf)
	if r.ContentID != "" {
		bw.WriteString("Content-ID: " + r.ContentID + crlf)
	}
	bw.WriteString(crlf)
	status := r.Status
	if status == "" {
		status = http.StatusText(r.StatusCode)
	}
	bw.WriteString("HTTP/1.1 " + strconv.Itoa(r.StatusCode) + " " + status + crlf)
	if err := writeHeader(bw, r.Header); err != nil {
		return err
	}
	bw.WriteString(crlf)
	bw.Write(r.Body)
	return nil
}

func checkBoundary(b string) error {
	// RFC 2046 §5.1.1: 1 to 70 characters, no trailing space; we also refuse
	// characters that would need quoting rules we do not implement.
	if b == "" || len(b) > 70 || strings.ContainsAny(b, "\" \r\n\t") {
		return fmt.Errorf("batchwire: invalid boundary %q", b)
	}
	return nil
}

// Error is returned for malformed batch bodies. Servers map it to 400.
type Error struct {
	Msg string
	// Kind classifies the problem so that a server can answer with the
	// wording Dataverse uses for it; Detail carries the offending text
	// (a request line, a Content-ID, a Content-Type value, a method).
	Kind   ErrorKind
	Detail string
}

func (e *Error) Error() string { return "batchwire: " + e.Msg }

// ErrorKind classifies a malformed batch body.
type ErrorKind int

const (
	KindMalformed          ErrorKind = iota // anything not listed below
	KindTooManyRequests                     // more than MaxRequests operations
	KindChangeSetTooLarge                   // one change set holds more than MaxRequests operations
	KindNestedChangeSet                     // a change set inside a change set
	KindMethodInChangeSet                   // GET (Detail: the method) inside a change set
	KindBadRequestLine                      // Detail: the request line
	KindPartContentType                     // a part that is neither application/http nor multipart/mixed; Detail: its Content-Type
	KindDuplicateContentID                  // Detail: the Content-ID
	KindUnexpectedEnd                       // the body ends before its close delimiter
	KindBatchContentType                    // the batch's own Content-Type is not multipart/mixed with a boundary
)

func malformed(format string, args ...any) error { return &Error{Msg: fmt.Sprintf(format, args...)} }

func malformedKind(kind ErrorKind, detail, format string, args ...any) error {
	return &Error{Msg: fmt.Sprintf(format, args...), Kind: kind, Detail: detail}
}

// BoundaryFromContentType extracts the boundary of a multipart/mixed
// Content-Type value.
func BoundaryFromContentType(contentType string) (string, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", malformedKind(KindBatchContentType, contentType, "Content-Type %q: %v", contentType, err)
	}
	if mt != "multipart/mixed" {
		return "", malformedKind(KindBatchContentType, contentType, "Content-Type %q is not multipart/mixed", contentType)
	}
	b := params["boundary"]
	if b == "" {
		return "", malformedKind(KindBatchContentType, contentType, "Content-Type %q has no boundary", contentType)
	}
	return b, nil
}

// ReadRequest parses a $batch request body whose Content-Type header is
// contentType. It enforces MaxRequests.
func ReadRequest(r io.Reader, contentType string) ([]Part, error) {
	boundary, err := BoundaryFromContentType(contentType)
	if err != nil {
		return nil, err
	}
	var parts []Part
	count := 0
	err = eachPart(r, boundary, func(ph http.Header, body []byte) error {
		if cs, ok, err := nestedBoundary(ph); err != nil {
			return err
		} else if ok {
			var reqs []Request
			err := eachPart(bytes.NewReader(body), cs, func(ih http.Header, ibody []byte) error {
				if _, nested, _ := nestedBoundary(ih); nested {
					return malformedKind(KindNestedChangeSet, "", "change sets cannot be nested")
				}
				req, err := parseRequestPart(ih, ibody)
				if err != nil {
					return err
				}
				if req.Method == http.MethodGet {
					return malformedKind(KindMethodInChangeSet, req.Method, "GET requests are not allowed within change sets")
				}
				if req.ContentID != "" {
					for _, prev := range reqs {
						if prev.ContentID == req.ContentID {
							return malformedKind(KindDuplicateContentID, req.ContentID, "Content-ID %q used twice in one change set", req.ContentID)
						}
					}
				}
				if len(reqs) == MaxRequests {
					return malformedKind(KindChangeSetTooLarge, "", "more than %d requests in one change set", MaxRequests)
				}
				reqs = append(reqs, req)
				return nil
			})
			if err != nil {
				return err
			}
			if len(reqs) == 0 {
				return malformed("empty change set")
			}
			count += len(reqs)
			parts = append(parts, Part{ChangeSet: reqs})
		} else {
			req, err := parseRequestPart(ph, body)
			if err != nil {
				return err
			}
			count++
			parts = append(parts, Part{Request: &req})
		}
		if count > MaxRequests {
			return malformedKind(KindTooManyRequests, "", "more than %d requests in one batch", MaxRequests)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return parts, nil
}

// ReadResponse parses a $batch response body whose Content-Type header is
// contentType.
func ReadResponse(r io.Reader, contentType string) ([]ResponsePart, error) {
	boundary, err := BoundaryFromContentType(contentType)
	if err != nil {
		return nil, err
	}
	var parts []ResponsePart
	err = eachPart(r, boundary, func(ph http.Header, body []byte) error {
		if cs, ok, err := nestedBoundary(ph); err != nil {
			return err
		} else if ok {
			var resps []Response
			err := eachPart(bytes.NewReader(body), cs, func(ih http.Header, ibody []byte) error {
				resp, err := parseResponsePart(ih, ibody)
				if err != nil {
					return err
				}
				resps = append(resps, resp)
				return nil
			})
			if err != nil {
				return err
			}
			parts = append(parts, ResponsePart{ChangeSet: resps})
			return nil
		}
		resp, err := parseResponsePart(ph, body)
		if err != nil {
			return err
		}
		parts = append(parts, ResponsePart{Response: &resp})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return parts, nil
}

// maxPartSize bounds one part so a hostile or broken body cannot exhaust
// memory. Dataverse bounds a whole request far below this.
const maxPartSize = 128 << 20

func eachPart(r io.Reader, boundary string, fn func(http.Header, []byte) error) error {
	mr := multipart.NewReader(r, boundary)
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return malformedKind(KindUnexpectedEnd, "", "reading part: %v", err)
		}
		body, err := io.ReadAll(io.LimitReader(p, maxPartSize+1))
		if err != nil {
			return malformedKind(KindUnexpectedEnd, "", "reading part body: %v", err)
		}
		if len(body) > maxPartSize {
			return malformed("part larger than %d bytes", maxPartSize)
		}
		if err := fn(http.Header(p.Header), body); err != nil {
			return err
		}
	}
}

func nestedBoundary(h http.Header) (string, bool, error) {
	ct := h.Get("Content-Type")
	if !strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "multipart/mixed") {
		return "", false, nil
	}
	b, err := BoundaryFromContentType(ct)
	return b, err == nil, err
}

func checkApplicationHTTP(h http.Header) error {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "application/http" {
		return malformedKind(KindPartContentType, h.Get("Content-Type"), "part Content-Type %q, want application/http", h.Get("Content-Type"))
	}
	if cte := h.Get("Content-Transfer-Encoding"); cte != "" && !strings.EqualFold(strings.TrimSpace(cte), "binary") {
		return malformed("part Content-Transfer-Encoding %q, want binary", cte)
	}
	return nil
}

func parseRequestPart(ph http.Header, body []byte) (Request, error) {
	if err := checkApplicationHTTP(ph); err != nil {
		return Request{}, err
	}
	sr := bytes.NewReader(body)
	br := bufio.NewReader(sr)
	line, err := readLine(br)
	if err != nil {
		return Request{}, malformedKind(KindBadRequestLine, "", "missing request line")
	}
	fields := strings.Fields(line)
	if len(fields) != 3 || !strings.HasPrefix(fields[2], "HTTP/") {
		return Request{}, malformedKind(KindBadRequestLine, line, "bad request line %q", line)
	}
	h, err := readHeader(br)
	if err != nil {
		return Request{}, err
	}
	// The body is the rest of the part: a slice of it, not a copy, so a
	// large operation is held once (issue 13, memory per request).
	rest := body[len(body)-sr.Len()-br.Buffered():]
	return Request{
		ContentID: strings.TrimSpace(ph.Get("Content-ID")),
		Method:    fields[0],
		URL:       fields[1],
		Header:    h,
		Body:      rest,
	}, nil
}

func parseResponsePart(ph http.Header, body []byte) (Response, error) {
	if err := checkApplicationHTTP(ph); err != nil {
		return Response{}, err
	}
	br := bufio.NewReader(bytes.NewReader(body))
	line, err := readLine(br)
	if err != nil {
		return Response{}, malformed("missing status line")
	}
	proto, rest, ok := strings.Cut(line, " ")
	if !ok || !strings.HasPrefix(proto, "HTTP/") {
		return Response{}, malformed("bad status line %q", line)
	}
	codeText, reason, _ := strings.Cut(rest, " ")
	code, err := strconv.Atoi(codeText)
	if err != nil || code < 100 || code > 999 {
		return Response{}, malformed("bad status line %q", line)
	}
	h, err := readHeader(br)
	if err != nil {
		return Response{}, err
	}
	b, _ := io.ReadAll(br)
	return Response{
		ContentID:  strings.TrimSpace(ph.Get("Content-ID")),
		StatusCode: code,
		Status:     reason,
		Header:     h,
		Body:       b,
	}, nil
}

func readLine(br *bufio.Reader) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// readHeader reads header lines up to the empty line, keeping their order
// and spelling (Dataverse sends non-canonical names such as REQ_ID).
func readHeader(br *bufio.Reader) (Header, error) {
	var h Header
	for {
		line, err := readLine(br)
		if err != nil {
			// A message may end right after its headers.
			return h, nil
		}
		if line == "" {
			return h, nil
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, malformed("bad header line %q", line)
		}
		h = append(h, Field{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value)})
	}
}
