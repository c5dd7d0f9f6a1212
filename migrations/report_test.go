package migrations_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/reportstyle"
)

// uncounted hides a source's Count, as a source that cannot count.
type uncounted struct{ migrations.Source }

func (u uncounted) Records(ctx context.Context, cursor string) iter.Seq2[migrations.SourceRecord, error] {
	return u.Source.Records(ctx, cursor)
}

// runHelpdesk runs newHelpdeskJob(60, 500) with skips and rejects files
// and verifies it, listing the verification's skips and rejects too.
func runHelpdesk(t *testing.T) (sum *migrations.Summary, rep *migrations.Report, skips, rejects, vskips, vrejects *bytes.Buffer) {
	t.Helper()
	st := openStore(t)
	h := newHelpdeskJob(60, 500)
	skips, rejects, vskips, vrejects = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	sum, err := migrations.Run(t.Context(), h.job, migrations.RunOptions{Store: st, BatchSize: 16, Skips: skips, Rejects: rejects})
	if err != nil {
		t.Fatal(err)
	}
	rep, err = migrations.Verify(t.Context(), h.job, migrations.VerifyOptions{Target: h.target, Store: st, Skips: vskips, Rejects: vrejects})
	if err != nil {
		t.Fatal(err)
	}
	return sum, rep, skips, rejects, vskips, vrejects
}

func jsonLines(t *testing.T, b *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%v: %s", err, sc.Bytes())
		}
		out = append(out, m)
	}
	return out
}

// Every skipped record is listed with its reason, as rejects are, and the
// summary groups the reasons with counts and examples (issue 11 item 4:
// "11 skipped" had no reason anywhere).
func TestSkipsAreListedAndGroupedByReason(t *testing.T) {
	sum, rep, skips, rejects, vskips, vrejects := runHelpdesk(t)
	wantCust, wantTick := newHelpdeskJob(60, 500).expect(60, 500)
	lines := jsonLines(t, skips)
	if int64(len(lines)) != wantCust.Skipped {
		t.Fatalf("%d skip lines, want %d", len(lines), wantCust.Skipped)
	}
	for _, l := range lines {
		if l["reason"] != "archived" || l["step"] != "customers" || l["sourceId"] == "" || l["source"] == nil {
			t.Errorf("skip line %v", l)
		}
	}
	cust := sum.Steps[0]
	if cust.Step != "customers" || len(cust.Skips) != 1 || cust.Skips[0].Reason != "archived" || cust.Skips[0].Count != wantCust.Skipped ||
		len(cust.Skips[0].Examples) != migrations.DefaultExamples || cust.Skips[0].Examples[0].SourceID != "10" {
		t.Errorf("customer skips %+v", cust.Skips)
	}
	// Rejects fall in groups by cause, whatever the record's own values.
	tick := sum.Steps[1]
	groups := map[string]int64{}
	var n int64
	for _, g := range tick.Rejects {
		groups[g.Reason] = g.Count
		n += g.Count
		if len(g.Examples) == 0 || g.Examples[0].Detail == "" {
			t.Errorf("group %q has no example with its error", g.Reason)
		}
	}
	if n != wantTick.Rejected || len(groups) != 2 || groups["customer … was not migrated"] == 0 || groups["incident ticketnumber=T-…: invalid subject"] != 12 {
		t.Errorf("ticket reject groups %v (sum %d, want %d)", groups, n, wantTick.Rejected)
	}
	if got := int64(len(jsonLines(t, rejects))); got != wantCust.Rejected+wantTick.Rejected {
		t.Errorf("%d reject lines", got)
	}
	// Verify groups and lists them the same way.
	if v := rep.Steps[0]; len(v.Skips) != 1 || v.Skips[0].Reason != cust.Skips[0].Reason || v.Skips[0].Count != cust.Skips[0].Count {
		t.Errorf("verify skips %+v", v.Skips)
	}
	if len(rep.Steps[1].Rejects) != 2 || int64(len(jsonLines(t, vskips))) != wantCust.Skipped || int64(len(jsonLines(t, vrejects))) != wantCust.Rejected+wantTick.Rejected {
		t.Errorf("verify rejects %+v; %d skip and %d reject lines", rep.Steps[1].Rejects, len(jsonLines(t, vskips)), len(jsonLines(t, vrejects)))
	}
	for _, l := range jsonLines(t, vrejects) {
		if l["error"] == "" || l["source"] == nil || l["runId"] == "" {
			t.Errorf("verify reject line %v", l)
		}
	}
}

func TestRejectPattern(t *testing.T) {
	for in, want := range map[string]string{
		"customer 12 was not migrated": "customer … was not migrated",
		"incident id=2f1b6c52-8f43-5b6e-9b1e-0c1d2e3f4a5b: dataverse: POST /api/data/v9.2/incidents: 400 Bad Request (0x80040217): incident With Id = 2f1b6c52-8f43-5b6e-9b1e-0c1d2e3f4a5b Does Not Exist [request 0a1b2c3d-0000-1111-2222-333344445555]": "incident id=…: dataverse: POST /api/data/v9.2/incidents: 400 Bad Request (0x80040217): incident With Id = … Does Not Exist",
		"systemuser internalemailaddress=ann@acme.example: no Dataverse user has this address": "systemuser internalemailaddress=…: no Dataverse user has this address",
		`priority "7" is not mapped (priorities)`:                                              `priority "…" is not mapped (priorities)`,
	} {
		if got := migrations.RejectPattern(in); got != want {
			t.Errorf("RejectPattern(%q)\n = %q\nwant %q", in, got, want)
		}
	}
}

func TestNewEndpointDropsSecrets(t *testing.T) {
	e := migrations.NewEndpoint("Odoo helpdesk", "https://bot:s3cret@acme.odoo.com/odoo?token=abc#x", "acme")
	if e.URL != "https://acme.odoo.com/odoo" || strings.Contains(e.Name(), "s3cret") || e.Name() != "Odoo helpdesk https://acme.odoo.com/odoo (database acme)" {
		t.Errorf("endpoint %+v, name %q", e, e.Name())
	}
}

// keyStyle walks JSON and reports keys that are not camelCase and numbers
// of -1 (unknown written as a number), outside record data.
func keyStyle(t *testing.T, what string, v any, parent string) {
	t.Helper()
	camel := regexp.MustCompile(`^[a-z][A-Za-z0-9]*$`)
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			switch parent {
			case "source", "fields", "alternate", "expected", "actual", "recordsPerSecond":
				continue // record data and step names, not the report's own keys
			case "tables":
			default:
				if !camel.MatchString(k) {
					t.Errorf("%s: key %q is not camelCase", what, k)
				}
			}
			keyStyle(t, what, c, k)
		}
	case []any:
		for _, c := range x {
			keyStyle(t, what, c, parent)
		}
	case float64:
		if x == -1 {
			t.Errorf("%s: %s is -1", what, parent)
		}
	}
}

// JSON uses camelCase and never -1 for unknown (issue 11 item 10).
func TestReportJSONStyle(t *testing.T) {
	st := openStore(t)
	h := newHelpdeskJob(20, 100)
	h.job.Steps[1].Source = uncounted{h.job.Steps[1].Source} // customers cannot count
	sum, err := migrations.Run(t.Context(), h.job, migrations.RunOptions{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := sum.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var v any
	json.Unmarshal(b.Bytes(), &v)
	keyStyle(t, "summary", v, "")
	if strings.Contains(b.String(), `"total": -1`) || !strings.Contains(b.String(), `"total": 100`) {
		t.Errorf("totals: %s", b.String())
	}
	rep, err := migrations.Verify(t.Context(), h.job, migrations.VerifyOptions{Target: h.target, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	rep.Source = migrations.NewEndpoint("Odoo helpdesk", "http://127.0.0.1:8069/", "dvsync")
	b.Reset()
	rep.WriteJSON(&b)
	v = nil
	json.Unmarshal(b.Bytes(), &v)
	keyStyle(t, "verify report", v, "")
}

// Counts reconcile at every level, step, table and job, in JSON and in the
// HTML of both reports (issue 11 item 4).
func TestCountsReconcileAtEveryLevel(t *testing.T) {
	sum, rep, _, _, _, _ := runHelpdesk(t)
	total := sum.Total()
	if err := total.Reconcile("job"); err != nil {
		t.Error(err)
	}
	for _, s := range sum.Steps {
		if err := s.Counts.Reconcile(s.Step); err != nil {
			t.Error(err)
		}
		var skips, rejects int64
		for _, g := range s.Skips {
			skips += g.Count
		}
		for _, g := range s.Rejects {
			rejects += g.Count
		}
		if skips != s.Counts.Skipped || rejects != s.Counts.Rejected {
			t.Errorf("%s: groups count %d skipped and %d rejected, counts %+v", s.Step, skips, rejects, s.Counts)
		}
		for name, tc := range s.Tables {
			if tc.Created+tc.Updated+tc.Written+tc.Unchanged+tc.Rejected != tc.Records {
				t.Errorf("%s %s: %+v does not add up", s.Step, name, tc)
			}
		}
	}
	vt := rep.Totals()
	if err := vt.Reconcile(); err != nil {
		t.Error(err)
	}
	if vt.SourceRead != total.Read || vt.Skipped != total.Skipped || vt.Rejected != total.Rejected || vt.Rejected != rep.Rejected {
		t.Errorf("verify totals %+v against the run's %+v", vt, total)
	}

	// The HTML total rows carry the same figures.
	var page bytes.Buffer
	if err := (&migrations.RunReport{Summary: sum}).WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	c := reportstyle.Count
	row := fmt.Sprintf(`<tr class="total"><td>Total</td><td>succeeded</td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td>`,
		c(total.Read), c(total.Created), c(total.Updated), c(total.Written), c(total.Unchanged), c(total.Skipped), c(total.Rejected))
	if !strings.Contains(page.String(), row) {
		t.Errorf("run report lacks the total row %s", row)
	}
	page.Reset()
	if err := rep.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	row = fmt.Sprintf(`<tr class="total"><td>Total</td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td><td class="n">%s</td><td class="n">0</td><td class="n">%s</td><td class="n">%s</td><td class="n">0</td></tr>`,
		c(vt.SourceRead), c(vt.Expected), c(vt.Skipped), c(vt.Rejected), c(vt.Checked), c(vt.Matched))
	if !strings.Contains(page.String(), row) {
		t.Errorf("verify report lacks the total row %s", row)
	}
}

// The reports name both systems, put the totals, a chart and the verdict
// first, group rejects and skips with examples and a pointer to the full
// lists, and say what to do next; never "OK" beside rejects.
func TestReportsForTheCustomer(t *testing.T) {
	sum, rep, _, _, _, _ := runHelpdesk(t)
	src := migrations.NewEndpoint("Odoo helpdesk", "https://acme.odoo.com/", "acme")
	dst := migrations.NewEndpoint("Dynamics 365 (Dataverse)", "https://acme.crm4.dynamics.com/", "")
	files := migrations.Files{Rejects: "acme.rejects.jsonl", Skips: "acme.skips.jsonl", Warnings: "acme.warnings.jsonl"}
	rep.Source, rep.Target, rep.Files = src, dst, files
	// Markup in a reason is shown, never run.
	sum.Steps[0].Skips[0].Reason = "<script>alert(1)</script>"
	rep.Steps[0].Skips[0].Reason = "<script>alert(1)</script>"
	var run, ver bytes.Buffer
	if err := (&migrations.RunReport{Title: "Odoo helpdesk migration", Summary: sum, Source: src, Target: dst, Files: files}).WriteHTML(&run); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteHTML(&ver); err != nil {
		t.Fatal(err)
	}
	for name, page := range map[string]string{"run": run.String(), "verify": ver.String()} {
		for _, want := range []string{"https://acme.odoo.com/", "database acme", "https://acme.crm4.dynamics.com/", "<svg class=\"chart\"",
			`class="verdict warn"`, fmt.Sprintf("%d records were rejected", rep.Rejected), "What to do next", "acme.rejects.jsonl", "acme.skips.jsonl",
			"customer … was not migrated", "&lt;script&gt;alert(1)&lt;/script&gt;", `<span class="count">6</span><b>customers</b>`} {
			if !strings.Contains(page, want) {
				t.Errorf("%s report lacks %q", name, want)
			}
		}
		if strings.Contains(page, "<script") || strings.Contains(page, "OK: no mismatches") {
			t.Errorf("%s report runs a script or says OK beside rejects", name)
		}
		if m := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?[a-z]+:|url\(|@import`).FindString(page); m != "" {
			t.Errorf("%s report refers to an outside resource: %s", name, m)
		}
		if i, j := strings.Index(page, `id="verdict"`), strings.Index(page, `id="rejects"`); i < 0 || j < i {
			t.Errorf("%s report: the verdict does not come before the details", name)
		}
	}
}

// Report files get reportstyle.FileMode, as data files do.
func TestReportFilesMode(t *testing.T) {
	_, rep, _, _, _, _ := runHelpdesk(t)
	dir := t.TempDir()
	h, j, err := rep.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	data, err := reportstyle.OpenAppend(filepath.Join(dir, "x.rejects.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	data.Close()
	for _, p := range []string{h, j, data.Name()} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if want := reportstyle.FileMode &^ umask(t, dir); fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v (0644 less the umask)", filepath.Base(p), fi.Mode().Perm(), want)
		}
	}
}

// umask is what the process's umask takes from a new file's mode: a file
// created asking 0666 shows it.
func umask(t *testing.T, dir string) os.FileMode {
	f, err := os.OpenFile(filepath.Join(dir, "umask-probe"), os.O_CREATE|os.O_WRONLY, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	return 0o666 &^ fi.Mode().Perm()
}
