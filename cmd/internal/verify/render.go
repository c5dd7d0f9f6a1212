package verify

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/reportstyle"
)

// lists are the files beside the report that list every skipped and every
// rejected record (as the state records them now), so the report can
// point at them.
type lists struct {
	files          migrations.Files
	skips, rejects *os.File
}

func openLists(dir string) (*lists, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	l := &lists{files: migrations.Files{Skips: filepath.Join(dir, migrations.VerifySkips), Rejects: filepath.Join(dir, migrations.VerifyRejects)}}
	var err error
	if l.skips, err = reportstyle.Create(l.files.Skips); err != nil {
		return nil, err
	}
	if l.rejects, err = reportstyle.Create(l.files.Rejects); err != nil {
		l.skips.Close()
		return nil, err
	}
	return l, nil
}

func (l *lists) close() {
	l.skips.Close()
	l.rejects.Close()
}

func reasons(rep *migrations.Report, groups func(migrations.StepReport) []migrations.ReasonGroup) []output.Reason {
	var out []output.Reason
	for _, s := range rep.Steps {
		for _, g := range groups(s) {
			r := output.Reason{Count: g.Count, Step: s.Step, Text: g.Reason}
			for _, e := range g.Examples {
				r.Examples = append(r.Examples, e.SourceID)
			}
			out = append(out, r)
		}
	}
	return out
}

func records(n int64) string { return plural(n, "record", "records") }

func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return output.Count(n) + " " + many
}

func listedIn(file, with string) string {
	if file == "" {
		return ""
	}
	return fmt.Sprintf("; each one, with %s, is in %s", with, file)
}
