package migrations

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse"
)

// DataverseTarget writes target records to a Dataverse environment with the
// client's batched writer (bulk messages or $batch, adaptive batch size,
// retries, the environment's concurrency limits). Records are upserted by
// their key, so a batch written twice leaves one copy.
type DataverseTarget struct {
	Client *dataverse.Client
	// Batch configures the client's batched writes; Mode defaults to
	// upsert. Workers defaults to 1, because the engine already runs
	// RunOptions.Concurrency batches at once.
	Batch dataverse.BatchOptions
}

var (
	_ Target       = (*DataverseTarget)(nil)
	_ TargetReader = (*DataverseReader)(nil)
)

// Write implements Target. A batch's records are grouped by table and each
// table's group is written in turn, in the order the tables first appear,
// so a record may bind to a record of an earlier table of the same batch.
func (t *DataverseTarget) Write(ctx context.Context, batch []TargetRecord) ([]WriteResult, error) {
	out := make([]WriteResult, len(batch))
	var tables []string
	byTable := map[string][]int{}
	for i, r := range batch {
		if _, ok := byTable[r.Table]; !ok {
			tables = append(tables, r.Table)
		}
		byTable[r.Table] = append(byTable[r.Table], i)
	}
	o := t.Batch
	if o.Workers <= 0 {
		o.Workers = 1
	}
	for _, table := range tables {
		idx := byTable[table]
		items := make([]dataverse.Item, 0, len(idx))
		for _, i := range idx {
			it, err := t.item(ctx, i, batch[i])
			if err != nil {
				out[i] = WriteResult{Outcome: Rejected, Err: err}
				continue
			}
			items = append(items, it)
		}
		seen := 0
		err := t.Client.WriteAll(ctx, table, slices.Values(items), o, func(r dataverse.Result) {
			seen++
			w := WriteResult{Err: r.Err}
			if r.ID != uuid.Nil {
				w.ID = r.ID.String()
			}
			switch r.Outcome {
			case dataverse.OutcomeCreated:
				w.Outcome = Created
			case dataverse.OutcomeUpdated:
				w.Outcome = Updated
			case dataverse.OutcomeWritten:
				w.Outcome = Written
			default:
				w.Outcome = Rejected
			}
			out[r.Ref] = w
		})
		if err != nil {
			// The client reported the unwritten records as rejected, but
			// their fate is unknown to us: stop, and let a resume retry.
			return nil, fmt.Errorf("write %s: %w", table, err)
		}
		if seen != len(items) {
			return nil, fmt.Errorf("write %s: the client reported %d of %d records", table, seen, len(items))
		}
		if err := t.resolveIDs(ctx, table, batch, idx, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// resolveIDs reads back the primary keys of records written by alternate
// key whose write did not report an ID (UpsertMultiple and 204 upserts do
// not): later steps bind to them through the ID map. Single-column keys are
// resolved with one $filter=Microsoft.Dynamics.CRM.In(...) query per batch
// and table, multi-column keys with one query per record.
func (t *DataverseTarget) resolveIDs(ctx context.Context, table string, batch []TargetRecord, idx []int, out []WriteResult) error {
	var todo []int
	for _, i := range idx {
		if out[i].Outcome != Rejected && out[i].ID == "" {
			todo = append(todo, i)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	tbl, err := t.Client.Table(ctx, table)
	if err != nil {
		return err
	}
	// The single-column key column of the first record decides which
	// records one In query resolves; the others are read one by one.
	var single []int
	col := ""
	for _, i := range todo {
		k := batch[i].Key
		if k.ID != "" {
			out[i].ID = k.ID
			continue
		}
		if len(k.Alternate) == 1 {
			c := slices.Collect(maps.Keys(k.Alternate))[0]
			if col == "" {
				col = c
			}
			if c == col {
				single = append(single, i)
				continue
			}
		}
		rows, err := (&DataverseReader{Client: t.Client}).Lookup(ctx, table, k)
		if err != nil {
			return fmt.Errorf("read back %s %s: %w", table, k, err)
		}
		if len(rows) == 1 {
			out[i].ID = dataverse.Record(rows[0]).String(tbl.PrimaryID)
		}
	}
	if len(single) == 0 {
		return nil
	}
	// In chunks, to keep the GET URL well under Dataverse's limit of
	// 32,768 characters (query-data-web-api.md; research/dataverse.md).
	ids := map[string]string{}
	for chunk := range slices.Chunk(single, 100) {
		values := make([]any, 0, len(chunk))
		for _, i := range chunk {
			values = append(values, batch[i].Key.Alternate[col])
		}
		q := dataverse.Query{Select: []string{tbl.PrimaryID, col}, Filter: dataverse.In(col, values...)}
		for rec, err := range t.Client.Records(ctx, table, q) {
			if err != nil {
				return fmt.Errorf("read back %s IDs: %w", table, err)
			}
			ids[fmt.Sprint(rec[col])] = rec.String(tbl.PrimaryID)
		}
	}
	for _, i := range single {
		out[i].ID = ids[fmt.Sprint(batch[i].Key.Alternate[col])]
	}
	return nil
}

func (t *DataverseTarget) item(ctx context.Context, i int, r TargetRecord) (dataverse.Item, error) {
	rec := dataverse.Record(r.Fields)
	var key dataverse.Key
	var id uuid.UUID
	if r.Key.ID != "" {
		var err error
		if id, err = uuid.Parse(r.Key.ID); err != nil {
			return dataverse.Item{}, fmt.Errorf("key ID %q is not a GUID", r.Key.ID)
		}
	}
	switch {
	case len(r.Key.Alternate) > 0:
		pairs := make([]any, 0, 2*len(r.Key.Alternate))
		for _, c := range slices.Sorted(maps.Keys(r.Key.Alternate)) {
			pairs = append(pairs, c, r.Key.Alternate[c])
		}
		key = dataverse.ByKey(pairs...)
		if id != uuid.Nil {
			// Addressed by alternate key, created with the given ID.
			tbl, err := t.Client.Table(ctx, r.Table)
			if err != nil {
				return dataverse.Item{}, err
			}
			rec = cloneRecord(rec)
			rec[tbl.PrimaryID] = id.String()
		}
	default:
		key = dataverse.ByID(id)
	}
	return dataverse.Item{Ref: int64(i), Key: key, Record: rec}, nil
}

func cloneRecord(r dataverse.Record) dataverse.Record {
	c := make(dataverse.Record, len(r)+1)
	for k, v := range r {
		c[k] = v
	}
	return c
}

// DataverseReader reads records back for Verify. It finds records with a
// $filter on the key columns rather than a key-addressed GET, so a table
// whose key Dataverse does not enforce shows its duplicates.
type DataverseReader struct {
	Client *dataverse.Client
}

// Lookup implements TargetReader.
func (d *DataverseReader) Lookup(ctx context.Context, table string, key Key) ([]map[string]any, error) {
	var conds []dataverse.Filter
	if key.ID != "" {
		id, err := uuid.Parse(key.ID)
		if err != nil {
			return nil, fmt.Errorf("key ID %q is not a GUID", key.ID)
		}
		tbl, err := d.Client.Table(ctx, table)
		if err != nil {
			return nil, err
		}
		conds = append(conds, dataverse.Eq(tbl.PrimaryID, id))
	}
	for _, c := range slices.Sorted(maps.Keys(key.Alternate)) {
		conds = append(conds, dataverse.Eq(c, key.Alternate[c]))
	}
	var rows []map[string]any
	// Two rows are enough to tell "one" from "duplicated".
	for rec, err := range d.Client.Records(ctx, table, dataverse.Query{Filter: dataverse.All(conds...), Top: 2}) {
		if err != nil {
			return nil, err
		}
		rows = append(rows, rec)
	}
	return rows, nil
}

// DataverseCompare is DefaultCompare plus lookups: a field
// "nav@odata.bind": "/accounts(<guid>)" is compared with the lookup value
// Dataverse returns ("_customerid_value"). Binds by alternate key
// ("/accounts(accountnumber='A1')") are not compared; bind by the ID the
// ID map holds to have them checked.
func DataverseCompare(client *dataverse.Client) CompareFunc {
	return func(expected TargetRecord, actual map[string]any) []FieldDiff {
		diffs := DefaultCompare(expected, actual)
		tbl, ok := client.Schema().Table(expected.Table)
		if !ok {
			return diffs
		}
		for _, f := range slices.Sorted(maps.Keys(expected.Fields)) {
			nav, ok := strings.CutSuffix(f, "@odata.bind")
			if !ok {
				continue
			}
			ref, _ := expected.Fields[f].(string)
			want, ok := bindID(ref)
			if !ok {
				continue
			}
			col, _, ok := tbl.LookupByNavigation(nav)
			if !ok {
				diffs = append(diffs, FieldDiff{Field: f, Expected: ref, Actual: "no such navigation property"})
				continue
			}
			got, _ := actual[col.ValueProperty()].(string)
			if !strings.EqualFold(got, want) {
				diffs = append(diffs, FieldDiff{Field: col.ValueProperty(), Expected: want, Actual: actual[col.ValueProperty()]})
			}
		}
		return diffs
	}
}

// bindID extracts the GUID of "/entityset(guid)".
func bindID(ref string) (string, bool) {
	open := strings.LastIndexByte(ref, '(')
	if open < 0 || !strings.HasSuffix(ref, ")") {
		return "", false
	}
	id, err := uuid.Parse(ref[open+1 : len(ref)-1])
	if err != nil {
		return "", false
	}
	return id.String(), true
}
