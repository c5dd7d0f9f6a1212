package distribute

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/dvsync/dvsync/migrations/pgstore"
)

// Defaults of Options.
const (
	// DefaultSchema holds River's tables, apart from the state store's
	// (pgstore.DefaultSchema) and from any mirror's.
	DefaultSchema = "dvsync_river"
	// DefaultQueue is the River queue of dvsync's units.
	DefaultQueue = "dvsync"
	// DefaultRescueAfter is how long a unit may stay with a worker that
	// stopped answering before another worker takes it over (plus up to
	// River's rescuer interval, 30 s). Units work in slices of a third of
	// it, so a live worker never holds one that long.
	DefaultRescueAfter = 30 * time.Second
	// DefaultMaxAttempts bounds the failed attempts of a unit; a slice
	// that ends in time (snoozed) is no failed attempt.
	DefaultMaxAttempts = 10
)

// Options configure the River side of a distributed job, for the
// coordinator and the workers alike. The zero value is usable.
type Options struct {
	// Schema holds River's tables; DefaultSchema when empty.
	Schema string
	// StateSchema is the state store's schema; pgstore.DefaultSchema when
	// empty.
	StateSchema string
	// Queue is the River queue; DefaultQueue when empty.
	Queue string
	// RescueAfter bounds how long a dead worker's unit waits before
	// another worker takes it over (River's RescueStuckJobsAfter);
	// DefaultRescueAfter when zero. Workers and coordinator need not agree:
	// the leader among the workers applies its own.
	RescueAfter time.Duration
	Logger      *slog.Logger
}

func (o Options) schema() string {
	if o.Schema == "" {
		return DefaultSchema
	}
	return o.Schema
}

func (o Options) queue() string {
	if o.Queue == "" {
		return DefaultQueue
	}
	return o.Queue
}

func (o Options) rescueAfter() time.Duration {
	if o.RescueAfter <= 0 {
		return DefaultRescueAfter
	}
	return o.RescueAfter
}

// slice is how long a unit reads before it hands itself back to the
// queue (its writes in flight then finish); jobTimeout bounds what a
// worker waits for its slices when it stops.
func (o Options) slice() time.Duration      { return o.rescueAfter() / 3 }
func (o Options) jobTimeout() time.Duration { return o.rescueAfter() * 2 / 3 }

func (o Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// openPool connects to the database of a postgres:// URL, for River and
// the request slots.
func openPool(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("distribute: cannot parse the --state connection string %s (expected postgres://user@host:port/database)", pgstore.Redact(url))
	}
	cfg.MaxConns = maxConns
	cfg.ConnConfig.RuntimeParams["application_name"] = "dvsync"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("distribute: connect to %s: %w", pgstore.Redact(url), err)
	}
	return pool, nil
}

// Migrate creates River's schema when needed and applies River's own
// migrations to it (rivermigrate), under a session-level advisory lock so
// that workers starting together against an empty database apply them
// once. (River's migrations cannot share one transaction: one adds an
// enum value that a later one uses.)
func Migrate(ctx context.Context, pool *pgxpool.Pool, o Options) error {
	schema := o.schema()
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Schema: schema, Logger: o.logger()})
	if err != nil {
		return err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	const lock = `hashtextextended('dvsync-river-migrate:'||$1, 0)`
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+lock+`)`, schema); err != nil {
		return err
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+lock+`)`, schema)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize()); err != nil {
		return err
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("applying River's migrations to schema %s: %w", schema, err)
	}
	return nil
}

// retryPolicy retries a failed unit soon (1, 4, 9 … seconds, at most a
// minute): a unit fails when a service stops it after the client's own
// retries, or when its worker died, and then the sooner another worker
// resumes it from its checkpoint the better. River's default waits
// attempt⁴ seconds, 81 s by the third attempt.
type retryPolicy struct{}

func (retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	a := max(job.Attempt, 1)
	d := min(time.Duration(a*a)*time.Second, time.Minute)
	return time.Now().Add(d)
}

// newClient builds a River client: an inserting one (workers nil) for the
// coordinator, or a working one for a worker.
func newClient(pool *pgxpool.Pool, o Options, workers *river.Workers, concurrency int) (*river.Client[pgx.Tx], error) {
	cfg := &river.Config{
		Schema:               o.schema(),
		Logger:               o.logger(),
		RescueStuckJobsAfter: o.rescueAfter(),
		JobTimeout:           o.jobTimeout(),
		RetryPolicy:          retryPolicy{},
		MaxAttempts:          DefaultMaxAttempts,
		// A unit handed back at the end of its slice (snoozed) is not
		// announced to the workers: they find it at the next poll.
		FetchPollInterval: 250 * time.Millisecond,
	}
	if workers != nil {
		cfg.Workers = workers
		cfg.Queues = map[string]river.QueueConfig{o.queue(): {MaxWorkers: max(concurrency, 1)}}
	}
	c, err := river.NewClient(riverpgxv5.New(pool), cfg)
	if err != nil {
		return nil, err
	}
	return c, nil
}
