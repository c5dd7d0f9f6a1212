package compare

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/migrations/reportstyle"
)

// Columns two environments are expected to disagree on: the platform sets
// them on every write, so they say nothing about the data.
var volatileColumns = []string{"modifiedon", "_modifiedby_value", "_modifiedonbehalfby_value", "versionnumber",
	"timezoneruleversionnumber", "utcconversiontimezonecode", "importsequencenumber", "overriddencreatedon"}

// TableResult is the reconciliation of one table between environments A
// and B, matched on the primary key.
type TableResult struct {
	Table            string           `json:"table"`
	A                int64            `json:"a"`
	B                int64            `json:"b"`
	Matched          int64            `json:"matched"`
	OnlyInA          int64            `json:"onlyInA"`
	OnlyInB          int64            `json:"onlyInB"`
	Differing        int64            `json:"differing"`
	FieldDifferences map[string]int64 `json:"fieldDifferences"`
}

// EnvironmentsReport is the comparison of two Dataverse environments.
type EnvironmentsReport struct {
	Generated time.Time     `json:"generated"`
	A         string        `json:"a"`
	B         string        `json:"b"`
	Tables    []TableResult `json:"tables"`
	// Samples are the first differences, for the HTML report; every one
	// is in the CSV file.
	Samples []EnvDifference `json:"sampleDifferences"`
	Files   []string        `json:"files"`
}

// EnvDifference is one column of one record that differs, or a record
// found in one environment only (Column empty).
type EnvDifference struct {
	Table  string `json:"table"`
	ID     string `json:"id"`
	Column string `json:"column,omitempty"`
	Class  string `json:"class"`
	A      string `json:"a,omitempty"`
	B      string `json:"b,omitempty"`
}

// Clean reports whether every table matched with no difference.
func (r *EnvironmentsReport) Clean() bool {
	for _, t := range r.Tables {
		if t.OnlyInA+t.OnlyInB+t.Differing > 0 {
			return false
		}
	}
	return true
}

// Environment files.
const (
	FileEnvDifferencesCSV = "compare-environments-differences.csv"
	FileEnvJSON           = "compare-environments.json"
	FileEnvHTML           = "compare-environments.html"
	FileEnvMarkdown       = "compare-environments.md"
)

//go:embed environments.html.tmpl
var envTemplate string

//go:embed environments.md.tmpl
var envMDTemplate string

type envRecord struct {
	key  string
	vals map[string]string
}

func envRecords(ctx context.Context, c *dataverse.Client, table, pk string) iter.Seq2[envRecord, error] {
	return func(yield func(envRecord, error) bool) {
		for rec, err := range c.Records(ctx, table, dataverse.Query{}) {
			if err != nil {
				yield(envRecord{}, err)
				return
			}
			vals := map[string]string{}
			for k := range rec {
				if strings.Contains(k, "@") || slices.Contains(volatileColumns, k) {
					continue
				}
				vals[k] = rec.String(k)
			}
			if !yield(envRecord{key: strings.ToLower(rec.String(pk)), vals: vals}, nil) {
				return
			}
		}
	}
}

// Environments compares tables of environment a with environment b,
// record by record on their primary keys, through the same spill store
// and merge-join as the Odoo comparison; every difference and unmatched
// record goes to one CSV in dir.
func Environments(ctx context.Context, a, b *dataverse.Client, tables []string, dir, workDir string) (*EnvironmentsReport, error) {
	rep := &EnvironmentsReport{Generated: time.Now(), A: a.ServiceRoot(), B: b.ServiceRoot()}
	for _, t := range tables {
		if _, ok := a.Schema().Table(t); !ok {
			return nil, fmt.Errorf("--tables: %s is not a known table (use logical names such as incident, account)", t)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := reportstyle.Create(filepath.Join(dir, FileEnvDifferencesCSV))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	w := csv.NewWriter(f)
	w.Write([]string{"table", "id", "column", "class", "a", "b"})
	for _, t := range tables {
		tr, err := compareTable(ctx, a, b, t, w, workDir, rep)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t, err)
		}
		rep.Tables = append(rep.Tables, *tr)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, err
	}
	rep.Files = []string{FileEnvDifferencesCSV, FileEnvJSON, FileEnvHTML, FileEnvMarkdown}
	js, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, FileEnvJSON), append(js, '\n'), 0o644); err != nil {
		return nil, err
	}
	var page, md bytes.Buffer
	if err := template.Must(template.New("env").Funcs(funcs).Parse(envTemplate)).Execute(&page, rep); err != nil {
		return nil, fmt.Errorf("rendering the HTML report: %w", err)
	}
	if err := texttemplate.Must(texttemplate.New("envmd").Funcs(texttemplate.FuncMap(funcs)).Parse(envMDTemplate)).Execute(&md, rep); err != nil {
		return nil, fmt.Errorf("rendering the Markdown report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, FileEnvMarkdown), md.Bytes(), 0o644); err != nil {
		return nil, err
	}
	return rep, os.WriteFile(filepath.Join(dir, FileEnvHTML), page.Bytes(), 0o644)
}

func compareTable(ctx context.Context, a, b *dataverse.Client, table string, w *csv.Writer, workDir string, rep *EnvironmentsReport) (*TableResult, error) {
	def, _ := a.Schema().Table(table)
	sp, err := openSpill(ctx, workDir)
	if err != nil {
		return nil, err
	}
	defer sp.close()
	tr := &TableResult{Table: table, FieldDifferences: map[string]int64{}}
	for i, c := range []*dataverse.Client{a, b} {
		in := sp.inserter(ctx, `INSERT INTO `+[]string{"o", "d"}[i]+`h (k, seq, src, num, idk, ek, vals, team, status, priority, channel, customer, month, state, created, closed)
			VALUES (?, ?, ?, '', ?, '', ?, '', '', '', '', '', '', '', 0, 0)`)
		var seq int64
		for r, err := range envRecords(ctx, c, table, def.PrimaryID) {
			if err != nil {
				in.abort()
				return nil, err
			}
			js, _ := json.Marshal(r.vals)
			seq++
			if err := in.add(r.key, seq, r.key, r.key, string(js)); err != nil {
				in.abort()
				return nil, err
			}
			if i == 0 {
				tr.A++
			} else {
				tr.B++
			}
		}
		if err := in.flush(); err != nil {
			return nil, err
		}
		t := []string{"o", "d"}[i]
		if _, err := sp.db.ExecContext(ctx, `INSERT INTO `+t+` SELECT * FROM `+t+`h ORDER BY k, seq`); err != nil {
			return nil, err
		}
	}
	e := &engine{sp: sp}
	ac, err := e.open(ctx, source{table: "o"})
	if err != nil {
		return nil, err
	}
	defer ac.rows.Close()
	bc, err := e.open(ctx, source{table: "d"})
	if err != nil {
		return nil, err
	}
	defer bc.rows.Close()
	emit := func(id, col, class, av, bv string) {
		w.Write([]string{table, id, col, class, av, bv})
		if len(rep.Samples) < 25 {
			rep.Samples = append(rep.Samples, EnvDifference{Table: table, ID: id, Column: col, Class: class, A: av, B: bv})
		}
	}
	for ac.ok || bc.ok {
		switch {
		case !bc.ok || (ac.ok && ac.cur.k < bc.cur.k):
			tr.OnlyInA++
			emit(ac.cur.k, "", "only_in_a", "", "")
			ac.next()
		case !ac.ok || ac.cur.k > bc.cur.k:
			tr.OnlyInB++
			emit(bc.cur.k, "", "only_in_b", "", "")
			bc.next()
		default:
			tr.Matched++
			var av, bv map[string]string
			if err := json.Unmarshal([]byte(ac.cur.vals), &av); err != nil {
				return nil, err
			}
			if err := json.Unmarshal([]byte(bc.cur.vals), &bv); err != nil {
				return nil, err
			}
			cols := map[string]bool{}
			for k := range av {
				cols[k] = true
			}
			for k := range bv {
				cols[k] = true
			}
			var names []string
			for k := range cols {
				names = append(names, k)
			}
			sort.Strings(names)
			differs := false
			for _, col := range names {
				x, y := av[col], bv[col]
				class := ""
				switch {
				case x == y:
					continue
				case x == "":
					class = "empty_in_a"
				case y == "":
					class = "empty_in_b"
				default:
					class = "differs"
				}
				differs = true
				tr.FieldDifferences[col]++
				emit(ac.cur.k, col, class, x, y)
			}
			if differs {
				tr.Differing++
			}
			ac.next()
			bc.next()
		}
	}
	return tr, firstErr(ac.err, bc.err)
}
