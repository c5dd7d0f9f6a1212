package refserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// benchIncidentCount is how many incidents BenchmarkPageIncidents stores;
// DVSYNC_BENCH_INCIDENTS=1000000 reproduces the million-row figure.
func benchIncidentCount() int {
	if n, err := strconv.Atoi(os.Getenv("DVSYNC_BENCH_INCIDENTS")); err == nil && n > 0 {
		return n
	}
	return 50_000
}

// populateIncidents stores n incidents directly (bypassing HTTP, for speed),
// all for one account.
func populateIncidents(tb testing.TB, s *Server, n int) {
	tb.Helper()
	ctx := context.Background()
	inc, _ := s.reg.Table("incident")
	acc, _ := s.reg.Table("account")
	accID := "0a0a0a0a-0000-4000-8000-000000000001"
	err := s.store.writeNew(ctx, func(tx *writeTx) error {
		return tx.insert(acc, row{"accountid": accID, "name": "Bench Account", "statecode": int64(0), "statuscode": int64(1)})
	})
	if err != nil {
		tb.Fatal(err)
	}
	const batch = 10_000
	for start := 0; start < n; start += batch {
		err := s.store.writeNew(ctx, func(tx *writeTx) error {
			for i := start; i < min(start+batch, n); i++ {
				r := row{
					"incidentid":     fmt.Sprintf("%08x-0000-4000-8000-%012x", i/65536, i),
					"title":          fmt.Sprintf("Benchmark case %07d", i),
					"ticketnumber":   fmt.Sprintf("CAS-%07d", i),
					"prioritycode":   int64(i%3 + 1),
					"caseorigincode": int64(i%3 + 1),
					"statecode":      int64(0),
					"statuscode":     int64(1),
					"customerid":     lookupValue{ID: accID, Target: "account"},
					"createdon":      tx.now.Format(dateTimeLayout),
					"modifiedon":     tx.now.Format(dateTimeLayout),
				}
				if err := tx.insert(inc, r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkPageIncidents pages through every stored incident at 5,000 per
// page with $select of five columns, as a client following @odata.nextLink
// does, and reports rows/s and the peak Go heap of the process (server and
// client together) while paging.
//
//	DVSYNC_BENCH_INCIDENTS=1000000 go test -run '^$' -bench PageIncidents -benchtime 1x ./dataverse/refserver
func BenchmarkPageIncidents(b *testing.B) {
	n := benchIncidentCount()
	dir := b.TempDir()
	srv, err := New(Options{DataPath: filepath.Join(dir, "bench.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	loadStart := time.Now()
	populateIncidents(b, srv, n)
	b.Logf("stored %d incidents in %s", n, time.Since(loadStart).Round(time.Millisecond))
	hs := httptest.NewServer(srv)
	defer hs.Close()

	var peak atomic.Uint64
	stop := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	b.ResetTimer()
	var rows int
	for i := 0; i < b.N; i++ {
		rows = 0
		link := hs.URL + APIPath + "incidents?$select=title,ticketnumber,prioritycode,statecode,_customerid_value"
		for link != "" {
			req, _ := http.NewRequest("GET", link, nil)
			req.Header.Set("Authorization", "Bearer bench")
			req.Header.Set("Prefer", "odata.maxpagesize=5000")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			var page struct {
				Value    []json.RawMessage `json:"value"`
				NextLink string            `json:"@odata.nextLink"`
			}
			err = json.NewDecoder(resp.Body).Decode(&page)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 {
				b.Fatalf("status %d: %v", resp.StatusCode, err)
			}
			rows += len(page.Value)
			link = page.NextLink
		}
		if rows != n {
			b.Fatalf("paged %d rows, want %d", rows, n)
		}
	}
	b.StopTimer()
	close(stop)
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
}
