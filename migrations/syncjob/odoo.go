package syncjob

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/sink"
	"github.com/dvsync/dvsync/mapping/odoodv"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/odoojob"
	"github.com/dvsync/dvsync/odoo"
	"github.com/dvsync/dvsync/odoo/helpdesk"
)

// Odoo → Dataverse: the migration of `dvsync migrate odoo` (the same map
// file, the same job, the same ID map when given the same state file) run
// again and again. The steps that stream a model (customers, cases, SLA
// outcomes, notes, articles) read it by a (write_date, id) cursor instead
// of by id, so edited records are carried as well as new ones, and the
// sink leaves re-read records that did not change alone. A note names its
// author, so the messages of partners changed since the last run are read
// again too. The small lists
// read up front (teams, users, tags, SLA policies) keep their id cursors:
// new ones are carried, edits of old ones are not. Deleted tickets are
// found by comparing the ticket ids Odoo holds with those seen before (a
// count first, when it shows that none is gone), and their cases are
// cancelled, deleted (with their SLA KPI instances, as
// Odoo deletes the ticket's SLA statuses) or kept as the job file's
// deleted_tickets says. Other deletions (a message, an SLA status on its
// own) are not carried.
//
// Odoo stamps write_date with the transaction's start, so a transaction
// still open when a run read past its rows commits them dated before that
// run's cursor (research notes airbyte#9668, NangoHQ PR #598). The next run
// therefore reads again from the previous run's start minus the job's
// overlap, the longest a transaction is expected to stay open, when the
// cursor is later than that; once the cursor is older, nothing can still
// commit behind it and the read starts exactly after it, so a quiet model
// is not read again run after run. The start is on the sync's clock and
// write_date on Odoo's: the two must agree to within the overlap.
//
// Every streamed step of one run reads up to the same bound, the newest
// write_date Odoo held when the run began, so the steps see one moment of
// the database: a ticket written while the run is under way, for a
// customer created after the customers step read, waits for the next run
// instead of being rejected for want of its customer. Only records dated
// in the bound's own second can still meet a dependency the run missed
// (their transactions can have begun after the earlier step read); they
// are at most the cursor, so the next run reads them again.

// Ways to handle the case of a deleted Odoo ticket (job file
// deleted_tickets).
const (
	DeletedCancel = "cancel"
	DeletedDelete = "delete"
	DeletedKeep   = "keep"
)

// cursorPrefix marks a checkpoint written by a write_date cursor; any
// other checkpoint (an id from `migrate odoo`) makes the first sync read
// every record of the step once.
const cursorPrefix = "wd:"

// changeRead is how an Odoo sync reads changed records.
type changeRead struct {
	overlap  time.Duration
	pageSize int
	// bound is the newest write_date at the start of the run; zero when
	// the models were empty.
	bound time.Time
	// start is when the run began, on the sync's clock; cursors carry it.
	start time.Time
}

// odooCursor is a step checkpoint "wd:<write_date>|<id>|<run start>"; the
// run start is absent from checkpoints written before it was kept.
type odooCursor struct {
	wd    time.Time
	id    int
	start time.Time
}

func parseOdooCursor(s string) (odooCursor, bool, error) {
	rest, ok := strings.CutPrefix(s, cursorPrefix)
	if !ok {
		return odooCursor{}, false, nil
	}
	parts := strings.Split(rest, "|")
	var c odooCursor
	var err error
	if c.wd, err = time.Parse(time.RFC3339, parts[0]); err != nil {
		return c, false, err
	}
	if len(parts) > 1 {
		if c.id, err = strconv.Atoi(parts[1]); err != nil {
			return c, false, err
		}
	}
	if len(parts) > 2 {
		if c.start, err = time.Parse(time.RFC3339, parts[2]); err != nil {
			return c, false, err
		}
	}
	return c, true, nil
}

func (c odooCursor) String() string {
	s := cursorPrefix + c.wd.UTC().Format(time.RFC3339) + "|" + strconv.Itoa(c.id)
	if !c.start.IsZero() {
		s += "|" + c.start.UTC().Format(time.RFC3339)
	}
	return s
}

// since is where a read after cursor c starts.
func (c odooCursor) since(overlap time.Duration) odoo.Watermark {
	if c.start.IsZero() {
		return odoo.Watermark{WriteDate: c.wd.Add(-overlap)}
	}
	settled := c.start.Add(-overlap).Truncate(time.Second)
	if c.wd.Before(settled) {
		// Every transaction open when that run began has committed by
		// now and was dated after settled: exactly after the cursor.
		return odoo.Watermark{WriteDate: c.wd, ID: c.id}
	}
	// ID 0: the whole second of settled is read again, for rows written
	// in it after the read passed.
	return odoo.Watermark{WriteDate: settled}
}

// changes reads model in (write_date, id) order after a cursor (see
// odooCursor.since) up to the run's bound. A model the flavour lacks
// yields nothing.
func changes[T any](cr changeRead, model string, read func(context.Context, helpdesk.Query) iter.Seq2[T, error], id func(T) int, raw func(T) odoo.Record, domain odoo.Domain) migrations.Source {
	return migrations.SourceFunc(func(ctx context.Context, cursor string) iter.Seq2[migrations.SourceRecord, error] {
		return func(yield func(migrations.SourceRecord, error) bool) {
			since := odoo.Watermark{}
			c, ok, err := parseOdooCursor(cursor)
			if err != nil {
				yield(migrations.SourceRecord{}, fmt.Errorf("bad %s checkpoint %q", model, cursor))
				return
			}
			if ok {
				since = c.since(cr.overlap)
			}
			d := domain
			if !cr.bound.IsZero() {
				d = odoo.And(d, odoo.Cond("write_date", odoo.Le, odoo.FormatDatetime(cr.bound)))
			}
			q := helpdesk.Query{Since: &since, Archived: true, PageSize: cr.pageSize, Domain: d}
			read0 := false
			for v, err := range read(ctx, q) {
				if errors.Is(err, helpdesk.ErrNotInstalled) {
					return
				}
				if err != nil {
					yield(migrations.SourceRecord{}, err)
					return
				}
				wm, err := raw(v).Watermark()
				if err != nil {
					yield(migrations.SourceRecord{}, fmt.Errorf("%s %d: %w", model, id(v), err))
					return
				}
				next := odooCursor{wd: wm.WriteDate, id: id(v), start: cr.start}
				rec := migrations.SourceRecord{ID: strconv.Itoa(id(v)), Cursor: next.String(),
					Data: map[string]any{"model": model, "record": raw(v)}, Value: v}
				read0 = true
				if !yield(rec, nil) {
					return
				}
			}
			if ok && !read0 && !cr.start.IsZero() {
				// Nothing changed: the position stays, and this run's start
				// becomes the cursor's, as if a record had been read. Every
				// row dated before the start minus the overlap was committed
				// and read by now, so the next run need not look back past it.
				c.start = cr.start
				yield(migrations.SourceRecord{Cursor: c.String()}, nil)
			}
		}
	})
}

// changeBound is the newest write_date among the models the run streams.
func changeBound(ctx context.Context, c *odoo.Client, models ...string) (time.Time, error) {
	var bound time.Time
	for _, model := range models {
		if model == "" {
			continue
		}
		recs, err := c.SearchRead(ctx, model, odoo.Query{Fields: []string{"write_date"}, Order: "write_date desc, id desc", Limit: 1,
			Context: odoo.Context{}.WithArchived()})
		if err != nil {
			return time.Time{}, fmt.Errorf("reading the newest write_date of %s: %w", model, err)
		}
		if len(recs) == 0 {
			continue
		}
		wm, err := recs[0].Watermark()
		if err != nil {
			return time.Time{}, fmt.Errorf("%s %d: %w", model, recs[0].ID(), err)
		}
		if wm.WriteDate.After(bound) {
			bound = wm.WriteDate
		}
	}
	return bound, nil
}

// activeByDefault is the state the mapping leaves out because a new record
// starts in it (reference/entities/incident, account, contact: statecode
// 0 Active, statuscode 1). A sync writes it out: a case resolved or a
// customer archived by an earlier run and re-opened in Odoo since must be
// moved back, and the sink only moves a record to a state it is given.
var activeByDefault = map[string]migrations.State{"incident": {Code: 0, Reason: 1}, "account": {Code: 0, Reason: 1}, "contact": {Code: 0, Reason: 1}}

func reopening(m migrations.MapFunc) migrations.MapFunc {
	return func(rec migrations.SourceRecord, ids migrations.IDs) migrations.MapResult {
		res := m(rec, ids)
		for i := range res.Records {
			r := &res.Records[i]
			if st, ok := activeByDefault[r.Table]; ok && r.State == nil && !r.MatchOnly {
				r.State = &st
			}
		}
		return res
	}
}

// withRenamedAuthors reads, before the messages changed since the
// cursor, every message of an author (a partner) changed since then: a
// note's text names its author, and renaming a partner does not touch
// the write_date of their messages. They carry no cursor, so a resume
// reads them again rather than skipping the changed messages after them.
func withRenamedAuthors(cr changeRead, r *helpdesk.Reader, changed migrations.Source) migrations.Source {
	return migrations.SourceFunc(func(ctx context.Context, cursor string) iter.Seq2[migrations.SourceRecord, error] {
		return func(yield func(migrations.SourceRecord, error) bool) {
			c, ok, err := parseOdooCursor(cursor)
			if err != nil {
				yield(migrations.SourceRecord{}, fmt.Errorf("bad %s checkpoint %q", r.Models.Message, cursor))
				return
			}
			if ok {
				// A partner changed after the last run read the messages may
				// have been renamed: its write_date is at or after that run's
				// start minus the overlap (before it, the change was committed
				// and seen by that run).
				since := c.wd.Add(-cr.overlap)
				if !c.start.IsZero() {
					since = c.start.Add(-cr.overlap).Truncate(time.Second)
				}
				d := odoo.Cond("write_date", odoo.Ge, odoo.FormatDatetime(since))
				if !cr.bound.IsZero() {
					d = odoo.And(d, odoo.Cond("write_date", odoo.Le, odoo.FormatDatetime(cr.bound)))
				}
				authors, err := r.Client().Search(ctx, r.Models.Partner, odoo.Query{Domain: d, Context: odoo.Context{}.WithArchived()})
				if err != nil {
					yield(migrations.SourceRecord{}, fmt.Errorf("reading the partners changed since %s: %w", since.Format(time.RFC3339), err))
					return
				}
				for chunk := range slices.Chunk(authors, 1000) {
					q := helpdesk.Query{Archived: true, PageSize: cr.pageSize, Domain: odoo.Cond("author_id", odoo.In, anySlice(chunk))}
					for m, err := range r.TicketMessages(ctx, q) {
						if err != nil {
							yield(migrations.SourceRecord{}, err)
							return
						}
						rec := migrations.SourceRecord{ID: strconv.Itoa(m.ID), Data: map[string]any{"model": r.Models.Message, "record": m.Raw}, Value: m}
						if !yield(rec, nil) {
							return
						}
					}
				}
			}
			for rec, err := range changed.Records(ctx, cursor) {
				if !yield(rec, err) || err != nil {
					return
				}
			}
		}
	})
}

func anySlice(ids []int) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

// syncSteps re-points the migration's streamed steps at write_date
// cursors.
func syncSteps(job *migrations.Job, r *helpdesk.Reader, cr changeRead) error {
	partners := func(company bool) migrations.Source {
		return changes(cr, r.Models.Partner, r.Partners, func(p helpdesk.Partner) int { return p.ID }, func(p helpdesk.Partner) odoo.Record { return p.Raw },
			odoo.Cond("is_company", odoo.Eq, company))
	}
	sources := map[string]migrations.Source{
		odoodv.StepAccounts: partners(true),
		odoodv.StepContacts: partners(false),
		odoodv.StepCases: changes(cr, r.Models.Ticket, r.Tickets, func(t helpdesk.Ticket) int { return t.ID },
			func(t helpdesk.Ticket) odoo.Record { return t.Raw }, odoo.Domain{}),
		odoodv.StepSLAOutcomes: changes(cr, r.Models.SLAStatus, r.SLAStatuses, func(s helpdesk.SLAStatus) int { return s.ID },
			func(s helpdesk.SLAStatus) odoo.Record { return s.Raw }, odoo.Domain{}),
		odoodv.StepNotes: withRenamedAuthors(cr, r, changes(cr, r.Models.Message, r.TicketMessages, func(m helpdesk.Message) int { return m.ID },
			func(m helpdesk.Message) odoo.Record { return m.Raw }, odoo.Domain{})),
		odoodv.StepArticles: changes(cr, r.Models.Article, r.Articles, func(a helpdesk.Article) int { return a.ID },
			func(a helpdesk.Article) odoo.Record { return a.Raw }, odoo.Domain{}),
	}
	for _, s := range job.Steps {
		if src, ok := sources[s.Name]; ok {
			s.Source = src
			s.Map = reopening(s.Map)
			delete(sources, s.Name)
		}
	}
	if _, missing := sources[odoodv.StepCases]; missing {
		return fmt.Errorf("the Odoo job has no %s step", odoodv.StepCases)
	}
	return nil
}

// cursorSteps are the steps whose summary says they read by write_date.
var cursorSteps = map[string]bool{odoodv.StepAccounts: true, odoodv.StepContacts: true, odoodv.StepCases: true,
	odoodv.StepSLAOutcomes: true, odoodv.StepNotes: true, odoodv.StepArticles: true}

func (r *runner) runOdoo(ctx context.Context) error {
	o, job := r.o, r.job
	m, err := odoojob.LoadMap(job.Map)
	if err != nil {
		return err
	}
	// The bound is read before the reference lists (teams, users, ...),
	// so a record naming one created after them is past the bound too;
	// the start before the bound.
	start := o.Now().UTC()
	r0, err := helpdesk.Detect(ctx, o.Odoo)
	if err != nil {
		return err
	}
	md := r0.Models
	bound, err := changeBound(ctx, o.Odoo, md.Partner, md.Ticket, md.SLAStatus, md.Message, md.Article)
	if err != nil {
		return err
	}
	p, err := odoojob.Prepare(ctx, odoojob.Config{Odoo: o.Odoo, Database: job.Source.Odoo.DB, Dataverse: o.TargetClient, Map: m,
		Store: o.EngineStore, PageSize: job.PageSize})
	if err != nil {
		return err
	}
	if err := syncSteps(p.Job, p.Reader, changeRead{overlap: job.Overlap, pageSize: job.PageSize, bound: bound, start: start}); err != nil {
		return err
	}
	run := migrations.Run
	if o.DryRun {
		// As `dvsync migrate odoo --dry-run`: every step read from its
		// checkpoint and mapped, the target asked what it would change,
		// nothing written (checkpoints, ID map, journal included).
		run = migrations.Plan
	} else if err := odoojob.RecordBaselines(ctx, p, o.EngineStore); err != nil {
		// As `dvsync migrate odoo` does: the target's counts before the
		// first run, so `dvsync verify` tells the records the job wrote
		// from those that were there.
		return err
	}
	req0, thr0 := o.Counter.Counts()
	msum, runErr := run(ctx, p.Job, migrations.RunOptions{Store: o.EngineStore, Rejects: o.Rejects})
	if msum != nil {
		for _, s := range msum.Steps {
			ts := TableSummary{Table: s.Step, Mode: "odoo id cursor", DurationSeconds: s.Duration.Seconds()}
			if cursorSteps[s.Step] {
				ts.Mode = "odoo write_date cursor"
			}
			c := s.Counts
			ts.Read, ts.Upserted, ts.Unchanged, ts.Rejected, ts.Skipped = c.Read, c.TotalWritten(), c.Unchanged, c.Rejected, c.Skipped
			if o.DryRun {
				ts.Created, ts.Updated = c.Created, c.Updated
			}
			if s.Status != migrations.StatusSucceeded {
				ts.Error = "step " + string(s.Status)
			}
			r.sum.Tables = append(r.sum.Tables, ts)
		}
	}
	req1, thr1 := o.Counter.Counts()
	if len(r.sum.Tables) > 0 {
		// Requests are counted for the whole engine run, on its first step.
		r.sum.Tables[0].Requests, r.sum.Tables[0].Throttled = req1-req0, thr1-thr0
	}
	if runErr != nil {
		return runErr
	}
	return r.deletedTickets(ctx, p)
}

// Deleted tickets. Odoo says nothing of a deleted record, so the job
// keeps the set K of ticket ids it has seen (the state store's keys of
// helpdesk.ticket) with M, its greatest id, and T, when K was last
// brought up to date, and a run looks for the members of K Odoo no longer
// holds. Comparing every id Odoo holds with K (a full comparison) reads
// and stamps every ticket id each run: 1.7 s at 100,000 tickets. A run
// first tries to show, with a count and a short read, that no member of K
// is gone:
//
//   - Odoo numbers records from a PostgreSQL sequence, which never gives
//     an id twice, and stamps create_date itself with the start of the
//     creating transaction, as it does write_date: both are among the
//     LOG_ACCESS_COLUMNS of odoo/models.py, which "Odoo manages
//     exclusively" (odoo.com forum, "What are the magic columns"), and it
//     "drops any value given for them" (PyPI, odoo-addon-import-metadata,
//     a module that lets an administrator set them on import: a job whose
//     Odoo runs such imports breaks this assumption, as it breaks the
//     write_date cursors). The job assumes too, as its cursors do, that no
//     transaction stays open longer than its overlap and that the two
//     clocks agree within it.
//   - So every ticket with id ≤ M that Odoo holds and K lacks was created
//     by a transaction still open when K was brought up to date: its
//     create_date is at or after S = T - overlap (to the second). This
//     holds after a full comparison (every page of ids read at or after T
//     returns every id committed before T), and a run that adds to K the
//     tickets with id ≤ M created since S and every id above M keeps it
//     true for its own T (a ticket missing from either read was not yet
//     committed when read, so its transaction began after that run's T
//     less the overlap).
//   - Hence every ticket with id ≤ M created before S is in K, and the
//     members of K that are gone number |K| - old - |K ∩ recent|, where
//     old counts the tickets with id ≤ M created before S (search_count)
//     and recent lists those created since (search, a few). Both terms of
//     that difference are never negative (old can only shrink: nothing
//     created before S commits after T), so a delete is never hidden by a
//     create, as a plain count of ids would let it be: zero means no member
//     of K is gone, and the run only adds the new ids to K. Anything else
//     (a deletion, or a negative figure: an assumption broken) falls back
//     to the full comparison, as does a check whose last full comparison
//     is a week old, which bounds what a broken assumption can hide.

// fullCompareEvery is the longest the count may stand in for a full
// comparison of the deleted-ticket check.
const fullCompareEvery = 7 * 24 * time.Hour

// deletedTickets finds the tickets deleted since the job last looked (see
// above) and handles their cases as job.DeletedTickets says.
func (r *runner) deletedTickets(ctx context.Context, p *odoojob.Prepared) error {
	start := time.Now()
	ts := TableSummary{Table: "deleted tickets"}
	defer func() {
		ts.DurationSeconds = time.Since(start).Seconds()
		r.sum.Tables = append(r.sum.Tables, ts)
	}()
	cp, err := r.o.Store.Checkpoint(ctx, r.job.Name, ticketModel)
	if err != nil {
		return err
	}
	now := r.o.Now().UTC()
	if cp.Gen > 0 && !cp.CheckedAt.IsZero() && now.Sub(cp.FullAt) < fullCompareEvery {
		none, err := r.noTicketGone(ctx, cp, now, &ts)
		if err != nil || none {
			return err
		}
	}
	// The ids the count read are counted with those compared in full.
	read := ts.KeysCompared
	ts = TableSummary{Table: ts.Table}
	ts.KeysCompared = read
	return r.compareTicketIDs(ctx, p, cp, now, &ts)
}

const ticketModel = "helpdesk.ticket"

// noTicketGone reports whether no ticket the job has seen is gone, by the
// count described above, and if so adds the tickets created since to the
// job's set. false sends the caller to the full comparison.
func (r *runner) noTicketGone(ctx context.Context, cp Checkpoint, now time.Time, ts *TableSummary) (bool, error) {
	ts.Mode = "odoo id count"
	st, job, oc := r.o.Store, r.job.Name, r.o.Odoo
	arch := odoo.Context{}.WithArchived()
	since := odoo.FormatDatetime(cp.CheckedAt.Add(-r.job.Overlap).Truncate(time.Second))
	upTo := odoo.Cond("id", odoo.Le, cp.MaxID)
	old, err := oc.SearchCount(ctx, ticketModel, odoo.And(upTo, odoo.Cond("create_date", odoo.Lt, since)), arch)
	if err != nil {
		return false, err
	}
	recent, err := oc.Search(ctx, ticketModel, odoo.Query{Domain: odoo.And(upTo, odoo.Cond("create_date", odoo.Ge, since)), Order: "id asc", Context: arch})
	if err != nil {
		return false, err
	}
	ts.KeysCompared += int64(len(recent))
	known, err := st.CountKeys(ctx, job, ticketModel)
	if err != nil {
		return false, err
	}
	ids := make([]string, len(recent))
	for i, id := range recent {
		ids[i] = strconv.Itoa(id)
	}
	in, err := st.KnownKeys(ctx, job, ticketModel, ids)
	if err != nil {
		return false, err
	}
	if known-int64(old)-int64(len(in)) != 0 {
		return false, nil
	}
	var keys []KeyEntry
	for _, id := range ids {
		if !in[id] {
			keys = append(keys, KeyEntry{SourceID: id, Gen: cp.Gen})
		}
	}
	maxID := cp.MaxID
	err = ticketIDs(ctx, oc, maxID, func(id int) {
		keys = append(keys, KeyEntry{SourceID: strconv.Itoa(id), Gen: cp.Gen})
		maxID = max(maxID, int64(id))
		ts.KeysCompared++
	})
	if err != nil || r.o.DryRun {
		return err == nil, err
	}
	if err := st.SaveKeys(ctx, job, ticketModel, keys); err != nil {
		return false, err
	}
	cp.MaxID, cp.CheckedAt = maxID, now
	return true, st.SaveCheckpoint(ctx, job, ticketModel, cp)
}

// ticketIDs passes every ticket id above after to f, archived included,
// reading them a page of 10,000 at a time in id order.
func ticketIDs(ctx context.Context, oc *odoo.Client, after int64, f func(int)) error {
	const page = 10000
	last := int(after)
	for {
		ids, err := oc.Search(ctx, ticketModel, odoo.Query{Domain: odoo.Cond("id", odoo.Gt, last), Order: "id asc", Limit: page,
			Context: odoo.Context{}.WithArchived()})
		if err != nil {
			return err
		}
		for _, id := range ids {
			f(id)
		}
		if len(ids) < page {
			return nil
		}
		last = ids[len(ids)-1]
	}
}

// compareTicketIDs compares every ticket id Odoo holds with those the job
// saw before: a ticket gone since is handled as job.DeletedTickets says.
// now is when the comparison began.
func (r *runner) compareTicketIDs(ctx context.Context, p *odoojob.Prepared, cp Checkpoint, now time.Time, ts *TableSummary) error {
	ts.Mode = "odoo id-set comparison"
	st, job := r.o.Store, r.job.Name
	gen := cp.Gen + 1
	var keys []KeyEntry
	have := map[string]bool{}
	var maxID int64
	err := ticketIDs(ctx, r.o.Odoo, 0, func(id int) {
		if r.o.DryRun {
			have[strconv.Itoa(id)] = true
		} else {
			keys = append(keys, KeyEntry{SourceID: strconv.Itoa(id), Gen: gen})
		}
		maxID = max(maxID, int64(id))
		ts.KeysCompared++
	})
	if err != nil {
		return err
	}
	if r.o.DryRun {
		// The ids seen before that Odoo no longer holds, with nothing
		// stamped or forgotten.
		if cp.Gen == 0 {
			return nil
		}
		seen, err := st.StaleKeys(ctx, job, ticketModel, gen)
		if err != nil {
			return err
		}
		for _, id := range seen {
			if have[id] {
				continue
			}
			ts.Read++
			if err := r.deletedTicket(ctx, p, id, ts); err != nil {
				return err
			}
		}
		return nil
	}
	if err := st.SaveKeys(ctx, job, ticketModel, keys); err != nil {
		return err
	}
	if cp.Gen > 0 {
		gone, err := st.StaleKeys(ctx, job, ticketModel, gen)
		if err != nil {
			return err
		}
		for _, id := range gone {
			ts.Read++
			if err := r.deletedTicket(ctx, p, id, ts); err != nil {
				return err
			}
			if err := st.DeleteKey(ctx, job, ticketModel, id); err != nil {
				return err
			}
		}
	}
	return st.SaveCheckpoint(ctx, job, ticketModel, Checkpoint{Mode: "odoo id-set", Phase: "current", Gen: gen, MaxID: maxID, CheckedAt: now, FullAt: now})
}

func (r *runner) deletedTicket(ctx context.Context, p *odoojob.Prepared, id string, ts *TableSummary) error {
	refs, err := r.o.EngineStore.LookupIDs(ctx, p.Job.Name, odoodv.StepCases, id)
	if err != nil {
		return err
	}
	var caseID string
	for _, ref := range refs {
		if ref.Table == "incident" && ref.ID != "" {
			caseID = ref.ID
		}
	}
	reject := func(cause error) error {
		ts.Rejected++
		if w := r.o.Rejects; w != nil {
			b, _ := json.Marshal(Reject{Time: r.o.Now().UTC(), Job: r.job.Name, Table: ticketModel, ID: id, Error: cause.Error()})
			_, err := w.Write(append(b, '\n'))
			return err
		}
		return nil
	}
	switch {
	case caseID == "":
		// Never became a case (skipped or rejected when it existed).
		ts.Unchanged++
		return nil
	case r.job.DeletedTickets == DeletedKeep:
		ts.Unchanged++
		return nil
	case r.job.DeletedTickets == DeletedDelete && r.o.DryRun:
		key, err := sink.Key(migrations.Key{ID: caseID})
		if err != nil {
			return reject(err)
		}
		// Read, not deleted: there to delete, or gone already.
		_, err = r.o.TargetClient.Get(ctx, "incident", key, "incidentid")
		switch {
		case err == nil:
			ts.Deleted++
		case dataverse.IsNotFound(err):
			ts.Unchanged++
		case dataverse.Classify(err).StopsRun():
			return err
		default:
			return reject(err)
		}
		return nil
	case r.job.DeletedTickets == DeletedDelete:
		key, err := sink.Key(migrations.Key{ID: caseID})
		if err != nil {
			return reject(err)
		}
		// Odoo deleted the ticket's SLA statuses with it (ticket_id
		// ondelete cascade); their SLA KPI instances regard the case and
		// go first. Its notes and queue item go with the case.
		if err := r.deleteKPIs(ctx, p, caseID); err != nil {
			return reject(err)
		}
		res, err := p.Sink.Delete(ctx, "incident", key)
		if err != nil {
			return err
		}
		switch res.Outcome {
		case dataverse.OutcomeRejected:
			return reject(res.Err)
		case dataverse.OutcomeUnchanged:
			ts.Unchanged++
		default:
			ts.Deleted++
		}
		return nil
	default: // cancel: statecode 2 Cancelled, statuscode 6 Cancelled (reference/entities/incident)
		write := p.Sink.Write
		if r.o.DryRun {
			write = p.Sink.Plan
		}
		res, err := write(ctx, []migrations.TargetRecord{{Table: "incident", Key: migrations.Key{ID: caseID}, Fields: map[string]any{},
			State: &migrations.State{Code: 2, Reason: 6}}})
		if err != nil {
			return err
		}
		switch res[0].Outcome {
		case migrations.Rejected:
			return reject(res[0].Err)
		case migrations.Unchanged:
			ts.Unchanged++
		default:
			ts.Upserted++
			if r.o.DryRun && res[0].Outcome == migrations.Updated {
				ts.Updated++
			}
		}
		return nil
	}
}

// deleteKPIs deletes the SLA KPI instances regarding a case. A refusal
// stops there (the case is then rejected, not deleted); a failure of the
// service stops the run.
func (r *runner) deleteKPIs(ctx context.Context, p *odoojob.Prepared, caseID string) error {
	q := dataverse.Query{Select: []string{"slakpiinstanceid"}, Filter: dataverse.Eq("_regarding_value", caseID)}
	var ids []string
	for rec, err := range r.o.TargetClient.Records(ctx, "slakpiinstance", q) {
		if err != nil {
			return err
		}
		ids = append(ids, rec.String("slakpiinstanceid"))
	}
	for _, id := range ids {
		key, err := sink.Key(migrations.Key{ID: id})
		if err != nil {
			return err
		}
		res, err := p.Sink.Delete(ctx, "slakpiinstance", key)
		if err != nil {
			return err
		}
		if res.Outcome == dataverse.OutcomeRejected {
			return fmt.Errorf("deleting SLA KPI instance %s of the case: %w", id, res.Err)
		}
	}
	return nil
}
