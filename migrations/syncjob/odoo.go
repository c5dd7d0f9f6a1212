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
// found by comparing the ticket ids Odoo holds with those seen before, and
// their cases are cancelled, deleted (with their SLA KPI instances, as
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

// deletedTickets compares the ticket ids Odoo holds with those the job saw
// before: a ticket gone since is handled as job.DeletedTickets says.
func (r *runner) deletedTickets(ctx context.Context, p *odoojob.Prepared) error {
	start := time.Now()
	ts := TableSummary{Table: "deleted tickets", Mode: "odoo id-set comparison"}
	defer func() {
		ts.DurationSeconds = time.Since(start).Seconds()
		r.sum.Tables = append(r.sum.Tables, ts)
	}()
	st, job := r.o.Store, r.job.Name
	const table = "helpdesk.ticket"
	cp, err := st.Checkpoint(ctx, job, table)
	if err != nil {
		return err
	}
	gen := cp.Gen + 1
	var keys []KeyEntry
	have := map[string]bool{}
	last := 0
	for {
		ids, err := r.o.Odoo.Search(ctx, table, odoo.Query{Domain: odoo.Cond("id", odoo.Gt, last), Order: "id asc", Limit: 10000,
			Context: odoo.Context{}.WithArchived()})
		if err != nil {
			return err
		}
		for _, id := range ids {
			if r.o.DryRun {
				have[strconv.Itoa(id)] = true
				continue
			}
			keys = append(keys, KeyEntry{SourceID: strconv.Itoa(id), Gen: gen})
		}
		ts.KeysCompared += int64(len(ids))
		if len(ids) < 10000 {
			break
		}
		last = ids[len(ids)-1]
	}
	if r.o.DryRun {
		// The ids seen before that Odoo no longer holds, with nothing
		// stamped or forgotten.
		if cp.Gen == 0 {
			return nil
		}
		seen, err := st.StaleKeys(ctx, job, table, gen)
		if err != nil {
			return err
		}
		for _, id := range seen {
			if have[id] {
				continue
			}
			ts.Read++
			if err := r.deletedTicket(ctx, p, id, &ts); err != nil {
				return err
			}
		}
		return nil
	}
	if err := st.SaveKeys(ctx, job, table, keys); err != nil {
		return err
	}
	if cp.Gen > 0 {
		gone, err := st.StaleKeys(ctx, job, table, gen)
		if err != nil {
			return err
		}
		for _, id := range gone {
			ts.Read++
			if err := r.deletedTicket(ctx, p, id, &ts); err != nil {
				return err
			}
			if err := st.DeleteKey(ctx, job, table, id); err != nil {
				return err
			}
		}
	}
	return st.SaveCheckpoint(ctx, job, table, Checkpoint{Mode: "odoo id-set", Phase: "current", Gen: gen})
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
			b, _ := json.Marshal(Reject{Time: r.o.Now().UTC(), Job: r.job.Name, Table: "helpdesk.ticket", ID: id, Error: cause.Error()})
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
