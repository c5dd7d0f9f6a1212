package syncjob

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/schema"
	"github.com/dvsync/dvsync/dataverse/sink"
	"github.com/dvsync/dvsync/migrations"
)

// Dataverse → Dataverse (another environment): every write goes through
// the one Dataverse writer, dataverse/sink. A table with an alternate key
// is written by that key, so records meet their counterparts in an
// environment whose GUIDs differ; lookups to tables with an alternate key
// are re-bound by the target record's key ("/accounts(accountnumber='A-1')",
// as `pull --portable` writes them), others keep their GUID. The state
// store remembers which target key each source record was written under,
// because a $deletedEntity carries only the source GUID.
//
// A dry run writes nothing to the target or the state: each page is
// planned (sink.Plan: would create, update, leave unchanged or reject), a
// record to delete is read to tell a delete from a record already gone,
// and the source records a run would stamp with the generation of a full
// read or key-set comparison are kept in memory (seen), so the sweep at
// its end names what the run would delete.

const lookupAnnotations = "Microsoft.Dynamics.CRM.lookuplogicalname,Microsoft.Dynamics.CRM.associatednavigationproperty"

// bindChunk bounds the GUIDs of one key lookup ($filter In): 100 GUIDs
// keep the URL far below Dataverse's 32,768 characters (webapi/query/overview.md).
const bindChunk = 100

type dvApplier struct {
	t    *tableRun
	src  *dataverse.Client
	sk   *sink.Sink
	def  *schema.Table // source definition
	prep *sink.Preparer
	// keyCols are the target table's first alternate key, or nil to write
	// by primary key (the source GUID).
	keyCols []string
	sel     []string
	// binds caches, per lookup target table, source GUID → bind path by
	// alternate key ("" when the record has no complete key values).
	binds map[string]map[string]string

	ups     []dataverse.Record
	upsGen  int64
	dels    []string
	marks   []string
	markGen int64
	// seen holds, in a dry run, the source IDs a run would have stamped
	// with the generation in progress (SaveKeys, MarkKeys): one entry per
	// record of the table read in full, in memory.
	seen map[string]bool
}

func (r *runner) dataverseApplier(ctx context.Context, t *tableRun, def *schema.Table, spec TableSpec) (applier, error) {
	tdef, err := r.o.TargetClient.Table(ctx, spec.Name)
	if err != nil {
		return nil, fmt.Errorf("target environment: %w", err)
	}
	a := &dvApplier{t: t, src: r.o.Client, sk: r.sink, def: def, binds: map[string]map[string]string{}, seen: map[string]bool{}}
	if len(tdef.AlternateKeys) > 0 {
		a.keyCols = tdef.AlternateKeys[0].Columns
	}
	a.prep = sink.NewPreparer(r.o.TargetClient, tdef, dataverse.ModeUpsert, a.keyCols)
	want := map[string]bool{}
	for _, c := range spec.Columns {
		if _, ok := def.Column(c); !ok {
			return nil, fmt.Errorf("table %s has no column %q", def.LogicalName, c)
		}
		want[c] = true
	}
	a.sel = []string{def.PrimaryID}
	for i := range def.Columns {
		c := &def.Columns[i]
		switch {
		case c.LogicalName == def.PrimaryID:
		case slices.Contains(a.keyCols, c.LogicalName):
			a.sel = append(a.sel, c.LogicalName) // the key is always read
		case c.ReadOnly || (len(want) > 0 && !want[c.LogicalName]):
		case c.Type.IsLookup():
			a.sel = append(a.sel, c.ValueProperty())
		default:
			a.sel = append(a.sel, c.LogicalName)
		}
	}
	return a, nil
}

func (a *dvApplier) Query(pageSize int) dataverse.Query {
	return dataverse.Query{Select: a.sel, Annotations: lookupAnnotations, PageSize: pageSize}
}

func (a *dvApplier) Empty(ctx context.Context) (bool, error) {
	has, err := a.t.r.o.Store.HasKeys(ctx, a.t.r.job.Name, a.t.name)
	return !has, err
}

func (a *dvApplier) Upsert(rec dataverse.Record, gen int64) error {
	a.ups = append(a.ups, rec)
	a.upsGen = gen
	return nil
}

func (a *dvApplier) Delete(id string) error {
	a.dels = append(a.dels, strings.ToLower(id))
	return nil
}

func (a *dvApplier) Mark(id string, gen int64) error {
	a.marks = append(a.marks, strings.ToLower(id))
	a.markGen = gen
	return nil
}

func (a *dvApplier) Rollback() { a.ups, a.dels, a.marks = nil, nil, nil }

func (a *dvApplier) dry() bool { return a.t.r.o.DryRun }

// Commit writes the page: upserts through the sink (one batched call, with
// the sink's unchanged detection), then deletes, then the key map.
func (a *dvApplier) Commit() error {
	ctx := context.WithoutCancel(a.t.ctx)
	defer a.Rollback()
	st, job, table := a.t.r.o.Store, a.t.r.job.Name, a.t.name
	if len(a.marks) > 0 {
		if a.dry() {
			for _, id := range a.marks {
				a.seen[id] = true
			}
		} else if err := st.MarkKeys(ctx, job, table, a.marks, a.markGen); err != nil {
			return err
		}
	}
	if len(a.ups) > 0 {
		if err := a.writeUpserts(ctx); err != nil {
			return err
		}
	}
	for _, id := range a.dels {
		if err := a.deleteOne(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

func (a *dvApplier) writeUpserts(ctx context.Context) error {
	if err := a.rebind(ctx, a.ups); err != nil {
		return err
	}
	batch := make([]migrations.TargetRecord, 0, len(a.ups))
	srcIDs := make([]string, 0, len(a.ups))
	for _, rec := range a.ups {
		id := strings.ToLower(rec.String(a.def.PrimaryID))
		tr, err := a.targetRecord(ctx, rec)
		if err != nil {
			if err := a.t.reject(id, err); err != nil {
				return err
			}
			continue
		}
		batch = append(batch, tr)
		srcIDs = append(srcIDs, id)
	}
	if len(batch) == 0 {
		return nil
	}
	var results []migrations.WriteResult
	var err error
	if a.dry() {
		results, err = a.sk.Plan(ctx, batch)
	} else {
		results, err = a.sk.Write(ctx, batch)
	}
	if err != nil {
		return err
	}
	var keys []KeyEntry
	for i, res := range results {
		switch res.Outcome {
		case migrations.Rejected:
			if err := a.t.reject(srcIDs[i], res.Err); err != nil {
				return err
			}
			continue
		case migrations.Unchanged:
			a.t.sum.Unchanged++
		default:
			a.t.sum.Upserted++
			if a.dry() {
				switch res.Outcome {
				case migrations.Created:
					a.t.sum.Created++
				case migrations.Updated:
					a.t.sum.Updated++
				}
			}
		}
		if a.dry() {
			a.seen[srcIDs[i]] = true
			continue
		}
		b, _ := json.Marshal(batch[i].Key)
		keys = append(keys, KeyEntry{SourceID: srcIDs[i], TargetKey: string(b), Gen: a.upsGen})
	}
	return a.t.r.o.Store.SaveKeys(ctx, a.t.r.job.Name, a.t.name, keys)
}

// targetRecord prepares rec for the sink: the Preparer's body (read-only
// columns and annotations dropped, lookups as binds), the key, and the
// state as a transition rather than a column.
func (a *dvApplier) targetRecord(ctx context.Context, rec dataverse.Record) (migrations.TargetRecord, error) {
	item, err := a.prep.Prepare(ctx, rec)
	if err != nil {
		return migrations.TargetRecord{}, err
	}
	tr := migrations.TargetRecord{Table: a.def.LogicalName, Fields: item.Record}
	if len(item.Key.Alternate) > 0 {
		tr.Key.Alternate = item.Key.Alternate
	} else {
		tr.Key.ID = item.Key.ID.String()
	}
	code, hasCode := intValue(item.Record["statecode"])
	reason, hasReason := intValue(item.Record["statuscode"])
	delete(tr.Fields, "statecode")
	delete(tr.Fields, "statuscode")
	if hasCode && hasReason {
		tr.State = &migrations.State{Code: code, Reason: reason}
		if a.def.LogicalName == "incident" && code == 1 {
			// A case is resolved only through CloseIncident, which records
			// a Case Resolution; the source's resolution is another table.
			tr.State.Close = &migrations.Resolution{Subject: "Resolved in the source environment (dvsync sync)"}
		}
	}
	return tr, nil
}

func intValue(v any) (int, bool) {
	switch x := v.(type) {
	case json.Number:
		n, err := x.Int64()
		return int(n), err == nil
	case float64:
		return int(x), true
	}
	return 0, false
}

func (a *dvApplier) deleteOne(ctx context.Context, id string) error {
	st, job, table := a.t.r.o.Store, a.t.r.job.Name, a.t.name
	keyText, ok, err := st.TargetKey(ctx, job, table, id)
	if err != nil {
		return err
	}
	var key dataverse.Key
	if ok {
		var mk migrations.Key
		if err := json.Unmarshal([]byte(keyText), &mk); err != nil {
			return fmt.Errorf("state store: key of %s %s: %w", table, id, err)
		}
		if key, err = sink.Key(mk); err != nil {
			return err
		}
	} else if a.keyCols == nil {
		// Written by primary key: the target record has the source GUID.
		u, err := uuid.Parse(id)
		if err != nil {
			return a.t.reject(id, fmt.Errorf("deleted record's id %q is not a GUID", id))
		}
		key = dataverse.ByID(u)
	} else {
		// Never written by this job (created and deleted between runs).
		a.t.sum.Unchanged++
		return nil
	}
	if a.dry() {
		return a.planDelete(ctx, key, id)
	}
	res, err := a.sk.Delete(ctx, table, key)
	if err != nil {
		return err
	}
	switch res.Outcome {
	case dataverse.OutcomeRejected:
		return a.t.reject(id, res.Err)
	case dataverse.OutcomeUnchanged:
		a.t.sum.Unchanged++
	default:
		a.t.sum.Deleted++
	}
	return st.DeleteKey(ctx, job, table, id)
}

// planDelete counts what deleting the target record key would do,
// reading it: a delete when it is there, no change when it is gone (as
// sink.Delete counts a 404).
func (a *dvApplier) planDelete(ctx context.Context, key dataverse.Key, id string) error {
	_, err := a.t.r.o.TargetClient.Get(ctx, a.t.name, key, a.def.PrimaryID)
	switch {
	case err == nil:
		a.t.sum.Deleted++
	case dataverse.IsNotFound(err):
		a.t.sum.Unchanged++
	case dataverse.Classify(err).StopsRun():
		return err
	default:
		return a.t.reject(id, err)
	}
	return nil
}

// Sweep deletes the target records whose source records a full read or
// key-set comparison of generation gen did not see.
func (a *dvApplier) Sweep(gen int64) error {
	ctx := context.WithoutCancel(a.t.ctx)
	if err := a.Commit(); err != nil {
		return err
	}
	stale, err := a.t.r.o.Store.StaleKeys(ctx, a.t.r.job.Name, a.t.name, gen)
	if err != nil {
		return err
	}
	for _, id := range stale {
		if a.dry() && a.seen[id] {
			continue // the run would have stamped it with gen
		}
		a.t.sum.Read++
		if err := a.deleteOne(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// rebind rewrites lookups whose target table has an alternate key as binds
// by that key, reading the keys of the records they point at from the
// source (batched, cached for the run). A lookup whose target record has
// no complete key keeps its GUID.
func (a *dvApplier) rebind(ctx context.Context, recs []dataverse.Record) error {
	need := map[string]map[string]bool{}
	resolve := func(rec dataverse.Record, c *schema.Column) (string, string) {
		id := rec.String(c.ValueProperty())
		if id == "" {
			return "", ""
		}
		target := rec.String(c.ValueProperty() + "@Microsoft.Dynamics.CRM.lookuplogicalname")
		if target == "" && len(c.Targets) == 1 {
			target = c.Targets[0]
		}
		return target, strings.ToLower(id)
	}
	reg := a.src.Schema()
	for _, rec := range recs {
		for i := range a.def.Columns {
			c := &a.def.Columns[i]
			if !c.Type.IsLookup() {
				continue
			}
			target, id := resolve(rec, c)
			tt, ok := reg.Table(target)
			if id == "" || !ok || len(tt.AlternateKeys) == 0 {
				continue
			}
			if _, cached := a.binds[target][id]; cached {
				continue
			}
			if need[target] == nil {
				need[target] = map[string]bool{}
			}
			need[target][id] = true
		}
	}
	for target, ids := range need {
		if err := a.fetchKeys(ctx, target, slices.Sorted(func(yield func(string) bool) {
			for id := range ids {
				if !yield(id) {
					return
				}
			}
		})); err != nil {
			return err
		}
	}
	for _, rec := range recs {
		for i := range a.def.Columns {
			c := &a.def.Columns[i]
			if !c.Type.IsLookup() {
				continue
			}
			target, id := resolve(rec, c)
			bind := a.binds[target][id]
			if bind == "" {
				continue
			}
			nav := rec.String(c.ValueProperty() + "@Microsoft.Dynamics.CRM.associatednavigationproperty")
			if nav == "" {
				nav = c.NavigationProperty(target)
			}
			for k := range rec {
				if k == c.ValueProperty() || strings.HasPrefix(k, c.ValueProperty()+"@") {
					delete(rec, k)
				}
			}
			rec[nav+"@odata.bind"] = bind
		}
	}
	return nil
}

func (a *dvApplier) fetchKeys(ctx context.Context, table string, ids []string) error {
	tt, _ := a.src.Schema().Table(table)
	cols := tt.AlternateKeys[0].Columns
	if a.binds[table] == nil {
		a.binds[table] = map[string]string{}
	}
	for start := 0; start < len(ids); start += bindChunk {
		chunk := ids[start:min(start+bindChunk, len(ids))]
		vals := make([]any, len(chunk))
		for i, id := range chunk {
			u, err := uuid.Parse(id)
			if err != nil {
				return fmt.Errorf("lookup to %s: %q is not a GUID", table, id)
			}
			vals[i] = u
			a.binds[table][id] = "" // no key unless found below
		}
		q := dataverse.Query{Select: append([]string{tt.PrimaryID}, cols...), Filter: dataverse.In(tt.PrimaryID, vals...)}
		for rec, err := range a.src.Records(ctx, table, q) {
			if err != nil {
				return fmt.Errorf("reading the keys of %s: %w", table, err)
			}
			key := dataverse.Key{Alternate: map[string]any{}}
			complete := true
			for _, c := range cols {
				v, ok := rec[c]
				if !ok || v == nil || v == "" {
					complete = false
					break
				}
				key.Alternate[c] = v
			}
			if !complete {
				continue
			}
			seg, err := dataverse.KeySegment(key)
			if err != nil {
				return err
			}
			a.binds[table][strings.ToLower(rec.String(tt.PrimaryID))] = "/" + tt.EntitySetName + "(" + seg + ")"
		}
	}
	return nil
}
