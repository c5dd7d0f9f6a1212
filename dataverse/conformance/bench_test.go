package conformance_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
)

// Benchmarks of the proof, sized by environment variables so that
// `go test -bench` stays quick by default:
//
//	DVSYNC_BENCH_PULL=200000   BenchmarkPullVersusNpm
//	DVSYNC_BENCH_UPSERT=100000 BenchmarkUpsertUnderLimits
//	DVSYNC_BENCH_MEMORY=1000000 BenchmarkPullMemory
//
// Each reports throughputs and ratios from one run (-benchtime=1x).

func benchSize(b *testing.B, name string, def int) int {
	if v := os.Getenv(name); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("%s=%q", name, v)
		}
		return n
	}
	return def
}

const benchToken = "bench-token"

func benchClient(b *testing.B, url string, o *dataverse.ClientOptions) *dataverse.Client {
	b.Helper()
	var opts dataverse.ClientOptions
	if o != nil {
		opts = *o
	}
	if opts.Limiter == nil && opts.Concurrency == 0 {
		opts.Limiter = dataverse.NewLimiter(dataverse.LimiterOptions{})
	}
	c, err := dataverse.NewClient(url, dataverse.StaticToken(benchToken), &opts)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// seedIncidents creates n cases for one account with CreateMultiple.
func seedIncidents(b *testing.B, c *dataverse.Client, n int) {
	b.Helper()
	ctx := context.Background()
	acct, err := c.Create(ctx, "account", dataverse.Record{"name": "Bench Customer", "accountnumber": "BENCH-1"})
	if err != nil {
		b.Fatal(err)
	}
	bind := "/accounts(" + acct.String() + ")"
	in := func(yield func(dataverse.Item) bool) {
		for i := range n {
			rec := dataverse.Record{
				"title":                         fmt.Sprintf("Bench case %07d", i),
				"ticketnumber":                  fmt.Sprintf("BENCH-%07d", i),
				"prioritycode":                  1 + i%3,
				"customerid_account@odata.bind": bind,
			}
			if !yield(dataverse.Item{Ref: int64(i), Record: rec}) {
				return
			}
		}
	}
	failed := 0
	if err := c.WriteAll(ctx, "incident", in, dataverse.BatchOptions{Mode: dataverse.ModeCreate, BatchSize: 1000}, func(r dataverse.Result) {
		if r.Err != nil {
			failed++
		}
	}); err != nil || failed > 0 {
		b.Fatalf("seeding: %v, %d failed", err, failed)
	}
}

var benchSelect = []string{"title", "ticketnumber", "prioritycode", "statecode", "_customerid_value", "createdon"}

// BenchmarkPullVersusNpm reads N incidents with dvsync (1 and 4
// partitions) and with dynamics-web-api's retrieveAll, same server, same
// columns, 5,000 per page.
//
// Two server profiles: "loopback" (no added latency; both clients are
// bound by the server's CPU on the same machine) and "latency" (50 ms per
// request plus 10 µs per record, a page of 5,000 costing 100 ms, closer to
// a real environment's round trips).
func BenchmarkPullVersusNpm(b *testing.B) {
	b.Run("loopback", func(b *testing.B) { benchPull(b, nil) })
	lat, err := refserver.ParseLatency("50ms+0.01ms/record")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("latency", func(b *testing.B) { benchPull(b, lat) })
}

func benchPull(b *testing.B, latency *refserver.Latency) {
	n := benchSize(b, "DVSYNC_BENCH_PULL", 20000)
	srv, err := refserver.New(refserver.Options{Token: benchToken, Latency: latency})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()
	seedIncidents(b, benchClient(b, hs.URL, nil), n)

	// pull reads as `dvsync pull` does for JSONL: records stay the server's
	// JSON text, written out with a newline. decoded also builds a map per
	// record (what library callers of Records get).
	pull := func(parts int, decoded bool) float64 {
		c := benchClient(b, hs.URL, nil)
		start := time.Now()
		got := 0
		w := bufio.NewWriter(io.Discard)
		q := dataverse.Query{Select: benchSelect}
		po := dataverse.PartitionOptions{Partitions: parts}
		if decoded {
			enc := json.NewEncoder(w)
			for rec, err := range c.RecordsPartitioned(context.Background(), "incident", q, po) {
				if err != nil {
					b.Fatal(err)
				}
				enc.Encode(rec)
				got++
			}
		} else {
			for raw, err := range c.RawRecordsPartitioned(context.Background(), "incident", q, po) {
				if err != nil {
					b.Fatal(err)
				}
				w.Write(raw)
				w.WriteByte('\n')
				got++
			}
		}
		if got != n {
			b.Fatalf("%d partitions read %d of %d", parts, got, n)
		}
		return float64(n) / time.Since(start).Seconds()
	}
	npm := func() float64 {
		module, err := filepath.Abs("../../testdata/peers/node_modules/dynamics-web-api/dist/esm/dynamics-web-api.mjs")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := os.Stat(module); err != nil {
			b.Skipf("dynamics-web-api not installed (run .ci/run or npm ci in testdata/peers): %v", err)
		}
		if _, err := exec.LookPath("node"); err != nil {
			b.Skip("node not installed")
		}
		cmd := exec.Command("node", "testdata/retrieveall.mjs")
		cmd.Env = append(os.Environ(), "DWA_MODULE=file://"+module, "DATAVERSE_URL="+hs.URL+"/api/data/v9.2/",
			"DVSYNC_TOKEN="+benchToken, "COLLECTION=incidents", "SELECT="+strings.Join(benchSelect, ","))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("node: %v: %s", err, stderr.String())
		}
		var res struct {
			Records int     `json:"records"`
			MS      float64 `json:"ms"`
		}
		if err := json.Unmarshal(out, &res); err != nil || res.Records != n {
			b.Fatalf("node output %q (%v), want %d records", out, err, n)
		}
		return float64(n) / (res.MS / 1000)
	}
	b.ResetTimer()
	for range b.N {
		one, four, fourDecoded, peer := pull(1, false), pull(4, false), pull(4, true), npm()
		b.ReportMetric(one, "dvsync-1p-rec/s")
		b.ReportMetric(four, "dvsync-4p-rec/s")
		b.ReportMetric(fourDecoded, "dvsync-4p-maps-rec/s")
		b.ReportMetric(peer, "npm-rec/s")
		b.ReportMetric(one/peer, "ratio-1p/npm")
		b.ReportMetric(four/peer, "ratio-4p/npm")
	}
}

// The scaled service protection profile of BenchmarkUpsertUnderLimits:
// Dataverse's ratios (6,000 requests and 1,200 s of execution time per
// 300 s, 52 concurrent) over a 10-second window, and a latency profile
// whose per-record cost dominates the server's own work.
const (
	benchWindow      = 10 * time.Second
	benchExecTime    = 40 * time.Second
	benchRequests    = 200
	benchMaxBatch    = 1000
	benchLimitsSpec  = "requests=200/10s,time=40s/10s,concurrent=52"
	benchLatencySpec = "20ms+2ms/record"
)

// ceilingRate is the sustained record rate the profile allows when one
// record costs perRecord of server execution time: benchExecTime of
// execution per window, and benchRequests requests of benchMaxBatch records
// per window, whichever is lower.
func ceilingRate(perRecord time.Duration) float64 {
	byTime := benchExecTime.Seconds() / benchWindow.Seconds() / perRecord.Seconds()
	byCount := float64(benchRequests*benchMaxBatch) / benchWindow.Seconds()
	return math.Min(byTime, byCount)
}

// burstBound is the most a run of d could reach by also spending every
// window's budget up front (ceil(d/window) full windows): the sustained
// ceiling plus the one-off allowance of a fresh window.
func burstBound(d, perRecord time.Duration) float64 {
	windows := math.Ceil(d.Seconds() / benchWindow.Seconds())
	return windows * benchExecTime.Seconds() / perRecord.Seconds() / d.Seconds()
}

// costPerRecord measures what one upserted record costs the server in
// execution time under the latency profile: the profile's per-record and
// per-request latency plus the server's own work, timed on unthrottled
// requests of benchMaxBatch records (the median of three).
func costPerRecord(b *testing.B, latency *refserver.Latency) time.Duration {
	srv, err := refserver.New(refserver.Options{Token: benchToken, Latency: latency})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()
	c := benchClient(b, hs.URL, &dataverse.ClientOptions{Concurrency: 1})
	ctx := context.Background()
	acct, err := c.Create(ctx, "account", dataverse.Record{"name": "Calibration", "accountnumber": "CAL-1"})
	if err != nil {
		b.Fatal(err)
	}
	var runs []time.Duration
	for r := range 3 {
		in := func(yield func(dataverse.Item) bool) {
			for i := range benchMaxBatch {
				it := dataverse.Item{Ref: int64(i), Key: dataverse.ByKey("ticketnumber", fmt.Sprintf("CAL-%d-%05d", r, i)),
					Record: dataverse.Record{"title": "Calibration", "customerid_account@odata.bind": "/accounts(" + acct.String() + ")"}}
				if !yield(it) {
					return
				}
			}
		}
		start := time.Now()
		if err := c.WriteAll(ctx, "incident", in, dataverse.BatchOptions{BatchSize: benchMaxBatch, Workers: 1}, func(dataverse.Result) {}); err != nil {
			b.Fatal(err)
		}
		runs = append(runs, time.Since(start))
	}
	slices.Sort(runs)
	return runs[1] / benchMaxBatch
}

// BenchmarkUpsertUnderLimits upserts N incidents by alternate key under the
// scaled limits and latency: dvsync (bulk messages, adaptive batches and
// concurrency) versus one PATCH per record sent sequentially (waiting out
// Retry-After), and dvsync's throughput as a fraction of the profile's
// ceiling. Any failed record fails the benchmark.
func BenchmarkUpsertUnderLimits(b *testing.B) {
	n := benchSize(b, "DVSYNC_BENCH_UPSERT", 10000)
	naiveN := max(100, n/100)
	limits, err := refserver.ParseLimits(benchLimitsSpec)
	if err != nil {
		b.Fatal(err)
	}
	latency, err := refserver.ParseLatency(benchLatencySpec)
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		srv, err := refserver.New(refserver.Options{Token: benchToken, Limits: limits, Latency: latency, DOPHint: 8})
		if err != nil {
			b.Fatal(err)
		}
		hs := httptest.NewServer(srv)
		c := benchClient(b, hs.URL, nil)
		ctx := context.Background()
		acct, err := c.Create(ctx, "account", dataverse.Record{"name": "Bench Customer", "accountnumber": "BENCH-1"})
		if err != nil {
			b.Fatal(err)
		}
		bind := "/accounts(" + acct.String() + ")"
		in := func(yield func(dataverse.Item) bool) {
			for i := range n {
				it := dataverse.Item{Ref: int64(i), Key: dataverse.ByKey("ticketnumber", fmt.Sprintf("UP-%07d", i)),
					Record: dataverse.Record{"title": fmt.Sprintf("Upserted case %07d", i), "customerid_account@odata.bind": bind}}
				if !yield(it) {
					return
				}
			}
		}
		failed := 0
		start := time.Now()
		err = c.WriteAll(ctx, "incident", in, dataverse.BatchOptions{Mode: dataverse.ModeUpsert}, func(r dataverse.Result) {
			if r.Err != nil {
				failed++
			}
		})
		d := time.Since(start)
		if err != nil || failed > 0 {
			b.Fatalf("dvsync: %v, %d failed records", err, failed)
		}
		stats := c.Limiter().Stats()
		dvsyncRate := float64(n) / d.Seconds()

		// The naive client: one PATCH per record, in sequence.
		hc := &http.Client{}
		start = time.Now()
		for i := range naiveN {
			body := fmt.Sprintf(`{"title":"Naive case %07d","customerid_account@odata.bind":%q}`, i, bind)
			for {
				req, _ := http.NewRequest(http.MethodPatch, hs.URL+"/api/data/v9.2/incidents(ticketnumber='NV-"+fmt.Sprintf("%07d", i)+"')", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+benchToken)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("OData-Version", "4.0")
				resp, err := hc.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusTooManyRequests {
					secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
					time.Sleep(time.Duration(secs) * time.Second)
					continue
				}
				if resp.StatusCode >= 300 {
					b.Fatalf("naive PATCH: %d", resp.StatusCode)
				}
				break
			}
		}
		naiveRate := float64(naiveN) / time.Since(start).Seconds()
		hs.Close()
		srv.Close()

		perRecord := costPerRecord(b, latency)
		ceiling := ceilingRate(perRecord)
		b.ReportMetric(dvsyncRate/burstBound(d, perRecord), "fraction-of-burst-bound")
		b.ReportMetric(float64(perRecord.Microseconds()), "server-µs/record")
		b.ReportMetric(dvsyncRate, "dvsync-rec/s")
		b.ReportMetric(naiveRate, "naive-rec/s")
		b.ReportMetric(dvsyncRate/naiveRate, "ratio-dvsync/naive")
		b.ReportMetric(ceiling, "ceiling-rec/s")
		b.ReportMetric(dvsyncRate/ceiling, "fraction-of-ceiling")
		b.ReportMetric(float64(stats.Throttled), "throttled")
		b.ReportMetric(float64(failed), "failed")
	}
}

// BenchmarkPullMemory pulls N records to a file with the dvsync binary
// from a `dvsync serve` process and reports the pull's peak resident
// memory (getrusage maxrss), which must stay flat as N grows.
func BenchmarkPullMemory(b *testing.B) {
	n := benchSize(b, "DVSYNC_BENCH_MEMORY", 20000)
	dir := b.TempDir()
	bin := filepath.Join(dir, "dvsync")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/dvsync")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building dvsync: %v\n%s", err, out)
	}
	serve := exec.Command(bin, "serve", "--memory", "--listen", "127.0.0.1:0")
	serve.Env = append(os.Environ(), "DVSYNC_TOKEN="+benchToken)
	stdout, err := serve.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := serve.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { serve.Process.Signal(syscall.SIGTERM); serve.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	fields := strings.Fields(line)
	if len(fields) != 2 || fields[0] != "dataverse" {
		b.Fatalf("serve printed %q", line)
	}
	url := fields[1]
	seedIncidents(b, benchClient(b, url, nil), n)
	out := filepath.Join(dir, "incidents.jsonl")
	b.ResetTimer()
	for range b.N {
		pull := exec.Command(bin, "pull", "incident", "--env", url, "--out", out, "--json")
		pull.Env = append(os.Environ(), "DVSYNC_TOKEN="+benchToken)
		var res bytes.Buffer
		pull.Stdout = &res
		start := time.Now()
		if err := pull.Start(); err != nil {
			b.Fatal(err)
		}
		peak := watchHWM(pull.Process.Pid)
		if err := pull.Wait(); err != nil {
			b.Fatalf("pull: %v", err)
		}
		d := time.Since(start)
		hwm := <-peak
		var sum struct {
			Records int `json:"records"`
		}
		if err := json.Unmarshal(res.Bytes(), &sum); err != nil || sum.Records != n {
			b.Fatalf("pull summary %q (%v), want %d records", res.String(), err, n)
		}
		b.ReportMetric(float64(hwm)/1024, "peak-RSS-MB")
		b.ReportMetric(float64(n)/d.Seconds(), "rec/s")
	}
}

// watchHWM polls the VmHWM (peak resident set) of pid until it exits and
// sends the last value seen, in kB. getrusage's maxrss cannot be used: on
// Linux a child's maxrss starts from its parent's RSS at fork, and the
// benchmark process is the parent.
func watchHWM(pid int) <-chan int64 {
	out := make(chan int64, 1)
	go func() {
		var last int64
		for {
			data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			if err != nil {
				out <- last
				return
			}
			for _, line := range strings.Split(string(data), "\n") {
				if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
					if kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64); err == nil && kb > last {
						last = kb
					}
				}
			}
			if strings.Contains(string(data), "State:\tZ") {
				out <- last
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return out
}
