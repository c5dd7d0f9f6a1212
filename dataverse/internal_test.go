package dataverse

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/uuid"
)

func TestBackoffHonoursRetryAfterExactly(t *testing.T) {
	for _, v := range []string{"0", "1", "17", "300"} {
		resp := &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {v}}}
		d := backoff(time.Second, time.Minute, 5, resp)
		want, _ := time.ParseDuration(v + "s")
		if d != want {
			t.Errorf("Retry-After %s: waited %v", v, d)
		}
	}
	date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	if d, ok := parseRetryAfter(date, time.Now()); !ok || d < 80*time.Second || d > 91*time.Second {
		t.Errorf("HTTP-date Retry-After: %v %v", d, ok)
	}
	if _, ok := parseRetryAfter("soon", time.Now()); ok {
		t.Error("garbage Retry-After accepted")
	}
}

func TestBackoffIsJitteredAndBounded(t *testing.T) {
	seen := map[time.Duration]bool{}
	for attempt := range 8 {
		ceil := min(time.Second<<attempt, 10*time.Second)
		for range 50 {
			d := backoff(time.Second, 10*time.Second, attempt, nil)
			if d < ceil/2 || d > ceil {
				t.Fatalf("attempt %d: %v outside [%v, %v]", attempt, d, ceil/2, ceil)
			}
			seen[d] = true
		}
	}
	if len(seen) < 100 {
		t.Fatalf("only %d distinct delays: not jittered", len(seen))
	}
}

func TestCheckRetryPolicy(t *testing.T) {
	safe, _ := withRequestState(context.Background(), true)
	unsafe, _ := withRequestState(context.Background(), false)
	cases := []struct {
		ctx    context.Context
		status int
		err    error
		want   bool
	}{
		{unsafe, 429, nil, true},
		{unsafe, 503, nil, false},
		{safe, 503, nil, true},
		{safe, 502, nil, true},
		{safe, 504, nil, true},
		{safe, 500, nil, true},
		{unsafe, 500, nil, false},
		{safe, 400, nil, false},
		{safe, 0, errors.New("connection reset"), true},
		{unsafe, 0, errors.New("connection reset"), false},
		{safe, 0, &AuthError{Err: errors.New("no")}, false},
	}
	for i, c := range cases {
		var resp *http.Response
		if c.err == nil {
			resp = &http.Response{StatusCode: c.status, Header: http.Header{}}
		}
		got, _ := checkRetry(c.ctx, resp, c.err)
		if got != c.want {
			t.Errorf("case %d: retry = %v, want %v", i, got, c.want)
		}
	}
	cancelled, cancel := context.WithCancel(safe)
	cancel()
	if got, _ := checkRetry(cancelled, &http.Response{StatusCode: 429}, nil); got {
		t.Error("retried after cancel")
	}
}

func TestLimiterAIMD(t *testing.T) {
	l := NewLimiter(LimiterOptions{Initial: 4, Max: 20})
	l.hint(12)
	if l.Limit() != 12 {
		t.Fatalf("after hint: %d", l.Limit())
	}
	l.hint(30) // only the first hint sets the start
	if l.Limit() != 12 {
		t.Fatalf("second hint changed the limit: %d", l.Limit())
	}
	ctx := context.Background()
	var tickets []ticket
	for range 12 {
		tk, err := l.acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tickets = append(tickets, tk)
	}
	// A burst of 429s from one round halves the limit once.
	for _, tk := range tickets {
		l.throttled(tk, CodeConcurrencyLimit)
	}
	if l.Limit() != 6 {
		t.Fatalf("after a burst of 429s: %d, want 6", l.Limit())
	}
	for _, tk := range tickets {
		l.release(tk)
	}
	// A 429 from the new round halves again.
	tk, _ := l.acquire(ctx)
	l.throttled(tk, "")
	l.release(tk)
	if l.Limit() != 3 {
		t.Fatalf("limit %d, want 3", l.Limit())
	}
	// Count and execution-time limits pause instead of cutting parallelism.
	tk, _ = l.acquire(ctx)
	l.throttled(tk, CodeExecutionTimeLimit)
	l.throttled(tk, CodeRequestsLimit)
	l.release(tk)
	if l.Limit() != 3 {
		t.Fatalf("volume 429s changed the limit to %d", l.Limit())
	}
	// Successes with a full window grow it back, about one per round.
	for range 200 {
		var ts []ticket
		for range l.Limit() {
			tk, _ := l.acquire(ctx)
			ts = append(ts, tk)
		}
		for _, tk := range ts {
			l.success(tk)
		}
		for _, tk := range ts {
			l.release(tk)
		}
	}
	if l.Limit() != 20 {
		t.Fatalf("did not recover to the cap: %d", l.Limit())
	}
	s := l.Stats()
	if s.Throttled != 15 || s.Decreases != 2 || s.DOPHint != 30 {
		t.Fatalf("stats %+v", s)
	}
}

func TestLimiterBlocksAtTheLimitAndHonoursContext(t *testing.T) {
	l := NewLimiter(LimiterOptions{Initial: 2, Fixed: true})
	ctx := context.Background()
	first, _ := l.acquire(ctx)
	l.acquire(ctx)
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { _, err := l.acquire(cctx); done <- err }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	go func() { _, err := l.acquire(ctx); done <- err }()
	l.release(first)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestLimiterNeverExceedsItsLimitUnderLoad(t *testing.T) {
	l := NewLimiter(LimiterOptions{Initial: 5, Fixed: true})
	var in, peak atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				tk, _ := l.acquire(context.Background())
				n := in.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				in.Add(-1)
				l.release(tk)
			}
		}()
	}
	wg.Wait()
	if peak.Load() > 5 {
		t.Fatalf("peak %d > 5", peak.Load())
	}
}

func TestKeyBoundariesIncreaseInTextAndSQLServerOrder(t *testing.T) {
	sqlKey := func(u uuid.UUID) []byte {
		var b []byte
		for _, i := range []int{10, 11, 12, 13, 14, 15, 8, 9, 6, 7, 4, 5, 0, 1, 2, 3} {
			b = append(b, u[i])
		}
		return b
	}
	for n := 2; n <= 64; n++ {
		bs := keyBoundaries(n)
		if len(bs) != n-1 {
			t.Fatalf("n=%d: %d boundaries", n, len(bs))
		}
		for i := 1; i < len(bs); i++ {
			if bs[i-1].String() >= bs[i].String() || bytes.Compare(sqlKey(bs[i-1]), sqlKey(bs[i])) >= 0 {
				t.Fatalf("n=%d: boundaries %v, %v not increasing in both orders", n, bs[i-1], bs[i])
			}
		}
	}
}

type countingCred struct {
	calls atomic.Int32
	life  time.Duration
	now   func() time.Time
}

func (c *countingCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	n := c.calls.Add(1)
	return azcore.AccessToken{Token: "tok" + string(rune('0'+n)), ExpiresOn: c.now().Add(c.life)}, nil
}

func TestTokenCacheRefreshesBeforeExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	cred := &countingCred{life: time.Hour, now: clock}
	tc := &tokenCache{cred: cred, scope: "https://x/.default", now: clock}
	ctx := context.Background()
	a, _ := tc.token(ctx)
	b, _ := tc.token(ctx)
	if a != b || cred.calls.Load() != 1 {
		t.Fatalf("not cached: %s %s, %d calls", a, b, cred.calls.Load())
	}
	now = now.Add(56 * time.Minute) // inside the 5-minute margin
	c, _ := tc.token(ctx)
	if c == a || cred.calls.Load() != 2 {
		t.Fatal("token not refreshed before expiry")
	}
}

func TestNewCredentialValidatesWithoutEchoingSecrets(t *testing.T) {
	_, err := NewCredential(CredentialOptions{Kind: CredentialClientSecret, ClientSecret: "s3cr3t"})
	if err == nil || bytes.Contains([]byte(err.Error()), []byte("s3cr3t")) {
		t.Fatalf("err = %v", err)
	}
	if _, err := NewCredential(CredentialOptions{Kind: "magic"}); err == nil {
		t.Fatal("unknown kind accepted")
	}
	if _, err := NewCredential(CredentialOptions{Kind: CredentialStaticToken}); err == nil {
		t.Fatal("empty static token accepted")
	}
	cred, err := NewCredential(CredentialOptions{Kind: CredentialClientSecret, TenantID: "00000000-0000-0000-0000-000000000001", ClientID: "00000000-0000-0000-0000-000000000002", ClientSecret: "s3cr3t"})
	if err != nil || cred == nil {
		t.Fatalf("client-secret credential: %v", err)
	}
}

func TestSameValueIsConservative(t *testing.T) {
	cases := []struct {
		want, got any
		same      bool
	}{
		{"a", "a", true},
		{"a", "A", false},
		{"2024-01-02T03:04:05+01:00", "2024-01-02T02:04:05Z", true},
		{json.Number("1.50"), json.Number("1.5"), true},
		{json.Number("10"), float64(10), true},
		{10, json.Number("10.0001"), false},
		{true, true, true},
		{true, "true", false},
		{nil, nil, true},
		{nil, "", false},
		{"x", nil, false},
		{map[string]any{"a": 1}, map[string]any{"a": 1}, true},
	}
	for i, c := range cases {
		if got := sameValue(c.want, c.got); got != c.same {
			t.Errorf("case %d: sameValue(%#v, %#v) = %v", i, c.want, c.got, got)
		}
	}
}

func TestTruncatedErrorPayloadKeepsTheCode(t *testing.T) {
	body := []byte(`{"error":{"code":"0x80060892","message":"A record that has the attribute values accountnumber al`)
	e := errorFromParts(412, http.Header{}, body)
	if e.Code != "0x80060892" || e.Message != "A record that has the attribute values accountnumber al…" {
		t.Fatalf("error %+v", e)
	}
	e = errorFromParts(502, http.Header{}, []byte("<html>Bad gateway</html>"))
	if e.Code != "" || e.Message != "<html>Bad gateway</html>" {
		t.Fatalf("error %+v", e)
	}
}
