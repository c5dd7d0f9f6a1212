package migrateodoo

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/dvsync/dvsync/cmd/internal/exitcode"
	"github.com/dvsync/dvsync/migrations/odoojob"
	"github.com/dvsync/dvsync/migrations/reportstyle"
	"github.com/dvsync/dvsync/migrations/statestore"
)

// dataFiles are the JSON Lines files a run appends to: every rejected
// record, every skipped one and every mapping warning, each with why.
type dataFiles struct {
	odoojob.Files
	open []*os.File
	// rejects, skips and warnings are the open files, in that order.
	rejects, skips, warnings *os.File
}

// openDataFiles opens the run's data files for appending (a resumed run
// adds to what earlier runs listed), by default beside the state file.
// A dry run writes nothing anywhere: it opens none.
func openDataFiles(o *options) (*dataFiles, error) {
	d := &dataFiles{}
	if o.dryRun {
		return d, nil
	}
	d.Rejects = o.rejects
	if d.Rejects == "" {
		d.Rejects = defaultRejects(o.state)
	}
	if d.Warnings = o.warnings; d.Warnings == "" {
		d.Warnings = WarningsPath(d.Rejects)
	}
	if d.Skips = o.skips; d.Skips == "" {
		d.Skips = besideRejects(d.Rejects, "skips")
	}
	// The workers of a distributed run keep their rejects and skipped
	// records in the shared state, from which the coordinator writes the
	// files, but report warnings only as counts: no file would list them.
	if o.dist.on {
		d.Warnings = ""
	}
	seen := map[string]string{}
	for _, f := range []struct{ flag, path string }{{"--rejects", d.Rejects}, {"--skips", d.Skips}, {"--warnings", d.Warnings}} {
		if f.path == "" {
			continue
		}
		if other, ok := seen[filepath.Clean(f.path)]; ok {
			return nil, exitcode.UsageError(fmt.Errorf("%s and %s name the same file %s; give them different files", other, f.flag, f.path))
		}
		seen[filepath.Clean(f.path)] = f.flag
	}
	for _, f := range []struct {
		what, path string
		to         **os.File
	}{{"rejects", d.Rejects, &d.rejects}, {"skips", d.Skips, &d.skips}, {"warnings", d.Warnings, &d.warnings}} {
		if f.path == "" {
			continue
		}
		file, err := reportstyle.OpenAppend(f.path)
		if err != nil {
			d.Close()
			return nil, exitcode.Of(fmt.Errorf("opening the %s file: %w", f.what, err))
		}
		*f.to = file
		d.open = append(d.open, file)
	}
	return d, nil
}

// writers are the open files as the run's writers; nil (not a nil *os.File,
// which the engine would write to) for a file not opened.
func (d *dataFiles) writers() (rejects, skips, warnings io.Writer) {
	w := func(f *os.File) io.Writer {
		if f == nil {
			return nil
		}
		return f
	}
	return w(d.rejects), w(d.skips), w(d.warnings)
}

// Close closes the files.
func (d *dataFiles) Close() {
	for _, f := range d.open {
		f.Close()
	}
}

// writeReport writes migration.html and migration.json into --report
// (default: the state file's folder) and names the page unless --json. A
// dry run writes nothing anywhere.
func writeReport(w io.Writer, o *options, res odoojob.Result) error {
	if res.DryRun {
		return nil
	}
	dir := o.report
	if dir == "" {
		dir = defaultReportDir(o.state)
	}
	htmlPath, _, err := res.WriteFiles(dir)
	if err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	if !o.json {
		fmt.Fprintf(w, "\nReport: %s\n", htmlPath)
	}
	return nil
}

// defaultRejects is the rejects file beside a state file; a shared state
// (PostgreSQL) has no folder, so its rejects go to the current one.
func defaultRejects(state string) string {
	if statestore.IsShared(state) {
		state = DefaultStateFile
	}
	return strings.TrimSuffix(state, filepath.Ext(state)) + ".rejects.jsonl"
}

// defaultReportDir is the folder of the state file (the current one for a
// shared state).
func defaultReportDir(state string) string {
	if statestore.IsShared(state) {
		return "."
	}
	return filepath.Dir(state)
}

// WarningsPath is the default warnings file beside a rejects file: the
// last "rejects" in its name becomes "warnings" (odoo-rejects.jsonl →
// odoo-warnings.jsonl), or ".warnings.jsonl" replaces its extension.
func WarningsPath(rejects string) string { return besideRejects(rejects, "warnings") }

// besideRejects names another data file beside a rejects file: the last
// "rejects" in its name becomes kind, or ".<kind>.jsonl" replaces its
// extension.
func besideRejects(rejects, kind string) string {
	dir, base := filepath.Split(rejects)
	if i := strings.LastIndex(base, "rejects"); i >= 0 {
		return dir + base[:i] + kind + base[i+len("rejects"):]
	}
	return dir + strings.TrimSuffix(base, filepath.Ext(base)) + "." + kind + ".jsonl"
}
