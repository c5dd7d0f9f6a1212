package odooserver

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func result(t *testing.T, env map[string]any) any {
	t.Helper()
	if e, ok := env["error"]; ok {
		t.Fatalf("unexpected error: %v", e)
	}
	return env["result"]
}

func errorData(t *testing.T, env map[string]any) map[string]any {
	t.Helper()
	e, ok := env["error"].(map[string]any)
	if !ok {
		t.Fatalf("expected an error, got %v", env["result"])
	}
	return e["data"].(map[string]any)
}

func TestMethodsPerVersion(t *testing.T) {
	cases := []struct {
		method string
		args   []any
		kwargs map[string]any
		exists map[int]bool
	}{
		{"name_get", []any{[]any{3}}, nil, map[int]bool{16: true, 17: true, 18: false, 19: false}},
		{"formatted_read_group", []any{[]any{}}, map[string]any{"groupby": []any{"is_company"}, "aggregates": []any{"__count"}}, map[int]bool{16: false, 17: false, 18: false, 19: true}},
		{"search_fetch", []any{[]any{}, []any{"name"}}, nil, map[int]bool{16: false, 17: true, 18: true, 19: true}},
		{"web_read", []any{[]any{3}, map[string]any{"name": map[string]any{}}}, nil, map[int]bool{16: false, 17: true, 18: true, 19: true}},
		{"read_group", []any{[]any{}, []any{"is_company"}, []any{"is_company"}}, nil, map[int]bool{16: true, 17: true, 18: true, 19: true}},
		{"check_access_rights", []any{"read"}, nil, map[int]bool{16: true, 17: true, 18: true, 19: true}},
	}
	for _, v := range []int{16, 17, 18, 19} {
		var logs bytes.Buffer
		_, ts := newTestServer(t, Options{Version: v, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		for _, c := range cases {
			env := execKW(t, ts.URL, "res.partner", c.method, c.args, c.kwargs)
			_, failed := env["error"]
			if failed == c.exists[v] {
				t.Errorf("%d %s: exists=%v, got %v", v, c.method, c.exists[v], env)
			}
			if failed {
				msg := errorData(t, env)["message"].(string)
				want := fmt.Sprintf("type object 'res.partner' has no attribute '%s'", c.method)
				if v >= 18 {
					want = fmt.Sprintf("The method 'res.partner.%s' does not exist", c.method)
				}
				if msg != want {
					t.Errorf("%d %s: %q, want %q", v, c.method, msg, want)
				}
			}
		}
		// Deprecated methods still answer and log Odoo's warning.
		for method, since := range map[string]int{"name_get": 17, "check_access_rights": 18, "read_group": 19} {
			warned := strings.Contains(logs.String(), "DeprecationWarning") && strings.Contains(logs.String(), "method="+method)
			if warned != (v >= since && (method != "name_get" || v <= 17)) {
				t.Errorf("%d %s: deprecation logged=%v\n%s", v, method, warned, logs.String())
			}
		}
	}
}

func TestPrivateMethodWordingPerVersion(t *testing.T) {
	for v, want := range map[int]string{
		16: "Private methods (such as _read) cannot be called remotely.",
		17: "Private methods (such as _read) cannot be called remotely.",
		18: "Private methods (such as 'res.partner._read') cannot be called remotely.",
		19: "Private methods (such as 'res.partner._read') cannot be called remotely.",
	} {
		_, ts := newTestServer(t, Options{Version: v})
		d := errorData(t, execKW(t, ts.URL, "res.partner", "_read", []any{[]any{3}}, nil))
		if d["message"] != want || d["name"] != "odoo.exceptions.AccessError" {
			t.Errorf("%d: %v", v, d)
		}
	}
}

func TestNameSearchNameCreateExistsCopy(t *testing.T) {
	_, ts := newTestServer(t, Options{Version: 17})
	pair := result(t, execKW(t, ts.URL, "res.partner", "name_create", []any{"Gemini Furniture"}, nil)).([]any)
	id := int(pair[0].(float64))
	if pair[1] != "Gemini Furniture" {
		t.Fatalf("name_create = %v", pair)
	}
	got := result(t, execKW(t, ts.URL, "res.partner", "name_search", []any{"gemini"}, map[string]any{"limit": 5})).([]any)
	if len(got) != 1 || int(got[0].([]any)[0].(float64)) != id {
		t.Fatalf("name_search = %v", got)
	}
	// Up to 18 the filter domain is called args; 19 renamed it domain.
	if env := execKW(t, ts.URL, "res.partner", "name_search", []any{}, map[string]any{"name": "", "args": []any{[]any{"id", "=", id}}}); len(result(t, env).([]any)) != 1 {
		t.Fatalf("name_search with args: %v", env)
	}
	if env := execKW(t, ts.URL, "res.partner", "name_search", []any{}, map[string]any{"domain": []any{}}); env["error"] == nil {
		t.Fatalf("17 has no 'domain' parameter: %v", env)
	}
	_, ts19 := newTestServer(t, Options{Version: 19})
	if env := execKW(t, ts19.URL, "res.partner", "name_search", []any{}, map[string]any{"name": "", "domain": []any{[]any{"id", "=", 3}}}); len(result(t, env).([]any)) != 1 {
		t.Fatalf("19 name_search with domain: %v", env)
	}
	ex := result(t, execKW(t, ts.URL, "res.partner", "exists", []any{[]any{id, 9999}}, nil)).([]any)
	if len(ex) != 1 || int(ex[0].(float64)) != id {
		t.Fatalf("exists = %v", ex)
	}
	cp := result(t, execKW(t, ts.URL, "res.partner", "copy", []any{[]any{id}}, map[string]any{"default": map[string]any{"email": "copy@example.com"}}))
	rec := result(t, execKW(t, ts.URL, "res.partner", "read", []any{[]any{cp}, []any{"name", "email"}}, nil)).([]any)[0].(map[string]any)
	if rec["name"] != "Gemini Furniture (copy)" || rec["email"] != "copy@example.com" {
		t.Fatalf("copy = %v", rec)
	}
	if d := errorData(t, execKW(t, ts.URL, "res.partner", "copy", []any{[]any{id, 3}}, nil)); !strings.HasPrefix(d["message"].(string), "Expected singleton") {
		t.Fatalf("copy of two records on 17: %v", d)
	}
}

func TestArchiveReturnsNone(t *testing.T) {
	_, ts := newTestServer(t, Options{Version: 17})
	env := execKW(t, ts.URL, "res.partner", "action_archive", []any{[]any{3}}, nil)
	if _, ok := env["result"]; !ok || env["result"] != nil {
		t.Fatalf("JSON-RPC action_archive = %v, want null", env)
	}
	active := result(t, execKW(t, ts.URL, "res.partner", "read", []any{[]any{3}, []any{"active"}}, nil)).([]any)[0].(map[string]any)["active"]
	if active != false {
		t.Fatalf("not archived: %v", active)
	}
	// XML-RPC cannot marshal None: a TypeError fault, after the write.
	resp := xmlExec(t, ts.URL, "res.partner", "action_unarchive", `<array><data><value><array><data><value><int>3</int></value></data></array></value></data></array>`, "")
	if !strings.Contains(resp, "TypeError: cannot marshal None unless allow_none is enabled") {
		t.Fatalf("XML-RPC None: %.300s", resp)
	}
	active = result(t, execKW(t, ts.URL, "res.partner", "read", []any{[]any{3}, []any{"active"}}, nil)).([]any)[0].(map[string]any)["active"]
	if active != true {
		t.Fatalf("unarchive not applied: %v", active)
	}
}

func TestCheckAccessRights(t *testing.T) {
	_, ts := newTestServer(t, Options{Version: 17})
	if r := result(t, execKW(t, ts.URL, "res.partner", "check_access_rights", []any{"write"}, nil)); r != true {
		t.Fatalf("write on partners: %v", r)
	}
	if r := result(t, execKW(t, ts.URL, "res.users.apikeys", "check_access_rights", []any{"write"}, map[string]any{"raise_exception": false})); r != false {
		t.Fatalf("write on res.users.apikeys without raising: %v", r)
	}
	if d := errorData(t, execKW(t, ts.URL, "res.users.apikeys", "check_access_rights", []any{"unlink"}, nil)); d["name"] != "odoo.exceptions.AccessError" {
		t.Fatalf("unlink on res.users.apikeys: %v", d)
	}
}

func TestReadGroupAndFormattedReadGroup(t *testing.T) {
	srv, ts := newTestServer(t, Options{Version: 19, SeedDir: seedDir})
	// Ground truth: tickets per priority among active tickets.
	m, tb, _ := srv.store.model("helpdesk.ticket")
	want := map[string]int{}
	for _, id := range tb.ids {
		r := tb.byID[id]
		if truthy(r.get(m, "active")) {
			want[r.get(m, "priority").(string)]++
		}
	}
	groups := result(t, execKW(t, ts.URL, "helpdesk.ticket", "read_group", []any{[]any{}, []any{"color:sum"}, []any{"priority"}}, nil)).([]any)
	total := 0
	for _, g := range groups {
		g := g.(map[string]any)
		p := g["priority"].(string)
		if int(g["priority_count"].(float64)) != want[p] {
			t.Fatalf("priority %s: %v, want %d", p, g, want[p])
		}
		if _, ok := g["__domain"]; !ok {
			t.Fatalf("no __domain: %v", g)
		}
		total += want[p]
	}
	if total == 0 || len(groups) != len(want) {
		t.Fatalf("groups %v want %v", groups, want)
	}
	// Non-lazy: __count; many2one values are [id, name]; order by count.
	groups = result(t, execKW(t, ts.URL, "helpdesk.ticket", "read_group", []any{[]any{}, []any{"__count"}, []any{"team_id", "priority"}}, map[string]any{"lazy": false, "orderby": "__count desc"})).([]any)
	prev := 1 << 30
	for _, g := range groups {
		g := g.(map[string]any)
		n := int(g["__count"].(float64))
		if n > prev {
			t.Fatalf("not ordered by __count desc: %v", groups)
		}
		prev = n
		if team, ok := g["team_id"].([]any); ok && len(team) != 2 {
			t.Fatalf("team_id = %v", g["team_id"])
		}
	}
	// Date grouping: month labels and __range.
	groups = result(t, execKW(t, ts.URL, "helpdesk.ticket", "read_group", []any{[]any{}, []any{}, []any{"create_date:month"}}, nil)).([]any)
	g0 := groups[0].(map[string]any)
	if _, ok := g0["__range"].(map[string]any)["create_date:month"]; !ok || !strings.Contains(g0["create_date:month"].(string), " 20") {
		t.Fatalf("month group: %v", g0)
	}
	// 19's formatted_read_group.
	fg := result(t, execKW(t, ts.URL, "helpdesk.ticket", "formatted_read_group", []any{[]any{}}, map[string]any{"groupby": []any{"priority"}, "aggregates": []any{"__count", "id:count_distinct"}})).([]any)
	for _, g := range fg {
		g := g.(map[string]any)
		p := g["priority"].(string)
		if int(g["__count"].(float64)) != want[p] || int(g["id:count_distinct"].(float64)) != want[p] {
			t.Fatalf("formatted group %v, want %d", g, want[p])
		}
		if dom := g["__extra_domain"].([]any); len(dom) != 1 {
			t.Fatalf("__extra_domain = %v", dom)
		}
	}
}

func TestWebSearchReadAndWebRead(t *testing.T) {
	_, ts := newTestServer(t, Options{Version: 17, SeedDir: seedDir})
	res := result(t, execKW(t, ts.URL, "helpdesk.ticket", "web_search_read", []any{[]any{}}, map[string]any{
		"specification": map[string]any{"name": map[string]any{}, "partner_id": map[string]any{"fields": map[string]any{"display_name": map[string]any{}}}, "tag_ids": map[string]any{}},
		"limit":         3, "order": "id asc"})).(map[string]any)
	recs := res["records"].([]any)
	if len(recs) != 3 || res["length"].(float64) <= 3 {
		t.Fatalf("web_search_read = %v", res)
	}
	p, ok := recs[0].(map[string]any)["partner_id"].(map[string]any)
	if !ok || p["id"] == nil || p["display_name"] == nil {
		t.Fatalf("many2one with sub-fields: %v", recs[0])
	}
	// 16's web_search_read takes a field list.
	_, ts16 := newTestServer(t, Options{Version: 16})
	res = result(t, execKW(t, ts16.URL, "res.partner", "web_search_read", []any{[]any{}}, map[string]any{"fields": []any{"name"}, "limit": 1})).(map[string]any)
	if len(res["records"].([]any)) != 1 {
		t.Fatalf("16 web_search_read = %v", res)
	}
}

func TestMessagePostOnTicket(t *testing.T) {
	_, ts := newTestServer(t, Options{Version: 18, SeedDir: seedDir})
	id := result(t, execKW(t, ts.URL, "helpdesk.ticket", "message_post", []any{[]any{1}}, map[string]any{"body": "Called <back>", "subtype_xmlid": "mail.mt_comment", "message_type": "comment"}))
	msg := result(t, execKW(t, ts.URL, "mail.message", "read", []any{[]any{id}, []any{"body", "model", "res_id", "subtype_id", "message_type", "is_internal"}}, nil)).([]any)[0].(map[string]any)
	if msg["body"] != "Called &lt;back&gt;" || msg["model"] != "helpdesk.ticket" || msg["res_id"] != float64(1) || msg["message_type"] != "comment" || msg["is_internal"] != false {
		t.Fatalf("message = %v", msg)
	}
	note := result(t, execKW(t, ts.URL, "helpdesk.ticket", "message_post", []any{[]any{1}}, map[string]any{"body": "internal"}))
	msg = result(t, execKW(t, ts.URL, "mail.message", "read", []any{[]any{note}, []any{"subtype_id", "is_internal"}}, nil)).([]any)[0].(map[string]any)
	if msg["subtype_id"].([]any)[1] != "Note" || msg["is_internal"] != true {
		t.Fatalf("default subtype is mail.mt_note: %v", msg)
	}
}

func TestFieldsGetAttributesAndIntrospection(t *testing.T) {
	_, ts := newTestServer(t, Options{Version: 17})
	fg := result(t, execKW(t, ts.URL, "res.partner", "fields_get", []any{}, map[string]any{"attributes": []any{"string", "help", "type", "domain", "context", "relation"}})).(map[string]any)
	country := fg["country_id"].(map[string]any)
	if country["relation"] != "res.country" || country["domain"] == nil || country["context"] == nil || country["string"] != "Country" {
		t.Fatalf("country_id = %v", country)
	}
	if _, ok := fg["comment"]; !ok {
		t.Fatal("res.partner has no comment")
	}
	if _, ok := fg["name"].(map[string]any)["domain"]; ok {
		t.Fatal("char fields have no domain")
	}
	n := result(t, execKW(t, ts.URL, "ir.model.fields", "search_count", []any{[]any{[]any{"model", "=", "res.partner"}, []any{"name", "=", "country_id"}, []any{"relation", "=", "res.country"}}}, nil))
	if n != float64(1) {
		t.Fatalf("ir.model.fields for res.partner.country_id: %v", n)
	}
	mid := result(t, execKW(t, ts.URL, "ir.model", "search", []any{[]any{[]any{"model", "=", "ir.attachment"}}}, nil)).([]any)
	if len(mid) != 1 {
		t.Fatalf("ir.model for ir.attachment: %v", mid)
	}
	att := result(t, execKW(t, ts.URL, "ir.attachment", "create", []any{map[string]any{"name": "notes.txt", "datas": "aGVsbG8=", "res_model": "res.partner", "res_id": 3}}, nil))
	a := result(t, execKW(t, ts.URL, "ir.attachment", "read", []any{[]any{att}, []any{"file_size", "mimetype"}}, nil)).([]any)[0].(map[string]any)
	if a["file_size"] != float64(5) || a["mimetype"] != "text/plain" {
		t.Fatalf("attachment = %v", a)
	}
	if r := result(t, execKW(t, ts.URL, "mail.followers", "create", []any{map[string]any{"res_model": "res.partner", "res_id": 3, "partner_id": 3}}, nil)); r == nil {
		t.Fatal("mail.followers create")
	}
}

func TestDefaultGetPerVersion(t *testing.T) {
	for v, arg := range map[int]string{17: "fields_list", 18: "fields_list", 19: "fields"} {
		_, ts := newTestServer(t, Options{Version: v})
		got := result(t, execKW(t, ts.URL, "res.partner", "default_get", []any{}, map[string]any{arg: []any{"active", "type", "name"}, "context": map[string]any{"default_name": "From context"}})).(map[string]any)
		if got["active"] != true || got["type"] != "contact" || got["name"] != "From context" {
			t.Errorf("%d: default_get = %v", v, got)
		}
		other := map[string]string{"fields_list": "fields", "fields": "fields_list"}[arg]
		if env := execKW(t, ts.URL, "res.partner", "default_get", []any{}, map[string]any{other: []any{"active"}}); env["error"] == nil {
			t.Errorf("%d: default_get accepted %s", v, other)
		}
	}
}

// The facts of Odoo 19's test_formatted_read_group.py test_groupby_date,
// on res.partner.date.
func TestFormattedReadGroupDatesAsOdoo19(t *testing.T) {
	_, ts := newTestServer(t, Options{Version: 19})
	for _, d := range []any{false, "2022-01-29", "2022-01-29", "2022-01-30", "2022-01-31", "2022-02-01", "2022-05-29", "2023-01-29"} {
		result(t, execKW(t, ts.URL, "res.partner", "create", []any{map[string]any{"name": "grp", "date": d}}, nil))
	}
	dom := []any{[]any{"name", "=", "grp"}}
	type group struct {
		key   any
		count float64
	}
	check := func(spec string, want []group) {
		t.Helper()
		got := result(t, execKW(t, ts.URL, "res.partner", "formatted_read_group", []any{dom}, map[string]any{"groupby": []any{spec}, "aggregates": []any{"__count"}})).([]any)
		if len(got) != len(want) {
			t.Fatalf("%s: %v", spec, got)
		}
		for i, g := range got {
			g := g.(map[string]any)
			if fmt.Sprint(g[spec]) != fmt.Sprint(want[i].key) || g["__count"] != want[i].count {
				t.Fatalf("%s group %d: %v, want %v", spec, i, g, want[i])
			}
		}
	}
	check("date:week", []group{{[]any{"2022-01-23", "W5 2022"}, 2}, {[]any{"2022-01-30", "W6 2022"}, 3}, {[]any{"2022-05-29", "W23 2022"}, 1}, {[]any{"2023-01-29", "W5 2023"}, 1}, {false, 1}})
	check("date:month", []group{{[]any{"2022-01-01", "January 2022"}, 4}, {[]any{"2022-02-01", "February 2022"}, 1}, {[]any{"2022-05-01", "May 2022"}, 1}, {[]any{"2023-01-01", "January 2023"}, 1}, {false, 1}})
	check("date:day", []group{{[]any{"2022-01-29", "29 Jan 2022"}, 2}, {[]any{"2022-01-30", "30 Jan 2022"}, 1}, {[]any{"2022-01-31", "31 Jan 2022"}, 1}, {[]any{"2022-02-01", "01 Feb 2022"}, 1}, {[]any{"2022-05-29", "29 May 2022"}, 1}, {[]any{"2023-01-29", "29 Jan 2023"}, 1}, {false, 1}})
	g := result(t, execKW(t, ts.URL, "res.partner", "formatted_read_group", []any{dom}, map[string]any{"groupby": []any{"date:month"}, "aggregates": []any{"__count"}})).([]any)[0].(map[string]any)
	if fmt.Sprint(g["__extra_domain"]) != "[& [date >= 2022-01-01] [date < 2022-02-01]]" {
		t.Fatalf("__extra_domain = %v", g["__extra_domain"])
	}
	// test_malformed_params: no granularity on a date, alias forms.
	for _, kw := range []map[string]any{
		{"groupby": []any{"date"}},
		{"groupby": []any{"date:bad_granularity"}},
		{"aggregates": []any{"color"}},
		{"aggregates": []any{"__count_"}},
		{"aggregates": []any{"color:__count"}},
		{"aggregates": []any{"label:sum(color)"}},
	} {
		if env := execKW(t, ts.URL, "res.partner", "formatted_read_group", []any{dom}, kw); env["error"] == nil {
			t.Errorf("%v accepted", kw)
		}
	}
	// test_groupby_id: ids group with their display names.
	ids := result(t, execKW(t, ts.URL, "res.partner", "formatted_read_group", []any{dom}, map[string]any{"groupby": []any{"id"}, "aggregates": []any{"__count"}})).([]any)
	if first := ids[0].(map[string]any)["id"].([]any); len(first) != 2 || first[1] != "grp" {
		t.Fatalf("groupby id: %v", ids[0])
	}
	// test_falsy_domain: no groupby gives one group, even when empty.
	one := result(t, execKW(t, ts.URL, "res.partner", "formatted_read_group", []any{[]any{[]any{"id", "in", []any{}}}}, map[string]any{"aggregates": []any{"__count"}})).([]any)
	if len(one) != 1 || one[0].(map[string]any)["__count"] != float64(0) || fmt.Sprint(one[0].(map[string]any)["__extra_domain"]) != "[[1 = 1]]" {
		t.Fatalf("no groupby: %v", one)
	}
}

func TestMessagePostSignature(t *testing.T) {
	_, ts := newTestServer(t, Options{Version: 17, SeedDir: seedDir})
	// Keyword-only: a positional body is a TypeError, as in Python.
	d := errorData(t, execKW(t, ts.URL, "helpdesk.ticket", "message_post", []any{[]any{1}, "hello"}, nil))
	if d["name"] != "builtins.TypeError" || d["message"] != "message_post() takes 1 positional argument but 2 were given" {
		t.Fatalf("positional body: %v", d)
	}
	att := result(t, execKW(t, ts.URL, "ir.attachment", "create", []any{map[string]any{"name": "log.txt", "datas": "aGk="}}, nil))
	id := result(t, execKW(t, ts.URL, "helpdesk.ticket", "message_post", []any{[]any{1}}, map[string]any{
		"body": "<p>Resolved</p>", "body_is_html": true, "attachments": []any{[]any{"notes.txt", "hello"}},
		"attachment_ids": []any{att}, "message_id": "<custom@example.com>"}))
	msg := result(t, execKW(t, ts.URL, "mail.message", "read", []any{[]any{id}, []any{"body", "attachment_ids", "message_id"}}, nil)).([]any)[0].(map[string]any)
	if msg["body"] != "<p>Resolved</p>" || len(msg["attachment_ids"].([]any)) != 2 || msg["message_id"] != "<custom@example.com>" {
		t.Fatalf("message = %v", msg)
	}
	a := result(t, execKW(t, ts.URL, "ir.attachment", "read", []any{[]any{att}, []any{"res_model", "res_id"}}, nil)).([]any)[0].(map[string]any)
	if a["res_model"] != "helpdesk.ticket" || a["res_id"] != float64(1) {
		t.Fatalf("attachment not moved to the ticket: %v", a)
	}
	if d := errorData(t, execKW(t, ts.URL, "helpdesk.ticket", "message_post", []any{[]any{1}}, map[string]any{"body": "x", "colour": 1})); !strings.Contains(d["message"].(string), "colour") {
		t.Fatalf("unknown keyword: %v", d)
	}
}

func TestWebReadX2manyOrderAndLimit(t *testing.T) {
	_, ts := newTestServer(t, Options{Version: 17, SeedDir: seedDir})
	spec := map[string]any{"child_ids": map[string]any{"fields": map[string]any{"name": map[string]any{}}, "order": "name desc", "limit": 2}}
	recs := result(t, execKW(t, ts.URL, "res.partner", "web_search_read", []any{[]any{[]any{"is_company", "=", true}, []any{"child_ids", "!=", false}}}, map[string]any{"specification": spec, "limit": 1})).(map[string]any)["records"].([]any)
	kids := recs[0].(map[string]any)["child_ids"].([]any)
	if len(kids) > 2 || len(kids) == 0 {
		t.Fatalf("limit 2: %v", kids)
	}
	if len(kids) == 2 && kids[0].(map[string]any)["name"].(string) < kids[1].(map[string]any)["name"].(string) {
		t.Fatalf("order name desc: %v", kids)
	}
}
