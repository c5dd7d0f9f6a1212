package odata

import (
	"fmt"
	"net/http"
	"unicode/utf16"
	"unicode/utf8"
)

// CodeQueryError is the error.code Dataverse returns for query options it
// cannot parse or does not support (0x80060888, -2147086200).
//
// Sources: the research sheet (research/dataverse.md §7, [S6]) ties 0x80060888
// to unsupported query constructs; community testing records it for
// unsupported options ("The query parameter … is not supported", e.g.
// EntityDefinitions?$top=5). That Dataverse uses the same code for $filter
// syntax errors is our assumption: no primary source shows a syntax-error
// payload with its code.
const CodeQueryError = "0x80060888"

// Error is a query that Dataverse would refuse. Code and Message are what the
// server puts in {"error":{"code":…,"message":…}}; Status is the HTTP status
// (400 unless noted). Position is the zero-based offset in the option value
// (UTF-16 code units, as ODL counts), or -1 when the error has no position.
type Error struct {
	Code     string
	Message  string
	Position int
	Status   int
}

func (e *Error) Error() string { return e.Message }

// StatusCode returns the HTTP status to answer with.
func (e *Error) StatusCode() int {
	if e.Status == 0 {
		return http.StatusBadRequest
	}
	return e.Status
}

func newError(pos int, format string, args ...any) *Error {
	return &Error{Code: CodeQueryError, Message: fmt.Sprintf(format, args...), Position: pos, Status: http.StatusBadRequest}
}

// utf16Pos converts a byte offset in s to the UTF-16 index .NET would report.
func utf16Pos(s string, byteOff int) int {
	if byteOff > len(s) {
		byteOff = len(s)
	}
	n := 0
	for i := 0; i < byteOff; {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			n++
			i++
			continue
		}
		n += utf16.RuneLen(r)
		i += size
	}
	return n
}

// ODL message templates (Microsoft.OData.Core.txt). Positions and text are
// filled in by the parser; %s text is the whole option value.
const (
	msgSyntaxError            = "Syntax error at position %d in '%s'."
	msgInvalidCharacter       = "Syntax error: character '%s' is not valid at position %d in '%s'."
	msgExpressionExpected     = "Expression expected at position %d in '%s'."
	msgCloseParenOrComma      = "')' or ',' expected at position %d in '%s'."
	msgCloseParenOrOperator   = "')' or operator expected at position %d in '%s'."
	msgUnterminatedString     = "There is an unterminated string literal at position %d in '%s'."
	msgUnterminatedLiteral    = "There is an unterminated literal at position %d in '%s'."
	msgDigitExpected          = "A digit was expected at position %d in '%s'."
	msgUnbalancedBracket      = "Found an unbalanced bracket expression."
	msgInvalidNumeric         = "Numeric string '%s' is not a valid Int32/Int64/Double/Decimal."
	msgUnrecognizedLiteral    = "Unrecognized '%s' literal '%s' at '%d' in '%s'."
	msgUnknownFunction        = "An unknown function with name '%s' was found. This may also be a function import or a key lookup on a navigation property, which is not allowed."
	msgFunctionParamsMismatch = "Could not find a function named '%s' with parameters '%s'."
	msgTooDeep                = "Recursion depth exceeded allowed limit."
	msgTermNotValid           = "Term '%s' is not valid in a $select or $expand expression."
	msgInvalidTop             = "Invalid value '%s' for $top query option found. The $top query option requires a non-negative integer value."
	msgInvalidCount           = "'%s' is not a valid count option."
	msgSpecifiedOnce          = "Query option '%s' was specified more than once, but it must be specified at most once."
	msgInvalidTopOption       = "Top option must be a non-negative integer, it is set to '%s' instead."
	msgMissingExpandOption    = "Missing expand option on navigation property '%s'. If a parenthesis expression follows an expanded navigation property, then at least one expand option must be provided."
	// Dataverse's own wording for options it does not implement, as recorded
	// by community testing (no trailing period).
	msgQueryParamNotSupported = "The query parameter %s is not supported"
	// The wording the reference server has used for the 15-expand limit
	// (join-tables.md documents the limit, not the message).
	msgTooManyExpands = "Number of expands in the query exceeds the limit of 15."
	// Our wording: Dataverse documents that fetchXml replaces the other
	// options but no payload for the combination was found.
	msgFetchXMLWithOption = "The query parameter %s cannot be combined with fetchXml: a FetchXML query carries its own columns, filter, order and paging."
)
