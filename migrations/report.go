package migrations

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// AllRejected counts the step's rejects at every level: source records the
// mapping rejects and target records a run could not write.
func (s StepReport) AllRejected() int64 {
	n := s.Rejected
	for _, t := range s.Tables {
		n += t.Rejected
	}
	return n
}

// TotalRejected counts the rejects of every step (AllRejected), as
// Report.Rejected carries them in JSON. A report with rejects is never
// shown as "OK", even without a mismatch.
func (r *Report) TotalRejected() int64 {
	var n int64
	for _, s := range r.Steps {
		n += s.AllRejected()
	}
	return n
}

// WriteFiles writes verify.html and verify.json into dir, each replaced
// atomically (written beside, then renamed), and returns their paths.
func (r *Report) WriteFiles(dir string) (htmlPath, jsonPath string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	htmlPath, jsonPath = filepath.Join(dir, "verify.html"), filepath.Join(dir, "verify.json")
	for _, f := range []struct {
		path  string
		write func(io.Writer) error
	}{{htmlPath, r.WriteHTML}, {jsonPath, r.WriteJSON}} {
		if err := writeAtomic(f.path, f.write); err != nil {
			return "", "", err
		}
	}
	return htmlPath, jsonPath, nil
}

func writeAtomic(path string, write func(io.Writer) error) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".partial-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after the rename, nothing to remove
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// WriteHTML writes r as one self-contained HTML page (inline CSS, no
// scripts, no external resources), so it can be mailed or archived as is.
// All values are escaped by html/template.
func (r *Report) WriteHTML(w io.Writer) error {
	return reportTemplate.Execute(w, r)
}

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"tables": func(m map[string]*TableReport) []string { return slices.Sorted(maps.Keys(m)) },
	"value": func(v any) string {
		if v == nil {
			return "(empty)"
		}
		// html/template escapes the result; JSON's own HTML escaping
		// would show \u003c to the reader.
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return fmt.Sprint(v)
		}
		return strings.TrimSuffix(b.String(), "\n")
	},
	"mismatches": func(s StepReport) int64 { return s.mismatchCount() },
	"deref":      func(p *int64) int64 { return *p },
	"plural": func(n int64, one, many string) string {
		if n == 1 {
			return one
		}
		return many
	},
	// rejected counts the step's rejects: records the mapping rejects and
	// target records missing because a run recorded them as rejected.
	"rejected": func(s StepReport) int64 { return s.AllRejected() },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dvsync verify: {{.Job}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1b1b1b}
h1{font-size:1.5rem;margin-bottom:.25rem}
h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.25rem}
.meta{color:#555}
.verdict{display:inline-block;padding:.2rem .6rem;border-radius:.3rem;font-weight:600}
.ok{background:#dff3e4;color:#0b6b2c}.bad{background:#fbe3e3;color:#9b1c1c}.warn{background:#fff1d6;color:#8a4b00}
table{border-collapse:collapse;margin:.5rem 0 1rem;min-width:50%}
th,td{border:1px solid #ddd;padding:.3rem .6rem;text-align:right;vertical-align:top}
th:first-child,td:first-child,td.l{text-align:left}
th{background:#f4f4f4}
td.n0{color:#999}
code{font-family:ui-monospace,Consolas,monospace;font-size:.9em;word-break:break-all}
</style>
</head>
<body>
<h1>Verification of {{.Job}}</h1>
<p class="meta">{{.Started.UTC.Format "2006-01-02 15:04:05 UTC"}} · {{if .Sample}}seeded sample of {{.Sample}} records per step (seed {{.Seed}}){{else}}every record checked{{end}}</p>
<p>{{if and .OK .TotalRejected}}<span class="verdict warn">No mismatches, but {{.TotalRejected}} {{plural .TotalRejected "record was" "records were"}} rejected and not migrated</span>{{else if .OK}}<span class="verdict ok">OK: no mismatches</span>{{else}}<span class="verdict bad">{{.Mismatches}} {{plural .Mismatches "mismatch" "mismatches"}}</span>{{end}}</p>
<table>
<tr><th>Step</th><th>Source read</th><th>Expected</th><th>Skipped</th><th>Rejected</th><th>Checked</th><th>Mismatches</th></tr>
{{range .Steps}}<tr><td>{{.Step}}</td><td>{{.SourceRead}}</td><td>{{.Expected}}</td><td>{{.Skipped}}</td><td>{{rejected .}}</td><td>{{.Checked}}</td><td>{{mismatches .}}</td></tr>
{{end}}</table>
{{range .Steps}}{{$s := .}}
<h2>{{.Step}}</h2>
<table>
<tr><th>Table</th><th>Expected</th><th>Checked</th><th>Found</th><th>Missing</th><th>Rejected</th><th>Duplicated</th><th>Differing</th><th>In target</th><th>Unexpected</th></tr>
{{range $name := tables .Tables}}{{with index $s.Tables $name}}<tr><td>{{$name}}</td><td>{{.Expected}}</td><td>{{.Checked}}</td><td>{{.Found}}</td><td>{{.Missing}}</td><td>{{.Rejected}}</td><td>{{.Duplicated}}</td><td>{{.Differing}}</td><td>{{if .TargetCount}}{{deref .TargetCount}}{{else}}–{{end}}</td><td>{{.Unexpected}}</td></tr>{{end}}
{{end}}</table>
{{if .Unrecorded}}<p>{{.Unrecorded}} source records are rejected by the mapping but no run recorded them: the source changed since the run, or the run did not finish.</p>{{end}}
{{if .Mismatches}}<table>
<tr><th>Kind</th><th>Source ID</th><th>Table</th><th>Key</th><th>Details</th></tr>
{{range .Mismatches}}<tr><td>{{.Kind}}</td><td class="l"><code>{{.SourceID}}</code></td><td class="l">{{.Table}}</td><td class="l"><code>{{.Key}}</code></td><td class="l">{{if .Found}}{{.Found}} records{{end}}{{.Error}}{{range .Fields}}<div><code>{{.Field}}</code>: expected <code>{{value .Expected}}</code>, found <code>{{value .Actual}}</code></div>{{end}}</td></tr>
{{end}}</table>
{{if .MismatchesOmitted}}<p>{{.MismatchesOmitted}} more mismatches not listed.</p>{{end}}{{end}}
{{end}}
</body>
</html>
`))
