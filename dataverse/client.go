// Package dataverse is a client for the Microsoft Dataverse Web API (OData
// 4.0 at /api/data/v9.2/): authentication through azidentity, retries that
// honour Retry-After, adaptive concurrency within the service protection
// limits, escaped query building, streaming pagers, partitioned parallel
// reads, single and batched writes with per-record outcomes, change
// tracking and metadata discovery.
//
// Wire facts and their sources are in the project's research notes
// (shared/research/dataverse.md); each behaviour cites the Microsoft page it
// follows.
package dataverse

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/dvsync/dvsync/dataverse/schema"
)

// APIPath is the service root path of Web API version 9.2.
const APIPath = "/api/data/v9.2/"

// DefaultPageSize is the largest page Dataverse serves ("default up to 5,000
// per page; larger sizes can't be requested").
// Source: powerapps-docs developer/data-platform/webapi/query/page-results.md.
const DefaultPageSize = 5000

// ClientOptions configure a Client. The zero value is ready to use.
type ClientOptions struct {
	// Transport is the base HTTP transport; tests pass an httptest server's.
	// The client never installs a cookie jar, so Dataverse's ARRAffinity
	// cookie is never returned and requests spread over the environment's
	// web servers, as Microsoft recommends for throughput
	// (send-parallel-requests.md, "Remove the affinity cookie").
	Transport http.RoundTripper
	// MaxRetries bounds re-sends of one request; default 10.
	MaxRetries int
	// RetryWaitMin and RetryWaitMax bound the jittered backoff used when the
	// server gives no Retry-After; defaults 1 s and 60 s.
	RetryWaitMin, RetryWaitMax time.Duration
	// Concurrency fixes the number of concurrent requests. Zero means
	// adaptive: start from x-ms-dop-hint, AIMD on 429.
	Concurrency int
	// MaxConcurrency caps adaptive concurrency; default
	// DocumentedConcurrencyLimit (52).
	MaxConcurrency int
	// Limiter overrides the process-wide limiter shared by all clients of
	// the same host.
	Limiter *Limiter
	// PageSize is the odata.maxpagesize sent on reads; default 5,000.
	PageSize int
	// Schema supplies table definitions; default schema.Default(). Tables
	// not found there are discovered from EntityDefinitions.
	Schema *schema.Registry
	// UserAgent is appended to the client's own product token.
	UserAgent string
	// Logger receives one debug line per retried request. It never sees
	// tokens or query strings.
	Logger *slog.Logger
	// BypassCustomPluginExecution sends MSCRM.BypassCustomPluginExecution on
	// writes (needs the prvBypassCustomPlugins privilege).
	BypassCustomPluginExecution bool
	// AllowInsecureHTTP permits http:// to a non-loopback host. Without it a
	// bearer token is only ever sent over TLS or to 127.0.0.1/::1.
	AllowInsecureHTTP bool
	// OnRetry, when set, is told of every request the client is about to
	// send again and why, so a command can say it is waiting rather than
	// sit silent through a Retry-After. It may be called concurrently.
	OnRetry func(RetryNotice)
}

// Client talks to one Dataverse environment. It is safe for concurrent use.
type Client struct {
	root    *url.URL // service root, ends with "/"
	scope   string
	http    *retryablehttp.Client
	limiter *Limiter
	opts    ClientOptions
	reg     *schema.Registry
	meta    *metadataCache
	// reached is set by the first response from the host: until then a
	// refused connection means a wrong address, not a passing fault.
	reached *atomic.Bool
	// source is CredentialSource of the credential, for 401 errors.
	source string
	tokens *tokenCache
}

// NewClient returns a client for the environment at envURL, either the
// organisation URL ("https://org.crm.dynamics.com") or a service root
// ("http://127.0.0.1:8080/api/data/v9.2/"). cred authenticates every
// request with the scope "<envURL>/.default"; pass StaticToken for the
// reference server.
func NewClient(envURL string, cred TokenSource, opts *ClientOptions) (*Client, error) {
	var o ClientOptions
	if opts != nil {
		o = *opts
	}
	if cred == nil {
		return nil, errors.New("dataverse: a credential is required")
	}
	root, err := serviceRoot(envURL)
	if err != nil {
		return nil, err
	}
	if root.Scheme == "http" && !o.AllowInsecureHTTP && !isLoopback(root.Hostname()) {
		return nil, fmt.Errorf("dataverse: refusing to send credentials over plain http to %s; use https", root.Host)
	}
	scope, _ := Scope(root.String())
	if o.MaxRetries == 0 {
		o.MaxRetries = 10
	}
	if o.RetryWaitMin == 0 {
		o.RetryWaitMin = time.Second
	}
	if o.RetryWaitMax == 0 {
		o.RetryWaitMax = 60 * time.Second
	}
	if o.PageSize <= 0 || o.PageSize > DefaultPageSize {
		o.PageSize = DefaultPageSize
	}
	if o.Schema == nil {
		o.Schema = schema.Default()
	}
	lim := o.Limiter
	if lim == nil {
		lo := LimiterOptions{Initial: o.Concurrency, Max: o.MaxConcurrency, Fixed: o.Concurrency > 0}
		if o.Concurrency > 0 {
			// A fixed limit is this client's own business; don't impose it
			// on other clients of the process.
			lim = NewLimiter(lo)
		} else {
			lim = sharedLimiter(root.Host, lo)
		}
	}
	base := o.Transport
	if base == nil {
		base = defaultTransport()
	}
	tokens := &tokenCache{cred: cred, scope: scope, now: time.Now}
	reached := new(atomic.Bool)
	policy := &retryPolicy{opts: &o, host: root.Host, reached: reached}
	rc := &retryablehttp.Client{
		HTTPClient: &http.Client{
			Transport: &authTransport{base: base, tokens: tokens, limiter: lim, reached: reached},
			// Dataverse never redirects API calls; following one could send
			// the token elsewhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		RetryWaitMin: o.RetryWaitMin,
		RetryWaitMax: o.RetryWaitMax,
		RetryMax:     o.MaxRetries,
		CheckRetry:   policy.check,
		Backoff:      backoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	if o.Logger != nil {
		rc.Logger = redactingLogger{o.Logger}
	}
	return &Client{root: root, scope: scope, http: rc, limiter: lim, opts: o, reg: o.Schema, meta: newMetadataCache(), reached: reached, source: CredentialSource(cred), tokens: tokens}, nil
}

// Token returns the bearer token the client's requests carry, from the
// same cache (refreshed before it expires; errors as *AuthError): for a
// transport that sends a request of another client as this client's user.
func (c *Client) Token(ctx context.Context) (string, error) {
	return c.tokens.token(ctx)
}

func defaultTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	// Enough idle connections for the documented concurrency limit.
	t.MaxIdleConnsPerHost = DocumentedConcurrencyLimit
	t.MaxConnsPerHost = 0
	// Dataverse cancels requests that run longer than 2 minutes on the
	// server; give headers a little longer than that.
	t.ResponseHeaderTimeout = 3 * time.Minute
	return t
}

func serviceRoot(envURL string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(envURL))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("dataverse: environment URL %q must look like https://org.crm.dynamics.com", envURL)
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	if i := strings.Index(u.Path, "/api/data/"); i >= 0 {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/"
	} else {
		u.Path = strings.TrimSuffix(u.Path, "/") + APIPath
	}
	u.RawPath = ""
	return u, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ServiceRoot returns the Web API service root URL, ending with "/".
func (c *Client) ServiceRoot() string { return c.root.String() }

// Limiter returns the concurrency limiter the client uses.
func (c *Client) Limiter() *Limiter { return c.limiter }

// Schema returns the table registry the client resolves names against.
func (c *Client) Schema() *schema.Registry { return c.reg }

// request describes one Web API call.
type request struct {
	method string
	// path is relative to the service root ("incidents(…)"), or an absolute
	// URL on the same host (nextLink, deltaLink).
	path   string
	query  string // encoded, without "?"
	header http.Header
	body   []byte
	// retrySafe: see requestState.
	retrySafe bool
}

// resolve turns a request path into an absolute URL on the service host.
func (c *Client) resolve(path, query string) (*url.URL, error) {
	var u *url.URL
	if strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://") {
		var err error
		u, err = url.Parse(path)
		if err != nil {
			return nil, fmt.Errorf("dataverse: bad link from server: %w", err)
		}
		// Links come from the server; never follow one to another host
		// with our token.
		if u.Scheme != c.root.Scheme || u.Host != c.root.Host {
			return nil, fmt.Errorf("dataverse: server link points to %s, not %s", u.Host, c.root.Host)
		}
	} else {
		// path arrives escaped ("accounts(accountnumber='A%2F1')"): keep that
		// exact form on the wire (RawPath) and give Path its decoded twin,
		// or net/url would escape the escapes again.
		raw := c.root.EscapedPath() + path
		decoded, err := url.PathUnescape(raw)
		if err != nil {
			return nil, fmt.Errorf("dataverse: bad request path: %w", err)
		}
		u = &url.URL{Scheme: c.root.Scheme, Host: c.root.Host, Path: decoded, RawPath: raw}
		if query != "" {
			u.RawQuery = query
		}
	}
	return u, nil
}

// do sends r and returns the response when its status is 2xx or 304; any
// other status becomes a *ResponseError. The caller closes the body.
func (c *Client) do(ctx context.Context, r request) (*http.Response, *requestState, error) {
	u, err := c.resolve(r.path, r.query)
	if err != nil {
		return nil, nil, err
	}
	ctx, st := withRequestState(ctx, r.retrySafe || r.method == http.MethodGet)
	st.method, st.path = r.method, u.Path
	var body any
	if r.body != nil {
		body = r.body
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return nil, nil, fmt.Errorf("dataverse: building request: %w", err)
	}
	// u.String() re-encodes; keep our exact encoding.
	req.URL = u
	// Standard headers from compose-http-requests-handle-errors.md.
	h := req.Header
	h.Set("Accept", "application/json")
	h.Set("OData-MaxVersion", "4.0")
	h.Set("OData-Version", "4.0")
	ua := "dvsync"
	if c.opts.UserAgent != "" {
		ua += " " + c.opts.UserAgent
	}
	h.Set("User-Agent", ua)
	if r.body != nil {
		h.Set("Content-Type", "application/json; charset=utf-8")
	}
	if r.method == http.MethodGet {
		// Microsoft's request samples send If-None-Match: null so that no
		// cache answers a read with stale data.
		h.Set("If-None-Match", "null")
	}
	if c.opts.BypassCustomPluginExecution && r.method != http.MethodGet {
		h.Set("MSCRM.BypassCustomPluginExecution", "true")
	}
	for k, vs := range r.header {
		h[k] = vs
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, st, ctxErr
		}
		var ae *AuthError
		if errors.As(err, &ae) {
			return nil, st, ae
		}
		var ue *UnreachableError
		if errors.As(err, &ue) {
			return nil, st, ue
		}
		return nil, st, fmt.Errorf("dataverse: %s %s: %w", r.method, u.Path, &transportError{stripURL(err)})
	}
	if resp.StatusCode >= 300 && resp.StatusCode != http.StatusNotModified {
		e := newResponseError(resp)
		e.Env = c.root.String()
		if e.StatusCode == http.StatusUnauthorized {
			e.TokenSource = c.source
		}
		return nil, st, e
	}
	return resp, st, nil
}

// stripURL removes the URL (and its query string) from *url.Error messages.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// doJSON sends r and decodes a JSON response body into out (if non-nil).
// A read whose body breaks off (the connection dropped after the status
// line) is sent again: go-retryablehttp only sees the status, not the body.
func (c *Client) doJSON(ctx context.Context, r request, out any) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		resp, err := c.doJSONOnce(ctx, r, out)
		if err == nil || !isBrokenBody(err) || ctx.Err() != nil || attempt >= maxBodyRetries ||
			!(r.method == http.MethodGet || r.retrySafe) {
			return resp, err
		}
	}
}

// maxBodyRetries bounds re-sends after a body broke off.
const maxBodyRetries = 3

func (c *Client) doJSONOnce(ctx context.Context, r request, out any) (*http.Response, error) {
	resp, _, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode != http.StatusNoContent {
		if err := decodeJSON(resp.Body, out); err != nil {
			return resp, &bodyError{method: r.method, err: err}
		}
	} else {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	}
	return resp, nil
}

// bodyError is a response body that could not be read or decoded.
type bodyError struct {
	method string
	err    error
}

func (e *bodyError) Error() string {
	return "dataverse: decoding " + e.method + " response: " + e.err.Error()
}
func (e *bodyError) Unwrap() error { return e.err }

// isBrokenBody: the body ended early or the connection failed while
// reading it, as opposed to a complete body that is not what we expected.
func isBrokenBody(err error) bool {
	var be *bodyError
	if !errors.As(err, &be) {
		return false
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	if errors.As(err, &syn) || errors.As(err, &typ) {
		return false
	}
	return true
}

func decodeJSON(r io.Reader, out any) error {
	dec := newDecoder(r)
	return dec.Decode(out)
}

// redactingLogger adapts slog for go-retryablehttp, dropping query strings
// from the URLs it logs.
type redactingLogger struct{ l *slog.Logger }

func (r redactingLogger) Error(msg string, kv ...any) { r.l.Error(msg, redactKV(kv)...) }
func (r redactingLogger) Info(msg string, kv ...any)  { r.l.Info(msg, redactKV(kv)...) }
func (r redactingLogger) Debug(msg string, kv ...any) { r.l.Debug(msg, redactKV(kv)...) }
func (r redactingLogger) Warn(msg string, kv ...any)  { r.l.Warn(msg, redactKV(kv)...) }

func redactKV(kv []any) []any {
	out := make([]any, len(kv))
	for i, v := range kv {
		if s, ok := v.(string); ok {
			if j := strings.IndexByte(s, '?'); j >= 0 {
				s = s[:j] + "?…"
			}
			v = s
		}
		out[i] = v
	}
	return out
}

// jsonBody is a helper for request bodies.
func jsonBody(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := newEncoder(&buf)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
