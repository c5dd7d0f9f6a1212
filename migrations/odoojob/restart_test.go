package odoojob

import (
	"context"
	"testing"

	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/mapping/odoodv"
	"github.com/dvsync/dvsync/odoo/odooserver"
)

// TestRestartOverFinishedMigrationRejectsNothing is `migrate odoo
// --restart` over a finished migration (issue 10: 34 of 300 cases were
// rejected with "400 (0x80043e09) This case has already been resolved or
// cancelled"). Every record is there and every case in its state, so the
// second run creates nothing and rejects nothing.
func TestRestartOverFinishedMigrationRejectsNothing(t *testing.T) {
	s := startServers(t, "../../testdata/odoo/seed", nil)
	cfg := Config{Odoo: s.odoo, Database: odooserver.Database, Dataverse: s.dv, Map: demoMap(t), Store: openStore(t, t.TempDir())}
	if _, _, err := Migrate(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Restart = true
	sum, _, err := Migrate(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range sum.Steps {
		if st.Counts.Rejected != 0 || st.Counts.Created != 0 {
			t.Errorf("restart %s: %+v, want no rejects and no creates", st.Step, st.Counts)
		}
	}
}

// TestConnectionResetsRejectNothing migrates the seed through dropped
// connections (applied, then the answer lost), the second half of the
// issue: a CloseIncident whose answer was lost was retried into "already
// resolved" and rejected. A run may stop when the service keeps failing;
// its resume finishes, and nothing is ever rejected.
func TestConnectionResetsRejectNothing(t *testing.T) {
	faults, err := refserver.ParseFaults("seed=9,reset=0.05")
	if err != nil {
		t.Fatal(err)
	}
	s := startServers(t, "../../testdata/odoo/seed", faults)
	store := openStore(t, t.TempDir())
	cfg := Config{Odoo: s.odoo, Database: odooserver.Database, Dataverse: s.dv, Map: demoMap(t), Store: store}
	var rejected int64
	for attempt := 1; ; attempt++ {
		sum, _, err := Migrate(context.Background(), cfg)
		if sum != nil {
			rejected += sum.Total().Rejected
		}
		if err == nil {
			break
		}
		if attempt == 5 {
			t.Fatalf("still failing after %d resumes: %v", attempt, err)
		}
	}
	if rejected != 0 {
		t.Errorf("%d records rejected under connection resets; want none", rejected)
	}
	for _, step := range []string{odoodv.StepCases, odoodv.StepNotes} {
		for r, err := range store.Rejects(context.Background(), JobName(odooserver.Database), step) {
			if err != nil {
				t.Fatal(err)
			}
			t.Errorf("recorded reject %s %s: %s", step, r.SourceID, r.Error)
		}
	}
}
