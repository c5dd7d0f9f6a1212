package sink

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/schema"
	"github.com/dvsync/dvsync/migrations"
)

// Dataverse state columns and the incident values the sink acts on
// (reference/entities/incident: statecode 0 Active, 1 Resolved,
// 2 Cancelled; statuscode 1 In Progress is Active's default).
const (
	colState       = "statecode"
	colStatus      = "statuscode"
	stateActive    = 0
	stateResolved  = 1
	statusInActive = 1
)

// current is a record's state as read.
type current struct{ code, reason int }

func (c current) is(s *migrations.State) bool { return c.code == s.Code && c.reason == s.Reason }

func intOf(v any) (int, bool) {
	switch x := v.(type) {
	case json.Number:
		n, err := x.Int64()
		return int(n), err == nil
	case float64:
		return int(x), true
	case int:
		return x, true
	case int64:
		return int(x), true
	}
	return 0, false
}

func stateOf(rec dataverse.Record) (current, bool) {
	c, ok1 := intOf(rec[colState])
	r, ok2 := intOf(rec[colStatus])
	return current{c, r}, ok1 && ok2
}

// states reads the current state of the records with the given IDs, one
// In query per 100.
func (s *Sink) states(ctx context.Context, tbl *schema.Table, ids []string) (map[string]current, error) {
	out := make(map[string]current, len(ids))
	for chunk := range slices.Chunk(ids, 100) {
		values := make([]any, len(chunk))
		for i, id := range chunk {
			values[i] = id
		}
		q := dataverse.Query{Select: []string{tbl.PrimaryID, colState, colStatus}, Filter: dataverse.In(tbl.PrimaryID, values...)}
		for rec, err := range s.c.Records(ctx, tbl.LogicalName, q) {
			if err != nil {
				return nil, err
			}
			if st, ok := stateOf(rec); ok {
				out[strings.ToLower(rec.String(tbl.PrimaryID))] = st
			}
		}
	}
	return out, nil
}

// moveStates moves written records to the states they ask for. Records
// already there are left alone; a record whose columns were unchanged but
// whose state moved is reported updated. The moves of a batch go out
// together (see transitions), and each record's failure is its own.
// before holds states read before the write (prefetch), which a write
// of columns leaves as they are; the others are read.
func (s *Sink) moveStates(ctx context.Context, tbl *schema.Table, batch []migrations.TargetRecord, idx []int, results []migrations.WriteResult, before map[string]current) error {
	if len(idx) == 0 {
		return nil
	}
	cur := map[string]current{}
	var ids []string
	for _, i := range idx {
		id := strings.ToLower(results[i].ID)
		if st, ok := before[id]; ok {
			cur[id] = st
		} else if id != "" {
			ids = append(ids, id)
		}
	}
	read, err := s.states(ctx, tbl, ids)
	if err != nil {
		if stops(err) {
			return err
		}
		read = nil // cannot tell: move them all, each move checks
	}
	maps.Copy(cur, read)
	var moves []move
	var at []int // at[n] is the batch index of moves[n]
	for _, i := range idx {
		st, known := cur[strings.ToLower(results[i].ID)]
		if known && st.is(batch[i].State) {
			continue
		}
		key, err := recordKey(batch[i], results[i])
		if err != nil {
			results[i] = reject(err)
			continue
		}
		moves = append(moves, move{key: key, id: results[i].ID, want: batch[i].State, cur: st, known: known})
		at = append(at, i)
	}
	errs, err := s.transitions(ctx, tbl, moves)
	if err != nil {
		return err
	}
	for n, i := range at {
		switch {
		case errs[n] != nil:
			results[i] = reject(fmt.Errorf("setting the state: %w", errs[n]))
		case results[i].Outcome == migrations.Unchanged:
			results[i].Outcome = migrations.Updated
		}
	}
	return nil
}

// move is one record to move from its current state (when known) to want.
type move struct {
	key   dataverse.Key
	id    string // the record's ID, when known
	want  *migrations.State
	cur   current
	known bool
}

// reactivated is the state a closed case is moved to before it changes.
var reactivated = &migrations.State{Code: stateActive, Reason: statusInActive}

// transitions makes moves the way Dataverse does them: a closed case is
// reactivated before it moves elsewhere, a case is resolved through
// CloseIncident, any other move is a PATCH of statecode and statuscode.
// They go out together rather than one record after another: the PATCHes
// of a phase as one $batch of independent requests and its CloseIncident
// actions as another, side by side (see closeIncidents). Dataverse runs a
// batch's requests in order and, with odata.continue-on-error, answers
// each on its own (execute-batch-operations-using-web-api.md). A record's
// own refusal is returned in errs[n] (the record is rejected); anything
// dataverse.Classify says stops the run is returned as err.
func (s *Sink) transitions(ctx context.Context, tbl *schema.Table, moves []move) (errs []error, err error) {
	errs = make([]error, len(moves))
	if len(moves) == 0 {
		return errs, nil
	}
	incident := tbl.LogicalName == "incident"
	// Resolved → cancelled (or resolved again, another reason): a closed
	// case changes only once reactivated.
	var reopen []int
	for n, m := range moves {
		if incident && m.known && m.cur.code != stateActive && m.want.Code != stateActive {
			reopen = append(reopen, n)
		}
	}
	if err := s.patchStates(ctx, tbl, moves, reopen, func(move) *migrations.State { return reactivated }, errs); err != nil {
		return nil, err
	}
	var patches, closes []int
	for n, m := range moves {
		switch {
		case errs[n] != nil:
		case incident && m.want.Code == stateResolved:
			closes = append(closes, n)
		default:
			patches = append(patches, n)
		}
	}
	err = s.parallel(ctx, 2, func(ctx context.Context, k int) error {
		if k == 0 {
			return s.patchStates(ctx, tbl, moves, patches, func(m move) *migrations.State { return m.want }, errs)
		}
		return s.closeIncidents(ctx, tbl, moves, closes, errs)
	})
	if err != nil {
		return nil, err
	}
	return errs, nil
}

// patchStates moves the records moves[n] for n in which to the states to
// gives them, with one $batch of PATCH requests (If-Match: *, so none
// creates a record). A refusal is set in errs[n]; a failure that stops the
// run is returned.
func (s *Sink) patchStates(ctx context.Context, tbl *schema.Table, moves []move, which []int, to func(move) *migrations.State, errs []error) error {
	if len(which) == 0 {
		return nil
	}
	items := make([]dataverse.Item, len(which))
	for j, n := range which {
		st := to(moves[n])
		items[j] = dataverse.Item{Ref: int64(j), Key: moves[n].key, Record: dataverse.Record{colState: st.Code, colStatus: st.Reason}}
	}
	err := s.c.WriteAll(ctx, tbl.LogicalName, slices.Values(items), dataverse.BatchOptions{Mode: dataverse.ModeUpdate,
		// Bulk messages are for columns; a state is a transition. One
		// batch, since the engine already runs several batches at once.
		DisableBulk: true, Workers: 1, BatchSize: len(items)},
		func(r dataverse.Result) {
			if r.Outcome == dataverse.OutcomeRejected {
				errs[which[r.Ref]] = r.Err
			}
		})
	if err != nil {
		return err
	}
	var refused []int
	for _, n := range which {
		if stops(errs[n]) {
			return errs[n]
		}
		if errs[n] != nil {
			refused = append(refused, n)
		}
	}
	// The client re-sends a batch whose answer was lost; the second send
	// meets records the first one moved (a case "already resolved or
	// cancelled"). Whether each move happened is read, not guessed: one
	// read for the batch's refusals.
	s.confirm(ctx, tbl, moves, refused, to, errs)
	return nil
}

// confirm clears errs[n], for n in which, of the records that are in the
// state to gives them after all. A record it cannot read keeps its error.
func (s *Sink) confirm(ctx context.Context, tbl *schema.Table, moves []move, which []int, to func(move) *migrations.State, errs []error) {
	var ids []string
	for _, n := range which {
		if moves[n].id != "" {
			ids = append(ids, moves[n].id)
		}
	}
	cur, err := s.states(ctx, tbl, ids)
	if err != nil {
		cur = nil
	}
	for _, n := range which {
		m := moves[n]
		if m.id == "" {
			if s.inState(ctx, tbl, m.key, to(m)) {
				errs[n] = nil
			}
			continue
		}
		if st, ok := cur[strings.ToLower(m.id)]; ok && st.is(to(m)) {
			errs[n] = nil
		}
	}
}

// transition moves one record, the way transitions does, for a record
// whose moves must follow each other (rewriteClosed).
func (s *Sink) transition(ctx context.Context, tbl *schema.Table, key dataverse.Key, id string, want *migrations.State, cur current, known bool) error {
	errs, err := s.transitions(ctx, tbl, []move{{key: key, id: id, want: want, cur: cur, known: known}})
	if err != nil {
		return err
	}
	return errs[0]
}

// inState reads whether the record is in state want.
func (s *Sink) inState(ctx context.Context, tbl *schema.Table, key dataverse.Key, want *migrations.State) bool {
	rec, err := s.c.Get(ctx, tbl.LogicalName, key, colState, colStatus)
	if err != nil {
		return false
	}
	st, ok := stateOf(rec)
	return ok && st.is(want)
}

// closeIncidents resolves the cases moves[n], for n in which, with the
// CloseIncident action, each recording a Case Resolution
// (reference/closeincident: an unbound action taking an IncidentResolution
// entity and the resolved Status; it returns nothing). The calls go out in
// $batch requests of up to 1,000, the documented limit of one batch, as
// independent requests with odata.continue-on-error
// (execute-batch-operations-using-web-api.md, "Handling errors"): not as a
// change set, whose one refused case would roll back every other one, and
// not without that preference, under which the batch stops at the first
// refusal. So each case gets its own answer and a refused one is rejected
// alone, with Dataverse's reason; the others are resolved.
//
// The client retries the calls like any idempotent request (dataverse.
// Client.InvokeActions): a second send after a lost response meets
// "already resolved". Every refusal is therefore checked against the
// cases' states, with one read for the batch's refusals, and is no change
// when the case is resolved as wanted. A failure that stops the run is
// returned.
func (s *Sink) closeIncidents(ctx context.Context, tbl *schema.Table, moves []move, which []int, errs []error) error {
	if len(which) == 0 {
		return nil
	}
	var params []any
	var sent []int
	for _, n := range which {
		p, err := closeParams(tbl, moves[n])
		if err != nil {
			errs[n] = err
			continue
		}
		params = append(params, p)
		sent = append(sent, n)
	}
	if len(sent) == 0 {
		return nil
	}
	got, err := s.c.InvokeActions(ctx, "CloseIncident", params, &dataverse.ActionBatchOptions{Idempotent: true})
	if err != nil {
		return err
	}
	var refused []int
	for k, n := range sent {
		if got[k] == nil {
			continue
		}
		if stops(got[k]) {
			return got[k]
		}
		errs[n] = got[k]
		refused = append(refused, n)
	}
	s.confirm(ctx, tbl, moves, refused, func(m move) *migrations.State { return m.want }, errs)
	return nil
}

// closeParams is the body of the CloseIncident call that resolves m's case.
func closeParams(tbl *schema.Table, m move) (map[string]any, error) {
	ref := m.id
	if ref == "" {
		seg, err := dataverse.KeySegment(m.key)
		if err != nil {
			return nil, err
		}
		ref = seg
	}
	res := map[string]any{"subject": "Resolved", "incidentid@odata.bind": "/" + tbl.EntitySetName + "(" + ref + ")"}
	if c := m.want.Close; c != nil {
		if c.Subject != "" {
			res["subject"] = c.Subject
		}
		if c.ResolvedOn != "" {
			res["actualend"] = c.ResolvedOn
		}
	}
	return map[string]any{"IncidentResolution": res, "Status": m.want.Reason}, nil
}

// reopened is what rewriting a closed record did.
type reopened struct {
	res migrations.WriteResult
	// from, set when the record differs in its state alone, is the state
	// it is in: it is moved with the batch's other moves, no column
	// written.
	from *current
}

// rewriteClosed handles a record whose upsert was refused. When it is a
// closed record (a resolved or cancelled case is read-only) it is
// rewritten (see rewrite). A record refused for another reason keeps the
// refusal.
func (s *Sink) rewriteClosed(ctx context.Context, tbl *schema.Table, r migrations.TargetRecord, refusal error) (reopened, error) {
	key, err := Key(r.Key)
	if err != nil {
		return reopened{res: reject(err)}, nil
	}
	cur, err := s.c.Get(ctx, tbl.LogicalName, key)
	if dataverse.IsNotFound(err) {
		return reopened{res: reject(refusal)}, nil
	}
	if err != nil {
		return reopened{res: reject(err)}, err
	}
	st, ok := stateOf(cur)
	if !ok || st.code == stateActive {
		return reopened{res: reject(refusal)}, nil
	}
	return s.rewrite(ctx, tbl, r, cur)
}

// rewrite writes r over cur, the closed record it addresses: when it
// already matches, it is unchanged; when only its state differs, it is
// left to the batch's moves; otherwise it is reactivated, written and
// moved back to its state.
func (s *Sink) rewrite(ctx context.Context, tbl *schema.Table, r migrations.TargetRecord, cur dataverse.Record) (reopened, error) {
	key, err := Key(r.Key)
	if err != nil {
		return reopened{res: reject(err)}, nil
	}
	id := r.Key.ID
	if id == "" {
		id = cur.String(tbl.PrimaryID)
	}
	diffs := s.Compare(ctx, r, cur)
	if len(diffs) == 0 {
		return reopened{res: migrations.WriteResult{Outcome: migrations.Unchanged, ID: id}}, nil
	}
	if !slices.ContainsFunc(diffs, func(d migrations.FieldDiff) bool { return d.Field != colState && d.Field != colStatus }) {
		if st, ok := stateOf(cur); ok {
			return reopened{res: migrations.WriteResult{Outcome: migrations.Unchanged, ID: id}, from: &st}, nil
		}
	}
	if pid, err := uuid.Parse(id); err == nil {
		key = dataverse.ByID(pid)
	}
	steps := []func() error{
		func() error {
			return s.c.Update(ctx, tbl.LogicalName, key, dataverse.Record{colState: stateActive, colStatus: statusInActive}, nil)
		},
		func() error { _, err := s.c.Upsert(ctx, tbl.LogicalName, key, body(tbl, r)); return err },
		func() error {
			return s.transition(ctx, tbl, key, id, r.State, current{stateActive, statusInActive}, true)
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return reopened{res: reject(err)}, err
		}
	}
	return reopened{res: migrations.WriteResult{Outcome: migrations.Updated, ID: id}}, nil
}

// prefetched is what the read before a batch's write found of its
// records (see prefetch).
type prefetched struct {
	// same holds the records whose columns already hold what is written,
	// by batch index, with their IDs: they are not sent; their states and
	// links are checked against known and links.
	same map[int]string
	// closed holds the closed cases whose columns differ, as read: a
	// closed case is read-only, so it is rewritten (see rewrite), not
	// sent to be refused.
	closed map[int]dataverse.Record
	// settled holds the records the read found once or, by a key that
	// tells, found absent: what the client's own read before writing would
	// find out is known already.
	settled map[int]bool
	// known holds the states of the records found, by lower-case ID,
	// which a write of columns keeps.
	known map[string]current
	// links holds the N:N links of the records found, through every
	// relationship the batch's records link by, and none for the records
	// found absent (by lower-case ID): a write of columns does not change
	// them.
	links linkSets
}

// prefetch reads, before a batch is written that has records to be moved
// to a state or linked, the batch's records, with one In query per 100
// (LookupBatch's read: the records with the links of every relationship
// the batch links by expanded). What it finds serves the whole write: a record whose
// columns hold what is written is not sent; the client need not read
// again before writing what does differ; a closed case is rewritten
// rather than sent; and the states and links the moves and links start
// from are known without another read. So a batch of such records that
// changed nothing costs one read per 100, where it cost the client's read
// before writing, a read of the states and a read of the links.
//
// A read that fails for a reason that does not stop the run leaves every
// record to be written as if it had not been read.
func (s *Sink) prefetch(ctx context.Context, tbl *schema.Table, batch []migrations.TargetRecord, idx []int) (prefetched, error) {
	p := prefetched{same: map[int]string{}, closed: map[int]dataverse.Record{}, settled: map[int]bool{},
		known: map[string]current{}, links: linkSets{}}
	if !slices.ContainsFunc(idx, func(i int) bool { return batch[i].State != nil || len(batch[i].Links) > 0 }) {
		return p, nil // the client's read before writing serves
	}
	// The batch's other records come with them: the same queries, and
	// then none of the batch needs the client's read.
	var which []int
	var keys []migrations.Key
	for _, i := range idx {
		r := batch[i]
		switch len(r.Key.Alternate) {
		case 0:
			if _, err := uuid.Parse(r.Key.ID); err != nil {
				continue
			}
		case 1:
		default:
			continue // read on its own by Lookup: no saving
		}
		if len(r.Links) > 0 {
			// The relationships are learned first, so the read expands
			// them.
			if _, err := s.learn(ctx, tbl, r.Links); err != nil {
				if stops(err) {
					return p, err
				}
				continue // link rejects it the same way
			}
		}
		which = append(which, i)
		// By the alternate key alone, so that a record that holds it
		// under another ID is told from none.
		k := r.Key
		if len(k.Alternate) > 0 {
			k.ID = ""
		}
		keys = append(keys, k)
	}
	if len(which) == 0 {
		return p, nil
	}
	rows, sets, linked, err := s.lookupBatch(ctx, tbl, keys)
	if stops(err) {
		return p, err
	}
	if err != nil {
		return p, nil
	}
	incident := tbl.LogicalName == "incident"
	for k, i := range which {
		r := batch[i]
		linksRead := !slices.ContainsFunc(r.Links, func(l migrations.Link) bool { return !slices.Contains(linked, l.Relationship) })
		switch {
		case len(rows[k]) == 0:
			// No record: the write creates it, with no links.
			p.settled[i] = true
			if r.Key.ID != "" {
				p.links[strings.ToLower(r.Key.ID)] = map[string]map[string]bool{}
			}
		case len(rows[k]) == 1 && (r.Key.ID == "" || strings.EqualFold(dataverse.Record(rows[k][0]).String(tbl.PrimaryID), r.Key.ID)):
			row := dataverse.Record(rows[k][0])
			id := strings.ToLower(row.String(tbl.PrimaryID))
			st, hasState := stateOf(row)
			if hasState {
				p.known[id] = st
			}
			if linksRead {
				p.links[id] = sets[id]
			}
			closedCase := incident && r.State != nil && hasState && st.code != stateActive
			switch {
			case (closedCase || !s.o.WriteUnchanged) && s.sameColumns(ctx, tbl, r, row):
				// A closed case is never sent again as it is: its upsert
				// would be refused.
				p.same[i] = row.String(tbl.PrimaryID)
			case closedCase:
				p.closed[i] = row
			default:
				p.settled[i] = true
			}
		}
	}
	return p, nil
}

// sameColumns reports whether row, as read, holds every column r writes:
// the values compared by dataverse.SameValue, binds by the ID they name.
// What it cannot tell (a bind that names no record, an annotation)
// counts as a difference, so that the record is written.
func (s *Sink) sameColumns(ctx context.Context, tbl *schema.Table, r migrations.TargetRecord, row dataverse.Record) bool {
	for f, want := range body(tbl, r) {
		if nav, ok := strings.CutSuffix(f, "@odata.bind"); ok {
			col, _, found := tbl.LookupByNavigation(nav)
			ref, _ := want.(string)
			if !found || ref == "" {
				return false
			}
			id, ok := s.bindID(ctx, ref)
			if !ok || !strings.EqualFold(row.String(col.ValueProperty()), id) {
				return false
			}
			continue
		}
		got, present := row[f]
		if strings.Contains(f, "@") || !present || !dataverse.SameValue(want, got) {
			return false
		}
	}
	return true
}
