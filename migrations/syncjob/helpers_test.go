package syncjob_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/migrations/mirror"
	"github.com/dvsync/dvsync/migrations/syncjob"
)

const refToken = "sync-test-token"

const accountID = "0a0a0a0a-0000-4000-8000-0000000000aa"

type env struct {
	srv *refserver.Server
	url string
	dir string
}

func newEnv(t testing.TB, o refserver.Options) *env {
	t.Helper()
	dir := t.TempDir()
	o.Token = refToken
	if o.DataPath == "" {
		o.DataPath = filepath.Join(dir, "dataverse.db")
	}
	srv, err := refserver.New(o)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { hs.Close(); srv.Close() })
	e := &env{srv: srv, url: hs.URL, dir: dir}
	err = srv.InsertRows(context.Background(), "account", 1, func(int) map[string]any {
		return map[string]any{"accountid": accountID, "name": "Contoso", "statecode": 0, "statuscode": 1}
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func incidentID(i int) string { return fmt.Sprintf("%08x-0000-4000-8000-%012x", i/65536, i) }

// seedIncidents stores n incidents directly in the reference server.
func (e *env) seedIncidents(t testing.TB, n int) {
	t.Helper()
	err := e.srv.InsertRows(context.Background(), "incident", n, func(i int) map[string]any {
		return map[string]any{
			"incidentid": incidentID(i), "title": fmt.Sprintf("Case %07d", i), "ticketnumber": fmt.Sprintf("CAS-%07d", i),
			"prioritycode": i%3 + 1, "caseorigincode": i%3 + 1, "statecode": 0, "statuscode": 1,
			"customerid": refserver.Ref{Table: "account", ID: accountID},
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

// client returns a client with a request counter and fast retries.
func (e *env) client(t testing.TB, pageSize int) (*dataverse.Client, *syncjob.Counter) {
	t.Helper()
	ctr := &syncjob.Counter{}
	c, err := dataverse.NewClient(e.url, dataverse.StaticToken(refToken), &dataverse.ClientOptions{
		Transport: ctr, PageSize: pageSize, RetryWaitMin: time.Millisecond, RetryWaitMax: 20 * time.Millisecond, MaxRetries: 20})
	if err != nil {
		t.Fatal(err)
	}
	return c, ctr
}

// job writes a job file for a Dataverse → database job and parses it.
func (e *env) job(t testing.TB, name, target string, pageSize int, tables ...string) *syncjob.Job {
	t.Helper()
	text := fmt.Sprintf("name: %s\nsource:\n  dataverse: {env: %s}\ntarget:\n  %s\ntables: [%s]\npage_size: %d\n",
		name, e.url, target, strings.Join(tables, ", "), pageSize)
	path := filepath.Join(e.dir, name+".yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	j, err := syncjob.LoadJob(path)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func openStore(t testing.TB, spec string) *syncjob.Store {
	t.Helper()
	st, err := syncjob.OpenStore(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// assertMirror checks that the mirror holds exactly the source's rows of
// table, each with the source's values: same keys, same value hashes.
func assertMirror(t testing.TB, c *dataverse.Client, kind mirror.Kind, dsn, table string) int {
	t.Helper()
	ctx := context.Background()
	db, err := mirror.Open(ctx, kind, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	def, err := c.Table(ctx, table)
	if err != nil {
		t.Fatal(err)
	}
	mt, err := db.Table(ctx, def, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := mt.Hashes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	missing, differ := 0, 0
	for rec, err := range c.Records(ctx, table, dataverse.Query{Select: mt.Select(), Annotations: mt.Annotations()}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		id := strings.ToLower(rec.String(def.PrimaryID))
		h, ok := got[id]
		switch {
		case !ok:
			missing++
		case h != mt.HashOf(rec):
			differ++
		}
		delete(got, id)
	}
	if missing > 0 || differ > 0 || len(got) > 0 {
		t.Fatalf("mirror of %s: %d source rows, %d missing from the mirror, %d differing, %d in the mirror but not in the source",
			table, n, missing, differ, len(got))
	}
	return n
}

func tableSummary(t testing.TB, s *syncjob.Summary, table string) syncjob.TableSummary {
	t.Helper()
	for _, ts := range s.Tables {
		if ts.Table == table {
			if !ts.Reconciles() {
				t.Fatalf("%s: counts do not reconcile: %+v", table, ts.Counts)
			}
			return ts
		}
	}
	t.Fatalf("no summary for %s", table)
	return syncjob.TableSummary{}
}

func uuidOf(s string) (uuid.UUID, error) { return uuid.Parse(s) }
