package migrateodoo

import (
	"fmt"
	"io"

	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/odoojob"
)

// printReasons prints the skipped and the rejected records grouped by
// reason, largest group first, with the file that lists every one:
//
//	Skipped 11 records on purpose; each one, with its reason, is in state.skips.jsonl:
//	      7  contacts  a person: migrated as a contact  (e.g. 12, 15, 31)
func printReasons(w io.Writer, sum *migrations.Summary, files odoojob.Files) {
	t := sum.Total()
	skipVerb, rejectVerb := "Skipped", "Rejected"
	if sum.DryRun {
		skipVerb, rejectVerb = "Would skip", "Would reject"
	}
	if t.Skipped > 0 {
		fmt.Fprintf(w, "\n%s %s on purpose%s:\n", skipVerb, records(t.Skipped), listedIn(files.Skips, "its reason"))
		printGroups(w, sum, func(s migrations.StepSummary) []migrations.ReasonGroup { return s.Skips })
	}
	if t.Rejected > 0 {
		fmt.Fprintf(w, "\n%s %s%s:\n", rejectVerb, records(t.Rejected), listedIn(files.Rejects, "the record and its full error"))
		printGroups(w, sum, func(s migrations.StepSummary) []migrations.ReasonGroup { return s.Rejects })
	}
}

func records(n int64) string {
	if n == 1 {
		return "1 record"
	}
	return output.Count(n) + " records"
}

func listedIn(file, with string) string {
	if file == "" {
		return ""
	}
	return "; each one, with " + with + ", is in " + file
}

// printGroups prints the groups of every step.
func printGroups(w io.Writer, sum *migrations.Summary, groups func(migrations.StepSummary) []migrations.ReasonGroup) {
	var rows []output.Reason
	for _, s := range sum.Steps {
		for _, g := range groups(s) {
			r := output.Reason{Count: g.Count, Step: s.Step, Text: g.Reason}
			for _, e := range g.Examples {
				r.Examples = append(r.Examples, e.SourceID)
			}
			rows = append(rows, r)
		}
	}
	output.Reasons(w, rows)
}
