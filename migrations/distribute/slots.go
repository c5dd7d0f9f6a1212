package distribute

import (
	"context"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Slots keeps the concurrent requests of one application user, summed over
// every worker of every machine, within the degree of parallelism
// Dataverse recommends for that user (x-ms-dop-hint; send-parallel-
// requests.md: "the service protection limits are evaluated per user", and
// the hint is the number of requests to send at once). It is an
// http.RoundTripper under the Dataverse client: each request first takes
// one of N slots, a PostgreSQL advisory lock (user, slot) held by an open
// transaction for as long as the request and its response body are in
// flight. PostgreSQL keeps the count, queues the waiters and frees the
// slots of a worker whose connection dies, so no lease, heartbeat or
// clean-up of ours is involved.
//
// N is the hint the environment last sent (every response carries it);
// before the first response, one slot.
type Slots struct {
	// Base sends the request; nil means http.DefaultTransport.
	Base http.RoundTripper
	pool *pgxpool.Pool
	key  int32
	// hint is the last x-ms-dop-hint seen; 0 before any.
	hint atomic.Int32
	// Max caps the slots below the hint when positive.
	Max int

	mu      sync.Mutex
	waitSeq uint32
	stats   SlotStats
	// pausedUntil is the end of the pause a 429 asked for.
	pausedUntil time.Time
}

// SlotStats count what the slots did, for benchmarks and the worker log.
type SlotStats struct {
	Acquired int64
	// Waited is the number of requests that found every slot taken and
	// waited in PostgreSQL's lock queue.
	Waited int64
	// Held is the number of slots this process holds now (counted in once
	// granted, out before released, so never more than it holds);
	// PeakHeld the most it held at once.
	Held, PeakHeld int
	// Pauses counts the 429s that paused the user on every worker.
	Pauses int64
}

// NewSlots returns the slots of the application user named user in the
// environment env, kept in the database of pool. Every worker must name
// the same user and environment the same way to share one budget.
func NewSlots(pool *pgxpool.Pool, env, user string, base http.RoundTripper) *Slots {
	h := fnv.New32a()
	h.Write([]byte("dvsync-slots\x00" + strings.TrimRight(strings.ToLower(env), "/") + "\x00" + user))
	return &Slots{Base: base, pool: pool, key: int32(h.Sum32())}
}

// Capacity is the number of slots: the last hint seen (one before any),
// capped by Max.
func (s *Slots) Capacity() int {
	n := int(s.hint.Load())
	if n <= 0 {
		n = 1
	}
	if s.Max > 0 && n > s.Max {
		n = s.Max
	}
	return n
}

// Stats returns a snapshot of the counters.
func (s *Slots) Stats() SlotStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// acquire takes a free slot or, when all are taken, waits for one in
// PostgreSQL's lock queue. The returned function releases it.
func (s *Slots) acquire(ctx context.Context) (func(), error) {
	n := s.Capacity()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (func(), error) {
		tx.Rollback(context.WithoutCancel(ctx))
		return nil, err
	}
	start := rand.IntN(n)
	got := false
	for i := 0; i < n && !got; i++ {
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1, $2)`, s.key, int32((start+i)%n)).Scan(&got); err != nil {
			return fail(err)
		}
	}
	if !got {
		// Every slot is taken: queue for one, each waiter of this process
		// on the next slot in turn so waiters spread over the slots.
		s.mu.Lock()
		slot := int32(s.waitSeq % uint32(n))
		s.waitSeq++
		s.stats.Waited++
		s.mu.Unlock()
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, s.key, slot); err != nil {
			return fail(err)
		}
	}
	s.mu.Lock()
	s.stats.Acquired++
	s.stats.Held++
	s.stats.PeakHeld = max(s.stats.PeakHeld, s.stats.Held)
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			// Counted out before the lock goes, so that Held never counts
			// a slot another request has already taken.
			s.mu.Lock()
			s.stats.Held--
			s.mu.Unlock()
			// Ending the transaction releases the lock.
			rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := tx.Rollback(rctx); err != nil {
				// A broken connection: closing it releases the lock too.
				tx.Conn().Close(rctx)
			}
		})
	}, nil
}

// pause keeps every worker from sending a request for the user until
// until: the limits are per user, and Dataverse lengthens the block of a
// user that keeps sending (api-limits.md, "the duration will be
// extended"), so the Retry-After one worker was given must hold them all.
// It takes every slot, in ascending order (two pausing workers queue one
// behind the other, never each holding what the other waits for), as the
// requests in flight end, and holds them until the pause is over.
func (s *Slots) pause(until time.Time) {
	s.mu.Lock()
	running := time.Now().Before(s.pausedUntil)
	if until.After(s.pausedUntil) {
		s.pausedUntil = until
	}
	s.stats.Pauses++
	s.mu.Unlock()
	if running {
		return
	}
	n := s.Capacity()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Until(until)+time.Minute)
		defer cancel()
		tx, err := s.pool.Begin(ctx)
		if err != nil {
			return
		}
		defer tx.Rollback(context.Background())
		for i := range n {
			if time.Now().After(s.pauseEnd()) {
				return
			}
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, s.key, int32(i)); err != nil {
				return
			}
		}
		for {
			d := time.Until(s.pauseEnd())
			if d <= 0 {
				return
			}
			time.Sleep(d)
		}
	}()
}

func (s *Slots) pauseEnd() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pausedUntil
}

// RoundTrip implements http.RoundTripper.
func (s *Slots) RoundTrip(req *http.Request) (*http.Response, error) {
	release, err := s.acquire(req.Context())
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, &slotError{err}
	}
	base := s.Base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if err != nil {
		release()
		return nil, err
	}
	if h := resp.Header.Get("x-ms-dop-hint"); h != "" {
		if n, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && n > 0 {
			s.hint.Store(int32(n))
		}
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		if sec, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && sec > 0 {
			s.pause(time.Now().Add(time.Duration(sec) * time.Second))
		}
	}
	// The server counts the request as running until its body is sent;
	// a body nobody closes (a read abandoned with its context) gives the
	// slot back when the request's context ends.
	stop := context.AfterFunc(req.Context(), release)
	resp.Body = &slotBody{ReadCloser: resp.Body, release: func() { stop(); release() }}
	return resp, nil
}

type slotBody struct {
	io.ReadCloser
	release func()
}

func (b *slotBody) Close() error {
	err := b.ReadCloser.Close()
	b.release()
	return err
}

// slotError says that the state database, not Dataverse, failed.
type slotError struct{ err error }

func (e *slotError) Error() string {
	return "waiting for a request slot in the state database: " + e.err.Error()
}
func (e *slotError) Unwrap() error { return e.err }

// heldSlots returns the number of slots of each key held right now, from
// PostgreSQL's lock table, so a worker can pick the application user with
// the most room.
func heldSlots(ctx context.Context, pool *pgxpool.Pool, keys []int32) (map[int32]int, error) {
	rows, err := pool.Query(ctx, `SELECT classid::int4, count(*)::int FROM pg_locks
		WHERE locktype = 'advisory' AND objsubid = 2 AND granted AND classid::int4 = ANY($1) GROUP BY 1`, keys)
	if err != nil {
		return nil, err
	}
	out := map[int32]int{}
	defer rows.Close()
	for rows.Next() {
		var k int32
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, rows.Err()
}
