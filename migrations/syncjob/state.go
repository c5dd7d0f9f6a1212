package syncjob

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/migrations/mirror"
)

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
// (flock beside it) or a PostgreSQL database (advisory lock).
type Store struct {
	db    *sql.DB
	kind  mirror.Kind
	where string
	path  string // SQLite file
}

// ErrLocked is returned by Lock when another run of the job holds it.
var ErrLocked = errors.New("another run of this job holds the lock")

// OpenStore opens a state store: a file path, or a postgres:// URL.
func OpenStore(ctx context.Context, spec string) (*Store, error) {
	kind := mirror.SQLite
	if strings.HasPrefix(spec, "postgres://") || strings.HasPrefix(spec, "postgresql://") {
		kind = mirror.Postgres
	}
	db, where, err := mirror.OpenSQL(ctx, kind, spec)
	if err != nil {
		return nil, fmt.Errorf("state store: %w", err)
	}
	s := &Store{db: db, kind: kind, where: where}
	if kind == mirror.SQLite {
		s.path = spec
	}
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS dvsync_sync_state (job TEXT NOT NULL, tbl TEXT NOT NULL, state TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (job, tbl))`,
		`CREATE TABLE IF NOT EXISTS dvsync_sync_runs (run_id TEXT PRIMARY KEY, job TEXT NOT NULL, started_at TEXT NOT NULL, ended_at TEXT, status TEXT NOT NULL, exit_code INTEGER NOT NULL DEFAULT 0, error TEXT, summary TEXT)`,
		`CREATE INDEX IF NOT EXISTS dvsync_sync_runs_job ON dvsync_sync_runs (job, started_at)`,
		`CREATE TABLE IF NOT EXISTS dvsync_sync_keys (job TEXT NOT NULL, tbl TEXT NOT NULL, source_id TEXT NOT NULL, target_key TEXT NOT NULL, gen BIGINT NOT NULL, PRIMARY KEY (job, tbl, source_id))`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			db.Close()
			return nil, fmt.Errorf("state store %s: %w", where, err)
		}
	}
	return s, nil
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// Where names the store for messages (no password).
func (s *Store) Where() string { return s.where }

func (s *Store) q(query string) string { return mirror.Rebind(s.kind, query) }

// Checkpoint returns a table's checkpoint (zero if never run).
func (s *Store) Checkpoint(ctx context.Context, job, table string) (Checkpoint, error) {
	var text string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT state FROM dvsync_sync_state WHERE job = ? AND tbl = ?`), job, table).Scan(&text)
	if errors.Is(err, sql.ErrNoRows) {
		return Checkpoint{}, nil
	}
	if err != nil {
		return Checkpoint{}, fmt.Errorf("state store: %w", err)
	}
	var cp Checkpoint
	if err := json.Unmarshal([]byte(text), &cp); err != nil {
		return Checkpoint{}, fmt.Errorf("state store: checkpoint of %s/%s is damaged: %w", job, table, err)
	}
	return cp, nil
}

// SaveCheckpoint stores a table's checkpoint.
func (s *Store) SaveCheckpoint(ctx context.Context, job, table string, cp Checkpoint) error {
	b, _ := json.Marshal(cp)
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO dvsync_sync_state (job, tbl, state, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (job, tbl) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`),
		job, table, string(b), time.Now().UTC().Format(time.RFC3339Nano))
	if err != nil {
		return fmt.Errorf("state store: save checkpoint: %w", err)
	}
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
		h.Write([]byte("dvsync sync " + job))
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

// HasKeys reports whether any record of table was written by the job.
func (s *Store) HasKeys(ctx context.Context, job, table string) (bool, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM (SELECT 1 FROM dvsync_sync_keys WHERE job = ? AND tbl = ? LIMIT 1) x`), job, table).Scan(&n); err != nil {
		return false, fmt.Errorf("state store: %w", err)
	}
	return n > 0, nil
}
