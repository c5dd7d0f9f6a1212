package refserver

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// testEnv is a reference server behind httptest with a small HTTP helper.
type testEnv struct {
	t   *testing.T
	srv *Server
	hs  *httptest.Server
	api string
}

func newTestEnv(t *testing.T, opts Options) *testEnv {
	t.Helper()
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	return &testEnv{t: t, srv: srv, hs: hs, api: hs.URL + APIPath}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("status %d: body is not a JSON object: %v\n%s", r.status, err, r.body)
	}
	return m
}

// errorPayload returns error.code and error.message, failing if the body
// is not Dataverse's error shape.
func (r response) errorPayload(t *testing.T) (code, message string) {
	t.Helper()
	var e struct {
		Error *struct {
			Code    *string `json:"code"`
			Message *string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error == nil || e.Error.Code == nil || e.Error.Message == nil {
		t.Fatalf("status %d: not a Dataverse error payload: %s", r.status, r.body)
	}
	return *e.Error.Code, *e.Error.Message
}

func (r response) values(t *testing.T) []map[string]any {
	t.Helper()
	raw, ok := r.json(t)["value"].([]any)
	if !ok {
		t.Fatalf("no value array: %s", r.body)
	}
	out := make([]map[string]any, len(raw))
	for i, v := range raw {
		out[i] = v.(map[string]any)
	}
	return out
}

// do sends a request; path is relative to the service root unless it is an
// absolute URL. Headers are "Name: value" strings.
func (e *testEnv) do(method, path string, body any, headers ...string) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, _ := json.Marshal(b)
		rd = bytes.NewReader(buf)
	}
	url := strings.ReplaceAll(path, " ", "%20")
	if !strings.HasPrefix(path, "http") {
		url = e.api + url
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer test-token")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("OData-MaxVersion", "4.0")
	req.Header.Set("OData-Version", "4.0")
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		if strings.TrimSpace(value) == "" {
			req.Header.Del(name)
			continue
		}
		req.Header.Set(name, strings.TrimSpace(value))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// mustStatus fails unless the response has the wanted status.
func mustStatus(t *testing.T, r response, want int) response {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d: %s", r.status, want, r.body)
	}
	return r
}

// createID creates a record and returns its id from OData-EntityId.
func (e *testEnv) createID(set string, body map[string]any) string {
	e.t.Helper()
	r := mustStatus(e.t, e.do("POST", set, body), http.StatusNoContent)
	loc := r.header.Get("OData-EntityId")
	open, close := strings.LastIndexByte(loc, '('), strings.LastIndexByte(loc, ')')
	if open < 0 || close < open {
		e.t.Fatalf("bad OData-EntityId %q", loc)
	}
	return loc[open+1 : close]
}
