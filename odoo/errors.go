package odoo

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Fully-qualified names of the Odoo exceptions a client meets most often
// (odoo/exceptions.py). Error.Name carries them verbatim.
const (
	ExcAccessDenied    = "odoo.exceptions.AccessDenied"
	ExcAccessError     = "odoo.exceptions.AccessError"
	ExcMissingError    = "odoo.exceptions.MissingError"
	ExcUserError       = "odoo.exceptions.UserError"
	ExcValidationError = "odoo.exceptions.ValidationError"
	ExcUnauthorized    = "werkzeug.exceptions.Unauthorized"
	ExcNotFound        = "werkzeug.exceptions.NotFound"
)

// Error is an exception raised by Odoo, as carried by the JSON-RPC error
// envelope (HTTP 200, error.data) or by a JSON-2 error body (real HTTP
// status). See research/odoo.md §1.2 and §1.3.
type Error struct {
	// Name is the Python class, e.g. "odoo.exceptions.AccessError".
	Name string
	// Message is the exception text shown to users.
	Message string
	// Code is the JSON-RPC error.code (200 up to 18, 0 on 19); 0 for JSON-2.
	Code int
	// HTTPStatus is the JSON-2 status; 200 for JSON-RPC envelopes.
	HTTPStatus int
	// Debug is the server traceback, for logs; it can be long.
	Debug string
	// Model and Method locate the call that failed.
	Model, Method string
}

func (e *Error) Error() string {
	where := ""
	if e.Model != "" {
		where = " (" + e.Model + "." + e.Method + ")"
	}
	short := e.Name
	if i := strings.LastIndexByte(short, '.'); i >= 0 {
		short = short[i+1:]
	}
	return fmt.Sprintf("odoo: %s%s: %s", short, where, e.Message)
}

// Is lets errors.Is(err, odoo.ErrAccess) and friends match by exception
// class, including subclasses Odoo reports under their own names.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrAccessDenied:
		return e.Name == ExcAccessDenied || e.Name == ExcUnauthorized
	case ErrAccess:
		return e.Name == ExcAccessError
	case ErrMissing:
		return e.Name == ExcMissingError
	case ErrUser:
		return e.Name == ExcUserError || e.Name == ExcValidationError || e.Name == ExcMissingError
	case ErrNotFound:
		return e.HTTPStatus == http.StatusNotFound || e.Name == ExcNotFound
	}
	return false
}

// Sentinels for errors.Is on *Error.
var (
	ErrAccessDenied = errors.New("odoo: access denied (bad login or API key)")
	ErrAccess       = errors.New("odoo: access error")
	ErrMissing      = errors.New("odoo: record missing")
	ErrUser         = errors.New("odoo: user error")
	ErrNotFound     = errors.New("odoo: not found")
)

// HTTPError is a response that is not an Odoo answer at all: a proxy's 502
// when a worker was killed, an HTML 404 for an absent route, and so on.
type HTTPError struct {
	StatusCode int
	Status     string
	URL        string
	Snippet    string // start of the body, for diagnosis
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("odoo: %s from %s", e.Status, e.URL)
	if e.Snippet != "" {
		msg += ": " + e.Snippet
	}
	return msg
}

// Retryable reports whether the failure is transient: throttling or a 5xx
// that did not come with an Odoo error body, which is how a killed worker
// (--limit-time-real), a restarting server or an overloaded proxy shows.
// Odoo's own errors are *Error and never retried.
func (e *HTTPError) Retryable() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// DecodeError reports a field value whose shape is not what its type allows.
type DecodeError struct {
	Field string
	Want  string
	Raw   string
}

func (e *DecodeError) Error() string {
	raw := e.Raw
	if len(raw) > 80 {
		raw = raw[:80] + "…"
	}
	return fmt.Sprintf("odoo: field %s: want %s, got %s", e.Field, e.Want, raw)
}

// AuthError is returned by New when the login/key pair is refused.
type AuthError struct {
	Login    string
	Database string
	Reason   string
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("odoo: authentication failed for %q on database %q: %s", e.Login, e.Database, e.Reason)
}

func (e *AuthError) Is(target error) bool { return target == ErrAccessDenied }
