package syncjob

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
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
// again and again. Its cases step reads tickets by a (write_date, id)
// cursor instead of by id, so changed tickets are carried too: each run
// re-reads from the last cursor minus the job's overlap (Odoo stamps
// write_date with the transaction's start, so a transaction still open at
// the last run can commit rows dated before its cursor; research notes
// airbyte#9668, NangoHQ PR #598), and the sink leaves re-read tickets that
// did not change alone. The other steps keep their id cursors: new
// partners, messages and SLA outcomes are carried, edits of old ones are
// not. Deleted tickets are found by comparing the ticket ids Odoo holds with
// those seen before, and their cases are cancelled, deleted or kept as the
// job file's deleted_tickets says.

// Ways to handle the case of a deleted Odoo ticket (job file
// deleted_tickets).
const (
	DeletedCancel = "cancel"
	DeletedDelete = "delete"
	DeletedKeep   = "keep"
)

// cursorPrefix marks a cases-step checkpoint written by sync; any other
// checkpoint (an id from `migrate odoo`) makes the first sync read every
// ticket once.
const cursorPrefix = "wd:"

// ticketChanges reads tickets in (write_date, id) order after cursor minus
// overlap.
func ticketChanges(r *helpdesk.Reader, overlap time.Duration, pageSize int) migrations.Source {
	return migrations.SourceFunc(func(ctx context.Context, cursor string) iter.Seq2[migrations.SourceRecord, error] {
		return func(yield func(migrations.SourceRecord, error) bool) {
			since := odoo.Watermark{}
			if rest, ok := strings.CutPrefix(cursor, cursorPrefix); ok {
				wd, _, _ := strings.Cut(rest, "|")
				t, err := time.Parse(time.RFC3339, wd)
				if err != nil {
					yield(migrations.SourceRecord{}, fmt.Errorf("bad cases checkpoint %q", cursor))
					return
				}
				since = odoo.Watermark{WriteDate: t.Add(-overlap)}
			}
			q := helpdesk.Query{Since: &since, Archived: true, PageSize: pageSize}
			for t, err := range r.Tickets(ctx, q) {
				if err != nil {
					yield(migrations.SourceRecord{}, err)
					return
				}
				wm, err := t.Raw.Watermark()
				if err != nil {
					yield(migrations.SourceRecord{}, fmt.Errorf("ticket %d: %w", t.ID, err))
					return
				}
				id := strconv.Itoa(t.ID)
				rec := migrations.SourceRecord{ID: id, Cursor: cursorPrefix + wm.WriteDate.UTC().Format(time.RFC3339) + "|" + id,
					Data: map[string]any{"model": "helpdesk.ticket", "record": t.Raw}, Value: t}
				if !yield(rec, nil) {
					return
				}
			}
		}
	})
}

func (r *runner) runOdoo(ctx context.Context) error {
	o, job := r.o, r.job
	m, err := odoojob.LoadMap(job.Map)
	if err != nil {
		return err
	}
	p, err := odoojob.Prepare(ctx, odoojob.Config{Odoo: o.Odoo, Database: job.Source.Odoo.DB, Dataverse: o.TargetClient, Map: m,
		Store: o.EngineStore, PageSize: job.PageSize})
	if err != nil {
		return err
	}
	found := false
	for _, s := range p.Job.Steps {
		if s.Name == odoodv.StepCases {
			s.Source = ticketChanges(p.Reader, job.Overlap, job.PageSize)
			found = true
		}
	}
	if !found {
		return fmt.Errorf("the Odoo job has no %s step", odoodv.StepCases)
	}
	req0, thr0 := o.Counter.Counts()
	msum, runErr := migrations.Run(ctx, p.Job, migrations.RunOptions{Store: o.EngineStore, Rejects: o.Rejects})
	if msum != nil {
		for _, s := range msum.Steps {
			ts := TableSummary{Table: s.Step, Mode: "odoo id cursor", DurationSeconds: s.Duration.Seconds()}
			if s.Step == odoodv.StepCases {
				ts.Mode = "odoo write_date cursor"
			}
			c := s.Counts
			ts.Read, ts.Upserted, ts.Unchanged, ts.Rejected, ts.Skipped = c.Read, c.TotalWritten(), c.Unchanged, c.Rejected, c.Skipped
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
	last := 0
	for {
		ids, err := r.o.Odoo.Search(ctx, table, odoo.Query{Domain: odoo.Cond("id", odoo.Gt, last), Order: "id asc", Limit: 10000,
			Context: odoo.Context{}.WithArchived()})
		if err != nil {
			return err
		}
		for _, id := range ids {
			keys = append(keys, KeyEntry{SourceID: strconv.Itoa(id), Gen: gen})
		}
		ts.KeysCompared += int64(len(ids))
		if len(ids) < 10000 {
			break
		}
		last = ids[len(ids)-1]
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
	case r.job.DeletedTickets == DeletedDelete:
		key, err := sink.Key(migrations.Key{ID: caseID})
		if err != nil {
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
		res, err := p.Sink.Write(ctx, []migrations.TargetRecord{{Table: "incident", Key: migrations.Key{ID: caseID}, Fields: map[string]any{},
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
		}
		return nil
	}
}
