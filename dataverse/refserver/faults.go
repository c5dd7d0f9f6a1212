package refserver

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fault injection. Each request draws once from a seeded generator, so a
// run that failed can be replayed: the same seed and the same sequence of
// requests give the same faults.
//
// Faults never corrupt stored data, and a client can always tell what
// happened by reading the record back:
//
//   - 503 and 500 are decided BEFORE the request runs: nothing was applied.
//   - reset and slow are applied AFTER the request ran and committed: the
//     write was applied in full, but the client sees the connection drop
//     part-way through the response (reset) or waits longer for it (slow).
//
// A change set or bulk message is one transaction either way, so a client
// never finds part of one applied. A $batch draws once, as one request: a
// 503/500 means none of its operations ran; a reset or slow response means
// all of them ran as the batch's own rules say. A reset of a response with
// no body (204) closes the connection before the status line.

// Faults is a fault-injection profile: the probability of each fault per
// request (they are exclusive; their sum must not exceed 1).
type Faults struct {
	Seed        uint64
	Unavailable float64       // 503 Service Unavailable, not applied
	Internal    float64       // 500 Internal Server Error, not applied
	Reset       float64       // connection dropped mid-response, applied
	Slow        float64       // response delayed by SlowDelay, applied
	SlowDelay   time.Duration // default 2s
}

// String renders f in the syntax ParseFaults reads.
func (f Faults) String() string {
	return fmt.Sprintf("seed=%d,503=%g,500=%g,reset=%g,slow=%g:%s", f.Seed, f.Unavailable, f.Internal, f.Reset, f.Slow, f.SlowDelay)
}

// ParseFaults reads a profile such as
// "seed=42,503=0.02,500=0.01,reset=0.01,slow=0.02:2s". "" or "off" means
// none (nil). Without seed= the seed is 1, so runs are still replayable.
func ParseFaults(spec string) (*Faults, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" || strings.EqualFold(spec, "off") || strings.EqualFold(spec, "none") {
		return nil, nil
	}
	f := Faults{Seed: 1, SlowDelay: 2 * time.Second}
	rate := func(name, v string) (float64, error) {
		p, err := strconv.ParseFloat(v, 64)
		if err != nil || p < 0 || p > 1 {
			return 0, fmt.Errorf("%s=%s is not a probability between 0 and 1", name, v)
		}
		return p, nil
	}
	for _, item := range strings.Split(spec, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			return nil, fmt.Errorf("%q in %q is not name=value (names: seed, 503, 500, reset, slow)", item, spec)
		}
		name, value = strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(value)
		var err error
		switch name {
		case "seed":
			if f.Seed, err = strconv.ParseUint(value, 10, 64); err != nil {
				return nil, fmt.Errorf("seed=%s is not a non-negative integer", value)
			}
		case "503":
			f.Unavailable, err = rate(name, value)
		case "500":
			f.Internal, err = rate(name, value)
		case "reset":
			f.Reset, err = rate(name, value)
		case "slow":
			p, d, hasDelay := strings.Cut(value, ":")
			if f.Slow, err = rate(name, p); err == nil && hasDelay {
				if f.SlowDelay, err = time.ParseDuration(d); err != nil || f.SlowDelay < 0 {
					err = fmt.Errorf("slow=%s: the delay after ':' must be a duration such as 2s", value)
				}
			}
		default:
			return nil, fmt.Errorf("unknown setting %q (names: seed, 503, 500, reset, slow)", name)
		}
		if err != nil {
			return nil, err
		}
	}
	if sum := f.Unavailable + f.Internal + f.Reset + f.Slow; sum > 1+1e-9 {
		return nil, fmt.Errorf("%q: the rates add up to %g; they must not exceed 1", spec, sum)
	}
	return &f, nil
}

type faultKind int

const (
	faultNone faultKind = iota
	faultUnavailable
	faultInternal
	faultReset
	faultSlow
)

func (k faultKind) String() string {
	return [...]string{"none", "503", "500", "reset", "slow"}[k]
}

// faultSource draws one fault per request from the seeded generator.
type faultSource struct {
	f   Faults
	mu  sync.Mutex
	rng *rand.Rand
}

func newFaultSource(f Faults) *faultSource {
	return &faultSource{f: f, rng: rand.New(rand.NewPCG(f.Seed, f.Seed^0x9e3779b97f4a7c15))}
}

func (fs *faultSource) next() faultKind {
	fs.mu.Lock()
	u := fs.rng.Float64()
	fs.mu.Unlock()
	f := fs.f
	switch {
	case u < f.Unavailable:
		return faultUnavailable
	case u < f.Unavailable+f.Internal:
		return faultInternal
	case u < f.Unavailable+f.Internal+f.Reset:
		return faultReset
	case u < f.Unavailable+f.Internal+f.Reset+f.Slow:
		return faultSlow
	}
	return faultNone
}

// Dataverse documents no payload for these statuses; we send its generic
// platform error code (0x80040216, "An unexpected error occurred.") in the
// usual error shape so that clients exercise their error parsing.
func injectedError(k faultKind) *apiError {
	if k == faultUnavailable {
		return newError(http.StatusServiceUnavailable, "0x80040216", "The service is temporarily unavailable. The request was not processed; try again later.")
	}
	return newError(http.StatusInternalServerError, "0x80040216", "An unexpected error occurred. The request was not processed.")
}

// resetMidResponse sends the status line, headers and half of the body,
// then drops the connection. The request has already been applied.
func resetMidResponse(w http.ResponseWriter, rec *recorder) {
	body := rec.body.Bytes()
	if len(body) > 1 {
		h := w.Header()
		for k, v := range rec.header {
			h[k] = v
		}
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.code())
		w.Write(body[:len(body)/2])
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
	}
	// net/http closes the connection (HTTP/1) or resets the stream (HTTP/2)
	// without logging when a handler panics with ErrAbortHandler.
	panic(http.ErrAbortHandler)
}
