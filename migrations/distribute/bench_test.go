package distribute

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/odoojob"
	"github.com/dvsync/dvsync/migrations/odoojob/odoojobtest"
	"github.com/dvsync/dvsync/odoo"
	"github.com/dvsync/dvsync/odoo/odooseed"
	"github.com/dvsync/dvsync/odoo/odooserver"
)

// The scale-out benchmark's service: Dataverse's own service protection
// profile (6,000 requests and 1,200 s of execution time per 300 s, 52
// concurrent, per user), x-ms-dop-hint 4, and a per-record latency large
// enough that the server's time, not this machine's two cores, bounds a
// user's throughput, as it does against a real environment.
const (
	scaleLimits  = "dataverse"
	scaleLatency = "50ms+40ms/record"
	scaleDOP     = 4
)

// scaleResult is one migration of the benchmark.
type scaleResult struct {
	records   int64
	elapsed   time.Duration
	requests  int64
	throttled int64
	peak      map[string]int // most requests of a user in flight on one worker
}

func (r scaleResult) rate() float64 { return float64(r.records) / r.elapsed.Seconds() }

func (r scaleResult) throttleRate() float64 {
	if r.requests == 0 {
		return 0
	}
	return float64(r.throttled) / float64(r.requests)
}

// scaleRun migrates the helpdesk in seed into a fresh reference Dataverse
// with workers in-process workers writing as users application users.
func scaleRun(b *testing.B, url, seed string, workers, users int) scaleResult {
	b.Helper()
	ctx := context.Background()
	limits, err := refserver.ParseLimits(scaleLimits)
	if err != nil {
		b.Fatal(err)
	}
	latency, err := refserver.ParseLatency(scaleLatency)
	if err != nil {
		b.Fatal(err)
	}
	// No fixed token: every token is a caller with its own limits, as
	// every application user is on Dataverse.
	ref, err := refserver.New(refserver.Options{Limits: limits, Latency: latency, DOPHint: scaleDOP})
	if err != nil {
		b.Fatal(err)
	}
	defer ref.Close()
	if _, err := ref.LoadSeed(ctx, odoojobtest.Testdata("dataverse", "seed")); err != nil {
		b.Fatal(err)
	}
	dvs := httptest.NewServer(ref)
	defer dvs.Close()
	osrv, err := odooserver.New(odooserver.Options{APIKey: odoojobtest.OdooKey, SeedDir: seed})
	if err != nil {
		b.Fatal(err)
	}
	ods := httptest.NewServer(osrv)
	defer ods.Close()

	var appUsers []AppUser
	for i := range users {
		env := fmt.Sprintf("BENCH_TOKEN_APP%d", i+1)
		b.Setenv(env, fmt.Sprintf("bench-app-user-%d", i+1))
		appUsers = append(appUsers, AppUser{Name: fmt.Sprintf("app%d", i+1), TokenEnv: env})
	}
	o := testOptions(b, url, 30*time.Second)
	// Enough units at once (4 per worker, 4 batches in flight each) that
	// a user's slots, not the units, are what bounds it.
	tr := newScaleTrace()
	ws := startWorkers(b, workers, WorkerOptions{Options: o, State: url, Concurrency: 4, OnUnit: tr.unit})
	store := openTestStore(b, url, o)
	dv, err := dataverse.NewClient(dvs.URL, dataverse.StaticToken("bench-coordinator"), &dataverse.ClientOptions{Limiter: dataverse.NewLimiter(dataverse.LimiterOptions{})})
	if err != nil {
		b.Fatal(err)
	}
	oc, err := odoo.New(ctx, odoo.Options{URL: ods.URL, Database: odooserver.Database, Login: "admin", APIKey: odoojobtest.OdooKey})
	if err != nil {
		b.Fatal(err)
	}
	mf, err := ReadMapFiles(odoojobtest.Testdata("odoodv", "demo-map.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	cfg := odoojob.Config{Odoo: oc, Database: odooserver.Database, Dataverse: dv, Map: odoojobtest.DemoMap(b), Store: store, BatchSize: 25}
	tickets, _ := strconv.Atoi(os.Getenv("BENCH_SCALE_TICKETS"))
	mo := MigrateOptions{Options: o, State: url, Config: cfg, Env: dvs.URL, Map: mf, Users: appUsers, UnitSize: max(50, tickets/12),
		Odoo: OdooConn{URL: ods.URL, User: "admin"}}
	mo.Config.Progress = tr.step
	start := time.Now()
	tr.start = start
	mo.Notice = func(s string) { tr.note(s) }
	sum, _, err := MigrateOdoo(ctx, mo)
	if path := os.Getenv("BENCH_SCALE_TRACE"); path != "" {
		tr.log(b, path, fmt.Sprintf("%d workers, %d users", workers, users))
	}
	if err != nil {
		b.Fatal(err)
	}
	res := scaleResult{records: sum.Total().Read, elapsed: time.Since(start), peak: map[string]int{}}
	for _, w := range ws {
		for name, st := range w.Stats() {
			res.requests += st.Slots.Acquired
			res.throttled += int64(st.Limiter.Throttled)
			res.peak[name] = max(res.peak[name], st.Slots.PeakHeld)
		}
	}
	return res
}

// BenchmarkScaleOut migrates the same generated helpdesk (BENCH_SCALE_TICKETS
// tickets, default 300, with their messages and SLA statuses) three ways
// under the `dataverse` limit profile with a per-record latency: one
// worker writing as one application user, three workers sharing that one
// user, and three workers with three users. It reports each throughput
// (source records per second), the ratio of three workers and users to
// one (the goal is 2.5 or more), and each run's share of requests
// answered 429. Three workers with one user must not beat one worker by
// much: the user's budget, not the worker count, bounds it.
// BENCH_SCALE_TRACE=FILE appends each run's timeline (steps starting and
// ending, slices over 2 s) to FILE.
//
//	DVSYNC_TEST_POSTGRES=postgres://… go test -run '^$' -bench BenchmarkScaleOut -benchtime 1x ./migrations/distribute/
func BenchmarkScaleOut(b *testing.B) {
	url := testDatabase(b)
	odooEnv(b)
	tickets := 300
	if v, err := strconv.Atoi(os.Getenv("BENCH_SCALE_TICKETS")); err == nil && v > 0 {
		tickets = v
	}
	b.Setenv("BENCH_SCALE_TICKETS", strconv.Itoa(tickets))
	seed := filepath.Join(b.TempDir(), "odoo")
	if _, err := odooseed.Generate(odooseed.Options{BaseDir: odoojobtest.Testdata("odoo", "seed"), OutDir: seed, Tickets: tickets, Seed: 7}); err != nil {
		b.Fatal(err)
	}
	for range b.N {
		one := scaleRun(b, url, seed, 1, 1)
		shared := scaleRun(b, url, seed, 3, 1)
		three := scaleRun(b, url, seed, 3, 3)
		b.Logf("1 worker, 1 user:   %d records in %v, %.0f rec/s, %d requests, %d throttled, peak in flight %v",
			one.records, one.elapsed.Round(time.Millisecond), one.rate(), one.requests, one.throttled, one.peak)
		b.Logf("3 workers, 1 user:  %d records in %v, %.0f rec/s, %d requests, %d throttled, peak in flight %v",
			shared.records, shared.elapsed.Round(time.Millisecond), shared.rate(), shared.requests, shared.throttled, shared.peak)
		b.Logf("3 workers, 3 users: %d records in %v, %.0f rec/s, %d requests, %d throttled, peak in flight %v",
			three.records, three.elapsed.Round(time.Millisecond), three.rate(), three.requests, three.throttled, three.peak)
		b.ReportMetric(one.rate(), "rec/s-1w1u")
		b.ReportMetric(shared.rate(), "rec/s-3w1u")
		b.ReportMetric(three.rate(), "rec/s-3w3u")
		b.ReportMetric(three.rate()/one.rate(), "ratio-3w3u/1w1u")
		b.ReportMetric(one.throttleRate(), "429-rate-1w1u")
		b.ReportMetric(shared.throttleRate(), "429-rate-3w1u")
		b.ReportMetric(three.throttleRate(), "429-rate-3w3u")
	}
}

// scaleTrace records when steps change state and how long the slices of
// units take (BENCH_SCALE_TRACE=1 logs them), to see where a run's time
// goes.
type scaleTrace struct {
	mu     sync.Mutex
	start  time.Time
	lines  []string
	begun  map[string]time.Time
	slices map[string][]time.Duration // by step
}

func newScaleTrace() *scaleTrace {
	return &scaleTrace{begun: map[string]time.Time{}, slices: map[string][]time.Duration{}}
}

func (t *scaleTrace) step(p migrations.StepProgress) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p.Status == migrations.StatusRunning && p.Counts.Read > 0 {
		return
	}
	t.lines = append(t.lines, fmt.Sprintf("%7.2fs step %-14s %s read=%d", time.Since(t.start).Seconds(), p.Step, p.Status, p.Counts.Read))
}

func (t *scaleTrace) note(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, fmt.Sprintf("%7.2fs notice %s", time.Since(t.start).Seconds(), s))
}

func (t *scaleTrace) unit(e UnitEvent) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := e.Unit.Name() + fmt.Sprint(e.Attempt)
	if !e.Ended {
		t.begun[k] = time.Now()
		return
	}
	d := time.Since(t.begun[k])
	t.slices[e.Unit.Step] = append(t.slices[e.Unit.Step], d)
	if d > 2*time.Second || e.Err != nil {
		t.lines = append(t.lines, fmt.Sprintf("%7.2fs   slice %s user=%s read=%d took %v %s %v", time.Since(t.start).Seconds(), e.Unit.Name(), e.User, e.Read, d.Round(time.Millisecond), e.Outcome, e.Err))
	}
}

func (t *scaleTrace) log(b *testing.B, path, title string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintf(f, "== %s\n", title)
	for _, l := range t.lines {
		fmt.Fprintln(f, l)
	}
	for step, ds := range t.slices {
		var sum time.Duration
		for _, d := range ds {
			sum += d
		}
		fmt.Fprintf(f, "step %-14s %d slices, %v in all\n", step, len(ds), sum.Round(time.Millisecond))
	}
}
