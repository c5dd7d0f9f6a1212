package dataverse

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	cases := []struct {
		err  error
		want Class
	}{
		{nil, ClassNone},
		{context.Canceled, ClassStop},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), ClassStop},
		{&AuthError{Err: errors.New("no token")}, ClassStop},
		{&ResponseError{StatusCode: 401}, ClassStop},
		{&ResponseError{StatusCode: 403}, ClassStop},
		{&UnreachableError{Host: "h", Err: errors.New("refused")}, ClassStop},
		{&ResponseError{StatusCode: 429}, ClassRetry},
		{&ResponseError{StatusCode: 400, Code: CodeConcurrencyLimit}, ClassRetry},
		{&ResponseError{StatusCode: 500}, ClassRetry},
		{&ResponseError{StatusCode: 503}, ClassRetry},
		{fmt.Errorf("dataverse: GET x: %w", &transportError{errors.New("connection reset by peer")}), ClassRetry},
		{&bodyError{method: "GET", err: errors.New("unexpected EOF")}, ClassRetry},
		{&ResponseError{StatusCode: 400, Code: "0x80043e09"}, ClassReject},
		{&ResponseError{StatusCode: 404}, ClassReject},
		{&ResponseError{StatusCode: 412}, ClassReject},
		{errors.New("dataverse: record has no key"), ClassReject},
	}
	for _, c := range cases {
		if got := Classify(c.err); got != c.want {
			t.Errorf("Classify(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	if !ClassRetry.StopsRun() || !ClassStop.StopsRun() || ClassReject.StopsRun() {
		t.Error("StopsRun: retry and stop stop a run, reject does not")
	}
}

// freePort returns a loopback address nothing listens on.
func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestRefusedFirstRequestFailsAtOnce(t *testing.T) {
	addr := freePort(t)
	var notices atomic.Int32
	c, err := NewClient("http://"+addr, StaticToken("t"), &ClientOptions{OnRetry: func(RetryNotice) { notices.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.Get(context.Background(), "account", ByKey("accountnumber", "A"), "name")
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("took %v; a refused first connection must fail at once", took)
	}
	var ue *UnreachableError
	if !errors.As(err, &ue) || Classify(err) != ClassStop {
		t.Fatalf("err = %v (%T)", err, err)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || !strings.Contains(msg, addr) || !strings.Contains(msg, "connection refused") {
		t.Fatalf("want one line naming the host and the cause, got %q", msg)
	}
	if notices.Load() != 0 {
		t.Fatalf("%d retry notices for a refused first connection", notices.Load())
	}
}

func TestRetriesAfterTheFirstResponseAreAnnounced(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 2 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"accountid":"00000000-0000-0000-0000-000000000001"}`)
	}))
	defer srv.Close()
	var mu sync.Mutex
	var got []RetryNotice
	c, err := NewClient(srv.URL, StaticToken("t"), &ClientOptions{RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond,
		OnRetry: func(n RetryNotice) { mu.Lock(); got = append(got, n); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := c.Get(context.Background(), "account", ByKey("accountnumber", "A"), "accountid"); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 1 {
		t.Fatalf("notices %v", got)
	}
	s := got[0].String()
	if !strings.Contains(s, "waiting") || !strings.Contains(s, "503") || !strings.Contains(s, "GET /api/data/v9.2/accounts") {
		t.Fatalf("notice %q does not say it waits, why, and for what", s)
	}
}

func TestIdempotentActionIsRetried(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	c, err := NewClient(srv.URL, StaticToken("t"), &ClientOptions{RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.InvokeAction(context.Background(), "CloseIncident", map[string]any{}, nil, nil); StatusCode(err) != 502 {
		t.Fatalf("a plain action must not be re-sent after a 502: %v", err)
	}
	if err := c.InvokeAction(context.Background(), "CloseIncident", map[string]any{}, nil, &ActionOptions{Idempotent: true}); err != nil {
		t.Fatalf("idempotent action: %v", err)
	}
	calls.Store(0)
	if err := c.InvokeAction(context.Background(), "CloseIncident", map[string]any{}, nil, &ActionOptions{Idempotent: true}); err != nil || calls.Load() != 2 {
		t.Fatalf("idempotent action after a 502: err %v, %d calls", err, calls.Load())
	}
}
