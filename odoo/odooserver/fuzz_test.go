package odooserver

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzDecodeXMLRPCCall: any request body decodes to a call or an error,
// within the nesting bound, and what decodes can be marshalled back.
func FuzzDecodeXMLRPCCall(f *testing.F) {
	for _, s := range []string{
		xmlCall("version"),
		xmlCall("execute_kw", "<string>dvsync</string>", "<int>2</int>", "<string>k</string>", "<string>res.partner</string>", "<string>search</string>",
			"<array><data><value><array><data><value><array><data><value><string>write_date</string></value><value><string>&gt;=</string></value><value><dateTime.iso8601>20260115T00:00:00</dateTime.iso8601></value></data></array></value></data></array></value></data></array>",
			"<struct><member><name>limit</name><value><i4>5</i4></value></member><member><name>x</name><value><base64>aGVsbG8=</base64></value></member></struct>"),
		xmlCall("m", "<boolean>1</boolean>", "<double>1.5</double>", "<nil/>", "untyped", "<i8>9223372036854775807</i8>"),
		xmlCall("m", strings.Repeat("<array><data><value>", 50)+"<int>1</int>"+strings.Repeat("</value></data></array>", 50)),
		"<methodCall><methodName>x</methodName><params><param><value><string><a>b</a></string></value></param></params></methodCall>",
		"<methodCall><methodName>x",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := decodeXMLRPCCall(bytes.NewReader(data))
		if err != nil {
			return
		}
		if d := valueDepth(c.params); d > maxNesting+1 {
			t.Fatalf("decoded a value %d deep, past the bound %d", d, maxNesting)
		}
		encodeXMLRPCResponse(c.params)
	})
}

func valueDepth(v any) int {
	switch x := v.(type) {
	case []any:
		d := 0
		for _, e := range x {
			d = max(d, valueDepth(e))
		}
		return d + 1
	case map[string]any:
		d := 0
		for _, e := range x {
			d = max(d, valueDepth(e))
		}
		return d + 1
	}
	return 0
}

// FuzzDecodeJSON: JSON-RPC and JSON-2 bodies decode within the nesting
// bound, and what decodes can be encoded back.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","method":"call","id":1,"params":{"service":"object","method":"execute_kw","args":["dvsync",2,"k","res.partner","search",[[["name","ilike","a"]]],{}]}}`,
		`{"domain":[["id",">",5]],"fields":["name"],"limit":10}`,
		`{"a":"[[[[\"]]]]"}`,
		`[` + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + `]`,
		`{"n":1e400,"m":-0,"k":12345678901234567890}`,
		`{} {}`,
		``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := decodeJSONReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		if d := valueDepth(v); d > maxNesting {
			t.Fatalf("decoded a value %d deep, past the bound %d", d, maxNesting)
		}
		appendJSONValue(nil, v)
	})
}

// FuzzParseDomain: any JSON domain parses to a condition or an Odoo error,
// and a parsed condition evaluates on every record without panicking.
func FuzzParseDomain(f *testing.F) {
	srv, err := New(Options{Version: 17, SeedDir: seedDir, Now: fixedClock()})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		`[["is_company","=",true]]`,
		`["|",["name","ilike","a"],"!",["email","=like","%@example.com"]]`,
		`[["parent_id.name","=","Dvsync Demo SA"],["child_ids","any",[["email","!=",false]]]]`,
		`[["write_date",">=","2026-01-01"],["date","<","2026-01-01 10:00"],["id","in",[1,2,3]]]`,
		`[["id","child_of",1],["company_id","parent_of",[1]]]`,
		`[[1,"=",1],[0,"=",1]]`,
		`["&","&"]`,
		`[["country_id","=?",false],["user_id.partner_id.country_id.code","=","BE"]]`,
		`"not a domain"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, domain string) {
		v, err := decodeJSON([]byte(domain))
		if err != nil {
			return
		}
		m, tb, _ := srv.store.model("res.partner")
		c, err := parseDomain(srv.store, m, v, 17)
		if err != nil {
			return
		}
		for _, id := range tb.ids {
			c.eval(srv.store, m, tb.byID[id])
		}
	})
}

// FuzzServeJSONRPC drives the whole /jsonrpc handler: any body gets an
// answer (200, 400, 413 or 429), never a panic.
func FuzzServeJSONRPC(f *testing.F) {
	srv, err := New(Options{Version: 18, APIKey: testKey, SeedDir: seedDir, Now: fixedClock()})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		`{"jsonrpc":"2.0","method":"call","id":1,"params":{"service":"common","method":"version","args":[]}}`,
		`{"jsonrpc":"2.0","method":"call","id":1,"params":{"service":"object","method":"execute_kw","args":["dvsync",2,"` + testKey + `","helpdesk.ticket","read_group",[[],["__count"],["stage_id","create_date:week"]],{"lazy":false}]}}`,
		`{"jsonrpc":"2.0","method":"call","id":1,"params":{"service":"object","method":"execute_kw","args":["dvsync",2,"` + testKey + `","res.partner","web_search_read",[[]],{"specification":{"parent_id":{"fields":{"display_name":{}}}},"limit":2}]}}`,
		`{"jsonrpc":"2.0","method":"call","id":1,"params":{"service":"object","method":"execute_kw","args":["dvsync",2,"` + testKey + `","res.partner","name_search",["a"],{"limit":3}]}}`,
		`{"jsonrpc":"2.0","method":"call","params":[]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("POST", "/jsonrpc", bytes.NewReader(body)))
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusTooManyRequests, http.StatusBadGateway:
		default:
			t.Fatalf("status %d for %q", rec.Code, body)
		}
	})
}
