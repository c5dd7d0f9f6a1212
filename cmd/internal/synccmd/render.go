package synccmd

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/migrations/syncjob"
)

// progressView draws one progress indicator per table on a terminal.
type progressView struct {
	streams *output.Streams
	off     bool
	table   string
	bar     *output.Progress
	read    int64
}

func newProgressView(s *output.Streams, quiet bool) *progressView {
	return &progressView{streams: s, off: quiet || !output.IsTerminal(s.Err)}
}

func (p *progressView) update(ev syncjob.Progress) {
	if p.off {
		return
	}
	if ev.Table != p.table {
		p.finish()
		p.table, p.read = ev.Table, 0
		p.bar = output.StartProgress(p.streams.Err, output.ProgressOptions{Description: ev.Table})
	}
	if d := ev.Read - p.read; d > 0 {
		p.bar.Add(int(d))
		p.read = ev.Read
	}
	if ev.Done {
		p.finish()
	}
}

func (p *progressView) finish() {
	if p.bar != nil {
		p.bar.Finish()
		p.bar = nil
		p.table = ""
	}
}

func renderSummary(w io.Writer, s *syncjob.Summary, rej *lazyFile) {
	head := fmt.Sprintf("sync %s: %s in %s", s.Job, s.Status, dur(s.DurationSeconds))
	if s.DryRun {
		head = fmt.Sprintf("sync %s (dry run, nothing written): %s in %s", s.Job, s.Status, dur(s.DurationSeconds))
	}
	if s.RunID != "" {
		head += " (run " + s.RunID + ")"
	}
	fmt.Fprintln(w, head)
	rows := make([][]string, 0, len(s.Tables)+1)
	n := strconv.FormatInt
	for _, t := range s.Tables {
		status := "ok"
		switch {
		case t.Error != "":
			status = "FAILED"
		case t.Rejected > 0:
			status = "REJECTS"
		}
		rows = append(rows, []string{t.Table, t.Mode, n(t.Read, 10), n(t.Upserted, 10), n(t.Deleted, 10), n(t.Unchanged, 10),
			n(t.Rejected, 10), n(t.Requests, 10), n(t.Throttled, 10), dur(t.DurationSeconds), status})
	}
	tt := s.Totals
	rows = append(rows, []string{"total", "", n(tt.Read, 10), n(tt.Upserted, 10), n(tt.Deleted, 10), n(tt.Unchanged, 10),
		n(tt.Rejected, 10), n(tt.Requests, 10), n(tt.Throttled, 10), dur(s.DurationSeconds), ""})
	header := []string{"table", "mode", "read", "upserted", "deleted", "unchanged", "rejected", "requests", "throttled", "duration", "status"}
	if tt.Skipped > 0 {
		// Odoo jobs: records the map leaves out on purpose, with a reason.
		header = slices.Insert(header, 7, "skipped")
		for i := range rows {
			sk := ""
			if i < len(s.Tables) {
				sk = n(s.Tables[i].Skipped, 10)
			} else {
				sk = n(tt.Skipped, 10)
			}
			rows[i] = slices.Insert(rows[i], 7, sk)
		}
	}
	if s.DryRun && s.Target == "dataverse" {
		// What the target's planner foresees of the upserts; the rest it
		// cannot tell apart.
		header = slices.Insert(header, 4, "created", "updated")
		for i := range rows {
			c := tt
			if i < len(s.Tables) {
				c = s.Tables[i].Counts
			}
			rows[i] = slices.Insert(rows[i], 4, n(c.Created, 10), n(c.Updated, 10))
		}
	}
	_ = output.Table(w, header, rows)
	for _, t := range s.Tables {
		if t.Rebaselined {
			fmt.Fprintf(w, "%s: re-baselined (%s): read in full, what differed upserted, what vanished deleted\n", t.Table, t.RebaselineReason)
		}
		if t.Mode == syncjob.ModeModifiedOn {
			if t.KeysCompared == 0 {
				fmt.Fprintf(w, "%s: change tracking is off; synced by modifiedon watermark (no key-set comparison: nothing mirrored before this run)\n", t.Table)
			} else {
				fmt.Fprintf(w, "%s: change tracking is off; synced by modifiedon watermark, deletes found by comparing %d keys\n", t.Table, t.KeysCompared)
			}
		}
		if t.Error != "" {
			fmt.Fprintf(w, "%s: error: %s\n", t.Table, oneLine(t.Error))
		}
	}
	if rej != nil && rej.written() {
		fmt.Fprintf(w, "rejected records: %s\n", rej.path)
	}
}

func dur(sec float64) string {
	return (time.Duration(sec * float64(time.Second))).Round(time.Millisecond).String()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
