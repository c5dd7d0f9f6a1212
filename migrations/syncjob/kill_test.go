package syncjob_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/migrations/mirror"
	"github.com/dvsync/dvsync/migrations/syncjob"
)

// Environment of TestSyncKillChild.
const (
	envKillChild = "DVSYNC_SYNC_KILL_CHILD"
	envKillURL   = "DVSYNC_SYNC_KILL_URL"
	envKillJob   = "DVSYNC_SYNC_KILL_JOB"
	envKillState = "DVSYNC_SYNC_KILL_STATE"
)

// Sized for a 2-core machine shared with other work: 60 baseline pages
// (30 under -race).
var killRows, killPage = func() (int, int) {
	if raceEnabled {
		return 3000, 100
	}
	return 6000, 100
}()

// TestSyncKillChild is the sync process TestSyncKillAndResume kills.
func TestSyncKillChild(t *testing.T) {
	if os.Getenv(envKillChild) != "1" {
		t.Skip("run by TestSyncKillAndResume")
	}
	ctr := &syncjob.Counter{}
	c, err := dataverse.NewClient(os.Getenv(envKillURL), dataverse.StaticToken(refToken), &dataverse.ClientOptions{
		Transport: ctr, PageSize: killPage, RetryWaitMin: time.Millisecond, RetryWaitMax: 10 * time.Millisecond, MaxRetries: 30})
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
	ts := sum.Tables[0]
	fmt.Printf("SUMMARY read=%d upserted=%d deleted=%d unchanged=%d requests=%d\n", ts.Read, ts.Upserted, ts.Deleted, ts.Unchanged, ts.Requests)
}

// TestSyncKillAndResume kills sync processes with SIGKILL at random
// moments during an initial and an incremental run, with 503s and dropped
// connections injected by the reference Dataverse, then lets a run finish
// and checks that the mirror equals the source row for row.
func TestSyncKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	e := newEnv(t, refserver.Options{Faults: &refserver.Faults{Seed: 7, Unavailable: 0.03, Reset: 0.03}})
	e.seedIncidents(t, killRows)
	dbPath := filepath.Join(e.dir, "mirror.db")
	job := e.job(t, "soak", "sqlite: "+dbPath, killPage, "incident")
	statePath := filepath.Join(e.dir, "state.db")
	jobPath := filepath.Join(e.dir, "soak.yaml")
	rng := rand.New(rand.NewPCG(16, 2026))
	_ = job

	child := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSyncKillChild$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), envKillChild+"=1", envKillURL+"="+e.url, envKillJob+"="+jobPath, envKillState+"="+statePath)
		return cmd
	}
	// checkpoints counts the distinct checkpoints seen so far.
	seen := map[string]bool{}
	last := ""
	checkpoints := func() int {
		db, err := sql.Open("sqlite", "file:"+statePath+"?mode=ro&_pragma=busy_timeout(5000)")
		if err != nil {
			return len(seen)
		}
		defer db.Close()
		var s string
		if db.QueryRow(`SELECT state FROM dvsync_sync_state WHERE job = 'soak'`).Scan(&s) == nil {
			seen[s] = true
			last = s
		}
		return len(seen)
	}
	killRun := func(phase string, kills int) int {
		effective := 0
		for k := range kills {
			cmd := child()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			goal := checkpoints() + 1 + rng.IntN(4)
			finished := false
		wait:
			for {
				select {
				case <-done:
					finished = true
					break wait
				case <-time.After(5 * time.Millisecond):
					if checkpoints() >= goal {
						break wait
					}
				}
			}
			if finished {
				t.Logf("%s: child %d finished before its kill", phase, k)
				continue
			}
			time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
			cmd.Process.Kill()
			<-done
			effective++
			var cp syncjob.Checkpoint
			_ = json.Unmarshal([]byte(last), &cp)
			t.Logf("%s: SIGKILL %d after checkpoint phase %q", phase, k, cp.Phase)
		}
		t.Logf("%s: %d SIGKILLs landed", phase, effective)
		return effective
	}
	finish := func(phase string) {
		cmd := child()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: final run failed: %v\n%s", phase, err, out)
		}
		for _, line := range splitLines(string(out)) {
			if len(line) > 8 && line[:8] == "SUMMARY " {
				t.Logf("%s: final run %s", phase, line)
			}
		}
	}

	if killRun("initial", 4) == 0 {
		t.Fatal("no kill landed during the initial run")
	}
	finish("initial")
	c, _ := e.client(t, 0)
	if n := assertMirror(t, c, mirror.SQLite, dbPath, "incident"); n != killRows {
		t.Fatalf("%d source rows", n)
	}

	// killRows/4 changes (1,500 for 6,000 rows): 60% updates, 20% creates,
	// 20% deletes. The writes go
	// through the faulty server too, so each is idempotent (updates and
	// upserts by key; a delete whose response was lost is found gone).
	ctx := context.Background()
	for i := range killRows * 3 / 20 {
		must(t, c.Update(ctx, "incident", dataverse.ByKey("incidentid", incidentID(i*6)), dataverse.Record{"title": fmt.Sprintf("updated %d", i)}, nil))
	}
	for i := range killRows / 20 {
		id := uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "soak-%d", i))
		_, err := c.Upsert(ctx, "incident", dataverse.ByID(id), dataverse.Record{"title": "created", "customerid_account@odata.bind": "/accounts(" + accountID + ")"})
		must(t, err)
	}
	for i := range killRows / 20 {
		id, _ := uuidOf(incidentID(i*6 + 1))
		if err := c.Delete(ctx, "incident", dataverse.ByID(id), nil); err != nil && !dataverse.IsNotFound(err) {
			t.Fatal(err)
		}
	}
	if killRun("incremental", 3) == 0 {
		t.Fatal("no kill landed during the incremental run")
	}
	finish("incremental")
	if n := assertMirror(t, c, mirror.SQLite, dbPath, "incident"); n != killRows {
		t.Fatalf("%d source rows, want %d", n, killRows)
	}
	st := openStore(t, statePath)
	runs, err := st.Runs(ctx, "soak", 0)
	if err != nil {
		t.Fatal(err)
	}
	interrupted := 0
	for _, r := range runs {
		if r.Status == "interrupted" {
			interrupted++
		}
	}
	t.Logf("journal: %d runs, %d interrupted", len(runs), interrupted)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := range len(s) {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
