package syncjob_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/migrations/syncjob"
)

const envBenchChild = "DVSYNC_SYNC_BENCH_CHILD"

// benchIncidents is the size of BenchmarkSyncIncremental's table;
// DVSYNC_BENCH_INCIDENTS=1000000 gives the figure.
func benchIncidents() int {
	if n, err := strconv.Atoi(os.Getenv("DVSYNC_BENCH_INCIDENTS")); err == nil && n > 0 {
		return n
	}
	return 20_000
}

// TestSyncBenchChild is one sync run of BenchmarkSyncIncremental, in its
// own process so that its peak RSS is the sync's alone (the reference
// server lives in the parent).
func TestSyncBenchChild(t *testing.T) {
	if os.Getenv(envBenchChild) != "1" {
		t.Skip("run by BenchmarkSyncIncremental")
	}
	ctr := &syncjob.Counter{}
	c, err := dataverse.NewClient(os.Getenv(envKillURL), dataverse.StaticToken(refToken), &dataverse.ClientOptions{Transport: ctr})
	if err != nil {
		t.Fatal(err)
	}
	job, err := syncjob.LoadJob(os.Getenv(envKillJob))
	if err != nil {
		t.Fatal(err)
	}
	st, err := syncjob.OpenStore(t.Context(), os.Getenv(envKillState))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sum, err := syncjob.Run(t.Context(), job, syncjob.Options{Client: c, Counter: ctr, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(sum.Tables[0])
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("BENCHSUMMARY %s\n", b)
	fmt.Printf("BENCHMEM go-sys=%dMiB heap-inuse=%dMiB\n", ms.Sys>>20, ms.HeapInuse>>20)
	// VmHWM is this process's peak RSS. (wait4's ru_maxrss is not: Linux
	// carries the parent's RSS into it across the vfork+exec Go uses.)
	if status, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				fmt.Printf("BENCHHWM %s\n", strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			}
		}
	}
}

type benchRun struct {
	ts     syncjob.TableSummary
	rssMiB float64
}

// BenchmarkSyncIncremental stores N incidents in the reference Dataverse,
// syncs them into a SQLite mirror, makes 1,000 changes (700 updates, 200
// creates, 100 deletes) and syncs again. It reports both runs' time and
// requests, the incremental run's as a percentage of the initial one's, and
// the initial run's peak RSS.
//
//	DVSYNC_BENCH_INCIDENTS=1000000 go test -run '^$' -bench SyncIncremental -benchtime 1x ./migrations/syncjob
func BenchmarkSyncIncremental(b *testing.B) {
	n := benchIncidents()
	for b.Loop() {
		e := newEnv(b, refserver.Options{})
		start := time.Now()
		e.seedIncidents(b, n)
		b.Logf("seeded %d incidents in %s", n, time.Since(start).Round(time.Millisecond))
		dbPath := filepath.Join(e.dir, "mirror.db")
		e.job(b, "bench", "sqlite: "+dbPath, 5000, "incident")
		jobPath := filepath.Join(e.dir, "bench.yaml")
		statePath := filepath.Join(e.dir, "state.db")
		run := func() benchRun {
			args := []string{"-test.run=^TestSyncBenchChild$", "-test.count=1", "-test.v"}
			if p := os.Getenv("DVSYNC_BENCH_CHILD_CPUPROFILE"); p != "" {
				args = append(args, "-test.cpuprofile="+p)
			}
			cmd := exec.Command(os.Args[0], args...)
			cmd.Env = append(os.Environ(), envBenchChild+"=1", envKillURL+"="+e.url, envKillJob+"="+jobPath, envKillState+"="+statePath)
			out, err := cmd.CombinedOutput()
			if err != nil {
				b.Fatalf("sync run: %v\n%s", err, out)
			}
			var r benchRun
			for _, line := range strings.Split(string(out), "\n") {
				if rest, ok := strings.CutPrefix(line, "BENCHHWM "); ok {
					kb, _ := strconv.Atoi(rest)
					r.rssMiB = float64(kb) / 1024
				}
				if strings.HasPrefix(line, "BENCHMEM ") {
					b.Log(line)
				}
				if rest, ok := strings.CutPrefix(line, "BENCHSUMMARY "); ok {
					if err := json.Unmarshal([]byte(rest), &r.ts); err != nil {
						b.Fatal(err)
					}
				}
			}
			return r
		}
		initial := run()
		if initial.ts.Upserted != int64(n) {
			b.Fatalf("initial run: %+v", initial.ts)
		}

		c, _ := e.client(b, 0)
		ctx := context.Background()
		for i := range 700 {
			if err := c.Update(ctx, "incident", dataverse.ByKey("incidentid", incidentID(i*7)), dataverse.Record{"title": fmt.Sprintf("updated %d", i)}, nil); err != nil {
				b.Fatal(err)
			}
		}
		mutateIncidents(b, c, nil, nil, 200)
		for i := range 100 {
			id, _ := uuidOf(incidentID(i*7 + 3))
			if err := c.Delete(ctx, "incident", dataverse.ByID(id), nil); err != nil {
				b.Fatal(err)
			}
		}
		incr := run()
		if incr.ts.Read != 1000 || incr.ts.Upserted != 900 || incr.ts.Deleted != 100 {
			b.Fatalf("incremental run: %+v", incr.ts)
		}
		b.Logf("initial: %d rows in %.2fs, %d requests, peak RSS %.1f MiB", initial.ts.Read, initial.ts.DurationSeconds, initial.ts.Requests, initial.rssMiB)
		b.Logf("incremental: %d changes in %.3fs, %d requests, peak RSS %.1f MiB", incr.ts.Read, incr.ts.DurationSeconds, incr.ts.Requests, incr.rssMiB)
		b.ReportMetric(initial.ts.DurationSeconds, "initial-s")
		b.ReportMetric(float64(initial.ts.Requests), "initial-requests")
		b.ReportMetric(initial.rssMiB, "initial-MiB-RSS")
		b.ReportMetric(incr.ts.DurationSeconds, "incremental-s")
		b.ReportMetric(float64(incr.ts.Requests), "incremental-requests")
		b.ReportMetric(100*incr.ts.DurationSeconds/initial.ts.DurationSeconds, "time-%")
		b.ReportMetric(100*float64(incr.ts.Requests)/float64(initial.ts.Requests), "requests-%")
	}
}
