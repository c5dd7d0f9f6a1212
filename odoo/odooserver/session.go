package odooserver

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
)

// The web client's JSON-RPC routes (type='jsonrpc', not deprecated in 19;
// research/odoo.md §1.2): many integrations (OdooRPC, odooly, the npm
// clients' password mode) log in with /web/session/authenticate and then
// call /web/dataset/call_kw with the session cookie.

const sessionCookie = "session_id"

func (srv *Server) newSession() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	srv.sessMu.Lock()
	srv.sessions[id] = true
	srv.sessMu.Unlock()
	return id
}

// session returns the request's session id if it is live. Odoo reads the
// cookie, or the X-Openerp-Session-Id header that older clients send.
func (srv *Server) session(r *http.Request) (string, bool) {
	id := r.Header.Get("X-Openerp-Session-Id")
	if c, err := r.Cookie(sessionCookie); err == nil {
		id = c.Value
	}
	srv.sessMu.Lock()
	defer srv.sessMu.Unlock()
	return id, id != "" && srv.sessions[id]
}

func errSessionExpired() *rpcError {
	return &rpcError{name: "odoo.http.SessionExpiredException", message: "Session expired", httpStatus: http.StatusForbidden, fault: faultApplication, jsonrpcCode: 100, jsonrpcMessage: "Odoo Session Expired"}
}

func (srv *Server) sessionInfo() map[string]any {
	v := srv.versionInfo()
	return map[string]any{
		"uid": adminUID, "is_system": true, "is_admin": true, "db": Database, "username": AdminLogin,
		"name": "Mitchell Admin", "partner_id": 3, "company_id": 1,
		"user_context":        map[string]any{"lang": "en_US", "tz": "Europe/Brussels", "uid": adminUID},
		"server_version":      v["server_version"],
		"server_version_info": v["server_version_info"],
	}
}

func (srv *Server) serveWebSession(w http.ResponseWriter, r *http.Request, path string) {
	srv.serveJSONRPC(w, r, func(params map[string]any) (any, error) {
		switch path {
		case "/web/session/authenticate":
			if err := checkDB(params["db"]); err != nil {
				return nil, err
			}
			login, _ := params["login"].(string)
			password, _ := params["password"].(string)
			if login != AdminLogin || !srv.keyMatches(password) {
				return nil, errAccessDenied()
			}
			http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: srv.newSession(), Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
			return srv.sessionInfo(), nil
		case "/web/session/get_session_info":
			if _, ok := srv.session(r); !ok {
				return nil, errSessionExpired()
			}
			return srv.sessionInfo(), nil
		case "/web/session/destroy":
			if id, ok := srv.session(r); ok {
				srv.sessMu.Lock()
				delete(srv.sessions, id)
				srv.sessMu.Unlock()
			}
			return nil, nil
		}
		// /web/dataset/call_kw and /web/dataset/call_kw/<model>/<method>
		if _, ok := srv.session(r); !ok {
			return nil, errSessionExpired()
		}
		model, _ := params["model"].(string)
		method, _ := params["method"].(string)
		args, _ := params["args"].([]any)
		kwargs, _ := params["kwargs"].(map[string]any)
		if kwargs == nil {
			kwargs = map[string]any{}
		}
		c, err := bindPositional(srv.opts.Version, model, method, args, kwargs)
		if err != nil {
			return nil, err
		}
		return srv.run(c)
	})
}

func isWebSessionPath(path string) bool {
	switch path {
	case "/web/session/authenticate", "/web/session/get_session_info", "/web/session/destroy", "/web/dataset/call_kw":
		return true
	}
	return strings.HasPrefix(path, "/web/dataset/call_kw/")
}
