package migrations

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func embeddedSchema(t *testing.T) fstest.MapFS {
	t.Helper()
	sub, err := fs.Sub(schemaFS, "schema")
	if err != nil {
		t.Fatal(err)
	}
	m := fstest.MapFS{}
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, p)
		m[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSchemaMigrations(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "state.db")
	v1 := embeddedSchema(t)
	latest := len(v1)

	s, err := openSQLite(ctx, path, v1)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := s.SchemaVersion(ctx); v != latest {
		t.Fatalf("new file at version %d, want %d", v, latest)
	}
	if err := s.SetValue(ctx, "job", "watermark", "2024-01-01T00:00:00Z"); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// A later dvsync adds a migration: it is applied once, data survives.
	v2 := embeddedSchema(t)
	next := latest + 1
	name := fmt.Sprintf("%04d_labels.sql", next)
	v2[name] = &fstest.MapFile{Data: []byte(`ALTER TABLE job_values ADD COLUMN label TEXT NOT NULL DEFAULT 'none';`)}
	for range 2 {
		s, err = openSQLite(ctx, path, v2)
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := s.SchemaVersion(ctx); v != next {
			t.Fatalf("upgraded file at version %d, want %d", v, next)
		}
		var label, value string
		if err := s.db.QueryRowContext(ctx, `SELECT label, value FROM job_values WHERE job = 'job'`).Scan(&label, &value); err != nil {
			t.Fatal(err)
		}
		if label != "none" || value != "2024-01-01T00:00:00Z" {
			t.Errorf("after upgrade: label %q value %q", label, value)
		}
		var applied int
		s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_version`).Scan(&applied)
		if applied != next {
			t.Errorf("schema_version has %d rows, want %d", applied, next)
		}
		s.Close()
	}

	// The older dvsync refuses the newer file instead of misreading it.
	_, err = openSQLite(ctx, path, v1)
	var sv *SchemaVersionError
	if !errors.As(err, &sv) || sv.Found != next || sv.Latest != latest {
		t.Errorf("old schema on new file: %v", err)
	}

	// A broken migration leaves the file at its previous version.
	bad := embeddedSchema(t)
	bad[name] = &fstest.MapFile{Data: []byte(`ALTER TABLE nowhere ADD COLUMN x TEXT;`)}
	p2 := filepath.Join(t.TempDir(), "b.db")
	if _, err := openSQLite(ctx, p2, bad); err == nil || !strings.Contains(err.Error(), name) {
		t.Errorf("broken migration: %v", err)
	}
	s, err = openSQLite(ctx, p2, v1)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := s.SchemaVersion(ctx); v != latest {
		t.Errorf("after a failed migration the file is at %d, want %d", v, latest)
	}
	s.Close()

	gap := embeddedSchema(t)
	gap[fmt.Sprintf("%04d_gap.sql", latest+2)] = &fstest.MapFile{Data: []byte(`SELECT 1;`)}
	if _, err := openSQLite(ctx, filepath.Join(t.TempDir(), "c.db"), gap); err == nil || !strings.Contains(err.Error(), "without gaps") {
		t.Errorf("gap in versions: %v", err)
	}
}

func TestSQLiteStore(t *testing.T) {
	ctx := t.Context()
	s, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	if _, ok, err := s.Value(ctx, "j", "delta"); ok || err != nil {
		t.Errorf("absent value: %v %v", ok, err)
	}
	s.SetValue(ctx, "j", "delta", "a")
	s.SetValue(ctx, "j", "delta", "b")
	if v, ok, _ := s.Value(ctx, "j", "delta"); !ok || v != "b" {
		t.Errorf("value %q %v", v, ok)
	}

	run, err := s.BeginRun(ctx, "j", []string{"one", "two"})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Commit(ctx, Commit{Job: "j", Step: "one", RunID: run, Cursor: "10",
		IDs: []IDEntry{
			{SourceID: "7", Seq: 1, Ref: Ref{Table: "contact", Key: "id=c"}},
			{SourceID: "7", Seq: 0, Ref: Ref{Table: "account", Key: "id=a", ID: "a"}},
		},
		Rejects: []RejectState{{SourceID: "8", Reason: "map", Error: "no name"}},
		Counts:  Counts{Read: 2, Created: 1, Rejected: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	refs, err := s.LookupIDs(ctx, "j", "one", "7")
	if err != nil || len(refs) != 2 || refs[0].Table != "account" || refs[1].Table != "contact" {
		t.Errorf("lookup %+v %v", refs, err)
	}
	// A re-write whose response names no ID keeps the known ID.
	s.Commit(ctx, Commit{Job: "j", Step: "one", RunID: run, IDs: []IDEntry{{SourceID: "7", Seq: 0, Ref: Ref{Table: "account", Key: "id=a"}}},
		Cleared: []string{"8"}, Counts: Counts{Read: 1, Unchanged: 1}})
	refs, _ = s.LookupIDs(ctx, "j", "one", "7")
	if refs[0].ID != "a" {
		t.Errorf("ID lost on re-write: %+v", refs[0])
	}
	if cp, _ := s.Checkpoint(ctx, "j", "one"); cp.Cursor != "10" || cp.Done {
		t.Errorf("empty cursor moved the checkpoint: %+v", cp)
	}
	for r, err := range s.Rejects(ctx, "j", "one") {
		t.Errorf("cleared reject still listed: %+v %v", r, err)
	}
	s.Commit(ctx, Commit{Job: "j", Step: "two", Cursor: "x", Done: true})
	if err := s.ResetCheckpoints(ctx, "j", "two"); err != nil {
		t.Fatal(err)
	}
	if cp, _ := s.Checkpoint(ctx, "j", "two"); cp.Cursor != "" {
		t.Errorf("reset kept %+v", cp)
	}
	if cp, _ := s.Checkpoint(ctx, "j", "one"); cp.Cursor != "10" {
		t.Errorf("reset of two touched one: %+v", cp)
	}

	// A run left "running" by a dead process (simulated by closing the
	// store, which drops the lock as the kernel would) is marked
	// interrupted by the next run.
	path := s.path
	s.Close()
	if s, err = OpenSQLite(ctx, path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.BeginRun(ctx, "j", []string{"one"}); err != nil {
		t.Fatal(err)
	}
	runs, err := s.Runs(ctx, "j")
	if err != nil || len(runs) != 2 {
		t.Fatalf("runs %+v %v", runs, err)
	}
	first := runs[0]
	if first.Status != StatusInterrupted || first.Steps[0].Step != "one" || first.Steps[0].Counts != (Counts{Read: 3, Created: 1, Unchanged: 1, Rejected: 1}) ||
		first.Steps[0].Status != StatusInterrupted {
		t.Errorf("first run %+v", first)
	}
	if runs[1].Status != StatusRunning {
		t.Errorf("second run %+v", runs[1])
	}
}

func TestJobLock(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "s.db")
	a, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	run, err := a.BeginRun(ctx, "odoo/helpdesk", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.BeginRun(ctx, "odoo/helpdesk", nil)
	var running *JobRunningError
	if !errors.As(err, &running) || running.Job != "odoo/helpdesk" {
		t.Fatalf("second run of a running job: %v", err)
	}
	other, err := b.BeginRun(ctx, "usd", nil)
	if err != nil {
		t.Fatalf("another job is blocked: %v", err)
	}
	b.EndRun(ctx, other, StatusSucceeded, "")
	// The failed attempt did not mark the running run interrupted.
	runs, _ := a.Runs(ctx, "odoo/helpdesk")
	if len(runs) != 1 || runs[0].Status != StatusRunning {
		t.Errorf("runs %+v", runs)
	}
	if err := a.EndRun(ctx, run, StatusSucceeded, ""); err != nil {
		t.Fatal(err)
	}
	again, err := b.BeginRun(ctx, "odoo/helpdesk", nil)
	if err != nil {
		t.Fatalf("after EndRun: %v", err)
	}
	// Close releases a run's lock too (a crashed process releases it
	// through the kernel, which TestKillAndResume exercises).
	b.Close()
	if _, err := a.BeginRun(ctx, "odoo/helpdesk", nil); err != nil {
		t.Fatalf("after Close of the holder (run %s): %v", again, err)
	}
}
