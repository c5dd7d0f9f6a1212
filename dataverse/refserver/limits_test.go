package refserver

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/dvsync/dvsync/dataverse/batchwire"
)

func TestParseLimits(t *testing.T) {
	l, err := ParseLimits("requests=600/30s,time=120s/30s,concurrent=8")
	if err != nil {
		t.Fatal(err)
	}
	want := Limits{Requests: 600, RequestWindow: 30 * time.Second, ExecutionTime: 120 * time.Second, TimeWindow: 30 * time.Second, Concurrent: 8}
	if *l != want {
		t.Fatalf("got %+v", *l)
	}
	l, err = ParseLimits("requests=600/30s,concurrent=8")
	if err != nil || l.ExecutionTime != 1200*time.Second || l.TimeWindow != 300*time.Second {
		t.Fatalf("settings left out keep the defaults: %+v %v", l, err)
	}
	if l, err := ParseLimits("dataverse"); err != nil || *l != DefaultLimits() {
		t.Fatalf("dataverse: %+v %v", l, err)
	}
	if l, err := ParseLimits("off"); err != nil || l != nil {
		t.Fatalf("off: %+v %v", l, err)
	}
	if rt, err := ParseLimits(DefaultLimits().String()); err != nil || *rt != DefaultLimits() {
		t.Fatalf("String does not round-trip: %v %v", rt, err)
	}
	for _, bad := range []string{"requests=600", "requests=x/30s", "requests=10/0s", "time=5/30s", "concurrent=-1", "burst=5", "requests"} {
		if _, err := ParseLimits(bad); err == nil {
			t.Errorf("ParseLimits(%q) accepted", bad)
		}
	}
}

func mustThrottled(t *testing.T, r response, code string) int {
	t.Helper()
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429: %s", r.status, r.body)
	}
	got, _ := r.errorPayload(t)
	if got != code {
		t.Fatalf("code %s, want %s", got, code)
	}
	if r.header.Get("x-ms-dop-hint") == "" {
		t.Fatal("429 without x-ms-dop-hint")
	}
	ra, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || ra < 1 {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	return ra
}

func TestRequestLimitAndGrowingRetryAfter(t *testing.T) {
	e := newTestEnv(t, Options{Limits: &Limits{Requests: 3, RequestWindow: time.Minute}})
	for i := range 3 {
		r := mustStatus(t, e.do("GET", "WhoAmI", nil), 200)
		if got := r.header.Get("x-ms-ratelimit-burst-remaining-xrm-requests"); got != strconv.Itoa(2-i) {
			t.Fatalf("burst remaining %q after %d requests", got, i+1)
		}
	}
	r := e.do("GET", "WhoAmI", nil)
	first := mustThrottled(t, r, codeTooManyRequests)
	if _, msg := r.errorPayload(t); msg != "Number of requests exceeded the limit of 3 over time window of 60 seconds." {
		t.Fatalf("message %q", msg)
	}
	if first > 60 {
		t.Fatalf("Retry-After %d exceeds the window", first)
	}
	prev := first
	for range 3 {
		next := mustThrottled(t, e.do("GET", "WhoAmI", nil), codeTooManyRequests)
		if next <= prev {
			t.Fatalf("Retry-After did not grow under continued pressure: %d then %d", prev, next)
		}
		prev = next
	}
	// Another caller has its own window.
	mustStatus(t, e.do("GET", "WhoAmI", nil, "Authorization: Bearer someone-else"), 200)
}

func TestRequestWindowSlides(t *testing.T) {
	lm := newLimiter(Limits{Requests: 2, RequestWindow: time.Minute})
	now := time.Now()
	id := "caller"
	for range 2 {
		done, _, err := lm.admit(id, now)
		if err != nil {
			t.Fatal(err)
		}
		done(0)
	}
	if _, _, err := lm.admit(id, now.Add(59*time.Second)); err == nil || err.RetryAfter != 1 {
		t.Fatalf("inside the window: %v", err)
	}
	// A client that waits exactly Retry-After gets in, and its wait does
	// not count as pressure.
	if _, _, err := lm.admit(id, now.Add(60*time.Second)); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func TestExecutionTimeLimit(t *testing.T) {
	e := newTestEnv(t, Options{
		Limits:  &Limits{ExecutionTime: 40 * time.Millisecond, TimeWindow: time.Minute},
		Latency: &Latency{PerRequest: 50 * time.Millisecond},
	})
	mustStatus(t, e.do("GET", "WhoAmI", nil), 200)
	r := e.do("GET", "WhoAmI", nil)
	ra := mustThrottled(t, r, codeExecutionTime)
	if _, msg := r.errorPayload(t); msg != "Combined execution time of incoming requests exceeded limit of 40 milliseconds over time window of 60 seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later." {
		t.Fatalf("message %q", msg)
	}
	if ra > 60 {
		t.Fatalf("Retry-After %d", ra)
	}
}

func TestExecutionTimeMessageUsesDataverseDefaults(t *testing.T) {
	lm := newLimiter(DefaultLimits())
	if msg := lm.throttled(codeExecutionTime, 1).Message; msg != "Combined execution time of incoming requests exceeded limit of 1,200,000 milliseconds over time window of 300 seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later." {
		t.Fatalf("message %q", msg)
	}
	if msg := lm.throttled(codeTooManyRequests, 1).Message; msg != "Number of requests exceeded the limit of 6000 over time window of 300 seconds." {
		t.Fatalf("message %q", msg)
	}
	if msg := lm.throttled(codeTooManyConcurrent, 1).Message; msg != "Number of concurrent requests exceeded the limit of 52." {
		t.Fatalf("message %q", msg)
	}
}

func TestConcurrentLimit(t *testing.T) {
	e := newTestEnv(t, Options{
		Limits:  &Limits{Concurrent: 1},
		Latency: &Latency{PerRequest: time.Hour},
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", e.api+"WhoAmI", nil)
		req.Header.Set("Authorization", "Bearer test-token")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	// Wait until the first request holds the only slot.
	for {
		e.srv.limiter.mu.Lock()
		n := 0
		for _, c := range e.srv.limiter.callers {
			n += c.inflight
		}
		e.srv.limiter.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	r := e.do("GET", "WhoAmI", nil)
	if ra := mustThrottled(t, r, codeTooManyConcurrent); ra != 1 {
		t.Fatalf("Retry-After %d", ra)
	}
	if _, msg := r.errorPayload(t); msg != "Number of concurrent requests exceeded the limit of 1." {
		t.Fatalf("message %q", msg)
	}
	cancel() // the hour-long request ends with its client; Close must not hang
}

func TestBatchCountsAsOneRequest(t *testing.T) {
	e := newTestEnv(t, Options{Limits: &Limits{Requests: 2, RequestWindow: time.Minute}})
	parts := make([]batchwire.Part, 5)
	for i := range parts {
		parts[i] = single(op("GET", "WhoAmI", nil, ""))
	}
	if res := e.batch(parts); res.status != 200 || len(res.parts) != 5 {
		t.Fatalf("batch: %d", res.status)
	}
	mustStatus(t, e.do("GET", "WhoAmI", nil), 200)
	mustThrottled(t, e.do("GET", "WhoAmI", nil), codeTooManyRequests)
}

func TestGroupThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 40000: "40,000", 1200000: "1,200,000"} {
		if got := groupThousands(n); got != want {
			t.Errorf("groupThousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestIdleCallersAreForgotten(t *testing.T) {
	lm := newLimiter(Limits{Requests: 10, RequestWindow: time.Second})
	start := time.Now()
	for i := range sweepEvery - 1 {
		done, _, err := lm.admit(strconv.Itoa(i), start)
		if err != nil {
			t.Fatal(err)
		}
		done(0)
	}
	later := start.Add(time.Hour)
	done, _, _ := lm.admit("active", later) // triggers the sweep
	if len(lm.callers) != 1 {
		t.Fatalf("%d callers remembered after a sweep, want only the active one", len(lm.callers))
	}
	done(0)
}
