package sink_test

import (
	"testing"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/sink"
	"github.com/dvsync/dvsync/migrations"
)

// A link is part of what the sink plans and verifies: a record whose
// columns hold but whose link is gone would be updated, and Compare
// reports the missing link until a write makes it again.
func TestLinksPlannedAndCompared(t *testing.T) {
	c := refServer(t, "off", nil)
	s := sink.New(c, nil)
	ctx := t.Context()
	uid, _, err := c.WhoAmI(ctx)
	if err != nil {
		t.Fatal(err)
	}
	team := migrations.TargetRecord{Table: "team", Key: migrations.Key{ID: migrations.DeterministicID("links", "team", "1")},
		Fields: map[string]any{"name": "Linked team"},
		Links:  []migrations.Link{{Relationship: "teammembership_association", Table: "systemuser", Key: migrations.Key{ID: uid}}}}
	batch := []migrations.TargetRecord{team}
	outcome := func(what string, f func() ([]migrations.WriteResult, error), want migrations.Outcome) {
		t.Helper()
		res, err := f()
		if err != nil || len(res) != 1 || res[0].Outcome != want {
			t.Fatalf("%s: %+v, %v; want %s", what, res, err, want)
		}
	}
	// An upsert's 204 does not say created or updated.
	outcome("first write", func() ([]migrations.WriteResult, error) { return s.Write(ctx, batch) }, migrations.Written)
	outcome("plan of the written team", func() ([]migrations.WriteResult, error) { return s.Plan(ctx, batch) }, migrations.Unchanged)
	compare := func() []migrations.FieldDiff {
		t.Helper()
		rows, err := s.Lookup(ctx, "team", team.Key)
		if err != nil || len(rows) != 1 {
			t.Fatalf("lookup: %d rows, %v", len(rows), err)
		}
		return s.Compare(ctx, team, rows[0])
	}
	if d := compare(); len(d) != 0 {
		t.Errorf("compare of the written team: %+v", d)
	}

	id := uuid.MustParse(team.Key.ID)
	if err := c.Disassociate(ctx, "team", dataverse.ByID(id), "teammembership_association", dataverse.ByID(uuid.MustParse(uid))); err != nil {
		t.Fatal(err)
	}
	outcome("plan once the link is gone", func() ([]migrations.WriteResult, error) { return s.Plan(ctx, batch) }, migrations.Updated)
	if d := compare(); len(d) != 1 || d[0].Field != "teammembership_association" || d[0].Actual != "not linked" {
		t.Errorf("compare once the link is gone: %+v", d)
	}
	outcome("write once the link is gone", func() ([]migrations.WriteResult, error) { return s.Write(ctx, batch) }, migrations.Updated)
	if d := compare(); len(d) != 0 {
		t.Errorf("compare after the write: %+v", d)
	}
}
