package sink

import (
	"context"
	"encoding/json"
	"fmt"
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
// whose state moved is reported updated.
func (s *Sink) moveStates(ctx context.Context, tbl *schema.Table, batch []migrations.TargetRecord, idx []int, results []migrations.WriteResult) error {
	if len(idx) == 0 {
		return nil
	}
	ids := make([]string, 0, len(idx))
	for _, i := range idx {
		if results[i].ID != "" {
			ids = append(ids, results[i].ID)
		}
	}
	cur, err := s.states(ctx, tbl, ids)
	if err != nil {
		if stops(err) {
			return err
		}
		cur = map[string]current{} // cannot tell: move them all, each move checks
	}
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
		err = s.transition(ctx, tbl, key, results[i].ID, batch[i].State, st, known)
		switch {
		case stops(err):
			return err
		case err != nil:
			results[i] = reject(fmt.Errorf("setting the state: %w", err))
		case results[i].Outcome == migrations.Unchanged:
			results[i].Outcome = migrations.Updated
		}
	}
	return nil
}

// transition moves one record from its current state (when known) to
// want, the way Dataverse does it: a closed case is reactivated before it
// moves elsewhere, a case is resolved through CloseIncident, any other
// move is a PATCH of statecode and statuscode.
func (s *Sink) transition(ctx context.Context, tbl *schema.Table, key dataverse.Key, id string, want *migrations.State, cur current, known bool) error {
	if known && cur.code != stateActive && want.Code != stateActive && tbl.LogicalName == "incident" {
		// Resolved → cancelled (or resolved again, another reason): a
		// closed case changes only once reactivated.
		if err := s.c.Update(ctx, tbl.LogicalName, key, dataverse.Record{colState: stateActive, colStatus: statusInActive}, nil); err != nil {
			return err
		}
	}
	if tbl.LogicalName == "incident" && want.Code == stateResolved {
		return s.closeIncident(ctx, tbl, key, id, want)
	}
	err := s.c.Update(ctx, tbl.LogicalName, key, dataverse.Record{colState: want.Code, colStatus: want.Reason}, nil)
	if err == nil || stops(err) {
		return err
	}
	// The client re-sends a state change whose answer was lost; the
	// second send meets a case the first one closed ("already resolved or
	// cancelled"). Whether the move happened is read, not guessed.
	if s.inState(ctx, tbl, key, want) {
		return nil
	}
	return err
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

// closeIncident resolves a case with the CloseIncident action, recording a
// Case Resolution (reference/closeincident; the action takes an
// IncidentResolution entity and the resolved Status). The client retries
// it like any idempotent request: a second send after a lost response
// meets "already resolved", which is checked against the case's state
// here and is no change when the case is resolved as wanted.
func (s *Sink) closeIncident(ctx context.Context, tbl *schema.Table, key dataverse.Key, id string, want *migrations.State) error {
	ref := id
	if ref == "" {
		seg, err := dataverse.KeySegment(key)
		if err != nil {
			return err
		}
		ref = seg
	}
	res := map[string]any{"subject": "Resolved", "incidentid@odata.bind": "/" + tbl.EntitySetName + "(" + ref + ")"}
	if c := want.Close; c != nil {
		if c.Subject != "" {
			res["subject"] = c.Subject
		}
		if c.ResolvedOn != "" {
			res["actualend"] = c.ResolvedOn
		}
	}
	params := map[string]any{"IncidentResolution": res, "Status": want.Reason}
	err := s.c.InvokeAction(ctx, "CloseIncident", params, nil, &dataverse.ActionOptions{Idempotent: true})
	if err == nil || stops(err) {
		return err
	}
	if s.inState(ctx, tbl, key, want) {
		return nil
	}
	return err
}

// rewriteClosed handles a record whose upsert was refused. When it is a
// closed record (a resolved or cancelled case is read-only) it is
// reactivated, written and moved back to its state, unless it already
// matches, which is unchanged. A record refused for another reason keeps
// the refusal.
func (s *Sink) rewriteClosed(ctx context.Context, tbl *schema.Table, r migrations.TargetRecord, refusal error) (migrations.WriteResult, error) {
	key, err := Key(r.Key)
	if err != nil {
		return reject(err), nil
	}
	cur, err := s.c.Get(ctx, tbl.LogicalName, key)
	if dataverse.IsNotFound(err) {
		return reject(refusal), nil
	}
	if err != nil {
		return reject(err), err
	}
	st, ok := stateOf(cur)
	if !ok || st.code == stateActive {
		return reject(refusal), nil
	}
	id := r.Key.ID
	if id == "" {
		id = cur.String(tbl.PrimaryID)
	}
	if len(s.Compare(ctx, r, cur)) == 0 {
		return migrations.WriteResult{Outcome: migrations.Unchanged, ID: id}, nil
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
			return reject(err), err
		}
	}
	return migrations.WriteResult{Outcome: migrations.Updated, ID: id}, nil
}
