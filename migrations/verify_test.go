package migrations_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/migrationstest"
)

// duplicating reports two records for one key, as a target without a
// unique key would after a non-idempotent re-run.
type duplicating struct {
	migrations.TargetReader
	table string
	key   migrations.Key
}

func (d duplicating) Lookup(ctx context.Context, table string, key migrations.Key) ([]map[string]any, error) {
	rows, err := d.TargetReader.Lookup(ctx, table, key)
	if table == d.table && key.String() == d.key.String() && len(rows) == 1 {
		rows = append(rows, rows[0])
	}
	return rows, err
}

func TestVerify(t *testing.T) {
	st := openStore(t)
	h := newHelpdeskJob(60, 500)
	if _, err := migrations.Run(t.Context(), h.job, migrations.RunOptions{Store: st, BatchSize: 16}); err != nil {
		t.Fatal(err)
	}
	wantCust, wantTick := h.expect(60, 500)

	rep, err := migrations.Verify(t.Context(), h.job, migrations.VerifyOptions{Target: h.target, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Mismatches() != 0 {
		t.Fatalf("clean run does not verify: %+v", rep.Steps)
	}
	tick := rep.Steps[1]
	// Rejected counts source records, by the mapping or by the target
	// alike, so the step adds up: read = expected + skipped + rejected.
	if tick.Step != "tickets" || tick.SourceRead != 500 || tick.Checked != tick.Expected ||
		tick.Rejected != wantTick.Rejected || tick.Expected+tick.Rejected != 500 || tick.Matched != tick.Checked ||
		tick.Tables["incident"].Found != wantTick.Created || tick.Tables["incident"].Rejected == 0 {
		t.Errorf("tickets report %+v incident %+v", tick, tick.Tables["incident"])
	}
	for _, s := range rep.Steps {
		if err := s.Reconcile(); err != nil {
			t.Error(err)
		}
	}
	if rep.Rejected != wantCust.Rejected+wantTick.Rejected {
		t.Errorf("report rejected %d, want %d", rep.Rejected, wantCust.Rejected+wantTick.Rejected)
	}
	if c := rep.Steps[0]; c.Skipped != wantCust.Skipped || c.Rejected != wantCust.Rejected {
		t.Errorf("customers report %+v", c)
	}

	// Break the target: one missing, one differing, one duplicated.
	key := func(n string) migrations.Key {
		return migrations.Key{Alternate: map[string]any{"ticketnumber": "T-" + n}}
	}
	h.target.Delete("incident", key("7"))
	row, _ := h.target.Get("incident", key("8"))
	row.Fields["title"] = "<script>alert(1)</script>"
	h.target.Put(migrations.TargetRecord{Table: "incident", Key: row.Key, Fields: row.Fields})
	reader := duplicating{h.target, "incident", key("11")}

	rep, err = migrations.Verify(t.Context(), h.job, migrations.VerifyOptions{Target: reader, Store: st, Steps: []string{"tickets"}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK || len(rep.Steps) != 1 {
		t.Fatalf("broken target verifies: %+v", rep)
	}
	inc := rep.Steps[0].Tables["incident"]
	if inc.Missing != 1 || inc.Differing != 1 || inc.Duplicated != 1 || rep.Mismatches() != 3 {
		t.Errorf("incident report %+v", inc)
	}
	kinds := map[string]migrations.Mismatch{}
	for _, m := range rep.Steps[0].Mismatches {
		kinds[m.Kind] = m
	}
	if m := kinds[migrations.MismatchMissing]; m.SourceID != "7" {
		t.Errorf("missing %+v", m)
	}
	if m := kinds[migrations.MismatchDiffering]; m.SourceID != "8" || len(m.Fields) != 1 || m.Fields[0].Field != "title" || m.Fields[0].Expected != "Ticket 8" {
		t.Errorf("differing %+v", m)
	}
	if m := kinds[migrations.MismatchDuplicated]; m.SourceID != "11" || m.Found != 2 {
		t.Errorf("duplicated %+v", m)
	}

	// Reports.
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back migrations.Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.OK || back.Mismatches() != 3 {
		t.Errorf("JSON round trip lost mismatches: %s", js.String())
	}
	var page bytes.Buffer
	if err := rep.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	html := page.String()
	ts := rep.Steps[0]
	summaryRow := fmt.Sprintf(`<tr><td>tickets</td><td class="n">500</td><td class="n">%d</td><td class="n">0</td><td class="n">%d</td><td class="n">0</td><td class="n">%d</td><td class="n">%d</td><td class="n">3</td></tr>`,
		ts.Expected, wantTick.Rejected, ts.Checked, ts.Checked-3)
	if !strings.Contains(html, summaryRow) {
		t.Errorf("HTML report lacks the summary row %s", summaryRow)
	}
	for _, want := range []string{"3 mismatches", "<td>incident</td>", "duplicated", "&lt;script&gt;alert(1)&lt;/script&gt;", "T-7"} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML report lacks %q", want)
		}
	}
	if strings.Contains(html, "<script>") || strings.Contains(html, "http") && strings.Contains(html, "src=") {
		t.Error("HTML report is not self-contained and inert")
	}
}

func TestVerifySample(t *testing.T) {
	st := openStore(t)
	h := newHelpdeskJob(20, 400)
	if _, err := migrations.Run(t.Context(), h.job, migrations.RunOptions{Store: st}); err != nil {
		t.Fatal(err)
	}
	checkedIDs := func(seed uint64) []string {
		rec := &recordingReader{TargetReader: h.target}
		rep, err := migrations.Verify(t.Context(), h.job, migrations.VerifyOptions{Target: rec, Store: st, Sample: 25, Seed: seed, Steps: []string{"tickets"}, Concurrency: 1})
		if err != nil {
			t.Fatal(err)
		}
		s := rep.Steps[0]
		if !s.Sampled || s.Checked != 25 || s.SourceRead != 400 || !rep.OK {
			t.Errorf("sampled report %+v", s)
		}
		return rec.keys
	}
	a, b, c := checkedIDs(1), checkedIDs(1), checkedIDs(2)
	if strings.Join(a, ",") != strings.Join(b, ",") {
		t.Error("same seed checked different records")
	}
	if strings.Join(a, ",") == strings.Join(c, ",") {
		t.Error("different seeds checked the same records")
	}
	// The sample spreads over the whole source, not its first records.
	var late bool
	for _, k := range a {
		if n, err := strconv.Atoi(strings.TrimPrefix(k, "ticketnumber=T-")); err == nil && n > 200 {
			late = true
		}
	}
	if !late {
		t.Errorf("sample %v has no record from the second half", a)
	}
}

type recordingReader struct {
	migrations.TargetReader
	keys []string
}

func (r *recordingReader) Lookup(ctx context.Context, table string, key migrations.Key) ([]map[string]any, error) {
	r.keys = append(r.keys, key.String())
	return r.TargetReader.Lookup(ctx, table, key)
}

// An incomplete run leaves records unaccounted for: verify must say so.
func TestVerifyIncompleteRun(t *testing.T) {
	st := openStore(t)
	h := newHelpdeskJob(20, 100)
	if _, err := migrations.Run(t.Context(), h.job, migrations.RunOptions{Store: st, Steps: []string{"customers"}}); err != nil {
		t.Fatal(err)
	}
	rep, err := migrations.Verify(t.Context(), h.job, migrations.VerifyOptions{Target: h.target, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK || rep.Steps[1].Tables["incident"].Missing == 0 {
		t.Errorf("verify of a run that skipped tickets is OK: %+v", rep.Steps[1])
	}
}

func TestSameValueForVerify(t *testing.T) {
	ts := time.Date(2024, 3, 1, 12, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		a, b any
		want bool
	}{
		{json.Number("1.50"), 1.5, true},
		{json.Number("3"), 3, true},
		{int64(3), 3.0, true},
		{0.1, json.Number("0.1"), true},
		{json.Number("12345678901234567890"), json.Number("12345678901234567891"), false},
		{ts, "2024-03-01T12:30:00Z", true},
		{"2024-03-01T13:30:00+01:00", ts, true},
		{ts, "2024-03-01T12:30:01Z", false},
		{nil, nil, true},
		{"", nil, false},
		{"a", "b", false},
		{true, true, true},
		{map[string]any{"n": 1}, map[string]any{"n": json.Number("1")}, true},
	} {
		if got := dataverse.SameValue(tc.a, tc.b); got != tc.want {
			t.Errorf("SameValue(%#v, %#v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
	diffs := migrations.DefaultCompare(migrations.TargetRecord{Fields: map[string]any{
		"title": "x", "n": 2, "gone": nil, "customerid_account@odata.bind": "/accounts(1)",
	}}, map[string]any{"title": "y", "n": json.Number("2")})
	if len(diffs) != 1 || diffs[0].Field != "title" {
		t.Errorf("DefaultCompare = %+v", diffs)
	}
}

var _ migrations.TargetReader = (*migrationstest.Target)(nil)
