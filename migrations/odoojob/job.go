package odoojob

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"

	"github.com/dvsync/dvsync/mapping/odoodv"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/odoo"
	"github.com/dvsync/dvsync/odoo/helpdesk"
)

// JobName is the state-store name of the migration of one Odoo database.
func JobName(database string) string { return "odoo/" + database }

// LoadContext reads what the mapping needs up front: stages, tags, teams,
// users, SLA policies and the knowledge tree. Models the installed flavour
// lacks (SLAs on OCA, Knowledge without the app) are left empty.
func LoadContext(ctx context.Context, r *helpdesk.Reader, database string) (odoodv.Context, error) {
	c := odoodv.Context{Database: database, Articles: map[int]odoodv.ArticleNode{}}
	var err error
	if c.Stages, err = r.Stages(ctx); err != nil {
		return c, fmt.Errorf("reading stages: %w", err)
	}
	if c.Tags, err = r.Tags(ctx); err != nil {
		return c, fmt.Errorf("reading tags: %w", err)
	}
	if c.Teams, err = r.Teams(ctx); err != nil {
		return c, fmt.Errorf("reading teams: %w", err)
	}
	if c.SLAs, err = r.SLAPolicies(ctx); err != nil && !errors.Is(err, helpdesk.ErrNotInstalled) {
		return c, fmt.Errorf("reading SLA policies: %w", err)
	}
	for u, err := range r.Users(ctx, helpdesk.Query{Archived: true}) {
		if err != nil {
			return c, fmt.Errorf("reading users: %w", err)
		}
		c.Users = append(c.Users, u)
	}
	for a, err := range r.Articles(ctx, helpdesk.Query{Archived: true}) {
		if errors.Is(err, helpdesk.ErrNotInstalled) {
			break
		}
		if err != nil {
			return c, fmt.Errorf("reading the knowledge tree: %w", err)
		}
		c.Articles[a.ID] = odoodv.ArticleNode{Name: a.Name, Parent: a.Parent.ID}
	}
	return c, nil
}

func typed[T any](rec migrations.SourceRecord) (T, bool) {
	t, ok := rec.Value.(T)
	return t, ok
}

// sourceRecord is one Odoo record for the engine: the record as Odoo
// returned it (what rejects files show) and the typed value the mapping
// reads.
func sourceRecord(model string, id int, raw odoo.Record, v any) migrations.SourceRecord {
	s := strconv.Itoa(id)
	return migrations.SourceRecord{ID: s, Cursor: s, Data: map[string]any{"model": model, "record": raw}, Value: v}
}

// after parses a cursor (the last Odoo id read); -1 before the first.
func after(cursor string) (int, error) {
	if cursor == "" {
		return -1, nil
	}
	n, err := strconv.Atoi(cursor)
	if err != nil {
		return 0, fmt.Errorf("bad checkpoint %q: not an Odoo id", cursor)
	}
	return n, nil
}

// source is an Odoo model for the engine: its records from a cursor, and
// how many there are (a migrations.CountingSource), so progress bars show
// a total.
type source struct {
	migrations.SourceFunc
	count func(ctx context.Context, cursor string) (int64, error)
}

// Count implements migrations.CountingSource.
func (s source) Count(ctx context.Context, cursor string) (int64, error) { return s.count(ctx, cursor) }

// counter counts what a reader of model yields after an id, archived
// records included as the readers read them: one search_count, with the
// domain the reader adds (extra) and the step's own. A model the flavour
// lacks counts nothing.
func counter(r *helpdesk.Reader, model string, extra odoo.Domain) func(ctx context.Context, d odoo.Domain) (int64, error) {
	return func(ctx context.Context, d odoo.Domain) (int64, error) {
		if model == "" {
			return 0, nil
		}
		n, err := r.Client().SearchCount(ctx, model, odoo.And(extra, d), odoo.Context{}.WithArchived())
		return int64(n), err
	}
}

// streamSource reads a model in id order from the record after cursor.
// A model the flavour lacks yields nothing.
func streamSource[T any](model string, read func(ctx context.Context, q helpdesk.Query) iter.Seq2[T, error], id func(T) int, raw func(T) odoo.Record, domain odoo.Domain,
	count func(ctx context.Context, d odoo.Domain) (int64, error)) migrations.Source {
	var src source
	src.count = func(ctx context.Context, cursor string) (int64, error) {
		from, err := after(cursor)
		if err != nil {
			return 0, err
		}
		return count(ctx, odoo.And(domain, odoo.Cond("id", odoo.Gt, from)))
	}
	src.SourceFunc = migrations.SourceFunc(func(ctx context.Context, cursor string) iter.Seq2[migrations.SourceRecord, error] {
		return func(yield func(migrations.SourceRecord, error) bool) {
			from, err := after(cursor)
			if err != nil {
				yield(migrations.SourceRecord{}, err)
				return
			}
			q := helpdesk.Query{Archived: true, Domain: odoo.And(domain, odoo.Cond("id", odoo.Gt, from))}
			for v, err := range read(ctx, q) {
				if errors.Is(err, helpdesk.ErrNotInstalled) {
					return
				}
				if err != nil {
					yield(migrations.SourceRecord{}, err)
					return
				}
				if !yield(sourceRecord(model, id(v), raw(v), v), nil) {
					return
				}
			}
		}
	})
	return src
}

// listSource serves a small table read up front, in id order.
func listSource[T any](model string, list []T, id func(T) int, raw func(T) odoo.Record) migrations.Source {
	sorted := slices.Clone(list)
	slices.SortFunc(sorted, func(a, b T) int { return id(a) - id(b) })
	var src source
	src.count = func(_ context.Context, cursor string) (int64, error) {
		from, err := after(cursor)
		if err != nil {
			return 0, err
		}
		i, _ := slices.BinarySearchFunc(sorted, from+1, func(v T, n int) int { return id(v) - n })
		return int64(len(sorted) - i), nil
	}
	src.SourceFunc = migrations.SourceFunc(func(ctx context.Context, cursor string) iter.Seq2[migrations.SourceRecord, error] {
		return func(yield func(migrations.SourceRecord, error) bool) {
			from, err := after(cursor)
			if err != nil {
				yield(migrations.SourceRecord{}, err)
				return
			}
			for _, v := range sorted {
				if id(v) <= from {
					continue
				}
				if !yield(sourceRecord(model, id(v), raw(v), v), nil) {
					return
				}
			}
		}
	})
	return src
}

// ids answers the mapping's Migrated from the engine's ID map.
type ids struct{ migrations.IDs }

func (i ids) Migrated(step string, odooID int) bool {
	_, ok := i.Lookup(step, strconv.Itoa(odooID))
	return ok
}

// toEngine hands a mapping result to the engine. The mapping already
// says what the writer must do in typed fields (MatchOnly, State), so each
// record is carried over as it is; its warnings (fallbacks such as an
// owner replaced by the default owner) travel with it whatever the
// outcome, so the engine counts them and writes them to the warnings file.
func toEngine(r odoodv.Result) migrations.MapResult {
	switch {
	case r.Err != nil:
		return migrations.Reject(r.Err).WithWarnings(r.Warnings...)
	case r.Skip != "":
		return migrations.Skip(r.Skip).WithWarnings(r.Warnings...)
	}
	out := make([]migrations.TargetRecord, len(r.Records))
	for i, rec := range r.Records {
		k := migrations.Key{Alternate: rec.Key}
		if rec.ID != [16]byte{} {
			k.ID = rec.ID.String()
		}
		out[i] = migrations.TargetRecord{Table: rec.Table, Key: k, Fields: rec.Fields, MatchOnly: rec.MatchOnly, State: engineState(rec.State)}
	}
	return migrations.Write(out...).WithWarnings(r.Warnings...)
}

// engineState is the mapping's state instruction in the engine's type.
func engineState(s *odoodv.State) *migrations.State {
	if s == nil {
		return nil
	}
	st := &migrations.State{Code: s.Code, Reason: s.Reason}
	if c := s.Close; c != nil {
		st.Close = &migrations.Resolution{Subject: c.Subject, ResolvedOn: c.ResolvedOn}
	}
	return st
}

func mapWith[T any](f func(T, odoodv.Migrated) odoodv.Result) migrations.MapFunc {
	return func(rec migrations.SourceRecord, lookups migrations.IDs) migrations.MapResult {
		v, ok := typed[T](rec)
		if !ok {
			return migrations.Reject(fmt.Errorf("source record %s is not a %T", rec.ID, v))
		}
		return toEngine(f(v, ids{lookups}))
	}
}

func noIDs[T any](f func(T) odoodv.Result) func(T, odoodv.Migrated) odoodv.Result {
	return func(v T, _ odoodv.Migrated) odoodv.Result { return f(v) }
}

// JobOptions configure BuildJob.
type JobOptions struct {
	Reader *helpdesk.Reader
	Mapper *odoodv.Mapper
	// Context is what LoadContext read (the lists the small steps serve).
	Context odoodv.Context
	Target  migrations.Target
	// PageSize is the Odoo page size of the streamed models (0: the client's).
	PageSize int
}

// BuildJob declares the migration of one Odoo helpdesk: customers, queues,
// users, subjects and SLAs first, then cases (with their queue items), then
// SLA outcomes and notes on the cases; articles are independent.
func BuildJob(o JobOptions) *migrations.Job {
	r, mp, c := o.Reader, o.Mapper, o.Context
	paged := func(q helpdesk.Query) helpdesk.Query { q.PageSize = o.PageSize; return q }
	partners := func(company bool) migrations.Source {
		return streamSource("res.partner", func(ctx context.Context, q helpdesk.Query) iter.Seq2[helpdesk.Partner, error] {
			return r.Partners(ctx, paged(q))
		}, func(p helpdesk.Partner) int { return p.ID }, func(p helpdesk.Partner) odoo.Record { return p.Raw },
			odoo.Cond("is_company", odoo.Eq, company), counter(r, r.Models.Partner, odoo.Domain{}))
	}
	teamID := func(t helpdesk.Team) int { return t.ID }
	teamRaw := func(t helpdesk.Team) odoo.Record { return t.Raw }
	// Subjects: the root subject (id 0, first) then the tags, one batch at
	// a time so the root is written before the subjects under it.
	tags := listSource("helpdesk.tag", append([]helpdesk.Tag{{ID: 0}}, c.Tags...), func(t helpdesk.Tag) int { return t.ID }, func(t helpdesk.Tag) odoo.Record { return t.Raw })
	subject := func(t helpdesk.Tag, _ odoodv.Migrated) odoodv.Result {
		if t.ID == 0 {
			return mp.SubjectRoot()
		}
		return mp.Subject(t)
	}
	step := func(name string, src migrations.Source, m migrations.MapFunc, deps ...string) *migrations.Step {
		return &migrations.Step{Name: name, DependsOn: deps, Source: src, Map: m, Target: o.Target}
	}
	serial := func(s *migrations.Step) *migrations.Step { s.Concurrency = 1; return s }
	return &migrations.Job{Name: JobName(c.Database), Steps: []*migrations.Step{
		step(odoodv.StepAccounts, partners(true), mapWith(noIDs(mp.Account))),
		step(odoodv.StepContacts, partners(false), mapWith(mp.Contact), odoodv.StepAccounts),
		step(odoodv.StepQueues, listSource("helpdesk.team", c.Teams, teamID, teamRaw), mapWith(noIDs(mp.Queue))),
		step(odoodv.StepUsers, listSource("res.users", c.Users, func(u helpdesk.User) int { return u.ID }, func(u helpdesk.User) odoo.Record { return u.Raw }),
			mapWith(noIDs(mp.User))),
		serial(step(odoodv.StepSubjects, tags, mapWith(subject))),
		step(odoodv.StepSLAs, listSource("helpdesk.team", c.Teams, teamID, teamRaw), mapWith(noIDs(mp.SLA))),
		step(odoodv.StepSLAItems, listSource("helpdesk.sla", c.SLAs, func(p helpdesk.SLAPolicy) int { return p.ID }, func(p helpdesk.SLAPolicy) odoo.Record { return p.Raw }),
			mapWith(mp.SLAItem), odoodv.StepSLAs),
		step(odoodv.StepCases, streamSource("helpdesk.ticket", func(ctx context.Context, q helpdesk.Query) iter.Seq2[helpdesk.Ticket, error] {
			return r.Tickets(ctx, paged(q))
		}, func(t helpdesk.Ticket) int { return t.ID }, func(t helpdesk.Ticket) odoo.Record { return t.Raw }, odoo.Domain{},
			counter(r, r.Models.Ticket, odoo.Domain{})),
			mapWith(mp.Case), odoodv.StepAccounts, odoodv.StepContacts, odoodv.StepQueues, odoodv.StepUsers, odoodv.StepSubjects, odoodv.StepSLAs),
		step(odoodv.StepSLAOutcomes, streamSource("helpdesk.sla.status", func(ctx context.Context, q helpdesk.Query) iter.Seq2[helpdesk.SLAStatus, error] {
			return r.SLAStatuses(ctx, paged(q))
		}, func(s helpdesk.SLAStatus) int { return s.ID }, func(s helpdesk.SLAStatus) odoo.Record { return s.Raw }, odoo.Domain{},
			counter(r, r.Models.SLAStatus, odoo.Domain{})),
			mapWith(mp.SLAOutcome), odoodv.StepCases, odoodv.StepSLAItems),
		step(odoodv.StepNotes, streamSource("mail.message", func(ctx context.Context, q helpdesk.Query) iter.Seq2[helpdesk.Message, error] {
			return r.TicketMessages(ctx, paged(q))
		}, func(m helpdesk.Message) int { return m.ID }, func(m helpdesk.Message) odoo.Record { return m.Raw }, odoo.Domain{},
			// TicketMessages reads the messages of tickets only.
			counter(r, r.Models.Message, odoo.Cond("model", odoo.Eq, r.Models.Ticket))),
			mapWith(mp.Note), odoodv.StepCases),
		step(odoodv.StepArticles, streamSource("knowledge.article", func(ctx context.Context, q helpdesk.Query) iter.Seq2[helpdesk.Article, error] {
			return r.Articles(ctx, paged(q))
		}, func(a helpdesk.Article) int { return a.ID }, func(a helpdesk.Article) odoo.Record { return a.Raw }, odoo.Domain{},
			counter(r, r.Models.Article, odoo.Domain{})),
			mapWith(noIDs(mp.Article))),
	}}
}
