package refserver

import (
	"errors"
	"fmt"
	"net/http"
)

// apiError is a Dataverse Web API error: an HTTP status plus the
// {"error":{"code":"0x...","message":"..."}} payload. The code is unrelated to
// the HTTP status and is sometimes empty, exactly as Dataverse sends it
// (powerapps-docs webapi/compose-http-requests-handle-errors.md).
type apiError struct {
	Status  int
	Code    string
	Message string
	// RetryAfter, when set, is sent as the Retry-After header (seconds).
	RetryAfter int
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func newError(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Error codes Dataverse returns. Hex forms are what the Web API puts in
// error.code (troubleshoot/power-platform/power-apps/dataverse/web-api-client-errors).
const (
	codeResourceNotFound   = "0x8006088a" // "Resource not found for the segment 'X'."
	codeBadProperty        = "0x0"        // unknown property in a query or payload
	codeQueryNotSupported  = "0x80060888" // unsupported query construct / syntax error
	codeValidation         = "0x80044331" // "A validation error occurred."
	codeObjectDoesNotExist = "0x80040217" // "... With Id = ... Does Not Exist"
	codeDuplicateKey       = "0x80040237" // "Cannot insert duplicate key."
	codeDuplicateRecord    = "0x80060892" // alternate-key conflict: "A record that has the attribute values ... already exists."
	codeInvalidArgument    = "0x80040203" // invalid argument (bad type / bad value)
	codeOptionOutOfRange   = "0x8004431a" // picklist value outside the valid range
	codeMissingRequired    = "0x80040278" // required attribute missing (e.g. incident customer)
	codeInvalidStateChange = "0x80045003" // "This message can not be used to set the state of ..."
	codeClosedRecord       = "0x80043e09" // update of a closed (resolved/cancelled) case
	codeUnauthorized       = "0x80072560" // no/invalid bearer token
	codeConcurrency        = "0x80060882" // concurrency version mismatch (412)
)

func notFoundSegment(segment string) *apiError {
	return newError(http.StatusNotFound, codeResourceNotFound, "Resource not found for the segment '%s'.", segment)
}

func recordNotFound(logicalName, id string) *apiError {
	// Conditional operations document this shape with an empty code; plain
	// retrieves carry 0x80040217. Both say "<table> With Id = <id> Does Not Exist".
	return newError(http.StatusNotFound, codeObjectDoesNotExist, "%s With Id = %s Does Not Exist", logicalName, id)
}

func badRequest(code, format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, code, format, args...)
}

func asAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	return newError(http.StatusInternalServerError, "0x80040216", "An unexpected error occurred.")
}
