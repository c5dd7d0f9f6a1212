package migrateodoo

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/odoojob"
)

// stepProgress shows the engine's progress, one display per step with the
// step's total (Odoo's count), and announces retries between its lines.
func stepProgress(steps *output.Steps) func(migrations.StepProgress) {
	return func(p migrations.StepProgress) {
		steps.Update(p.Step, p.Counts.Read, p.Total, p.Status != migrations.StatusRunning)
	}
}

// maxListedWarnings bounds the warnings the table summary prints; the
// warnings file and --json have more.
const maxListedWarnings = 5

// printResult prints a run's summary: a table of the steps that adds up
// (read = created + updated + written + unchanged + skipped + rejected),
// the skips and rejects grouped by reason, and the first warnings.
func printResult(w io.Writer, res odoojob.Result, asJSON bool) error {
	sum, files := res.Summary, odoojob.Files{Rejects: res.Rejects, Skips: res.Skips, Warnings: res.Warnings}
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
	printReasons(w, sum, files)
	if t.Warned > 0 && !sampled(sum) {
		// Only the count came back: a distributed run's workers report
		// their warnings as counts.
		fmt.Fprintf(w, "\n%d mapping warnings (fallbacks that changed the data), counted by the workers of a distributed run, which do not report them one by one.\n", t.Warned)
	} else if t.Warned > 0 {
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
	return nil
}

// sampled reports whether any step handed back warnings, not only their
// count.
func sampled(sum *migrations.Summary) bool {
	for _, s := range sum.Steps {
		if len(s.Warnings) > 0 {
			return true
		}
	}
	return false
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
