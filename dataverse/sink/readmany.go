package sink

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/schema"
	"github.com/dvsync/dvsync/migrations"
)

var _ migrations.BatchReader = (*Sink)(nil)

// Bounds of one read-back query. Dataverse refuses a GET whose URL is
// over 32,768 characters (query-data-web-api.md, "Maximum URL length");
// the values of one In filter stay well under it, however long the keys.
const (
	maxInValues = 100
	maxInChars  = 12000
)

// LookupBatch implements migrations.BatchReader: what Lookup returns for
// each key, read with one $filter=Microsoft.Dynamics.CRM.In(...) query
// per batch of keys instead of one request per record. Keys by primary
// key are read by ID; keys by one alternate-key column by that column,
// so a table whose key Dataverse does not enforce shows its duplicates;
// other keys (several alternate-key columns) fall back to Lookup.
//
// The N:N links of the records, through the relationships the sink has
// seen links of the table name, are read with them (expanded, then taken
// out of the rows), and the batch is remembered, so that comparing its
// records (Compare) reads no links, or reads another relationship's for
// the whole batch at once.
func (s *Sink) LookupBatch(ctx context.Context, table string, keys []migrations.Key) ([][]map[string]any, error) {
	tbl, err := s.c.Table(ctx, table)
	if err != nil {
		return nil, err
	}
	out, sets, linked, err := s.lookupBatch(ctx, tbl, keys)
	if err != nil {
		return nil, err
	}
	// The records read by one In filter (every one has its entry in sets,
	// its links read through linked); a record Lookup read is compared on
	// its own.
	s.remember(tbl, slices.Sorted(maps.Keys(sets)), sets, linked)
	return out, nil
}

// lookupBatch reads what LookupBatch returns, and the links of the
// records read by In filter (sets, by lower-case ID) through the
// relationships in linked: every relationship the sink knows for the
// table, unless they are more than one query may expand.
func (s *Sink) lookupBatch(ctx context.Context, tbl *schema.Table, keys []migrations.Key) (out [][]map[string]any, sets linkSets, linked []string, err error) {
	table := tbl.LogicalName
	rels := s.knownRels(table)
	if len(rels) <= maxExpands {
		linked = slices.Sorted(maps.Keys(rels))
	}
	sets = linkSets{}
	var full []string
	out = make([][]map[string]any, len(keys))
	byCol := map[string][]int{}
	for i, k := range keys {
		switch {
		case len(k.Alternate) == 0 && k.ID != "":
			if _, err := uuid.Parse(k.ID); err != nil {
				return nil, nil, nil, fmt.Errorf("key ID %q is not a GUID", k.ID)
			}
			byCol[tbl.PrimaryID] = append(byCol[tbl.PrimaryID], i)
		case len(k.Alternate) == 1:
			col := slices.Collect(maps.Keys(k.Alternate))[0]
			byCol[col] = append(byCol[col], i)
		default:
			rows, err := s.Lookup(ctx, table, k)
			if err != nil {
				return nil, nil, nil, err
			}
			out[i] = rows
		}
	}
	for _, col := range slices.Sorted(maps.Keys(byCol)) {
		value := func(i int) any {
			if col == tbl.PrimaryID && len(keys[i].Alternate) == 0 {
				return keys[i].ID
			}
			return keys[i].Alternate[col]
		}
		for _, chunk := range inChunks(byCol[col], func(i int) string { return fmt.Sprint(value(i)) }) {
			values := make([]any, 0, len(chunk))
			seen := map[string]bool{}
			for _, i := range chunk {
				if v := norm(value(i)); !seen[v] {
					seen[v] = true
					values = append(values, value(i))
				}
			}
			rows := map[string][]map[string]any{}
			q := dataverse.Query{Filter: dataverse.In(col, values...), Expand: expands(linked, rels)}
			for rec, err := range s.c.Records(ctx, table, q) {
				if err != nil {
					return nil, nil, nil, err
				}
				full = append(full, takeLinks(tbl, rec, linked, rels, sets)...)
				v := norm(rec[col])
				rows[v] = append(rows[v], rec)
			}
			for _, i := range chunk {
				for _, rec := range rows[norm(value(i))] {
					// A key with both an ID and alternate-key values
					// addresses the record that has both, as Lookup does.
					if id := keys[i].ID; id != "" && col != tbl.PrimaryID && !strings.EqualFold(dataverse.Record(rec).String(tbl.PrimaryID), id) {
						continue
					}
					out[i] = append(out[i], rec)
				}
			}
		}
	}
	if err := s.readFull(ctx, tbl, full, rels, sets); err != nil {
		return nil, nil, nil, err
	}
	delete(sets, "")
	return out, sets, linked, nil
}

// norm is the form values are matched in: Dataverse compares strings
// without regard to case, and a number comes back as JSON.
func norm(v any) string { return strings.ToLower(fmt.Sprint(v)) }

// inChunks cuts idx into the batches of one In query each: at most
// maxInValues values and maxInChars characters of them.
func inChunks(idx []int, text func(int) string) [][]int {
	var out [][]int
	var cur []int
	chars := 0
	for _, i := range idx {
		n := len(text(i)) + 4 // quotes and a comma, before URL encoding
		if len(cur) > 0 && (len(cur) == maxInValues || chars+n > maxInChars) {
			out = append(out, cur)
			cur, chars = nil, 0
		}
		cur = append(cur, i)
		chars += n
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}
