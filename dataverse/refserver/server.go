// Package refserver is a local reference implementation of the Dataverse Web
// API (v9.2) for the Customer Service tables: the server every dvsync test,
// benchmark and the demo run against, with no cloud account.
//
// It is an http.Handler serving /api/data/v9.2/, faithful to Dataverse on
// the wire: OData query options, keyset paging with $skiptoken paging
// cookies, annotations, etags and conditional writes, alternate keys,
// @odata.bind, Dataverse's error payloads and status codes, $metadata and
// EntityDefinitions. Records live in embedded SQLite (see Store).
//
// Sources for the behaviour are cited where it is implemented; most come from
// MicrosoftDocs/powerapps-docs developer/data-platform/webapi/*.
package refserver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse/schema"
)

// APIPath is where the Web API is served.
const APIPath = "/api/data/v9.2/"

// Options configure a Server.
type Options struct {
	// Registry holds the table definitions; nil means schema.Default().
	Registry *schema.Registry
	// DataPath is the SQLite file for a persistent store; empty means a
	// throwaway store removed on Close.
	DataPath string
	// Token, when set, is the only bearer token accepted. Otherwise any
	// non-empty token is accepted and identifies the caller.
	Token string
	// DOPHint is the x-ms-dop-hint value sent on every response (default 4).
	DOPHint int
	// ChangeRetention is how long delta tokens stay valid (default 7 days,
	// organization.ExpireChangeTrackingInDays).
	ChangeRetention time.Duration
	// Logger receives one line per request at debug level; nil discards.
	Logger *slog.Logger
	// Limits enforces service protection limits per caller (see
	// DefaultLimits, ParseLimits); nil means none.
	Limits *Limits
	// Latency delays every response (see ParseLatency); nil means none.
	Latency *Latency
	// Faults injects 503/500 responses, dropped connections and slow
	// responses (see ParseFaults); nil means none.
	Faults *Faults
	// MaxInFlightBytes bounds the memory that request bodies being handled
	// at once may cost; past it requests get 429 with Retry-After (see
	// hardening.go). Zero means DefaultMaxInFlightBytes.
	MaxInFlightBytes int64
	// Now is the clock the server lives by: createdon and modifiedon, SLA
	// timers, entitlement dates and article publishing (see Clock); nil
	// means the wall clock.
	Now func() time.Time
}

// Server is the reference Dataverse Web API.
type Server struct {
	reg    *schema.Registry
	store  *Store
	opts   Options
	log    *slog.Logger
	mux    http.Handler
	closed atomic.Bool

	orgID, businessUnitID, adminUserID string

	// batchHandler and bulkHandler serve $batch and the *Multiple bulk
	// messages; they are set by New.
	batchHandler func(http.ResponseWriter, *http.Request)
	bulkHandler  func(http.ResponseWriter, *http.Request, *schema.Table, string) bool

	csState csEngine // the Customer Service engine's state (cs_engine.go)

	limiter *limiter     // nil: no service protection limits
	faults  *faultSource // nil: no fault injection
	budget  memoryBudget // request body memory in flight (hardening.go)
}

// New opens the store and returns a ready server. Call Close to flush it.
func New(opts Options) (*Server, error) {
	if opts.Registry == nil {
		opts.Registry = schema.Default()
	}
	if opts.DOPHint <= 0 {
		opts.DOPHint = 4
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st, err := OpenStore(opts.DataPath, opts.Registry)
	if err != nil {
		return nil, err
	}
	st.now = opts.Now
	s := &Server{
		reg: opts.Registry, store: st, opts: opts, log: log,
		orgID:          "2b1d6e52-4a0f-4d6e-9a55-6d7673796e63",
		businessUnitID: "5f9b2f0c-3c8e-4d4b-8f5e-6275736e6573",
		adminUserID:    "8a4d1c3e-9b7f-4e2a-a6d5-61646d696e31",
	}
	if err := s.ensureBuiltins(context.Background()); err != nil {
		st.Close()
		return nil, err
	}
	if err := s.csInit(); err != nil {
		st.Close()
		return nil, err
	}
	s.budget.limit = opts.MaxInFlightBytes
	if s.budget.limit <= 0 {
		s.budget.limit = DefaultMaxInFlightBytes
	}
	s.batchHandler = s.serveBatch
	s.bulkHandler = s.serveBulk
	if opts.Limits != nil {
		s.limiter = newLimiter(*opts.Limits)
	}
	if opts.Faults != nil {
		s.faults = newFaultSource(*opts.Faults)
	}
	s.mux = http.HandlerFunc(s.route)
	return s, nil
}

// Close flushes and closes storage.
func (s *Server) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.store.Close()
}

// Registry returns the table definitions the server serves.
func (s *Server) Registry() *schema.Registry { return s.reg }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

type ctxKey int

const callerKey ctxKey = 0

// caller identifies who is calling: a stable hash of the bearer token, so
// that limits can be kept per caller without storing the token itself.
type caller struct {
	ID string
}

func callerFrom(ctx context.Context) caller {
	c, _ := ctx.Value(callerKey).(caller)
	return c
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	reqID := uuid.NewString()
	rlog := requestLog{s: s, reqID: reqID, base: baseURL(r)}
	w = &loggingWriter{ResponseWriter: w, log: rlog}
	defer s.recoverRequest(w, r, reqID)
	h := w.Header()
	h.Set("REQ_ID", reqID)
	h.Set("x-ms-service-request-id", reqID)
	h.Set("OData-Version", "4.0")
	h.Set("x-ms-dop-hint", fmt.Sprint(s.opts.DOPHint))

	if !strings.HasPrefix(r.URL.Path, APIPath) && r.URL.Path+"/" != APIPath {
		http.NotFound(w, r)
		return
	}
	token, ok := bearerToken(r)
	if !ok || (s.opts.Token != "" && token != s.opts.Token) {
		// Dataverse answers 401 with an empty body and a challenge naming the
		// authority (powerapps-docs authenticate-oauth.md).
		h.Set("WWW-Authenticate", `Bearer authorization_uri=https://login.microsoftonline.com/common/oauth2/authorize, resource_id=`+baseURL(r))
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	sum := sha256.Sum256([]byte(token))
	ctx := context.WithValue(r.Context(), callerKey, caller{ID: hex.EncodeToString(sum[:8])})
	r = r.WithContext(withRequestLog(ctx, rlog))
	release, ok := s.admit(w, r)
	if !ok {
		return
	}
	defer release()

	if v := r.Header.Get("OData-MaxVersion"); v != "" && v < "4.0" {
		writeError(w, badRequest(codeQueryNotSupported, "The MaxDataServiceVersion '%s' is too low for the response. The lowest supported version is '4.0'.", v))
		return
	}
	s.serveGuarded(w, r)
	s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "req_id", reqID)
}

func bearerToken(r *http.Request) (string, bool) {
	auth := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// baseURL is the service root as the client addressed it.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + APIPath
}

// dispatch routes a request by its first path segment.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, strings.TrimSuffix(APIPath, "/"))
	path = strings.TrimPrefix(path, "/")
	segs := splitPath(path)
	if len(segs) == 0 {
		s.serviceDocument(w, r)
		return
	}
	first := segs[0]
	name, keyText, hasKey := cutKey(first)
	switch {
	case first == "$metadata":
		s.metadataDocument(w, r)
		return
	case first == "WhoAmI" || first == "WhoAmI()":
		s.whoAmI(w, r)
		return
	case name == "EntityDefinitions":
		s.entityDefinitions(w, r, keyText, hasKey, segs[1:])
		return
	}
	if s.csRoutes(w, r, segs) || s.extraRoutes(w, r, segs) {
		return
	}
	t, ok := s.reg.TableBySet(name)
	if !ok {
		writeError(w, notFoundSegment(name))
		return
	}
	if err := s.csTick(r, t); err != nil {
		writeError(w, err)
		return
	}
	if !hasKey {
		switch {
		case len(segs) == 1:
			switch r.Method {
			case http.MethodGet:
				s.getCollection(w, r, t)
			case http.MethodPost:
				s.create(w, r, t)
			default:
				writeError(w, methodNotAllowed(r.Method, name))
			}
		case len(segs) == 2 && segs[1] == "$count" && r.Method == http.MethodGet:
			s.countCollection(w, r, t)
		case len(segs) == 2 && s.collectionAction(w, r, t, segs[1]):
		default:
			writeError(w, notFoundSegment(segs[1]))
		}
		return
	}
	id, key, err := parseKeySegment(t, keyText)
	if err != nil {
		writeError(w, err)
		return
	}
	if len(segs) > 1 {
		s.propertyRequest(w, r, t, id, key, segs[1:])
		return
	}
	switch r.Method {
	case http.MethodGet:
		s.getRecord(w, r, t, id, key)
	case http.MethodPatch:
		s.patch(w, r, t, id, key)
	case http.MethodDelete:
		s.delete(w, r, t, id, key)
	default:
		writeError(w, methodNotAllowed(r.Method, first))
	}
}

func methodNotAllowed(method, seg string) *apiError {
	return newError(http.StatusMethodNotAllowed, codeQueryNotSupported, "The HTTP method '%s' is not allowed for the segment '%s'.", method, seg)
}

// splitPath splits a decoded URL path on '/' outside single-quoted key
// literals, so that /accounts(accountnumber='A/1') stays one segment.
func splitPath(p string) []string {
	var segs []string
	var cur strings.Builder
	inQuote := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\'':
			inQuote = !inQuote
			cur.WriteByte(c)
		case c == '/' && !inQuote:
			if cur.Len() > 0 {
				segs = append(segs, cur.String())
			}
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	if cur.Len() > 0 {
		segs = append(segs, cur.String())
	}
	return segs
}

// cutKey splits "accounts(<key>)" into name and key text.
func cutKey(seg string) (name, key string, ok bool) {
	open := strings.IndexByte(seg, '(')
	if open < 0 || !strings.HasSuffix(seg, ")") {
		return seg, "", false
	}
	return seg[:open], seg[open+1 : len(seg)-1], true
}
