package odooserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// xmlCall wraps params (already XML) in a methodCall for execute_kw.
func xmlCall(method string, params ...string) string {
	var b strings.Builder
	b.WriteString("<?xml version='1.0'?>\n<methodCall><methodName>" + method + "</methodName><params>")
	for _, p := range params {
		b.WriteString("<param><value>" + p + "</value></param>")
	}
	b.WriteString("</params></methodCall>")
	return b.String()
}

func postXML(t *testing.T, url, body string) string {
	t.Helper()
	resp, err := http.Post(url, "text/xml", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, out)
	}
	return string(out)
}

// Issue 13, defect 1: 1,100,000 nested <array><value> used to overflow the
// goroutine stack and kill the process. Now it is a fault 1 RecursionError
// and the server keeps answering.
func TestXMLRPCDeepNestingIsAFault(t *testing.T) {
	_, ts := newTestServer(t, Options{})
	const depth = 1_100_000
	var b strings.Builder
	b.WriteString("<?xml version='1.0'?><methodCall><methodName>version</methodName><params><param><value>")
	for range depth {
		b.WriteString("<array><data><value>")
	}
	b.WriteString("<int>1</int>")
	for range depth {
		b.WriteString("</value></data></array>")
	}
	b.WriteString("</value></param></params></methodCall>")
	out := postXML(t, ts.URL+"/xmlrpc/2/common", b.String())
	if !strings.Contains(out, "<name>faultCode</name>\n<value><int>1</int>") || !strings.Contains(out, "RecursionError: maximum recursion depth exceeded") {
		t.Fatalf("want fault 1 RecursionError, got %.400s", out)
	}
	// Elements that are not <value> nest just as deep in encoding/xml's stack.
	unknown := "<?xml version='1.0'?><methodCall><methodName>version</methodName>" + strings.Repeat("<a>", 500_000) + strings.Repeat("</a>", 500_000) + "</methodCall>"
	if out := postXML(t, ts.URL+"/xmlrpc/2/common", unknown); !strings.Contains(out, "RecursionError") {
		t.Fatalf("deep unknown elements: %.400s", out)
	}
	// Still alive, and a value nested at the limit still decodes.
	ok := xmlCall("version", strings.Repeat("<array><data><value>", maxNesting-1)+"<int>1</int>"+strings.Repeat("</value></data></array>", maxNesting-1))
	if out := postXML(t, ts.URL+"/xmlrpc/2/common", ok); !strings.Contains(out, "server_version") {
		t.Fatalf("nesting at the limit refused: %.400s", out)
	}
}

func TestJSONDeepNestingIsARecursionError(t *testing.T) {
	_, ts := newTestServer(t, Options{Version: 19})
	deep := strings.Repeat("[", 1_100_000) + strings.Repeat("]", 1_100_000)

	// JSON-RPC: not a ValueError, so handle_error answers an envelope.
	body := `{"jsonrpc":"2.0","method":"call","id":3,"params":{"service":"common","method":"version","args":` + deep + `}}`
	resp, err := http.Post(ts.URL+"/jsonrpc", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]any
	json.NewDecoder(resp.Body).Decode(&env)
	resp.Body.Close()
	data, _ := env["error"].(map[string]any)["data"].(map[string]any)
	if resp.StatusCode != 200 || data["name"] != "builtins.RecursionError" || env["id"] != nil {
		t.Fatalf("jsonrpc: status %d, envelope %v", resp.StatusCode, env)
	}

	// JSON-2: a 500 with the exception's name.
	req, _ := http.NewRequest("POST", ts.URL+"/json/2/res.partner/search", strings.NewReader(`{"domain":`+deep+`}`))
	req.Header.Set("Authorization", "bearer "+testKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var e map[string]any
	json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if resp.StatusCode != 500 || e["name"] != "builtins.RecursionError" {
		t.Fatalf("json2: status %d, body %v", resp.StatusCode, e)
	}

	// Brackets inside strings are data, not nesting.
	if _, err := decodeJSON([]byte(`{"a":"` + strings.Repeat("[", 5000) + `"}`)); err != nil {
		t.Fatalf("brackets in a string: %v", err)
	}
}

// unreadable fails the test if the server reads a body it should refuse on
// its declared length alone.
type unreadable struct{ t *testing.T }

func (u unreadable) Read([]byte) (int, error) { u.t.Error("body was read"); return 0, io.EOF }

// Issue 13, defect 4: Odoo's 128 MiB request limit, per protocol.
func TestRequestEntityTooLarge(t *testing.T) {
	srv, err := New(Options{Version: 19, APIKey: testKey, Now: fixedClock()})
	if err != nil {
		t.Fatal(err)
	}
	serve := func(path string, length int64, body io.Reader) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", path, body)
		req.ContentLength = length
		req.Header.Set("Authorization", "bearer "+testKey)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		return rec
	}
	declared := int64(maxBodyBytes + 1)
	if rec := serve("/xmlrpc/2/object", declared, unreadable{t}); rec.Code != 200 || !strings.Contains(rec.Body.String(), "werkzeug.exceptions.RequestEntityTooLarge: 413 Request Entity Too Large") {
		t.Fatalf("xmlrpc: %d %.300s", rec.Code, rec.Body)
	}
	rec := serve("/jsonrpc", declared, unreadable{t})
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"name":"werkzeug.exceptions.RequestEntityTooLarge"`) {
		t.Fatalf("jsonrpc: %d %.300s", rec.Code, rec.Body)
	}
	if rec := serve("/json/2/res.partner/search", declared, unreadable{t}); rec.Code != 413 {
		t.Fatalf("json2: %d %.300s", rec.Code, rec.Body)
	}
	// A chunked body (no declared length) is cut off as it streams in.
	srv.maxBody = 1 << 10
	chunked := `{"jsonrpc":"2.0","method":"call","params":{"service":"common","method":"version","args":["` + strings.Repeat("x", 4<<10) + `"]}}`
	if rec := serve("/jsonrpc", -1, strings.NewReader(chunked)); !strings.Contains(rec.Body.String(), "RequestEntityTooLarge") {
		t.Fatalf("chunked jsonrpc: %d %.300s", rec.Code, rec.Body)
	}
	if rec := serve("/json/2/res.partner/search", -1, strings.NewReader(`{"domain":[["name","=","`+strings.Repeat("x", 4<<10)+`"]]}`)); rec.Code != 413 {
		t.Fatalf("chunked json2: %d %.300s", rec.Code, rec.Body)
	}
}

func TestInFlightBudgetAnswers429(t *testing.T) {
	srv, err := New(Options{APIKey: testKey, Now: fixedClock(), MaxInFlightBytes: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	versionCall := xmlCall("version")
	// Another request holds most of the budget.
	if !srv.inflight.take(4<<10 - 10) {
		t.Fatal("budget")
	}
	req := httptest.NewRequest("POST", "/xmlrpc/2/common", strings.NewReader(versionCall))
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("want 429 with Retry-After, got %d %v", rec.Code, rec.Header())
	}
	srv.inflight.give(4<<10 - 10)
	rec = httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest("POST", "/xmlrpc/2/common", strings.NewReader(versionCall)))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "server_version") {
		t.Fatalf("after release: %d %.200s", rec.Code, rec.Body)
	}
	if srv.inflight.used != 0 {
		t.Fatalf("budget not given back: %d bytes still held", srv.inflight.used)
	}
	// Chunked bodies are charged as they arrive.
	srv.inflight.take(4<<10 - 10)
	bd := &body{r: bytes.NewReader(make([]byte, 100)), b: srv.inflight, max: maxBodyBytes}
	if _, err := io.ReadAll(bd); !errors.Is(err, errBusy) {
		t.Fatalf("chunked over budget: %v", err)
	}
}

// Issue 13, defect 5: reading 40,000 missing ids took 4.9 s because the
// MissingError text was built by repeated string concatenation.
func TestPyTupleIsLinear(t *testing.T) {
	ids := make([]int, 40_000)
	for i := range ids {
		ids[i] = i + 1
	}
	if allocs := testing.AllocsPerRun(3, func() { pyTuple(ids) }); allocs > 2 {
		t.Fatalf("pyTuple allocates %v times for 40,000 ids; want a single buffer", allocs)
	}
	if got := pyTuple([]int{4}); got != "4," {
		t.Fatalf("pyTuple(4) = %q", got)
	}
	if got := pyTuple([]int{4, 5}); got != "4, 5" {
		t.Fatalf("pyTuple(4, 5) = %q", got)
	}
}

// A body of millions of tiny values would decode to gigabytes; past
// maxValuesPerRequest the reference server answers like a proxy in front of
// a worker killed by --limit-memory-hard (502), on every protocol.
func TestTooManyValuesIsAKilledWorker(t *testing.T) {
	srv, ts := newTestServer(t, Options{Version: 19})
	srv.maxValues = 1000
	ones := strings.Repeat("1,", srv.maxValues+1) + "1"
	for path, body := range map[string]string{
		"/jsonrpc": `{"jsonrpc":"2.0","method":"call","id":1,"params":{"service":"common","method":"version","args":[` + ones + `]}}`,
		"/xmlrpc/2/common": "<?xml version='1.0'?><methodCall><methodName>version</methodName><params><param><value><array><data>" +
			strings.Repeat("<value><i4>1</i4></value>", srv.maxValues/2+1) + "</data></array></value></param></params></methodCall>",
		"/json/2/res.partner/search_count": `{"domain":[` + ones + `]}`,
	} {
		req, _ := http.NewRequest("POST", ts.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "bearer "+testKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadGateway {
			t.Errorf("%s: status %d, want 502", path, resp.StatusCode)
		}
	}
}

// Issue 13, item 5: a single call is bounded as Odoo bounds it, by
// --limit-time-real; past it the answer is the proxy's 502.
func TestLimitTimeRealStopsLongReads(t *testing.T) {
	_, ts := newTestServer(t, Options{SeedDir: seedDir, LimitTimeReal: 1})
	body := `{"jsonrpc":"2.0","method":"call","id":1,"params":{"service":"object","method":"execute_kw","args":["dvsync",2,"` + testKey + `","helpdesk.ticket","search_count",[[["name","ilike","a"]]],{}]}}`
	resp, err := http.Post(ts.URL+"/jsonrpc", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d, want 502", resp.StatusCode)
	}
	// The default leaves ordinary calls alone.
	_, ts = newTestServer(t, Options{SeedDir: seedDir})
	env := jsonrpc(t, ts.URL, "object", "execute_kw", Database, adminUID, testKey, "helpdesk.ticket", "search_count", []any{[]any{[]any{"name", "ilike", "a"}}}, map[string]any{})
	if _, ok := env["result"].(float64); !ok {
		t.Fatalf("search_count = %v", env)
	}
}
