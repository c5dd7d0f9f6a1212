package dataverse

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// requestState travels in a request's context through go-retryablehttp's
// attempts: whether the request may be re-sent, and how often it was sent.
type requestState struct {
	// retrySafe marks writes whose repetition cannot change the outcome:
	// GETs, upserts addressed by key, deletes, and creates with a
	// client-chosen ID whose outcome the caller checks.
	retrySafe bool
	attempts  atomic.Int32
	// method and path name the request in retry notices.
	method, path string
}

type stateKey struct{}

func withRequestState(ctx context.Context, safe bool) (context.Context, *requestState) {
	st := &requestState{retrySafe: safe}
	return context.WithValue(ctx, stateKey{}, st), st
}

func stateFrom(ctx context.Context) *requestState {
	st, _ := ctx.Value(stateKey{}).(*requestState)
	return st
}

// authTransport adds the bearer token and admits each attempt through the
// concurrency limiter. It sits under go-retryablehttp, so every retry takes
// a fresh token and a fresh slot, and no slot is held while waiting out a
// Retry-After.
type authTransport struct {
	base    http.RoundTripper
	tokens  *tokenCache
	limiter *Limiter
	reached *atomic.Bool
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if st := stateFrom(ctx); st != nil {
		st.attempts.Add(1)
	}
	tok, err := t.tokens.token(ctx)
	if err != nil {
		return nil, err
	}
	tk, err := t.limiter.acquire(ctx)
	if err != nil {
		return nil, err
	}
	r2 := req.Clone(ctx)
	r2.Header.Set("Authorization", "Bearer "+tok)
	resp, err := t.base.RoundTrip(r2)
	if err != nil {
		t.limiter.release(tk)
		return nil, err
	}
	if t.reached != nil {
		t.reached.Store(true)
	}
	if h := resp.Header.Get("x-ms-dop-hint"); h != "" {
		if n, err := strconv.Atoi(strings.TrimSpace(h)); err == nil {
			t.limiter.hint(n)
		}
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		// The error code says which limit was hit; it is in the (small)
		// body, which is read here and handed on unchanged.
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		t.limiter.throttled(tk, errorFromParts(resp.StatusCode, resp.Header, body).Code)
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			t.limiter.pause(d)
		}
	case resp.StatusCode < 500:
		t.limiter.success(tk)
	}
	// The server counts a request as concurrent until its body is sent, so
	// the slot is held until the caller has read and closed the body.
	resp.Body = &releasingBody{ReadCloser: resp.Body, release: func() { t.limiter.release(tk) }}
	return resp, nil
}

type releasingBody struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}

// checkRetry decides whether go-retryablehttp re-sends a request.
//   - 429: always. Throttled requests are rejected before they run, so even
//     a non-idempotent create was not applied (api-limits.md, "How to
//     handle service protection limits").
//   - 500, 502, 503, 504 and connection errors: only retry-safe requests,
//     because the first attempt may have been applied. A 500 from a
//     failing plug-in repeats on retry; for an idempotent request the cost
//     is a few wasted attempts, and a transient platform 500 is recovered.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	st := stateFrom(ctx)
	safe := st == nil || st.retrySafe
	if err != nil {
		var ae *AuthError
		if errors.As(err, &ae) {
			return false, err
		}
		retry, _ := retryablehttp.DefaultRetryPolicy(ctx, nil, err)
		return retry && safe, nil
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		return true, nil
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return safe, nil
	}
	return false, nil
}

// backoff waits exactly Retry-After when the server sends it, as Microsoft
// asks ("wait for the period specified in the Retry-After header"), and
// otherwise a jittered exponential delay ("full jitter" between half and
// all of min·2^attempt, capped at max).
func backoff(min, max time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil {
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return d
		}
	}
	ceil := min
	for i := 0; i < attempt && ceil < max; i++ {
		ceil *= 2
	}
	if ceil > max {
		ceil = max
	}
	if ceil <= 0 {
		return 0
	}
	half := ceil / 2
	return half + rand.N(ceil-half+1)
}

// parseRetryAfter reads delta-seconds (what Dataverse sends) or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 {
		return time.Duration(secs * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}
