// Package sink is the one writer of mapped records to Dataverse. Every job
// that writes to Dataverse (migrate odoo, usd migrate, push, and sync and
// compare after them) writes through a Sink, so batching, idempotent
// addressing, state transitions, match-only lookups, unchanged detection,
// N:N links, read-back for verify and table counts exist once.
//
// A Sink implements migrations.Target (Write), migrations.TargetReader
// (Lookup) and migrations.TableCounter (Count), and its Compare is the
// migrations.CompareFunc that verify uses. Package sinktest holds any
// target to the same behaviours.
//
// How Dataverse wants each thing done, and where Microsoft says so:
//   - Records are upserts addressed by a deterministic ID or an alternate
//     key (use-upsert-insert-update-record.md), sent as UpsertMultiple where
//     the table has it and as $batch otherwise (bulk-operations.md;
//     execute-batch-operations-using-web-api.md), so a batch written twice
//     after a crash leaves one record.
//   - A state is a transition, not a column: a record is written first and
//     then moved to its state (update-delete-entities-using-web-api.md,
//     "Update state"). A case is resolved only through the CloseIncident
//     action (reference/closeincident), and a resolved or cancelled case is
//     read-only until reactivated, so changing one reactivates it, writes it
//     and closes it again; the cases of a batch are read before they are
//     written, so a closed one is never sent to be refused.
//   - A batch with records to move to a state or to link is read once
//     before it is written (one In query per 100, expanding the links):
//     a record that holds its columns is not sent, what differs is written
//     without the client reading it again, and the moves and links start
//     from the states and links read, so an unchanged batch costs that
//     one read.
//   - A batch's moves go out together: the PATCHes of statecode and
//     statuscode as one $batch and the CloseIncident actions as another
//     (independent requests with odata.continue-on-error,
//     execute-batch-operations-using-web-api.md), each record's refusal
//     its own; closed cases rewritten side by side within
//     Options.Concurrency.
//   - Moving a record to the state it already has, or closing a case that a
//     lost response already closed, is no change: it is reported unchanged,
//     never rejected.
//   - N:N links are POST …/<relationship>/$ref
//     (associate-disassociate-entities-using-web-api.md); a link that exists
//     is no change. The links a batch already has are read with one query
//     ($expand of the relationships, query/join-tables.md), by a write (in
//     the read before it), a plan and verify alike.
//
// Failures are classified by the client (dataverse.Classify): a record's
// own refusal rejects that record; anything else stops the run (Write
// returns the error) and a resume writes the batch again. The Sink never
// retries: the client's one retry policy already did.
package sink

import (
	"cmp"
	"context"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/schema"
	"github.com/dvsync/dvsync/migrations"
)

// Options configure a Sink. The zero value is ready to use.
type Options struct {
	// Baseline, when set, gives a table's record count before the first
	// run, so Count reports only the records the job added.
	Baseline func(ctx context.Context, table string) (int64, bool, error)
	// DisableBulk writes with $batch even where bulk messages exist.
	DisableBulk bool
	// WriteUnchanged sends every record, even one that already holds the
	// values to write. By default the sink reads each batch first and
	// leaves what matches alone: no write, no plug-in run, no audit entry.
	WriteUnchanged bool
	// Concurrency is the number of requests one batch sends at once where
	// Dataverse takes one request per record (a closed case reopened,
	// written and closed again, an N:N link); default DefaultConcurrency.
	// The client's limiter still caps every request.
	Concurrency int
}

// DefaultConcurrency is Options.Concurrency's default.
const DefaultConcurrency = 8

// Sink writes mapped records to one Dataverse environment. It is safe for
// concurrent use; the engine writes several batches at once.
type Sink struct {
	c *dataverse.Client
	o Options

	mu sync.Mutex
	// binds caches the IDs of records bound by alternate key
	// ("/systemusers(internalemailaddress='a@b')"), for comparisons.
	binds     map[string]string
	bindReads singleflight.Group
	// rels holds the N:N relationships links of each table have named.
	rels map[string]relTables
	// back holds the batches LookupBatch read back, by table and record
	// ID, and backs the same oldest first, with backN records in all (see
	// remember).
	back  map[string]*readBack
	backs []*readBack
	backN int
}

var (
	_ migrations.Target       = (*Sink)(nil)
	_ migrations.TargetReader = (*Sink)(nil)
	_ migrations.TableCounter = (*Sink)(nil)
)

// New returns a Sink writing through c. o may be nil.
func New(c *dataverse.Client, o *Options) *Sink {
	s := &Sink{c: c, binds: map[string]string{}, rels: map[string]relTables{}, back: map[string]*readBack{}}
	if o != nil {
		s.o = *o
	}
	return s
}

// WriteItems streams records that need no mapping (a file `dvsync push`
// reads, prepared by a Preparer) into table, in batches, with o's mode,
// and calls report once per item. It is the sink's path for records that
// carry no instructions: the same batching, addressing and unchanged
// detection as Write, without the engine's checkpoints. Like
// dataverse.Client.WriteAll it returns an error only when the run cannot
// go on, after reporting every item.
func (s *Sink) WriteItems(ctx context.Context, table string, items iter.Seq[dataverse.Item], o dataverse.BatchOptions, report func(dataverse.Result)) error {
	if s.o.DisableBulk {
		o.DisableBulk = true
	}
	return s.c.WriteAll(ctx, table, items, o, report)
}

// Client returns the client the sink writes through.
func (s *Sink) Client() *dataverse.Client { return s.c }

// Write implements migrations.Target. Records are written table by table
// in the order the tables first appear in the batch (a case before its
// queue item, so one may bind to the other), each table in one batched
// call, then moved to their states and linked.
func (s *Sink) Write(ctx context.Context, batch []migrations.TargetRecord) ([]migrations.WriteResult, error) {
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
		tbl, err := s.c.Table(ctx, table)
		if err != nil {
			if dataverse.Classify(err).StopsRun() {
				return nil, err
			}
			for _, i := range byTable[table] {
				results[i] = reject(fmt.Errorf("table %s: %w", table, err))
			}
			continue
		}
		var match, write []int
		for _, i := range byTable[table] {
			if batch[i].MatchOnly {
				match = append(match, i)
			} else {
				write = append(write, i)
			}
		}
		if err := s.match(ctx, tbl, batch, match, results); err != nil {
			return nil, err
		}
		if err := s.upsert(ctx, tbl, batch, write, results); err != nil {
			return nil, err
		}
	}
	return results, nil
}

// parallel calls f(ctx, k) for k in [0, n), within the sink's concurrency.
// f records a record's own failure itself and returns only an error that
// stops the run; the first such error cancels the others and is returned.
func (s *Sink) parallel(ctx context.Context, n int, f func(ctx context.Context, k int) error) error {
	if n == 1 {
		return f(ctx, 0)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cmp.Or(max(s.o.Concurrency, 0), DefaultConcurrency))
	for k := range n {
		g.Go(func() error { return f(gctx, k) })
	}
	return g.Wait()
}

func reject(err error) migrations.WriteResult {
	return migrations.WriteResult{Outcome: migrations.Rejected, Err: err}
}

// stops reports an error the run cannot go past (see dataverse.Class).
func stops(err error) bool { return err != nil && dataverse.Classify(err).StopsRun() }

// Key converts an engine key to a client key. A key with both an ID and
// alternate-key values addresses the record by the alternate key; the ID
// is then written as the primary key column (see item).
func Key(k migrations.Key) (dataverse.Key, error) {
	if len(k.Alternate) > 0 {
		return dataverse.Key{Alternate: maps.Clone(k.Alternate)}, nil
	}
	if k.ID == "" {
		return dataverse.Key{}, fmt.Errorf("record has no key")
	}
	id, err := uuid.Parse(k.ID)
	if err != nil {
		return dataverse.Key{}, fmt.Errorf("key %q is not a GUID", k.ID)
	}
	return dataverse.ByID(id), nil
}

// match looks records up by key instead of writing them.
func (s *Sink) match(ctx context.Context, tbl *schema.Table, batch []migrations.TargetRecord, idx []int, results []migrations.WriteResult) error {
	for _, i := range idx {
		r := batch[i]
		key, err := Key(r.Key)
		if err != nil {
			results[i] = reject(err)
			continue
		}
		rec, err := s.c.Get(ctx, tbl.LogicalName, key, tbl.PrimaryID)
		switch {
		case dataverse.IsNotFound(err):
			results[i] = reject(fmt.Errorf("no Dataverse %s with %s: it is matched, never created, so it must exist already (map the source record to an existing one, e.g. users.map)", tbl.LogicalName, r.Key))
		case stops(err):
			return err
		case err != nil:
			results[i] = reject(err)
		default:
			results[i] = migrations.WriteResult{Outcome: migrations.Unchanged, ID: rec.String(tbl.PrimaryID)}
		}
	}
	return nil
}

// body is what is sent in the upsert: the columns, plus the primary key
// when the record is addressed by alternate key but created with an ID.
func body(tbl *schema.Table, r migrations.TargetRecord) dataverse.Record {
	out := make(dataverse.Record, len(r.Fields)+1)
	for k, v := range r.Fields {
		out[k] = v
	}
	if r.Key.ID != "" && len(r.Key.Alternate) > 0 {
		out[tbl.PrimaryID] = r.Key.ID
	}
	return out
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

func (s *Sink) upsert(ctx context.Context, tbl *schema.Table, batch []migrations.TargetRecord, idx []int, results []migrations.WriteResult) error {
	if len(idx) == 0 {
		return nil
	}
	pre, err := s.prefetch(ctx, tbl, batch, idx)
	if err != nil {
		return err
	}
	closed, known := pre.closed, pre.known
	items := make([]dataverse.Item, 0, len(idx))
	settled := true // every record sent was read by prefetch
	for n, i := range idx {
		if closed[i] != nil {
			continue
		}
		if id, ok := pre.same[i]; ok {
			results[i] = migrations.WriteResult{Outcome: migrations.Unchanged, ID: id}
			continue
		}
		key, err := Key(batch[i].Key)
		if err != nil {
			results[i] = reject(err)
			continue
		}
		items = append(items, dataverse.Item{Ref: int64(n), Key: key, Record: body(tbl, batch[i])})
		settled = settled && pre.settled[i]
	}
	var refused []int // records whose write was refused: perhaps a closed case
	err = s.c.WriteAll(ctx, tbl.LogicalName, slices.Values(items), dataverse.BatchOptions{Mode: dataverse.ModeUpsert,
		// The engine already runs several batches at once. What the
		// client's read before writing would find, prefetch read.
		Workers: 1, BatchSize: len(items), DisableBulk: s.o.DisableBulk, SkipUnchanged: !s.o.WriteUnchanged && !settled},
		func(res dataverse.Result) {
			i := idx[res.Ref]
			if res.Outcome == dataverse.OutcomeRejected {
				results[i] = reject(res.Err)
				if !stops(res.Err) && batch[i].State != nil {
					refused = append(refused, i)
				}
				return
			}
			w := migrations.WriteResult{Outcome: outcome(res.Outcome), ID: batch[i].Key.ID}
			if res.ID != uuid.Nil {
				w.ID = res.ID.String()
			}
			results[i] = w
		})
	if err != nil {
		return err
	}
	for _, i := range idx {
		if results[i].Outcome == migrations.Rejected && stops(results[i].Err) {
			return results[i].Err
		}
	}
	if err := s.resolveIDs(ctx, tbl, batch, idx, results); err != nil {
		return err
	}
	// The closed records, read so or refused: each one's steps follow each
	// other; the records go side by side.
	reopen := slices.Sorted(maps.Keys(closed))
	reopen = append(reopen, refused...)
	rewrites := make([]reopened, len(reopen))
	err = s.parallel(ctx, len(reopen), func(ctx context.Context, k int) error {
		i := reopen[k]
		var rw reopened
		var err error
		if cur := closed[i]; cur != nil {
			rw, err = s.rewrite(ctx, tbl, batch[i], cur)
		} else {
			rw, err = s.rewriteClosed(ctx, tbl, batch[i], results[i].Err)
		}
		if stops(err) {
			return err
		}
		rewrites[k] = rw
		return nil
	})
	if err != nil {
		return err
	}
	rewritten := map[int]bool{}
	for k, i := range reopen {
		results[i] = rewrites[k].res
		if from := rewrites[k].from; from != nil {
			if known == nil {
				known = map[string]current{}
			}
			known[strings.ToLower(results[i].ID)] = *from
			continue
		}
		rewritten[i] = true
	}
	var moving []int
	for _, i := range idx {
		if results[i].Outcome != migrations.Rejected && batch[i].State != nil && !rewritten[i] {
			moving = append(moving, i)
		}
	}
	if err := s.moveStates(ctx, tbl, batch, moving, results, known); err != nil {
		return err
	}
	return s.link(ctx, tbl, batch, idx, results, pre.links)
}

// resolveIDs reads back the primary keys of records written by alternate
// key whose write did not report an ID (UpsertMultiple and 204 upserts do
// not): later steps bind to them through the ID map, and states and links
// address them. One $filter=Microsoft.Dynamics.CRM.In(...) query per 100
// records of a one-column key, one query per record otherwise.
func (s *Sink) resolveIDs(ctx context.Context, tbl *schema.Table, batch []migrations.TargetRecord, idx []int, results []migrations.WriteResult) error {
	byCol := map[string][]int{}
	for _, i := range idx {
		if results[i].Outcome == migrations.Rejected || results[i].ID != "" {
			continue
		}
		k := batch[i].Key
		if k.ID != "" {
			results[i].ID = k.ID
			continue
		}
		if len(k.Alternate) == 1 {
			col := slices.Collect(maps.Keys(k.Alternate))[0]
			byCol[col] = append(byCol[col], i)
			continue
		}
		rows, err := s.Lookup(ctx, tbl.LogicalName, k)
		if err != nil {
			return fmt.Errorf("reading back %s %s: %w", tbl.LogicalName, k, err)
		}
		if len(rows) == 1 {
			results[i].ID = dataverse.Record(rows[0]).String(tbl.PrimaryID)
		}
	}
	for _, col := range slices.Sorted(maps.Keys(byCol)) {
		ids := map[string]string{}
		// In chunks, to keep the GET URL well under Dataverse's limit of
		// 32,768 characters (query-data-web-api.md).
		for chunk := range slices.Chunk(byCol[col], 100) {
			values := make([]any, 0, len(chunk))
			for _, i := range chunk {
				values = append(values, batch[i].Key.Alternate[col])
			}
			q := dataverse.Query{Select: []string{tbl.PrimaryID, col}, Filter: dataverse.In(col, values...)}
			for rec, err := range s.c.Records(ctx, tbl.LogicalName, q) {
				if err != nil {
					return fmt.Errorf("reading back %s IDs: %w", tbl.LogicalName, err)
				}
				ids[strings.ToLower(fmt.Sprint(rec[col]))] = rec.String(tbl.PrimaryID)
			}
		}
		for _, i := range byCol[col] {
			results[i].ID = ids[strings.ToLower(fmt.Sprint(batch[i].Key.Alternate[col]))]
		}
	}
	return nil
}

// recordKey addresses a written record: by its ID when known.
func recordKey(r migrations.TargetRecord, res migrations.WriteResult) (dataverse.Key, error) {
	if res.ID != "" {
		if id, err := uuid.Parse(res.ID); err == nil {
			return dataverse.ByID(id), nil
		}
	}
	return Key(r.Key)
}

var _ migrations.Planner = (*Sink)(nil)

// Plan implements migrations.Planner: what Write would do with batch,
// read from the environment without writing. A record that does not exist
// would be created; one that exists would be updated, or is unchanged
// when it holds the values, the state and the links asked for; a
// match-only record is unchanged when it exists and rejected when it does
// not.
func (s *Sink) Plan(ctx context.Context, batch []migrations.TargetRecord) ([]migrations.WriteResult, error) {
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
		tbl, err := s.c.Table(ctx, table)
		if err != nil {
			if stops(err) {
				return nil, err
			}
			for _, i := range byTable[table] {
				results[i] = reject(fmt.Errorf("table %s: %w", table, err))
			}
			continue
		}
		var match, write []int
		for _, i := range byTable[table] {
			if batch[i].MatchOnly {
				match = append(match, i)
			} else {
				write = append(write, i)
			}
		}
		if err := s.match(ctx, tbl, batch, match, results); err != nil {
			return nil, err
		}
		items := make([]dataverse.Item, 0, len(write))
		for n, i := range write {
			key, err := Key(batch[i].Key)
			if err != nil {
				results[i] = reject(err)
				continue
			}
			items = append(items, dataverse.Item{Ref: int64(n), Key: key, Record: body(tbl, batch[i])})
		}
		preview, err := s.c.Preview(ctx, table, items, dataverse.BatchOptions{Mode: dataverse.ModeUpsert})
		if err != nil {
			return nil, err
		}
		var moving []int
		for _, p := range preview {
			i := write[p.Ref]
			results[i] = migrations.WriteResult{Outcome: outcome(p.Outcome), ID: batch[i].Key.ID}
			if p.Outcome == dataverse.OutcomeUnchanged && batch[i].State != nil && batch[i].Key.ID != "" {
				moving = append(moving, i)
			}
		}
		// Columns unchanged but the state not yet the one asked for: a
		// run would move it.
		ids := make([]string, len(moving))
		for n, i := range moving {
			ids[n] = batch[i].Key.ID
		}
		cur, err := s.states(ctx, tbl, ids)
		if err != nil {
			return nil, err
		}
		for _, i := range moving {
			if st, ok := cur[strings.ToLower(batch[i].Key.ID)]; !ok || !st.is(batch[i].State) {
				results[i].Outcome = migrations.Updated
			}
		}
		// Columns and state unchanged but a link not made yet: a run
		// would make it.
		var linked []int
		var checks []linkCheck
		for _, i := range write {
			if results[i].Outcome != migrations.Unchanged || len(batch[i].Links) == 0 {
				continue
			}
			key, err := recordKey(batch[i], results[i])
			if err != nil {
				continue // Write rejects it the same way
			}
			linked = append(linked, i)
			checks = append(checks, linkCheck{key: key, id: results[i].ID, links: batch[i].Links})
		}
		missing, errs, err := s.missingLinks(ctx, tbl, checks)
		if err != nil {
			return nil, err
		}
		for k, i := range linked {
			if errs[k] != nil || len(missing[k]) > 0 {
				results[i].Outcome = migrations.Updated
			}
		}
	}
	return results, nil
}
