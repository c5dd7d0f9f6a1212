package dataverse

import (
	"context"
	"math"
	"sync"
	"time"
)

// DocumentedConcurrencyLimit is the service protection limit on concurrent
// requests per user per web server ("52 or higher").
// Source: powerapps-docs developer/data-platform/api-limits.md.
const DocumentedConcurrencyLimit = 52

// Limiter caps the number of requests in flight to one environment and
// adapts the cap: it starts from the server's x-ms-dop-hint, halves on a
// concurrency 429 (once per round of requests, so a burst of 429s from the
// same round counts as one signal) and adds about one slot per round of
// successes (AIMD). Every 429 also holds all requests back until its
// Retry-After has passed.
// Microsoft's guidance is to start from the hint, let the server pace the
// client, and expect some 429s when maximising throughput.
// Source: powerapps-docs developer/data-platform/send-parallel-requests.md.
//
// One Limiter is shared by every Client of a process that talks to the same
// host (see ClientOptions.Limiter), because the limits are per user and per
// server, not per client object.
type Limiter struct {
	mu       sync.Mutex
	limit    float64
	min, max float64
	fixed    bool
	hinted   bool
	inflight int
	// gen increases on every decrease; a 429 from a request admitted in an
	// older generation was caused by the old, larger limit and is ignored.
	gen     uint64
	changed chan struct{}
	// pausedUntil holds every new request back after a 429: the limits are
	// per user, so a request sent by any goroutine before Retry-After has
	// passed is throttled too and makes Dataverse extend the block
	// (api-limits.md: "the duration will be extended").
	pausedUntil time.Time
	// probing: after a pause one request goes first; the others wait until
	// it succeeds. Releasing every waiting request at once when Retry-After
	// ends would, if the window has not freed enough, earn a burst of 429s
	// and a longer block.
	probing  bool
	probeOut bool
	// pauses counts pauses; a success clears probing only if its request
	// was admitted after the latest pause began.
	pauses uint64

	stats LimiterStats
}

// LimiterStats are counters for reports and benchmarks.
type LimiterStats struct {
	Throttled     int     // 429 responses observed
	Decreases     int     // times the limit was lowered
	PeakInFlight  int     // highest number of concurrent requests
	Limit         float64 // current limit
	DOPHint       int     // last x-ms-dop-hint seen, 0 if none
	Acquisitions  int64   // requests admitted
	TotalInFlight int64   // sum over admissions of requests in flight, for averages
}

// LimiterOptions configure NewLimiter.
type LimiterOptions struct {
	// Initial is the limit before the first x-ms-dop-hint arrives. Default 4,
	// the value Microsoft's samples print for small environments.
	Initial int
	// Max caps the limit; default DocumentedConcurrencyLimit.
	Max int
	// Fixed disables adaptation: the limit stays at Initial.
	Fixed bool
}

// NewLimiter returns a limiter.
func NewLimiter(o LimiterOptions) *Limiter {
	if o.Max <= 0 {
		o.Max = DocumentedConcurrencyLimit
	}
	if o.Initial <= 0 {
		o.Initial = 4
	}
	if o.Initial > o.Max {
		o.Initial = o.Max
	}
	return &Limiter{limit: float64(o.Initial), min: 1, max: float64(o.Max), fixed: o.Fixed, changed: make(chan struct{})}
}

// ticket identifies one admitted request.
type ticket struct {
	gen    uint64
	pauses uint64
	probe  bool
}

// acquire waits for a free slot or ctx.
func (l *Limiter) acquire(ctx context.Context) (ticket, error) {
	for {
		l.mu.Lock()
		if wait := time.Until(l.pausedUntil); wait > 0 {
			l.mu.Unlock()
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return ticket{}, ctx.Err()
			case <-t.C:
			}
			continue
		}
		if l.probing && l.probeOut {
			wait := l.changed
			l.mu.Unlock()
			select {
			case <-ctx.Done():
				return ticket{}, ctx.Err()
			case <-wait:
			}
			continue
		}
		if l.inflight < int(math.Floor(l.limit)) {
			l.inflight++
			l.stats.Acquisitions++
			l.stats.TotalInFlight += int64(l.inflight)
			if l.inflight > l.stats.PeakInFlight {
				l.stats.PeakInFlight = l.inflight
			}
			t := ticket{gen: l.gen, pauses: l.pauses}
			if l.probing {
				t.probe = true
				l.probeOut = true
			}
			l.mu.Unlock()
			return t, nil
		}
		wait := l.changed
		l.mu.Unlock()
		select {
		case <-ctx.Done():
			return ticket{}, ctx.Err()
		case <-wait:
		}
	}
}

// release frees a slot.
func (l *Limiter) release(t ticket) {
	l.mu.Lock()
	l.inflight--
	if t.probe {
		l.probeOut = false
	}
	l.broadcastLocked()
	l.mu.Unlock()
}

func (l *Limiter) broadcastLocked() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// success grows the limit by 1/limit, i.e. about one slot per round trip of
// a full window, and only while the window is actually used.
func (l *Limiter) success(t ticket) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.probing && t.pauses == l.pauses {
		// The window has room again: let everyone go.
		l.probing = false
		l.broadcastLocked()
	}
	if l.fixed || l.limit >= l.max || float64(l.inflight+1) < math.Floor(l.limit) {
		return
	}
	before := int(l.limit)
	l.limit = math.Min(l.max, l.limit+1/l.limit)
	if int(l.limit) > before {
		l.broadcastLocked()
	}
}

// throttled reacts to a 429 whose Dataverse error code is code. Every 429
// pauses all requests until Retry-After (see pause). The concurrency limit
// is halved, once per generation, only when concurrency can be the cause:
// the concurrent-requests limit, or an unrecognised 429. The request-count
// and execution-time limits measure volume over a window; the pause
// already lets the server pace the client, and cutting parallelism below
// what fills the window would only leave allowed capacity unused.
func (l *Limiter) throttled(t ticket, code string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stats.Throttled++
	if code == CodeRequestsLimit || code == CodeExecutionTimeLimit {
		return
	}
	if l.fixed || t.gen != l.gen {
		return
	}
	l.gen++
	l.stats.Decreases++
	l.limit = math.Max(l.min, math.Floor(l.limit/2))
}

// pause holds new requests back for d.
func (l *Limiter) pause(d time.Duration) {
	if d <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if until := time.Now().Add(d); until.After(l.pausedUntil) {
		l.pausedUntil = until
	}
	l.probing = true
	l.pauses++
}

// hint applies x-ms-dop-hint: the first hint sets the starting limit.
func (l *Limiter) hint(n int) {
	if n <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stats.DOPHint = n
	if l.hinted || l.fixed {
		return
	}
	l.hinted = true
	l.limit = math.Min(l.max, float64(n))
	l.broadcastLocked()
}

// Stats returns a snapshot of the counters.
func (l *Limiter) Stats() LimiterStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stats
	s.Limit = l.limit
	return s
}

// Limit returns the current concurrency limit.
func (l *Limiter) Limit() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int(l.limit)
}

var (
	sharedLimitersMu sync.Mutex
	sharedLimiters   = map[string]*Limiter{}
)

// sharedLimiter returns the process-wide limiter for host.
func sharedLimiter(host string, o LimiterOptions) *Limiter {
	sharedLimitersMu.Lock()
	defer sharedLimitersMu.Unlock()
	if l, ok := sharedLimiters[host]; ok {
		return l
	}
	l := NewLimiter(o)
	sharedLimiters[host] = l
	return l
}
