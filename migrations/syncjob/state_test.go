package syncjob_test

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/mirror"
	"github.com/dvsync/dvsync/migrations/syncjob"
)

// stores runs f on a SQLite store file and, when DVSYNC_TEST_POSTGRES is
// set, on a PostgreSQL schema of its own: each backing opens two handles,
// as two processes would.
func stores(t *testing.T, f func(t *testing.T, spec string)) {
	t.Run("sqlite", func(t *testing.T) { f(t, filepath.Join(t.TempDir(), "state.db")) })
	t.Run("postgres", func(t *testing.T) {
		if os.Getenv("DVSYNC_TEST_POSTGRES") == "" && os.Getenv("CI") != "true" {
			t.Skip("DVSYNC_TEST_POSTGRES not set; skipping the PostgreSQL store")
		}
		f(t, postgresURL(t))
	})
}

// Two processes that read the same delta token cannot both advance it: the
// second save fails with a conflict and leaves the first one's token.
func TestCheckpointCompareAndSwap(t *testing.T) {
	stores(t, func(t *testing.T, spec string) {
		ctx := t.Context()
		a, b := openStore(t, spec), openStore(t, spec)
		cp := syncjob.Checkpoint{Mode: syncjob.ModeChangeTracking, Phase: "current", Link: "token-1"}
		if err := a.SaveCheckpoint(ctx, "j", "incident", cp); err != nil {
			t.Fatal(err)
		}
		for _, s := range []*syncjob.Store{a, b} {
			if got, err := s.Checkpoint(ctx, "j", "incident"); err != nil || got.Link != "token-1" {
				t.Fatalf("checkpoint %+v %v", got, err)
			}
		}
		cp.Link = "token-2a"
		if err := a.SaveCheckpoint(ctx, "j", "incident", cp); err != nil {
			t.Fatal(err)
		}
		cp.Link = "token-2b"
		var conflict *migrations.ConflictError
		if err := b.SaveCheckpoint(ctx, "j", "incident", cp); !errors.As(err, &conflict) {
			t.Fatalf("stale save: %v", err)
		}
		if got, _ := b.Checkpoint(ctx, "j", "incident"); got.Link != "token-2a" {
			t.Errorf("token after the refused save: %q", got.Link)
		}
		// b read it again: now it may advance.
		cp.Link = "token-3"
		if err := b.SaveCheckpoint(ctx, "j", "incident", cp); err != nil {
			t.Errorf("save after a fresh read: %v", err)
		}
		// Both saw no checkpoint: the first to create one wins.
		a.Checkpoint(ctx, "j", "account")
		b.Checkpoint(ctx, "j", "account")
		errA := a.SaveCheckpoint(ctx, "j", "account", cp)
		errB := b.SaveCheckpoint(ctx, "j", "account", cp)
		if errA != nil || !errors.As(errB, &conflict) {
			t.Errorf("first checkpoint race: %v / %v", errA, errB)
		}
	})
}

// Clear forgets checkpoints, keys and recorded environments under the
// job's lock, and keeps the journal and other jobs.
func TestStoreClear(t *testing.T) {
	stores(t, func(t *testing.T, spec string) {
		ctx := t.Context()
		s := openStore(t, spec)
		for _, job := range []string{"j", "keep"} {
			if err := s.SaveCheckpoint(ctx, job, "incident", syncjob.Checkpoint{Phase: "current", Link: "t"}); err != nil {
				t.Fatal(err)
			}
			if err := s.SaveKeys(ctx, job, "incident", []syncjob.KeyEntry{{SourceID: "1", TargetKey: `{"ID":"1"}`, Gen: 1}}); err != nil {
				t.Fatal(err)
			}
			if err := s.SetEnd(ctx, job, syncjob.RoleSource, migrations.TargetInfo{ID: "org", URL: "https://a/"}); err != nil {
				t.Fatal(err)
			}
			id, err := s.BeginRun(ctx, job)
			if err != nil {
				t.Fatal(err)
			}
			s.EndRun(ctx, id, "succeeded", 0, "", nil)
		}
		unlock, err := openStore(t, spec).Lock(ctx, "j")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Clear(ctx, "j"); !errors.Is(err, syncjob.ErrLocked) {
			t.Fatalf("Clear while a run holds the lock: %v", err)
		}
		unlock()
		if err := s.Clear(ctx, "j"); err != nil {
			t.Fatal(err)
		}
		if cp, _ := s.Checkpoint(ctx, "j", "incident"); cp.Phase != "" {
			t.Errorf("checkpoint kept: %+v", cp)
		}
		if has, _ := s.HasKeys(ctx, "j", "incident"); has {
			t.Error("keys kept")
		}
		if _, ok, _ := s.End(ctx, "j", syncjob.RoleSource); ok {
			t.Error("recorded source kept")
		}
		if runs, _ := s.Runs(ctx, "j", 0); len(runs) != 1 {
			t.Errorf("journal: %d runs", len(runs))
		}
		if cp, _ := s.Checkpoint(ctx, "keep", "incident"); cp.Link != "t" {
			t.Errorf("other job touched: %+v", cp)
		}
		// The cleared table starts again from nothing.
		if err := s.SaveCheckpoint(ctx, "j", "incident", syncjob.Checkpoint{Phase: "baseline"}); err != nil {
			t.Errorf("save after Clear: %v", err)
		}
	})
}

// A store written before the schema was versioned opens with its state
// intact; one written by a newer dvsync is refused.
func TestStoreSchemaUpgrade(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE dvsync_sync_state (job TEXT NOT NULL, tbl TEXT NOT NULL, state TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (job, tbl))`,
		`CREATE TABLE dvsync_sync_runs (run_id TEXT PRIMARY KEY, job TEXT NOT NULL, started_at TEXT NOT NULL, ended_at TEXT, status TEXT NOT NULL, exit_code INTEGER NOT NULL DEFAULT 0, error TEXT, summary TEXT)`,
		`CREATE TABLE dvsync_sync_keys (job TEXT NOT NULL, tbl TEXT NOT NULL, source_id TEXT NOT NULL, target_key TEXT NOT NULL, gen BIGINT NOT NULL, PRIMARY KEY (job, tbl, source_id))`,
		`INSERT INTO dvsync_sync_state VALUES ('j', 'incident', '{"mode":"change-tracking","phase":"current","link":"old-token","gen":3}', '2025-01-01T00:00:00Z')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s := openStore(t, path)
	if v, err := s.SchemaVersion(ctx); err != nil || v != 3 {
		t.Fatalf("schema version %d %v", v, err)
	}
	cp, err := s.Checkpoint(ctx, "j", "incident")
	if err != nil || cp.Link != "old-token" || cp.Gen != 3 {
		t.Fatalf("old checkpoint %+v %v", cp, err)
	}
	cp.Link = "new-token"
	if err := s.SaveCheckpoint(ctx, "j", "incident", cp); err != nil {
		t.Fatal(err)
	}
	s.Close()

	db, _ = sql.Open("sqlite", path)
	db.Exec(`INSERT INTO dvsync_sync_schema_version VALUES (99, '2030-01-01')`)
	db.Close()
	var newer *syncjob.SchemaVersionError
	if _, err := syncjob.OpenStore(ctx, path); !errors.As(err, &newer) || newer.Found != 99 {
		t.Errorf("newer store: %v", err)
	}
}

func TestOpenStoreErrorsNameNoPassword(t *testing.T) {
	_, err := syncjob.OpenStore(t.Context(), "postgres://u:s3cret@127.0.0.1:1/db?connect_timeout=2")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("open of a closed port: %v", err)
	}
	_, err = syncjob.OpenStore(t.Context(), "postgres://u:s3cret@127.0.0.1:1/db?search_path=Bad-Name")
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "schema name") {
		t.Errorf("bad schema: %v", err)
	}
}

// otherOrg serves the reference server as another organisation would:
// WhoAmI names a different OrganizationId.
func otherOrg(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/WhoAmI") {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"BusinessUnitId":"5f9b2f0c-3c8e-4d4b-8f5e-6275736e6573","UserId":"8a4d1c3e-9b7f-4e2a-a6d5-61646d696e31","OrganizationId":"0b0b0b0b-0000-4000-8000-00000000000b"}`))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// A sync state holds delta tokens of one organisation: run against
// another, it refuses before reading or writing anything; Fresh starts
// the job over.
func TestSyncRefusesStateOfAnotherOrganisation(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, refserver.Options{})
	e.seedIncidents(t, 12)
	c, ctr := e.client(t, 5)
	mirrorFile := filepath.Join(e.dir, "mirror.db")
	job := e.job(t, "orgs", "sqlite: "+mirrorFile, 5, "incident")
	st := openStore(t, filepath.Join(e.dir, "state.db"))
	if _, err := syncjob.Run(ctx, job, syncjob.Options{Client: c, Counter: ctr, Store: st}); err != nil {
		t.Fatal(err)
	}
	rec, ok, err := st.End(ctx, "orgs", syncjob.RoleSource)
	if err != nil || !ok || rec.URL != c.ServiceRoot() || rec.ID == "" {
		t.Fatalf("recorded source %+v %v %v", rec, ok, err)
	}
	before, _ := st.Checkpoint(ctx, "orgs", "incident")

	hs := httptest.NewServer(otherOrg(e.srv))
	t.Cleanup(hs.Close)
	other, err := dataverse.NewClient(hs.URL, dataverse.StaticToken(refToken), &dataverse.ClientOptions{Transport: ctr, PageSize: 5})
	if err != nil {
		t.Fatal(err)
	}
	_, err = syncjob.Run(ctx, job, syncjob.Options{Client: other, Counter: ctr, Store: st})
	var mismatch *migrations.TargetMismatchError
	if !errors.As(err, &mismatch) || mismatch.Recorded.ID != rec.ID || mismatch.Current.URL != other.ServiceRoot() {
		t.Fatalf("run against another organisation: %v", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("message spans lines: %q", err)
	}
	if after, _ := st.Checkpoint(ctx, "orgs", "incident"); after != before {
		t.Errorf("a refused run moved the checkpoint: %+v → %+v", before, after)
	}
	if runs, _ := st.Runs(ctx, "orgs", 0); len(runs) != 1 {
		t.Errorf("a refused run was journalled: %d runs", len(runs))
	}

	if err := syncjob.Fresh(ctx, job, st, nil); err != nil {
		t.Fatal(err)
	}
	sum, err := syncjob.Run(ctx, job, syncjob.Options{Client: other, Counter: ctr, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if ts := tableSummary(t, sum, "incident"); ts.Read != 12 {
		t.Errorf("fresh run read %d rows, want the full table", ts.Read)
	}
	if rec, _, _ := st.End(ctx, "orgs", syncjob.RoleSource); rec.URL != other.ServiceRoot() {
		t.Errorf("recorded source after the fresh run: %+v", rec)
	}
	assertMirror(t, other, mirror.SQLite, mirrorFile, "incident")
}

// SaveProgress adds a page's figures and rejects to its run only with its
// checkpoint: a save refused by the compare-and-swap (another process
// moved the checkpoint) records neither, and RunResult reads what was
// recorded, rejects in order.
func TestSaveProgressGoesWithTheCheckpoint(t *testing.T) {
	stores(t, func(t *testing.T, spec string) {
		ctx := t.Context()
		a, b := openStore(t, spec), openStore(t, spec)
		at := func(s string) time.Time { tm, _ := time.Parse(time.RFC3339, s); return tm }
		page := func(id string, when string) syncjob.RunProgress {
			return syncjob.RunProgress{RunID: "r1", Counts: syncjob.Counts{Read: 3, Upserted: 2, Rejected: 1, Requests: 4},
				Rejects: []syncjob.Reject{{Time: at(when), Job: "j", Table: "incident", ID: id, Error: "refused " + id}}}
		}
		cp := syncjob.Checkpoint{Mode: syncjob.ModeChangeTracking, Phase: "baseline", Link: "page-2"}
		if err := a.SaveProgress(ctx, "j", "incident", cp, page("a", "2025-01-01T00:00:01Z")); err != nil {
			t.Fatal(err)
		}
		b.Checkpoint(ctx, "j", "incident")
		cp.Link = "page-3"
		if err := a.SaveProgress(ctx, "j", "incident", cp, page("b", "2025-01-01T00:00:02Z")); err != nil {
			t.Fatal(err)
		}
		// b read page-2's checkpoint: its page is not recorded.
		var conflict *migrations.ConflictError
		if err := b.SaveProgress(ctx, "j", "incident", cp, page("stale", "2025-01-01T00:00:03Z")); !errors.As(err, &conflict) {
			t.Fatalf("stale save: %v", err)
		}
		if err := a.SaveProgress(ctx, "j", "account", cp, syncjob.RunProgress{RunID: "r1", Counts: syncjob.Counts{Read: 1, Unchanged: 1}}); err != nil {
			t.Fatal(err)
		}
		if err := a.SaveProgress(ctx, "j", "account", cp, syncjob.RunProgress{RunID: "r2", Counts: syncjob.Counts{Read: 7, Unchanged: 7}}); err != nil {
			t.Fatal(err)
		}
		var ids []string
		got, err := b.RunResult(ctx, "j", "r1", func(r syncjob.Reject) error {
			if r.Job != "j" || r.Table != "incident" || r.Error != "refused "+r.ID {
				t.Errorf("reject %+v", r)
			}
			ids = append(ids, r.ID)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]syncjob.Counts{
			"incident": {Read: 6, Upserted: 4, Rejected: 2, Requests: 8},
			"account":  {Read: 1, Unchanged: 1},
		}
		if len(got) != len(want) || got["incident"] != want["incident"] || got["account"] != want["account"] {
			t.Errorf("run r1: %+v", got)
		}
		if strings.Join(ids, ",") != "a,b" {
			t.Errorf("rejects of r1: %v", ids)
		}
		if cur, _ := b.Checkpoint(ctx, "j", "incident"); cur.Link != "page-3" {
			t.Errorf("checkpoint after the refused save: %+v", cur)
		}
	})
}
