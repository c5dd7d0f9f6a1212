package migrateodoo

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/mapping/odoodv"
	"github.com/dvsync/dvsync/migrations"
)

// Target writes mapped records to Dataverse for the migration engine and
// reads them back for verify. It implements migrations.Target,
// migrations.TargetReader and migrations.TableCounter.
//
// Writes are upserts addressed by the deterministic IDs of the mapping
// (PATCH /<set>(<id>), or UpsertMultiple where the table has it), so a batch
// written twice after a crash leaves one record. States are transitions in
// Dataverse, not columns: a record is written first and then moved to its
// state, a case is resolved only through the CloseIncident action, and a
// resolved or cancelled case is read-only until reactivated, so re-writing
// one reactivates it, updates it and closes it again, unless it already
// matches, which is then reported as unchanged.
type Target struct {
	c *dataverse.Client
	// Baseline, when set, gives each table's record count before the first
	// run, so Count reports only the records the migration added.
	Baseline func(ctx context.Context, table string) (int64, bool, error)

	mu    sync.Mutex
	users map[string]uuid.UUID // systemuser email → id, for comparing owner binds
}

// NewTarget returns a Target writing through c.
func NewTarget(c *dataverse.Client) *Target {
	return &Target{c: c, users: map[string]uuid.UUID{}}
}

// writeAttempts bounds how often Write tries a batch whose fate a service
// failure left unknown.
const writeAttempts = 4

// Write implements migrations.Target. Records are written table by table
// in the order the tables first appear in the batch (a case before its
// queue item), each table in one batched call.
//
// Every operation is idempotent (upserts by ID, state changes checked
// against the current state), so a batch interrupted by a service failure
// (5xx, a dropped connection) is written again from the start, a few
// times, before the run is stopped for a resume.
func (t *Target) Write(ctx context.Context, batch []migrations.TargetRecord) ([]migrations.WriteResult, error) {
	for attempt := 1; ; attempt++ {
		res, err := t.write(ctx, batch)
		if err == nil || attempt == writeAttempts || !retryable(ctx, err) {
			return res, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(250<<attempt) * time.Millisecond):
		}
	}
}

// retryable: a failure of the service or the connection, not of the
// caller (cancelled, unauthorised).
func retryable(ctx context.Context, err error) bool {
	return ctx.Err() == nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) && !dataverse.IsAuth(err)
}

func (t *Target) write(ctx context.Context, batch []migrations.TargetRecord) ([]migrations.WriteResult, error) {
	results := make([]migrations.WriteResult, len(batch))
	var tables []string
	byTable := map[string][]int{}
	for i, r := range batch {
		if _, ok := byTable[r.Table]; !ok {
			tables = append(tables, r.Table)
		}
		byTable[r.Table] = append(byTable[r.Table], i)
	}
	for _, table := range tables {
		idx := byTable[table]
		var err error
		if batch[idx[0]].Fields[odoodv.FieldMatchOnly] == true {
			err = t.match(ctx, batch, idx, results)
		} else {
			err = t.upsert(ctx, table, batch, idx, results)
		}
		if err != nil {
			return nil, err
		}
	}
	return results, nil
}

func dvKey(k migrations.Key) (dataverse.Key, error) {
	if k.ID != "" {
		id, err := uuid.Parse(k.ID)
		if err != nil {
			return dataverse.Key{}, fmt.Errorf("key %q is not a GUID", k.ID)
		}
		return dataverse.ByID(id), nil
	}
	return dataverse.Key{Alternate: maps.Clone(k.Alternate)}, nil
}

// match looks records up by key instead of writing them (Dataverse users
// come from Entra ID; a migration must not invent them).
func (t *Target) match(ctx context.Context, batch []migrations.TargetRecord, idx []int, results []migrations.WriteResult) error {
	for _, i := range idx {
		r := batch[i]
		key, err := dvKey(r.Key)
		if err != nil {
			results[i] = migrations.WriteResult{Outcome: migrations.Rejected, Err: err}
			continue
		}
		tbl, ok := t.c.Schema().Table(r.Table)
		if !ok {
			results[i] = migrations.WriteResult{Outcome: migrations.Rejected, Err: fmt.Errorf("unknown table %s", r.Table)}
			continue
		}
		rec, err := t.c.Get(ctx, r.Table, key, tbl.PrimaryID)
		switch {
		case dataverse.IsNotFound(err):
			results[i] = migrations.WriteResult{Outcome: migrations.Rejected,
				Err: fmt.Errorf("no Dataverse %s with %s: map the Odoo user to an existing user (users.map)", r.Table, r.Key)}
		case err != nil && fatal(ctx, err):
			return err
		case err != nil:
			results[i] = migrations.WriteResult{Outcome: migrations.Rejected, Err: err}
		default:
			results[i] = migrations.WriteResult{Outcome: migrations.Unchanged, ID: rec.String(tbl.PrimaryID)}
		}
	}
	return nil
}

// fatal reports errors that mean the batch's fate is unknown (cancelled,
// unauthorised, the service unreachable): the engine stops and a resume
// retries the batch.
func fatal(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	if dataverse.IsAuth(err) || dataverse.IsTransient(err) || dataverse.IsThrottled(err) {
		return true
	}
	if dataverse.StatusCode(err) >= 500 {
		// The service failed, not the record: stop, and let the resume
		// write the batch again rather than reject a good record.
		return true
	}
	// Transport errors (connection refused or reset) carry no status.
	return dataverse.StatusCode(err) == 0
}

// body is what is sent in the upsert: the record without writer
// instructions and without its state.
func body(r migrations.TargetRecord) dataverse.Record {
	out := dataverse.Record{}
	for k, v := range r.Fields {
		if strings.HasPrefix(k, "@dvsync.") || k == odoodv.ColState || k == odoodv.ColStatus {
			continue
		}
		out[k] = v
	}
	return out
}

func wantState(r migrations.TargetRecord) (state, status int, ok bool) {
	s, ok1 := r.Fields[odoodv.ColState].(int)
	st, ok2 := r.Fields[odoodv.ColStatus].(int)
	return s, st, ok1 && ok2
}

func (t *Target) upsert(ctx context.Context, table string, batch []migrations.TargetRecord, idx []int, results []migrations.WriteResult) error {
	items := make([]dataverse.Item, 0, len(idx))
	for n, i := range idx {
		key, err := dvKey(batch[i].Key)
		if err != nil {
			results[i] = migrations.WriteResult{Outcome: migrations.Rejected, Err: err}
			continue
		}
		items = append(items, dataverse.Item{Ref: int64(n), Key: key, Record: body(batch[i])})
	}
	var retry []int // closed cases to reactivate and rewrite
	err := t.c.WriteAll(ctx, table, slices.Values(items), dataverse.BatchOptions{Mode: dataverse.ModeUpsert, Workers: 1, BatchSize: len(items),
		// A resumed or repeated run reads before writing and leaves what
		// already matches alone (no write, no plug-in run, no audit entry).
		SkipUnchanged: true},
		func(res dataverse.Result) {
			i := idx[res.Ref]
			switch res.Outcome {
			case dataverse.OutcomeRejected:
				results[i] = migrations.WriteResult{Outcome: migrations.Rejected, Err: res.Err}
				if table == "incident" {
					retry = append(retry, i)
				}
			default:
				results[i] = migrations.WriteResult{Outcome: outcome(res.Outcome), ID: batch[i].Key.ID}
			}
		})
	if err != nil {
		return err
	}
	for _, i := range idx {
		if results[i].Outcome == migrations.Rejected {
			if fatal(ctx, results[i].Err) {
				return results[i].Err
			}
			continue
		}
		if err := t.applyState(ctx, batch[i]); err != nil {
			if fatal(ctx, err) {
				return err
			}
			results[i] = migrations.WriteResult{Outcome: migrations.Rejected, Err: fmt.Errorf("setting the state: %w", err)}
		}
	}
	for _, i := range retry {
		res, err := t.rewriteClosedCase(ctx, batch[i], results[i].Err)
		if err != nil && fatal(ctx, err) {
			return err
		}
		results[i] = res
	}
	return nil
}

func outcome(o dataverse.Outcome) migrations.Outcome {
	switch o {
	case dataverse.OutcomeCreated:
		return migrations.Created
	case dataverse.OutcomeUpdated:
		return migrations.Updated
	case dataverse.OutcomeUnchanged:
		return migrations.Unchanged
	}
	return migrations.Written
}

// applyState moves a written record to the state its mapping asks for. A
// case is resolved with CloseIncident (recording a Case Resolution with
// the Odoo close date); other states are a PATCH of statecode/statuscode.
func (t *Target) applyState(ctx context.Context, r migrations.TargetRecord) error {
	state, status, ok := wantState(r)
	if !ok {
		return nil
	}
	key, err := dvKey(r.Key)
	if err != nil {
		return err
	}
	if r.Table == "incident" && state == 1 {
		res := map[string]any{
			"subject":               r.Fields[odoodv.FieldResolutionSubject],
			"incidentid@odata.bind": "/incidents(" + r.Key.ID + ")",
		}
		if v, ok := r.Fields[odoodv.FieldResolvedOn]; ok {
			res["actualend"] = v
		}
		if res["subject"] == nil {
			res["subject"] = "Resolved"
		}
		// CloseIncident (ce/developer/reference/closeincident): the Case
		// Resolution activity and the resolved status reason. The client
		// does not retry actions; a 503 or 429 was not processed, so it is
		// retried here.
		params := map[string]any{"IncidentResolution": res, "Status": status}
		for attempt := 0; ; attempt++ {
			err = t.c.InvokeAction(ctx, "CloseIncident", params, nil)
			if err == nil || !dataverse.IsTransient(err) || attempt == 4 {
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(200<<attempt) * time.Millisecond):
			}
		}
		if err != nil && ctx.Err() == nil {
			// A response lost after the case was resolved: the retry or
			// the resume finds it resolved as wanted.
			if cur, gerr := t.c.Get(ctx, "incident", key, "statecode", "statuscode"); gerr == nil && sameState(cur, state, status) {
				return nil
			}
		}
		return err
	}
	return t.c.Update(ctx, r.Table, key, dataverse.Record{odoodv.ColState: state, odoodv.ColStatus: status}, nil)
}

func sameState(rec dataverse.Record, state, status int) bool {
	return migrations.EqualValues(rec[odoodv.ColState], state) && migrations.EqualValues(rec[odoodv.ColStatus], status)
}

// rewriteClosedCase handles a case whose upsert was refused: when it is
// resolved or cancelled (a re-run or resume) and already matches, it is
// unchanged; otherwise it is reactivated, rewritten and closed again. A
// case refused for another reason keeps the refusal.
func (t *Target) rewriteClosedCase(ctx context.Context, r migrations.TargetRecord, refusal error) (migrations.WriteResult, error) {
	key, err := dvKey(r.Key)
	if err != nil {
		return migrations.WriteResult{Outcome: migrations.Rejected, Err: err}, nil
	}
	cur, err := t.c.Get(ctx, "incident", key)
	if dataverse.IsNotFound(err) {
		return migrations.WriteResult{Outcome: migrations.Rejected, Err: refusal}, nil
	}
	if err != nil {
		return migrations.WriteResult{Outcome: migrations.Rejected, Err: err}, err
	}
	if migrations.EqualValues(cur[odoodv.ColState], 0) {
		return migrations.WriteResult{Outcome: migrations.Rejected, Err: refusal}, nil
	}
	if len(t.Compare(r, cur)) == 0 {
		return migrations.WriteResult{Outcome: migrations.Unchanged, ID: r.Key.ID}, nil
	}
	steps := []func() error{
		func() error {
			return t.c.Update(ctx, "incident", key, dataverse.Record{odoodv.ColState: 0, odoodv.ColStatus: 1}, nil)
		},
		func() error { _, err := t.c.Upsert(ctx, "incident", key, body(r)); return err },
		func() error { return t.applyState(ctx, r) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return migrations.WriteResult{Outcome: migrations.Rejected, Err: err}, err
		}
	}
	return migrations.WriteResult{Outcome: migrations.Updated, ID: r.Key.ID}, nil
}

// Lookup implements migrations.TargetReader: the records key addresses (a
// primary key addresses at most one).
func (t *Target) Lookup(ctx context.Context, table string, k migrations.Key) ([]map[string]any, error) {
	key, err := dvKey(k)
	if err != nil {
		return nil, err
	}
	rec, err := t.c.Get(ctx, table, key)
	if dataverse.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return []map[string]any{rec}, nil
}

// Count implements migrations.TableCounter: the table's records (paged
// through, since $count stops at 5,000) minus its baseline.
func (t *Target) Count(ctx context.Context, table string) (int64, error) {
	tbl, ok := t.c.Schema().Table(table)
	if !ok {
		return 0, fmt.Errorf("unknown table %s", table)
	}
	var n int64
	for _, err := range t.c.Records(ctx, table, dataverse.Query{Select: []string{tbl.PrimaryID}, PageSize: 5000}) {
		if err != nil {
			return 0, err
		}
		n++
	}
	if t.Baseline != nil {
		base, ok, err := t.Baseline(ctx, table)
		if err != nil {
			return 0, err
		}
		if ok {
			n -= base
		}
	}
	return n, nil
}

// Compare is migrations.DefaultCompare plus the links: each
// "<nav>@odata.bind" reference is checked against the lookup's value
// (_<column>_value), by ID, or, for users bound by email, by the user that
// email names. Create-only writer columns the service keeps under another
// name are compared as the service returns them.
func (t *Target) Compare(expected migrations.TargetRecord, actual map[string]any) []migrations.FieldDiff {
	diffs := migrations.DefaultCompare(expected, actual)
	tbl, ok := t.c.Schema().Table(expected.Table)
	if !ok {
		return diffs
	}
	for _, f := range slices.Sorted(maps.Keys(expected.Fields)) {
		nav, ok := strings.CutSuffix(f, "@odata.bind")
		if !ok {
			continue
		}
		col, _, ok := tbl.LookupByNavigation(nav)
		if !ok {
			continue
		}
		ref, _ := expected.Fields[f].(string)
		want, ok := t.refID(ref)
		if !ok {
			continue // a reference this comparison cannot resolve offline
		}
		got, _ := actual[col.ValueProperty()].(string)
		if !strings.EqualFold(got, want) {
			diffs = append(diffs, migrations.FieldDiff{Field: col.LogicalName, Expected: want, Actual: actual[col.ValueProperty()]})
		}
	}
	return diffs
}

// refID resolves "/set(guid)" and "/systemusers(internalemailaddress='x')".
func (t *Target) refID(ref string) (string, bool) {
	open, close := strings.IndexByte(ref, '('), strings.LastIndexByte(ref, ')')
	if open < 0 || close < open {
		return "", false
	}
	inner := ref[open+1 : close]
	if id, err := uuid.Parse(inner); err == nil {
		return id.String(), true
	}
	email, ok := strings.CutPrefix(inner, "internalemailaddress='")
	if !ok || !strings.HasSuffix(email, "'") {
		return "", false
	}
	email = strings.ReplaceAll(strings.TrimSuffix(email, "'"), "''", "'")
	t.mu.Lock()
	id, ok := t.users[email]
	t.mu.Unlock()
	if ok {
		return id.String(), true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rec, err := t.c.Get(ctx, "systemuser", dataverse.ByKey("internalemailaddress", email), "systemuserid")
	if err != nil {
		return "", false
	}
	id, err = uuid.Parse(rec.String("systemuserid"))
	if err != nil {
		return "", false
	}
	t.mu.Lock()
	t.users[email] = id
	t.mu.Unlock()
	return id.String(), true
}
