package refserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// BenchmarkUpsertMultipleVsSinglePatch upserts the same number of records
// both ways in every iteration, over loopback HTTP, and reports records per
// second for each and their ratio; once on bare loopback and once with a
// 2 ms per-request latency profile, a scaled-down network round trip:
//
//	go test -run '^$' -bench UpsertMultipleVsSinglePatch -benchtime 3x ./dataverse/refserver
func BenchmarkUpsertMultipleVsSinglePatch(b *testing.B) {
	b.Run("loopback", func(b *testing.B) { benchUpsertWays(b, nil) })
	b.Run("latency=2ms", func(b *testing.B) { benchUpsertWays(b, &Latency{PerRequest: 2 * time.Millisecond}) })
}

func benchUpsertWays(b *testing.B, latency *Latency) {
	const perCall = 1000
	srv, err := New(Options{Latency: latency})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()
	api := hs.URL + APIPath
	client := hs.Client()
	send := func(method, url string, body []byte) {
		req, _ := http.NewRequest(method, url, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer bench")
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			b.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, msg)
		}
	}
	var bulkTime, singleTime time.Duration
	b.ResetTimer()
	for i := range b.N {
		targets := make([]map[string]any, perCall)
		for j := range targets {
			targets[j] = map[string]any{
				"@odata.type": "Microsoft.Dynamics.CRM.account",
				"@odata.id":   fmt.Sprintf("accounts(accountnumber='M-%d-%d')", i, j),
				"name":        "bulk " + strconv.Itoa(j), "telephone1": "555-0100", "numberofemployees": j,
			}
		}
		body, _ := json.Marshal(map[string]any{"Targets": targets})
		start := time.Now()
		send("POST", api+"accounts/Microsoft.Dynamics.CRM.UpsertMultiple", body)
		bulkTime += time.Since(start)

		start = time.Now()
		for j := range perCall {
			rec, _ := json.Marshal(map[string]any{"name": "single " + strconv.Itoa(j), "telephone1": "555-0100", "numberofemployees": j})
			send("PATCH", api+fmt.Sprintf("accounts(accountnumber='S-%d-%d')", i, j), rec)
		}
		singleTime += time.Since(start)
	}
	records := float64(b.N * perCall)
	bulk, single := records/bulkTime.Seconds(), records/singleTime.Seconds()
	b.ReportMetric(bulk, "upsertmultiple-records/s")
	b.ReportMetric(single, "single-patch-records/s")
	b.ReportMetric(bulk/single, "speedup")
	b.ReportMetric(0, "ns/op") // one op mixes both ways; the rates above are the result
}

// A client that ignores Retry-After under Dataverse's default profile
// (6,000 requests per 300 s) is refused from request 6,001 on, and the more
// it insists the longer it is told to wait.
func TestDefaultLimitsThrottleClientIgnoringRetryAfter(t *testing.T) {
	l := DefaultLimits()
	srv, err := New(Options{Limits: &l})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	const extra = 50
	ok, throttled := 0, 0
	var retryAfter []int
	for range l.Requests + extra {
		req := httptest.NewRequest("GET", APIPath+"WhoAmI", nil)
		req.Header.Set("Authorization", "Bearer impatient")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			throttled++
			code, _ := response{status: rec.Code, body: rec.Body.Bytes()}.errorPayload(t)
			if code != codeTooManyRequests {
				t.Fatalf("code %s", code)
			}
			ra, err := strconv.Atoi(rec.Header().Get("Retry-After"))
			if err != nil {
				t.Fatalf("Retry-After %q", rec.Header().Get("Retry-After"))
			}
			retryAfter = append(retryAfter, ra)
		default:
			t.Fatalf("status %d", rec.Code)
		}
	}
	if ok != l.Requests || throttled != extra {
		t.Fatalf("%d admitted, %d throttled; want %d and %d", ok, throttled, l.Requests, extra)
	}
	for i := 1; i < len(retryAfter); i++ {
		if retryAfter[i] < retryAfter[i-1] {
			t.Fatalf("Retry-After shrank under pressure: %v", retryAfter)
		}
	}
	if retryAfter[len(retryAfter)-1] <= retryAfter[0] {
		t.Fatalf("Retry-After did not grow: %v", retryAfter)
	}
	t.Logf("default profile: %d admitted, %d throttled with 429 0x80072322; Retry-After %ds at first, %ds after %d more attempts",
		ok, throttled, retryAfter[0], retryAfter[len(retryAfter)-1], extra-1)
}
