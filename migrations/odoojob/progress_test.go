package odoojob

import (
	"context"
	"strconv"
	"testing"

	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/odoo/odooserver"
)

// Every step's source counts what it reads, from the start and from a
// checkpoint (Odoo search_count with the reader's own domain), so the
// progress of migrate and verify has a total (issue 11 item 5: a spinner
// whose total was always "-").
func TestSourcesCountWhatTheyRead(t *testing.T) {
	s := startServers(t, smallSeed(t, 40), nil)
	p, err := Prepare(context.Background(), Config{Odoo: s.odoo, Database: odooserver.Database, Dataverse: s.dv, Map: demoMap(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, st := range p.Job.Steps {
		cs, ok := st.Source.(migrations.CountingSource)
		if !ok {
			t.Errorf("step %s: source cannot count", st.Name)
			continue
		}
		var ids []string
		for rec, err := range st.Source.Records(ctx, "") {
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, rec.Cursor)
		}
		n, err := cs.Count(ctx, "")
		if err != nil || n != int64(len(ids)) {
			t.Errorf("step %s: counted %d (%v), read %d", st.Name, n, err, len(ids))
		}
		if len(ids) < 2 {
			continue
		}
		mid := len(ids) / 2
		if n, err := cs.Count(ctx, ids[mid-1]); err != nil || n != int64(len(ids)-mid) {
			t.Errorf("step %s: counted %d after %s (%v), want %d", st.Name, n, ids[mid-1], err, len(ids)-mid)
		}
		if _, err := strconv.Atoi(ids[0]); err != nil {
			t.Errorf("step %s: cursor %q", st.Name, ids[0])
		}
	}
}

// Verify reports its progress with each step's total, and ends each step.
func TestVerifyProgressHasTotals(t *testing.T) {
	s := startServers(t, smallSeed(t, 30), nil)
	cfg := Config{Odoo: s.odoo, Database: odooserver.Database, Dataverse: s.dv, Map: demoMap(t), Store: openStore(t, t.TempDir())}
	if _, _, err := Migrate(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	last := map[string]migrations.StepProgress{}
	cfg.Progress = func(p migrations.StepProgress) { last[p.Step] = p }
	cfg.OdooURL, cfg.DataverseURL = s.odooURL, s.dvURL
	rep, err := Verify(t.Context(), cfg, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Source.URL == "" || rep.Source.Database != odooserver.Database || rep.Target.URL == "" {
		t.Errorf("report endpoints %+v %+v", rep.Source, rep.Target)
	}
	for _, sr := range rep.Steps {
		p := last[sr.Step]
		if p.Status != migrations.StatusSucceeded || p.Total != sr.SourceRead || p.Counts.Read != sr.SourceRead {
			t.Errorf("step %s: last progress %+v, read %d", sr.Step, p, sr.SourceRead)
		}
	}
}
