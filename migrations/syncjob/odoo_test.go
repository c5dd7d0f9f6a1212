package syncjob_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/odoojob/odoojobtest"
	"github.com/dvsync/dvsync/migrations/syncjob"
	"github.com/dvsync/dvsync/odoo"
	"github.com/dvsync/dvsync/odoo/odooserver"
)

type odooEnv struct {
	dv    *dataverse.Client
	odoo  *odoo.Client
	job   *syncjob.Job
	opts  syncjob.Options
	state string
}

// startOdooSync starts the reference Dataverse (with its seed: users,
// calendars) and a reference Odoo of n tickets on the wall clock, so
// write_date moves as tickets change, and declares an Odoo → Dataverse job.
func startOdooSync(t *testing.T, n int) *odooEnv {
	t.Helper()
	ctx := context.Background()
	ref, err := refserver.New(refserver.Options{Token: odoojobtest.DVToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ref.Close() })
	if _, err := ref.LoadSeed(ctx, odoojobtest.Testdata("dataverse", "seed")); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(ref)
	t.Cleanup(hs.Close)
	osrv, err := odooserver.New(odooserver.Options{APIKey: odoojobtest.OdooKey, SeedDir: odoojobtest.SmallSeed(t, n)})
	if err != nil {
		t.Fatal(err)
	}
	ohs := httptest.NewServer(osrv)
	t.Cleanup(ohs.Close)
	ctr := &syncjob.Counter{}
	dv, err := dataverse.NewClient(hs.URL, dataverse.StaticToken(odoojobtest.DVToken), &dataverse.ClientOptions{Transport: ctr})
	if err != nil {
		t.Fatal(err)
	}
	oc, err := odoo.New(ctx, odoo.Options{URL: ohs.URL, Database: odooserver.Database, Login: "admin", APIKey: odoojobtest.OdooKey})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	text := fmt.Sprintf("name: odoo-parallel-run\nsource:\n  odoo: {url: %s, db: %s, user: admin}\ntarget:\n  dataverse: {env: %s}\nmap: %s\noverlap: 2s\n",
		ohs.URL, odooserver.Database, hs.URL, odoojobtest.Testdata("odoodv", "demo-map.yaml"))
	path := filepath.Join(dir, "odoo.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	job, err := syncjob.LoadJob(path)
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state.db")
	engine, err := migrations.OpenSQLite(ctx, state)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { engine.Close() })
	st := openStore(t, state)
	return &odooEnv{dv: dv, odoo: oc, job: job, state: state,
		opts: syncjob.Options{Odoo: oc, TargetClient: dv, Counter: ctr, Store: st, EngineStore: engine}}
}

func (e *odooEnv) run(t *testing.T) *syncjob.Summary {
	t.Helper()
	var rej strings.Builder
	o := e.opts
	o.Rejects = &rej
	sum, err := syncjob.Run(context.Background(), e.job, o)
	if err != nil {
		t.Fatalf("%v\nrejects:\n%s", err, rej.String())
	}
	return sum
}

// caseTitles returns the state of every case in Dataverse by title, and
// the number of cases.
func (e *odooEnv) caseTitles(t *testing.T) (map[string]int, int) {
	t.Helper()
	out := map[string]int{}
	count := 0
	for rec, err := range e.dv.Records(context.Background(), "incident", dataverse.Query{Select: []string{"title", "statecode"}}) {
		if err != nil {
			t.Fatal(err)
		}
		n, _ := rec["statecode"].(interface{ Int64() (int64, error) })
		s := 0
		if n != nil {
			v, _ := n.Int64()
			s = int(v)
		}
		out[rec.String("title")] = s
		count++
	}
	return out, count
}

// Writers change tickets while a sync reads them; the next run picks up
// every change and misses none, and a deleted ticket's case is cancelled.
func TestSyncOdooPicksUpEveryChangeWhileWritersWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("migrates a helpdesk")
	}
	e := startOdooSync(t, 30)
	ctx := context.Background()
	_, before := e.caseTitles(t)
	sum := e.run(t)
	cases := tableSummary(t, sum, "cases")
	if cases.Read != 30 || cases.Upserted != 30 || cases.Mode != "odoo write_date cursor" {
		t.Fatalf("first run: %+v", cases)
	}
	ids, err := e.odoo.Search(ctx, "helpdesk.ticket", odoo.Query{Order: "id asc", Context: odoo.Context{}.WithArchived()})
	if err != nil || len(ids) != 30 {
		t.Fatalf("%d tickets, %v", len(ids), err)
	}

	// A writer renames tickets, one after another, while the next run
	// reads; it stops after the run ends.
	final := map[int]string{}
	var mu sync.Mutex
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for k := 0; ; k++ {
			select {
			case <-stop:
				return
			default:
			}
			id := ids[(k*7)%len(ids)]
			name := fmt.Sprintf("rev-%d-%d", k, id)
			if err := e.odoo.Write(ctx, "helpdesk.ticket", []int{id}, map[string]any{"name": name}); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			final[id] = name
			mu.Unlock()
			time.Sleep(3 * time.Millisecond)
		}
	}()
	time.Sleep(20 * time.Millisecond)
	e.run(t)
	close(stop)
	wg.Wait()
	sum = e.run(t)
	t.Logf("writer renamed %d tickets; last run: %+v", len(final), tableSummary(t, sum, "cases").Counts)

	titles, n := e.caseTitles(t)
	if n != before+30 {
		t.Fatalf("%d cases, want %d: duplicated or missing", n, before+30)
	}
	for id, name := range final {
		if _, ok := titles[name]; !ok {
			t.Errorf("ticket %d: its last name %q is in no case", id, name)
		}
	}

	// Delete one ticket: its case is cancelled (deleted_tickets: cancel).
	gone := ids[0] // the writer's first rename
	if err := e.odoo.Call(ctx, "helpdesk.ticket", "unlink", []int{gone}, nil, nil, false); err != nil {
		t.Fatal(err)
	}
	sum = e.run(t)
	del := tableSummary(t, sum, "deleted tickets")
	if del.Read != 1 || del.KeysCompared != 29 {
		t.Fatalf("deleted tickets: %+v", del)
	}
	name := final[gone]
	if name == "" {
		t.Fatal("the writer never renamed the first ticket")
	}
	if del.Upserted != 1 {
		t.Errorf("the cancel is not counted as a write: %+v", del.Counts)
	}
	if titles, _ = e.caseTitles(t); titles[name] != 2 {
		t.Fatalf("case of the deleted ticket has statecode %d, want 2 (cancelled); summary %+v", titles[name], del)
	}
}
