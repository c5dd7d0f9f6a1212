package migrateodoo

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/odoojob"
)

// stepBars draws one progress bar per step on a terminal.
type stepBars struct {
	w    io.Writer
	off  bool
	cur  string
	bar  *output.Progress
	seen int64
}

func newStepBars(w io.Writer, quiet bool) *stepBars { return &stepBars{w: w, off: quiet} }

func (b *stepBars) update(p migrations.StepProgress) {
	if b.off {
		return
	}
	if p.Step != b.cur {
		b.finish()
		b.cur, b.seen = p.Step, 0
		b.bar = output.NewProgress(b.w, -1, p.Step)
	}
	if n := p.Counts.Read - b.seen; n > 0 {
		b.bar.Add(int(n))
		b.seen = p.Counts.Read
	}
}

func (b *stepBars) finish() {
	if b.bar != nil {
		b.bar.Finish()
		b.bar = nil
	}
}

// WarningsPath is the default warnings file beside a rejects file: the
// last "rejects" in its name becomes "warnings" (odoo-rejects.jsonl →
// odoo-warnings.jsonl), or ".warnings.jsonl" replaces its extension.
func WarningsPath(rejects string) string {
	dir, base := filepath.Split(rejects)
	if i := strings.LastIndex(base, "rejects"); i >= 0 {
		return dir + base[:i] + "warnings" + base[i+len("rejects"):]
	}
	return dir + strings.TrimSuffix(base, filepath.Ext(base)) + ".warnings.jsonl"
}

// maxListedWarnings bounds the warnings the table summary prints; the
// warnings file and --json have more.
const maxListedWarnings = 5

func printSummary(w io.Writer, sum *migrations.Summary, files odoojob.Files, asJSON bool) error {
	res := odoojob.NewResult(sum, files)
	if asJSON {
		return output.WriteJSON(w, res)
	}
	if sum.DryRun {
		if err := printPlan(w, sum); err != nil {
			return err
		}
	} else {
		var rows [][]string
		for _, s := range sum.Steps {
			c := s.Counts
			rows = append(rows, []string{s.Step, string(s.Status), n(c.Read), n(c.Created), n(c.Updated), n(c.Written), n(c.Unchanged), n(c.Skipped), n(c.Rejected), n(c.Warned),
				s.Duration.Round(time.Millisecond).String(), strconv.Itoa(res.Rates[s.Step])})
		}
		t := sum.Total()
		rows = append(rows, []string{"total", string(sum.Status), n(t.Read), n(t.Created), n(t.Updated), n(t.Written), n(t.Unchanged), n(t.Skipped), n(t.Rejected), n(t.Warned),
			sum.Ended.Sub(sum.Started).Round(time.Millisecond).String(), strconv.Itoa(int(odoojob.Rate(t.Read, sum.Ended.Sub(sum.Started))))})
		if err := output.Table(w, []string{"step", "status", "read", "created", "updated", "written", "unchanged", "skipped", "rejected", "warnings", "time", "rec/s"}, rows); err != nil {
			return err
		}
	}
	t := sum.Total()
	if t.Warned > 0 {
		where := "--json has a sample of each step's warnings"
		if files.Warnings != "" {
			where = "see " + files.Warnings
		}
		fmt.Fprintf(w, "\n%d mapping warnings (fallbacks that changed the data); %s. First ones:\n", t.Warned, where)
		listed := 0
		for _, s := range sum.Steps {
			for _, wn := range s.Warnings {
				if listed == maxListedWarnings {
					break
				}
				fmt.Fprintf(w, "  %s %s: %s\n", s.Step, wn.SourceID, wn.Message)
				listed++
			}
		}
	}
	if sum.DryRun {
		var tables []string
		per := map[string]int64{}
		for _, s := range sum.Steps {
			for name, tc := range s.Tables {
				if per[name] == 0 {
					tables = append(tables, name)
				}
				per[name] += tc.Records
			}
		}
		sort.Strings(tables)
		fmt.Fprintln(w, "\nDry run: nothing was written, here or in Dataverse. Records per table:")
		for _, name := range tables {
			fmt.Fprintf(w, "  %-18s %d\n", name, per[name])
		}
		fmt.Fprintln(w, "Use --json to see a sample of each step's records.")
		return nil
	}
	if t.Rejected > 0 {
		fmt.Fprintf(w, "\n%d records rejected; see %s\n", t.Rejected, files.Rejects)
	}
	return nil
}

func n(v int64) string { return strconv.FormatInt(v, 10) }

// printPlan shows a dry run in its own words: what a run would do, never
// "written" or "succeeded".
func printPlan(w io.Writer, sum *migrations.Summary) error {
	var rows [][]string
	for _, s := range sum.Steps {
		c := s.Counts
		rows = append(rows, []string{s.Step, n(c.Read), n(c.Created), n(c.Updated), n(c.Written), n(c.Unchanged), n(c.Skipped), n(c.Rejected), n(c.Warned)})
	}
	t := sum.Total()
	rows = append(rows, []string{"total", n(t.Read), n(t.Created), n(t.Updated), n(t.Written), n(t.Unchanged), n(t.Skipped), n(t.Rejected), n(t.Warned)})
	return output.Table(w, []string{"step", "read", "would create", "would update", "would write", "unchanged", "would skip", "would reject", "warnings"}, rows)
}
