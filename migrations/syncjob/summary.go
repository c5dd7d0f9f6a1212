package syncjob

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/dvsync/dvsync/migrations/reportstyle"
)

// Counts are a table's or a run's figures. Read is every change taken
// from the source: rows read, deletions read ($deletedEntity), and rows
// found gone by a full read or key-set comparison. Every change read ends
// as exactly one of upserted, deleted, unchanged or rejected.
type Counts struct {
	Read      int64 `json:"read"`
	Upserted  int64 `json:"upserted"`
	Deleted   int64 `json:"deleted"`
	Unchanged int64 `json:"unchanged"`
	Rejected  int64 `json:"rejected"`
	// Skipped counts records an Odoo job's map leaves out on purpose
	// (with a reason); Dataverse sources skip nothing.
	Skipped int64 `json:"skipped,omitempty"`
	// Created and Updated split Upserted in a dry run into a Dataverse
	// target, as the target's planner foresees it (the rest of Upserted
	// would be written, the planner cannot tell how): a run writes by
	// upsert and does not count them apart.
	Created   int64 `json:"created,omitempty"`
	Updated   int64 `json:"updated,omitempty"`
	Requests  int64 `json:"requests"`
	Throttled int64 `json:"throttled"`
	// KeysCompared counts the keys a modifiedon-fallback table read to
	// find deletes (not changes, so not in Read).
	KeysCompared int64 `json:"keysCompared,omitempty"`
}

func (c *Counts) add(o Counts) {
	c.Read += o.Read
	c.Upserted += o.Upserted
	c.Deleted += o.Deleted
	c.Unchanged += o.Unchanged
	c.Rejected += o.Rejected
	c.Skipped += o.Skipped
	c.Created += o.Created
	c.Updated += o.Updated
	c.Requests += o.Requests
	c.Throttled += o.Throttled
	c.KeysCompared += o.KeysCompared
}

func (c Counts) minus(o Counts) Counts {
	return Counts{Read: c.Read - o.Read, Upserted: c.Upserted - o.Upserted, Deleted: c.Deleted - o.Deleted, Unchanged: c.Unchanged - o.Unchanged,
		Rejected: c.Rejected - o.Rejected, Skipped: c.Skipped - o.Skipped, Created: c.Created - o.Created, Updated: c.Updated - o.Updated, Requests: c.Requests - o.Requests, Throttled: c.Throttled - o.Throttled,
		KeysCompared: c.KeysCompared - o.KeysCompared}
}

// Reconciles reports whether every change read has one outcome.
func (c Counts) Reconciles() bool {
	return c.Read == c.Upserted+c.Deleted+c.Unchanged+c.Rejected+c.Skipped
}

// TableSummary is one table's part of a run.
type TableSummary struct {
	Table string `json:"table"`
	// Mode is change-tracking or modifiedon (the fallback for tables whose
	// change tracking is off).
	Mode string `json:"mode"`
	// Rebaselined: the table was read in full again (expired token, token
	// older than the organisation's retention, new columns) and what
	// vanished was deleted.
	Rebaselined      bool   `json:"rebaselined"`
	RebaselineReason string `json:"rebaselineReason,omitempty"`
	Counts
	DurationSeconds float64 `json:"durationSeconds"`
	Error           string  `json:"error,omitempty"`
}

// Summary is a run's result, as printed, journalled and exported.
type Summary struct {
	Job             string         `json:"job"`
	RunID           string         `json:"runId,omitempty"`
	Target          string         `json:"target"`
	DryRun          bool           `json:"dryRun"`
	Status          string         `json:"status"`
	Started         time.Time      `json:"started"`
	Ended           time.Time      `json:"ended"`
	DurationSeconds float64        `json:"durationSeconds"`
	Tables          []TableSummary `json:"tables"`
	Totals          Counts         `json:"totals"`
	Error           string         `json:"error,omitempty"`
}

func (s *Summary) finish(end time.Time) {
	s.Ended = end
	s.DurationSeconds = end.Sub(s.Started).Seconds()
	s.Totals = Counts{}
	for _, t := range s.Tables {
		s.Totals.add(t.Counts)
	}
}

// Fallbacks lists the tables synced by the modifiedon fallback.
func (s *Summary) Fallbacks() []string {
	var out []string
	for _, t := range s.Tables {
		if t.Mode == ModeModifiedOn {
			out = append(out, t.Table)
		}
	}
	return out
}

// WriteMetrics writes the summary as a Prometheus text file for
// node_exporter's textfile collector: written to a temporary file in the
// same folder and renamed, so the collector never reads half a file
// (node_exporter README, "Textfile Collector").
func WriteMetrics(path string, s *Summary) error {
	var b bytes.Buffer
	job := promLabel(s.Job)
	gauge := func(name, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name)
	}
	success := 0
	if s.Status == "succeeded" {
		success = 1
	}
	gauge("dvsync_sync_last_run_timestamp_seconds", "End of the last dvsync sync run (Unix time).")
	fmt.Fprintf(&b, "dvsync_sync_last_run_timestamp_seconds{job=%s} %d\n", job, s.Ended.Unix())
	gauge("dvsync_sync_last_run_success", "1 if the last run succeeded without rejects, else 0.")
	fmt.Fprintf(&b, "dvsync_sync_last_run_success{job=%s,status=%s} %d\n", job, promLabel(s.Status), success)
	gauge("dvsync_sync_last_run_duration_seconds", "Duration of the last run.")
	fmt.Fprintf(&b, "dvsync_sync_last_run_duration_seconds{job=%s} %s\n", job, strconv.FormatFloat(s.DurationSeconds, 'f', 3, 64))
	gauge("dvsync_sync_last_run_records", "Changes of the last run by table and outcome.")
	for _, t := range s.Tables {
		tl := promLabel(t.Table)
		for _, o := range []struct {
			name string
			n    int64
		}{{"read", t.Read}, {"upserted", t.Upserted}, {"deleted", t.Deleted}, {"unchanged", t.Unchanged}, {"rejected", t.Rejected}} {
			fmt.Fprintf(&b, "dvsync_sync_last_run_records{job=%s,table=%s,outcome=%q} %d\n", job, tl, o.name, o.n)
		}
	}
	gauge("dvsync_sync_last_run_requests", "Dataverse requests of the last run by table.")
	for _, t := range s.Tables {
		fmt.Fprintf(&b, "dvsync_sync_last_run_requests{job=%s,table=%s} %d\n", job, promLabel(t.Table), t.Requests)
	}
	gauge("dvsync_sync_last_run_throttled", "429 responses in the last run by table.")
	for _, t := range s.Tables {
		fmt.Fprintf(&b, "dvsync_sync_last_run_throttled{job=%s,table=%s} %d\n", job, promLabel(t.Table), t.Throttled)
	}
	gauge("dvsync_sync_last_run_rebaselined", "1 if the table was re-read in full in the last run.")
	for _, t := range s.Tables {
		v := 0
		if t.Rebaselined {
			v = 1
		}
		fmt.Fprintf(&b, "dvsync_sync_last_run_rebaselined{job=%s,table=%s,mode=%s} %d\n", job, promLabel(t.Table), promLabel(t.Mode), v)
	}
	// The file mode of every report and data file, and a partial name
	// (".NAME.partial-…") the collector's *.prom glob never matches.
	if err := reportstyle.WriteFile(path, func(w io.Writer) error { _, err := w.Write(b.Bytes()); return err }); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

// promLabel quotes a label value (exposition format: backslash, quote and
// newline escaped).
func promLabel(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}
