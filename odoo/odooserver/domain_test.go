package odooserver

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func seeded(t *testing.T, version int, flavour string) *Server {
	t.Helper()
	srv, err := New(Options{Version: version, Flavour: flavour, SeedDir: seedDir, Now: fixedClock()})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func ids(t *testing.T, srv *Server, model string, domain []any, ctx map[string]any, order string) []int {
	t.Helper()
	c := &call{model: model, method: "search", args: map[string]any{"domain": domain, "order": order}, ctx: ctx}
	out, err := srv.run(c)
	if err != nil {
		t.Fatalf("search %v: %v", domain, err)
	}
	var res []int
	for _, x := range out.([]any) {
		res = append(res, x.(int))
	}
	return res
}

func TestDomainOperators(t *testing.T) {
	srv := seeded(t, 17, FlavourEnterprise)
	archived := map[string]any{"active_test": false}
	for _, tc := range []struct {
		name   string
		domain []any
		ctx    map[string]any
		want   []int
	}{
		{"equal", []any{[]any{"name", "=", "Priya Raman"}}, nil, []int{20}},
		{"not equal keeps nulls", []any{[]any{"parent_id", "!=", 10}, []any{"id", "in", []any{10, 20, 40}}}, nil, []int{10, 40}},
		{"=? with False is a no-op", []any{[]any{"email", "=?", false}, []any{"id", "<=", 3}}, nil, []int{1, 3}},
		{"=? with a value", []any{[]any{"name", "=?", "Tom Okafor"}}, nil, []int{21}},
		{"ilike is case-insensitive and wraps", []any{[]any{"name", "ilike", "KOWAL"}}, nil, []int{29}},
		{"like is case-sensitive", []any{[]any{"name", "like", "kowal"}}, nil, nil},
		{"not ilike keeps nulls", []any{[]any{"phone", "not ilike", "555"}, []any{"id", "in", []any{20, 21}}}, nil, []int{21}},
		{"=like uses the pattern as given", []any{[]any{"email", "=like", "%@alderdental.example"}}, nil, []int{10, 20, 21, 22}},
		{"=ilike _ matches one char", []any{[]any{"name", "=ilike", "tom okafo_"}}, nil, []int{21}},
		{"in with False matches empty", []any{[]any{"parent_id", "in", []any{false, 17}}, []any{"id", ">=", 40}, []any{"id", "<", 100}}, nil, []int{40, 41, 42}},
		{"not in", []any{[]any{"parent_id", "not in", []any{10, 11, 12, 13, 14, 1}}, []any{"parent_id", "!=", false}}, nil, []int{32, 33, 34, 35}},
		{"many2one by name", []any{[]any{"parent_id", "=", "Fjordline Seafood AS"}}, nil, []int{32, 33}},
		{"many2one ilike name", []any{[]any{"parent_id", "ilike", "fjord"}}, nil, []int{32, 33}},
		{"dotted path", []any{[]any{"parent_id.email", "=like", "post@%"}}, nil, []int{32, 33}},
		{"or and not", []any{"|", []any{"id", "=", 20}, "!", []any{"id", ">", 2}}, nil, []int{1, 20}},
		{"explicit and", []any{"&", []any{"is_company", "=", true}, []any{"name", "=like", "B%"}}, nil, []int{11}},
		{"active test hides archived", []any{[]any{"parent_id", "=", 17}}, nil, nil},
		{"active_test false shows archived", []any{[]any{"parent_id", "=", 17}}, archived, []int{36}},
		{"mentioning active disables the filter", []any{[]any{"active", "=", false}, []any{"id", ">", 2}}, nil, []int{17, 36}},
		{"child_of", []any{[]any{"id", "child_of", []any{11}}}, nil, []int{11, 23, 24, 25}},
		{"parent_of", []any{[]any{"id", "parent_of", 24}}, nil, []int{11, 24}},
		{"true leaf", []any{[]any{1, "=", 1}, []any{"id", "=", 3}}, nil, []int{3}},
	} {
		got := ids(t, srv, "res.partner", tc.domain, tc.ctx, "id asc")
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	// any / not any (17+) on a many2many.
	repair := ids(t, srv, "helpdesk.ticket", []any{[]any{"tag_ids", "any", []any{[]any{"name", "=", "Repair"}}}}, map[string]any{"active_test": false}, "id asc")
	byID := ids(t, srv, "helpdesk.ticket", []any{[]any{"tag_ids", "in", []any{4}}}, map[string]any{"active_test": false}, "id asc")
	notAny := ids(t, srv, "helpdesk.ticket", []any{[]any{"tag_ids", "not any", []any{[]any{"name", "=", "Repair"}}}}, map[string]any{"active_test": false}, "id asc")
	if len(repair) == 0 || !slices.Equal(repair, byID) || len(repair)+len(notAny) != 300 {
		t.Fatalf("any=%d in=%d not any=%d", len(repair), len(byID), len(notAny))
	}
}

func TestDomainErrors(t *testing.T) {
	srv16 := seeded(t, 16, FlavourEnterprise)
	for _, domain := range []any{
		[]any{[]any{"nope", "=", 1}},
		[]any{[]any{"name", "===", 1}},
		[]any{[]any{"name", "="}},
		[]any{"|", []any{"name", "=", 1}},
		[]any{"&"},
		"name = 1",
		[]any{[]any{"tag_ids", "any", []any{}}}, // any arrived in 17
	} {
		_, err := srv16.run(&call{model: "helpdesk.ticket", method: "search", args: map[string]any{"domain": domain}})
		var re *rpcError
		if !errors.As(err, &re) || re.name != "builtins.ValueError" {
			t.Errorf("%v: err = %v", domain, err)
		}
	}
}

func TestSearchOrderOffsetLimit(t *testing.T) {
	srv := seeded(t, 17, FlavourEnterprise)
	all := map[string]any{"active_test": false}
	// Default _order of tickets: priority desc, id desc.
	def := ids(t, srv, "helpdesk.ticket", []any{}, all, "")
	if len(def) != 300 {
		t.Fatalf("%d tickets", len(def))
	}
	tickets := srv.store.tables["helpdesk.ticket"]
	m := srv.store.models["helpdesk.ticket"]
	for i := 1; i < len(def); i++ {
		a, b := tickets.byID[def[i-1]], tickets.byID[def[i]]
		pa, pb := a.get(m, "priority").(string), b.get(m, "priority").(string)
		if pa < pb || (pa == pb && a.id < b.id) {
			t.Fatalf("default order broken at %d: %s/%d before %s/%d", i, pa, a.id, pb, b.id)
		}
	}
	c := &call{model: "helpdesk.ticket", method: "search", ctx: all, args: map[string]any{"domain": []any{}, "order": "create_date desc, id", "offset": 10, "limit": 5}}
	out, err := srv.run(c)
	if err != nil || len(out.([]any)) != 5 {
		t.Fatalf("page: %v %v", out, err)
	}
	for _, bad := range []string{"nope desc", "name sideways", "tag_ids"} {
		_, err := srv.run(&call{model: "helpdesk.ticket", method: "search", args: map[string]any{"domain": []any{}, "order": bad}})
		if err == nil {
			t.Errorf("order %q accepted", bad)
		}
	}
	n, err := srv.run(&call{model: "helpdesk.ticket", method: "search_count", args: map[string]any{"domain": []any{}, "limit": 7}})
	if err != nil || n != 7 {
		t.Fatalf("search_count limit: %v %v", n, err)
	}
}

func TestTicketStageRules(t *testing.T) {
	for _, fl := range []string{FlavourEnterprise, FlavourOCA} {
		srv := seeded(t, 17, fl)
		created, err := srv.run(&call{model: "helpdesk.ticket", method: "create", args: map[string]any{"vals_list": map[string]any{"name": "Printer on fire", "description": "<p>!</p>", "team_id": 1, "partner_id": 20}}})
		if err != nil {
			t.Fatalf("%s: %v", fl, err)
		}
		id := created.(int)
		read := func(fields ...string) map[string]any {
			out, err := srv.run(&call{model: "helpdesk.ticket", method: "read", ids: []int{id}, args: map[string]any{"fields": toAny(fields)}})
			if err != nil {
				t.Fatal(err)
			}
			return out.([]any)[0].(*recordOut).toMap()
		}
		closeField, number, priority := "close_date", "ticket_ref", "0"
		if fl == FlavourOCA {
			closeField, number, priority = "closed_date", "number", "1"
		}
		r := read("stage_id", closeField, number, "partner_email", "priority", "commercial_partner_id")
		if r["stage_id"].([]any)[1] != "New" || r[closeField] != false || r["partner_email"] != "priya.raman@alderdental.example" || r["priority"] != priority {
			t.Fatalf("%s: new ticket %v", fl, r)
		}
		if r["commercial_partner_id"].([]any)[0] != 10 {
			t.Fatalf("%s: commercial partner %v", fl, r["commercial_partner_id"])
		}
		if want := map[string]string{FlavourEnterprise: "301", FlavourOCA: "HT00301"}[fl]; r[number] != want {
			t.Fatalf("%s: number %v, want %s", fl, r[number], want)
		}
		if _, err := srv.run(&call{model: "helpdesk.ticket", method: "write", ids: []int{id}, args: map[string]any{"vals": map[string]any{"stage_id": 4, "user_id": 6}}}); err != nil {
			t.Fatal(err)
		}
		r = read(closeField)
		if r[closeField] != "2026-03-02 09:00:00" {
			t.Fatalf("%s: entering a closed stage: %v", fl, r)
		}
		if _, err := srv.run(&call{model: "helpdesk.ticket", method: "write", ids: []int{id}, args: map[string]any{"vals": map[string]any{"stage_id": 2}}}); err != nil {
			t.Fatal(err)
		}
		if r = read(closeField); r[closeField] != false {
			t.Fatalf("%s: reopening kept the close date: %v", fl, r)
		}
		// A failing write changes nothing.
		_, err = srv.run(&call{model: "helpdesk.ticket", method: "write", ids: []int{id}, args: map[string]any{"vals": map[string]any{"name": "changed", "priority": "9"}}})
		if err == nil || !strings.Contains(err.Error(), "Wrong value") {
			t.Fatalf("%s: bad selection: %v", fl, err)
		}
		if r = read("name"); r["name"] != "Printer on fire" {
			t.Fatalf("%s: partial write applied: %v", fl, r)
		}
	}
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func TestXMLRPCCodec(t *testing.T) {
	in := `<?xml version="1.0"?><methodCall><methodName>execute_kw</methodName><params>
<param><value><i4>-3</i4></value></param><param><value><boolean>1</boolean></value></param>
<param><value><double>1.5</double></value></param><param><value><base64>aGk=</base64></value></param>
<param><value><nil/></value></param><param><value></value></param>
<param><value><struct><member><name>a</name><value><array><data></data></array></value></member></struct></value></param>
</params></methodCall>`
	c, err := decodeXMLRPCCall(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []any{-3, true, 1.5, "hi", nil, "", map[string]any{"a": []any{}}}
	if len(c.params) != len(want) {
		t.Fatalf("params = %#v", c.params)
	}
	for i := range want {
		if !equalAny(c.params[i], want[i]) {
			t.Errorf("param %d = %#v, want %#v", i, c.params[i], want[i])
		}
	}
	out, err := encodeXMLRPCResponse(map[string]any{"s": "a<b&\x01c", "n": nil})
	if err != nil {
		t.Fatal(err)
	}
	if s := string(out); !strings.Contains(s, "<string>a&lt;b&amp;c</string>") || !strings.Contains(s, "<boolean>0</boolean>") {
		t.Fatalf("encoded: %s", s)
	}
	if _, err := encodeXMLRPCResponse(1 << 40); !errors.Is(err, errXMLRPCOverflow) {
		t.Fatalf("overflow: %v", err)
	}
}

func equalAny(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k := range x {
			if !equalAny(x[k], y[k]) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalAny(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return a == b
}

func TestMethodBinding(t *testing.T) {
	for _, tc := range []struct {
		version int
		method  string
		args    []any
		kwargs  map[string]any
		errName string
		errText string
	}{
		{17, "_read", nil, nil, "odoo.exceptions.AccessError", "Private methods"},
		{17, "frobnicate", nil, nil, "builtins.AttributeError", "type object 'res.partner' has no attribute 'frobnicate'"},
		{18, "frobnicate", nil, nil, "builtins.AttributeError", "The method 'res.partner.frobnicate' does not exist"},
		{17, "search_read", []any{[]any{}}, map[string]any{"domain": []any{}}, "builtins.TypeError", "multiple values"},
		{17, "search_read", []any{[]any{}}, map[string]any{"colour": 1}, "builtins.TypeError", "unexpected keyword argument 'colour'"},
		{17, "read", nil, nil, "builtins.TypeError", "missing"},
	} {
		_, err := bindPositional(tc.version, "res.partner", tc.method, tc.args, tc.kwargs)
		var re *rpcError
		if !errors.As(err, &re) || re.name != tc.errName || !strings.Contains(re.message, tc.errText) {
			t.Errorf("%d %s: %v", tc.version, tc.method, err)
		}
	}
}

func TestCreateNeedsPositionalValues(t *testing.T) {
	_, err := bindPositional(17, "res.partner", "create", nil, map[string]any{"vals_list": map[string]any{"name": "x"}})
	var re *rpcError
	if !errors.As(err, &re) || re.name != "builtins.IndexError" {
		t.Fatalf("kwargs-only create: %v", err)
	}
}

func TestVersionedSignaturesAndLoad(t *testing.T) {
	if _, err := bindPositional(16, "res.partner", "search_count", []any{[]any{}}, map[string]any{"limit": 3}); err == nil {
		t.Fatal("search_count(limit=) accepted on 16")
	}
	if _, err := bindPositional(17, "res.partner", "search_count", []any{[]any{}}, map[string]any{"limit": 3}); err != nil {
		t.Fatalf("search_count(limit=) on 17: %v", err)
	}
	srv := seeded(t, 17, FlavourEnterprise)
	out, err := srv.run(&call{model: "res.partner", method: "read", ids: []int{20}, args: map[string]any{"fields": []any{"parent_id"}, "load": nil}})
	if err != nil || out.([]any)[0].(*recordOut).toMap()["parent_id"] != 10 {
		t.Fatalf("load=None: %v %v", out, err)
	}
}

// Issue 13: a domain cannot nest the evaluator's recursion without bound.
// Long chains of one operator flatten (999 ORs are one level); alternating
// operators past maxNesting are a RecursionError.
func TestDomainDepthIsBounded(t *testing.T) {
	srv := seeded(t, 17, FlavourEnterprise)
	m, tb, _ := srv.store.model("res.partner")
	var ors []any
	for i := 0; i < 200_000; i++ {
		ors = append(ors, "|")
	}
	for i := 0; i <= 200_000; i++ {
		ors = append(ors, []any{"id", "=", i})
	}
	c, err := parseDomain(srv.store, m, ors, 17)
	if err != nil {
		t.Fatalf("a long OR chain: %v", err)
	}
	if d := condDepth(c); d > 2 {
		t.Fatalf("OR chain nests %d deep, want it flat", d)
	}
	hits := 0
	for _, id := range tb.ids {
		if c.eval(srv.store, m, tb.byID[id]) {
			hits++
		}
	}
	if hits != len(tb.ids) {
		t.Fatalf("%d of %d partners match ids 0..200000", hits, len(tb.ids))
	}
	var alt []any
	for i := 0; i < 5000; i++ {
		alt = append(alt, []any{"&", "|"}[i%2], []any{"id", "=", i})
	}
	alt = append(alt, []any{"id", "=", -1})
	if _, err := parseDomain(srv.store, m, alt, 17); err == nil || !strings.Contains(err.Error(), "RecursionError") {
		t.Fatalf("5,000 alternating operators: %v", err)
	}
	var nots []any
	for i := 0; i < 5000; i++ {
		nots = append(nots, "!")
	}
	nots = append(nots, []any{"id", "=", 1})
	if _, err := parseDomain(srv.store, m, nots, 17); err == nil {
		t.Fatal("5,000 stacked '!' must be refused")
	}
	// Mixing folds with other operators still counts every level.
	var mixed []any
	for i := 0; i < 3000; i++ {
		mixed = append(mixed, "&", []any{"id", "=", i}, "|", "|", []any{"id", "=", i}, []any{"id", "=", -i})
	}
	mixed = append(mixed, []any{"id", "=", -1})
	if _, err := parseDomain(srv.store, m, mixed, 17); err == nil || !strings.Contains(err.Error(), "RecursionError") {
		t.Fatalf("mixed chain: %v", err)
	}
}
