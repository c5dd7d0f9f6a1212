// Package odooserver is a local reference implementation of Odoo's external
// API for one database with the helpdesk app installed: JSON-RPC (/jsonrpc),
// XML-RPC (/xmlrpc/2/common, /xmlrpc/2/object), and on version 19 the JSON-2
// API (/json/2/<model>/<method>) and /web/version. It exists so that tests,
// benchmarks and demos can run against something that answers like Odoo 16
// to 19, Enterprise helpdesk or OCA helpdesk_mgmt, without an Odoo install.
//
// Wire behaviour follows research/odoo.md §1; the helpdesk models follow
// §2 and §3. A Server is an http.Handler and works with httptest.
package odooserver

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Flavours of the helpdesk app.
const (
	FlavourEnterprise = "enterprise" // Odoo Enterprise "helpdesk"
	FlavourOCA        = "oca"        // OCA/helpdesk "helpdesk_mgmt"
)

// Database is the only database the reference server hosts.
const Database = "dvsync"

// AdminLogin is the login of the only user that can authenticate.
const AdminLogin = "admin"

// adminUID is admin's id in every Odoo database (1 is the superuser/OdooBot).
const adminUID = 2

// Options configure a Server.
type Options struct {
	// Version is the Odoo major version to imitate, 16 to 19 (default 17).
	Version int
	// Flavour is FlavourEnterprise (default) or FlavourOCA.
	Flavour string
	// APIKey is admin's API key, which Odoo also accepts as the password.
	// Default "admin".
	APIKey string
	// SeedDir, when set, is loaded by New (see LoadSeed).
	SeedDir string
	// Logger receives one debug line per call (never arguments or keys).
	Logger *slog.Logger
	// Now is the clock for create_date/write_date (default time.Now).
	Now func() time.Time
	// MaxRecordsPerCall, when > 0, makes search_read/read calls that would
	// return more records fail with 502 Bad Gateway, the way a proxy answers
	// when Odoo kills a worker past --limit-time-real. Clients must shrink
	// their pages and retry.
	MaxRecordsPerCall int
	// MaxInFlightBytes bounds the request bodies all calls in progress may
	// hold together; past it a request is answered 429 with Retry-After.
	// Default 256 MiB (two bodies of Odoo's 128 MiB maximum).
	MaxInFlightBytes int64
	// LimitTimeReal is Odoo's --limit-time-real: a read that runs longer
	// is stopped and answered 502, as the proxy in front of a killed worker
	// would (odoo/documentation reference/cli.rst: default 120 s). Writes
	// are never cut short, so that nothing is left half-applied.
	LimitTimeReal time.Duration
}

// Server is the reference Odoo. It is safe for concurrent use.
type Server struct {
	opts  Options
	log   *slog.Logger
	mu    sync.RWMutex
	store *store

	seeding  bool // LoadSeed is running: stored computes come from the seed
	building bool // New is reflecting the schema into ir.model(.fields)

	inflight  *budget
	maxBody   int64 // maxBodyBytes; tests lower it
	maxValues int   // maxValuesPerRequest; tests lower it

	sessMu   sync.Mutex
	sessions map[string]bool // web client sessions (session_id cookie)
}

// New builds a server with Odoo's base records (company, admin, OdooBot,
// message subtypes, ir.model) and no helpdesk data unless opts.SeedDir is set.
func New(opts Options) (*Server, error) {
	if opts.Version == 0 {
		opts.Version = 17
	}
	if opts.Flavour == "" {
		opts.Flavour = FlavourEnterprise
	}
	if opts.APIKey == "" {
		opts.APIKey = "admin"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.LimitTimeReal <= 0 {
		opts.LimitTimeReal = 120 * time.Second
	}
	if opts.MaxInFlightBytes <= 0 {
		opts.MaxInFlightBytes = defaultMaxInFlightBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	models, err := buildSchema(opts.Version, opts.Flavour)
	if err != nil {
		return nil, err
	}
	srv := &Server{opts: opts, log: opts.Logger, store: newStore(models, opts.Now), sessions: map[string]bool{},
		inflight: &budget{max: opts.MaxInFlightBytes}, maxBody: maxBodyBytes, maxValues: maxValuesPerRequest}
	if err := srv.baseData(); err != nil {
		return nil, fmt.Errorf("odooserver: base data: %w", err)
	}
	if opts.SeedDir != "" {
		if err := srv.LoadSeed(opts.SeedDir); err != nil {
			return nil, err
		}
	}
	return srv, nil
}

// Version reports the imitated major version.
func (srv *Server) Version() int { return srv.opts.Version }

// Flavour reports the imitated helpdesk flavour.
func (srv *Server) Flavour() string { return srv.opts.Flavour }

func (srv *Server) baseData() error {
	s := srv.store
	mk := func(model string, id int, vals map[string]any) error {
		m, t, err := s.model(model)
		if err != nil {
			return err
		}
		_, err = srv.insert(m, t, vals, id)
		return err
	}
	steps := []struct {
		model string
		id    int
		vals  map[string]any
	}{
		{"res.partner", 1, map[string]any{"name": "My Company", "is_company": true}},
		{"res.company", 1, map[string]any{"name": "My Company", "partner_id": 1}},
		{"res.partner", 2, map[string]any{"name": "OdooBot", "email": "odoobot@example.com", "active": false}},
		{"res.partner", 3, map[string]any{"name": "Mitchell Admin", "email": "admin@example.com", "parent_id": 1, "company_id": 1}},
		{"res.users", 1, map[string]any{"name": "OdooBot", "login": "__system__", "partner_id": 2, "company_id": 1, "active": false}},
		{"res.users", 2, map[string]any{"name": "Mitchell Admin", "login": AdminLogin, "email": "admin@example.com", "partner_id": 3, "company_id": 1, "tz": "Europe/Brussels", "lang": "en_US"}},
		{"mail.message.subtype", 1, map[string]any{"name": "Discussions", "internal": false, "sequence": 0}},
		{"mail.message.subtype", 2, map[string]any{"name": "Note", "internal": true, "sequence": 100}},
		{"mail.message.subtype", 3, map[string]any{"name": "Activities", "internal": true, "sequence": 90}},
	}
	for _, st := range steps {
		if err := mk(st.model, st.id, st.vals); err != nil {
			return err
		}
	}
	// A few countries, so that res.partner.country_id has something to
	// point at (base/data/res_country_data.xml holds ~250).
	for i, c := range [][3]any{{"Belgium", "BE", 32}, {"France", "FR", 33}, {"Germany", "DE", 49}, {"Netherlands", "NL", 31}, {"United Kingdom", "GB", 44}, {"United States", "US", 1}} {
		if err := mk("res.country", i+1, map[string]any{"name": c[0], "code": c[1], "phone_code": c[2]}); err != nil {
			return err
		}
	}
	srv.building = true
	defer func() { srv.building = false }()
	for id, name := range sortedModelNames(s.models) {
		m := s.models[name]
		if err := mk("ir.model", id+1, map[string]any{"name": m.description, "model": m.name, "state": "base"}); err != nil {
			return err
		}
		srv.reflectFields(m, id+1)
	}
	return nil
}

// ServeHTTP routes Odoo's external API endpoints.
func (srv *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case path == "/jsonrpc":
		srv.serveJSONRPC(w, r, srv.dispatchService)
	case isWebSessionPath(path):
		srv.serveWebSession(w, r, path)
	case path == "/web/webclient/version_info":
		srv.serveJSONRPC(w, r, func(map[string]any) (any, error) { return srv.versionInfo(), nil })
	case path == "/xmlrpc/2/common" || path == "/xmlrpc/2/object" || path == "/xmlrpc/2/db":
		srv.serveXMLRPC(w, r, strings.TrimPrefix(path, "/xmlrpc/2/"), false)
	case path == "/xmlrpc/common" || path == "/xmlrpc/object" || path == "/xmlrpc/db":
		srv.serveXMLRPC(w, r, strings.TrimPrefix(path, "/xmlrpc/"), true)
	case (path == "/web/version" || path == "/json/version") && srv.opts.Version >= 19:
		writeJSON(w, http.StatusOK, map[string]any{"version_info": srv.versionInfo()["server_version_info"], "version": fmt.Sprintf("%d.0", srv.opts.Version)})
	case strings.HasPrefix(path, "/json/2/") && srv.opts.Version >= 19:
		srv.serveJSON2(w, r)
	default:
		notFound(w)
	}
}

func notFound(w http.ResponseWriter) {
	// werkzeug's NotFound page, which is what Odoo answers for unknown routes.
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	io.WriteString(w, "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n<p>The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.</p>\n")
}

func (srv *Server) versionInfo() map[string]any {
	suffix, tag := "", ""
	if srv.opts.Flavour == FlavourEnterprise {
		suffix, tag = "+e", "e"
	}
	serie := fmt.Sprintf("%d.0", srv.opts.Version)
	return map[string]any{
		"server_version":      serie + suffix,
		"server_version_info": []any{srv.opts.Version, 0, 0, "final", 0, tag},
		"server_serie":        serie,
		"protocol_version":    1,
	}
}

// jsonrpcErrorCode is error.code in JSON-RPC envelopes: 200 up to 18, 0 from
// 19 (odoo/http.py JsonRPCDispatcher.handle_error; research/odoo.md §1.2;
// the 18.0 value is unverified, 200 is assumed).
func (srv *Server) jsonrpcErrorCode() int {
	if srv.opts.Version >= 19 {
		return 0
	}
	return 200
}

func (srv *Server) serveJSONRPC(w http.ResponseWriter, r *http.Request, handle func(params map[string]any) (any, error)) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "405 Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	bd, err := srv.openBody(r)
	defer bd.release()
	var req any
	if err == nil {
		req, err = decodeJSONLimit(bd, srv.maxValues)
	}
	params := map[string]any{}
	var id any
	var bodyErr *rpcError
	if killed, ok := killedWorker(err); ok {
		srv.badGateway(w, killed)
		return
	}
	switch {
	case errors.Is(err, errBusy):
		writeBusy(w)
		return
	case errors.As(err, &bodyErr):
		// RecursionError and RequestEntityTooLarge are not ValueErrors, so
		// JsonRPCDispatcher.dispatch lets them reach handle_error, which
		// answers with an envelope whose id is null (odoo/http.py).
	case err != nil:
		// odoo/http.py: a body that is not JSON is a 400 BadRequest.
		http.Error(w, "400 Bad Request: Invalid JSON data", http.StatusBadRequest)
		return
	default:
		m, ok := req.(map[string]any)
		if !ok {
			http.Error(w, "400 Bad Request: Invalid JSON-RPC data", http.StatusBadRequest)
			return
		}
		id = m["id"]
		if p, ok := m["params"]; ok && p != nil {
			if params, ok = p.(map[string]any); !ok {
				http.Error(w, "400 Bad Request: Invalid JSON data", http.StatusBadRequest)
				return
			}
		}
	}
	start := time.Now()
	var result any
	if bodyErr != nil {
		err = bodyErr
	} else {
		result, err = handle(params)
	}
	resp := map[string]any{"jsonrpc": "2.0", "id": id}
	var rpcErr *rpcError
	if err != nil {
		if !errors.As(err, &rpcErr) {
			rpcErr = errValue("%v", err)
		}
		code, message := srv.jsonrpcErrorCode(), "Odoo Server Error"
		if rpcErr.jsonrpcCode != 0 {
			code, message = rpcErr.jsonrpcCode, rpcErr.jsonrpcMessage
		}
		resp["error"] = map[string]any{
			"code":    code,
			"message": message,
			"data": map[string]any{
				"name":      rpcErr.name,
				"debug":     rpcErr.debug(),
				"message":   rpcErr.message,
				"arguments": rpcErr.args(),
				"context":   map[string]any{},
			},
		}
	} else {
		resp["result"] = result // a nil result is JSON null, as Odoo sends None
	}
	srv.logCall("jsonrpc", params, start, rpcErr)
	if killed, ok := killedWorker(err); ok {
		srv.badGateway(w, killed)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (srv *Server) logCall(protocol string, params map[string]any, start time.Time, err *rpcError) {
	attrs := []any{"protocol", protocol, "duration", time.Since(start)}
	if svc, _ := params["service"].(string); svc != "" {
		method, _ := params["method"].(string)
		attrs = append(attrs, "service", svc, "method", method)
		if args, _ := params["args"].([]any); svc == "object" && len(args) >= 5 {
			attrs = append(attrs, "model", args[3], "model_method", args[4])
		}
	}
	if err != nil {
		attrs = append(attrs, "error", err.name)
	}
	if srv.opts.Version >= 19 && (protocol == "jsonrpc" || protocol == "xmlrpc") {
		// 19.0 logs a deprecation warning per call on /jsonrpc and /xmlrpc
		// (research/odoo.md §1.3); keep it at debug to spare test logs.
		attrs = append(attrs, "deprecated", true)
	}
	srv.log.Debug("odoo call", attrs...)
}

// dispatchService runs a /jsonrpc call: {"service", "method", "args"}.
func (srv *Server) dispatchService(params map[string]any) (any, error) {
	service, _ := params["service"].(string)
	method, _ := params["method"].(string)
	args, _ := params["args"].([]any)
	return srv.dispatch(service, method, args)
}

// dispatch is odoo.http.dispatch_rpc for the common, object and db services.
func (srv *Server) dispatch(service, method string, args []any) (any, error) {
	arg := func(i int) any {
		if i < len(args) {
			return args[i]
		}
		return nil
	}
	switch service {
	case "common":
		switch method {
		case "version":
			return srv.versionInfo(), nil
		case "login", "authenticate":
			if err := checkDB(arg(0)); err != nil {
				return nil, err
			}
			login, _ := arg(1).(string)
			password, _ := arg(2).(string)
			if login == AdminLogin && srv.keyMatches(password) {
				return adminUID, nil
			}
			return false, nil
		case "about":
			return "See http://openerp.com", nil
		}
	case "db":
		switch method {
		case "list":
			return []any{Database}, nil
		case "server_version":
			return srv.versionInfo()["server_version"], nil
		}
	case "object":
		switch method {
		case "execute_kw", "execute":
			if err := checkDB(arg(0)); err != nil {
				return nil, err
			}
			uid, _ := asInt(arg(1))
			password, _ := arg(2).(string)
			if uid != adminUID || !srv.keyMatches(password) {
				return nil, errAccessDenied()
			}
			model, _ := arg(3).(string)
			name, _ := arg(4).(string)
			var posArgs []any
			kwargs := map[string]any{}
			if method == "execute_kw" {
				posArgs, _ = arg(5).([]any)
				if kw, ok := arg(6).(map[string]any); ok {
					kwargs = kw
				}
			} else if len(args) > 5 {
				posArgs = args[5:]
			}
			c, err := bindPositional(srv.opts.Version, model, name, posArgs, kwargs)
			if err != nil {
				return nil, err
			}
			return srv.run(c)
		}
	default:
		return nil, errValue("service %s not found", pyRepr(service))
	}
	return nil, errNoMethod(srv.opts.Version, service, method)
}

func checkDB(v any) error {
	db, _ := v.(string)
	if db != Database {
		return &rpcError{name: "psycopg2.OperationalError", message: fmt.Sprintf("connection to server failed: FATAL:  database %q does not exist", db), httpStatus: http.StatusNotFound, fault: faultApplication}
	}
	return nil
}

func (srv *Server) keyMatches(key string) bool {
	return key != "" && subtle.ConstantTimeCompare([]byte(key), []byte(srv.opts.APIKey)) == 1
}

// errTooManyRecords imitates a worker killed for exceeding its time limit.
type errTooManyRecords struct{ n, max int }

func (e errTooManyRecords) Error() string {
	return fmt.Sprintf("%d records in one call exceed the emulated worker limit of %d", e.n, e.max)
}

// killedWorker reports whether err stands for a worker Odoo would have
// killed (time or memory limit), which a proxy answers with 502.
func killedWorker(err error) (error, bool) {
	var tooMany errTooManyRecords
	var mem *errMemoryLimit
	var late errTimeLimit
	if errors.As(err, &tooMany) || errors.As(err, &mem) || errors.As(err, &late) {
		return err, true
	}
	return nil, false
}

func (srv *Server) badGateway(w http.ResponseWriter, e error) {
	srv.log.Debug("odoo worker limit", "reason", e.Error())
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusBadGateway)
	io.WriteString(w, "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>\n")
}

// run executes a bound call under the store lock.
func (srv *Server) run(c *call) (any, error) {
	if methods[c.method].write {
		srv.mu.Lock()
		defer srv.mu.Unlock()
	} else {
		srv.mu.RLock()
		defer srv.mu.RUnlock()
	}
	if !methods[c.method].write {
		c.deadline = time.Now().Add(srv.opts.LimitTimeReal)
	}
	out, err := srv.execute(c)
	var late errTimeLimit
	if errors.As(err, &late) {
		return nil, errTimeLimit{srv.opts.LimitTimeReal}
	}
	if err != nil {
		return nil, err
	}
	if max := srv.opts.MaxRecordsPerCall; max > 0 {
		if list, ok := out.([]any); ok && len(list) > max && (c.method == "search_read" || c.method == "read") {
			return nil, errTooManyRecords{len(list), max}
		}
	}
	return out, nil
}

// serveXMLRPC serves /xmlrpc/2/<service> (integer fault codes) and the
// legacy /xmlrpc/<service> (string fault codes).
func (srv *Server) serveXMLRPC(w http.ResponseWriter, r *http.Request, service string, legacy bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "405 Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	start := time.Now()
	bd, err := srv.openBody(r)
	defer bd.release()
	var c *xmlrpcCall
	if err == nil {
		c, err = decodeXMLRPCCallLimit(bd, srv.maxValues)
	}
	if errors.Is(err, errBusy) {
		writeBusy(w)
		return
	}
	if killed, ok := killedWorker(err); ok {
		srv.badGateway(w, killed)
		return
	}
	var result any
	var rpcErr *rpcError
	switch {
	case err == nil:
		result, err = srv.dispatch(service, c.method, c.params)
	case !errors.As(err, &rpcErr):
		// xmlrpc.client.loads raises expat's ExpatError on malformed XML and
		// ValueError on a value it cannot convert (int("x")).
		var syntax *xml.SyntaxError
		name := "builtins.ValueError"
		if errors.As(err, &syntax) || errors.Is(err, io.ErrUnexpectedEOF) {
			name = "xml.parsers.expat.ExpatError"
		}
		err = &rpcError{name: name, message: err.Error(), httpStatus: http.StatusInternalServerError, fault: faultApplication}
	}
	if killed, ok := killedWorker(err); ok {
		srv.badGateway(w, killed)
		return
	}
	var body []byte
	if err == nil {
		body, err = encodeXMLRPCResponse(result)
		if errors.Is(err, errXMLRPCOverflow) {
			err = &rpcError{name: "builtins.OverflowError", message: err.Error(), fault: faultApplication}
		}
		if errors.Is(err, errMarshalNone) {
			err = &rpcError{name: "builtins.TypeError", message: err.Error(), fault: faultApplication}
		}
	}
	rpcErr = nil
	if err != nil {
		if !errors.As(err, &rpcErr) {
			rpcErr = errValue("%v", err)
		}
		if legacy {
			code, msg := rpcErr.legacyFault()
			body = encodeXMLRPCFault(code, msg)
		} else {
			body = encodeXMLRPCFault(rpcErr.fault, rpcErr.faultString())
		}
	}
	params := map[string]any{"service": service}
	if c != nil {
		params["method"] = c.method
		params["args"] = c.params
	}
	srv.logCall("xmlrpc", params, start, rpcErr)
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// serveJSON2 is Odoo 19's /json/2/<model>/<method> (odoo/addons/rpc
// controllers/json2.py; external_api.rst).
func (srv *Server) serveJSON2(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	fail := func(e *rpcError) {
		srv.log.Debug("odoo call", "protocol", "json2", "path", r.URL.Path, "duration", time.Since(start), "error", e.name)
		writeJSON(w, e.httpStatus, map[string]any{
			"name": e.name, "message": e.message, "arguments": e.args(),
			"context": map[string]any{}, "debug": e.debug(),
		})
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/json/2/"), "/")
	if r.Method != http.MethodPost || len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		// json2.py's catch-all route for /json/2/<path:subpath>.
		fail(errHTTP("NotFound", http.StatusNotFound, "Did you mean POST /json/2/<model>/<method>?"))
		return
	}
	scheme, key, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "bearer") || !srv.keyMatches(strings.TrimSpace(key)) {
		w.Header().Set("WWW-Authenticate", "bearer")
		fail(errHTTP("Unauthorized", http.StatusUnauthorized, "Invalid apikey"))
		return
	}
	if db := r.Header.Get("X-Odoo-Database"); db != "" && db != Database {
		fail(errHTTP("NotFound", http.StatusNotFound, fmt.Sprintf("database %s not found", pyRepr(db))))
		return
	}
	model, method := parts[0], parts[1]
	srv.mu.RLock()
	_, known := srv.store.models[model] // custom models come and go
	srv.mu.RUnlock()
	if !known {
		fail(errHTTP("NotFound", http.StatusNotFound, fmt.Sprintf("the model %s does not exist", pyRepr(model))))
		return
	}
	body := map[string]any{}
	bd, err := srv.openBody(r)
	defer bd.release()
	var v any
	if err == nil {
		v, err = decodeJSONLimit(bd, srv.maxValues)
	}
	var bodyErr *rpcError
	if killed, ok := killedWorker(err); ok {
		srv.badGateway(w, killed)
		return
	}
	switch {
	case errors.Is(err, errBusy):
		writeBusy(w)
		return
	case errors.As(err, &bodyErr):
		// Json2RPCDispatcher.handle_error: an HTTPException keeps its code
		// (413); anything else, RecursionError included, is a 500.
		fail(bodyErr)
		return
	case err == io.EOF:
		err = nil // an empty body binds no arguments
	case err == nil:
		if m, ok := v.(map[string]any); ok {
			body = m
		} else {
			err = errors.New("body is not a JSON object")
		}
	}
	if err != nil {
		fail(errHTTP("BadRequest", http.StatusBadRequest, "could not parse the body as json: "+err.Error()))
		return
	}
	c, err := bindNamed(srv.opts.Version, model, method, body)
	var result any
	if err == nil {
		result, err = srv.run(c)
	}
	if killed, ok := killedWorker(err); ok {
		srv.badGateway(w, killed)
		return
	}
	if err != nil {
		var rpcErr *rpcError
		if !errors.As(err, &rpcErr) {
			rpcErr = errValue("%v", err)
		}
		fail(rpcErr)
		return
	}
	srv.log.Debug("odoo call", "protocol", "json2", "model", model, "method", method, "duration", time.Since(start))
	writeJSON(w, http.StatusOK, result)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// decodeJSON decodes with integers kept as int, as Python's json does.
func decodeJSON(raw []byte) (any, error) {
	return decodeJSONReader(bytes.NewReader(raw))
}

// decodeJSONReader decodes one JSON document from r as it streams in,
// refusing nesting deeper than maxNesting (errTooDeep) and trailing data
// (json.loads: "Extra data"). An empty body gives io.EOF.
func decodeJSONReader(r io.Reader) (any, error) {
	return decodeJSONLimit(r, maxValuesPerRequest)
}

func decodeJSONLimit(r io.Reader, limit int) (any, error) {
	dec := json.NewDecoder(&depthReader{r: r, limit: limit})
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("extra data after the JSON value")
		}
		return nil, err
	}
	return normaliseNumbers(v), nil
}

func normaliseNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return int(n)
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = normaliseNumbers(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = normaliseNumbers(x[k])
		}
	}
	return v
}
