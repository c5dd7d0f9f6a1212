package dataverse

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// Dataverse error codes the client reacts to. The Web API carries them in
// error.code as "0x…" strings; the code is independent of the HTTP status.
// Sources: powerapps-docs developer/data-platform/api-limits.md (service
// protection codes), webapi/compose-http-requests-handle-errors.md (payload),
// and the RetrieveEntityChanges samples for ExpiredVersionStamp.
const (
	CodeRequestsLimit       = "0x80072322" // "Number of requests exceeded the limit of 6000 over time window of 300 seconds."
	CodeExecutionTimeLimit  = "0x80072321" // combined execution time over 1,200,000 ms in 300 s
	CodeConcurrencyLimit    = "0x80072326" // "Number of concurrent requests exceeded the limit of 52."
	CodeObjectDoesNotExist  = "0x80040217" // "… With Id = … Does Not Exist"
	CodeDuplicateKey        = "0x80040237" // "Cannot insert duplicate key"
	CodeDuplicateEntityKey  = "0x80060892" // "A record that has the attribute values … already exists. The entity key … requires …" (DuplicateRecordEntityKey)
	CodeValidation          = "0x80044331" // "A validation error occurred."
	CodeExpiredVersionStamp = "0x80044352" // "Version stamp associated with the client has expired. Please perform a full sync."
	CodeResourceNotFound    = "0x8006088a" // "Resource not found for the segment 'X'"
)

// ResponseError is a non-success response from the Web API. It never holds
// request headers, so a bearer token cannot leak through it.
type ResponseError struct {
	StatusCode int
	// Code is the Dataverse error code ("0x80040217"); often empty on 404
	// and 412 responses.
	Code    string
	Message string
	// RequestID is the server's request identifier (REQ_ID or
	// x-ms-service-request-id), the value Microsoft support asks for.
	RequestID string
	// RetryAfter is the server-requested wait of a 429 response.
	RetryAfter time.Duration
	Method     string
	// Path is the request path without the query string: queries may carry
	// user data that does not belong in logs.
	Path string
	// Env is the service root the request went to, and TokenSource, on a
	// 401, says which credential's token was refused (CredentialSource):
	// what a user must know to fix it, and neither is a secret.
	Env, TokenSource string
}

func (e *ResponseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "dataverse: %s %s: %d %s", e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != "" {
		fmt.Fprintf(&b, " (%s)", e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.RequestID != "" {
		b.WriteString(" [request " + e.RequestID + "]")
	}
	return b.String()
}

// partialError reads the code and the start of the message from a
// truncated {"error":{"code":…,"message":…}} payload.
var partialError = regexp.MustCompile(`^\s*\{\s*"error"\s*:\s*\{\s*"code"\s*:\s*"([^"]*)"\s*,\s*"message"\s*:\s*"((?:[^"\\]|\\.)*)`)

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 1 << 20

// newResponseError builds a ResponseError from a failed response and closes
// its body.
func newResponseError(resp *http.Response) *ResponseError {
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := errorFromParts(resp.StatusCode, resp.Header, body)
	if resp.Request != nil {
		e.Method = resp.Request.Method
		e.Path = resp.Request.URL.Path
	}
	return e
}

// errorFromParts decodes the {"error":{"code","message"}} payload. Bodies
// that are not that shape (proxies, gateways) become the message, trimmed.
func errorFromParts(status int, h http.Header, body []byte) *ResponseError {
	e := &ResponseError{StatusCode: status}
	var payload struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &payload) == nil && (payload.Error.Code != "" || payload.Error.Message != "") {
		e.Code = payload.Error.Code
		e.Message = payload.Error.Message
	} else if m := partialError.FindSubmatch(body); m != nil {
		// A payload cut short (a dropped connection): keep what arrived.
		e.Code = string(m[1])
		e.Message = string(m[2]) + "…"
	} else if s := strings.TrimSpace(string(body)); s != "" {
		if len(s) > 500 {
			s = s[:500] + "…"
		}
		e.Message = s
	}
	for _, name := range []string{"REQ_ID", "x-ms-service-request-id", "x-ms-request-id"} {
		if v := h.Get(name); v != "" {
			e.RequestID = v
			break
		}
	}
	if d, ok := parseRetryAfter(h.Get("Retry-After"), time.Now()); ok {
		e.RetryAfter = d
	}
	return e
}

func asResponseError(err error) (*ResponseError, bool) {
	var re *ResponseError
	ok := errors.As(err, &re)
	return re, ok
}

// StatusCode returns the HTTP status of err, or 0 when err is not a
// ResponseError.
func StatusCode(err error) int {
	if re, ok := asResponseError(err); ok {
		return re.StatusCode
	}
	return 0
}

// IsNotFound reports a missing record or resource (404, or the
// "Does Not Exist" code on other statuses).
func IsNotFound(err error) bool {
	re, ok := asResponseError(err)
	return ok && (re.StatusCode == http.StatusNotFound || re.Code == CodeObjectDoesNotExist)
}

// IsThrottled reports a service protection limit error (429 and its codes).
func IsThrottled(err error) bool {
	re, ok := asResponseError(err)
	if !ok {
		return false
	}
	switch re.Code {
	case CodeRequestsLimit, CodeExecutionTimeLimit, CodeConcurrencyLimit:
		return true
	}
	return re.StatusCode == http.StatusTooManyRequests
}

// IsConcurrencyConflict reports a failed precondition: an If-Match etag that
// no longer matches, or If-None-Match: * on an existing record (412).
func IsConcurrencyConflict(err error) bool {
	re, ok := asResponseError(err)
	return ok && re.StatusCode == http.StatusPreconditionFailed
}

// IsAlreadyExists reports a create that collided with an existing record:
// 412 from If-None-Match: * or the duplicate-key code.
func IsAlreadyExists(err error) bool {
	re, ok := asResponseError(err)
	if !ok {
		return false
	}
	return re.Code == CodeDuplicateKey || re.Code == CodeDuplicateEntityKey ||
		(re.StatusCode == http.StatusPreconditionFailed && strings.Contains(re.Message, "already exists"))
}

// IsAuth reports an authentication or authorization failure (401, 403).
func IsAuth(err error) bool {
	re, ok := asResponseError(err)
	return ok && (re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden)
}

// IsBadRequest reports a request Dataverse rejected as invalid (400): bad
// column, wrong type, validation. Retrying it unchanged cannot succeed.
func IsBadRequest(err error) bool {
	re, ok := asResponseError(err)
	return ok && re.StatusCode == http.StatusBadRequest
}

// IsDeltaTokenExpired reports that a change-tracking delta token is older
// than the organisation's retention (ExpireChangeTrackingInDays, 7 days by
// default) and a full read is needed.
func IsDeltaTokenExpired(err error) bool {
	re, ok := asResponseError(err)
	if !ok {
		return false
	}
	if re.Code == CodeExpiredVersionStamp {
		return true
	}
	msg := strings.ToLower(re.Message)
	return (re.StatusCode == http.StatusBadRequest || re.StatusCode == http.StatusGone) &&
		strings.Contains(msg, "expired") && (strings.Contains(msg, "token") || strings.Contains(msg, "version stamp") || strings.Contains(msg, "full sync"))
}

// IsTransient reports an error worth retrying later as a whole operation
// (throttling, gateway and availability errors).
func IsTransient(err error) bool {
	if IsThrottled(err) {
		return true
	}
	switch StatusCode(err) {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}
