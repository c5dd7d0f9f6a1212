// Package pgstore is the shared state store on PostgreSQL: the same
// checkpoints, ID map, values, rejects, skips and run journal as the embedded
// SQLite store, for jobs whose work several dvsync processes share.
//
// Two guarantees go beyond the SQLite store, because several processes
// write at once:
//   - Checkpoints and values are compare-and-swap. A store remembers the
//     version of each checkpoint and value it last read or wrote; an update
//     applies only while the row still has that version, otherwise it fails
//     with *ConflictError and the transaction (ID map, rejects, counts) rolls
//     back. Two workers can never both advance the same delta token or step.
//   - The job lock is a session-level advisory lock held on a dedicated
//     connection, so PostgreSQL releases it when the holder's connection
//     dies (a killed worker never leaves a stale lock).
package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dvsync/dvsync/migrations"
)

//go:embed schema/*.sql
var schemaFS embed.FS

// DefaultSchema is the PostgreSQL schema (namespace) that holds the state
// tables, so they never collide with a mirror's tables in the same database.
const DefaultSchema = "dvsync_state"

// Options configure Open. The zero value is usable.
type Options struct {
	// Schema is the PostgreSQL schema holding the state tables. When
	// empty, the connection string's search_path parameter names it
	// (postgres://…/db?search_path=acme keeps several independent states in
	// one database), else DefaultSchema.
	Schema string
	// MaxConns bounds the pool; 8 when zero. Each running job also holds one
	// connection for its lock.
	MaxConns int32
}

// Store is a migrations.Store on PostgreSQL.
type Store struct {
	pool   *pgxpool.Pool
	schema string
	where  string // connection string with the password removed, for messages

	mu       sync.Mutex
	locks    map[string]*pgxpool.Conn // run ID -> connection holding the job's advisory lock
	versions migrations.Versions
}

var _ migrations.Store = (*Store)(nil)

// ConflictError reports that another writer advanced a checkpoint or value
// since this store last saw it: the losing side of a compare-and-swap,
// the same error the SQLite store returns.
type ConflictError = migrations.ConflictError

// IsURL reports whether a --state value names a PostgreSQL database rather
// than a SQLite file.
func IsURL(state string) bool {
	return strings.HasPrefix(state, "postgres://") || strings.HasPrefix(state, "postgresql://")
}

// Redact returns a connection string without its password, for messages.
func Redact(conn string) string {
	cfg, err := pgx.ParseConfig(conn)
	if err != nil {
		return "postgres://…"
	}
	user := cfg.User
	if user != "" {
		user += "@"
	}
	return fmt.Sprintf("postgres://%s%s:%d/%s", user, cfg.Host, cfg.Port, cfg.Database)
}

// Open connects to the database named by conn, creates the schema when
// needed and applies the embedded schema migrations it has not seen.
// Concurrent Opens are safe: migrations run under a transaction-level
// advisory lock.
func Open(ctx context.Context, conn string, o Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(conn)
	if err != nil {
		// pgx's parse errors can quote the connection string, password
		// included: say only what is wrong with it.
		return nil, fmt.Errorf("pgstore: cannot parse the --state connection string %s (expected postgres://user@host:port/database)", Redact(conn))
	}
	schema, err := schemaOf(cfg.ConnConfig, o)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = o.MaxConns
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 8
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	cfg.ConnConfig.RuntimeParams["application_name"] = "dvsync"
	s := &Store{schema: schema, where: Redact(conn), locks: map[string]*pgxpool.Conn{}}
	s.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: connect to %s: %w", s.where, err)
	}
	if err := s.migrate(ctx); err != nil {
		s.pool.Close()
		return nil, err
	}
	return s, nil
}

// Exists reports whether the database conn names holds dvsync state (the
// state schema with its version table), without creating anything: dry
// runs and verify read state but never create it.
func Exists(ctx context.Context, conn string, o Options) (bool, error) {
	cfg, err := pgx.ParseConfig(conn)
	if err != nil {
		return false, fmt.Errorf("pgstore: cannot parse the --state connection string %s (expected postgres://user@host:port/database)", Redact(conn))
	}
	schema, err := schemaOf(cfg, o)
	if err != nil {
		return false, err
	}
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, fmt.Errorf("pgstore: connect to %s: %w", Redact(conn), err)
	}
	defer c.Close(context.WithoutCancel(ctx))
	var ok bool
	if err := c.QueryRow(ctx, `SELECT to_regclass(format('%I.schema_version', $1::text)) IS NOT NULL`, schema).Scan(&ok); err != nil {
		return false, fmt.Errorf("pgstore: %s: %w", Redact(conn), err)
	}
	return ok, nil
}

// schemaOf is the schema holding the state: o.Schema, the connection's
// search_path, or DefaultSchema.
func schemaOf(cfg *pgx.ConnConfig, o Options) (string, error) {
	schema := o.Schema
	if schema == "" {
		schema = cfg.RuntimeParams["search_path"]
	}
	if schema == "" {
		schema = DefaultSchema
	}
	if !validIdent(schema) {
		return "", fmt.Errorf("pgstore: schema name %q must be lower-case letters, digits and underscores", schema)
	}
	return schema, nil
}

func validIdent(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func (s *Store) fail(op string, err error) error {
	return fmt.Errorf("pgstore: %s on %s: %w", op, s.where, err)
}

type schemaStep struct {
	version int
	name    string
}

func schemaSteps() ([]schemaStep, fs.FS, error) {
	sub, err := fs.Sub(schemaFS, "schema")
	if err != nil {
		return nil, nil, err
	}
	entries, err := fs.ReadDir(sub, ".")
	if err != nil {
		return nil, nil, err
	}
	var steps []schemaStep
	for _, e := range entries {
		if path.Ext(e.Name()) != ".sql" {
			continue
		}
		num, _, _ := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if err != nil || v <= 0 {
			return nil, nil, fmt.Errorf("pgstore: schema file %s must start with a positive version number", e.Name())
		}
		steps = append(steps, schemaStep{v, e.Name()})
	}
	slices.SortFunc(steps, func(a, b schemaStep) int { return a.version - b.version })
	for i, st := range steps {
		if st.version != i+1 {
			return nil, nil, fmt.Errorf("pgstore: schema versions must run 1..n without gaps; found %s at position %d", st.name, i+1)
		}
	}
	return steps, sub, nil
}

// migrate applies the schema migrations. The advisory lock serialises
// workers that start at the same moment against an empty database.
func (s *Store) migrate(ctx context.Context) error {
	steps, sub, err := schemaSteps()
	if err != nil {
		return err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return s.fail("open", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('dvsync-schema:'||$1, 0))`, s.schema); err != nil {
		return s.fail("lock schema", err)
	}
	if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{s.schema}.Sanitize()); err != nil {
		return s.fail("create schema", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL)`); err != nil {
		return s.fail("create schema_version", err)
	}
	var current int
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&current); err != nil {
		return s.fail("read schema version", err)
	}
	if current > len(steps) {
		return fmt.Errorf("pgstore: the state in %s (schema %s) has schema version %d, newer than this dvsync understands (%d); use a newer dvsync", s.where, s.schema, current, len(steps))
	}
	for _, st := range steps[current:] {
		body, err := fs.ReadFile(sub, st.name)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, string(body)); err != nil {
			return s.fail("apply schema "+st.name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version, applied_at) VALUES ($1, now())`, st.version); err != nil {
			return s.fail("record schema version", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return s.fail("apply schema", err)
	}
	return nil
}

// SchemaVersion returns the applied schema version.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.pool.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v)
	return v, err
}

// Close releases the locks of runs not ended and closes the pool.
func (s *Store) Close() error {
	s.mu.Lock()
	for id, c := range s.locks {
		// Dropping the connection releases its session-level locks, but
		// only once the server has seen it go: release them first, so a
		// process that opens the store next finds the job free.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c.Exec(ctx, `SELECT pg_advisory_unlock_all()`)
		cancel()
		c.Conn().Close(context.Background())
		c.Release()
		delete(s.locks, id)
	}
	s.mu.Unlock()
	s.pool.Close()
	return nil
}

// Checkpoint implements migrations.Store.
func (s *Store) Checkpoint(ctx context.Context, job, step string) (migrations.Checkpoint, error) {
	var c migrations.Checkpoint
	var version int64
	var written string
	err := s.pool.QueryRow(ctx, `SELECT cursor, done, updated_at, version, written FROM checkpoints WHERE job = $1 AND step = $2`, job, step).
		Scan(&c.Cursor, &c.Done, &c.UpdatedAt, &version, &written)
	if errors.Is(err, pgx.ErrNoRows) {
		s.versions.SeeCheckpoint(job, step, 0)
		return migrations.Checkpoint{}, nil
	}
	if err != nil {
		return migrations.Checkpoint{}, s.fail("read checkpoint of "+job+"/"+step, err)
	}
	if c.Written, err = migrations.ParseWritten(written); err != nil {
		return migrations.Checkpoint{}, s.fail("read checkpoint of "+job+"/"+step, err)
	}
	s.versions.SeeCheckpoint(job, step, version)
	return c, nil
}

// Commit implements migrations.Store. The checkpoint moves only if nobody
// else moved it since this store last read or wrote it.
func (s *Store) Commit(ctx context.Context, c migrations.Commit) (err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return s.fail("commit "+c.Job+"/"+c.Step, err)
	}
	defer func() {
		if err != nil {
			tx.Rollback(ctx)
			var conflict *ConflictError
			if !errors.As(err, &conflict) {
				err = s.fail("commit "+c.Job+"/"+c.Step, err)
			}
		}
	}()
	if len(c.IDs) > 0 {
		b := &pgx.Batch{}
		for _, e := range c.IDs {
			b.Queue(`INSERT INTO idmap (job, step, source_id, seq, tbl, key, target_id) VALUES ($1, $2, $3, $4, $5, $6, $7)
				ON CONFLICT (job, step, source_id, seq) DO UPDATE SET tbl = excluded.tbl, key = excluded.key,
				target_id = CASE WHEN excluded.target_id = '' THEN idmap.target_id ELSE excluded.target_id END`,
				c.Job, c.Step, e.SourceID, e.Seq, e.Ref.Table, e.Ref.Key, e.Ref.ID)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
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
	if len(unrejected) > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM rejects WHERE job = $1 AND step = $2 AND source_id = ANY($3)`, c.Job, c.Step, unrejected); err != nil {
			return err
		}
	}
	if len(unskipped) > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM skips WHERE job = $1 AND step = $2 AND source_id = ANY($3)`, c.Job, c.Step, unskipped); err != nil {
			return err
		}
	}
	if len(c.Rejects) > 0 {
		b := &pgx.Batch{}
		for _, r := range c.Rejects {
			b.Queue(`INSERT INTO rejects (job, step, source_id, run_id, reason, error) VALUES ($1, $2, $3, $4, $5, $6)
				ON CONFLICT (job, step, source_id) DO UPDATE SET run_id = excluded.run_id, reason = excluded.reason, error = excluded.error`,
				c.Job, c.Step, r.SourceID, c.RunID, r.Reason, r.Error)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
	}
	if len(c.Skips) > 0 {
		b := &pgx.Batch{}
		for _, k := range c.Skips {
			b.Queue(`INSERT INTO skips (job, step, source_id, run_id, reason) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (job, step, source_id) DO UPDATE SET run_id = excluded.run_id, reason = excluded.reason`,
				c.Job, c.Step, k.SourceID, c.RunID, k.Reason)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
	}
	var newVersion int64
	moved := c.Cursor != "" || c.Done
	if moved {
		newVersion, err = s.swapCheckpoint(ctx, tx, c)
		if err != nil {
			return err
		}
	}
	if c.RunID != "" && c.Counts != (migrations.Counts{}) {
		n := c.Counts
		if _, err := tx.Exec(ctx, `INSERT INTO run_steps (run_id, step, status, read, created, updated, written, unchanged, skipped, rejected, warned)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
			ON CONFLICT (run_id, step) DO UPDATE SET read = run_steps.read + excluded.read, created = run_steps.created + excluded.created,
				updated = run_steps.updated + excluded.updated, written = run_steps.written + excluded.written,
				unchanged = run_steps.unchanged + excluded.unchanged, skipped = run_steps.skipped + excluded.skipped,
				rejected = run_steps.rejected + excluded.rejected, warned = run_steps.warned + excluded.warned`,
			c.RunID, c.Step, string(migrations.StatusRunning), n.Read, n.Created, n.Updated, n.Written, n.Unchanged, n.Skipped, n.Rejected, n.Warned); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	if moved {
		s.versions.SeeCheckpoint(c.Job, c.Step, newVersion)
	}
	return nil
}

// swapCheckpoint advances a step's checkpoint from the version this store
// last saw. A store that never read the checkpoint reads its version now:
// the engine always reads a step's checkpoint before it writes, so only a
// caller outside the engine takes this path.
func (s *Store) swapCheckpoint(ctx context.Context, tx pgx.Tx, c migrations.Commit) (int64, error) {
	expected, ok := s.versions.Checkpoint(c.Job, c.Step)
	if !ok {
		err := tx.QueryRow(ctx, `SELECT version FROM checkpoints WHERE job = $1 AND step = $2`, c.Job, c.Step).Scan(&expected)
		if errors.Is(err, pgx.ErrNoRows) {
			expected = 0
		} else if err != nil {
			return 0, err
		}
	}
	sample := c.Written
	if len(sample) == 0 {
		sample = migrations.SampleWritten(c.IDs)
	}
	written := migrations.FormatWritten(sample)
	if expected == 0 {
		tag, err := tx.Exec(ctx, `INSERT INTO checkpoints (job, step, cursor, done, version, updated_at, written) VALUES ($1, $2, $3, $4, 1, now(), $5)
			ON CONFLICT (job, step) DO NOTHING`, c.Job, c.Step, c.Cursor, c.Done, written)
		if err != nil {
			return 0, err
		}
		if tag.RowsAffected() == 0 {
			return 0, &ConflictError{Job: c.Job, Name: "the checkpoint of step " + c.Step}
		}
		return 1, nil
	}
	var version int64
	err := tx.QueryRow(ctx, `UPDATE checkpoints SET
			cursor = CASE WHEN $3 = '' THEN cursor ELSE $3 END,
			done = $4, version = version + 1, updated_at = now(),
			written = CASE WHEN $6 = '' THEN written ELSE $6 END
		WHERE job = $1 AND step = $2 AND version = $5 RETURNING version`,
		c.Job, c.Step, c.Cursor, c.Done, expected, written).Scan(&version)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, &ConflictError{Job: c.Job, Name: "the checkpoint of step " + c.Step}
	}
	return version, err
}

// ResetCheckpoints implements migrations.Store.
func (s *Store) ResetCheckpoints(ctx context.Context, job string, steps ...string) error {
	var err error
	if len(steps) == 0 {
		_, err = s.pool.Exec(ctx, `DELETE FROM checkpoints WHERE job = $1`, job)
	} else {
		_, err = s.pool.Exec(ctx, `DELETE FROM checkpoints WHERE job = $1 AND step = ANY($2)`, job, steps)
	}
	if err != nil {
		return s.fail("reset checkpoints of "+job, err)
	}
	s.versions.Forget(job, steps...)
	return nil
}

// LookupIDs implements migrations.Store.
func (s *Store) LookupIDs(ctx context.Context, job, step, sourceID string) ([]migrations.Ref, error) {
	rows, err := s.pool.Query(ctx, `SELECT tbl, key, target_id FROM idmap WHERE job = $1 AND step = $2 AND source_id = $3 ORDER BY seq`, job, step, sourceID)
	if err != nil {
		return nil, s.fail("look up "+job+"/"+step+" "+sourceID, err)
	}
	refs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (migrations.Ref, error) {
		var ref migrations.Ref
		err := r.Scan(&ref.Table, &ref.Key, &ref.ID)
		return ref, err
	})
	if err != nil {
		return nil, s.fail("look up "+job+"/"+step+" "+sourceID, err)
	}
	return refs, nil
}

// Value implements migrations.Store.
func (s *Store) Value(ctx context.Context, job, name string) (string, bool, error) {
	var v string
	var version int64
	err := s.pool.QueryRow(ctx, `SELECT value, version FROM job_values WHERE job = $1 AND name = $2`, job, name).Scan(&v, &version)
	if errors.Is(err, pgx.ErrNoRows) {
		s.versions.SeeValue(job, name, 0)
		return "", false, nil
	}
	if err != nil {
		return "", false, s.fail("read "+job+"/"+name, err)
	}
	s.versions.SeeValue(job, name, version)
	return v, true, nil
}

// SetValue implements migrations.Store as a compare-and-swap against the
// version this store last read or wrote. A value this store never read is
// written only if nobody holds it yet or nobody changed it since it was
// first read here; see ConflictError.
func (s *Store) SetValue(ctx context.Context, job, name, value string) error {
	expected, ok := s.versions.Value(job, name)
	var version int64
	var err error
	switch {
	case !ok:
		// Never read here: take whatever is there (an unread value cannot
		// be "advanced from" a stale position this process holds).
		err = s.pool.QueryRow(ctx, `INSERT INTO job_values (job, name, value, version, updated_at) VALUES ($1, $2, $3, 1, now())
			ON CONFLICT (job, name) DO UPDATE SET value = excluded.value, version = job_values.version + 1, updated_at = now()
			RETURNING version`, job, name, value).Scan(&version)
	case expected == 0:
		err = s.pool.QueryRow(ctx, `INSERT INTO job_values (job, name, value, version, updated_at) VALUES ($1, $2, $3, 1, now())
			ON CONFLICT (job, name) DO NOTHING RETURNING version`, job, name, value).Scan(&version)
	default:
		err = s.pool.QueryRow(ctx, `UPDATE job_values SET value = $3, version = version + 1, updated_at = now()
			WHERE job = $1 AND name = $2 AND version = $4 RETURNING version`, job, name, value, expected).Scan(&version)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return &ConflictError{Job: job, Name: "value " + name}
	}
	if err != nil {
		return s.fail("write "+job+"/"+name, err)
	}
	s.versions.SeeValue(job, name, version)
	return nil
}

// Target implements migrations.Store.
func (s *Store) Target(ctx context.Context, job string) (migrations.TargetInfo, bool, error) {
	var t migrations.TargetInfo
	err := s.pool.QueryRow(ctx, `SELECT target_id, url, recorded_at FROM job_targets WHERE job = $1`, job).Scan(&t.ID, &t.URL, &t.Recorded)
	if errors.Is(err, pgx.ErrNoRows) {
		return migrations.TargetInfo{}, false, nil
	}
	if err != nil {
		return migrations.TargetInfo{}, false, s.fail("read the target of "+job, err)
	}
	return t, true, nil
}

// SetTarget implements migrations.Store.
func (s *Store) SetTarget(ctx context.Context, job string, t migrations.TargetInfo) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO job_targets (job, target_id, url, recorded_at, updated_at) VALUES ($1, $2, $3, now(), now())
		ON CONFLICT (job) DO UPDATE SET target_id = excluded.target_id, url = excluded.url, updated_at = now()`, job, t.ID, t.URL)
	if err != nil {
		return s.fail("record the target of "+job, err)
	}
	return nil
}

// Clear implements migrations.Store. The transaction takes the job's
// advisory lock, so it fails while a run (in any process) holds it.
func (s *Store) Clear(ctx context.Context, job string) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return s.fail("clear "+job, err)
	}
	defer tx.Rollback(ctx)
	var got bool
	if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))`, lockKey(s.schema, job)).Scan(&got); err != nil {
		return s.fail("lock job "+job, err)
	}
	if !got {
		return &JobRunningError{Job: job, Path: s.where}
	}
	for _, table := range []string{"checkpoints", "idmap", "job_values", "rejects", "skips", "job_targets"} {
		if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE job = $1`, job); err != nil {
			return s.fail("clear "+job, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return s.fail("clear "+job, err)
	}
	s.versions.Forget(job)
	return nil
}

// Rejects implements migrations.Store.
func (s *Store) Rejects(ctx context.Context, job, step string) iter.Seq2[migrations.RejectState, error] {
	return func(yield func(migrations.RejectState, error) bool) {
		rows, err := s.pool.Query(ctx, `SELECT source_id, run_id, reason, error FROM rejects WHERE job = $1 AND step = $2 ORDER BY source_id`, job, step)
		if err != nil {
			yield(migrations.RejectState{}, s.fail("read rejects", err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			var r migrations.RejectState
			if err := rows.Scan(&r.SourceID, &r.RunID, &r.Reason, &r.Error); err != nil {
				yield(migrations.RejectState{}, err)
				return
			}
			if !yield(r, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(migrations.RejectState{}, err)
		}
	}
}

// Skips implements migrations.Store.
func (s *Store) Skips(ctx context.Context, job, step string) iter.Seq2[migrations.SkipState, error] {
	return func(yield func(migrations.SkipState, error) bool) {
		rows, err := s.pool.Query(ctx, `SELECT source_id, run_id, reason FROM skips WHERE job = $1 AND step = $2 ORDER BY source_id`, job, step)
		if err != nil {
			yield(migrations.SkipState{}, s.fail("read skips", err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			var k migrations.SkipState
			if err := rows.Scan(&k.SourceID, &k.RunID, &k.Reason); err != nil {
				yield(migrations.SkipState{}, err)
				return
			}
			if !yield(k, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(migrations.SkipState{}, err)
		}
	}
}

// JobRunningError reports that another process (possibly on another
// machine) runs the job against the same database: the SQLite store's
// error, so commands exit with the same code (4) whatever the store.
type JobRunningError = migrations.JobRunningError

func lockKey(schema, job string) string { return "dvsync-job:" + schema + ":" + job }

// BeginRun implements migrations.Store. The job lock is a session-level
// advisory lock on a connection kept until EndRun or Close, so a second
// process fails with *JobRunningError and a dead process's lock goes with
// its connection.
func (s *Store) BeginRun(ctx context.Context, job string, steps []string) (_ string, err error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return "", s.fail("begin run of "+job, err)
	}
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended($1, 0))`, lockKey(s.schema, job)).Scan(&got); err != nil {
		conn.Release()
		return "", s.fail("lock job "+job, err)
	}
	if !got {
		conn.Release()
		return "", &JobRunningError{Job: job, Path: s.where}
	}
	defer func() {
		if err != nil {
			conn.Exec(context.Background(), `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, lockKey(s.schema, job))
			conn.Release()
		}
	}()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return "", s.fail("begin run of "+job, err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `UPDATE run_steps SET status = $1 WHERE status IN ($2, $3) AND run_id IN (SELECT run_id FROM runs WHERE job = $4 AND status = $2)`,
		string(migrations.StatusInterrupted), string(migrations.StatusRunning), string(migrations.StatusPending), job); err != nil {
		return "", s.fail("begin run of "+job, err)
	}
	if _, err := tx.Exec(ctx, `UPDATE runs SET status = $1, error = 'process ended without closing the run' WHERE job = $2 AND status = $3`,
		string(migrations.StatusInterrupted), job, string(migrations.StatusRunning)); err != nil {
		return "", s.fail("begin run of "+job, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO runs (run_id, job, started_at, status) VALUES ($1, $2, $3, $4)`, id.String(), job, time.Now().UTC(), string(migrations.StatusRunning)); err != nil {
		return "", s.fail("begin run of "+job, err)
	}
	for i, st := range steps {
		if _, err := tx.Exec(ctx, `INSERT INTO run_steps (run_id, step, pos, status) VALUES ($1, $2, $3, $4)`, id.String(), st, i, string(migrations.StatusPending)); err != nil {
			return "", s.fail("begin run of "+job, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return "", s.fail("begin run of "+job, err)
	}
	s.mu.Lock()
	s.locks[id.String()] = conn
	s.mu.Unlock()
	return id.String(), nil
}

// SetStepStatus implements migrations.Store.
func (s *Store) SetStepStatus(ctx context.Context, runID, step string, status migrations.Status) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO run_steps (run_id, step, status) VALUES ($1, $2, $3)
		ON CONFLICT (run_id, step) DO UPDATE SET status = excluded.status`, runID, step, string(status))
	if err != nil {
		return s.fail("record step status", err)
	}
	return nil
}

// EndRun implements migrations.Store and releases the job's lock.
func (s *Store) EndRun(ctx context.Context, runID string, status migrations.Status, errMsg string) error {
	var job string
	err := s.pool.QueryRow(ctx, `UPDATE runs SET ended_at = now(), status = $1, error = $2 WHERE run_id = $3 RETURNING job`,
		string(status), errMsg, runID).Scan(&job)
	s.mu.Lock()
	conn := s.locks[runID]
	delete(s.locks, runID)
	s.mu.Unlock()
	if conn != nil {
		if job != "" {
			conn.Exec(context.Background(), `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, lockKey(s.schema, job))
		} else {
			conn.Conn().Close(context.Background())
		}
		conn.Release()
	}
	if err != nil {
		return s.fail("end run", err)
	}
	return nil
}

// Runs implements migrations.Store.
func (s *Store) Runs(ctx context.Context, job string) ([]migrations.RunRecord, error) {
	rows, err := s.pool.Query(ctx, `SELECT run_id, started_at, ended_at, status, error FROM runs WHERE job = $1 ORDER BY started_at, run_id`, job)
	if err != nil {
		return nil, s.fail("read runs", err)
	}
	runs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (migrations.RunRecord, error) {
		rec := migrations.RunRecord{Job: job}
		var ended *time.Time
		var status string
		err := r.Scan(&rec.ID, &rec.Started, &ended, &status, &rec.Error)
		rec.Status = migrations.Status(status)
		if ended != nil {
			rec.Ended = *ended
		}
		return rec, err
	})
	if err != nil {
		return nil, s.fail("read runs", err)
	}
	for i := range runs {
		srows, err := s.pool.Query(ctx, `SELECT step, status, read, created, updated, written, unchanged, skipped, rejected, warned FROM run_steps WHERE run_id = $1 ORDER BY pos, step`, runs[i].ID)
		if err != nil {
			return nil, s.fail("read runs", err)
		}
		steps, err := pgx.CollectRows(srows, func(r pgx.CollectableRow) (migrations.RunStepRecord, error) {
			var st migrations.RunStepRecord
			var status string
			c := &st.Counts
			err := r.Scan(&st.Step, &status, &c.Read, &c.Created, &c.Updated, &c.Written, &c.Unchanged, &c.Skipped, &c.Rejected, &c.Warned)
			st.Status = migrations.Status(status)
			return st, err
		})
		if err != nil {
			return nil, s.fail("read runs", err)
		}
		runs[i].Steps = steps
	}
	return runs, nil
}
