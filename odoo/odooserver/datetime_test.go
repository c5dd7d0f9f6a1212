package odooserver

import (
	"fmt"
	"strings"
	"testing"
)

// xmlExec runs execute_kw over XML-RPC with hand-written XML args, the way
// a Java, Ruby or PHP client marshals them, and returns the raw response.
func xmlExec(t *testing.T, url, model, method, args, kwargs string) string {
	t.Helper()
	if kwargs == "" {
		kwargs = "<struct></struct>"
	}
	return postXML(t, url+"/xmlrpc/2/object", xmlCall("execute_kw",
		"<string>"+Database+"</string>", "<int>2</int>", "<string>"+testKey+"</string>",
		"<string>"+model+"</string>", "<string>"+method+"</string>", args, kwargs))
}

func xmlIDs(resp string) int { return strings.Count(resp, "<value><int>") }

// Issue 14: <dateTime.iso8601> in domains compares as a datetime, on every
// version (xmlrpc.client.loads(data, use_datetime=True)).
func TestXMLRPCDateTimeInDomain(t *testing.T) {
	for _, v := range []int{16, 17, 18, 19} {
		t.Run(fmt.Sprint(v), func(t *testing.T) {
			srv, ts := newTestServer(t, Options{Version: v, SeedDir: seedDir})
			// Ground truth from the store: tickets created on or after the cut.
			const cut = "2026-01-15 00:00:00"
			want := 0
			m, tb, _ := srv.store.model("helpdesk.ticket")
			for _, id := range tb.ids {
				r := tb.byID[id]
				if d, _ := r.get(m, "create_date").(string); d >= cut && truthy(r.get(m, "active")) {
					want++
				}
			}
			if want == 0 || want == len(tb.ids) {
				t.Fatalf("seed does not straddle %s (%d of %d)", cut, want, len(tb.ids))
			}
			dom := `<array><data><value><array><data><value><string>create_date</string></value><value><string>&gt;=</string></value><value><dateTime.iso8601>20260115T00:00:00</dateTime.iso8601></value></data></array></value></data></array>`
			resp := xmlExec(t, ts.URL, "helpdesk.ticket", "search", "<array><data><value>"+dom+"</value></data></array>", "")
			if got := xmlIDs(resp); got != want {
				t.Fatalf("search with a dateTime.iso8601 domain: %d ids, want %d\n%.300s", got, want, resp)
			}
			// A date field compared with a datetime: the date is its midnight.
			cnt := xmlExec(t, ts.URL, "res.partner", "search_count", `<array><data><value><array><data><value><array><data><value><string>date</string></value><value><string>&gt;=</string></value><value><dateTime.iso8601>20260115T00:00:00</dateTime.iso8601></value></data></array></value></data></array></value></data></array>`, "")
			if !strings.Contains(cnt, "<int>0</int>") {
				t.Fatalf("date >= datetime on partners without dates: %.300s", cnt)
			}
			// Only xmlrpc.client's own format is accepted.
			bad := xmlExec(t, ts.URL, "helpdesk.ticket", "search", `<array><data><value><array><data><value><array><data><value><string>create_date</string></value><value><string>&gt;=</string></value><value><dateTime.iso8601>2026-01-15T00:00:00</dateTime.iso8601></value></data></array></value></data></array></value></data></array>`, "")
			if !strings.Contains(bad, "does not match format '%Y%m%dT%H:%M:%S'") {
				t.Fatalf("ISO dashes must fail like strptime: %.400s", bad)
			}
		})
	}
}

// Writing a datetime stores it; reading returns Odoo's string, never a
// dateTime.iso8601 (OdooMarshaller.dump_datetime).
func TestXMLRPCDateTimeWriteAndRead(t *testing.T) {
	for _, v := range []int{16, 19} {
		t.Run(fmt.Sprint(v), func(t *testing.T) {
			_, ts := newTestServer(t, Options{Version: v})
			resp := xmlExec(t, ts.URL, "res.partner", "create", `<array><data><value><struct>
<member><name>name</name><value><string>Dated</string></value></member>
<member><name>date</name><value><dateTime.iso8601>20260301T10:30:00</dateTime.iso8601></value></member>
<member><name>comment</name><value><dateTime.iso8601>20260301T10:30:00</dateTime.iso8601></value></member>
</struct></value></data></array>`, "")
			if strings.Contains(resp, "fault") {
				t.Fatalf("create with datetimes: %.500s", resp)
			}
			env := execKW(t, ts.URL, "res.partner", "search_read", []any{[]any{[]any{"name", "=", "Dated"}}}, map[string]any{"fields": []any{"date", "comment"}})
			rec := env["result"].([]any)[0].(map[string]any)
			if rec["date"] != "2026-03-01" || rec["comment"] != "2026-03-01 10:30:00" {
				t.Fatalf("stored %v, want the date part and str(datetime)", rec)
			}
			read := xmlExec(t, ts.URL, "res.users", "read", `<array><data><value><array><data><value><int>2</int></value></data></array></value></data></array>`, `<struct><member><name>fields</name><value><array><data><value><string>create_date</string></value></data></array></value></member></struct>`)
			if strings.Contains(read, "dateTime.iso8601") || !strings.Contains(read, "<string>2026-03-02 09:00:00</string>") {
				t.Fatalf("datetimes must read back as strings: %.400s", read)
			}
		})
	}
}

// JSON-RPC datetimes are strings: a 10-character date on a datetime field
// means the start of that day, or its end for '>' and '<=' (expression.py);
// writes parse with DATETIME_FORMAT[:len(value)-2], so ISO's 'T' fails.
func TestJSONRPCDatetimeStrings(t *testing.T) {
	srv, ts := newTestServer(t, Options{Version: 17})
	now := srv.store.nowString() // 2026-03-02 09:00:00, every base record
	day := now[:10]
	count := func(op string) float64 {
		env := execKW(t, ts.URL, "res.users", "search_count", []any{[]any{[]any{"create_date", op, day}}}, map[string]any{"context": map[string]any{"active_test": false}})
		return env["result"].(float64)
	}
	if got := count(">"); got != 0 {
		t.Fatalf("create_date > %s (end of day) = %v, want 0", day, got)
	}
	if got := count("<="); got != 2 {
		t.Fatalf("create_date <= %s (end of day) = %v, want 2", day, got)
	}
	if got := count(">="); got != 2 {
		t.Fatalf("create_date >= %s = %v, want 2", day, got)
	}
	env := execKW(t, ts.URL, "res.partner", "create", []any{map[string]any{"name": "T", "date": "2026-03-01T10:00:00"}}, nil)
	if env["error"] != nil {
		t.Fatalf("a date field takes the first 10 characters: %v", env["error"])
	}
	env = execKW(t, ts.URL, "mail.message", "create", []any{map[string]any{"body": "x", "date": "2026-03-01T10:00:00"}}, nil)
	e, _ := env["error"].(map[string]any)
	if e == nil || !strings.Contains(e["data"].(map[string]any)["message"].(string), "does not match format '%Y-%m-%d %H:%M:%S'") {
		t.Fatalf("ISO 'T' on a datetime field must fail like Datetime.to_datetime: %v", env)
	}
	env = execKW(t, ts.URL, "mail.message", "create", []any{map[string]any{"body": "x", "date": "2026-03-01 10:00"}}, nil)
	if env["error"] != nil {
		t.Fatalf("'%%Y-%%m-%%d %%H:%%M' is accepted: %v", env["error"])
	}
}
