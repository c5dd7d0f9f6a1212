package migrations

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/dvsync/dvsync/migrations/reportstyle"
)

// Endpoint names one side of a migration for the readers of a report:
// the system, where it is and, for Odoo, the database. It never holds a
// credential: NewEndpoint drops any user information and query from URL.
type Endpoint struct {
	System   string `json:"system"`
	URL      string `json:"url,omitempty"`
	Database string `json:"database,omitempty"`
}

// NewEndpoint returns the Endpoint of system at rawURL, without the URL's
// user information, query and fragment (where a careless URL could carry
// a secret).
func NewEndpoint(system, rawURL, database string) Endpoint {
	e := Endpoint{System: system, Database: database}
	if u, err := url.Parse(rawURL); err == nil && u.Host != "" {
		u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
		e.URL = u.String()
	} else if rawURL != "" && !strings.ContainsAny(rawURL, "@?#") {
		e.URL = rawURL
	}
	return e
}

// Name is the endpoint in one line: "Odoo helpdesk https://acme.odoo.com
// (database acme)".
func (e Endpoint) Name() string {
	s := strings.TrimSpace(e.System + " " + e.URL)
	if e.Database != "" {
		s += " (database " + e.Database + ")"
	}
	return s
}

// Files name the JSON Lines files that list every record a report counts
// as rejected, skipped or warned about, as the user will find them.
type Files struct {
	Rejects  string `json:"rejects,omitempty"`
	Skips    string `json:"skips,omitempty"`
	Warnings string `json:"warnings,omitempty"`
}

// TotalRejected counts the source records of every step that runs
// recorded as rejected, as Report.Rejected carries them in JSON. A report
// with rejects is never shown as "OK", even without a mismatch.
func (r *Report) TotalRejected() int64 {
	var n int64
	for _, s := range r.Steps {
		n += s.Rejected
	}
	return n
}

// Totals adds up the steps: the job-level line of the report, which
// reconciles as each step does.
func (r *Report) Totals() StepReport {
	t := StepReport{Step: "total", Tables: map[string]*TableReport{}}
	for _, s := range r.Steps {
		t.SourceRead += s.SourceRead
		t.Expected += s.Expected
		t.Skipped += s.Skipped
		t.Rejected += s.Rejected
		t.Unrecorded += s.Unrecorded
		t.Checked += s.Checked
		t.Matched += s.Matched
		t.Mismatched += s.Mismatched
		t.Sampled = t.Sampled || s.Sampled
		for name, tr := range s.Tables {
			sum := t.Tables[name]
			if sum == nil {
				sum = &TableReport{}
				t.Tables[name] = sum
			}
			sum.Expected += tr.Expected
			sum.Checked += tr.Checked
			sum.Found += tr.Found
			sum.Missing += tr.Missing
			sum.Duplicated += tr.Duplicated
			sum.Differing += tr.Differing
			sum.Rejected += tr.Rejected
			sum.Unexpected += tr.Unexpected
			if tr.TargetCount != nil {
				n := *tr.TargetCount
				if sum.TargetCount != nil && *sum.TargetCount > n {
					n = *sum.TargetCount // one table counted by two steps
				}
				sum.TargetCount = &n
			}
		}
	}
	return t
}

// Reconcile returns an error unless the step's counts add up:
// SourceRead = Expected + Skipped + Rejected + Unrecorded, Checked =
// Matched + Mismatched, and per table Checked = Found + Missing.
func (s StepReport) Reconcile() error {
	if sum := s.Expected + s.Skipped + s.Rejected + s.Unrecorded; sum != s.SourceRead {
		return fmt.Errorf("verify: step %s does not reconcile: read %d != expected %d + skipped %d + rejected %d + unrecorded %d",
			s.Step, s.SourceRead, s.Expected, s.Skipped, s.Rejected, s.Unrecorded)
	}
	if s.Checked != s.Matched+s.Mismatched || s.Checked > s.Expected {
		return fmt.Errorf("verify: step %s: checked %d != matched %d + mismatched %d (expected %d)", s.Step, s.Checked, s.Matched, s.Mismatched, s.Expected)
	}
	for name, t := range s.Tables {
		if t.Checked != t.Found+t.Missing {
			return fmt.Errorf("verify: step %s table %s: checked %d != found %d + missing %d", s.Step, name, t.Checked, t.Found, t.Missing)
		}
	}
	return nil
}

// File names in a verify report folder.
const (
	VerifyHTML    = "verify.html"
	VerifyJSON    = "verify.json"
	VerifySkips   = "verify-skips.jsonl"
	VerifyRejects = "verify-rejects.jsonl"
)

// WriteFiles writes verify.html and verify.json into dir, each replaced
// atomically (written beside, then renamed), and returns their paths.
func (r *Report) WriteFiles(dir string) (htmlPath, jsonPath string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	htmlPath, jsonPath = filepath.Join(dir, VerifyHTML), filepath.Join(dir, VerifyJSON)
	if err := reportstyle.WriteFile(htmlPath, r.WriteHTML); err != nil {
		return "", "", err
	}
	if err := reportstyle.WriteFile(jsonPath, r.WriteJSON); err != nil {
		return "", "", err
	}
	return htmlPath, jsonPath, nil
}

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// WriteHTML writes r as one self-contained HTML page a consultant can hand
// to a customer: both systems named, the totals and a chart at the top,
// every mismatch (up to the cap), rejects and skips grouped by reason with
// examples, and what to do next. The page inlines its CSS and SVG, runs no
// script and fetches nothing, so it can be mailed or archived as is; all
// values are escaped by html/template.
func (r *Report) WriteHTML(w io.Writer) error {
	return verifyTemplate.Execute(w, newVerifyView(r))
}
