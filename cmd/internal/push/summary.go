package push

import (
	"fmt"
	"strings"
	"time"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/schema"
	"github.com/dvsync/dvsync/dataverse/sink"
)

// Summary is the --json result of a push. Input always equals
// Created + Updated + Written + Unchanged + Rejected (Valid + Rejected in
// a dry run).
type Summary struct {
	Table            string  `json:"table"`
	Mode             string  `json:"mode"`
	DryRun           bool    `json:"dryRun,omitempty"`
	Input            int64   `json:"input"`
	Created          int64   `json:"created"`
	Updated          int64   `json:"updated"`
	Written          int64   `json:"written"`
	Unchanged        int64   `json:"unchanged"`
	Rejected         int64   `json:"rejected"`
	Valid            int64   `json:"valid,omitempty"`
	RejectsFile      string  `json:"rejectsFile,omitempty"`
	Seconds          float64 `json:"seconds"`
	RecordsPerSecond float64 `json:"recordsPerSecond"`
	Throttled        int     `json:"throttled"`
	PeakConcurrency  int     `json:"peakConcurrency"`
}

func newSummary(table string, mode dataverse.WriteMode, dryRun bool, n sink.PushCounts, took time.Duration) Summary {
	s := Summary{Table: table, Mode: string(mode), DryRun: dryRun, Input: n.Input, Created: n.Created, Updated: n.Updated,
		Written: n.Written, Unchanged: n.Unchanged, Rejected: n.Rejected, Valid: n.Valid, Seconds: took.Seconds()}
	if s.Seconds > 0 {
		s.RecordsPerSecond = float64(s.Input) / s.Seconds
	}
	return s
}

// humanSummary is one line whose counts add up to the records read; only
// created, updated and written records are said to be written.
func humanSummary(s Summary, set string) string {
	rejected := fmt.Sprintf("%d rejected", s.Rejected)
	if s.RejectsFile != "" {
		rejected += " (reasons in " + s.RejectsFile + ")"
	}
	if s.DryRun {
		return fmt.Sprintf("dry run, nothing written: %d records read; %d would be written to %s, %s", s.Input, s.Valid, set, rejected)
	}
	var parts []string
	if s.Written > 0 {
		// Upserts in bulk do not say which they did.
		parts = append(parts, fmt.Sprintf("%d created or updated", s.Written))
	}
	if s.Written == 0 || s.Created > 0 {
		parts = append(parts, fmt.Sprintf("%d created", s.Created))
		if s.Mode == string(dataverse.ModeCreate) {
			parts[len(parts)-1] += " as new records (--mode create)"
		}
	}
	if s.Written == 0 || s.Updated > 0 {
		parts = append(parts, fmt.Sprintf("%d updated", s.Updated))
	}
	parts = append(parts, fmt.Sprintf("%d unchanged (not sent)", s.Unchanged), rejected)
	return fmt.Sprintf("%s: %d records read in %.1fs (%.0f records/s): %s",
		set, s.Input, s.Seconds, s.RecordsPerSecond, strings.Join(parts, ", "))
}

// noKeyHint is the one line that stops a push whose first record has no
// key: every record would be rejected for the same reason.
func noKeyHint(file string, t *schema.Table, mode dataverse.WriteMode, e *sink.MissingKeyError) string {
	var keys []string
	for _, k := range t.AlternateKeys {
		keys = append(keys, strings.Join(k.Columns, ","))
	}
	alt := "pass --key with the columns of an alternate key of " + t.LogicalName
	if len(keys) > 0 {
		alt = "pass --key " + strings.Join(keys, " or --key ")
	}
	what := fmt.Sprintf("has no %s, so %s cannot tell which record it is", strings.Join(e.Columns, ","), mode)
	if !e.Default {
		what = fmt.Sprintf("has no %s (--key)", strings.Join(e.Columns, ","))
		alt = "check --key"
	}
	return fmt.Sprintf("%s line %d %s; nothing was sent: %s to match existing records, or --mode create to create every record as a new one", file, e.Line, what, alt)
}
