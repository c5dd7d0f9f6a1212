package migrations

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/dvsync/dvsync/migrations/reportstyle"
)

// The HTML reports of a run and of a verification share the look of every
// dvsync report (package reportstyle) and one shape: the two systems, the
// totals and a chart, the details, then what to do next.

//go:embed verify.html.tmpl
var verifyHTML string

//go:embed run.html.tmpl
var runHTML string

var reportFuncs = template.FuncMap{
	"css":   reportstyle.CSS,
	"count": reportstyle.Count,
	"plural": func(n int64, one, many string) string {
		if n == 1 {
			return "1 " + one
		}
		return reportstyle.Count(n) + " " + many
	},
	"date": func(t time.Time) string { return t.UTC().Format("2 January 2006, 15:04 UTC") },
	"sub":  func(a, b int64) int64 { return a - b },
	"deref": func(p *int64) string {
		if p == nil {
			return "–"
		}
		return reportstyle.Count(*p)
	},
	"ms": func(d time.Duration) string { return d.Round(time.Millisecond).String() },
}

var (
	verifyTemplate = template.Must(template.New("verify").Funcs(reportFuncs).Parse(verifyHTML))
	runTemplate    = template.Must(template.New("run").Funcs(reportFuncs).Parse(runHTML))
)

// verdict is the one-line conclusion at the top of a report.
type verdict struct{ Class, Text string }

// stepGroup is a reason group with the step it belongs to.
type stepGroup struct {
	Step string
	ReasonGroup
}

func groupsOf[S any](steps []S, name func(S) string, groups func(S) []ReasonGroup) []stepGroup {
	var out []stepGroup
	for _, s := range steps {
		for _, g := range groups(s) {
			out = append(out, stepGroup{Step: name(s), ReasonGroup: g})
		}
	}
	return out
}

type namedTable struct {
	Name string
	*TableReport
}

type verifyView struct {
	*Report
	Total    StepReport
	Tables   []namedTable
	Verdict  verdict
	Chart    template.HTML
	Legend   template.HTML
	Skips    []stepGroup
	Rejects  []stepGroup
	Next     []string
	Duration string
}

func newVerifyView(r *Report) verifyView {
	v := verifyView{Report: r, Total: r.Totals(), Duration: roundDuration(r.Ended.Sub(r.Started)).String()}
	for _, name := range slices.Sorted(maps.Keys(v.Total.Tables)) {
		v.Tables = append(v.Tables, namedTable{name, v.Total.Tables[name]})
	}
	segments := func(s StepReport) []reportstyle.Segment {
		return []reportstyle.Segment{
			{Label: "matched", Value: s.Matched, Colour: reportstyle.ColourOK},
			{Label: "with mismatches", Value: s.Mismatched, Colour: reportstyle.ColourBad},
			{Label: "rejected by the mapping, not recorded", Value: s.Unrecorded, Colour: "#8A1F33"},
			{Label: "not checked (outside the sample)", Value: s.Expected - s.Checked, Colour: reportstyle.ColourPending},
			{Label: "rejected", Value: s.Rejected, Colour: reportstyle.ColourRejected},
			{Label: "skipped", Value: s.Skipped, Colour: reportstyle.ColourSkipped},
		}
	}
	var rows []reportstyle.Row
	for _, s := range r.Steps {
		rows = append(rows, reportstyle.Row{Label: s.Step, Segments: segments(s)})
	}
	v.Chart = reportstyle.StackedRows("Source records per step, by outcome", rows)
	var legend []reportstyle.Segment
	for _, seg := range segments(v.Total) {
		if seg.Value > 0 {
			legend = append(legend, seg)
		}
	}
	v.Legend = reportstyle.Legend(legend)
	name := func(s StepReport) string { return s.Step }
	v.Skips = groupsOf(r.Steps, name, func(s StepReport) []ReasonGroup { return s.Skips })
	v.Rejects = groupsOf(r.Steps, name, func(s StepReport) []ReasonGroup { return s.Rejects })

	mismatches, rejected := r.Mismatches(), r.TotalRejected()
	switch {
	case mismatches > 0:
		v.Verdict = verdict{"bad", fmt.Sprintf("%s between the two systems: %s of %s checked records do not match.",
			plural(mismatches, "mismatch", "mismatches"), reportstyle.Count(v.Total.Mismatched), reportstyle.Count(v.Total.Checked))}
	case rejected > 0:
		v.Verdict = verdict{"warn", fmt.Sprintf("Every migrated record matches, but %s rejected and not migrated.",
			plural(rejected, "record was", "records were"))}
	case r.Sample > 0:
		v.Verdict = verdict{"ok", fmt.Sprintf("No mismatches in a sample of %s records: every sampled record is in Dynamics 365 with the values it has in the source.",
			reportstyle.Count(v.Total.Checked))}
	default:
		v.Verdict = verdict{"ok", fmt.Sprintf("No mismatches: all %s migrated records are in Dynamics 365, once each, with the values they have in the source.",
			reportstyle.Count(v.Total.Checked))}
	}

	if mismatches-v.Total.Unrecorded > 0 {
		v.Next = append(v.Next, "Run the migration again with the same state file: it rewrites missing and differing records (nothing is duplicated), then verify again. A record that still differs was changed in Dynamics 365 after the migration, or by a plug-in or workflow there: look at the fields listed under Mismatches.")
	}
	if v.Total.Unrecorded > 0 {
		v.Next = append(v.Next, fmt.Sprintf("%s now rejected by the mapping but no run recorded them: the source changed since the migration, or the migration did not finish. Run the migration again, then verify again.",
			plural(v.Total.Unrecorded, "source record is", "source records are")))
	}
	if rejected > 0 {
		v.Next = append(v.Next, "Fix the causes listed under Rejected records (in the source, in Dynamics 365 or in the mapping file) and run the migration again with the same state file: only what is missing is written. "+listed(r.Files.Rejects, "rejected record, with the error the migration recorded,"))
	}
	if v.Total.Skipped > 0 {
		v.Next = append(v.Next, "Skipped records were left out on purpose by the mapping file; each reason under Skipped records names its setting. Change the setting and run the migration again if any of them should be migrated. "+listed(r.Files.Skips, "skipped record, with its reason,"))
	}
	if r.Sample > 0 {
		v.Next = append(v.Next, "This check covered a sample. Verify every record (without --sample) before go-live.")
	}
	if len(v.Next) == 0 {
		v.Next = append(v.Next, "Nothing to fix. Keep this report with the project records, and verify again after any later migration run.")
	}
	return v
}

// roundDuration keeps a duration readable: milliseconds under a second,
// seconds above.
func roundDuration(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
}

// listed points at the file that lists every record of a kind.
func listed(file, what string) string {
	if file == "" {
		return ""
	}
	return "Every " + what + " is listed in " + file + "."
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return reportstyle.Count(n) + " " + many
}

// RunReport is a run's Summary with what its reader needs besides the
// counts: the two systems and the files that list every rejected, skipped
// and warned record. WriteHTML renders it.
type RunReport struct {
	// Title names the migration ("Odoo helpdesk migration"); default
	// "Migration".
	Title          string
	Summary        *Summary
	Source, Target Endpoint
	Files          Files
}

type namedCounts struct {
	Name string
	TableCounts
}

type runView struct {
	*RunReport
	Total    Counts
	Tables   []namedCounts
	Verdict  verdict
	Chart    template.HTML
	Legend   template.HTML
	Skips    []stepGroup
	Rejects  []stepGroup
	Warnings []stepWarning
	Next     []string
	Duration time.Duration
}

type stepWarning struct {
	Step string
	Warning
}

// WriteHTML writes the run as one self-contained HTML page, in the style
// of every dvsync report: both systems named, the totals and a chart at
// the top, rejects and skips grouped by reason with examples and a pointer
// to the files that list them all, and what to do next. It inlines its
// CSS and SVG, runs no script and fetches nothing.
func (r *RunReport) WriteHTML(w io.Writer) error {
	return runTemplate.Execute(w, newRunView(r))
}

func newRunView(r *RunReport) runView {
	if r.Title == "" {
		r.Title = "Migration"
	}
	sum := r.Summary
	v := runView{RunReport: r, Total: sum.Total(), Duration: roundDuration(sum.Ended.Sub(sum.Started))}
	tables := map[string]TableCounts{}
	for _, s := range sum.Steps {
		for name, tc := range s.Tables {
			t := tables[name]
			t.Records += tc.Records
			t.Created += tc.Created
			t.Updated += tc.Updated
			t.Written += tc.Written
			t.Unchanged += tc.Unchanged
			t.Rejected += tc.Rejected
			tables[name] = t
		}
		for _, w := range s.Warnings {
			v.Warnings = append(v.Warnings, stepWarning{s.Step, w})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(tables)) {
		v.Tables = append(v.Tables, namedCounts{name, tables[name]})
	}
	would := ""
	if sum.DryRun {
		would = "would be "
	}
	segments := func(c Counts) []reportstyle.Segment {
		return []reportstyle.Segment{
			{Label: would + "created", Value: c.Created, Colour: reportstyle.ColourOK},
			{Label: would + "updated", Value: c.Updated, Colour: "#0B4F8A"},
			{Label: would + "written", Value: c.Written, Colour: reportstyle.ColourUpdated},
			{Label: "unchanged", Value: c.Unchanged, Colour: reportstyle.ColourUnchanged},
			{Label: would + "rejected", Value: c.Rejected, Colour: reportstyle.ColourRejected},
			{Label: would + "skipped", Value: c.Skipped, Colour: reportstyle.ColourSkipped},
		}
	}
	var rows []reportstyle.Row
	for _, s := range sum.Steps {
		rows = append(rows, reportstyle.Row{Label: s.Step, Segments: segments(s.Counts)})
	}
	v.Chart = reportstyle.StackedRows("Source records per step, by outcome", rows)
	var legend []reportstyle.Segment
	for _, seg := range segments(v.Total) {
		if seg.Value > 0 {
			legend = append(legend, seg)
		}
	}
	v.Legend = reportstyle.Legend(legend)
	name := func(s StepSummary) string { return s.Step }
	v.Skips = groupsOf(sum.Steps, name, func(s StepSummary) []ReasonGroup { return s.Skips })
	v.Rejects = groupsOf(sum.Steps, name, func(s StepSummary) []ReasonGroup { return s.Rejects })

	t := v.Total
	switch {
	case sum.DryRun:
		v.Verdict = verdict{"ok", fmt.Sprintf("Dry run: nothing was written. A run would read %s and write %s.",
			plural(t.Read, "record", "records"), plural(t.TotalWritten(), "record", "records"))}
	case sum.Status != StatusSucceeded:
		v.Verdict = verdict{"bad", fmt.Sprintf("The run stopped before the end (%s): %s", sum.Status, sum.Error)}
	case t.Rejected > 0:
		v.Verdict = verdict{"warn", fmt.Sprintf("Finished, but %s rejected and not migrated; the rest was migrated or left out on purpose.",
			plural(t.Rejected, "record was", "records were"))}
	default:
		v.Verdict = verdict{"ok", fmt.Sprintf("Finished: every one of the %s read was migrated (%s unchanged since an earlier run) or deliberately skipped (%s).",
			plural(t.Read, "record", "records"), reportstyle.Count(t.Unchanged), reportstyle.Count(t.Skipped))}
	}
	if !sum.DryRun && sum.Status != StatusSucceeded {
		v.Next = append(v.Next, "Run the same command again: the migration resumes from its last checkpoint and writes nothing twice.")
	}
	if t.Rejected > 0 {
		v.Next = append(v.Next, "Fix the causes listed under Rejected records (in the source, in Dynamics 365 or in the mapping file) and run the migration again with the same state file: rejected records are tried again, nothing is duplicated. "+
			listed(r.Files.Rejects, "rejected record, with the record as the source returned it and the full error,"))
	}
	if t.Skipped > 0 {
		v.Next = append(v.Next, "Skipped records were left out on purpose by the mapping file; each reason names its setting. Change it and run again if any of them should be migrated. "+
			listed(r.Files.Skips, "skipped record, with its reason,"))
	}
	if t.Warned > 0 {
		v.Next = append(v.Next, "Review the warnings: the mapping migrated these records with a fallback (a default owner, a condition Dynamics 365 cannot express). "+
			listed(r.Files.Warnings, "warning"))
	}
	if !sum.DryRun {
		v.Next = append(v.Next, "Verify the migration record by record (dvsync verify, with the same connections, state file and mapping file): its report compares every migrated record with the source.")
	}
	return v
}
