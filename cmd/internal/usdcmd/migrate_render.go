package usdcmd

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/mapping/workspace"
	"github.com/dvsync/dvsync/migrations/usdjob"
)

func tableTotals(run *usdjob.Run) []tableSummary {
	idx := map[string]int{}
	var out []tableSummary
	for _, t := range workspace.TableOrder {
		idx[t] = len(out)
		out = append(out, tableSummary{Table: t})
	}
	for _, r := range run.Records {
		i, ok := idx[r.Table]
		if !ok {
			idx[r.Table] = len(out)
			i = len(out)
			out = append(out, tableSummary{Table: r.Table})
		}
		switch r.Outcome {
		case usdjob.Created:
			out[i].Created++
		case usdjob.Updated:
			out[i].Updated++
		case usdjob.Unchanged:
			out[i].Unchanged++
		case usdjob.Rejected:
			out[i].Rejected++
		}
	}
	return out
}

func addressing(a string) string {
	if usdjob.Addressing(a) == usdjob.AddressByID {
		return "by ID"
	}
	return "by unique-name key"
}

func scope(s *migrateSummary) string {
	if s.Configuration != "" {
		return "configuration " + s.Configuration
	}
	return "all configurations"
}

// writePlan prints the records and links a run would write, then totals.
func writePlan(w io.Writer, s *migrateSummary) error {
	p := s.Plan
	fmt.Fprintf(w, "Dry run: %s (%s) → %s, records addressed %s\n\n", s.Source, scope(s), s.Target, addressing(s.Addressing))
	var rows [][]string
	header := []string{"action", "table", "unique name", "name"}
	if p.Counts.Update > 0 {
		header = append(header, "changed columns")
	}
	for _, r := range p.Records {
		if r.Action == usdjob.ActionUnchanged {
			continue
		}
		row := []string{string(r.Action), r.Table, r.UniqueName, r.Name}
		if p.Counts.Update > 0 {
			row = append(row, strings.Join(r.Changed, ","))
		}
		rows = append(rows, row)
	}
	if len(rows) > 0 {
		if err := output.Table(w, header, rows); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	rows = rows[:0]
	for _, a := range p.Associations {
		if a.Action == usdjob.ActionAdd {
			rows = append(rows, []string{"add", a.Relationship, a.From.UniqueName, a.To.UniqueName})
		}
	}
	if len(rows) > 0 {
		if err := output.Table(w, []string{"action", "relationship", "from", "to"}, rows); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	c := p.Counts
	fmt.Fprintf(w, "Would create %d, update %d and leave %d record(s) unchanged; add %d link(s), %d already present.\n",
		c.Create, c.Update, c.Unchanged, c.AssociationsAdd, c.AssociationsPresent)
	if len(p.Extra) > 0 {
		fmt.Fprintf(w, "%d link(s) in the environment are not in the translation and are left in place.\n", len(p.Extra))
	}
	for _, d := range p.Duplicates {
		fmt.Fprintf(w, "warning: more than one %s record has the unique name %s; the oldest is kept in step, delete the others\n", d.Table, d.UniqueName)
	}
	if s.Diagnostics > 0 {
		fmt.Fprintf(w, "The translation made %d note(s); `dvsync usd assess` explains what needs a person.\n", s.Diagnostics)
	}
	return nil
}

// writeRun prints per-table totals, rejections and the verification.
func writeRun(w io.Writer, s *migrateSummary) error {
	run := s.Run
	fmt.Fprintf(w, "Migrated %s (%s) → %s, records addressed %s\n\n", s.Source, scope(s), s.Target, addressing(s.Addressing))
	var rows [][]string
	for _, t := range s.Tables {
		if t.Created+t.Updated+t.Unchanged+t.Rejected == 0 {
			continue
		}
		rows = append(rows, []string{t.Table, strconv.Itoa(t.Created), strconv.Itoa(t.Updated), strconv.Itoa(t.Unchanged), strconv.Itoa(t.Rejected)})
	}
	c := run.Counts
	rows = append(rows, []string{"total", strconv.Itoa(c.Created), strconv.Itoa(c.Updated), strconv.Itoa(c.Unchanged), strconv.Itoa(c.Rejected)})
	if err := output.Table(w, []string{"table", "created", "updated", "unchanged", "rejected"}, rows); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nLinks: %d added, %d already present, %d rejected, %d skipped.\n",
		c.AssociationsAdded, c.AssociationsPresent, c.AssociationsRejected, c.AssociationsSkipped)
	for _, r := range run.Records {
		if r.Outcome == usdjob.Rejected {
			fmt.Fprintf(w, "rejected: %s %s: %s\n", r.Table, r.UniqueName, r.Error)
		}
	}
	for _, a := range run.Associations {
		if a.Outcome == usdjob.Rejected || a.Outcome == usdjob.Skipped {
			fmt.Fprintf(w, "%s: %s %s → %s: %s\n", a.Outcome, a.Relationship, a.From.UniqueName, a.To.UniqueName, a.Error)
		}
	}
	if v := run.Verification; v != nil {
		if len(v.Mismatches) == 0 {
			fmt.Fprintf(w, "Verified: %d record(s) and %d link(s) read back as written.\n", v.Records, v.Associations)
		} else {
			fmt.Fprintf(w, "Verification: %d difference(s) in %d record(s) and %d link(s) read back:\n", len(v.Mismatches), v.Records, v.Associations)
			for i, m := range v.Mismatches {
				if i == 20 {
					fmt.Fprintf(w, "  … and %d more (--json lists them all)\n", len(v.Mismatches)-i)
					break
				}
				fmt.Fprintf(w, "  %s\n", m)
			}
		}
	}
	return nil
}

// phaseProgress draws one progress bar per phase on a terminal.
type phaseProgress struct {
	w     io.Writer
	phase usdjob.Phase
	bar   *output.Progress
	done  int
}

var phaseLabels = map[usdjob.Phase]string{
	usdjob.PhaseRead:      "reading the environment",
	usdjob.PhaseWrite:     "writing records",
	usdjob.PhaseAssociate: "adding links",
	usdjob.PhaseVerify:    "verifying",
}

func (p *phaseProgress) update(phase usdjob.Phase, done, total int) {
	if phase != p.phase || p.bar == nil {
		p.finish()
		p.phase, p.done = phase, 0
		p.bar = output.NewProgress(p.w, int64(total), phaseLabels[phase])
	}
	if done > p.done {
		p.bar.Add(done - p.done)
		p.done = done
	}
}

func (p *phaseProgress) finish() {
	if p.bar != nil {
		p.bar.Finish()
		p.bar = nil
	}
}
