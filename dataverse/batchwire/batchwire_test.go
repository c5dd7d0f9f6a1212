package batchwire

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// crlfDoc turns a documentation example (LF line endings in the Markdown
// source) into wire form and normalises the epilogue, which the examples
// show inconsistently (sometimes one trailing empty line, sometimes none).
func crlfDoc(s string) string {
	s = strings.TrimPrefix(s, "\n")
	s = strings.TrimRight(s, "\n") + "\n"
	return strings.ReplaceAll(s, "\n", "\r\n")
}

func crlfBody(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

// docChangeSetRequest is the change-set request body from
// execute-batch-operations-using-web-api.md, section "Change sets".
const docChangeSetRequest = `
--batch_22975cad-7f57-410d-be15-6363209367ea
Content-Type: multipart/mixed; boundary="changeset_246e6bfe-89a4-4c77-b293-7a433f082e8a"

--changeset_246e6bfe-89a4-4c77-b293-7a433f082e8a
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 1

POST /api/data/v9.2/tasks HTTP/1.1
Content-Type: application/json; type=entry

{
  "subject": "Task 1 in batch",
  "regardingobjectid_account_task@odata.bind": "accounts(00000000-0000-0000-0000-000000000001)"
}
--changeset_246e6bfe-89a4-4c77-b293-7a433f082e8a
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 2

POST /api/data/v9.2/tasks HTTP/1.1
Content-Type: application/json; type=entry

{
  "subject": "Task 2 in batch",
  "regardingobjectid_account_task@odata.bind": "accounts(00000000-0000-0000-0000-000000000001)"
}
--changeset_246e6bfe-89a4-4c77-b293-7a433f082e8a
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 3

POST /api/data/v9.2/tasks HTTP/1.1
Content-Type: application/json; type=entry

{
  "subject": "Task 3 in batch",
  "regardingobjectid_account_task@odata.bind": "accounts(00000000-0000-0000-0000-000000000001)"
}
--changeset_246e6bfe-89a4-4c77-b293-7a433f082e8a--

--batch_22975cad-7f57-410d-be15-6363209367ea
Content-Type: application/http
Content-Transfer-Encoding: binary

GET /api/data/v9.2/accounts(00000000-0000-0000-0000-000000000001)/Account_Tasks?$select=subject HTTP/1.1


--batch_22975cad-7f57-410d-be15-6363209367ea--
`

// docChangeSetResponse is the documented response to docChangeSetRequest.
const docChangeSetResponse = `
--batchresponse_f27ef42d-51b0-4685-bac9-f468f844de2f
Content-Type: multipart/mixed; boundary=changesetresponse_64cc3fff-023a-45b0-b29d-df21583ffa15

--changesetresponse_64cc3fff-023a-45b0-b29d-df21583ffa15
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 1

HTTP/1.1 204 No Content
OData-Version: 4.0
Location: [Organization Uri]/api/data/v9.2/tasks(e73ffc82-e292-ed11-aad1-000d3a9933c9)
OData-EntityId: [Organization Uri]/api/data/v9.2/tasks(e73ffc82-e292-ed11-aad1-000d3a9933c9)


--changesetresponse_64cc3fff-023a-45b0-b29d-df21583ffa15
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 2

HTTP/1.1 204 No Content
OData-Version: 4.0
Location: [Organization Uri]/api/data/v9.2/tasks(e83ffc82-e292-ed11-aad1-000d3a9933c9)
OData-EntityId: [Organization Uri]/api/data/v9.2/tasks(e83ffc82-e292-ed11-aad1-000d3a9933c9)


--changesetresponse_64cc3fff-023a-45b0-b29d-df21583ffa15
Content-Type: application/http
Content-Transfer-Encoding: binary
Content-ID: 3

HTTP/1.1 204 No Content
OData-Version: 4.0
Location: [Organization Uri]/api/data/v9.2/tasks(e93ffc82-e292-ed11-aad1-000d3a9933c9)
OData-EntityId: [Organization Uri]/api/data/v9.2/tasks(e93ffc82-e292-ed11-aad1-000d3a9933c9)


--changesetresponse_64cc3fff-023a-45b0-b29d-df21583ffa15--
--batchresponse_f27ef42d-51b0-4685-bac9-f468f844de2f
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 200 OK
Content-Type: application/json; odata.metadata=minimal; odata.streaming=true
OData-Version: 4.0

{
  "@odata.context": "[Organization Uri]/api/data/v9.2/$metadata#tasks(subject)",
  "value": []
}
--batchresponse_f27ef42d-51b0-4685-bac9-f468f844de2f--
`

// docContinueOnErrorResponse is the "Handling errors" response with
// Prefer: odata.continue-on-error.
const docContinueOnErrorResponse = `
--batchresponse_f44bd09d-573f-4a30-bca0-2e500ee7e139
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 400 Bad Request
REQ_ID: de4c5227-4a28-4ebd-8ced-3392ece1697b
Content-Type: application/json; odata.metadata=minimal
OData-Version: 4.0

{"error":{"code":"0x80044331","message":"A validation error occurred.  The length of the 'subject' attribute of the 'task' entity exceeded the maximum allowed length of '200'."}}
--batchresponse_f44bd09d-573f-4a30-bca0-2e500ee7e139
Content-Type: application/http
Content-Transfer-Encoding: binary

HTTP/1.1 204 No Content
OData-Version: 4.0
Location: [Organization Uri]/api/data/v9.2/tasks(aed2ae8b-3c94-ed11-aad1-000d3a9933c9)
OData-EntityId: [Organization Uri]/api/data/v9.2/tasks(aed2ae8b-3c94-ed11-aad1-000d3a9933c9)


--batchresponse_f44bd09d-573f-4a30-bca0-2e500ee7e139--
`

func docTask(n int) Request {
	return Request{
		ContentID: fmt.Sprint(n),
		Method:    "POST",
		URL:       "/api/data/v9.2/tasks",
		Header:    Header{{"Content-Type", "application/json; type=entry"}},
		Body: crlfBody(fmt.Sprintf(`{
  "subject": "Task %d in batch",
  "regardingobjectid_account_task@odata.bind": "accounts(00000000-0000-0000-0000-000000000001)"
}`, n)),
	}
}

func docParts() []Part {
	return []Part{
		{ChangeSet: []Request{docTask(1), docTask(2), docTask(3)}},
		{Request: &Request{Method: "GET", URL: "/api/data/v9.2/accounts(00000000-0000-0000-0000-000000000001)/Account_Tasks?$select=subject", Body: []byte{}}},
	}
}

func fixed(b ...string) func() string {
	return func() string { s := b[0]; b = b[1:]; return s }
}

func TestWriteRequestMatchesDocumentedChangeSetExample(t *testing.T) {
	var buf bytes.Buffer
	err := WriteRequestWithBoundaries(&buf, "batch_22975cad-7f57-410d-be15-6363209367ea", docParts(),
		fixed("changeset_246e6bfe-89a4-4c77-b293-7a433f082e8a"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), crlfDoc(docChangeSetRequest); got != want {
		t.Fatalf("request body differs from the documented example\n got: %q\nwant: %q", got, want)
	}
}

func TestReadRequestDocumentedExample(t *testing.T) {
	parts, err := ReadRequest(strings.NewReader(crlfDoc(docChangeSetRequest)),
		`multipart/mixed; boundary="batch_22975cad-7f57-410d-be15-6363209367ea"`)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(parts, docParts()) {
		t.Fatalf("parsed parts differ:\n got %#v\nwant %#v", parts, docParts())
	}
}

func docResponseParts() []ResponsePart {
	created := func(id, guid string) Response {
		loc := "[Organization Uri]/api/data/v9.2/tasks(" + guid + ")"
		return Response{ContentID: id, StatusCode: 204, Status: "No Content", Body: []byte{},
			Header: Header{{"OData-Version", "4.0"}, {"Location", loc}, {"OData-EntityId", loc}}}
	}
	return []ResponsePart{
		{ChangeSet: []Response{
			created("1", "e73ffc82-e292-ed11-aad1-000d3a9933c9"),
			created("2", "e83ffc82-e292-ed11-aad1-000d3a9933c9"),
			created("3", "e93ffc82-e292-ed11-aad1-000d3a9933c9"),
		}},
		{Response: &Response{StatusCode: 200, Status: "OK",
			Header: Header{{"Content-Type", "application/json; odata.metadata=minimal; odata.streaming=true"}, {"OData-Version", "4.0"}},
			Body:   crlfBody("{\n  \"@odata.context\": \"[Organization Uri]/api/data/v9.2/$metadata#tasks(subject)\",\n  \"value\": []\n}"),
		}},
	}
}

func TestWriteResponseMatchesDocumentedExample(t *testing.T) {
	var buf bytes.Buffer
	err := WriteResponseWithBoundaries(&buf, "batchresponse_f27ef42d-51b0-4685-bac9-f468f844de2f", docResponseParts(),
		fixed("changesetresponse_64cc3fff-023a-45b0-b29d-df21583ffa15"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), crlfDoc(docChangeSetResponse); got != want {
		t.Fatalf("response body differs from the documented example\n got: %q\nwant: %q", got, want)
	}
}

func TestReadResponseDocumentedExample(t *testing.T) {
	parts, err := ReadResponse(strings.NewReader(crlfDoc(docChangeSetResponse)),
		"multipart/mixed; boundary=batchresponse_f27ef42d-51b0-4685-bac9-f468f844de2f")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(parts, docResponseParts()) {
		t.Fatalf("parsed parts differ:\n got %#v\nwant %#v", parts, docResponseParts())
	}
	flat := Flatten(parts)
	if len(flat) != 4 || flat[2].ContentID != "3" || flat[3].StatusCode != 200 {
		t.Fatalf("Flatten = %+v", flat)
	}
}

func TestReadResponseContinueOnError(t *testing.T) {
	parts, err := ReadResponse(strings.NewReader(crlfDoc(docContinueOnErrorResponse)),
		"multipart/mixed; boundary=batchresponse_f44bd09d-573f-4a30-bca0-2e500ee7e139")
	if err != nil {
		t.Fatal(err)
	}
	flat := Flatten(parts)
	if len(flat) != 2 {
		t.Fatalf("got %d responses, want 2", len(flat))
	}
	if flat[0].StatusCode != 400 || flat[0].Header.Get("req_id") != "de4c5227-4a28-4ebd-8ced-3392ece1697b" ||
		!bytes.Contains(flat[0].Body, []byte(`"code":"0x80044331"`)) {
		t.Fatalf("first response = %+v", flat[0])
	}
	if flat[1].StatusCode != 204 || !strings.HasSuffix(flat[1].Header.Get("OData-EntityId"), "tasks(aed2ae8b-3c94-ed11-aad1-000d3a9933c9)") {
		t.Fatalf("second response = %+v", flat[1])
	}
	// Written back with the same boundary, the bytes are the documented ones.
	var buf bytes.Buffer
	if err := WriteResponse(&buf, "batchresponse_f44bd09d-573f-4a30-bca0-2e500ee7e139", parts); err != nil {
		t.Fatal(err)
	}
	if buf.String() != crlfDoc(docContinueOnErrorResponse) {
		t.Fatalf("round trip differs:\n%q", buf.String())
	}
}

func TestRequestRoundTripWithReferences(t *testing.T) {
	parts := []Part{
		{Request: &Request{Method: "GET", URL: "/api/data/v9.2/incidents?$select=title&$filter=title%20eq%20'a''b'", Header: Header{{"Prefer", "odata.maxpagesize=10"}}, Body: []byte{}}},
		{ChangeSet: []Request{
			{ContentID: "1", Method: "POST", URL: "/api/data/v9.2/accounts", Header: Header{{"Content-Type", "application/json"}}, Body: []byte(`{"name":"A"}`)},
			{ContentID: "2", Method: "PATCH", URL: "$1", Header: Header{{"Content-Type", "application/json"}, {"If-Match", "*"}}, Body: []byte(`{"name":"B"}`)},
			{ContentID: "3", Method: "DELETE", URL: "/api/data/v9.2/accounts(00000000-0000-0000-0000-000000000009)", Body: []byte{}},
		}},
		{ChangeSet: []Request{
			{ContentID: "4", Method: "PATCH", URL: "/api/data/v9.2/incidents(ticketnumber='CAS-1')", Header: Header{{"Content-Type", "application/json"}}, Body: []byte("{\r\n\"title\":\"x\\r\\n--batch_b\"\r\n}")},
		}},
	}
	var buf bytes.Buffer
	boundary := NewBoundary("batch")
	if err := WriteRequest(&buf, boundary, parts); err != nil {
		t.Fatal(err)
	}
	got, err := ReadRequest(&buf, RequestContentType(boundary))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, parts) {
		t.Fatalf("round trip differs:\n got %#v\nwant %#v", got, parts)
	}
	if Count(got) != 5 {
		t.Fatalf("Count = %d", Count(got))
	}
}

func TestResponseRoundTrip(t *testing.T) {
	parts := []ResponsePart{
		{Response: &Response{StatusCode: 200, Status: "OK", Header: Header{{"Content-Type", "application/json"}}, Body: []byte(`{"value":[]}`)}},
		{ChangeSet: []Response{{ContentID: "1", StatusCode: 201, Status: "Created", Header: Header{{"ETag", `W/"1"`}}, Body: []byte(`{"a":1}`)}}},
		{Response: &Response{StatusCode: 429, Status: "Too Many Requests", Header: Header{{"Retry-After", "3"}}, Body: []byte{}}},
	}
	var buf bytes.Buffer
	b := NewBoundary("batchresponse")
	if err := WriteResponse(&buf, b, parts); err != nil {
		t.Fatal(err)
	}
	got, err := ReadResponse(&buf, ResponseContentType(b))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, parts) {
		t.Fatalf("round trip differs:\n got %#v\nwant %#v", got, parts)
	}
}

func TestReadAcceptsLFOnlyBodies(t *testing.T) {
	lf := strings.TrimPrefix(docChangeSetRequest, "\n")
	parts, err := ReadRequest(strings.NewReader(lf), `multipart/mixed; boundary=batch_22975cad-7f57-410d-be15-6363209367ea`)
	if err != nil {
		t.Fatal(err)
	}
	if Count(parts) != 4 || parts[0].ChangeSet[2].ContentID != "3" || parts[1].Request.Method != "GET" {
		t.Fatalf("parts = %#v", parts)
	}
}

func TestWriteRequestRejects(t *testing.T) {
	get := Request{Method: "GET", URL: "/api/data/v9.2/accounts"}
	many := make([]Part, MaxRequests+1)
	for i := range many {
		many[i] = Part{Request: &get}
	}
	cases := map[string][]Part{
		"GET in change set":      {{ChangeSet: []Request{get}}},
		"too many requests":      many,
		"empty change set":       {{ChangeSet: []Request{}}},
		"content-id outside set": {{Request: &Request{ContentID: "1", Method: "POST", URL: "/x"}}},
		"header injection":       {{Request: &Request{Method: "GET", URL: "/x", Header: Header{{"X", "a\r\nEvil: 1"}}}}},
		"space in url":           {{Request: &Request{Method: "GET", URL: "/x HTTP/1.1\r\n"}}},
	}
	for name, parts := range cases {
		t.Run(name, func(t *testing.T) {
			if err := WriteRequest(&bytes.Buffer{}, "batch_x", parts); err == nil {
				t.Fatal("expected an error")
			}
		})
	}
}

func TestReadRequestRejectsMalformed(t *testing.T) {
	ct := `multipart/mixed; boundary="batch_x"`
	cases := map[string]struct{ body, ct string }{
		"not multipart":     {"x", "application/json"},
		"no boundary":       {"x", "multipart/mixed"},
		"wrong part type":   {"--batch_x\r\nContent-Type: text/plain\r\n\r\nGET /x HTTP/1.1\r\n\r\n\r\n--batch_x--\r\n", ct},
		"bad request line":  {"--batch_x\r\nContent-Type: application/http\r\n\r\nGARBAGE\r\n\r\n\r\n--batch_x--\r\n", ct},
		"GET in change set": {"--batch_x\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n--cs\r\nContent-Type: application/http\r\n\r\nGET /x HTTP/1.1\r\n\r\n\r\n--cs--\r\n\r\n--batch_x--\r\n", ct},
		"nested change set": {"--batch_x\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n--cs\r\nContent-Type: multipart/mixed; boundary=cs2\r\n\r\n--cs2--\r\n\r\n--cs--\r\n\r\n--batch_x--\r\n", ct},
		"truncated":         {"--batch_x\r\nContent-Type: application/http\r\n\r\nPOST /x HTTP/1.1\r\n\r\n{", ct},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ReadRequest(strings.NewReader(c.body), c.ct)
			var we *Error
			if !errors.As(err, &we) {
				t.Fatalf("err = %v, want *batchwire.Error", err)
			}
		})
	}
}

func TestReadRequestEnforcesLimit(t *testing.T) {
	var b strings.Builder
	for range MaxRequests + 1 {
		b.WriteString("--batch_x\r\nContent-Type: application/http\r\n\r\nGET /x HTTP/1.1\r\n\r\n\r\n")
	}
	b.WriteString("--batch_x--\r\n")
	if _, err := ReadRequest(strings.NewReader(b.String()), "multipart/mixed; boundary=batch_x"); err == nil || !strings.Contains(err.Error(), "1000") {
		t.Fatalf("err = %v, want the 1000-request limit", err)
	}
}

func TestHeaderHelpers(t *testing.T) {
	var h Header
	h.Add("Prefer", "a")
	h.Add("X", "1")
	h.Add("prefer", "b")
	h.Set("Prefer", "c")
	if !reflect.DeepEqual(h, Header{{"Prefer", "c"}, {"X", "1"}}) {
		t.Fatalf("Set = %#v", h)
	}
	if h.HTTP().Get("prefer") != "c" || h.Get("x") != "1" || h.Get("nope") != "" {
		t.Fatal("lookups wrong")
	}
}

func TestReadRequestErrorKinds(t *testing.T) {
	ct := `multipart/mixed; boundary="batch_x"`
	part := "--cs\r\nContent-Type: application/http\r\nContent-ID: 1\r\n\r\nPOST /x HTTP/1.1\r\n\r\n{}\r\n"
	var bigCS strings.Builder
	bigCS.WriteString("--batch_x\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n")
	for range MaxRequests + 1 {
		bigCS.WriteString("--cs\r\nContent-Type: application/http\r\n\r\nPOST /x HTTP/1.1\r\n\r\n{}\r\n")
	}
	bigCS.WriteString("--cs--\r\n\r\n--batch_x--\r\n")
	cases := []struct {
		name, body, ct string
		kind           ErrorKind
		detail         string
	}{
		{"not multipart", "x", "application/json", KindBatchContentType, "application/json"},
		{"wrong part type", "--batch_x\r\nContent-Type: text/plain\r\n\r\nGET /x HTTP/1.1\r\n\r\n\r\n--batch_x--\r\n", ct, KindPartContentType, "text/plain"},
		{"bad request line", "--batch_x\r\nContent-Type: application/http\r\n\r\nGARBAGE\r\n\r\n\r\n--batch_x--\r\n", ct, KindBadRequestLine, "GARBAGE"},
		{"GET in change set", "--batch_x\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n--cs\r\nContent-Type: application/http\r\n\r\nGET /x HTTP/1.1\r\n\r\n\r\n--cs--\r\n\r\n--batch_x--\r\n", ct, KindMethodInChangeSet, "GET"},
		{"nested change set", "--batch_x\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n--cs\r\nContent-Type: multipart/mixed; boundary=cs2\r\n\r\n--cs2--\r\n\r\n--cs--\r\n\r\n--batch_x--\r\n", ct, KindNestedChangeSet, ""},
		{"duplicate Content-ID", "--batch_x\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n" + part + part + "--cs--\r\n\r\n--batch_x--\r\n", ct, KindDuplicateContentID, "1"},
		{"truncated", "--batch_x\r\nContent-Type: application/http\r\n\r\nPOST /x HTTP/1.1\r\n\r\n{", ct, KindUnexpectedEnd, ""},
		{"change set too large", bigCS.String(), ct, KindChangeSetTooLarge, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadRequest(strings.NewReader(c.body), c.ct)
			var we *Error
			if !errors.As(err, &we) {
				t.Fatalf("err = %v, want *batchwire.Error", err)
			}
			if we.Kind != c.kind || we.Detail != c.detail {
				t.Fatalf("kind %d detail %q, want %d %q (%v)", we.Kind, we.Detail, c.kind, c.detail, err)
			}
		})
	}
	var many strings.Builder
	for range MaxRequests + 1 {
		many.WriteString("--batch_x\r\nContent-Type: application/http\r\n\r\nGET /x HTTP/1.1\r\n\r\n\r\n")
	}
	many.WriteString("--batch_x--\r\n")
	_, err := ReadRequest(strings.NewReader(many.String()), ct)
	var we *Error
	if !errors.As(err, &we) || we.Kind != KindTooManyRequests {
		t.Fatalf("err = %v, want KindTooManyRequests", err)
	}
}
