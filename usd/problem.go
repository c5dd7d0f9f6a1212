package usd

import (
	"fmt"
	"strings"
)

// Severity grades a problem.
type Severity string

const (
	// SeverityError means data was lost: a record, field or reference
	// could not be read or resolved.
	SeverityError Severity = "error"
	// SeverityWarning means the export is unusual but nothing was lost.
	SeverityWarning Severity = "warning"
)

// Problem is one thing wrong with an export, located as precisely as the
// source allows: file, line, table, record and field.
type Problem struct {
	Severity   Severity `json:"severity"`
	File       string   `json:"file,omitempty"`
	Line       int      `json:"line,omitempty"`
	Entity     string   `json:"entity,omitempty"`
	RecordID   string   `json:"recordId,omitempty"`
	RecordName string   `json:"recordName,omitempty"`
	Field      string   `json:"field,omitempty"`
	Message    string   `json:"message"`
}

func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
	}
	if p.Entity != "" {
		b.WriteString(p.Entity)
		if p.RecordID != "" {
			fmt.Fprintf(&b, " record %s", p.RecordID)
			if p.RecordName != "" {
				fmt.Fprintf(&b, " (%q)", p.RecordName)
			}
		}
		if p.Field != "" {
			fmt.Fprintf(&b, " field %s", p.Field)
		}
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Error makes a Problem usable as an error when a caller wants to stop at
// the first one.
func (p Problem) Error() string { return p.String() }

// ReadError is returned when a source cannot be read at all, so that there
// is no model to return.
type ReadError struct {
	File string
	Err  error
}

func (e *ReadError) Error() string {
	if e.File == "" {
		return "usd: " + e.Err.Error()
	}
	return fmt.Sprintf("usd: %s: %v", e.File, e.Err)
}

func (e *ReadError) Unwrap() error { return e.Err }

// Errors counts the problems of error severity.
func (m *Model) Errors() int {
	n := 0
	for _, p := range m.Problems {
		if p.Severity == SeverityError {
			n++
		}
	}
	return n
}
