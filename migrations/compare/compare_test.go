package compare

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dvsync/dvsync/mapping/canonical"
)

func testModel(t testing.TB) *canonical.Model {
	t.Helper()
	md, err := canonical.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return md
}

var base = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// synthetic is the i-th ticket as both systems would hold it after a clean
// migration.
func synthetic(i int) canonical.Ticket {
	created := base.Add(time.Duration(i)*6*time.Hour + time.Duration(i%60)*time.Minute)
	t := canonical.Ticket{SourceID: fmt.Sprint(i), Number: fmt.Sprintf("T%07d", i), Title: fmt.Sprintf("Ticket %d", i),
		Description: "Line one\nline two", CustomerEmail: fmt.Sprintf("c%d@example.com", i%997), Customer: customers[(i*i)%len(customers)],
		Team: []string{"Customer Care", "VIP Support", "Field Service"}[i%3], State: "active", StatusCode: 1,
		PriorityCode: 1 + i%3, ChannelCode: []int{1, 2, 3}[i%3], Created: created}
	if i%4 != 3 {
		t.State, t.StatusCode, t.Closed = "resolved", 5, created.Add(time.Duration(1+i%97)*time.Hour)
	}
	return t
}

var customers = []string{"Alderbrook Logistics", "Harbor Lane Dental", "Northwind Traders", "Contoso Pharmaceuticals", "Fabrikam Residences",
	"Tailspin Toys", "Wide World Importers", "Adatum Corporation", "Litware Inc.", "Proseware", "Woodgrove Bank", "Coho Winery", "Lamna Healthcare"}

func dvOf(t canonical.Ticket, i int) canonical.Ticket {
	t.SourceID = fmt.Sprintf("00000000-0000-0000-0000-%012d", i)
	return t
}

// seq yields n tickets in a shuffled order (readers need not give key
// order), with edits applied.
func seq(n int, seed uint64, make func(i int) (canonical.Ticket, bool)) Source {
	return func(yield func(canonical.Ticket, error) bool) {
		r := rand.New(rand.NewPCG(seed, 1))
		perm := r.Perm(n)
		for _, i := range perm {
			t, ok := make(i)
			if ok && !yield(t, nil) {
				return
			}
		}
	}
}

func TestMergeJoinFindsExactlyThePlanted(t *testing.T) {
	md := testModel(t)
	odoo := seq(200, 1, func(i int) (canonical.Ticket, bool) { return synthetic(i), true })
	dv := seq(203, 2, func(i int) (canonical.Ticket, bool) {
		tk := dvOf(synthetic(i), i)
		switch i {
		case 3:
			tk.Title = "Changed title"
		case 4:
			tk.CustomerEmail = ""
		case 5:
			tk.StatusCode, tk.State = 2, "active"
		case 6:
			tk.Number = "renumbered" // still matched by e-mail and creation time
		case 200, 201, 202:
			tk.Number, tk.CustomerEmail = fmt.Sprint("EXTRA-", i), fmt.Sprintf("x%d@example.com", i)
		}
		return tk, i != 10
	})
	var dcsv, ucsv, djson bytes.Buffer
	res, err := Run(context.Background(), odoo, dv, Options{Model: md, DifferencesCSV: &dcsv, DifferencesJSONL: &djson, UnmatchedCSV: &ucsv, Now: base.AddDate(1, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Matched != 199 || res.OnlyInOdoo != 1 || res.OnlyInDataverse != 3 || res.Differing != 3 {
		t.Fatalf("matched %d, only odoo %d, only dv %d, differing %d", res.Matched, res.OnlyInOdoo, res.OnlyInDataverse, res.Differing)
	}
	if res.MatchedBy[PassEmail] != 1 || res.MatchedBy[PassNumber] != 198 {
		t.Errorf("matched by: %v", res.MatchedBy)
	}
	want := map[string]int64{"title": 1, "customer_email": 1, "status": 1, "state": 1, "closed": 1}
	for f, n := range res.FieldDifferences {
		if want[f] != n {
			t.Errorf("field %s: %d differences, want %d", f, n, want[f])
		}
	}
	if c := res.FieldClasses["customer_email"][canonical.EmptyInDataverse]; c != 1 {
		t.Errorf("customer_email empty in dataverse: %d", c)
	}
	if c := res.FieldClasses["channel"][canonical.Equal]; c != 199 {
		t.Errorf("channel equal: %d", c)
	}
	rows, err := csv.NewReader(&dcsv).ReadAll()
	if err != nil || len(rows) != 6 {
		t.Fatalf("differences.csv: %d rows, %v", len(rows), err)
	}
	if got := strings.Count(djson.String(), "\n"); got != 5 {
		t.Errorf("differences.jsonl: %d lines", got)
	}
	if !strings.Contains(ucsv.String(), "odoo,10,T0000010") || strings.Count(ucsv.String(), "dataverse,") != 3 {
		t.Errorf("unmatched.csv:\n%s", ucsv.String())
	}
	ops := res.Operations
	if f := ops.Figure("team"); f == nil || len(f.Rows) != 3 || *f.Rows[0].Odoo+*f.Rows[1].Odoo+*f.Rows[2].Odoo != 200 {
		t.Errorf("team figure: %+v", f)
	}
	if f := ops.Figure("durations"); f == nil || f.Rows[2].Odoo == nil || *f.Rows[2].Odoo != 150 {
		t.Errorf("durations: %+v", f)
	}
}

func TestIDMapPassComesFirst(t *testing.T) {
	md := testModel(t)
	odoo := seq(20, 1, func(i int) (canonical.Ticket, bool) { return synthetic(i), true })
	dv := seq(20, 2, func(i int) (canonical.Ticket, bool) {
		tk := dvOf(synthetic(i), i)
		tk.Number = "renumbered-" + fmt.Sprint(i)
		return tk, true
	})
	idmap := func(_ context.Context, id string) (string, error) {
		var i int
		fmt.Sscan(id, &i)
		if i == 7 {
			return "", nil // not in the ID map: matched by e-mail and time
		}
		return strings.ToUpper(dvOf(canonical.Ticket{}, i).SourceID), nil
	}
	res, err := Run(context.Background(), odoo, dv, Options{Model: md, IDMap: idmap})
	if err != nil {
		t.Fatal(err)
	}
	if res.MatchedBy[PassIDMap] != 19 || res.MatchedBy[PassEmail] != 1 || !res.Clean() {
		t.Errorf("matched by %v, clean %v", res.MatchedBy, res.Clean())
	}
}

// TestReportFiles renders every report file from a synthetic comparison
// with planted differences and checks they name them.
func TestReportFiles(t *testing.T) {
	dir := t.TempDir()
	rep := renderSample(t, dir)
	for _, name := range []string{FileHTML, FileMarkdown, FileJSON, FileOperationsCSV, FileDifferencesCSV, FileDifferencesJSONL, FileUnmatchedCSV, FileUnmatchedJSONL} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || len(b) == 0 {
			t.Errorf("%s: %v (%d bytes)", name, err, len(b))
		}
	}
	html, _ := os.ReadFile(filepath.Join(dir, FileHTML))
	for _, want := range []string{"<svg", "Changed title &lt;script&gt;", "computed from streamed records", "Only in Odoo", "Alderbrook"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("HTML report lacks %q", want)
		}
	}
	if strings.Contains(string(html), "<script") {
		t.Error("record values reach the HTML report unescaped")
	}
	if strings.Contains(string(html), "http://") && !strings.Contains(string(html), rep.Odoo) {
		t.Error("HTML report refers to an outside resource")
	}
	md, _ := os.ReadFile(filepath.Join(dir, FileMarkdown))
	if !strings.Contains(string(md), "| title | 598 |") || strings.Contains(string(md), "&#") {
		t.Errorf("Markdown report:\n%s", md)
	}
}

// renderSample writes the report of the planted-differences comparison
// into dir (the headless-browser test renders it too).
func renderSample(t testing.TB, dir string) *Report {
	t.Helper()
	md := testModel(t)
	odoo := seq(600, 1, func(i int) (canonical.Ticket, bool) { return synthetic(i), true })
	dv := seq(603, 2, func(i int) (canonical.Ticket, bool) {
		tk := dvOf(synthetic(i), i)
		switch {
		case i == 3:
			tk.Title = "Changed title <script>alert(1)</script>"
		case i == 5:
			tk.StatusCode, tk.State = 2, "active"
		case i >= 600:
			tk.Number, tk.CustomerEmail = fmt.Sprint("CAS-", i), ""
		}
		return tk, i != 10
	})
	ents := func(yield func(Entitlement, error) bool) {
		for _, e := range []Entitlement{
			{Name: "Alderbrook Logistics - Priority Care", Customer: "Alderbrook Logistics", Total: 100, Remaining: 12, End: base.AddDate(1, 0, 20), Active: true},
			{Name: "Harbor Lane - Standard", Customer: "Harbor Lane", Total: 50, Remaining: 40, End: base.AddDate(2, 0, 0), Active: true},
		} {
			if !yield(e, nil) {
				return
			}
		}
	}
	slas := func(policy string, met, breached int) func(func(SLAOutcome, error) bool) {
		return func(yield func(SLAOutcome, error) bool) {
			for i := 0; i < met+breached; i++ {
				st := SLAMet
				if i >= met {
					st = SLABreached
				}
				if !yield(SLAOutcome{Policy: policy, Status: st}, nil) {
					return
				}
			}
		}
	}
	rep, err := RunToDir(context.Background(), odoo, dv, Options{Model: md, Entitlements: ents, OdooSLA: slas("2 days to start", 40, 10),
		DataverseSLA: slas("2 days to start", 40, 10), Now: base.AddDate(1, 0, 0)}, dir,
		Report{Odoo: "http://127.0.0.1:8069 (db helpdesk)", Dataverse: "http://127.0.0.1:5555/api/data/v9.2/", MapFile: "built-in", Generated: base.AddDate(1, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestSummariseEntitlements(t *testing.T) {
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	list := []Entitlement{
		{Name: "A gold", Customer: "A", Total: 100, Remaining: 20, End: now.AddDate(0, 6, 0), Active: true},  // 20%: near depletion
		{Name: "A silver", Customer: "A", Total: 10, Remaining: 9, End: now.AddDate(0, 0, 30), Active: true}, // expires in 30 days
		{Name: "B", Customer: "B", Total: 50, Remaining: 30, End: now.AddDate(0, 0, 31), Active: true},       // neither
		{Name: "C old", Customer: "C", Total: 10, Remaining: 0, End: now.AddDate(0, 0, -1), Active: false},   // not active: ignored
	}
	s, err := SummariseEntitlements(func(yield func(Entitlement, error) bool) {
		for _, e := range list {
			if !yield(e, nil) {
				return
			}
		}
	}, now, MethodStreamed)
	if err != nil {
		t.Fatal(err)
	}
	if s.Active != 3 || s.Customers != 2 || len(s.NearDepletion) != 1 || s.NearDepletion[0].Name != "A gold" ||
		len(s.Expiring) != 1 || s.Expiring[0].Name != "A silver" || s.AverageUsePerCustomer != (81+20)/2.0 {
		t.Errorf("%+v", s)
	}
}

func TestValsRoundTrip(t *testing.T) {
	for _, v := range [][]string{{}, {""}, {"a", "", "5:x", "ünïcode\n\x00", strings.Repeat("z", 300)}} {
		got, err := decodeVals(encodeVals(v))
		if err != nil || len(got) != len(v) {
			t.Fatalf("%q: %q, %v", v, got, err)
		}
		for i := range v {
			if got[i] != v[i] {
				t.Errorf("%q: value %d is %q", v, i, got[i])
			}
		}
	}
	if _, err := decodeVals("9:short"); err == nil {
		t.Error("a cut value decoded")
	}
}

// TestReaderFailureStopsTheRun: a side that fails mid-stream fails the
// comparison with an error naming it, while the other side is still
// streaming (both are read at once).
func TestReaderFailureStopsTheRun(t *testing.T) {
	md := testModel(t)
	boom := errors.New("connection reset")
	for _, failOdoo := range []bool{true, false} {
		good := seq(5000, 1, func(i int) (canonical.Ticket, bool) { return synthetic(i), true })
		bad := func(yield func(canonical.Ticket, error) bool) {
			for i := 0; i < 10; i++ {
				if !yield(synthetic(i), nil) {
					return
				}
			}
			yield(canonical.Ticket{}, boom)
		}
		odoo, dv := Source(good), Source(bad)
		want := "reading Dataverse cases"
		if failOdoo {
			odoo, dv, want = bad, good, "reading Odoo tickets"
		}
		_, err := Run(context.Background(), odoo, dv, Options{Model: md})
		if !errors.Is(err, boom) || !strings.Contains(err.Error(), want) {
			t.Errorf("failOdoo %v: %v", failOdoo, err)
		}
	}
}
