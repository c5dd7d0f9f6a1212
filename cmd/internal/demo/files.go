package demo

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/odoojob"
	"github.com/dvsync/dvsync/migrations/reportstyle"
)

// createLists creates (or empties: every demo run starts fresh) the JSON
// Lines files at paths, with the file mode of every report and data file.
func createLists(paths ...string) ([]*os.File, error) {
	var files []*os.File
	for _, p := range paths {
		f, err := reportstyle.Create(p)
		if err != nil {
			closeLists(files)
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

func closeLists(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

func writeFile(path string, write func(io.Writer) error) error {
	a, err := output.CreateAtomic(path)
	if err != nil {
		return err
	}
	if err := write(a); err != nil {
		a.Abort()
		return err
	}
	return a.Commit()
}

func writeJSON(path string, v any) error {
	return writeFile(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(v)
	})
}

func printSummary(w io.Writer, s *Summary) {
	if s.USD != nil {
		m := s.USD.Migration
		fmt.Fprintf(w, "USD %s: %d components assessed; %d workspace records written, %d unchanged, %d rejected; %d verification mismatches\n",
			s.USD.Source, s.USD.Components, m.TotalWritten(), m.Unchanged, m.Rejected, s.USD.Mismatches)
	}
	if s.Odoomig != nil {
		t := s.Odoomig.Total()
		fmt.Fprintf(w, "Odoo helpdesk: %d records read, %d written, %d unchanged, %d skipped, %d rejected in %.1fs; %d mapping warnings\n",
			t.Read, t.TotalWritten(), t.Unchanged, t.Skipped, t.Rejected, s.Timings["odooMigration"], t.Warned)
		printReasons(w, s.Odoomig)
	}
	if s.Verify != nil {
		verdict := "OK, no mismatches"
		if !s.Verify.OK {
			verdict = fmt.Sprintf("%d MISMATCHES", s.Verify.Mismatches())
		}
		fmt.Fprintf(w, "Verify: %s (%.1fs)\n", verdict, s.Timings["verify"])
	}
	if c := s.Compare; c != nil {
		verdict := "no differences"
		if c.Differences() > 0 {
			verdict = fmt.Sprintf("%d DIFFERENCES: %d tickets without a case, %d cases without a ticket, %d matched with differing fields",
				c.Differences(), c.OnlyInOdoo, c.OnlyInDataverse, c.Differing)
		}
		fmt.Fprintf(w, "Compare: %d tickets matched to cases, %s (%.1fs)", c.Matched, verdict, s.Timings["compare"])
		if c.CasesBefore > 0 && c.OnlyInDataverse > 0 {
			fmt.Fprintf(w, "; %d cases only in Dataverse, of the %d it held before the migration", c.OnlyInDataverse, c.CasesBefore)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\nReports are in %s:\n", s.Out)
	for _, f := range s.Files {
		if filepath.Ext(f) != ".db" {
			fmt.Fprintf(w, "  %s\n", f)
		}
	}
}

// printReasons prints the migration's skipped and rejected records grouped
// by reason with counts, as `migrate odoo` does, and the files that list
// every one.
func printReasons(w io.Writer, res *odoojob.Result) {
	t := res.Total()
	for _, k := range []struct {
		n      int64
		what   string
		file   string
		groups func(migrations.StepSummary) []migrations.ReasonGroup
	}{
		{t.Skipped, "skipped on purpose", res.Skips, func(s migrations.StepSummary) []migrations.ReasonGroup { return s.Skips }},
		{t.Rejected, "REJECTED", res.Rejects, func(s migrations.StepSummary) []migrations.ReasonGroup { return s.Rejects }},
	} {
		if k.n == 0 {
			continue
		}
		fmt.Fprintf(w, "  %s Odoo records %s, by reason (each one is in %s):\n", output.Count(k.n), k.what, k.file)
		var rows []output.Reason
		for _, s := range res.Steps {
			for _, g := range k.groups(s) {
				r := output.Reason{Count: g.Count, Step: s.Step, Text: g.Reason}
				for _, e := range g.Examples {
					r.Examples = append(r.Examples, e.SourceID)
				}
				rows = append(rows, r)
			}
		}
		output.Reasons(w, rows)
	}
}
