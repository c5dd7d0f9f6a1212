package odoojob

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/dataverse/sink"
	"github.com/dvsync/dvsync/mapping/odoodv"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/odoo"
	"github.com/dvsync/dvsync/odoo/odooseed"
	"github.com/dvsync/dvsync/odoo/odooserver"
)

// killEnv names the environment that makes TestKillChild run a migration
// in a child process.
const killEnv = "DVSYNC_KILL_CHILD"

// TestKillChild is the process TestKillAndResume kills: it migrates with
// small batches (many checkpoints) and exits when done.
func TestKillChild(t *testing.T) {
	if os.Getenv(killEnv) == "" {
		t.Skip("run by TestKillAndResume")
	}
	ctx := context.Background()
	dv, err := dataverse.NewClient(os.Getenv("KILL_DV"), dataverse.StaticToken(dvToken), nil)
	if err != nil {
		t.Fatal(err)
	}
	oc, err := odoo.New(ctx, odoo.Options{URL: os.Getenv("KILL_ODOO"), Database: odooserver.Database, Login: "admin", APIKey: odooKey})
	if err != nil {
		t.Fatal(err)
	}
	store, err := migrations.OpenSQLite(ctx, os.Getenv("KILL_STATE"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rejects, err := os.OpenFile(os.Getenv("KILL_STATE")+".rejects.jsonl", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer rejects.Close()
	_, _, err = Migrate(ctx, Config{Odoo: oc, Database: odooserver.Database, Dataverse: dv, Map: demoMap(t), Store: store,
		Rejects: rejects, BatchSize: 50, PageSize: 200})
	if err != nil {
		t.Fatal(err)
	}
}

// TestKillAndResume migrates a generated helpdesk in a child process that
// it kills (SIGKILL) at random moments several times, against a reference
// Dataverse injecting faults (503, 500, dropped connections after the write
// committed); each kill is followed by a resume of the same job from the
// same state file. Afterwards a final run completes the job and verify
// must find every record exactly once: nothing lost, nothing duplicated.
// DVSYNC_KILL_TICKETS sets the size (default 200; the figures in the
// report used 20000) and DVSYNC_KILLS the number of kills (default 3).
func TestKillAndResume(t *testing.T) {
	if os.Getenv(killEnv) != "" {
		t.Skip("child")
	}
	if testing.Short() {
		t.Skip("spawns processes")
	}
	tickets := 200
	if v := os.Getenv("DVSYNC_KILL_TICKETS"); v != "" {
		tickets, _ = strconv.Atoi(v)
	}
	kills := 3
	if v := os.Getenv("DVSYNC_KILLS"); v != "" {
		kills, _ = strconv.Atoi(v)
	}
	// A whole run takes about 7 ms per ticket on the reference servers
	// (cases, notes and SLA outcomes together); spread the kills over it.
	window := max(1500, 7*tickets/kills)
	ctx := context.Background()
	dir := t.TempDir()
	seed := filepath.Join(dir, "odoo")
	st, err := odooseed.Generate(odooseed.Options{BaseDir: "../../testdata/odoo/seed", OutDir: seed, Tickets: tickets, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	osrv, err := odooserver.New(odooserver.Options{APIKey: odooKey, SeedDir: seed})
	if err != nil {
		t.Fatal(err)
	}
	ods := httptest.NewServer(osrv)
	defer ods.Close()

	dvData := filepath.Join(dir, "dataverse.db")
	faults, err := refserver.ParseFaults("seed=5,503=0.01,500=0.005,reset=0.01")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := refserver.New(refserver.Options{Token: dvToken, DataPath: dvData, Faults: faults})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ref.LoadSeed(ctx, "../../testdata/dataverse/seed"); err != nil {
		t.Fatal(err)
	}
	dvs := httptest.NewServer(ref)
	state := filepath.Join(dir, "state.db")

	rng := rand.New(rand.NewPCG(uint64(tickets), 99))
	var finished, killedMidRun bool
	// Kill `kills` times, and a few more while no kill has yet landed after
	// the run committed something (a loaded machine starts slowly).
	for k := 0; !finished && (k < kills || (!killedMidRun && k < kills+5)); k++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), killEnv+"=1", "KILL_DV="+dvs.URL, "KILL_ODOO="+ods.URL, "KILL_STATE="+state)
		out := &limitedBuffer{max: 4096}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		wait := time.Duration(300+rng.IntN(window)) * time.Millisecond
		select {
		case err := <-done:
			if err != nil {
				// A fault can stop a run (it is then resumed); anything
				// else is a bug.
				t.Logf("run %d ended early: %v\n%s", k, err, out)
			} else {
				finished = true
			}
		case <-time.After(wait):
			cmd.Process.Kill()
			<-done
			n := lastRunRead(t, state)
			killedMidRun = killedMidRun || n > 0
			t.Logf("run %d killed after %v, %d source records committed by it", k, wait, n)
		}
	}
	if !finished && !killedMidRun {
		t.Error("no kill landed after the run had committed records")
	}

	// Restart the reference Dataverse on the same data without faults, and
	// finish the job in-process.
	dvs.Close()
	ref.Close()
	ref, err = refserver.New(refserver.Options{Token: dvToken, DataPath: dvData})
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	dvs = httptest.NewServer(ref)
	defer dvs.Close()
	dv, err := dataverse.NewClient(dvs.URL, dataverse.StaticToken(dvToken), &dataverse.ClientOptions{Limiter: dataverse.NewLimiter(dataverse.LimiterOptions{})})
	if err != nil {
		t.Fatal(err)
	}
	oc, err := odoo.New(ctx, odoo.Options{URL: ods.URL, Database: odooserver.Database, Login: "admin", APIKey: odooKey})
	if err != nil {
		t.Fatal(err)
	}
	store := openStoreAt(t, state)
	cfg := Config{Odoo: oc, Database: odooserver.Database, Dataverse: dv, Map: demoMap(t), Store: store}
	sum, _, err := Migrate(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sum.Steps {
		if s.Counts.Rejected != 0 {
			t.Errorf("final run %s: %+v", s.Step, s.Counts)
		}
	}
	runs, err := store.Runs(ctx, JobName(odooserver.Database))
	if err != nil {
		t.Fatal(err)
	}
	interrupted := 0
	for _, r := range runs {
		if r.Status == migrations.StatusInterrupted {
			interrupted++
		}
	}
	t.Logf("%d tickets, %d messages, %d SLA statuses; %d runs, %d interrupted", st.Tickets, st.Messages, st.SLAStatuses, len(runs), interrupted)
	if interrupted == 0 {
		t.Error("no run was interrupted: the kills did not land mid-run")
	}

	rep, err := Verify(ctx, cfg, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var rejected int64
	for _, s := range rep.Steps {
		rejected += s.Rejected
		for name, tr := range s.Tables {
			if tr.Missing != 0 || tr.Duplicated != 0 || tr.Unexpected != 0 || tr.Differing != 0 || tr.Rejected != 0 {
				t.Errorf("%s/%s: %+v", s.Step, name, *tr)
			}
		}
	}
	if !rep.OK || rejected != 0 {
		t.Fatalf("verify: %d mismatches, %d rejected", rep.Mismatches(), rejected)
	}
	// Zero duplicated, counted directly: the cases the migration added are
	// exactly the tickets.
	n, err := sink.New(dv, nil).Count(ctx, "incident")
	if err != nil {
		t.Fatal(err)
	}
	base, _, _ := baseline(ctx, store, JobName(odooserver.Database), "incident")
	if n-base != int64(st.Tickets) {
		t.Errorf("%d cases added for %d tickets", n-base, st.Tickets)
	}
	notes := 0
	for _, s := range rep.Steps {
		if s.Step == odoodv.StepNotes {
			notes = int(s.Tables["annotation"].Found)
		}
	}
	t.Logf("verified: %d cases, %d notes, all found once", n-base, notes)
}

// lastRunRead is how many source records the latest journalled run
// committed.
func lastRunRead(t *testing.T, state string) int64 {
	t.Helper()
	s, err := migrations.OpenSQLite(context.Background(), state)
	if err != nil {
		return 0 // killed before the state file was created
	}
	defer s.Close()
	runs, err := s.Runs(context.Background(), JobName(odooserver.Database))
	if err != nil || len(runs) == 0 {
		return 0
	}
	var n int64
	for _, st := range runs[len(runs)-1].Steps {
		n += st.Counts.Read
	}
	return n
}

func openStoreAt(t testing.TB, path string) migrations.Store {
	t.Helper()
	s, err := migrations.OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// limitedBuffer keeps the last output of a child for the log.
type limitedBuffer struct {
	max int
	b   []byte
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.b = append(l.b, p...)
	if len(l.b) > l.max {
		l.b = l.b[len(l.b)-l.max:]
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return fmt.Sprint(string(l.b)) }
