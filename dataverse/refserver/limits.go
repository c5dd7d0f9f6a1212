package refserver

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Service protection limits (powerapps-docs developer/data-platform/
// api-limits.md). Dataverse evaluates, per user and per web server, over a
// 300-second sliding window: the number of requests (6,000), their combined
// execution time (1,200 s) and the requests running at once (52). Over a
// limit the Web API answers 429 Too Many Requests with Retry-After in
// seconds and one of three error codes. "If the application continues to
// send such demanding requests, the duration will be extended to minimize
// the impact on shared resources" — here each request sent before the
// previous Retry-After has elapsed lengthens the block by one second per
// repeated attempt, up to two windows from now. Concurrency errors come
// immediately; the count and time limits here bite exactly at the limit
// (Dataverse may let a client overshoot first).
//
// A $batch counts as one request (it is one ExecuteMultiple), but its
// execution time is that of all its operations, so large batches press on
// the execution-time limit rather than the request limit, as the document
// describes.

const (
	codeTooManyRequests   = "0x80072322" // -2147015902
	codeExecutionTime     = "0x80072321" // -2147015903
	codeTooManyConcurrent = "0x80072326" // -2147015898
)

// Limits is a service protection profile. A limit of zero or less is off.
type Limits struct {
	Requests      int           // requests per RequestWindow
	RequestWindow time.Duration // sliding window for Requests
	ExecutionTime time.Duration // combined execution time per TimeWindow
	TimeWindow    time.Duration // sliding window for ExecutionTime
	Concurrent    int           // requests running at once
}

// DefaultLimits returns Dataverse's documented defaults: 6,000 requests and
// 1,200 seconds of execution time per 300 seconds, 52 concurrent requests.
func DefaultLimits() Limits {
	return Limits{
		Requests: 6000, RequestWindow: 300 * time.Second,
		ExecutionTime: 1200 * time.Second, TimeWindow: 300 * time.Second,
		Concurrent: 52,
	}
}

// String renders l in the syntax ParseLimits reads.
func (l Limits) String() string {
	return fmt.Sprintf("requests=%d/%s,time=%s/%s,concurrent=%d", l.Requests, l.RequestWindow, l.ExecutionTime, l.TimeWindow, l.Concurrent)
}

// ParseLimits reads a profile such as
// "requests=600/30s,time=120s/30s,concurrent=8". Settings left out keep
// Dataverse's defaults; "dataverse" (or "default") alone means the
// defaults, and "off" (or "none", or "") means no limits (nil).
func ParseLimits(spec string) (*Limits, error) {
	spec = strings.TrimSpace(spec)
	switch strings.ToLower(spec) {
	case "", "off", "none":
		return nil, nil
	case "dataverse", "default":
		l := DefaultLimits()
		return &l, nil
	}
	l := DefaultLimits()
	for _, item := range strings.Split(spec, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			return nil, fmt.Errorf("%q in %q is not name=value (names: requests, time, concurrent)", item, spec)
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "requests":
			n, win, err := amountPerWindow(value, func(s string) (int, error) { return strconv.Atoi(s) })
			if err != nil {
				return nil, fmt.Errorf("requests=%s: %w (e.g. requests=600/30s)", value, err)
			}
			l.Requests, l.RequestWindow = n, win
		case "time":
			d, win, err := amountPerWindow(value, time.ParseDuration)
			if err != nil {
				return nil, fmt.Errorf("time=%s: %w (e.g. time=120s/30s)", value, err)
			}
			l.ExecutionTime, l.TimeWindow = d, win
		case "concurrent":
			n, err := strconv.Atoi(value)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("concurrent=%s is not a non-negative integer", value)
			}
			l.Concurrent = n
		default:
			return nil, fmt.Errorf("unknown setting %q (names: requests, time, concurrent)", name)
		}
	}
	return &l, nil
}

func amountPerWindow[T int | time.Duration](value string, parse func(string) (T, error)) (T, time.Duration, error) {
	amount, window, ok := strings.Cut(value, "/")
	if !ok {
		return 0, 0, fmt.Errorf("want AMOUNT/WINDOW")
	}
	n, err := parse(strings.TrimSpace(amount))
	if err != nil || n < 0 {
		return 0, 0, fmt.Errorf("bad amount %q", amount)
	}
	w, err := time.ParseDuration(strings.TrimSpace(window))
	if err != nil || w <= 0 {
		return 0, 0, fmt.Errorf("bad window %q", window)
	}
	return n, w, nil
}

// limiter keeps the sliding windows of every caller.
type limiter struct {
	l       Limits
	mu      sync.Mutex
	callers map[string]*callerWindow
	admits  int // admissions since the last sweep of idle callers
}

// sweepEvery bounds the memory of callers that stopped calling: every so
// many admissions, callers with nothing running and empty windows go.
const sweepEvery = 4096

type execEntry struct {
	at time.Time
	d  time.Duration
}

type callerWindow struct {
	inflight int
	admitted []time.Time // admission times inside RequestWindow, oldest first
	exec     []execEntry // finished requests inside TimeWindow, oldest first
	execSum  time.Duration

	blockedUntil time.Time
	blockCode    string
	strikes      int
}

func newLimiter(l Limits) *limiter {
	return &limiter{l: l, callers: map[string]*callerWindow{}}
}

func (c *callerWindow) prune(l Limits, now time.Time) {
	i := 0
	for i < len(c.admitted) && now.Sub(c.admitted[i]) >= l.RequestWindow {
		i++
	}
	c.admitted = c.admitted[i:]
	j := 0
	for j < len(c.exec) && now.Sub(c.exec[j].at) >= l.TimeWindow {
		c.execSum -= c.exec[j].d
		j++
	}
	c.exec = c.exec[j:]
}

// admit decides whether a request of caller may run now. On success it
// returns done, which the caller must call with the request's execution
// time when it finishes, and the requests left in the window (-1: no
// request limit).
func (lm *limiter) admit(caller string, now time.Time) (done func(time.Duration), remaining int, err *apiError) {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	l := lm.l
	c := lm.callers[caller]
	if c == nil {
		c = &callerWindow{}
		lm.callers[caller] = c
	}
	c.prune(l, now)
	if l.Concurrent > 0 && c.inflight >= l.Concurrent {
		// Concurrency errors come at once and clear as soon as a running
		// request finishes: a short Retry-After.
		return nil, 0, lm.throttled(codeTooManyConcurrent, 1)
	}
	if now.Before(c.blockedUntil) {
		// Continued pressure while throttled lengthens the wait.
		c.strikes++
		until := c.blockedUntil.Add(time.Duration(c.strikes) * time.Second)
		if maxUntil := now.Add(2 * max(l.RequestWindow, l.TimeWindow)); until.After(maxUntil) {
			until = maxUntil
		}
		c.blockedUntil = until
		return nil, 0, lm.throttled(c.blockCode, retryAfterSeconds(until.Sub(now)))
	}
	if l.Requests > 0 && len(c.admitted) >= l.Requests {
		// The window frees a slot when its oldest request ages out.
		until := c.admitted[len(c.admitted)-l.Requests].Add(l.RequestWindow)
		c.block(codeTooManyRequests, until)
		return nil, 0, lm.throttled(codeTooManyRequests, retryAfterSeconds(until.Sub(now)))
	}
	if l.ExecutionTime > 0 && c.execSum >= l.ExecutionTime {
		sum := c.execSum
		until := now
		for _, e := range c.exec {
			sum -= e.d
			until = e.at.Add(l.TimeWindow)
			if sum < l.ExecutionTime {
				break
			}
		}
		c.block(codeExecutionTime, until)
		return nil, 0, lm.throttled(codeExecutionTime, retryAfterSeconds(until.Sub(now)))
	}
	c.strikes = 0
	c.admitted = append(c.admitted, now)
	c.inflight++
	if lm.admits++; lm.admits >= sweepEvery {
		lm.admits = 0
		for id, other := range lm.callers {
			other.prune(l, now)
			if other.inflight == 0 && len(other.admitted) == 0 && len(other.exec) == 0 && !now.Before(other.blockedUntil) {
				delete(lm.callers, id)
			}
		}
	}
	remaining = -1
	if l.Requests > 0 {
		remaining = l.Requests - len(c.admitted)
	}
	var once sync.Once
	return func(d time.Duration) {
		once.Do(func() {
			lm.mu.Lock()
			defer lm.mu.Unlock()
			c.inflight--
			c.exec = append(c.exec, execEntry{at: time.Now(), d: d})
			c.execSum += d
		})
	}, remaining, nil
}

func (c *callerWindow) block(code string, until time.Time) {
	c.blockCode = code
	c.blockedUntil = until
	c.strikes = 0
}

func retryAfterSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// throttled builds the 429 for a limit, with the wording of api-limits.md.
func (lm *limiter) throttled(code string, retryAfter int) *apiError {
	l := lm.l
	var msg string
	switch code {
	case codeTooManyRequests:
		msg = fmt.Sprintf("Number of requests exceeded the limit of %d over time window of %d seconds.", l.Requests, int(l.RequestWindow/time.Second))
	case codeExecutionTime:
		msg = fmt.Sprintf("Combined execution time of incoming requests exceeded limit of %s milliseconds over time window of %d seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.", groupThousands(l.ExecutionTime.Milliseconds()), int(l.TimeWindow/time.Second))
	default:
		msg = fmt.Sprintf("Number of concurrent requests exceeded the limit of %d.", l.Concurrent)
	}
	return &apiError{Status: http.StatusTooManyRequests, Code: code, Message: msg, RetryAfter: retryAfter}
}

// groupThousands formats 1200000 as "1,200,000", as the message does.
func groupThousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	if len(s) <= 3 {
		return s
	}
	var b strings.Builder
	lead := len(s) % 3
	if lead > 0 {
		b.WriteString(s[:lead])
	}
	for i := lead; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}
