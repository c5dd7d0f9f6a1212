package dataverse_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse"
)

func TestStandardHeadersAndNoAffinityCookie(t *testing.T) {
	f := newFake(t)
	c := f.client(t, nil)
	ctx := context.Background()
	for range 2 {
		if _, _, err := c.WhoAmI(ctx); err != nil {
			t.Fatal(err)
		}
	}
	h := f.lastHeaders
	for k, want := range map[string]string{
		"Accept":           "application/json",
		"OData-MaxVersion": "4.0",
		"OData-Version":    "4.0",
		"If-None-Match":    "null",
		"Authorization":    "Bearer " + fakeToken,
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if f.sawCookie.Load() {
		t.Error("client sent the ARRAffinity cookie back")
	}
}

func TestRetriesThrottledRequestsHonouringRetryAfter(t *testing.T) {
	f := newFake(t)
	var throttled atomic.Int32
	f.fault = func(w http.ResponseWriter, r *http.Request) bool {
		if throttled.Add(1) <= 2 {
			w.Header().Set("Retry-After", "0")
			writeErr(w, 429, dataverse.CodeRequestsLimit, "Number of requests exceeded the limit of 6000 over time window of 300 seconds.")
			return true
		}
		return false
	}
	c := f.client(t, nil)
	// A create without a client ID is not idempotent, yet a 429 is safe to
	// resend: throttled requests never run.
	id, err := c.Create(context.Background(), "incident", dataverse.Record{"title": "x"})
	if err != nil {
		t.Fatal(err)
	}
	if f.get(id.String()) == nil {
		t.Fatal("record not created")
	}
	if f.requests.Load() != 3 {
		t.Fatalf("requests = %d, want 3", f.requests.Load())
	}
	if s := c.Limiter().Stats(); s.Throttled != 2 {
		t.Fatalf("limiter saw %d throttles, want 2", s.Throttled)
	}
}

func TestUnsafeWritesAreNotRetriedOnServerErrors(t *testing.T) {
	f := newFake(t)
	f.fault = func(w http.ResponseWriter, r *http.Request) bool {
		writeErr(w, 503, "", "Service Unavailable")
		return true
	}
	c := f.client(t, &dataverse.ClientOptions{MaxRetries: 3})
	_, err := c.Create(context.Background(), "incident", dataverse.Record{"title": "x"})
	if dataverse.StatusCode(err) != 503 {
		t.Fatalf("err = %v, want 503", err)
	}
	if n := f.requests.Load(); n != 1 {
		t.Fatalf("a create without ID was sent %d times; it may have been applied, so it must not be resent", n)
	}
	f.requests.Store(0)
	_, err = c.Upsert(context.Background(), "incident", dataverse.ByKey("ticketnumber", "CAS-1"), dataverse.Record{"title": "x"})
	if dataverse.StatusCode(err) != 503 || !dataverse.IsTransient(err) {
		t.Fatalf("err = %v, want 503", err)
	}
	if n := f.requests.Load(); n != 4 {
		t.Fatalf("upsert sent %d times, want 1 + 3 retries", n)
	}
}

func TestRetriesConnectionErrorsOnReads(t *testing.T) {
	f := newFake(t)
	var drops atomic.Int32
	f.fault = func(w http.ResponseWriter, r *http.Request) bool {
		if drops.Add(1) == 1 {
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return true
		}
		return false
	}
	c := f.client(t, nil)
	if _, _, err := c.WhoAmI(context.Background()); err != nil {
		t.Fatalf("read not retried after a dropped connection: %v", err)
	}
}

func TestCreateWithClientIDSurvivesLostResponse(t *testing.T) {
	f := newFake(t)
	var calls atomic.Int32
	f.fault = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == "POST" && calls.Add(1) == 1 {
			// Apply the create, then lose the response.
			f.serve(httptestRecorder(), r)
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return true
		}
		return false
	}
	c := f.client(t, nil)
	id := uuid.New()
	got, err := c.Create(context.Background(), "incident", dataverse.Record{"incidentid": id.String(), "title": "x"})
	if err != nil {
		t.Fatal(err)
	}
	if got != id || f.count() != 1 {
		t.Fatalf("id = %v, records = %d; want %v and exactly one record", got, f.count(), id)
	}
}

func TestErrorsAreTypedAndCarryNoSecrets(t *testing.T) {
	f := newFake(t)
	c := f.client(t, nil)
	ctx := context.Background()
	_, err := c.Get(ctx, "incident", dataverse.ByID(uuid.New()))
	var re *dataverse.ResponseError
	if !errors.As(err, &re) || !dataverse.IsNotFound(err) || re.RequestID != "req-404" {
		t.Fatalf("err = %#v", err)
	}
	_, err = c.Create(ctx, "incident", dataverse.Record{"title": strings.Repeat("x", 201)})
	if !dataverse.IsBadRequest(err) || !errors.As(err, &re) || re.Code != dataverse.CodeValidation {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), fakeToken) || strings.Contains(fmt.Sprintf("%#v", err), fakeToken) {
		t.Fatal("token leaked into an error")
	}
	bad, _ := dataverse.NewClient(f.srv.URL, dataverse.StaticToken("wrong-SECRET"), &dataverse.ClientOptions{Schema: f.registry(true), Limiter: dataverse.NewLimiter(dataverse.LimiterOptions{})})
	_, _, err = bad.WhoAmI(ctx)
	if !dataverse.IsAuth(err) || strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("err = %v", err)
	}
	if s := fmt.Sprintf("%v %#v", dataverse.StaticToken("tok-SECRET"), dataverse.StaticToken("tok-SECRET")); strings.Contains(s, "SECRET") {
		t.Fatalf("static token printed: %s", s)
	}
}

func TestRefusesPlainHTTPToRemoteHosts(t *testing.T) {
	if _, err := dataverse.NewClient("http://org.crm.dynamics.com", dataverse.StaticToken("t"), nil); err == nil {
		t.Fatal("plain http to a remote host accepted")
	}
	c, err := dataverse.NewClient("https://org.crm.dynamics.com", dataverse.StaticToken("t"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.ServiceRoot() != "https://org.crm.dynamics.com/api/data/v9.2/" {
		t.Fatalf("root = %s", c.ServiceRoot())
	}
	c, err = dataverse.NewClient("http://127.0.0.1:1/api/data/v9.2", dataverse.StaticToken("t"), nil)
	if err != nil || c.ServiceRoot() != "http://127.0.0.1:1/api/data/v9.2/" {
		t.Fatalf("root = %v, %v", c, err)
	}
	if s, _ := dataverse.Scope("https://org.crm.dynamics.com/api/data/v9.2/"); s != "https://org.crm.dynamics.com/.default" {
		t.Fatalf("scope = %s", s)
	}
}

func TestDoesNotFollowLinksToOtherHosts(t *testing.T) {
	f := newFake(t)
	other, _ := net.Listen("tcp", "127.0.0.1:0")
	defer other.Close()
	var leaked atomic.Bool
	go func() {
		conn, err := other.Accept()
		if err == nil {
			leaked.Store(true)
			conn.Close()
		}
	}()
	f.fault = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Query().Get("$skiptoken") == "" && r.URL.Path == "/api/data/v9.2/incidents" {
			fmt.Fprintf(w, `{"value":[{"incidentid":"%s"}],"@odata.nextLink":"http://%s/api/data/v9.2/incidents?$skiptoken=x"}`, uuid.New(), other.Addr())
			return true
		}
		return false
	}
	c := f.client(t, nil)
	var err error
	for _, e := range c.Records(context.Background(), "incident", dataverse.Query{}) {
		err = e
	}
	if err == nil || !strings.Contains(err.Error(), "not") {
		t.Fatalf("err = %v, want refusal", err)
	}
	if leaked.Load() {
		t.Fatal("client connected to a foreign host from a server link")
	}
}

func TestContextCancelStopsRetryWait(t *testing.T) {
	f := newFake(t)
	f.fault = func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Retry-After", "3600")
		writeErr(w, 429, dataverse.CodeConcurrencyLimit, "Number of concurrent requests exceeded the limit of 52.")
		return true
	}
	c := f.client(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for f.requests.Load() == 0 {
			runtimeGosched()
		}
		cancel()
	}()
	_, _, err := c.WhoAmI(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// After a 429 no request may leave before Retry-After has passed, from any
// goroutine: Dataverse counts them against the same user and lengthens the
// block.
func TestThrottlingPausesEveryRequestUntilRetryAfter(t *testing.T) {
	f := newFake(t)
	var mu sync.Mutex
	var throttledAt time.Time
	var early []time.Duration
	probe, crowd := 0, 0
	f.fault = func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if throttledAt.IsZero() {
			throttledAt = time.Now()
			w.Header().Set("Retry-After", "1")
			writeErr(w, 429, dataverse.CodeRequestsLimit, "Number of requests exceeded the limit of 6000 over time window of 300 seconds.")
			return true
		}
		if d := time.Since(throttledAt); d < time.Second {
			early = append(early, d)
		}
		if probe == 0 {
			// The first request after the pause goes alone: hold it and
			// check that nobody else arrives meanwhile.
			probe = 1
			mu.Unlock()
			time.Sleep(50 * time.Millisecond)
			mu.Lock()
			probe = 2
			return false
		}
		if probe == 1 {
			crowd++
		}
		return false
	}
	c := f.client(t, nil)
	done := make(chan error, 4)
	go func() { _, _, err := c.WhoAmI(context.Background()); done <- err }()
	for c.Limiter().Stats().Throttled == 0 {
		runtimeGosched()
	}
	for range 3 {
		go func() { _, _, err := c.WhoAmI(context.Background()); done <- err }()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if len(early) > 0 {
		t.Fatalf("%d requests sent during the Retry-After pause (after %v)", len(early), early)
	}
	if crowd > 0 {
		t.Fatalf("%d requests sent alongside the first request after the pause", crowd)
	}
}

func TestReadsAreResentWhenTheBodyBreaksOff(t *testing.T) {
	f := newFake(t)
	id := uuid.NewString()
	f.put(map[string]any{"incidentid": id, "title": "whole"})
	var cut atomic.Bool
	f.fault = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == "GET" && cut.CompareAndSwap(false, true) {
			rec := httptestRecorder()
			f.serve(rec, r)
			body := rec.Body.String()
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.WriteHeader(200)
			w.Write([]byte(body[:len(body)/2]))
			w.(http.Flusher).Flush()
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return true
		}
		return false
	}
	c := f.client(t, nil)
	rec, err := c.Get(context.Background(), "incident", dataverse.ByID(uuid.MustParse(id)), "title")
	if err != nil || rec.String("title") != "whole" || !cut.Load() {
		t.Fatalf("rec %v, err %v", rec, err)
	}
}
