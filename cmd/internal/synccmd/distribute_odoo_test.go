package synccmd

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/migrations/distribute"
	"github.com/dvsync/dvsync/migrations/odoojob/odoojobtest"
	"github.com/dvsync/dvsync/migrations/pgstore/pgtest"
	"github.com/dvsync/dvsync/migrations/syncjob"
	"github.com/dvsync/dvsync/odoo/odooserver"
)

// distState is a state store URL and River schemas of the test's own on
// DVSYNC_TEST_POSTGRES, dropped at the end; the test is skipped without
// a server (failed in CI).
func distState(t *testing.T) (string, distribute.Options) {
	t.Helper()
	base := pgtest.URL(t)
	schemas := pgtest.Schemas(t, base, "syncdist", "river", "state")
	return pgtest.SearchPath(t, base, schemas[1]), distribute.Options{Schema: schemas[0]}
}

// startWorker runs a worker until the test ends.
func startWorker(t *testing.T, state string, river distribute.Options) {
	t.Helper()
	wctx, cancel := context.WithCancel(context.Background())
	w, err := distribute.NewWorker(wctx, distribute.WorkerOptions{Options: river, State: state, Concurrency: 2, Requests: 8})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); w.Run(wctx) }()
	t.Cleanup(func() { cancel(); wg.Wait(); w.Close() })
}

// TestDistributedSyncOfAnOdooJob: `sync --distribute` of an Odoo →
// Dataverse job runs it on a worker (which reads the Odoo key from its
// own environment) and prints the summary of a single-process run: the
// steps and the deleted-ticket check, exit 0, one run journalled.
func TestDistributedSyncOfAnOdooJob(t *testing.T) {
	state, river := distState(t)
	t.Setenv("DVSYNC_TOKEN", odoojobtest.DVToken)
	t.Setenv("ODOO_API_KEY", odoojobtest.OdooKey)
	srv := odoojobtest.Start(t, odoojobtest.SmallSeed(t, 12), nil)
	dir := t.TempDir()
	job := filepath.Join(dir, "tenant.yaml")
	text := fmt.Sprintf("name: tenant\nsource:\n  odoo: {url: %s, db: %s, user: admin}\ntarget:\n  dataverse: {env: %s}\nmap: %s\n",
		srv.OdooURL, odooserver.Database, srv.DVURL, odoojobtest.Testdata("odoodv", "demo-map.yaml"))
	if err := os.WriteFile(job, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	startWorker(t, state, river)

	var out, errOut bytes.Buffer
	cmd := command(output.NewStreams(strings.NewReader(""), &out, &errOut), &options{dist: distOptions{river: river}})
	cmd.SetArgs([]string{"--job", job, "--state", state, "--distribute", "--json"})
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("exit: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	for _, want := range []string{`"table": "cases"`, `"table": "deleted tickets"`, `"mode": "odoo write_date cursor"`, `"status": "succeeded"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %s:\n%s", want, out.String())
		}
	}
	st, err := syncjob.OpenStore(context.Background(), state)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, err := st.Runs(context.Background(), "tenant", 0)
	if err != nil || len(runs) != 1 || runs[0].Status != "succeeded" || runs[0].Summary.Totals.Upserted == 0 {
		t.Fatalf("journal: %+v %v", runs, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "tenant.rejects.jsonl")); err == nil {
		b, _ := os.ReadFile(filepath.Join(dir, "tenant.rejects.jsonl"))
		if len(b) > 0 {
			t.Errorf("rejects file of a clean run:\n%s", b)
		}
	}
}
