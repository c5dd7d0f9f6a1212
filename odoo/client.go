// Package odoo is a client for Odoo's external API, aimed at reading
// helpdesk data exactly as Odoo serves it, from Odoo 16 to 19.
//
// It speaks JSON-RPC (POST /jsonrpc: common.version, common.authenticate,
// object.execute_kw) and Odoo 19's JSON-2 API (POST /json/2/<model>/<method>
// with a bearer API key), detects the server version and prefers JSON-2 where
// it exists, since 19 deprecates /jsonrpc (research/odoo.md §1.3). Reads
// stream page by page with keyset paging on id or on (write_date, id), retry
// transient failures and shrink pages when a worker is killed.
package odoo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Protocol selects the wire protocol.
type Protocol string

const (
	// ProtocolAuto uses JSON-2 when the server has it (19+), JSON-RPC otherwise.
	ProtocolAuto Protocol = ""
	// ProtocolJSONRPC forces POST /jsonrpc.
	ProtocolJSONRPC Protocol = "jsonrpc"
	// ProtocolJSON2 forces POST /json/2/<model>/<method>.
	ProtocolJSON2 Protocol = "json2"
)

// ParseProtocol reads "auto", "jsonrpc" or "json2".
func ParseProtocol(s string) (Protocol, error) {
	switch strings.ToLower(s) {
	case "", "auto":
		return ProtocolAuto, nil
	case "jsonrpc", "json-rpc":
		return ProtocolJSONRPC, nil
	case "json2", "json-2":
		return ProtocolJSON2, nil
	}
	return "", fmt.Errorf("odoo: unknown protocol %q (want auto, jsonrpc or json2)", s)
}

// DefaultPageSize is the default number of records per search_read call.
// Third-party tools settled between 500 and 1,500 (research/odoo.md §1.6).
const DefaultPageSize = 1000

// Options configure a Client.
type Options struct {
	// URL is the server root, e.g. https://example.odoo.com/.
	URL string
	// Database is the database name (JSON-2 sends it as X-Odoo-Database).
	Database string
	// Login is the user's login, e.g. "admin".
	Login string
	// APIKey is the user's API key (or password). It is sent only in
	// request bodies/headers and never appears in logs or errors.
	APIKey string
	// Protocol forces a protocol; the default picks one from the version.
	Protocol Protocol
	// HTTPClient defaults to a client with a 5-minute timeout, longer than
	// Odoo's default --limit-time-real of 120 s so the server gives up first.
	HTTPClient *http.Client
	// PageSize is the default page size of streaming reads (default 1,000).
	PageSize int
	// MaxAttempts bounds tries per call on transient failures (default 5).
	MaxAttempts int
	// RetryBackoff is the first retry delay, doubled per attempt with
	// jitter (default 500 ms).
	RetryBackoff time.Duration
	// UserAgent is sent on every request (JSON-2 docs recommend one).
	UserAgent string
	// Logger receives debug lines for calls and warnings for retries.
	Logger *slog.Logger
	// AllowInsecureHTTP permits http:// to a host other than this machine.
	// Without it the API key only ever travels over TLS or to loopback,
	// as with the Dataverse client (issue 13, item 7).
	AllowInsecureHTTP bool
}

// LogValue keeps the API key out of structured logs.
func (o Options) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("url", o.URL), slog.String("database", o.Database),
		slog.String("login", o.Login), slog.String("protocol", string(o.Protocol)),
		slog.Bool("api_key_set", o.APIKey != ""),
	)
}

// ServerVersion is what common.version (or /web/version) reports.
type ServerVersion struct {
	Version string // e.g. "17.0+e"
	Major   int
	Minor   int
	// Enterprise is true when the version info carries the "e" tag.
	Enterprise bool
}

// Client talks to one database as one user. It is safe for concurrent use.
type Client struct {
	opts     Options
	base     *url.URL
	http     *http.Client
	log      *slog.Logger
	version  ServerVersion
	protocol Protocol
	uid      int
	reqID    atomic.Int64
}

// New connects: it detects the server version, picks the protocol and
// authenticates. Bad credentials give an *AuthError.
func New(ctx context.Context, opts Options) (*Client, error) {
	if opts.URL == "" || opts.Database == "" || opts.Login == "" {
		return nil, errors.New("odoo: URL, database and login are required")
	}
	if opts.APIKey == "" {
		return nil, errors.New("odoo: no API key (set ODOO_API_KEY or use a key file)")
	}
	base, err := url.Parse(opts.URL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("odoo: invalid server URL %q", opts.URL)
	}
	base.Path = strings.TrimSuffix(base.Path, "/")
	if !opts.AllowInsecureHTTP && !secureTarget(base) {
		return nil, fmt.Errorf("odoo: refusing to send the API key over plain http to %s; use https", base.Host)
	}
	if opts.HTTPClient == nil {
		// Keep enough idle connections for concurrent model readers; the
		// default of 2 per host would reconnect on every page.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 16
		opts.HTTPClient = &http.Client{Timeout: 5 * time.Minute, Transport: tr}
	}
	if !opts.AllowInsecureHTTP {
		// A redirect must not carry the key (JSON-2's Authorization header,
		// or a 307/308 re-sent body) from https down to plain http.
		hc := *opts.HTTPClient
		next := hc.CheckRedirect
		hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if !secureTarget(req.URL) {
				return fmt.Errorf("odoo: refusing to follow a redirect to plain http at %s", req.URL.Host)
			}
			if next != nil {
				return next(req, via)
			}
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			return nil
		}
		opts.HTTPClient = &hc
	}
	if opts.PageSize <= 0 {
		opts.PageSize = DefaultPageSize
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 5
	}
	if opts.RetryBackoff <= 0 {
		opts.RetryBackoff = 500 * time.Millisecond
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "dvsync-odoo/1"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	switch opts.Protocol {
	case ProtocolAuto, ProtocolJSONRPC, ProtocolJSON2:
	default:
		return nil, fmt.Errorf("odoo: unknown protocol %q", opts.Protocol)
	}
	c := &Client{opts: opts, base: base, http: opts.HTTPClient, log: opts.Logger}
	if err := c.detect(ctx); err != nil {
		return nil, err
	}
	if err := c.authenticate(ctx); err != nil {
		return nil, err
	}
	c.log.Debug("odoo connected", "version", c.version.Version, "protocol", c.protocol, "uid", c.uid)
	return c, nil
}

// secureTarget: https, or http to this machine (localhost, 127.0.0.0/8, ::1).
func secureTarget(u *url.URL) bool {
	if u.Scheme == "https" {
		return true
	}
	h := u.Hostname()
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// Version is the server's version.
func (c *Client) Version() ServerVersion { return c.version }

// Protocol is the protocol in use.
func (c *Client) Protocol() Protocol { return c.protocol }

// UID is the authenticated user's id.
func (c *Client) UID() int { return c.uid }

// PageSize is the configured default page size.
func (c *Client) PageSize() int { return c.opts.PageSize }

func (c *Client) endpoint(path string) string {
	u := *c.base
	u.Path += path
	return u.String()
}

func parseVersionInfo(info []any, version string) ServerVersion {
	v := ServerVersion{Version: version}
	if len(info) >= 2 {
		switch x := info[0].(type) {
		case float64:
			v.Major = int(x)
		case string:
			// Odoo Online reports e.g. ["saas~17", 2, 0, "final", 0, "e"].
			v.Major, _ = strconv.Atoi(strings.TrimPrefix(x, "saas~"))
		}
		if f, ok := info[1].(float64); ok {
			v.Minor = int(f)
		}
	}
	if len(info) >= 6 {
		if tag, _ := info[5].(string); tag == "e" {
			v.Enterprise = true
		}
	}
	return v
}

// detect finds the version: GET /web/version exists from 19 on and answers
// without authentication; older servers answer 404 and are asked
// common.version over JSON-RPC instead.
func (c *Client) detect(ctx context.Context) error {
	var webVersion struct {
		VersionInfo []any  `json:"version_info"`
		Version     string `json:"version"`
	}
	err := c.retry(ctx, "GET /web/version", true, 0, func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.endpoint("/web/version"), nil)
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", c.opts.UserAgent)
		resp, err := c.http.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			if err := httpError(resp, req.URL); IsTransient(err) {
				return err
			}
			return errNoWebVersion // 404 before 19, or a proxy refusing GET
		}
		if err := json.NewDecoder(resp.Body).Decode(&webVersion); err != nil {
			return errNoWebVersion // something else answers there; fall back
		}
		return nil
	})
	switch {
	case err == nil && len(webVersion.VersionInfo) > 0:
		c.version = parseVersionInfo(webVersion.VersionInfo, webVersion.Version)
	case err == nil || errors.Is(err, errNoWebVersion):
		var info struct {
			ServerVersion     string `json:"server_version"`
			ServerVersionInfo []any  `json:"server_version_info"`
		}
		if err := c.jsonrpc(ctx, "common", "version", []any{}, &info, true, 0); err != nil {
			return fmt.Errorf("odoo: cannot read the server version: %w", err)
		}
		c.version = parseVersionInfo(info.ServerVersionInfo, info.ServerVersion)
	default:
		return fmt.Errorf("odoo: cannot reach %s: %w", c.base.Redacted(), err)
	}
	switch c.opts.Protocol {
	case ProtocolAuto:
		c.protocol = ProtocolJSONRPC
		if c.version.Major >= 19 {
			c.protocol = ProtocolJSON2
		}
	default:
		c.protocol = c.opts.Protocol
	}
	if c.protocol == ProtocolJSON2 && c.version.Major < 19 {
		return fmt.Errorf("odoo: JSON-2 needs Odoo 19 or later; server is %s", c.version.Version)
	}
	return nil
}

var errNoWebVersion = errors.New("no /web/version")

func (c *Client) authenticate(ctx context.Context) error {
	if c.protocol == ProtocolJSON2 {
		// JSON-2 has no login step; the key is the identity. context_get
		// proves the key and names the user (external_api.rst).
		var uctx struct {
			UID int `json:"uid"`
		}
		if err := c.json2(ctx, "res.users", "context_get", map[string]any{}, &uctx, true, 0); err != nil {
			if errors.Is(err, ErrAccessDenied) {
				return &AuthError{Login: c.opts.Login, Database: c.opts.Database, Reason: "API key refused"}
			}
			return err
		}
		c.uid = uctx.UID
		var users []Record
		if err := c.json2(ctx, "res.users", "read", map[string]any{"ids": []int{c.uid}, "fields": []string{"login"}}, &users, true, 0); err != nil {
			return err
		}
		if len(users) == 1 {
			if login, _ := users[0].String("login"); login != c.opts.Login {
				return &AuthError{Login: c.opts.Login, Database: c.opts.Database, Reason: fmt.Sprintf("the API key belongs to %q", login)}
			}
		}
		return nil
	}
	var uid json.RawMessage
	if err := c.jsonrpc(ctx, "common", "authenticate", []any{c.opts.Database, c.opts.Login, c.opts.APIKey, map[string]any{}}, &uid, true, 0); err != nil {
		return err
	}
	if isFalse(uid) {
		return &AuthError{Login: c.opts.Login, Database: c.opts.Database, Reason: "login or API key refused"}
	}
	if err := json.Unmarshal(uid, &c.uid); err != nil {
		return fmt.Errorf("odoo: authenticate returned %s", uid)
	}
	return nil
}

// Call invokes model.method. ids are the records a record-bound method
// (read, write, unlink) works on, nil for model methods; args are passed by
// name (kwargs on JSON-RPC, the body on JSON-2). idempotent calls are
// retried on transient failures; others are tried once, since a write that
// timed out may have been applied. out receives the decoded result.
func (c *Client) Call(ctx context.Context, model, method string, ids []int, args map[string]any, out any, idempotent bool) error {
	return c.call(ctx, model, method, ids, args, out, idempotent, 0)
}

// call is Call with a bound on attempts (0 = Options.MaxAttempts).
func (c *Client) call(ctx context.Context, model, method string, ids []int, args map[string]any, out any, idempotent bool, attempts int) error {
	if c.protocol == ProtocolJSON2 {
		body := make(map[string]any, len(args)+1)
		for k, v := range args {
			body[k] = v
		}
		if ids != nil {
			body["ids"] = ids
		}
		return c.json2(ctx, model, method, body, out, idempotent, attempts)
	}
	pos := []any{}
	if ids != nil {
		pos = append(pos, ids)
	}
	if args == nil {
		args = map[string]any{}
	}
	if vals, ok := args["vals_list"]; ok && method == "create" {
		// odoo/api.py _call_kw_model_create reads args[0] to decide between
		// returning an id and a list of ids, so create's values must be
		// positional over JSON-RPC/XML-RPC (kwargs alone give IndexError).
		pos = append(pos, vals)
		rest := make(map[string]any, len(args))
		for k, v := range args {
			if k != "vals_list" {
				rest[k] = v
			}
		}
		args = rest
	}
	callArgs := []any{c.opts.Database, c.uid, c.opts.APIKey, model, method, pos, args}
	err := c.jsonrpc(ctx, "object", "execute_kw", callArgs, out, idempotent, attempts)
	var oe *Error
	if errors.As(err, &oe) {
		oe.Model, oe.Method = model, method
	}
	return err
}

type jsonrpcResponse struct {
	// Result holds a pointer to the caller's output, so the body is decoded
	// once, straight into it (encoding/json follows non-nil pointers stored
	// in interfaces).
	Result any `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Data    struct {
			Name    string `json:"name"`
			Message string `json:"message"`
			Debug   string `json:"debug"`
		} `json:"data"`
	} `json:"error"`
}

func (c *Client) jsonrpc(ctx context.Context, service, method string, args []any, out any, idempotent bool, attempts int) error {
	body, err := json.Marshal(map[string]any{
		"jsonrpc": "2.0", "method": "call", "id": c.reqID.Add(1),
		"params": map[string]any{"service": service, "method": method, "args": args},
	})
	if err != nil {
		return fmt.Errorf("odoo: encoding %s.%s: %w", service, method, err)
	}
	return c.retry(ctx, service+"."+method, idempotent, attempts, func() error {
		resp, err := c.post(ctx, "/jsonrpc", body, nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return httpError(resp, resp.Request.URL)
		}
		return decodeJSONRPC(resp.Body, out, service+"."+method)
	})
}

// decodeJSONRPC reads a JSON-RPC envelope, decoding "result" straight into
// out (nil discards it) and "error" into an *Error.
func decodeJSONRPC(r io.Reader, out any, what string) error {
	var discard json.RawMessage
	env := jsonrpcResponse{Result: &discard}
	if out != nil {
		env.Result = out
	}
	if err := json.NewDecoder(r).Decode(&env); err != nil {
		// A result of the wrong shape is our bug or a server's; a body
		// cut short is a dropped connection, worth a retry.
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return fmt.Errorf("odoo: decoding %s result: %w", what, err)
		}
		return &transientError{fmt.Errorf("odoo: reading %s response: %w", what, err)}
	}
	if env.Error != nil {
		e := &Error{Name: env.Error.Data.Name, Message: env.Error.Data.Message, Code: env.Error.Code, HTTPStatus: http.StatusOK, Debug: env.Error.Data.Debug}
		if e.Name == "" {
			e.Name, e.Message = "odoo.http.SessionExpiredException", env.Error.Message
		}
		return e
	}
	return nil
}

func (c *Client) json2(ctx context.Context, model, method string, body map[string]any, out any, idempotent bool, attempts int) error {
	payload, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("odoo: encoding %s.%s: %w", model, method, err)
	}
	path := "/json/2/" + url.PathEscape(model) + "/" + url.PathEscape(method)
	headers := map[string]string{"Authorization": "bearer " + c.opts.APIKey, "X-Odoo-Database": c.opts.Database}
	return c.retry(ctx, model+"."+method, idempotent, attempts, func() error {
		resp, err := c.post(ctx, path, payload, headers)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			var eb struct {
				Name    string `json:"name"`
				Message string `json:"message"`
				Debug   string `json:"debug"`
			}
			raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			if json.Unmarshal(raw, &eb) == nil && eb.Name != "" {
				return &Error{Name: eb.Name, Message: eb.Message, HTTPStatus: resp.StatusCode, Debug: eb.Debug, Model: model, Method: method}
			}
			return httpErrorFromBody(resp, resp.Request.URL, raw)
		}
		if out == nil {
			return nil
		}
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return &transientError{fmt.Errorf("odoo: reading %s.%s result: %w", model, method, err)}
		}
		return nil
	})
}

func (c *Client) post(ctx context.Context, path string, body []byte, headers map[string]string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint(path), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.opts.UserAgent)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return c.http.Do(req)
}

func httpError(resp *http.Response, u *url.URL) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return httpErrorFromBody(resp, u, raw)
}

func httpErrorFromBody(resp *http.Response, u *url.URL, raw []byte) error {
	snippet := strings.Join(strings.Fields(string(raw)), " ")
	if len(snippet) > 200 {
		snippet = snippet[:200] + "…"
	}
	redacted := *u
	redacted.User = nil
	redacted.RawQuery = ""
	return &HTTPError{StatusCode: resp.StatusCode, Status: resp.Status, URL: redacted.String(), Snippet: snippet}
}

// transientError marks failures worth retrying that are neither HTTP nor
// network errors (a truncated body, for one).
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// IsTransient reports whether err is a failure that a retry may cure:
// connection errors, truncated responses, 429 and 502/503/504.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Retryable()
	}
	var te *transientError
	if errors.As(err, &te) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)
}

// retry runs fn up to MaxAttempts times while it fails transiently.
// Non-idempotent calls are only retried when the connection was refused,
// i.e. the request cannot have reached Odoo.
func (c *Client) retry(ctx context.Context, what string, idempotent bool, attempts int, fn func() error) error {
	if attempts <= 0 {
		attempts = c.opts.MaxAttempts
	}
	var err error
	for attempt := 1; ; attempt++ {
		err = fn()
		if err == nil || !IsTransient(err) || attempt >= attempts {
			return err
		}
		if !idempotent && !isConnRefused(err) {
			return err
		}
		delay := backoff(c.opts.RetryBackoff, attempt)
		c.log.Warn("odoo call failed, retrying", "call", what, "attempt", attempt, "delay", delay, "error", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
}

func backoff(base time.Duration, attempt int) time.Duration {
	d := base << (attempt - 1)
	if d > 30*time.Second {
		d = 30 * time.Second
	}
	// Full jitter on the upper half keeps parallel readers from retrying in step.
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

func isConnRefused(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}
