package distribute

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/migrations/odoojob/odoojobtest"
	"github.com/dvsync/dvsync/migrations/pgstore"
)

// testDatabase returns DVSYNC_TEST_POSTGRES. Outside CI a missing server
// skips the test; in CI (.ci/run starts PostgreSQL) it fails it.
func testDatabase(t testing.TB) string {
	t.Helper()
	url := os.Getenv("DVSYNC_TEST_POSTGRES")
	if url == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI is set but DVSYNC_TEST_POSTGRES is not: .ci/run must start PostgreSQL and export it")
		}
		t.Skip("DVSYNC_TEST_POSTGRES is not set: distributed tests need a PostgreSQL server (see .ci/run)")
	}
	return url
}

// testOptions gives a test its own River and state schemas, dropped at
// the end, so tests (and packages) never see each other's units.
func testOptions(t testing.TB, url string, rescue time.Duration) Options {
	t.Helper()
	suffix := fmt.Sprintf("%d_%d", time.Now().UnixNano()%1e9, rand.IntN(1e6))
	o := Options{Schema: "dvsync_river_t" + suffix, StateSchema: "dvsync_state_t" + suffix, RescueAfter: rescue}
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), url)
		if err != nil {
			return
		}
		defer conn.Close(context.Background())
		for _, s := range []string{o.Schema, o.StateSchema} {
			conn.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+pgx.Identifier{s}.Sanitize()+` CASCADE`)
		}
	})
	return o
}

func openTestStore(t testing.TB, url string, o Options) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(context.Background(), url, pgstore.Options{Schema: o.StateSchema, MaxConns: 6})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// startWorkers runs n in-process workers until the test ends.
func startWorkers(t testing.TB, n int, o WorkerOptions) []*Worker {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var ws []*Worker
	for range n {
		w, err := NewWorker(ctx, o)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		ws = append(ws, w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Run(ctx); err != nil {
				t.Errorf("worker: %v", err)
			}
		}()
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		for _, w := range ws {
			w.Close()
		}
	})
	return ws
}

// odooEnv sets the secrets a worker of the reference servers reads.
func odooEnv(t testing.TB) {
	t.Setenv("DVSYNC_TOKEN", odoojobtest.DVToken)
	t.Setenv("ODOO_API_KEY", odoojobtest.OdooKey)
}

func faults(t testing.TB, spec string) *refserver.Faults {
	t.Helper()
	f, err := refserver.ParseFaults(spec)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func atoi(t testing.TB, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("%q is not a number", s)
	}
	return n
}

// noSlotsHeld fails the test if a worker still holds a request slot once
// its units are done: a slot never given back would shrink a user's
// budget for good.
func noSlotsHeld(t testing.TB, ws []*Worker) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		held := 0
		for _, w := range ws {
			for _, st := range w.Stats() {
				held += st.Slots.Held
			}
		}
		if held == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%d request slots still held after the run", held)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
