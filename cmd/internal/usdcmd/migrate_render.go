package usdcmd

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dvsync/dvsync/cmd/internal/exitcode"
	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/usdjob"
)

// migrateOutput is what usd migrate prints: where from and to, and the
// job's result (the engine's summary and verification, per record
// outcomes, rejects), as text or --json.
type migrateOutput struct {
	Source        string `json:"source"`
	Target        string `json:"target"`
	Configuration string `json:"configuration,omitempty"`
	State         string `json:"state,omitempty"`
	// TranslationNotes counts the translation's diagnostics; `usd assess`
	// explains them.
	TranslationNotes int `json:"translationNotes"`
	*usdjob.Result
}

// maxListed bounds the warnings, rejects and mismatches the text lists;
// --json has them all.
const maxListed = 20

func (o *migrateOutput) write(w io.Writer, asJSON bool) error {
	if asJSON {
		return output.WriteJSON(w, o)
	}
	verb := "Migrated"
	if o.DryRun {
		verb = "Dry run:"
	}
	by := "by unique-name key"
	if o.Addressing == usdjob.AddressByID {
		by = "by ID"
	}
	scope := "all configurations"
	if o.Configuration != "" {
		scope = "configuration " + o.Configuration
	}
	fmt.Fprintf(w, "%s %s (%s) → %s, records addressed %s\n\n", verb, o.Source, scope, o.Target, by)
	if o.DryRun {
		if err := o.writePlanned(w); err != nil {
			return err
		}
	}
	// The job tells created from updated; a "written" column appears only
	// if the target could not say which.
	written := o.Total().Written > 0
	header := []string{"step", "status", "read", "created", "updated", "unchanged", "skipped", "rejected", "warnings", "time"}
	if o.DryRun {
		header = []string{"step", "read", "would create", "would update", "unchanged", "would skip", "would reject", "warnings"}
	}
	at := slices.Index(header, "unchanged")
	if written {
		header = slices.Insert(header, at, "written")
	}
	row := func(name string, st migrations.Status, c migrations.Counts, d time.Duration) []string {
		r := []string{name, string(st), n(c.Read), n(c.Created), n(c.Updated), n(c.Unchanged), n(c.Skipped), n(c.Rejected), n(c.Warned), d.Round(time.Millisecond).String()}
		if o.DryRun {
			r = []string{name, n(c.Read), n(c.Created), n(c.Updated), n(c.Unchanged), n(c.Skipped), n(c.Rejected), n(c.Warned)}
		}
		if written {
			r = slices.Insert(r, at, n(c.Written))
		}
		return r
	}
	var rows [][]string
	for _, s := range o.Steps {
		rows = append(rows, row(s.Step, s.Status, s.Counts, s.Duration))
	}
	rows = append(rows, row("total", o.Status, o.Total(), o.Ended.Sub(o.Started)))
	if err := output.Table(w, header, rows); err != nil {
		return err
	}
	o.writeNotes(w)
	if o.DryRun {
		fmt.Fprintln(w, "Dry run: nothing was written, here or in the environment.")
	} else {
		o.writeVerification(w)
	}
	if o.TranslationNotes > 0 {
		fmt.Fprintf(w, "The translation made %d note(s); `dvsync usd assess` explains what needs a person.\n", o.TranslationNotes)
	}
	return nil
}

func n(v int64) string { return strconv.FormatInt(v, 10) }

// planned words a plan's outcomes as what a run would do.
var planned = map[migrations.Outcome]string{migrations.Created: "would create", migrations.Updated: "would update",
	migrations.Written: "would write", migrations.Rejected: "would reject"}

// writePlanned lists the records a run would create or update.
func (o *migrateOutput) writePlanned(w io.Writer) error {
	var rows [][]string
	for _, r := range o.Records {
		if r.Outcome == migrations.Unchanged {
			continue
		}
		links := ""
		if r.Links > 0 {
			links = strconv.Itoa(r.Links)
		}
		rows = append(rows, []string{planned[r.Outcome], r.Table, r.UniqueName, links, r.Name})
	}
	if len(rows) == 0 {
		return nil
	}
	if err := output.Table(w, []string{"action", "table", "unique name", "links", "name"}, rows); err != nil {
		return err
	}
	fmt.Fprintln(w)
	return nil
}

// writeNotes lists the first warnings and every reject.
func (o *migrateOutput) writeNotes(w io.Writer) {
	if t := o.Total(); t.Warned > 0 {
		fmt.Fprintf(w, "\n%d warning(s) about what the workspace cannot hold as USD had it; first ones (--json has a sample per step):\n", t.Warned)
		listed := 0
		for _, s := range o.Steps {
			for _, wn := range s.Warnings {
				if listed < maxListed/4 {
					fmt.Fprintf(w, "  %s %s: %s\n", s.Step, wn.SourceID, wn.Message)
					listed++
				}
			}
		}
	}
	verb := "rejected"
	if o.DryRun {
		verb = "would reject"
	}
	if len(o.Rejects) > 0 {
		fmt.Fprintln(w)
	}
	for i, r := range o.Rejects {
		if i == maxListed {
			fmt.Fprintf(w, "… and %d more (--json lists them all)\n", len(o.Rejects)-i)
			break
		}
		fmt.Fprintf(w, "%s: %s %s: %s\n", verb, r.Step, r.SourceID, r.Error)
	}
	for _, d := range o.Duplicates {
		fmt.Fprintf(w, "warning: more than one %s record has the unique name %s; the oldest is kept in step, delete the others\n", d.Table, d.UniqueName)
	}
	fmt.Fprintln(w)
}

// writeVerification says what reading everything back found.
func (o *migrateOutput) writeVerification(w io.Writer) {
	v := o.Verification
	if v == nil {
		return
	}
	var checked int64
	for _, s := range v.Steps {
		checked += s.Checked
	}
	switch {
	case v.Mismatches() == 0 && v.TotalRejected() == 0:
		fmt.Fprintf(w, "Verified: %d record(s) read back as written, lookups, states and links included.\n", checked)
	case v.Mismatches() == 0:
		fmt.Fprintf(w, "Verified %d record(s) read back as written; %d record(s) were rejected and are not in the environment.\n", checked, v.TotalRejected())
	default:
		fmt.Fprintf(w, "Verification: %d mismatch(es) among %d record(s) read back:\n", v.Mismatches(), checked)
		for i, m := range o.mismatches() {
			if i == maxListed {
				fmt.Fprintln(w, "  … and more (--json lists them all)")
				break
			}
			fmt.Fprintf(w, "  %s\n", m)
		}
	}
}

// mismatches describes the verification's mismatches, naming records by
// unique name rather than ID where the run wrote them.
func (o *migrateOutput) mismatches() []string {
	ids := map[string]string{}
	for _, r := range o.Records {
		if r.ID != "" {
			ids[strings.ToLower(r.ID)] = r.UniqueName
		}
	}
	name := func(v any) string {
		s := "(empty)"
		if v != nil {
			b, _ := json.Marshal(v)
			s = strings.Trim(string(b), `"`)
		}
		for id, un := range ids {
			s = strings.ReplaceAll(s, "id="+id, un)
			s = strings.ReplaceAll(s, id, un)
		}
		return s
	}
	var out []string
	for _, s := range o.Verification.Steps {
		for _, m := range s.Mismatches {
			line := fmt.Sprintf("%s %s %s", m.Kind, s.Step, m.SourceID)
			switch {
			case m.Kind == migrations.MismatchDuplicated:
				line += fmt.Sprintf(": %d records have this unique name; delete the others or add an alternate key on it", m.Found)
			case m.Error != "":
				line += ": " + m.Error
			}
			sep := ": "
			for _, f := range m.Fields {
				line += fmt.Sprintf("%s%s: expected %s, found %s", sep, f.Field, name(f.Expected), name(f.Actual))
				sep = "; "
			}
			out = append(out, line)
		}
	}
	return out
}

// exit is the exit status of a run that went to the end: 3 with the first
// problem and what to do when a record was rejected or verify found a
// mismatch.
func (o *migrateOutput) exit() error {
	// A dry run reports what a run would do; only a run finishes with
	// problems.
	if o.OK() || o.DryRun || o.Verification == nil {
		return nil
	}
	v := o.Verification
	if rejected := max(o.Total().Rejected, v.TotalRejected()); rejected > 0 {
		first := "see the verification"
		if len(o.Rejects) > 0 {
			first = fmt.Sprintf("%s %s: %s", o.Rejects[0].Step, o.Rejects[0].SourceID, o.Rejects[0].Error)
		}
		return exitcode.Finished(rejected, fmt.Sprintf("%d record(s) were rejected; first: %s. Fix the cause and run the command again: what was written is kept and not written twice",
			rejected, first))
	}
	return exitcode.Finished(v.Mismatches(), fmt.Sprintf("verification found %d mismatch(es) between the translation and the environment; first: %s. Run the command again to re-apply; if the difference comes back, something in the environment (a plug-in, a flow, a business rule) changes these records",
		v.Mismatches(), o.mismatches()[0]))
}

// stepBars draws one progress bar per step on a terminal.
type stepBars struct {
	w    io.Writer
	off  bool
	cur  string
	bar  *output.Progress
	seen int64
}

func (b *stepBars) update(p migrations.StepProgress) { b.show(p.Step, p) }

func (b *stepBars) verify(p migrations.StepProgress) { b.show("verify "+p.Step, p) }

func (b *stepBars) show(label string, p migrations.StepProgress) {
	if b.off {
		return
	}
	if label != b.cur {
		b.finish()
		b.cur, b.seen = label, 0
		b.bar = output.StartProgress(b.w, output.ProgressOptions{Description: label, Total: p.Total, Quiet: b.off})
	}
	if d := p.Counts.Read - b.seen; d > 0 {
		b.bar.Add(int(d))
		b.seen = p.Counts.Read
	}
}

func (b *stepBars) finish() {
	if b.bar != nil {
		b.bar.Finish()
		b.bar = nil
	}
	b.cur = ""
}
