package dataverse

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"time"
)

// Class is what to do about a failed call. It is the one classification
// of failures in dvsync: the client's own retries, the batched writer, the
// sink, the migration engine and the commands' exit codes all decide by
// it, and no caller keeps a retry loop of its own.
type Class int

const (
	// ClassNone is the class of a nil error.
	ClassNone Class = iota
	// ClassRetry is a failure of the service or the connection that a
	// later attempt may not meet (throttling, 5xx, a dropped connection).
	// The client re-sends retry-safe requests itself, within
	// ClientOptions.MaxRetries and Retry-After; one that still reaches a
	// caller has outlasted that policy, so a run stops there and its
	// resume sends the work again. It never rejects a record.
	ClassRetry
	// ClassReject is a refusal of what the request carries (400, 404,
	// 412, a duplicate key): this record is rejected with the error and
	// the run goes on.
	ClassReject
	// ClassStop means no other request can succeed either: the run was
	// cancelled, the credential was refused, or the environment cannot be
	// reached at all.
	ClassStop
)

func (c Class) String() string {
	switch c {
	case ClassNone:
		return "none"
	case ClassRetry:
		return "retry"
	case ClassReject:
		return "reject"
	case ClassStop:
		return "stop"
	}
	return fmt.Sprintf("Class(%d)", int(c))
}

// StopsRun reports whether a run must stop (and resume later) rather than
// reject one record and go on.
func (c Class) StopsRun() bool { return c == ClassRetry || c == ClassStop }

// Classify returns the class of err. Errors that are not from the service
// (a record without a key, an unencodable value) are the record's own:
// ClassReject.
func Classify(err error) Class {
	if err == nil {
		return ClassNone
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return ClassStop
	}
	var ae *AuthError
	var ue *UnreachableError
	if errors.As(err, &ae) || errors.As(err, &ue) || IsAuth(err) {
		return ClassStop
	}
	if re, ok := asResponseError(err); ok {
		if IsThrottled(re) || re.StatusCode >= 500 || re.StatusCode == http.StatusRequestTimeout {
			return ClassRetry
		}
		return ClassReject
	}
	var be *bodyError
	if errors.As(err, &be) {
		if isBrokenBody(err) {
			return ClassRetry
		}
		return ClassReject
	}
	if isTransportError(err) {
		return ClassRetry
	}
	return ClassReject
}

// transportError marks an error of the connection (refused, reset, timed
// out), as opposed to one the client made up before sending.
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

func isTransportError(err error) bool {
	var te *transportError
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &te) || errors.As(err, &ne) || errors.As(err, &oe) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED)
}

// UnreachableError is a first request that found nothing listening (or
// no such host): a wrong --env, not a passing fault, so it fails at once
// instead of being retried for minutes.
type UnreachableError struct {
	Host string
	Err  error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("dataverse: cannot reach %s: %v (check --env)", e.Host, rootCause(e.Err))
}
func (e *UnreachableError) Unwrap() error { return e.Err }

// rootCause is the innermost error of the dial ("connection refused").
func rootCause(err error) error {
	var se *net.OpError
	if errors.As(err, &se) && se.Err != nil {
		err = se.Err
	}
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

// unreachable reports a dial that found no listener or no host.
func unreachable(err error) bool {
	var de *net.DNSError
	return errors.Is(err, syscall.ECONNREFUSED) || (errors.As(err, &de) && de.IsNotFound)
}

// RetryNotice describes a request the client is about to send again.
type RetryNotice struct {
	Method string
	// Path is the request path without its query string.
	Path string
	// Attempt is the attempt that failed (1 for the first send); Max is
	// the number of re-sends the policy allows.
	Attempt, Max int
	// Wait is the server's Retry-After when it gave one; otherwise
	// MaxWait bounds the jittered backoff.
	Wait, MaxWait time.Duration
	// Reason is why: the status and Dataverse code, or the connection
	// error.
	Reason string
}

func (n RetryNotice) String() string {
	wait := "up to " + n.MaxWait.Round(time.Millisecond).String()
	if n.Wait > 0 {
		wait = n.Wait.Round(time.Millisecond).String() + " (Retry-After)"
	}
	return fmt.Sprintf("dataverse: waiting %s to retry %s %s (attempt %d of %d): %s", wait, n.Method, n.Path, n.Attempt+1, n.Max+1, n.Reason)
}

// retryPolicy is the client's CheckRetry: checkRetry's decision, plus
// failing fast when the very first contact with the environment finds
// nothing there, plus a notice for every retry.
type retryPolicy struct {
	opts    *ClientOptions
	host    string
	reached *atomic.Bool // a response has arrived from the host
}

func (p *retryPolicy) check(ctx context.Context, resp *http.Response, err error) (bool, error) {
	retry, cerr := checkRetry(ctx, resp, err)
	if err != nil && !p.reached.Load() && unreachable(err) {
		return false, &UnreachableError{Host: p.host, Err: err}
	}
	if !retry || cerr != nil {
		return retry, cerr
	}
	st := stateFrom(ctx)
	n := RetryNotice{Max: p.opts.MaxRetries, Reason: reasonOf(resp, err)}
	if st != nil {
		n.Attempt = int(st.attempts.Load())
	}
	ceil := p.opts.RetryWaitMin
	for i := 1; i < n.Attempt && ceil < p.opts.RetryWaitMax; i++ {
		ceil *= 2
	}
	n.MaxWait = min(ceil, p.opts.RetryWaitMax)
	if resp != nil {
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			n.Wait = d
		}
		if resp.Request != nil {
			n.Method, n.Path = resp.Request.Method, resp.Request.URL.Path
		}
	} else if st != nil {
		n.Method, n.Path = st.method, st.path
	}
	if p.opts.OnRetry != nil {
		p.opts.OnRetry(n)
	}
	if p.opts.Logger != nil {
		p.opts.Logger.Info(n.String())
	}
	return true, nil
}

func reasonOf(resp *http.Response, err error) string {
	if err != nil {
		return rootCause(err).Error()
	}
	return fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
}
