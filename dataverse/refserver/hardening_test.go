package refserver

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Issue 13, defect 3: a long $filter gave "500 0x80040216 An unexpected
// error occurred." Limits are now checked before SQL is built.
func TestLongFilterIsRefusedNot500(t *testing.T) {
	e := newTestEnv(t, Options{})
	e.createID("accounts", map[string]any{"name": "a", "fax": "7"})
	chain := func(n int) string {
		return "fax eq '0'" + strings.Repeat(" or fax eq '7'", n-1)
	}
	r := e.do("GET", "accounts?$select=name&$filter="+chain(999), nil)
	if code, msg := r.errorPayload(t); r.status != http.StatusBadRequest || code != "0x80060888" || msg != "Recursion depth exceeded allowed limit." {
		t.Fatalf("999 ORs: %d %s %s", r.status, code, msg)
	}
	// Below ODL's limit the chain runs: SQL gets a balanced tree.
	if v := mustStatus(t, e.do("GET", "accounts?$select=name&$filter="+chain(790), nil), http.StatusOK).values(t); len(v) != 1 {
		t.Fatalf("790 ORs: %d rows", len(v))
	}
	nots := strings.Repeat("not (", 400) + "fax eq '7'" + strings.Repeat(")", 400)
	r = e.do("GET", "accounts?$select=name&$filter="+nots, nil)
	if r.status != http.StatusBadRequest {
		t.Fatalf("400 nots: status %d: %s", r.status, r.body)
	}
	long := strings.Repeat("x", maxLikePattern+1)
	r = e.do("GET", "accounts?$filter=contains(name,'"+long+"')", nil)
	if r.status != http.StatusBadRequest {
		t.Fatalf("long contains: status %d", r.status)
	}
}

// Issue 13, defect 4: a URL past 32,768 characters and a body past 128 MB
// are refused before anything is read, and bodies in flight are bounded.
func TestRequestSizeLimits(t *testing.T) {
	e := newTestEnv(t, Options{MaxInFlightBytes: 64 << 20})
	r := e.do("GET", "accounts?$filter=name eq '"+strings.Repeat("x", MaxURLLength)+"'", nil)
	if r.status != http.StatusRequestURITooLong {
		t.Fatalf("long URL: %d", r.status)
	}
	req, _ := http.NewRequest("POST", e.api+"accounts", strings.NewReader("{}"))
	req.ContentLength = maxBodyBytes + 1
	req.Header.Set("Authorization", "Bearer t")
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("huge body: %d", resp.StatusCode)
		}
	}
	// 20 MB costs 80 MB of the 64 MB budget: 429 with Retry-After.
	big := `{"name":"` + strings.Repeat("y", 20<<20) + `"}`
	r = e.do("POST", "accounts", big)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("over budget: %d %s", r.status, r.body[:min(len(r.body), 200)])
	}
	// Within budget the same path answers normally (a validation error:
	// name holds 160 characters).
	r = e.do("POST", "accounts", `{"name":"`+strings.Repeat("y", 4<<20)+`"}`)
	if r.status != http.StatusBadRequest {
		t.Fatalf("within budget: %d", r.status)
	}
	if e.srv.budget.used != 0 {
		t.Fatalf("budget not released: %d", e.srv.budget.used)
	}
}

// A handler that fails unexpectedly answers 500 with the request id logged,
// and a panic does not take the server down.
func TestUnexpectedErrorsAreLogged(t *testing.T) {
	var logs strings.Builder
	e := newTestEnv(t, Options{Logger: slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))})
	rec := httptest.NewRecorder()
	w := &loggingWriter{ResponseWriter: rec, log: requestLog{s: e.srv, reqID: "rid-1"}}
	writeError(w, errors.New("disk on fire"))
	if rec.Code != 500 || !strings.Contains(logs.String(), "rid-1") || !strings.Contains(logs.String(), "disk on fire") {
		t.Fatalf("code %d, log %q", rec.Code, logs.String())
	}
	func() {
		defer e.srv.recoverRequest(w, httptest.NewRequest("GET", "/x", nil), "rid-2")
		panic("boom")
	}()
	if !strings.Contains(logs.String(), "rid-2") {
		t.Fatalf("panic not logged: %q", logs.String())
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
