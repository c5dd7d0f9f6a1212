package syncjob

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/mirror"
	"github.com/dvsync/dvsync/migrations/pgstore"
	"github.com/dvsync/dvsync/migrations/statestore"
)

//go:embed schema/*.sql
var schemaFS embed.FS

// Checkpoint is where one table of a job stands. It is saved after every
// page a run has applied, so a killed run resumes at the page it was on.
type Checkpoint struct {
	// Mode is "change-tracking" or "modifiedon" (the fallback).
	Mode string `json:"mode"`
	// Phase: "" never read; "baseline" a full read in progress; "delta" a
	// change read in progress; "keyscan" a key-set comparison in progress
	// (fallback); "changes" a watermark read in progress (fallback);
	// "current" caught up (Link is the delta link to read next).
	Phase string `json:"phase"`
	// Link resumes the read in progress (the page to read again), or, when
	// current, is the @odata.deltaLink.
	Link string `json:"link,omitempty"`
	// Gen is the generation of the last full read or key-set comparison:
	// rows it did not see are deleted when it finishes.
	Gen int64 `json:"gen"`
	// Fresh: the table was empty when the baseline in progress began.
	Fresh bool `json:"fresh,omitempty"`
	// Reason says why the baseline in progress started.
	Reason string `json:"reason,omitempty"`
	// TokenAt is when the delta link was issued.
	TokenAt time.Time `json:"tokenAt,omitzero"`
	// Watermark is the greatest modifiedon applied by a finished watermark
	// read (fallback); MaxSeen the greatest in the read in progress.
	Watermark string `json:"watermark,omitempty"`
	MaxSeen   string `json:"maxSeen,omitempty"`
	// MaxID, CheckedAt and FullAt are an Odoo job's deleted-ticket
	// check's: the greatest ticket id in its id set, when the set was
	// last brought up to date (the check's start, on the sync's clock),
	// and when it was last compared with all of Odoo's ids.
	MaxID     int64     `json:"maxId,omitempty"`
	CheckedAt time.Time `json:"checkedAt,omitzero"`
	FullAt    time.Time `json:"fullAt,omitzero"`
}

// RunRecord is one entry of a job's run journal.
type RunRecord struct {
	ID       string    `json:"id"`
	Job      string    `json:"job"`
	Started  time.Time `json:"started"`
	Ended    time.Time `json:"ended,omitzero"`
	Status   string    `json:"status"` // running, succeeded, rejects, failed, interrupted
	ExitCode int       `json:"exitCode"`
	Error    string    `json:"error,omitempty"`
	Summary  *Summary  `json:"summary,omitempty"`
}

// Store keeps checkpoints, the run journal and the job lock: a SQLite file
// (flock beside it) or a PostgreSQL database (advisory lock), named by the
// same --state forms as the migrations store (statestore), with the same
// guarantees: the schema is versioned and migrated on open (under a lock,
// a newer version refused), checkpoints are compare-and-swap (see
// SaveCheckpoint), and on PostgreSQL the tables live in the same schema
// as the migrations store's (dvsync_state, or the URL's search_path).
type Store struct {
	db     *sql.DB
	kind   mirror.Kind
	where  string
	path   string // SQLite file
	schema string // PostgreSQL schema

	versions migrations.Versions
}

// ErrLocked is returned by Lock when another run of the job holds it.
var ErrLocked = errors.New("another run of this job holds the lock")

// OpenStore opens a state store: a file path, or a postgres:// URL, and
// brings its schema up to date.
func OpenStore(ctx context.Context, spec string) (*Store, error) {
	s := &Store{kind: mirror.SQLite, where: statestore.Describe(spec), path: spec}
	dsn := spec
	if statestore.IsShared(spec) {
		s.kind, s.path = mirror.Postgres, ""
		var err error
		if dsn, s.schema, err = stateSchema(spec); err != nil {
			return nil, err
		}
	}
	db, _, err := mirror.OpenSQL(ctx, s.kind, dsn)
	if err != nil {
		return nil, fmt.Errorf("state store %s: %w", s.where, err)
	}
	s.db = db
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// stateSchema puts the tables in the schema the migrations store uses:
// the URL's search_path, else pgstore.DefaultSchema.
func stateSchema(spec string) (dsn, schema string, err error) {
	u, err := url.Parse(spec)
	if err != nil {
		return "", "", fmt.Errorf("state store: cannot parse %s (expected postgres://user@host:port/database)", statestore.Describe(spec))
	}
	q := u.Query()
	schema = q.Get("search_path")
	if schema == "" {
		schema = pgstore.DefaultSchema
	}
	for i, r := range schema {
		if !(r == '_' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return "", "", fmt.Errorf("state store: schema name %q must be lower-case letters, digits and underscores", schema)
		}
	}
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), schema, nil
}

// SchemaVersionError reports a store written by a newer dvsync.
type SchemaVersionError struct {
	Where         string
	Found, Latest int
}

func (e *SchemaVersionError) Error() string {
	return fmt.Sprintf("state store %s has sync schema version %d, newer than this dvsync understands (%d); use a newer dvsync", e.Where, e.Found, e.Latest)
}

// migrate applies the embedded schema files (schema/NNNN_name.sql) the
// store has not seen, in one transaction: under an advisory lock on
// PostgreSQL, an immediate (write-locked) transaction on SQLite, so two
// processes opening a new store at once apply them once.
func (s *Store) migrate(ctx context.Context) error {
	sub, err := fs.Sub(schemaFS, "schema")
	if err != nil {
		return err
	}
	entries, err := fs.ReadDir(sub, ".")
	if err != nil {
		return err
	}
	var names []string
	for _, e := range entries {
		if path.Ext(e.Name()) == ".sql" {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	for i, n := range names {
		num, _, _ := strings.Cut(n, "_")
		if v, err := strconv.Atoi(num); err != nil || v != i+1 {
			return fmt.Errorf("state store: schema files must be numbered 1..n without gaps; found %s at %d", n, i+1)
		}
	}
	fail := func(err error) error { return fmt.Errorf("state store %s: %w", s.where, err) }
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback()
	if s.kind == mirror.Postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('dvsync-sync-schema:'||$1, 0))`, s.schema); err != nil {
			return fail(err)
		}
		if _, err := tx.ExecContext(ctx, `CREATE SCHEMA IF NOT EXISTS `+mirror.QuoteIdent(s.schema)); err != nil {
			return fail(err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS dvsync_sync_schema_version (version INTEGER NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
		return fail(err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM dvsync_sync_schema_version`).Scan(&current); err != nil {
		return fail(err)
	}
	if current > len(names) {
		return &SchemaVersionError{Where: s.where, Found: current, Latest: len(names)}
	}
	for i, n := range names[current:] {
		body, err := fs.ReadFile(sub, n)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			return fail(fmt.Errorf("apply schema %s: %w", n, err))
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO dvsync_sync_schema_version (version, applied_at) VALUES (?, ?)`), current+i+1, now()); err != nil {
			return fail(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return nil
}

func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }

// SchemaVersion returns the sync schema version of the store.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM dvsync_sync_schema_version`).Scan(&v)
	return v, err
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// Where names the store for messages (no password).
func (s *Store) Where() string { return s.where }

func (s *Store) q(query string) string { return mirror.Rebind(s.kind, query) }

// Checkpoint returns a table's checkpoint (zero if never run).
func (s *Store) Checkpoint(ctx context.Context, job, table string) (Checkpoint, error) {
	var text string
	var version int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT state, version FROM dvsync_sync_state WHERE job = ? AND tbl = ?`), job, table).Scan(&text, &version)
	if errors.Is(err, sql.ErrNoRows) {
		s.versions.SeeCheckpoint(job, table, 0)
		return Checkpoint{}, nil
	}
	if err != nil {
		return Checkpoint{}, fmt.Errorf("state store: %w", err)
	}
	var cp Checkpoint
	if err := json.Unmarshal([]byte(text), &cp); err != nil {
		return Checkpoint{}, fmt.Errorf("state store: checkpoint of %s/%s is damaged: %w", job, table, err)
	}
	s.versions.SeeCheckpoint(job, table, version)
	return cp, nil
}

// SaveCheckpoint stores a table's checkpoint as a compare-and-swap: it
// applies only while the stored checkpoint is the one this store last read
// or saved, so of two processes that read the same delta token or
// watermark only the first advances it; the other gets
// *migrations.ConflictError and nothing changes. A checkpoint this store
// never read is read first (its current version is the expected one).
func (s *Store) SaveCheckpoint(ctx context.Context, job, table string, cp Checkpoint) error {
	version, err := s.swapCheckpoint(ctx, s.db, job, table, cp)
	if err != nil {
		return err
	}
	s.versions.SeeCheckpoint(job, table, version)
	return nil
}

// queryer is a *sql.DB or a *sql.Tx.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// swapCheckpoint is SaveCheckpoint's compare-and-swap on db, returning the
// checkpoint's new version; the caller records it once db's work commits.
func (s *Store) swapCheckpoint(ctx context.Context, db queryer, job, table string, cp Checkpoint) (int64, error) {
	b, _ := json.Marshal(cp)
	expected, ok := s.versions.Checkpoint(job, table)
	if !ok {
		err := db.QueryRowContext(ctx, s.q(`SELECT version FROM dvsync_sync_state WHERE job = ? AND tbl = ?`), job, table).Scan(&expected)
		if errors.Is(err, sql.ErrNoRows) {
			expected = 0
		} else if err != nil {
			return 0, fmt.Errorf("state store: save checkpoint: %w", err)
		}
	}
	var version int64
	var err error
	if expected == 0 {
		err = db.QueryRowContext(ctx, s.q(`INSERT INTO dvsync_sync_state (job, tbl, state, updated_at, version) VALUES (?, ?, ?, ?, 1)
			ON CONFLICT (job, tbl) DO NOTHING RETURNING version`), job, table, string(b), now()).Scan(&version)
	} else {
		err = db.QueryRowContext(ctx, s.q(`UPDATE dvsync_sync_state SET state = ?, updated_at = ?, version = version + 1
			WHERE job = ? AND tbl = ? AND version = ? RETURNING version`), string(b), now(), job, table, expected).Scan(&version)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return 0, &migrations.ConflictError{Job: job, Name: "the checkpoint of table " + table}
	}
	if err != nil {
		return 0, fmt.Errorf("state store: save checkpoint: %w", err)
	}
	return version, nil
}

// RunProgress is what the pages applied since a table's last checkpoint
// add to a distributed run: their figures and their rejected records.
type RunProgress struct {
	RunID   string
	Counts  Counts
	Rejects []Reject
}

// SaveProgress saves a table's checkpoint (as SaveCheckpoint does) and,
// in the same transaction, adds p to the run's figures of the table and
// records p's rejects. A worker that dies before a page's checkpoint
// leaves no trace of the page, which the next worker does again from the
// checkpoint before it; one whose checkpoint committed is never done
// again. So the run's figures and rejects hold every page once.
func (s *Store) SaveProgress(ctx context.Context, job, table string, cp Checkpoint, p RunProgress) error {
	return s.saveRun(ctx, job, table, cp, p.RunID, []TableSummary{{Table: table, Counts: p.Counts}}, p.Rejects)
}

// saveRun saves table's checkpoint and, in the same transaction, adds the
// figures of tables to the run's and records rejects.
func (s *Store) saveRun(ctx context.Context, job, table string, cp Checkpoint, runID string, tables []TableSummary, rejects []Reject) error {
	fail := func(err error) error { return fmt.Errorf("state store: save progress: %w", err) }
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback()
	version, err := s.swapCheckpoint(ctx, tx, job, table, cp)
	if err != nil {
		return err
	}
	for _, ts := range tables {
		if err := s.addCounts(ctx, tx, runID, ts.Table, ts.Counts); err != nil {
			return fail(err)
		}
	}
	if err := s.addRejects(ctx, tx, job, runID, table, version, rejects); err != nil {
		return fail(err)
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	s.versions.SeeCheckpoint(job, table, version)
	return nil
}

// addCounts adds c to the run's figures of table, within tx.
func (s *Store) addCounts(ctx context.Context, tx *sql.Tx, runID, table string, c Counts) error {
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO dvsync_sync_run_tables
		(run_id, tbl, records_read, upserted, deleted, unchanged, rejected, keys_compared, requests, throttled)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (run_id, tbl) DO UPDATE SET
		records_read = dvsync_sync_run_tables.records_read + excluded.records_read,
		upserted = dvsync_sync_run_tables.upserted + excluded.upserted,
		deleted = dvsync_sync_run_tables.deleted + excluded.deleted,
		unchanged = dvsync_sync_run_tables.unchanged + excluded.unchanged,
		rejected = dvsync_sync_run_tables.rejected + excluded.rejected,
		keys_compared = dvsync_sync_run_tables.keys_compared + excluded.keys_compared,
		requests = dvsync_sync_run_tables.requests + excluded.requests,
		throttled = dvsync_sync_run_tables.throttled + excluded.throttled`),
		runID, table, c.Read, c.Upserted, c.Deleted, c.Unchanged, c.Rejected, c.KeysCompared, c.Requests, c.Throttled); err != nil {
		return err
	}
	return nil
}

// addRejects records rejects as those of checkpoint version page, within
// tx; a reject naming no table is table's.
func (s *Store) addRejects(ctx context.Context, tx *sql.Tx, job, runID, table string, page int64, rejects []Reject) error {
	ins := s.q(`INSERT INTO dvsync_sync_rejects (job, run_id, tbl, page, seq, source_id, error, rejected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	for i, r := range rejects {
		tbl := table
		if r.Table != "" {
			tbl = r.Table
		}
		if _, err := tx.ExecContext(ctx, ins, job, runID, tbl, page, i, r.ID, r.Error, r.Time.UTC().Format(time.RFC3339Nano)); err != nil {
			return err
		}
	}
	return nil
}

// RunResult reads what the tables of a distributed run recorded
// (SaveProgress): their figures by table, and each rejected record, in
// the order rejected, passed to reject. Both come from one snapshot of the
// store, so the rejects are those the figures count even while workers
// still record pages.
func (s *Store) RunResult(ctx context.Context, job, runID string, reject func(Reject) error) (map[string]Counts, error) {
	fail := func(err error) error { return fmt.Errorf("state store: reading run %s: %w", runID, err) }
	opts := &sql.TxOptions{ReadOnly: true}
	if s.kind == mirror.Postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return nil, fail(err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, s.q(`SELECT tbl, records_read, upserted, deleted, unchanged, rejected, keys_compared, requests, throttled
		FROM dvsync_sync_run_tables WHERE run_id = ?`), runID)
	if err != nil {
		return nil, fail(err)
	}
	out := map[string]Counts{}
	for rows.Next() {
		var t string
		var c Counts
		if err := rows.Scan(&t, &c.Read, &c.Upserted, &c.Deleted, &c.Unchanged, &c.Rejected, &c.KeysCompared, &c.Requests, &c.Throttled); err != nil {
			rows.Close()
			return nil, fail(err)
		}
		out[t] = c
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fail(err)
	}
	if reject == nil {
		return out, nil
	}
	rows, err = tx.QueryContext(ctx, s.q(`SELECT tbl, source_id, error, rejected_at FROM dvsync_sync_rejects
		WHERE job = ? AND run_id = ? ORDER BY rejected_at, tbl, page, seq`), job, runID)
	if err != nil {
		return nil, fail(err)
	}
	defer rows.Close()
	for rows.Next() {
		r := Reject{Job: job}
		var at string
		if err := rows.Scan(&r.Table, &r.ID, &r.Error, &at); err != nil {
			return nil, fail(err)
		}
		r.Time, _ = time.Parse(time.RFC3339Nano, at)
		if err := reject(r); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fail(err)
	}
	return out, nil
}

// Roles of End.
const (
	RoleSource = "source"
	RoleTarget = "target"
)

// End returns the environment recorded for one end (RoleSource,
// RoleTarget) of a job; ok is false when none is.
func (s *Store) End(ctx context.Context, job, role string) (migrations.TargetInfo, bool, error) {
	var t migrations.TargetInfo
	var at string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT target_id, url, recorded_at FROM dvsync_sync_ends WHERE job = ? AND role = ?`), job, role).Scan(&t.ID, &t.URL, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return migrations.TargetInfo{}, false, nil
	}
	if err != nil {
		return migrations.TargetInfo{}, false, fmt.Errorf("state store: %w", err)
	}
	t.Recorded, _ = time.Parse(time.RFC3339Nano, at)
	return t, true, nil
}

// SetEnd records the environment of one end of a job.
func (s *Store) SetEnd(ctx context.Context, job, role string, t migrations.TargetInfo) error {
	at := now()
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO dvsync_sync_ends (job, role, target_id, url, recorded_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (job, role) DO UPDATE SET target_id = excluded.target_id, url = excluded.url, updated_at = excluded.updated_at`),
		job, role, t.ID, t.URL, at, at)
	if err != nil {
		return fmt.Errorf("state store: %w", err)
	}
	return nil
}

// Clear forgets a job's state in one transaction, holding its lock:
// checkpoints (delta tokens, watermarks), target keys and recorded ends;
// the journal stays. The next run reads every table in full. ErrLocked
// while a run holds the lock.
func (s *Store) Clear(ctx context.Context, job string) error {
	unlock, err := s.Lock(ctx, job)
	if err != nil {
		return err
	}
	defer unlock()
	return s.clearLocked(ctx, job)
}

// clearLocked is Clear for a caller holding the job's lock.
func (s *Store) clearLocked(ctx context.Context, job string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("state store: %w", err)
	}
	defer tx.Rollback()
	for _, table := range []string{"dvsync_sync_state", "dvsync_sync_keys", "dvsync_sync_ends"} {
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM `+table+` WHERE job = ?`), job); err != nil {
			return fmt.Errorf("state store: clear %s: %w", job, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("state store: clear %s: %w", job, err)
	}
	s.versions.Forget(job)
	return nil
}

// BeginRun journals the start of a run. A run journalled as running whose
// process died (found when the next run takes the lock) is marked
// interrupted.
func (s *Store) BeginRun(ctx context.Context, job string) (string, error) {
	if _, err := s.db.ExecContext(ctx, s.q(`UPDATE dvsync_sync_runs SET status = 'interrupted', exit_code = 1, error = 'the process ended without finishing the run (killed or crashed); the next run resumed from its checkpoints' WHERE job = ? AND status = 'running'`), job); err != nil {
		return "", fmt.Errorf("state store: %w", err)
	}
	id := time.Now().UTC().Format("20060102T150405Z") + "-" + uuid.NewString()[:8]
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO dvsync_sync_runs (run_id, job, started_at, status) VALUES (?, ?, ?, 'running')`),
		id, job, time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
		return "", fmt.Errorf("state store: %w", err)
	}
	return id, nil
}

// EndRun journals a run's outcome and summary.
func (s *Store) EndRun(ctx context.Context, id, status string, exitCode int, errMsg string, sum *Summary) error {
	var text any
	if sum != nil {
		b, _ := json.Marshal(sum)
		text = string(b)
	}
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE dvsync_sync_runs SET ended_at = ?, status = ?, exit_code = ?, error = ?, summary = ? WHERE run_id = ?`),
		time.Now().UTC().Format(time.RFC3339Nano), status, exitCode, errMsg, text, id)
	if err != nil {
		return fmt.Errorf("state store: %w", err)
	}
	return nil
}

// Runs lists a job's runs, newest first, at most limit (0: all).
func (s *Store) Runs(ctx context.Context, job string, limit int) ([]RunRecord, error) {
	q := `SELECT run_id, job, started_at, ended_at, status, exit_code, error, summary FROM dvsync_sync_runs WHERE job = ? ORDER BY started_at DESC, run_id DESC`
	args := []any{job}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := s.db.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("state store: %w", err)
	}
	defer rows.Close()
	var out []RunRecord
	for rows.Next() {
		var r RunRecord
		var started string
		var ended, errMsg, sum sql.NullString
		if err := rows.Scan(&r.ID, &r.Job, &started, &ended, &r.Status, &r.ExitCode, &errMsg, &sum); err != nil {
			return nil, err
		}
		r.Started, _ = time.Parse(time.RFC3339Nano, started)
		if ended.Valid {
			r.Ended, _ = time.Parse(time.RFC3339Nano, ended.String)
		}
		r.Error = errMsg.String
		if sum.Valid && sum.String != "" {
			r.Summary = new(Summary)
			if err := json.Unmarshal([]byte(sum.String), r.Summary); err != nil {
				r.Summary = nil
			}
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Lock takes the job's run lock without waiting: ErrLocked when another
// run holds it. The lock dies with the process (flock on a file beside a
// SQLite store; a session advisory lock on PostgreSQL), so a killed run
// never leaves a stale lock.
func (s *Store) Lock(ctx context.Context, job string) (unlock func(), err error) {
	if s.kind == mirror.Postgres {
		conn, err := s.db.Conn(ctx)
		if err != nil {
			return nil, fmt.Errorf("state store: %w", err)
		}
		h := fnv.New64a()
		// Scoped by schema: independent states in one database never
		// block each other.
		h.Write([]byte("dvsync sync " + s.schema + ":" + job))
		key := int64(h.Sum64())
		var ok bool
		if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok); err != nil {
			conn.Close()
			return nil, fmt.Errorf("state store: %w", err)
		}
		if !ok {
			conn.Close()
			return nil, ErrLocked
		}
		return func() {
			_, _ = conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, key)
			conn.Close()
		}, nil
	}
	f, err := lockFile(s.path + "." + job + ".lock")
	if err != nil {
		return nil, err
	}
	return func() {
		f.Close()
	}, nil
}

// KeyEntry is the target key a source record was written under, for jobs
// whose target is Dataverse: a $deletedEntity names only the source GUID.
type KeyEntry struct {
	SourceID  string
	TargetKey string // JSON of migrations.Key
	Gen       int64
}

// SaveKeys records the target keys of records written.
func (s *Store) SaveKeys(ctx context.Context, job, table string, keys []KeyEntry) error {
	if len(keys) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("state store: %w", err)
	}
	defer tx.Rollback()
	q := s.q(`INSERT INTO dvsync_sync_keys (job, tbl, source_id, target_key, gen) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (job, tbl, source_id) DO UPDATE SET target_key = excluded.target_key, gen = excluded.gen`)
	for _, k := range keys {
		if _, err := tx.ExecContext(ctx, q, job, table, k.SourceID, k.TargetKey, k.Gen); err != nil {
			return fmt.Errorf("state store: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("state store: %w", err)
	}
	return nil
}

// MarkKeys stamps source records still present with gen.
func (s *Store) MarkKeys(ctx context.Context, job, table string, ids []string, gen int64) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("state store: %w", err)
	}
	defer tx.Rollback()
	q := s.q(`UPDATE dvsync_sync_keys SET gen = ? WHERE job = ? AND tbl = ? AND source_id = ?`)
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, q, gen, job, table, id); err != nil {
			return fmt.Errorf("state store: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("state store: %w", err)
	}
	return nil
}

// TargetKey returns the target key a source record was written under.
func (s *Store) TargetKey(ctx context.Context, job, table, sourceID string) (string, bool, error) {
	var k string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT target_key FROM dvsync_sync_keys WHERE job = ? AND tbl = ? AND source_id = ?`), job, table, sourceID).Scan(&k)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("state store: %w", err)
	}
	return k, true, nil
}

// StaleKeys lists source IDs last seen before generation gen.
func (s *Store) StaleKeys(ctx context.Context, job, table string, gen int64) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT source_id FROM dvsync_sync_keys WHERE job = ? AND tbl = ? AND gen < ? ORDER BY source_id`), job, table, gen)
	if err != nil {
		return nil, fmt.Errorf("state store: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// DeleteKey forgets a source record whose target record was deleted.
func (s *Store) DeleteKey(ctx context.Context, job, table, sourceID string) error {
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM dvsync_sync_keys WHERE job = ? AND tbl = ? AND source_id = ?`), job, table, sourceID); err != nil {
		return fmt.Errorf("state store: %w", err)
	}
	return nil
}

// CountKeys counts the source records of table the job keeps.
func (s *Store) CountKeys(ctx context.Context, job, table string) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM dvsync_sync_keys WHERE job = ? AND tbl = ?`), job, table).Scan(&n); err != nil {
		return 0, fmt.Errorf("state store: %w", err)
	}
	return n, nil
}

// KnownKeys returns which of ids the job keeps for table.
func (s *Store) KnownKeys(ctx context.Context, job, table string, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	for chunk := range slices.Chunk(ids, 500) {
		args := []any{job, table}
		for _, id := range chunk {
			args = append(args, id)
		}
		q := `SELECT source_id FROM dvsync_sync_keys WHERE job = ? AND tbl = ? AND source_id IN (?` + strings.Repeat(`, ?`, len(chunk)-1) + `)`
		rows, err := s.db.QueryContext(ctx, s.q(q), args...)
		if err != nil {
			return nil, fmt.Errorf("state store: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("state store: %w", err)
			}
			out[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("state store: %w", err)
		}
	}
	return out, nil
}

// HasKeys reports whether any record of table was written by the job.
func (s *Store) HasKeys(ctx context.Context, job, table string) (bool, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM (SELECT 1 FROM dvsync_sync_keys WHERE job = ? AND tbl = ? LIMIT 1) x`), job, table).Scan(&n); err != nil {
		return false, fmt.Errorf("state store: %w", err)
	}
	return n > 0, nil
}
