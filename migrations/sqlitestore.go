package migrations

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"net/url"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

//go:embed schema/*.sql
var schemaFS embed.FS

// SQLiteStore is the embedded state store: one SQLite file in WAL mode.
// Its schema is versioned; Open applies the embedded migrations
// (schema/NNNN_name.sql) that the file has not seen yet, each in its own
// transaction, and records the version in schema_version.
//
// Durability: synchronous=NORMAL in WAL mode survives a killed process
// (the case resumes are built for); a power loss may lose the last commits,
// which only means re-writing those batches, harmless because writes are
// idempotent.
type SQLiteStore struct {
	db   *sql.DB
	path string

	mu       sync.Mutex
	locks    map[string]*os.File // run ID -> job lock held by the run
	versions Versions
}

var _ Store = (*SQLiteStore)(nil)

// JobRunningError reports that another process is running the job with
// the same state: a SQLite file, or a PostgreSQL database (Path then names
// it without its password).
type JobRunningError struct {
	Job, Path string
}

func (e *JobRunningError) Error() string {
	return fmt.Sprintf("migrations: job %s is already running with the state in %s (another dvsync process holds its lock)", e.Job, e.Path)
}

var errLocked = errors.New("locked")

// SchemaVersionError reports a state file written by a newer dvsync.
type SchemaVersionError struct {
	Path          string
	Found, Latest int
}

func (e *SchemaVersionError) Error() string {
	return fmt.Sprintf("migrations: state file %s has schema version %d, newer than this dvsync understands (%d); use a newer dvsync or another --state file", e.Path, e.Found, e.Latest)
}

// OpenSQLite opens (creating it if needed) the state file at path and brings
// its schema up to date.
func OpenSQLite(ctx context.Context, path string) (*SQLiteStore, error) {
	sub, err := fs.Sub(schemaFS, "schema")
	if err != nil {
		return nil, err
	}
	return openSQLite(ctx, path, sub)
}

func openSQLite(ctx context.Context, file string, migrations fs.FS) (*SQLiteStore, error) {
	if file == "" {
		return nil, errors.New("migrations: empty state file path")
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+file+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("migrations: open state file %s: %w", file, err)
	}
	s := &SQLiteStore{db: db, path: file, locks: map[string]*os.File{}}
	if err := s.migrate(ctx, file, migrations); err != nil {
		db.Close()
		if corrupt(err) {
			return nil, &DamagedStateError{Path: file, Problems: []string{err.Error()}}
		}
		return nil, err
	}
	if err := s.checkAfterUncleanStop(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

type schemaStep struct {
	version int
	name    string
}

func (s *SQLiteStore) migrate(ctx context.Context, file string, migrations fs.FS) error {
	entries, err := fs.ReadDir(migrations, ".")
	if err != nil {
		return fmt.Errorf("migrations: read embedded schema: %w", err)
	}
	var steps []schemaStep
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		num, _, _ := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return fmt.Errorf("migrations: schema file %s must start with a positive version number", e.Name())
		}
		steps = append(steps, schemaStep{v, e.Name()})
	}
	slices.SortFunc(steps, func(a, b schemaStep) int { return a.version - b.version })
	for i, st := range steps {
		if st.version != i+1 {
			return fmt.Errorf("migrations: schema versions must run 1..n without gaps; found %s at position %d", st.name, i+1)
		}
	}
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("migrations: state file %s: %w", file, err)
	}
	var current int
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&current); err != nil {
		return fmt.Errorf("migrations: state file %s: %w", file, err)
	}
	if current > len(steps) {
		return &SchemaVersionError{Path: file, Found: current, Latest: len(steps)}
	}
	for _, st := range steps[current:] {
		body, err := fs.ReadFile(migrations, st.name)
		if err != nil {
			return err
		}
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migrations: state file %s: %w", file, err)
		}
		// Re-check inside the write transaction: another process may have
		// migrated the file meanwhile.
		var v int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v); err != nil {
			tx.Rollback()
			return err
		}
		if v >= st.version {
			tx.Rollback()
			continue
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrations: state file %s: apply schema %s: %w", file, st.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version, applied_at) VALUES (?, ?)`, st.version, now()); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrations: state file %s: apply schema %s: %w", file, st.name, err)
		}
	}
	return nil
}

// SchemaVersion returns the schema version of the open file.
func (s *SQLiteStore) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v)
	return v, err
}

func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// Close closes the file and releases the locks of runs not ended.
func (s *SQLiteStore) Close() error {
	s.mu.Lock()
	for id, l := range s.locks {
		unlockFile(l)
		delete(s.locks, id)
	}
	s.mu.Unlock()
	return s.db.Close()
}

// Checkpoint implements Store.
func (s *SQLiteStore) Checkpoint(ctx context.Context, job, step string) (Checkpoint, error) {
	var c Checkpoint
	var done int
	var at, written string
	var version int64
	err := s.db.QueryRowContext(ctx, `SELECT cursor, done, updated_at, version, written FROM checkpoints WHERE job = ? AND step = ?`, job, step).
		Scan(&c.Cursor, &done, &at, &version, &written)
	if errors.Is(err, sql.ErrNoRows) {
		s.versions.SeeCheckpoint(job, step, 0)
		return Checkpoint{}, nil
	}
	if err != nil {
		return Checkpoint{}, fmt.Errorf("migrations: read checkpoint of %s/%s: %w", job, step, err)
	}
	c.Done = done != 0
	c.UpdatedAt = parseTime(at)
	if c.Written, err = ParseWritten(written); err != nil {
		return Checkpoint{}, fmt.Errorf("migrations: checkpoint of %s/%s: %w", job, step, err)
	}
	s.versions.SeeCheckpoint(job, step, version)
	return c, nil
}

// Commit implements Store.
func (s *SQLiteStore) Commit(ctx context.Context, c Commit) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrations: commit %s/%s: %w", c.Job, c.Step, err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
			err = fmt.Errorf("migrations: commit %s/%s: %w", c.Job, c.Step, err)
		}
	}()
	if len(c.IDs) > 0 {
		st, err := tx.PrepareContext(ctx, `INSERT INTO idmap (job, step, source_id, seq, tbl, key, target_id) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (job, step, source_id, seq) DO UPDATE SET tbl = excluded.tbl, key = excluded.key,
			target_id = CASE WHEN excluded.target_id = '' THEN idmap.target_id ELSE excluded.target_id END`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, e := range c.IDs {
			if _, err := st.ExecContext(ctx, c.Job, c.Step, e.SourceID, e.Seq, e.Ref.Table, e.Ref.Key, e.Ref.ID); err != nil {
				return err
			}
		}
	}
	// A record is rejected or skipped, not both: first drop the rows that
	// no longer hold (written records leave both sets), then record the
	// batch's own.
	unrejected, unskipped := slices.Clone(c.Cleared), slices.Clone(c.Cleared)
	for _, k := range c.Skips {
		unrejected = append(unrejected, k.SourceID)
	}
	for _, r := range c.Rejects {
		unskipped = append(unskipped, r.SourceID)
	}
	if err := deleteSourceIDs(ctx, tx, "rejects", c.Job, c.Step, unrejected); err != nil {
		return err
	}
	if err := deleteSourceIDs(ctx, tx, "skips", c.Job, c.Step, unskipped); err != nil {
		return err
	}
	for _, r := range c.Rejects {
		if _, err := tx.ExecContext(ctx, `INSERT INTO rejects (job, step, source_id, run_id, reason, error) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (job, step, source_id) DO UPDATE SET run_id = excluded.run_id, reason = excluded.reason, error = excluded.error`,
			c.Job, c.Step, r.SourceID, c.RunID, r.Reason, r.Error); err != nil {
			return err
		}
	}
	if len(c.Skips) > 0 {
		st, err := tx.PrepareContext(ctx, `INSERT INTO skips (job, step, source_id, run_id, reason) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (job, step, source_id) DO UPDATE SET run_id = excluded.run_id, reason = excluded.reason`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, k := range c.Skips {
			if _, err := st.ExecContext(ctx, c.Job, c.Step, k.SourceID, c.RunID, k.Reason); err != nil {
				return err
			}
		}
	}
	var newVersion int64
	moved := c.Cursor != "" || c.Done
	if moved {
		if newVersion, err = s.swapCheckpoint(ctx, tx, c); err != nil {
			return err
		}
	}
	if c.RunID != "" && c.Counts != (Counts{}) {
		n := c.Counts
		if _, err := tx.ExecContext(ctx, `INSERT INTO run_steps (run_id, step, status, read, created, updated, written, unchanged, skipped, rejected, warned)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (run_id, step) DO UPDATE SET read = read + excluded.read, created = created + excluded.created,
				updated = updated + excluded.updated, written = written + excluded.written, unchanged = unchanged + excluded.unchanged,
				skipped = skipped + excluded.skipped, rejected = rejected + excluded.rejected, warned = warned + excluded.warned`,
			c.RunID, c.Step, StatusRunning, n.Read, n.Created, n.Updated, n.Written, n.Unchanged, n.Skipped, n.Rejected, n.Warned); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if moved {
		s.versions.SeeCheckpoint(c.Job, c.Step, newVersion)
	}
	return nil
}

// deleteSourceIDs deletes the rows of ids from a rejects or skips table in
// one statement (a primary-key search per ID), so a batch costs the same
// few statements however many records it wrote.
func deleteSourceIDs(ctx context.Context, tx *sql.Tx, table, job, step string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE job = ? AND step = ? AND source_id IN (SELECT value FROM json_each(?))`, job, step, string(list))
	return err
}

// swapCheckpoint advances a step's checkpoint from the version this store
// last saw; a store that never read it reads its version now (the engine
// always reads a step's checkpoint before it commits).
func (s *SQLiteStore) swapCheckpoint(ctx context.Context, tx *sql.Tx, c Commit) (int64, error) {
	expected, ok := s.versions.Checkpoint(c.Job, c.Step)
	if !ok {
		err := tx.QueryRowContext(ctx, `SELECT version FROM checkpoints WHERE job = ? AND step = ?`, c.Job, c.Step).Scan(&expected)
		if errors.Is(err, sql.ErrNoRows) {
			expected = 0
		} else if err != nil {
			return 0, err
		}
	}
	sample := c.Written
	if len(sample) == 0 {
		sample = SampleWritten(c.IDs)
	}
	written := FormatWritten(sample)
	conflict := &ConflictError{Job: c.Job, Name: "the checkpoint of step " + c.Step}
	if expected == 0 {
		res, err := tx.ExecContext(ctx, `INSERT INTO checkpoints (job, step, cursor, done, updated_at, version, written) VALUES (?, ?, ?, ?, ?, 1, ?)
			ON CONFLICT (job, step) DO NOTHING`, c.Job, c.Step, c.Cursor, boolInt(c.Done), now(), written)
		if err != nil {
			return 0, err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return 0, conflict
		}
		return 1, nil
	}
	var version int64
	err := tx.QueryRowContext(ctx, `UPDATE checkpoints SET
			cursor = CASE WHEN ?3 = '' THEN cursor ELSE ?3 END,
			done = ?4, updated_at = ?5, version = version + 1,
			written = CASE WHEN ?6 = '' THEN written ELSE ?6 END
		WHERE job = ?1 AND step = ?2 AND version = ?7 RETURNING version`,
		c.Job, c.Step, c.Cursor, boolInt(c.Done), now(), written, expected).Scan(&version)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, conflict
	}
	return version, err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ResetCheckpoints implements Store.
func (s *SQLiteStore) ResetCheckpoints(ctx context.Context, job string, steps ...string) error {
	var err error
	if len(steps) == 0 {
		_, err = s.db.ExecContext(ctx, `DELETE FROM checkpoints WHERE job = ?`, job)
	} else {
		tx, terr := s.db.BeginTx(ctx, nil)
		if terr != nil {
			return terr
		}
		for _, st := range steps {
			if _, err = tx.ExecContext(ctx, `DELETE FROM checkpoints WHERE job = ? AND step = ?`, job, st); err != nil {
				tx.Rollback()
				break
			}
		}
		if err == nil {
			err = tx.Commit()
		}
	}
	if err != nil {
		return fmt.Errorf("migrations: reset checkpoints of %s: %w", job, err)
	}
	s.versions.Forget(job, steps...)
	return nil
}

// LookupIDs implements Store.
func (s *SQLiteStore) LookupIDs(ctx context.Context, job, step, sourceID string) ([]Ref, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT tbl, key, target_id FROM idmap WHERE job = ? AND step = ? AND source_id = ? ORDER BY seq`, job, step, sourceID)
	if err != nil {
		return nil, fmt.Errorf("migrations: look up %s/%s %s: %w", job, step, sourceID, err)
	}
	defer rows.Close()
	var refs []Ref
	for rows.Next() {
		var r Ref
		if err := rows.Scan(&r.Table, &r.Key, &r.ID); err != nil {
			return nil, err
		}
		refs = append(refs, r)
	}
	return refs, rows.Err()
}

// Value implements Store.
func (s *SQLiteStore) Value(ctx context.Context, job, name string) (string, bool, error) {
	var v string
	var version int64
	err := s.db.QueryRowContext(ctx, `SELECT value, version FROM job_values WHERE job = ? AND name = ?`, job, name).Scan(&v, &version)
	if errors.Is(err, sql.ErrNoRows) {
		s.versions.SeeValue(job, name, 0)
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("migrations: read %s/%s: %w", job, name, err)
	}
	s.versions.SeeValue(job, name, version)
	return v, true, nil
}

// SetValue implements Store as a compare-and-swap against the version this
// store last read or wrote. A value never read here is written whatever
// holds it (it cannot be advanced from a stale position this store holds).
func (s *SQLiteStore) SetValue(ctx context.Context, job, name, value string) error {
	expected, ok := s.versions.Value(job, name)
	var version int64
	var err error
	switch {
	case !ok:
		err = s.db.QueryRowContext(ctx, `INSERT INTO job_values (job, name, value, updated_at, version) VALUES (?, ?, ?, ?, 1)
			ON CONFLICT (job, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, version = job_values.version + 1
			RETURNING version`, job, name, value, now()).Scan(&version)
	case expected == 0:
		err = s.db.QueryRowContext(ctx, `INSERT INTO job_values (job, name, value, updated_at, version) VALUES (?, ?, ?, ?, 1)
			ON CONFLICT (job, name) DO NOTHING RETURNING version`, job, name, value, now()).Scan(&version)
	default:
		err = s.db.QueryRowContext(ctx, `UPDATE job_values SET value = ?, updated_at = ?, version = version + 1
			WHERE job = ? AND name = ? AND version = ? RETURNING version`, value, now(), job, name, expected).Scan(&version)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return &ConflictError{Job: job, Name: "value " + name}
	}
	if err != nil {
		return fmt.Errorf("migrations: write %s/%s: %w", job, name, err)
	}
	s.versions.SeeValue(job, name, version)
	return nil
}

// Target implements Store.
func (s *SQLiteStore) Target(ctx context.Context, job string) (TargetInfo, bool, error) {
	var t TargetInfo
	var at string
	err := s.db.QueryRowContext(ctx, `SELECT target_id, url, recorded_at FROM job_targets WHERE job = ?`, job).Scan(&t.ID, &t.URL, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return TargetInfo{}, false, nil
	}
	if err != nil {
		return TargetInfo{}, false, fmt.Errorf("migrations: read the target of %s: %w", job, err)
	}
	t.Recorded = parseTime(at)
	return t, true, nil
}

// SetTarget implements Store.
func (s *SQLiteStore) SetTarget(ctx context.Context, job string, t TargetInfo) error {
	at := now()
	_, err := s.db.ExecContext(ctx, `INSERT INTO job_targets (job, target_id, url, recorded_at, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (job) DO UPDATE SET target_id = excluded.target_id, url = excluded.url, updated_at = excluded.updated_at`,
		job, t.ID, t.URL, at, at)
	if err != nil {
		return fmt.Errorf("migrations: record the target of %s: %w", job, err)
	}
	return nil
}

// Clear implements Store. It holds the job's lock while it deletes, so a
// run in another process is never cleared under its feet.
func (s *SQLiteStore) Clear(ctx context.Context, job string) (err error) {
	lock, err := lockFile(s.path + "." + lockName(job) + ".lock")
	if errors.Is(err, errLocked) {
		return &JobRunningError{Job: job, Path: s.path}
	}
	if err != nil {
		return fmt.Errorf("migrations: clear %s: %w", job, err)
	}
	defer unlockFile(lock)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrations: clear %s: %w", job, err)
	}
	defer tx.Rollback()
	for _, table := range []string{"checkpoints", "idmap", "job_values", "rejects", "skips", "job_targets"} {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE job = ?`, job); err != nil {
			return fmt.Errorf("migrations: clear %s: %w", job, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrations: clear %s: %w", job, err)
	}
	s.versions.Forget(job)
	return nil
}

// Rejects implements Store.
func (s *SQLiteStore) Rejects(ctx context.Context, job, step string) iter.Seq2[RejectState, error] {
	return func(yield func(RejectState, error) bool) {
		rows, err := s.db.QueryContext(ctx, `SELECT source_id, run_id, reason, error FROM rejects WHERE job = ? AND step = ? ORDER BY source_id`, job, step)
		if err != nil {
			yield(RejectState{}, err)
			return
		}
		defer rows.Close()
		for rows.Next() {
			var r RejectState
			if err := rows.Scan(&r.SourceID, &r.RunID, &r.Reason, &r.Error); err != nil {
				yield(RejectState{}, err)
				return
			}
			if !yield(r, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(RejectState{}, err)
		}
	}
}

// Skips implements Store.
func (s *SQLiteStore) Skips(ctx context.Context, job, step string) iter.Seq2[SkipState, error] {
	return func(yield func(SkipState, error) bool) {
		rows, err := s.db.QueryContext(ctx, `SELECT source_id, run_id, reason FROM skips WHERE job = ? AND step = ? ORDER BY source_id`, job, step)
		if err != nil {
			yield(SkipState{}, err)
			return
		}
		defer rows.Close()
		for rows.Next() {
			var k SkipState
			if err := rows.Scan(&k.SourceID, &k.RunID, &k.Reason); err != nil {
				yield(SkipState{}, err)
				return
			}
			if !yield(k, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(SkipState{}, err)
		}
	}
}

// BeginRun implements Store. It takes a lock on the job (a file beside the
// state file, flock'ed, so the kernel drops it when the process dies) that
// EndRun releases: a second process running the same job fails with
// *JobRunningError instead of interleaving its writes and marking the
// first run interrupted.
func (s *SQLiteStore) BeginRun(ctx context.Context, job string, steps []string) (_ string, err error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", err
	}
	lock, err := lockFile(s.path + "." + lockName(job) + ".lock")
	if errors.Is(err, errLocked) {
		return "", &JobRunningError{Job: job, Path: s.path}
	}
	if err != nil {
		return "", fmt.Errorf("migrations: begin run of %s: %w", job, err)
	}
	defer func() {
		if err != nil {
			unlockFile(lock)
		}
	}()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("migrations: begin run of %s: %w", job, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE run_steps SET status = ? WHERE status IN (?, ?) AND run_id IN (SELECT run_id FROM runs WHERE job = ? AND status = ?)`,
		StatusInterrupted, StatusRunning, StatusPending, job, StatusRunning); err != nil {
		return "", err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE runs SET status = ?, error = 'process ended without closing the run' WHERE job = ? AND status = ?`,
		StatusInterrupted, job, StatusRunning); err != nil {
		return "", err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO runs (run_id, job, started_at, status) VALUES (?, ?, ?, ?)`, id.String(), job, now(), StatusRunning); err != nil {
		return "", err
	}
	for i, st := range steps {
		if _, err := tx.ExecContext(ctx, `INSERT INTO run_steps (run_id, step, pos, status) VALUES (?, ?, ?, ?)`, id.String(), st, i, StatusPending); err != nil {
			return "", err
		}
	}
	if err := tx.Commit(); err != nil {
		return "", fmt.Errorf("migrations: begin run of %s: %w", job, err)
	}
	s.mu.Lock()
	s.locks[id.String()] = lock
	s.mu.Unlock()
	return id.String(), nil
}

// lockName makes a job name safe as part of a file name.
func lockName(job string) string {
	var b strings.Builder
	for _, r := range job {
		if r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(&b, "%%%02x", r)
		}
	}
	return b.String()
}

// SetStepStatus implements Store.
func (s *SQLiteStore) SetStepStatus(ctx context.Context, runID, step string, status Status) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO run_steps (run_id, step, status) VALUES (?, ?, ?)
		ON CONFLICT (run_id, step) DO UPDATE SET status = excluded.status`, runID, step, status)
	return err
}

// EndRun implements Store and releases the job's lock.
func (s *SQLiteStore) EndRun(ctx context.Context, runID string, status Status, errMsg string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE runs SET ended_at = ?, status = ?, error = ? WHERE run_id = ?`, now(), status, errMsg, runID)
	s.mu.Lock()
	lock := s.locks[runID]
	delete(s.locks, runID)
	s.mu.Unlock()
	if lock != nil {
		unlockFile(lock)
	}
	return err
}

// Runs implements Store.
func (s *SQLiteStore) Runs(ctx context.Context, job string) ([]RunRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT run_id, started_at, COALESCE(ended_at, ''), status, error FROM runs WHERE job = ? ORDER BY started_at, run_id`, job)
	if err != nil {
		return nil, err
	}
	var runs []RunRecord
	for rows.Next() {
		r := RunRecord{Job: job}
		var started, ended string
		if err := rows.Scan(&r.ID, &started, &ended, &r.Status, &r.Error); err != nil {
			rows.Close()
			return nil, err
		}
		r.Started = parseTime(started)
		if ended != "" {
			r.Ended = parseTime(ended)
		}
		runs = append(runs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range runs {
		srows, err := s.db.QueryContext(ctx, `SELECT step, status, read, created, updated, written, unchanged, skipped, rejected, warned FROM run_steps WHERE run_id = ? ORDER BY pos, step`, runs[i].ID)
		if err != nil {
			return nil, err
		}
		for srows.Next() {
			var st RunStepRecord
			c := &st.Counts
			if err := srows.Scan(&st.Step, &st.Status, &c.Read, &c.Created, &c.Updated, &c.Written, &c.Unchanged, &c.Skipped, &c.Rejected, &c.Warned); err != nil {
				srows.Close()
				return nil, err
			}
			runs[i].Steps = append(runs[i].Steps, st)
		}
		srows.Close()
		if err := srows.Err(); err != nil {
			return nil, err
		}
	}
	return runs, nil
}
