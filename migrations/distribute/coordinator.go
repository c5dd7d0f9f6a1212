package distribute

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// DefaultPoll is how often a coordinator looks at its units.
const DefaultPoll = 250 * time.Millisecond

// coordinator enqueues a run's units and watches them; the workers do
// them. It never works a unit itself.
type coordinator struct {
	o      Options
	pool   *pgxpool.Pool
	river  *river.Client[pgx.Tx]
	notice func(string)
	// noticed are the failed attempts already reported.
	noticed map[string]bool
}

func newCoordinator(ctx context.Context, state string, o Options, notice func(string)) (*coordinator, error) {
	pool, err := openPool(ctx, state, 4)
	if err != nil {
		return nil, err
	}
	if err := Migrate(ctx, pool, o); err != nil {
		pool.Close()
		return nil, err
	}
	rc, err := newClient(pool, o, nil, 0)
	if err != nil {
		pool.Close()
		return nil, err
	}
	if notice == nil {
		notice = func(string) {}
	}
	return &coordinator{o: o, pool: pool, river: rc, notice: notice, noticed: map[string]bool{}}, nil
}

func (c *coordinator) close() { c.pool.Close() }

// enqueue inserts units in one transaction and returns their River job
// IDs. A unit enqueued before (same run and range) is not inserted again:
// its existing job's ID is returned, whatever state it is in, so a
// resumed coordinator waits for the units its predecessor enqueued.
func (c *coordinator) enqueue(ctx context.Context, units []Unit) ([]int64, error) {
	if len(units) == 0 {
		return nil, nil
	}
	params := make([]river.InsertManyParams, len(units))
	for i, u := range units {
		params[i] = river.InsertManyParams{Args: u, InsertOpts: &river.InsertOpts{
			Queue: c.o.queue(), MaxAttempts: DefaultMaxAttempts,
			UniqueOpts: river.UniqueOpts{ByArgs: true},
			Tags:       []string{u.Type},
		}}
	}
	var ids []int64
	err := pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		res, err := c.river.InsertManyTx(ctx, tx, params)
		if err != nil {
			return err
		}
		for _, r := range res {
			ids = append(ids, r.Job.ID)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("enqueueing %d units: %w", len(units), err)
	}
	return ids, nil
}

// jobs returns the River jobs of ids.
func (c *coordinator) jobs(ctx context.Context, ids []int64) (map[int64]*rivertype.JobRow, error) {
	out := make(map[int64]*rivertype.JobRow, len(ids))
	for start := 0; start < len(ids); start += 1000 {
		chunk := ids[start:min(start+1000, len(ids))]
		res, err := c.river.JobList(ctx, river.NewJobListParams().IDs(chunk...).First(len(chunk)))
		if err != nil {
			return nil, fmt.Errorf("reading the units' state: %w", err)
		}
		for _, j := range res.Jobs {
			out[j.ID] = j
		}
	}
	for _, id := range ids {
		if out[id] == nil {
			return nil, fmt.Errorf("unit job %d is gone from River's queue (deleted by hand?); run again to enqueue it anew", id)
		}
	}
	return out, nil
}

// unitState is what the coordinator makes of a unit's River job.
type unitState int

const (
	unitWaiting unitState = iota
	unitRunning
	unitDone
	unitFailed
)

// check classifies a unit's job and reports a failed attempt once.
func (c *coordinator) check(u Unit, j *rivertype.JobRow) (unitState, error) {
	if n := len(j.Errors); n > 0 {
		last := j.Errors[n-1]
		key := fmt.Sprintf("%d/%d", j.ID, last.Attempt)
		if !c.noticed[key] && j.State != rivertype.JobStateCompleted {
			c.noticed[key] = true
			c.notice(fmt.Sprintf("unit %s: attempt %d failed: %s", u, last.Attempt, firstLine(last.Error)))
		}
	}
	switch j.State {
	case rivertype.JobStateCompleted:
		return unitDone, nil
	case rivertype.JobStateDiscarded, rivertype.JobStateCancelled:
		msg := "cancelled"
		if n := len(j.Errors); n > 0 {
			msg = firstLine(j.Errors[n-1].Error)
		}
		return unitFailed, fmt.Errorf("unit %s %s after %d attempts: %s", u, j.State, j.Attempt, msg)
	case rivertype.JobStateRunning:
		return unitRunning, nil
	}
	return unitWaiting, nil
}

// errWorkersGoOn is added to the error of a coordinator that stops while
// units are queued or running: the workers do not depend on it.
var errWorkersGoOn = errors.New("the workers go on with the units already queued; run the same command again to wait for them and see the summary")

func firstLine(s string) string {
	for i := range len(s) {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}
