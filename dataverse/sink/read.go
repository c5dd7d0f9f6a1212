package sink

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/migrations"
)

// Lookup implements migrations.TargetReader: the records key addresses.
// A primary key addresses at most one; alternate-key values are looked up
// with a $filter rather than a key-addressed GET, so a table whose key
// Dataverse does not enforce shows its duplicates.
func (s *Sink) Lookup(ctx context.Context, table string, k migrations.Key) ([]map[string]any, error) {
	tbl, err := s.c.Table(ctx, table)
	if err != nil {
		return nil, err
	}
	if len(k.Alternate) == 0 {
		key, err := Key(k)
		if err != nil {
			return nil, err
		}
		rec, err := s.c.Get(ctx, table, key)
		if dataverse.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return []map[string]any{rec}, nil
	}
	var conds []dataverse.Filter
	if k.ID != "" {
		id, err := uuid.Parse(k.ID)
		if err != nil {
			return nil, fmt.Errorf("key ID %q is not a GUID", k.ID)
		}
		conds = append(conds, dataverse.Eq(tbl.PrimaryID, id))
	}
	for _, c := range slices.Sorted(maps.Keys(k.Alternate)) {
		conds = append(conds, dataverse.Eq(c, k.Alternate[c]))
	}
	var rows []map[string]any
	// Two rows are enough to tell "one" from "duplicated".
	for rec, err := range s.c.Records(ctx, table, dataverse.Query{Filter: dataverse.All(conds...), Top: 2}) {
		if err != nil {
			return nil, err
		}
		rows = append(rows, rec)
	}
	return rows, nil
}

// Count implements migrations.TableCounter: the table's records (paged
// through, since $count stops at 5,000) minus its baseline.
func (s *Sink) Count(ctx context.Context, table string) (int64, error) {
	n, err := s.CountAll(ctx, table)
	if err != nil {
		return 0, err
	}
	if s.o.Baseline != nil {
		base, ok, err := s.o.Baseline(ctx, table)
		if err != nil {
			return 0, err
		}
		if ok {
			n -= base
		}
	}
	return n, nil
}

// CountAll is the table's exact record count, without the baseline: one
// $count request when the table holds fewer rows than the count cap
// (5,000), otherwise the table's IDs paged through, since neither the
// capped count nor RetrieveTotalRecordCount's day-old snapshot is exact.
func (s *Sink) CountAll(ctx context.Context, table string) (int64, error) {
	tbl, err := s.c.Table(ctx, table)
	if err != nil {
		return 0, err
	}
	if rc, err := s.c.CountRows(ctx, table, dataverse.Filter{}); err != nil {
		return 0, err
	} else if rc.Exact {
		return rc.N, nil
	}
	var n int64
	for _, err := range s.c.Records(ctx, table, dataverse.Query{Select: []string{tbl.PrimaryID}, PageSize: dataverse.DefaultPageSize}) {
		if err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}

// Compare is the migrations.CompareFunc of records written by the sink:
// migrations.DefaultCompare of the columns, each "<nav>@odata.bind"
// against the lookup's value (_<column>_value) by ID (a bind by alternate
// key is resolved to the ID it names, with ctx), the state, and the N:N
// links (one read of the related records per relationship).
func (s *Sink) Compare(ctx context.Context, expected migrations.TargetRecord, actual map[string]any) []migrations.FieldDiff {
	diffs := migrations.DefaultCompare(expected, actual)
	if st := expected.State; st != nil {
		for _, c := range []struct {
			col  string
			want int
		}{{colState, st.Code}, {colStatus, st.Reason}} {
			if !dataverse.SameValue(c.want, actual[c.col]) {
				diffs = append(diffs, migrations.FieldDiff{Field: c.col, Expected: c.want, Actual: actual[c.col]})
			}
		}
	}
	tbl, ok := s.c.Schema().Table(expected.Table)
	if !ok {
		return diffs
	}
	for _, f := range slices.Sorted(maps.Keys(expected.Fields)) {
		nav, ok := strings.CutSuffix(f, "@odata.bind")
		if !ok {
			continue
		}
		ref, _ := expected.Fields[f].(string)
		col, _, ok := tbl.LookupByNavigation(nav)
		if !ok {
			diffs = append(diffs, migrations.FieldDiff{Field: f, Expected: ref, Actual: "no such navigation property"})
			continue
		}
		want, ok := s.bindID(ctx, ref)
		if !ok {
			continue // a reference that names no record: nothing to compare it with
		}
		got, _ := actual[col.ValueProperty()].(string)
		if !strings.EqualFold(got, want) {
			diffs = append(diffs, migrations.FieldDiff{Field: col.LogicalName, Expected: want, Actual: actual[col.ValueProperty()]})
		}
	}
	if len(expected.Links) > 0 {
		diffs = append(diffs, s.compareLinks(ctx, tbl, expected, actual)...)
	}
	return diffs
}

// bindID resolves a bind reference to the ID of the record it names.
func (s *Sink) bindID(ctx context.Context, ref string) (string, bool) {
	b, err := dataverse.ParseBind(ref)
	if err != nil {
		return "", false
	}
	if b.Key.ID != uuid.Nil {
		return b.Key.ID.String(), true
	}
	s.mu.Lock()
	id, ok := s.binds[ref]
	s.mu.Unlock()
	if ok {
		return id, id != ""
	}
	tbl, ok := s.c.Schema().TableBySet(b.EntitySet)
	if !ok {
		return "", false
	}
	// Batches compared at once often name the same record (a case's
	// owner): one read serves them all.
	v, err, _ := s.bindReads.Do(ref, func() (any, error) {
		rec, err := s.c.Get(ctx, tbl.LogicalName, b.Key, tbl.PrimaryID)
		if err != nil && !dataverse.IsNotFound(err) {
			return "", err // not cached: a passing failure may clear
		}
		id := rec.String(tbl.PrimaryID)
		s.mu.Lock()
		s.binds[ref] = id
		s.mu.Unlock()
		return id, nil
	})
	if err != nil {
		return "", false
	}
	id = v.(string)
	return id, id != ""
}
