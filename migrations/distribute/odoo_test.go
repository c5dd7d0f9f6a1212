package distribute

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dvsync/dvsync/dataverse/sink"
	"github.com/dvsync/dvsync/mapping/odoodv"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/odoojob"
	"github.com/dvsync/dvsync/migrations/odoojob/odoojobtest"
	"github.com/dvsync/dvsync/odoo/odooserver"
)

// verifyExactlyOnce runs verify and fails the test unless every record is
// found once, unchanged, and the cases the migration added are exactly
// the tickets.
func verifyExactlyOnce(t *testing.T, cfg odoojob.Config, tickets int) {
	t.Helper()
	ctx := context.Background()
	rep, err := odoojob.Verify(ctx, cfg, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range rep.Steps {
		for name, tr := range s.Tables {
			if tr.Missing != 0 || tr.Duplicated != 0 || tr.Unexpected != 0 || tr.Differing != 0 || tr.Rejected != 0 {
				t.Errorf("verify %s/%s: %+v", s.Step, name, *tr)
			}
		}
	}
	if !rep.OK || rep.Rejected != 0 {
		t.Fatalf("verify: %d mismatches, %d rejected", rep.Mismatches(), rep.Rejected)
	}
	n, err := sink.New(cfg.Dataverse, nil).Count(ctx, "incident")
	if err != nil {
		t.Fatal(err)
	}
	base, ok, err := cfg.Store.Value(ctx, odoojob.JobName(odooserver.Database), "baseline:incident")
	if err != nil || !ok {
		t.Fatalf("no incident baseline: %v", err)
	}
	if got := n - atoi(t, base); got != int64(tickets) {
		t.Errorf("%d cases added for %d tickets", got, tickets)
	}
}

// TestMigrateOdooOnWorkers: two in-process workers migrate a generated
// helpdesk split into ranges of half its tickets' ids, with slices of 1 s (so units hand
// themselves back to the queue mid-range) and faults on the reference
// Dataverse; the combined counts reconcile with the source, the run is
// journalled, and verify finds every record once. A second coordinator
// run finds nothing new to write.
func TestMigrateOdooOnWorkers(t *testing.T) {
	url := testDatabase(t)
	odooEnv(t)
	ctx := context.Background()
	tickets := 240
	if raceEnabled {
		tickets = 120
	}
	seed := odoojobtest.SmallSeed(t, tickets)
	srv := odoojobtest.Start(t, seed, faults(t, "seed=3,503=0.02,reset=0.01"))
	// Slices of 1 s (2 s under the race detector) end mid-range.
	rescue := 3 * time.Second
	if raceEnabled {
		rescue = 6 * time.Second
	}
	o := testOptions(t, url, rescue)
	var mu sync.Mutex
	outcomes := map[string]int{}
	ws := startWorkers(t, 2, WorkerOptions{Options: o, State: url, Concurrency: 2, Requests: 8, OnUnit: func(e UnitEvent) {
		if e.Ended {
			mu.Lock()
			outcomes[e.Outcome]++
			mu.Unlock()
		}
	}})
	store := openTestStore(t, url, o)
	mf, err := ReadMapFiles(odoojobtest.Testdata("odoodv", "demo-map.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := odoojob.Config{Odoo: srv.Odoo, Database: odooserver.Database, Dataverse: srv.DV, Map: odoojobtest.DemoMap(t), Store: store, BatchSize: 5, Concurrency: 1}
	var notices []string
	mo := MigrateOptions{Options: o, State: url, Config: cfg, Env: srv.DVURL, Map: mf, UnitSize: tickets / 2,
		Odoo:   OdooConn{URL: srv.OdooURL, User: "admin"},
		Notice: func(s string) { notices = append(notices, s) }}
	sum, _, err := MigrateOdoo(ctx, mo)
	if err != nil {
		t.Fatalf("%v\nnotices: %s", err, strings.Join(notices, "\n"))
	}
	if sum.Status != migrations.StatusSucceeded {
		t.Fatalf("status %s", sum.Status)
	}
	for _, s := range sum.Steps {
		if err := s.Counts.Reconcile(s.Step); err != nil {
			t.Error(err)
		}
		if s.Step == odoodv.StepCases && s.Counts.Read != int64(tickets) {
			t.Errorf("cases read %d, want %d", s.Counts.Read, tickets)
		}
	}
	noSlotsHeld(t, ws)
	mu.Lock()
	t.Logf("slices: %v; notices: %d", outcomes, len(notices))
	if outcomes["continued"] == 0 {
		t.Error("no unit was continued after its slice: slicing untested")
	}
	mu.Unlock()
	runs, err := store.Runs(ctx, sum.Job)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].Status != migrations.StatusSucceeded {
		t.Fatalf("journal of the coordinator: %+v", runs)
	}
	var journalled int64
	for _, s := range runs[0].Steps {
		journalled += s.Counts.Read
	}
	if journalled != sum.Total().Read {
		t.Errorf("journal read %d, summary %d", journalled, sum.Total().Read)
	}
	verifyExactlyOnce(t, cfg, tickets)

	// A new distributed run resumes every unit from its checkpoint: the
	// ranges were read to their ends, so nothing is read again.
	sum2, _, err := MigrateOdoo(ctx, mo)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sum2.Steps {
		if s.Step == odoodv.StepCases && s.Counts.Read != 0 {
			t.Errorf("second run read %d cases again", s.Counts.Read)
		}
	}

	// The same state against another (seeded, never migrated)
	// environment: the coordinator stops before enqueuing anything, on
	// the samples of the units' checkpoints; with Fresh it starts over
	// there and verify finds every record once.
	other := odoojobtest.Start(t, seed, nil)
	mo.Config.Dataverse, mo.Env = other.DV, other.DVURL
	before, err := sink.New(other.DV, nil).Count(ctx, "incident")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = MigrateOdoo(ctx, mo)
	var mismatch *migrations.TargetMismatchError
	if !errors.As(err, &mismatch) {
		t.Fatalf("a run against another environment with the same state: %v, want a TargetMismatchError", err)
	}
	if after, err := sink.New(other.DV, nil).Count(ctx, "incident"); err != nil || after != before {
		t.Fatalf("the refused run wrote: %d cases before, %d after (%v)", before, after, err)
	}
	mo.Config.Fresh = true
	if _, _, err := MigrateOdoo(ctx, mo); err != nil {
		t.Fatalf("fresh run on the other environment: %v", err)
	}
	cfg.Dataverse = other.DV
	verifyExactlyOnce(t, cfg, tickets)
}
