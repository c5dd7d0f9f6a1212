package odooserver

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testKey = "test-key-0123"

func fixedClock() func() time.Time {
	t := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	return func() time.Time { return t }
}

func newTestServer(t *testing.T, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	if opts.APIKey == "" {
		opts.APIKey = testKey
	}
	if opts.Now == nil {
		opts.Now = fixedClock()
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return srv, ts
}

// jsonrpc posts one JSON-RPC call and returns the decoded envelope.
func jsonrpc(t *testing.T, url, service, method string, args ...any) map[string]any {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": "call", "id": 7,
		"params": map[string]any{"service": service, "method": method, "args": args}})
	resp, err := http.Post(url+"/jsonrpc", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var env map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatal(err)
	}
	return env
}

func execKW(t *testing.T, url, model, method string, args []any, kwargs map[string]any) map[string]any {
	t.Helper()
	if kwargs == nil {
		kwargs = map[string]any{}
	}
	return jsonrpc(t, url, "object", "execute_kw", Database, adminUID, testKey, model, method, args, kwargs)
}

func TestJSONRPCAuthenticateAndVersion(t *testing.T) {
	_, ts := newTestServer(t, Options{Version: 17})
	env := jsonrpc(t, ts.URL, "common", "version")
	res := env["result"].(map[string]any)
	if res["server_version"] != "17.0+e" || res["server_serie"] != "17.0" {
		t.Fatalf("version = %v", res)
	}
	if env["id"].(float64) != 7 {
		t.Fatalf("id not echoed: %v", env["id"])
	}
	if got := jsonrpc(t, ts.URL, "common", "authenticate", Database, "admin", testKey, map[string]any{})["result"]; got != float64(2) {
		t.Fatalf("authenticate = %v, want 2", got)
	}
	if got := jsonrpc(t, ts.URL, "common", "authenticate", Database, "admin", "wrong", map[string]any{})["result"]; got != false {
		t.Fatalf("authenticate with a wrong key = %v, want false", got)
	}
}

func TestJSONRPCErrorEnvelopePerVersion(t *testing.T) {
	for _, tc := range []struct {
		version int
		code    float64
	}{{16, 200}, {17, 200}, {18, 200}, {19, 0}} {
		_, ts := newTestServer(t, Options{Version: tc.version})
		env := execKW(t, ts.URL, "res.users.apikeys", "search_read", []any{[]any{}}, nil)
		e, ok := env["error"].(map[string]any)
		if !ok {
			t.Fatalf("v%d: no error in %v", tc.version, env)
		}
		data := e["data"].(map[string]any)
		if e["code"] != tc.code || e["message"] != "Odoo Server Error" || data["name"] != "odoo.exceptions.AccessError" {
			t.Fatalf("v%d: error = %v", tc.version, e)
		}
		if !strings.Contains(data["message"].(string), "(res.users.apikeys)") {
			t.Fatalf("v%d: message = %q", tc.version, data["message"])
		}
		// Wrong key on object → AccessDenied.
		env = jsonrpc(t, ts.URL, "object", "execute_kw", Database, adminUID, "nope", "res.partner", "search", []any{[]any{}}, map[string]any{})
		if name := env["error"].(map[string]any)["data"].(map[string]any)["name"]; name != "odoo.exceptions.AccessDenied" {
			t.Fatalf("v%d: wrong key gave %v", tc.version, name)
		}
	}
}

func TestCreateReadWriteSearch(t *testing.T) {
	_, ts := newTestServer(t, Options{})
	env := execKW(t, ts.URL, "res.partner", "create", []any{map[string]any{"name": "Azure Interior", "is_company": true, "email": "info@azure.example"}}, nil)
	company, ok := env["result"].(float64)
	if !ok {
		t.Fatalf("create = %v", env)
	}
	env = execKW(t, ts.URL, "res.partner", "create", []any{[]any{map[string]any{"name": "Brandon Freeman", "parent_id": company}}}, nil)
	ids, ok := env["result"].([]any)
	if !ok || len(ids) != 1 {
		t.Fatalf("create list = %v", env)
	}
	env = execKW(t, ts.URL, "res.partner", "read", []any{ids}, map[string]any{"fields": []any{"display_name", "parent_id", "phone", "commercial_partner_id"}})
	rec := env["result"].([]any)[0].(map[string]any)
	if rec["display_name"] != "Azure Interior, Brandon Freeman" || rec["phone"] != false {
		t.Fatalf("read = %v", rec)
	}
	if p := rec["parent_id"].([]any); p[0] != company || p[1] != "Azure Interior" {
		t.Fatalf("parent_id = %v", rec["parent_id"])
	}
	if cp := rec["commercial_partner_id"].([]any); cp[0] != company {
		t.Fatalf("commercial_partner_id = %v", cp)
	}
	if env := execKW(t, ts.URL, "res.partner", "write", []any{ids, map[string]any{"phone": "+32 2 555 01 01"}}, nil); env["result"] != true {
		t.Fatalf("write = %v", env)
	}
	env = execKW(t, ts.URL, "res.partner", "search_read", []any{[]any{"|", []any{"phone", "ilike", "555"}, []any{"name", "=like", "Azure%"}}}, map[string]any{"fields": []any{"name"}, "order": "id asc"})
	got := env["result"].([]any)
	if len(got) != 2 || got[0].(map[string]any)["name"] != "Azure Interior" {
		t.Fatalf("search_read = %v", got)
	}
	env = execKW(t, ts.URL, "res.partner", "search_count", []any{[]any{[]any{"id", "child_of", company}}}, nil)
	if env["result"] != float64(2) {
		t.Fatalf("child_of count = %v", env)
	}
	env = execKW(t, ts.URL, "res.partner", "write", []any{ids, map[string]any{"nope": 1}}, nil)
	if env["error"].(map[string]any)["data"].(map[string]any)["name"] != "builtins.ValueError" {
		t.Fatalf("invalid field = %v", env)
	}
	env = execKW(t, ts.URL, "res.partner", "read", []any{[]any{9999}}, nil)
	if env["error"].(map[string]any)["data"].(map[string]any)["name"] != "odoo.exceptions.MissingError" {
		t.Fatalf("missing = %v", env)
	}
}

func TestXMLRPC(t *testing.T) {
	_, ts := newTestServer(t, Options{})
	post := func(path, body string) string {
		resp, err := http.Post(ts.URL+path, "text/xml", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	out := post("/xmlrpc/2/common", `<?xml version="1.0"?><methodCall><methodName>authenticate</methodName><params>
<param><value><string>dvsync</string></value></param><param><value>admin</value></param>
<param><value><string>`+testKey+`</string></value></param><param><value><struct></struct></value></param></params></methodCall>`)
	if !strings.Contains(out, "<int>2</int>") {
		t.Fatalf("authenticate: %s", out)
	}
	out = post("/xmlrpc/2/object", `<?xml version="1.0"?><methodCall><methodName>execute_kw</methodName><params>
<param><value><string>dvsync</string></value></param><param><value><int>2</int></value></param>
<param><value><string>`+testKey+`</string></value></param><param><value><string>res.users</string></value></param>
<param><value><string>search_read</string></value></param>
<param><value><array><data><value><array><data><value><array><data><value><string>login</string></value><value><string>=</string></value><value><string>admin</string></value></data></array></value></data></array></value></data></array></value></param>
<param><value><struct><member><name>fields</name><value><array><data><value><string>name</string></value><value><string>tz</string></value></data></array></value></member><member><name>offset</name><value><nil/></value></member></struct></value></param>
</params></methodCall>`)
	if !strings.Contains(out, "<string>Mitchell Admin</string>") {
		t.Fatalf("search_read: %s", out)
	}
	out = post("/xmlrpc/2/object", `<?xml version="1.0"?><methodCall><methodName>execute_kw</methodName><params>
<param><value><string>dvsync</string></value></param><param><value><int>2</int></value></param>
<param><value><string>`+testKey+`</string></value></param><param><value><string>res.users.apikeys</string></value></param>
<param><value><string>search</string></value></param><param><value><array><data><value><array><data></data></array></value></data></array></value></param>
</params></methodCall>`)
	if !strings.Contains(out, "<name>faultCode</name>\n<value><int>4</int></value>") {
		t.Fatalf("access error fault: %s", out)
	}
}

func TestJSON2(t *testing.T) {
	_, ts := newTestServer(t, Options{Version: 19})
	call := func(key, path string, body any) (int, any) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, ts.URL+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Odoo-Database", Database)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v any
		_ = json.NewDecoder(resp.Body).Decode(&v)
		return resp.StatusCode, v
	}
	status, v := call(testKey, "/json/2/res.users/search_read", map[string]any{"domain": []any{[]any{"login", "=", "admin"}}, "fields": []any{"name"}})
	if status != 200 || v.([]any)[0].(map[string]any)["name"] != "Mitchell Admin" {
		t.Fatalf("search_read: %d %v", status, v)
	}
	status, v = call("bad", "/json/2/res.users/search_read", map[string]any{})
	if status != 401 || v.(map[string]any)["message"] != "Invalid apikey" {
		t.Fatalf("bad key: %d %v", status, v)
	}
	status, v = call(testKey, "/json/2/res.users.apikeys/search_read", map[string]any{})
	if status != 403 || v.(map[string]any)["name"] != "odoo.exceptions.AccessError" {
		t.Fatalf("access error: %d %v", status, v)
	}
	status, _ = call(testKey, "/json/2/res.users/search_read", map[string]any{"ids": []any{2}})
	if status != 422 {
		t.Fatalf("ids on a model method: %d", status)
	}
	status, _ = call(testKey, "/json/2/no.such.model/search_read", map[string]any{})
	if status != 404 {
		t.Fatalf("unknown model: %d", status)
	}
	resp, err := http.Get(ts.URL + "/web/version")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ver map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&ver)
	if ver["version"] != "19.0" {
		t.Fatalf("/web/version = %v", ver)
	}
}

func TestJSON2AbsentBefore19(t *testing.T) {
	_, ts := newTestServer(t, Options{Version: 18})
	resp, err := http.Post(ts.URL+"/json/2/res.users/search_read", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("status = %d, want 404", resp.StatusCode)
	}
}

func TestSeedRejectsUnknownField(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "helpdesk.tag.jsonl"), []byte(`{"id":1,"name":"CRM","colour":3}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = srv.LoadSeed(dir)
	if err == nil || !strings.Contains(err.Error(), `unknown field "colour"`) || !strings.Contains(err.Error(), ":1:") {
		t.Fatalf("err = %v", err)
	}
}

func TestLegacyXMLRPCFaults(t *testing.T) {
	_, ts := newTestServer(t, Options{})
	call := func(model string) string {
		body := `<?xml version="1.0"?><methodCall><methodName>execute_kw</methodName><params>
<param><value><string>dvsync</string></value></param><param><value><int>2</int></value></param>
<param><value><string>` + testKey + `</string></value></param><param><value><string>` + model + `</string></value></param>
<param><value><string>search</string></value></param><param><value><array><data><value><array><data></data></array></value></data></array></value></param>
</params></methodCall>`
		resp, err := http.Post(ts.URL+"/xmlrpc/object", "text/xml", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if out := call("res.users.apikeys"); !strings.Contains(out, "<string>warning -- AccessError\n\nYou are not allowed") {
		t.Fatalf("legacy access error: %s", out)
	}
	if out := call("res.partner"); !strings.Contains(out, "<int>1</int>") {
		t.Fatalf("legacy search: %s", out)
	}
}
