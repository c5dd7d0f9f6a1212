package odooserver

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"testing"
)

func TestWebSession(t *testing.T) {
	_, ts := newTestServer(t, Options{Version: 17})
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	post := func(path string, params map[string]any) map[string]any {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": "call", "id": 1, "params": params})
		resp, err := client.Post(ts.URL+path, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var env map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
			t.Fatal(err)
		}
		return env
	}
	callKW := map[string]any{"model": "res.users", "method": "search_read", "args": []any{[]any{[]any{"login", "=", "admin"}}}, "kwargs": map[string]any{"fields": []any{"name"}}}
	env := post("/web/dataset/call_kw", callKW)
	if e, _ := env["error"].(map[string]any); e == nil || e["code"] != float64(100) || e["message"] != "Odoo Session Expired" {
		t.Fatalf("call without session: %v", env)
	}
	env = post("/web/session/authenticate", map[string]any{"db": Database, "login": "admin", "password": "wrong"})
	if e, _ := env["error"].(map[string]any); e == nil || e["data"].(map[string]any)["name"] != "odoo.exceptions.AccessDenied" {
		t.Fatalf("bad password: %v", env)
	}
	env = post("/web/session/authenticate", map[string]any{"db": Database, "login": "admin", "password": testKey})
	if res, _ := env["result"].(map[string]any); res == nil || res["uid"] != float64(2) {
		t.Fatalf("authenticate: %v", env)
	}
	env = post("/web/dataset/call_kw/res.users/search_read", callKW)
	rows, _ := env["result"].([]any)
	if len(rows) != 1 || rows[0].(map[string]any)["name"] != "Mitchell Admin" {
		t.Fatalf("call_kw: %v", env)
	}
	post("/web/session/destroy", map[string]any{})
	if env := post("/web/session/get_session_info", map[string]any{}); env["error"] == nil {
		t.Fatalf("session survived destroy: %v", env)
	}
}
