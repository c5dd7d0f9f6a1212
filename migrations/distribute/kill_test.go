package distribute

import (
	"bufio"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/mapping/odoodv"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/odoojob"
	"github.com/dvsync/dvsync/migrations/odoojob/odoojobtest"
	"github.com/dvsync/dvsync/odoo"
	"github.com/dvsync/dvsync/odoo/odooseed"
	"github.com/dvsync/dvsync/odoo/odooserver"
)

// workerEnv makes TestWorkerProcess a worker: it holds the state URL.
const workerEnv = "DVSYNC_DIST_WORKER"

// TestWorkerProcess is one worker process of TestKillWorker: a dvsync
// worker (the same code as `dvsync worker`) that prints one line per
// slice it starts and ends, and works until it is killed or interrupted.
func TestWorkerProcess(t *testing.T) {
	url := os.Getenv(workerEnv)
	if url == "" {
		t.Skip("run by TestKillWorker")
	}
	rescue, _ := time.ParseDuration(os.Getenv("DIST_RESCUE"))
	o := Options{Schema: os.Getenv("DIST_SCHEMA"), StateSchema: os.Getenv("DIST_STATE_SCHEMA"), RescueAfter: rescue}
	var mu sync.Mutex
	w, err := NewWorker(context.Background(), WorkerOptions{Options: o, State: url, Concurrency: 2, Requests: 8, OnUnit: func(e UnitEvent) {
		mu.Lock()
		defer mu.Unlock()
		what := "start"
		if e.Ended {
			what = "end"
		}
		fmt.Printf("EVENT %d %s %s %s %d\n", time.Now().UnixNano(), what, e.Unit.Name(), e.Outcome, e.Read)
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := w.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

// event is one line of a worker process.
type event struct {
	worker int
	at     time.Time
	start  bool
	unit   string
}

type eventLog struct {
	mu     sync.Mutex
	events []event
}

func (l *eventLog) add(e event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *eventLog) snapshot() []event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]event(nil), l.events...)
}

// open returns the units a worker has started and not ended.
func open(events []event, worker int) map[string]bool {
	out := map[string]bool{}
	for _, e := range events {
		if e.worker == worker {
			out[e.unit] = e.start
		}
	}
	for u, running := range out {
		if !running {
			delete(out, u)
		}
	}
	return out
}

// TestKillWorker: three worker processes migrate a generated helpdesk
// (DVSYNC_DIST_TICKETS tickets, default 1500, 300 under the race
// detector; the report's figures used 20,000) into the reference Dataverse with faults on (503, 500, dropped
// connections); one worker is SIGKILLed while it works a range of cases.
// Another worker takes the range over once River rescues it (measured
// from the kill to the range's next start), the coordinator finishes, and
// verify finds every record once: nothing lost, nothing duplicated.
func TestKillWorker(t *testing.T) {
	if os.Getenv(workerEnv) != "" {
		t.Skip("worker process")
	}
	if testing.Short() {
		t.Skip("spawns processes")
	}
	url := testDatabase(t)
	tickets := 1500
	if raceEnabled {
		tickets = 300
	}
	if v := os.Getenv("DVSYNC_DIST_TICKETS"); v != "" {
		tickets, _ = strconv.Atoi(v)
	}
	// Slices of 4 s: under the race detector on two cores a batch in
	// flight can take seconds to commit.
	const rescue = 12 * time.Second
	ctx := context.Background()
	dir := t.TempDir()
	seed := filepath.Join(dir, "odoo")
	st, err := odooseed.Generate(odooseed.Options{BaseDir: odoojobtest.Testdata("odoo", "seed"), OutDir: seed, Tickets: tickets, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	osrv, err := odooserver.New(odooserver.Options{APIKey: odoojobtest.OdooKey, SeedDir: seed})
	if err != nil {
		t.Fatal(err)
	}
	ods := httptest.NewServer(osrv)
	defer ods.Close()
	ref, err := refserver.New(refserver.Options{Token: odoojobtest.DVToken, Faults: faults(t, "seed=5,503=0.01,500=0.005,reset=0.01")})
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	if _, err := ref.LoadSeed(ctx, odoojobtest.Testdata("dataverse", "seed")); err != nil {
		t.Fatal(err)
	}
	dvs := httptest.NewServer(ref)
	defer dvs.Close()

	o := testOptions(t, url, rescue)
	log := &eventLog{}
	procs := make([]*exec.Cmd, 3)
	exited := make([]chan struct{}, 3)
	for i := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestWorkerProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), workerEnv+"="+url, "DIST_SCHEMA="+o.Schema, "DIST_STATE_SCHEMA="+o.StateSchema,
			"DIST_RESCUE="+rescue.String(), "DVSYNC_TOKEN="+odoojobtest.DVToken, "ODOO_API_KEY="+odoojobtest.OdooKey)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		errOut := &tail{max: 4096}
		cmd.Stderr = errOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs[i], exited[i] = cmd, make(chan struct{})
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				if len(f) >= 4 && f[0] == "EVENT" {
					ns, _ := strconv.ParseInt(f[1], 10, 64)
					log.add(event{worker: i, at: time.Unix(0, ns), start: f[2] == "start", unit: f[3]})
				}
			}
			cmd.Wait()
			close(exited[i])
		}()
		t.Cleanup(func() {
			cmd.Process.Signal(os.Interrupt)
			select {
			case <-exited[i]:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				<-exited[i]
			}
			if t.Failed() {
				t.Logf("worker %d stderr:\n%s", i, errOut)
			}
		})
	}

	store := openTestStore(t, url, o)
	dv, err := dataverse.NewClient(dvs.URL, dataverse.StaticToken(odoojobtest.DVToken), &dataverse.ClientOptions{Limiter: dataverse.NewLimiter(dataverse.LimiterOptions{})})
	if err != nil {
		t.Fatal(err)
	}
	oc, err := odoo.New(ctx, odoo.Options{URL: ods.URL, Database: odooserver.Database, Login: "admin", APIKey: odoojobtest.OdooKey})
	if err != nil {
		t.Fatal(err)
	}
	mf, err := ReadMapFiles(odoojobtest.Testdata("odoodv", "demo-map.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := odoojob.Config{Odoo: oc, Database: odooserver.Database, Dataverse: dv, Map: odoojobtest.DemoMap(t), Store: store, BatchSize: 50}
	mo := MigrateOptions{Options: o, State: url, Config: cfg, Env: dvs.URL, Map: mf, UnitSize: max(250, tickets/12),
		Odoo: OdooConn{URL: ods.URL, User: "admin"}, Notice: func(s string) { t.Log(s) }}
	type result struct {
		sum *migrations.Summary
		err error
	}
	res := make(chan result, 1)
	started := time.Now()
	go func() {
		sum, _, err := MigrateOdoo(ctx, mo)
		res <- result{sum, err}
	}()

	// Kill the first worker seen working a range of cases, half a second
	// into it.
	victim, killedAt := -1, time.Time{}
	var held map[string]bool
	for victim < 0 {
		select {
		case r := <-res:
			t.Fatalf("the migration ended before any worker worked a range of cases: %v", r.err)
		case <-time.After(100 * time.Millisecond):
		}
		for i := range procs {
			for u := range open(log.snapshot(), i) {
				if strings.HasPrefix(u, odoodv.StepCases+"@") {
					victim = i
				}
			}
			if victim >= 0 {
				break
			}
		}
		if time.Since(started) > 10*time.Minute {
			t.Fatal("no worker started a range of cases within 10 minutes")
		}
	}
	time.Sleep(500 * time.Millisecond)
	held = open(log.snapshot(), victim)
	killedAt = time.Now()
	if err := procs[victim].Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited[victim]
	t.Logf("worker %d SIGKILLed %v after the start, holding %v", victim, killedAt.Sub(started).Round(time.Millisecond), held)

	var r result
	select {
	case r = <-res:
	case <-time.After(30 * time.Minute):
		t.Fatal("the migration did not finish within 30 minutes")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	elapsed := time.Since(started)
	// The takeover: from the kill to the first start, on another worker,
	// of a unit the dead one held.
	var takeover time.Duration
	for _, e := range log.snapshot() {
		if e.start && e.worker != victim && held[e.unit] && e.at.After(killedAt) {
			takeover = e.at.Sub(killedAt)
			break
		}
	}
	for _, s := range r.sum.Steps {
		if err := s.Counts.Reconcile(s.Step); err != nil {
			t.Error(err)
		}
		if s.Step == odoodv.StepCases && s.Counts.Read != int64(st.Tickets) {
			t.Errorf("cases: read %d of %d tickets", s.Counts.Read, st.Tickets)
		}
	}
	t.Logf("%d tickets, %d messages, %d SLA statuses migrated by 3 workers in %v (one killed); takeover %v (RescueAfter %v)",
		st.Tickets, st.Messages, st.SLAStatuses, elapsed.Round(time.Millisecond), takeover.Round(time.Millisecond), rescue)
	if len(held) > 0 && takeover == 0 {
		t.Error("no other worker started a unit the killed worker held")
	}
	// River's rescuer runs every 30 s, its scheduler every 5 s, and a new
	// leader is elected within 15 s: the bound is RescueAfter plus those.
	if bound := rescue + 30*time.Second + 5*time.Second + 15*time.Second + 30*time.Second; takeover > bound {
		t.Errorf("takeover took %v, over %v", takeover, bound)
	}
	verifyExactlyOnce(t, cfg, st.Tickets)
}

// tail keeps the last output of a process for the log.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (l *tail) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	if len(l.b) > l.max {
		l.b = l.b[len(l.b)-l.max:]
	}
	return len(p), nil
}

func (l *tail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b)
}
