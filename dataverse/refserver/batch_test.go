package refserver

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dvsync/dvsync/dataverse/batchwire"
)

// batchResult is a parsed $batch response.
type batchResult struct {
	status int
	header http.Header
	parts  []batchwire.ResponsePart
	raw    []byte
}

func (e *testEnv) batch(parts []batchwire.Part, headers ...string) batchResult {
	e.t.Helper()
	boundary := batchwire.NewBoundary("batch")
	var body bytes.Buffer
	if err := batchwire.WriteRequest(&body, boundary, parts); err != nil {
		e.t.Fatal(err)
	}
	return e.rawBatch(batchwire.RequestContentType(boundary), body.String(), headers...)
}

func (e *testEnv) rawBatch(contentType, body string, headers ...string) batchResult {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.api+"$batch", strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer test-token")
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("OData-MaxVersion", "4.0")
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Set(name, strings.TrimSpace(value))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	res := batchResult{status: resp.StatusCode, header: resp.Header, raw: raw}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "multipart/mixed") {
		if res.parts, err = batchwire.ReadResponse(bytes.NewReader(raw), resp.Header.Get("Content-Type")); err != nil {
			e.t.Fatalf("reading batch response: %v\n%s", err, raw)
		}
	}
	return res
}

func op(method, url string, body any, contentID string) batchwire.Request {
	r := batchwire.Request{Method: method, URL: url, ContentID: contentID}
	if body != nil {
		b, _ := json.Marshal(body)
		r.Body = b
		r.Header = batchwire.Header{{Name: "Content-Type", Value: "application/json; type=entry"}}
	}
	return r
}

func single(r batchwire.Request) batchwire.Part { return batchwire.Part{Request: &r} }

func partError(t *testing.T, r batchwire.Response) (string, string) {
	t.Helper()
	return response{status: r.StatusCode, body: r.Body}.errorPayload(t)
}

func idFromEntityID(t *testing.T, loc string) string {
	t.Helper()
	open, close := strings.LastIndexByte(loc, '('), strings.LastIndexByte(loc, ')')
	if open < 0 || close < open {
		t.Fatalf("bad OData-EntityId %q", loc)
	}
	return loc[open+1 : close]
}

func testBatchChangeSetWithContentIDReferences(t *testing.T, e *testEnv) {
	res := e.batch([]batchwire.Part{
		{ChangeSet: []batchwire.Request{
			op("POST", "/api/data/v9.2/contacts", map[string]any{"firstname": "Ada", "lastname": "Lovelace"}, "1"),
			op("POST", e.api+"accounts", map[string]any{"name": "Analytical", "primarycontactid@odata.bind": "$1"}, "2"),
			op("PATCH", "$2", map[string]any{"telephone1": "555-0100"}, "3"),
			op("PUT", "$1/lastname", map[string]any{"value": "King"}, "4"),
		}},
		single(op("GET", "accounts?$select=name,telephone1,_primarycontactid_value&$filter=name%20eq%20'Analytical'", nil, "")),
	})
	if res.status != http.StatusOK {
		t.Fatalf("status %d: %s", res.status, res.raw)
	}
	if !bytes.Contains(res.raw, []byte("--batchresponse_")) || !bytes.Contains(res.raw, []byte("--changesetresponse_")) {
		t.Fatalf("response framing:\n%s", res.raw)
	}
	if len(res.parts) != 2 || !res.parts[0].IsChangeSet() || len(res.parts[0].ChangeSet) != 4 {
		t.Fatalf("parts = %+v", res.parts)
	}
	cs := res.parts[0].ChangeSet
	for i, r := range cs {
		if r.StatusCode != http.StatusNoContent || r.ContentID != []string{"1", "2", "3", "4"}[i] {
			t.Fatalf("operation %d: status %d Content-ID %q: %s", i, r.StatusCode, r.ContentID, r.Body)
		}
	}
	contactID := idFromEntityID(t, cs[0].Header.Get("OData-EntityId"))
	accountID := idFromEntityID(t, cs[1].Header.Get("OData-EntityId"))
	if cs[1].Header.Get("Location") != cs[1].Header.Get("OData-EntityId") {
		t.Fatalf("Location %q", cs[1].Header.Get("Location"))
	}
	get := res.parts[1].Response
	if get.StatusCode != http.StatusOK {
		t.Fatalf("GET: %d %s", get.StatusCode, get.Body)
	}
	vals := response{status: get.StatusCode, body: get.Body}.values(t)
	if len(vals) != 1 || vals[0]["accountid"] != accountID || vals[0]["telephone1"] != "555-0100" || vals[0]["_primarycontactid_value"] != contactID {
		t.Fatalf("account read in batch: %v", vals)
	}
	c := mustStatus(t, e.do("GET", "contacts("+contactID+")?$select=lastname", nil), 200).json(t)
	if c["lastname"] != "King" {
		t.Fatalf("PUT $1/lastname not applied: %v", c)
	}
}

func testBatchChangeSetRollsBackOnFailure(t *testing.T, e *testEnv) {
	before := mustStatus(t, e.do("GET", "accounts?$select=name", nil), 200).values(t)
	res := e.batch([]batchwire.Part{{ChangeSet: []batchwire.Request{
		op("POST", "accounts", map[string]any{"name": "rollback-1"}, "1"),
		op("PATCH", "$1", map[string]any{"name": "rollback-1b"}, "2"),
		op("POST", "accounts", map[string]any{"name": "rollback-2", "nosuchcolumn": 1}, "3"),
	}}})
	if res.status != http.StatusBadRequest {
		t.Fatalf("status %d, want 400: %s", res.status, res.raw)
	}
	if len(res.parts) != 1 || res.parts[0].IsChangeSet() {
		t.Fatalf("a failed change set answers with the failing operation alone; got %+v", res.parts)
	}
	r := res.parts[0].Response
	if r.StatusCode != http.StatusBadRequest || r.ContentID != "3" {
		t.Fatalf("failing part: %d Content-ID %q", r.StatusCode, r.ContentID)
	}
	if _, msg := partError(t, *r); !strings.Contains(msg, "nosuchcolumn") {
		t.Fatalf("message %q", msg)
	}
	after := mustStatus(t, e.do("GET", "accounts?$select=name", nil), 200).values(t)
	if len(after) != len(before) {
		t.Fatalf("change set partly applied: %d accounts before, %d after", len(before), len(after))
	}
}

func testBatchStopsAtFirstFailureByDefault(t *testing.T, e *testEnv) {
	parts := func(tag string) []batchwire.Part {
		return []batchwire.Part{
			single(op("POST", "accounts", map[string]any{"name": tag + "-1"}, "")),
			single(op("POST", "accounts", map[string]any{"name": tag + "-2", "nosuchcolumn": true}, "")),
			single(op("POST", "accounts", map[string]any{"name": tag + "-3"}, "")),
		}
	}
	count := func(name string) int {
		return len(mustStatus(t, e.do("GET", "accounts?$select=name&$filter=name eq '"+name+"'", nil), 200).values(t))
	}

	res := e.batch(parts("stop"))
	if res.status != http.StatusBadRequest {
		t.Fatalf("status %d, want the failing operation's 400: %s", res.status, res.raw)
	}
	flat := batchwire.Flatten(res.parts)
	if len(flat) != 2 || flat[0].StatusCode != 204 || flat[1].StatusCode != 400 {
		t.Fatalf("responses: %+v", flat)
	}
	if code, _ := partError(t, flat[1]); code != codeQueryNotSupported {
		t.Fatalf("code %q", code)
	}
	if count("stop-1") != 1 || count("stop-3") != 0 {
		t.Fatal("operations after the failure must not run")
	}

	res = e.batch(parts("cont"), "Prefer: odata.continue-on-error")
	if res.status != http.StatusOK || res.header.Get("Preference-Applied") != "odata.continue-on-error" {
		t.Fatalf("status %d, Preference-Applied %q", res.status, res.header.Get("Preference-Applied"))
	}
	flat = batchwire.Flatten(res.parts)
	if len(flat) != 3 || flat[0].StatusCode != 204 || flat[1].StatusCode != 400 || flat[2].StatusCode != 204 {
		t.Fatalf("responses: %+v", flat)
	}
	if count("cont-1") != 1 || count("cont-3") != 1 {
		t.Fatal("continue-on-error must run every operation")
	}
}

func testBatchContinueOnErrorWithFailedChangeSet(t *testing.T, e *testEnv) {
	res := e.batch([]batchwire.Part{
		{ChangeSet: []batchwire.Request{
			op("POST", "accounts", map[string]any{"name": "cs-a"}, "1"),
			op("DELETE", "accounts(00000000-0000-0000-0000-00000000dead)", nil, "2"),
		}},
		{ChangeSet: []batchwire.Request{op("POST", "accounts", map[string]any{"name": "cs-b"}, "1")}},
	}, "Prefer: odata.continue-on-error")
	if res.status != http.StatusOK || len(res.parts) != 2 {
		t.Fatalf("status %d parts %d: %s", res.status, len(res.parts), res.raw)
	}
	if res.parts[0].IsChangeSet() || res.parts[0].Response.StatusCode != 404 || res.parts[0].Response.ContentID != "2" {
		t.Fatalf("first change set: %+v", res.parts[0])
	}
	if !res.parts[1].IsChangeSet() || res.parts[1].ChangeSet[0].StatusCode != 204 {
		t.Fatalf("second change set: %+v", res.parts[1])
	}
	if n := len(mustStatus(t, e.do("GET", "accounts?$filter=name eq 'cs-a'", nil), 200).values(t)); n != 0 {
		t.Fatal("the failed change set was partly applied")
	}
}

func testBatchForwardContentIDReference(t *testing.T, e *testEnv) {
	res := e.batch([]batchwire.Part{{ChangeSet: []batchwire.Request{
		op("POST", "contacts", map[string]any{"lastname": "x", "parentcustomerid_account@odata.bind": "$1"}, "2"),
		op("POST", "accounts", map[string]any{"name": "fwd"}, "1"),
	}}})
	if res.status != http.StatusBadRequest {
		t.Fatalf("status %d: %s", res.status, res.raw)
	}
	r := batchwire.Flatten(res.parts)[0]
	if _, msg := partError(t, r); msg != "Content-ID Reference: '$1' does not exist in the batch context." {
		t.Fatalf("message %q", msg)
	}
	// The same in a URL.
	res = e.batch([]batchwire.Part{{ChangeSet: []batchwire.Request{op("PATCH", "$7", map[string]any{"name": "y"}, "1")}}})
	if _, msg := partError(t, batchwire.Flatten(res.parts)[0]); msg != "Content-ID Reference: '$7' does not exist in the batch context." {
		t.Fatalf("message %q", msg)
	}
}

func testBatchMalformedBodies(t *testing.T, e *testEnv) {
	ct := `multipart/mixed; boundary="batch_x"`
	var many strings.Builder
	for range batchwire.MaxRequests + 1 {
		many.WriteString("--batch_x\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET /api/data/v9.2/WhoAmI HTTP/1.1\r\n\r\n\r\n")
	}
	many.WriteString("--batch_x--\r\n")
	cases := []struct {
		name, ct, body, message string
	}{
		{"too many", ct, many.String(), "The current batch message contains too many parts. Only batch messages with a maximum number of '1000' query operations, including changeset operations, are allowed."},
		{"nested", ct, "--batch_x\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n--cs\r\nContent-Type: multipart/mixed; boundary=cs2\r\n\r\n--cs2--\r\n\r\n--cs--\r\n\r\n--batch_x--\r\n", "Nested change sets in a batch payload are not supported."},
		{"GET in change set", ct, "--batch_x\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n--cs\r\nContent-Type: application/http\r\n\r\nGET /api/data/v9.2/accounts HTTP/1.1\r\n\r\n\r\n--cs--\r\n\r\n--batch_x--\r\n", "An invalid HTTP method 'GET' was detected for a request in a change set. Requests in change sets only support the HTTP methods 'POST', 'PUT', 'DELETE', and 'PATCH'."},
		{"bad request line", ct, "--batch_x\r\nContent-Type: application/http\r\n\r\nGARBAGE\r\n\r\n\r\n--batch_x--\r\n", "The request line 'GARBAGE' is invalid. The request line at the start of each operation must be of the format 'HttpMethod RequestUrl HttpVersion'."},
		{"truncated", ct, "--batch_x\r\nContent-Type: application/http\r\n\r\nPOST /api/data/v9.2/accounts HTTP/1.1\r\n\r\n{", "Encountered an unexpected end of input while reading the batch payload."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := *e
			e.t = t
			res := e.rawBatch(c.ct, c.body)
			r := response{status: res.status, body: res.raw}
			if res.status != http.StatusBadRequest {
				t.Fatalf("status %d: %s", res.status, res.raw)
			}
			if _, msg := r.errorPayload(t); msg != c.message {
				t.Fatalf("message %q", msg)
			}
		})
	}
}

func testBatchOfExactlyMaxRequestsRuns(t *testing.T, e *testEnv) {
	parts := make([]batchwire.Part, batchwire.MaxRequests)
	for i := range parts {
		parts[i] = single(op("GET", "WhoAmI", nil, ""))
	}
	res := e.batch(parts)
	if res.status != http.StatusOK || len(res.parts) != batchwire.MaxRequests {
		t.Fatalf("status %d, %d parts", res.status, len(res.parts))
	}
}

func testBatchInsideBatchIsRejected(t *testing.T, e *testEnv) {
	inner := op("POST", "$batch", nil, "1")
	inner.Header = batchwire.Header{{Name: "Content-Type", Value: `multipart/mixed; boundary="batch_inner"`}}
	inner.Body = []byte("--batch_inner--\r\n")
	done := make(chan batchResult, 1)
	go func() { done <- e.batch([]batchwire.Part{{ChangeSet: []batchwire.Request{inner}}}) }()
	select {
	case res := <-done:
		r := batchwire.Flatten(res.parts)
		if res.status != http.StatusBadRequest || len(r) != 1 {
			t.Fatalf("status %d: %s", res.status, res.raw)
		}
		if _, msg := partError(t, r[0]); msg != "A batch request cannot contain another batch request." {
			t.Fatalf("message %q", msg)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a $batch inside a change set deadlocked")
	}
}

func testBatchContentIDAfterReturnRepresentation(t *testing.T, e *testEnv) {
	create := op("POST", "accounts?$select=name", map[string]any{"name": "rep"}, "1")
	create.Header = append(create.Header, batchwire.Field{Name: "Prefer", Value: "return=representation"})
	res := e.batch([]batchwire.Part{{ChangeSet: []batchwire.Request{
		create,
		op("PATCH", "$1", map[string]any{"telephone1": "555-0111"}, "2"),
	}}})
	if res.status != http.StatusOK || len(res.parts) != 1 || len(res.parts[0].ChangeSet) != 2 {
		t.Fatalf("status %d: %s", res.status, res.raw)
	}
	cs := res.parts[0].ChangeSet
	if cs[0].StatusCode != http.StatusCreated || cs[1].StatusCode != http.StatusNoContent {
		t.Fatalf("statuses %d %d: %s", cs[0].StatusCode, cs[1].StatusCode, res.raw)
	}
	id := response{status: 201, body: cs[0].Body}.json(t)["accountid"].(string)
	if got := mustStatus(t, e.do("GET", "accounts("+id+")?$select=telephone1", nil), 200).json(t); got["telephone1"] != "555-0111" {
		t.Fatalf("PATCH $1 after a representation: %v", got)
	}
}

// TestBatch runs the $batch cases against one server (starting one per case
// costs more than the cases); each case uses its own record names.
func TestBatch(t *testing.T) {
	shared := newTestEnv(t, Options{})
	for _, c := range []struct {
		name string
		fn   func(*testing.T, *testEnv)
	}{
		{"BatchChangeSetWithContentIDReferences", testBatchChangeSetWithContentIDReferences},
		{"BatchChangeSetRollsBackOnFailure", testBatchChangeSetRollsBackOnFailure},
		{"BatchStopsAtFirstFailureByDefault", testBatchStopsAtFirstFailureByDefault},
		{"BatchContinueOnErrorWithFailedChangeSet", testBatchContinueOnErrorWithFailedChangeSet},
		{"BatchForwardContentIDReference", testBatchForwardContentIDReference},
		{"BatchMalformedBodies", testBatchMalformedBodies},
		{"BatchOfExactlyMaxRequestsRuns", testBatchOfExactlyMaxRequestsRuns},
		{"BatchInsideBatchIsRejected", testBatchInsideBatchIsRejected},
		{"BatchContentIDAfterReturnRepresentation", testBatchContentIDAfterReturnRepresentation},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := *shared
			e.t = t
			c.fn(t, &e)
		})
	}
}
