package refserver

import (
	"net/http"
	"strconv"
	"time"
)

// serveGuarded runs an authenticated request through the service protection
// limits, fault injection and the latency profile, in the order a real
// service applies them: a throttled request is refused before it runs; a
// 503/500 fault is decided before it runs (nothing applied); the handler
// writes into a buffer; the latency wait and a slow fault come after it
// committed; a reset drops the connection while sending the response.
func (s *Server) serveGuarded(w http.ResponseWriter, r *http.Request) {
	if s.limiter == nil && s.faults == nil && s.opts.Latency == nil {
		s.dispatch(w, r)
		return
	}
	ctx := r.Context()
	start := time.Now()
	if s.limiter != nil {
		done, remaining, err := s.limiter.admit(callerFrom(ctx).ID, start)
		if err != nil {
			writeError(w, err)
			return
		}
		// Execution time includes the latency profile and slow faults: the
		// caller was occupying the server for all of it.
		defer func() { done(time.Since(start)) }()
		if remaining >= 0 {
			w.Header().Set("x-ms-ratelimit-burst-remaining-xrm-requests", strconv.Itoa(remaining))
		}
	}
	fault := faultNone
	if s.faults != nil {
		fault = s.faults.next()
		if fault == faultUnavailable || fault == faultInternal {
			writeError(w, injectedError(fault))
			return
		}
	}
	count := &recordCount{}
	r = r.WithContext(withRecordCount(ctx, count))
	rec := newRecorder()
	rec.report = reporterFrom(ctx)
	s.dispatch(rec, r)
	if l := s.opts.Latency; l != nil {
		if !sleepContext(ctx, l.Delay(count.n.Load())) {
			return // the client gave up; the work is done, nobody is listening
		}
	}
	switch fault {
	case faultSlow:
		if !sleepContext(ctx, s.faults.f.SlowDelay) {
			return
		}
	case faultReset:
		resetMidResponse(w, rec)
	}
	rec.copyTo(w)
}
