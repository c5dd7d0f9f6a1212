package migrations_test

import (
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/dataverse/sink"
	"github.com/dvsync/dvsync/migrations"
)

// Environment of the child process of TestKillAndResume.
const (
	envKillChild = "DVSYNC_MIGRATIONS_KILL_CHILD"
	envKillURL   = "DVSYNC_MIGRATIONS_KILL_URL"
	envKillState = "DVSYNC_MIGRATIONS_KILL_STATE"
)

const killAccounts, killCases = 30, 900

// TestKillChild is the migration process TestKillAndResume kills: it runs
// the shop job against the parent's reference server with its state file.
func TestKillChild(t *testing.T) {
	if os.Getenv(envKillChild) != "1" {
		t.Skip("run by TestKillAndResume")
	}
	c, err := dataverse.NewClient(os.Getenv(envKillURL), dataverse.StaticToken(refToken), &dataverse.ClientOptions{
		RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	st, err := migrations.OpenSQLite(t.Context(), os.Getenv(envKillState))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := migrations.Run(t.Context(), shopJob(c, killAccounts, killCases), migrations.RunOptions{Store: st, BatchSize: 25, Concurrency: 4}); err != nil {
		t.Fatal(err)
	}
}

// TestKillAndResume kills a migration process with SIGKILL at random
// moments, several times, then lets it finish, and verifies that the
// target holds every record exactly once.
func TestKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	srv, err := refserver.New(refserver.Options{Token: refToken, DataPath: filepath.Join(dir, "dataverse.db"),
		Faults: &refserver.Faults{Seed: 5, Reset: 0.02, Unavailable: 0.02}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	state := filepath.Join(dir, "state.db")

	child := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), envKillChild+"=1", envKillURL+"="+hs.URL, envKillState+"="+state)
		return cmd
	}
	// Each child is killed once the cases step has committed a random
	// number of records (so kills land mid-run whatever the machine's
	// speed), after a further random delay (so they land anywhere within a
	// batch: before, during or after its write or its commit).
	rng := rand.New(rand.NewPCG(21, 22))
	var progress []int64
	for kill := range 3 {
		cmd := child()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		goal := int64((kill + 1) * killCases / 5)
		delay := time.Duration(rng.IntN(40)) * time.Millisecond
	wait:
		for {
			select {
			case err := <-done:
				t.Fatalf("child %d ended before it was killed: %v", kill, err)
			case <-time.After(10 * time.Millisecond):
				if countCheckpointed(t, state) >= goal {
					break wait
				}
			}
		}
		time.Sleep(delay)
		cmd.Process.Kill()
		<-done
		progress = append(progress, countCheckpointed(t, state))
	}
	kills := len(progress)
	started := time.Now()
	cmd := child()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("final run: %v\n%s", err, out)
	}
	t.Logf("killed %d times; committed cases after each kill: %v; final run %v", kills, progress, time.Since(started))

	c, err := dataverse.NewClient(hs.URL, dataverse.StaticToken(refToken), &dataverse.ClientOptions{
		Limiter: dataverse.NewLimiter(dataverse.LimiterOptions{}), RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	st, err := migrations.OpenSQLite(t.Context(), state)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rep, err := migrations.Verify(t.Context(), shopJob(c, killAccounts, killCases), migrations.VerifyOptions{
		Target: sink.New(c, nil), Store: st, Compare: sink.New(c, nil).Compare})
	if err != nil {
		t.Fatal(err)
	}
	inc := rep.Steps[1].Tables["incident"]
	if !rep.OK || inc.Found != int64(killCases-killCases/23) || inc.Duplicated != 0 {
		t.Fatalf("after %d kills: %d mismatches, incidents %+v", kills, rep.Mismatches(), inc)
	}
	runs, err := st.Runs(t.Context(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	// A child killed before it opened the journal leaves no run.
	if len(runs) < 2 || len(runs) > kills+1 || runs[len(runs)-1].Status != migrations.StatusSucceeded {
		t.Fatalf("journal of %d runs after %d kills: %+v", len(runs), kills, runs)
	}
	last := runs[len(runs)-1]
	t.Logf("final run in the journal: %v", last.Ended.Sub(last.Started))
	for _, r := range runs[:len(runs)-1] {
		if r.Status != migrations.StatusInterrupted {
			t.Errorf("killed run journalled as %s", r.Status)
		}
	}
}

// countCheckpointed returns the committed position of the cases step.
func countCheckpointed(t *testing.T, state string) int64 {
	t.Helper()
	st, err := migrations.OpenSQLite(t.Context(), state)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cp, err := st.Checkpoint(t.Context(), "shop", "cases")
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, ch := range cp.Cursor {
		n = n*10 + int64(ch-'0')
	}
	return n
}
