package sink

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/migrations"
)

var (
	_ migrations.TargetIdentifier = (*Sink)(nil)
	_ migrations.TargetProber     = (*Sink)(nil)
)

// Identify implements migrations.TargetIdentifier: the organisation WhoAmI
// names and the environment's service root. The organisation ID is the
// environment's own identity, whatever URL reaches it (reference/whoami).
func (s *Sink) Identify(ctx context.Context) (migrations.TargetInfo, error) {
	_, org, err := s.c.WhoAmI(ctx)
	if err != nil {
		return migrations.TargetInfo{}, err
	}
	return migrations.TargetInfo{ID: strings.ToLower(org), URL: s.c.ServiceRoot()}, nil
}

// Holds implements migrations.TargetProber: one In query per table on the
// primary key, selecting only it, the tables side by side. A ref whose ID
// is no GUID cannot be read by ID and counts as held.
func (s *Sink) Holds(ctx context.Context, refs []migrations.Ref) ([]bool, error) {
	held := make([]bool, len(refs))
	byTable := map[string][]int{}
	for i, r := range refs {
		if _, err := uuid.Parse(r.ID); err != nil || r.Table == "" {
			held[i] = true
			continue
		}
		byTable[r.Table] = append(byTable[r.Table], i)
	}
	tables := slices.Sorted(maps.Keys(byTable))
	err := s.parallel(ctx, len(tables), func(ctx context.Context, k int) error {
		table := tables[k]
		idx := byTable[table]
		tbl, err := s.c.Table(ctx, table)
		if err != nil {
			return err
		}
		values := make([]any, len(idx))
		for j, i := range idx {
			values[j] = strings.ToLower(refs[i].ID)
		}
		found := map[string]bool{}
		q := dataverse.Query{Select: []string{tbl.PrimaryID}, Filter: dataverse.In(tbl.PrimaryID, values...)}
		for rec, err := range s.c.Records(ctx, table, q) {
			if err != nil {
				return err
			}
			found[strings.ToLower(rec.String(tbl.PrimaryID))] = true
		}
		for _, i := range idx {
			held[i] = found[strings.ToLower(refs[i].ID)]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return held, nil
}
