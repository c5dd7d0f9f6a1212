package distribute

import (
	"context"
	"errors"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
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
//
// Slots of several application users of one environment may form a
// Lenders group: a request whose user has no free slot then goes out as
// another user of the group with a free one (its slot, its token), and
// waits in its own user's queue only when every user's slots are taken.
// Units are given a user when they start, and some end sooner than
// others; without lending, a user whose units ended would sit idle while
// another's queue was long.
type Slots struct {
	// Base sends the request; nil means http.DefaultTransport.
	Base http.RoundTripper
	pool *pgxpool.Pool
	key  int32
	// hint is the last x-ms-dop-hint seen; 0 before any.
	hint atomic.Int32
	// Max caps the slots below the hint when positive.
	Max int
	// token authenticates a request this user lends a slot to; nil: the
	// user lends none.
	token   func(context.Context) (string, error)
	lenders *Lenders

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
	// Borrowed counts this user's requests sent as another user of its
	// Lenders group; Lent the requests of others sent as this user (and
	// counted in Acquired).
	Borrowed, Lent int64
}

// Lenders is a group of application users of one environment that lend
// each other free request slots (see Slots).
type Lenders struct {
	mu      sync.Mutex
	members []*Slots
	next    int
}

// Join adds s to the group; token gives a bearer token of s's user for
// requests s lends a slot to.
func (l *Lenders) Join(s *Slots, token func(context.Context) (string, error)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s.token, s.lenders = token, l
	l.members = append(l.members, s)
}

// others returns the members other than s, starting at a rotating one so
// that borrowers spread over the lenders.
func (l *Lenders) others(s *Slots) []*Slots {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(l.members)
	out := make([]*Slots, 0, n)
	for i := range n {
		m := l.members[(l.next+i)%n]
		if m != s && m.token != nil {
			out = append(out, m)
		}
	}
	l.next++
	return out
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

// acquire takes a free slot of the user or, when all are taken, of
// another user of its Lenders group (returned as lender; s itself
// otherwise), or else waits for one of the user's in PostgreSQL's lock
// queue. The returned function releases it.
func (s *Slots) acquire(ctx context.Context) (release func(), lender *Slots, err error) {
	n := s.Capacity()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (func(), *Slots, error) {
		tx.Rollback(context.WithoutCancel(ctx))
		return nil, nil, err
	}
	lender = s
	got, err := tryAnySlot(ctx, tx, s.key, n)
	if err != nil {
		return fail(err)
	}
	if !got && s.lenders != nil {
		for _, o := range s.lenders.others(s) {
			if o.paused() {
				continue
			}
			if got, err = tryAnySlot(ctx, tx, o.key, o.Capacity()); err != nil {
				return fail(err)
			}
			if got {
				lender = o
				break
			}
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
	if lender != s {
		s.mu.Lock()
		s.stats.Borrowed++
		s.mu.Unlock()
	}
	lender.mu.Lock()
	lender.stats.Acquired++
	lender.stats.Held++
	lender.stats.PeakHeld = max(lender.stats.PeakHeld, lender.stats.Held)
	if lender != s {
		lender.stats.Lent++
	}
	lender.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			// Counted out before the lock goes, so that Held never counts
			// a slot another request has already taken.
			lender.mu.Lock()
			lender.stats.Held--
			lender.mu.Unlock()
			// Ending the transaction releases the lock.
			rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := tx.Rollback(rctx); err != nil {
				// A broken connection: closing it releases the lock too.
				tx.Conn().Close(rctx)
			}
		})
	}, lender, nil
}

// tryAnySlot takes one of the n slots of key if one is free, starting at
// a random one, in one round trip; the lock lasts as long as tx.
func tryAnySlot(ctx context.Context, tx pgx.Tx, key int32, n int) (bool, error) {
	// The scan yields the slots in order and stops at the first lock
	// taken (LIMIT 1), so at most one slot is held.
	var slot int32
	err := tx.QueryRow(ctx, `SELECT s FROM (SELECT ((i + $3) % $2)::int4 AS s FROM generate_series(0, $2 - 1) AS i) AS slots
		WHERE pg_try_advisory_xact_lock($1, s) LIMIT 1`, key, n, rand.IntN(n)).Scan(&slot)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// paused reports whether a 429's pause of the user is on.
func (s *Slots) paused() bool {
	return time.Now().Before(s.pauseEnd())
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
	release, lender, err := s.acquire(req.Context())
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, &slotError{err}
	}
	if lender != s {
		tok, err := lender.token(req.Context())
		if err != nil {
			release()
			if req.Body != nil {
				req.Body.Close()
			}
			return nil, err
		}
		req = req.Clone(req.Context())
		req.Header.Set("Authorization", "Bearer "+tok)
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
	// The hint and a 429 are the lender's: the limits are per user.
	if h := resp.Header.Get("x-ms-dop-hint"); h != "" {
		if n, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && n > 0 {
			lender.hint.Store(int32(n))
		}
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		if sec, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && sec > 0 {
			lender.pause(time.Now().Add(time.Duration(sec) * time.Second))
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

// userLoad is what an application user has in progress on every worker.
type userLoad struct {
	// Units is the number of units given the user; Slots the number of
	// its request slots held.
	Units, Slots int
}

func (a userLoad) less(b userLoad) bool {
	return a.Units < b.Units || a.Units == b.Units && a.Slots < b.Slots
}

// unitLockID is the second key of the advisory lock that marks a unit
// given to a user: negative, so it never meets a slot number (0 up), and
// PostgreSQL's lock table shows it as an objid of 2³¹ or more.
func unitLockID(jobID int64) int32 {
	return -1 - int32(jobID%(1<<30))
}

// queryer is a pool or a transaction.
type queryer interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// heldLocks returns, for each key, the units in progress and slots held
// right now, from PostgreSQL's lock table, so a worker can give a unit
// the application user with the most room.
func heldLocks(ctx context.Context, q queryer, keys []int32) (map[int32]userLoad, error) {
	rows, err := q.Query(ctx, `SELECT classid::int4, (objid::int8 >= 2147483648) AS unit, count(*)::int FROM pg_locks
		WHERE locktype = 'advisory' AND objsubid = 2 AND granted AND classid::int4 = ANY($1) GROUP BY 1, 2`, keys)
	if err != nil {
		return nil, err
	}
	out := map[int32]userLoad{}
	defer rows.Close()
	for rows.Next() {
		var k int32
		var unit bool
		var n int
		if err := rows.Scan(&k, &unit, &n); err != nil {
			return nil, err
		}
		l := out[k]
		if unit {
			l.Units = n
		} else {
			l.Slots = n
		}
		out[k] = l
	}
	return out, rows.Err()
}
