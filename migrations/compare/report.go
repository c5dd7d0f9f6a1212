package compare

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"github.com/dvsync/dvsync/migrations/reportstyle"
	"html/template"
	"os"
	"path/filepath"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/dvsync/dvsync/mapping/canonical"
)

// Report is a finished comparison with what the reader needs to know about
// how it was made.
type Report struct {
	Generated time.Time `json:"generated"`
	// Odoo and Dataverse describe the sides (URL and database; never
	// credentials).
	Odoo      string `json:"odoo"`
	Dataverse string `json:"dataverse"`
	MapFile   string `json:"mapFile"`
	StateFile string `json:"stateFile,omitempty"`
	Since     string `json:"since,omitempty"`
	// Requests counts the HTTP requests each side cost.
	OdooRequests      int64 `json:"odooRequests"`
	DataverseRequests int64 `json:"dataverseRequests"`
	// AggregateRequests counts, per side, the requests of the server-side
	// aggregates alone.
	AggregateRequests map[string]int64 `json:"aggregateRequests,omitempty"`
	Rules             []Rule           `json:"normalisation"`
	Result            *Result          `json:"result"`
	// Files are the report's files by kind, relative to the output folder.
	Files map[string]string `json:"files"`
}

// Rule is one normalisation rule as the report states it.
type Rule struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// RulesOf lists a model's normalisation rules for the report.
func RulesOf(md *canonical.Model) []Rule {
	c := md.Map().Compare
	return []Rule{{"compare.time_zone", c.TimeZone}, {"compare.time_precision", c.TimePrecision},
		{"compare.description", c.Description}, {"compare.strip_migration_footer", fmt.Sprint(c.StripMigrationFooter)},
		{"compare.trim_space", fmt.Sprint(c.TrimSpace)}, {"compare.truncated_prefix", fmt.Sprint(c.TruncatedPrefix)},
		{"compare.case_insensitive_email", fmt.Sprint(c.CaseInsensitiveEmail)}, {"compare.choices", c.Choices},
		{"compare.fields", strings.Join(c.Fields, ", ")}}
}

// File names in the output folder.
const (
	FileHTML             = "compare-report.html"
	FileMarkdown         = "compare-report.md"
	FileJSON             = "compare-report.json"
	FileOperationsCSV    = "compare-operations.csv"
	FileDifferencesCSV   = "compare-differences.csv"
	FileDifferencesJSONL = "compare-differences.jsonl"
	FileUnmatchedCSV     = "compare-unmatched.csv"
	FileUnmatchedJSONL   = "compare-unmatched.jsonl"
)

//go:embed report.html.tmpl
var htmlTemplate string

//go:embed report.md.tmpl
var mdTemplate string

var funcs = template.FuncMap{
	"css":   reportstyle.CSS,
	"bars":  func(f Figure) template.HTML { return barChart(f, 12) },
	"line":  lineChart,
	"num":   fmtNum,
	"int":   func(n int64) string { return groupDigits(n) },
	"pct":   func(a, b int64) string { return pctOf(a, b) },
	"upper": strings.ToUpper,
	"classbar": func(m map[canonical.Class]int64) template.HTML {
		counts := map[string]int64{}
		var order []string
		for _, c := range canonical.Classes {
			counts[string(c)] = m[c]
			order = append(order, string(c))
		}
		return classBar(counts, order, classColours)
	},
	"classcount": func(m map[canonical.Class]int64, c string) int64 { return m[canonical.Class(c)] },
	"colour":     func(c string) string { return classColours[c] },
	"classes": func() []string {
		var out []string
		for _, c := range canonical.Classes {
			out = append(out, string(c))
		}
		return out
	},
	"human":  func(c string) string { return strings.ReplaceAll(c, "_", " ") },
	"md":     mdCell,
	"isLine": func(f Figure) bool { return f.ID == "backlog" },
	"date":   func(t time.Time) string { return t.UTC().Format("2 January 2006, 15:04 UTC") },
	"f1":     func(v float64) string { return fmt.Sprintf("%.1f", v) },
	"plural": func(n int64, one, many string) string {
		if n == 1 {
			return "1 " + one
		}
		return groupDigits(n) + " " + many
	},
}

var classColours = map[string]string{"equal": "#2E8540", "both_empty": "#B8C4CE", "empty_in_odoo": colourOdoo,
	"empty_in_dataverse": colourDataverse, "differs": "#C4314B",
	"empty_in_a": colourOdoo, "empty_in_b": colourDataverse, "only_in_a": colourOdoo, "only_in_b": colourDataverse}

// mdCell makes a value safe in a Markdown table cell: a pipe would end
// the cell and a line break the row, and markup characters (HTML tags,
// emphasis, links, code) would render instead of showing as they are.
// Line breaks become <br>, which tables allow.
func mdCell(s string) string {
	var b strings.Builder
	s = strings.ReplaceAll(s, "\r\n", "\n")
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r':
			b.WriteString("<br>")
			continue
		case strings.ContainsRune("\\|<>*_[]`#", r):
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func groupDigits(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + groupDigits(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func pctOf(a, b int64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(a)/float64(b))
}

// Write renders the HTML, Markdown, JSON and operations CSV files into dir
// and records their names in r.Files (with the differences files Run wrote
// there).
func (r *Report) Write(dir string) error {
	if r.Files == nil {
		r.Files = map[string]string{}
	}
	for k, v := range map[string]string{"html": FileHTML, "markdown": FileMarkdown, "json": FileJSON, "operationsCsv": FileOperationsCSV,
		"differencesCsv": FileDifferencesCSV, "differencesJsonl": FileDifferencesJSONL, "unmatchedCsv": FileUnmatchedCSV, "unmatchedJsonl": FileUnmatchedJSONL} {
		r.Files[k] = v
	}
	var html, md bytes.Buffer
	if err := template.Must(template.New("html").Funcs(funcs).Parse(htmlTemplate)).Execute(&html, r); err != nil {
		return fmt.Errorf("rendering the HTML report: %w", err)
	}
	if err := texttemplate.Must(texttemplate.New("md").Funcs(texttemplate.FuncMap(funcs)).Parse(mdTemplate)).Execute(&md, r); err != nil {
		return fmt.Errorf("rendering the Markdown report: %w", err)
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	var ops bytes.Buffer
	w := csv.NewWriter(&ops)
	w.Write([]string{"figure", "label", "odoo", "dataverse", "unit", "odoo_method", "dataverse_method"})
	if r.Result != nil && r.Result.Operations != nil {
		for _, f := range r.Result.Operations.Figures {
			for _, row := range f.Rows {
				w.Write([]string{f.ID, row.Label, csvNum(row.Odoo), csvNum(row.Dataverse), f.Unit, f.OdooMethod, f.DataverseMethod})
			}
		}
	}
	w.Flush()
	for name, data := range map[string][]byte{FileHTML: html.Bytes(), FileMarkdown: md.Bytes(), FileJSON: append(js, '\n'), FileOperationsCSV: ops.Bytes()} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func csvNum(p *float64) string {
	if p == nil {
		return ""
	}
	return fmt.Sprint(*p)
}
