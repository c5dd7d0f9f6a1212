package refserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkCSCreateCases measures what the Customer Service engine costs a
// case create: CreateMultiple of 100 cases that match an entitlement (terms
// consumed, channels looked up) and get their SLA's resolve-by KPI instance on a
// business-hours calendar ("live"), against the same cases imported as
// history with overriddencreatedon, which the engine leaves alone.
//
//	go test ./dataverse/refserver -run '^$' -bench CSCreateCases -benchtime 20x
func BenchmarkCSCreateCases(b *testing.B) {
	for _, mode := range []string{"live", "historical"} {
		b.Run(mode, func(b *testing.B) {
			srv, err := New(Options{Now: NewClock(friday1645, false).Now})
			if err != nil {
				b.Fatal(err)
			}
			hs := httptest.NewServer(srv)
			b.Cleanup(func() { hs.Close(); srv.Close() })
			api := hs.URL + APIPath
			send := func(method, path string, body any) (int, string, []byte) {
				buf, _ := json.Marshal(body)
				req, _ := http.NewRequest(method, api+path, bytes.NewReader(buf))
				req.Header.Set("Authorization", "Bearer bench")
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				defer resp.Body.Close()
				out, _ := io.ReadAll(resp.Body)
				if resp.StatusCode >= 300 {
					b.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, out)
				}
				loc := resp.Header.Get("OData-EntityId")
				if i := strings.LastIndexByte(loc, '('); i >= 0 {
					loc = loc[i+1 : len(loc)-1]
				}
				return resp.StatusCode, loc, out
			}
			_, acc, _ := send("POST", "accounts", map[string]any{"name": "Contoso"})
			_, cal, _ := send("POST", "calendars", map[string]any{"name": "Hours", "type": 1})
			_, inner, _ := send("POST", "calendars", map[string]any{"name": "Day", "type": -1})
			send("POST", "calendarrules", map[string]any{"calendarid@odata.bind": "/calendars(" + cal + ")", "innercalendarid@odata.bind": "/calendars(" + inner + ")",
				"pattern": "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,TU,WE,TH,FR", "offset": 0, "duration": 1440})
			send("POST", "calendarrules", map[string]any{"calendarid@odata.bind": "/calendars(" + inner + ")", "offset": 540, "duration": 480, "timecode": 0})
			_, sla, _ := send("POST", "slas", map[string]any{"name": "Gold", "applicablefrom": "createdon", "primaryentityotc": 112, "businesshoursid@odata.bind": "/calendars(" + cal + ")"})
			send("POST", "slaitems", map[string]any{"name": "Resolve", "slaid@odata.bind": "/slas(" + sla + ")", "relatedfield": "resolvebykpiid", "failureafter": 60, "warnafter": 30,
				"applicablewhenxml":    `<filter type="and"><condition attribute="prioritycode" operator="eq" value="1" /></filter>`,
				"successconditionsxml": `<filter type="and"><condition attribute="statecode" operator="eq" value="1" /></filter>`})
			send("PATCH", "slas("+sla+")", map[string]any{"statecode": 1, "statuscode": 2})
			_, ent, _ := send("POST", "entitlements", map[string]any{"name": "Bench", "customerid_account@odata.bind": "/accounts(" + acc + ")",
				"startdate": "2026-01-01T00:00:00Z", "enddate": "2026-12-31T00:00:00Z", "totalterms": 1e9, "decreaseremainingon": 1})
			send("PATCH", "entitlements("+ent+")", map[string]any{"statecode": 1})
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				targets := make([]map[string]any, 100)
				for j := range targets {
					c := map[string]any{"@odata.type": "Microsoft.Dynamics.CRM.incident", "title": fmt.Sprintf("bench %d-%d", i, j),
						"prioritycode": 1, "caseorigincode": 2, "customerid_account@odata.bind": "/accounts(" + acc + ")", "slaid@odata.bind": "/slas(" + sla + ")"}
					if mode == "historical" {
						c["overriddencreatedon"] = "2025-06-02T10:00:00Z"
					}
					targets[j] = c
				}
				send("POST", "incidents/Microsoft.Dynamics.CRM.CreateMultiple", map[string]any{"Targets": targets})
			}
			b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "cases/s")
		})
	}
}
