// Package usdjob writes a translated Copilot Service workspace
// configuration (mapping/workspace output) to a Dataverse environment:
// a plan that says, record by record and link by link, what a run would
// create or change; a run that upserts in dependency order and adds the
// N:N associations last; and a verification that reads every record and
// association back.
//
// Runs are idempotent. Every record is found by its unique name, so a
// second run updates instead of duplicating, and records whose columns
// already hold the translated values are not written at all: a re-run of
// an unchanged configuration sends no write.
//
// The plan finds records with an In filter on the unique-name column, so
// reading needs no alternate key. Writing addresses records either by
// that key, <set>(msdyn_uniquename='…') (workflow: uniquename), which the
// reference server defines (dataverse/schema/catalog_usd.go), or, where
// the environment lacks it, by record ID (see Addressing).
//
// Upserts by alternate key:
// learn.microsoft.com/power-apps/developer/data-platform/use-upsert-insert-update-record;
// N:N associations through $ref:
// learn.microsoft.com/power-apps/developer/data-platform/webapi/associate-disassociate-entities-using-web-api.
package usdjob

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/schema"
	"github.com/dvsync/dvsync/dataverse/sink"
	"github.com/dvsync/dvsync/mapping/workspace"
)

// Action is what a plan intends for one record or association.
type Action string

const (
	ActionCreate    Action = "create"
	ActionUpdate    Action = "update"
	ActionUnchanged Action = "unchanged"
	// ActionAdd and ActionPresent are for associations.
	ActionAdd     Action = "add"
	ActionPresent Action = "present"
)

// Outcome is what a run did with one record or association.
type Outcome string

const (
	Created   Outcome = "created"
	Updated   Outcome = "updated"
	Unchanged Outcome = "unchanged"
	Rejected  Outcome = "rejected"
	// Added and Present are for associations; Skipped is an association
	// not attempted because one of its records was rejected.
	Added   Outcome = "added"
	Present Outcome = "present"
	Skipped Outcome = "skipped"
)

// Phase names a stage of a run, for progress reporting.
type Phase string

const (
	PhaseRead      Phase = "read"
	PhaseWrite     Phase = "write"
	PhaseAssociate Phase = "associate"
	PhaseVerify    Phase = "verify"
)

// Options tune a Migrator.
type Options struct {
	// Progress, when set, is called as work completes: done of total items
	// of a phase. It is never called concurrently.
	Progress func(phase Phase, done, total int)
	// Addressing is how records are named when written; empty is
	// AddressAuto.
	Addressing Addressing
	// Concurrency bounds the reads and associations in flight; default 8.
	// The client's limiter still caps concurrent requests.
	Concurrency int
	// BatchSize is the starting batch size of the upserts (see
	// dataverse.BatchOptions); zero takes the client's default.
	BatchSize int
}

func (o Options) readers() int {
	if o.Concurrency > 0 {
		return o.Concurrency
	}
	return 8
}

// Migrator moves one translation into one environment.
type Migrator struct {
	Client *dataverse.Client
	Result *workspace.Result
	Options
}

// RecordPlan is the intended action for one record.
type RecordPlan struct {
	Table      string `json:"table"`
	UniqueName string `json:"uniqueName"`
	Name       string `json:"name,omitempty"`
	Action     Action `json:"action"`
	// ID is the existing record's primary key (updates and unchanged).
	ID string `json:"id,omitempty"`
	// Changed lists the columns whose current value differs from the
	// translation (updates only).
	Changed []string `json:"changed,omitempty"`
}

// AssociationPlan is the intended action for one N:N link.
type AssociationPlan struct {
	workspace.Association
	Action Action `json:"action"`
}

// PlanCounts total a plan.
type PlanCounts struct {
	Create              int `json:"create"`
	Update              int `json:"update"`
	Unchanged           int `json:"unchanged"`
	AssociationsAdd     int `json:"associationsAdd"`
	AssociationsPresent int `json:"associationsPresent"`
}

// Plan says what a run would do, decided against the environment's
// current state.
type Plan struct {
	Records      []RecordPlan      `json:"records"`
	Associations []AssociationPlan `json:"associations"`
	// Extra lists links the environment has on the translated records
	// that the translation does not: a run leaves them in place.
	Extra []workspace.Association `json:"extra,omitempty"`
	// Duplicates lists unique names held by more than one record (only
	// possible without an alternate key); the run writes the oldest and
	// verification reports the others.
	Duplicates []workspace.Ref `json:"duplicates,omitempty"`
	Counts     PlanCounts      `json:"counts"`
}

// Writes is the number of requests a run of the plan would send to write.
func (p *Plan) Writes() int {
	return p.Counts.Create + p.Counts.Update + p.Counts.AssociationsAdd
}

// Plan reads the current state of every translated record and association
// from the environment and decides what to write. It writes nothing.
func (m *Migrator) Plan(ctx context.Context) (*Plan, error) {
	st, err := m.readState(ctx, PhaseRead)
	if err != nil {
		return nil, err
	}
	p := &Plan{Records: []RecordPlan{}, Associations: []AssociationPlan{}}
	for _, r := range m.Result.Records {
		rp := RecordPlan{Table: r.Table, UniqueName: r.UniqueName, Name: displayName(r)}
		cur, ok := st.record(r.Ref())
		switch {
		case !ok:
			rp.Action = ActionCreate
			p.Counts.Create++
		default:
			rp.ID = st.id(r.Ref(), cur)
			diffs, err := st.diff(r, cur)
			if err != nil {
				return nil, err
			}
			if len(diffs) == 0 {
				rp.Action = ActionUnchanged
				p.Counts.Unchanged++
			} else {
				rp.Action, rp.Changed = ActionUpdate, columns(diffs)
				p.Counts.Update++
			}
		}
		p.Records = append(p.Records, rp)
	}
	planned := map[workspace.Association]bool{}
	for _, a := range m.Result.Associations {
		planned[a] = true
		ap := AssociationPlan{Association: a, Action: ActionAdd}
		if st.linked(a) {
			ap.Action = ActionPresent
			p.Counts.AssociationsPresent++
		} else {
			p.Counts.AssociationsAdd++
		}
		p.Associations = append(p.Associations, ap)
	}
	for _, r := range m.Result.Records {
		if st.copies[r.Ref()] > 0 {
			p.Duplicates = append(p.Duplicates, r.Ref())
		}
	}
	for _, a := range st.allLinks() {
		if !planned[a] {
			p.Extra = append(p.Extra, a)
		}
	}
	return p, nil
}

func displayName(r *workspace.Record) string {
	for _, col := range []string{"msdyn_name", "name"} {
		if s, ok := r.Fields[col].(string); ok {
			return s
		}
	}
	return ""
}

func columns(ds []Mismatch) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Column
	}
	return out
}

// RecordOutcome is what a run did with one record.
type RecordOutcome struct {
	Table      string  `json:"table"`
	UniqueName string  `json:"uniqueName"`
	Outcome    Outcome `json:"outcome"`
	ID         string  `json:"id,omitempty"`
	// Error is Dataverse's answer for a rejected record.
	Error string `json:"error,omitempty"`
}

// AssociationOutcome is what a run did with one association.
type AssociationOutcome struct {
	workspace.Association
	Outcome Outcome `json:"outcome"`
	Error   string  `json:"error,omitempty"`
}

// Counts total a run. Created+Updated+Unchanged+Rejected is the number of
// translated records; the association counts add up the same way.
type Counts struct {
	Records              int `json:"records"`
	Created              int `json:"created"`
	Updated              int `json:"updated"`
	Unchanged            int `json:"unchanged"`
	Rejected             int `json:"rejected"`
	Associations         int `json:"associations"`
	AssociationsAdded    int `json:"associationsAdded"`
	AssociationsPresent  int `json:"associationsPresent"`
	AssociationsRejected int `json:"associationsRejected"`
	AssociationsSkipped  int `json:"associationsSkipped"`
}

// Run is the outcome of Apply.
type Run struct {
	// Addressing is how the records were named: by key or by ID.
	Addressing   Addressing           `json:"addressing"`
	Records      []RecordOutcome      `json:"records"`
	Associations []AssociationOutcome `json:"associations"`
	Counts       Counts               `json:"counts"`
	Verification *Verification        `json:"verification,omitempty"`
}

// OK reports a run in which every record and association was written and
// the verification found nothing amiss.
func (r *Run) OK() bool {
	return r.Counts.Rejected == 0 && r.Counts.AssociationsRejected == 0 && r.Counts.AssociationsSkipped == 0 &&
		r.Verification != nil && len(r.Verification.Mismatches) == 0
}

func (c *Counts) addRecord(o Outcome) {
	c.Records++
	switch o {
	case Created:
		c.Created++
	case Updated:
		c.Updated++
	case Unchanged:
		c.Unchanged++
	case Rejected:
		c.Rejected++
	}
}

func (c *Counts) addAssociation(o Outcome) {
	c.Associations++
	switch o {
	case Added:
		c.AssociationsAdded++
	case Present:
		c.AssociationsPresent++
	case Rejected:
		c.AssociationsRejected++
	case Skipped:
		c.AssociationsSkipped++
	}
}

// Apply carries out a plan made by Plan (nil makes one first): records
// table by table in workspace.TableOrder, so every lookup points at a row
// already written, then the associations, then Verify. A rejected record
// does not stop the run; the associations that need it are skipped. The
// error is for a run that could not go on (cancelled, unauthorised, the
// workspace tables missing), after which the outcomes so far are returned
// with it.
func (m *Migrator) Apply(ctx context.Context, plan *Plan) (*Run, error) {
	if plan == nil {
		var err error
		if plan, err = m.Plan(ctx); err != nil {
			return nil, err
		}
	}
	if len(plan.Records) != len(m.Result.Records) || len(plan.Associations) != len(m.Result.Associations) {
		return nil, errors.New("migrate: the plan was made for another translation")
	}
	for i, rp := range plan.Records {
		r := m.Result.Records[i]
		if rp.Table != r.Table || rp.UniqueName != r.UniqueName {
			return nil, errors.New("migrate: the plan was made for another translation")
		}
		if !slices.Contains(workspace.TableOrder, r.Table) {
			return nil, fmt.Errorf("migrate: %s %s: table %s is not one the workspace translation writes", r.Table, r.UniqueName, r.Table)
		}
	}
	mode, _, err := m.ResolveAddressing(ctx)
	if err != nil {
		return nil, err
	}
	addr, err := newAddresser(mode, m.Client.Schema(), plan)
	if err != nil {
		return nil, err
	}
	// Every write goes through the one Dataverse writer.
	sk := sink.New(m.Client, nil)
	run := &Run{Addressing: mode, Records: make([]RecordOutcome, len(plan.Records)), Associations: make([]AssociationOutcome, len(plan.Associations))}
	// WriteAll reads items and reports results on different goroutines,
	// and associations run concurrently: mu guards the progress count and
	// the rejected set.
	var mu sync.Mutex
	done, total := 0, plan.Counts.Create+plan.Counts.Update
	progress := func(phase Phase, total int) {
		mu.Lock()
		defer mu.Unlock()
		done++
		if m.Progress != nil {
			m.Progress(phase, done, total)
		}
	}
	rejectedSet := map[workspace.Ref]bool{}
	reject := func(r workspace.Ref) {
		mu.Lock()
		defer mu.Unlock()
		rejectedSet[r] = true
	}
	for _, table := range workspace.TableOrder {
		var idx []int
		for i, rp := range plan.Records {
			if rp.Table != table {
				continue
			}
			run.Records[i] = RecordOutcome{Table: rp.Table, UniqueName: rp.UniqueName, Outcome: Unchanged, ID: rp.ID}
			if rp.Action != ActionUnchanged {
				idx = append(idx, i)
			}
		}
		if len(idx) == 0 {
			continue
		}
		items := func(yield func(dataverse.Item) bool) {
			for _, i := range idx {
				r := m.Result.Records[i]
				mu.Lock()
				why := refersToRejected(r, rejectedSet)
				mu.Unlock()
				if why != "" {
					run.Records[i].Outcome, run.Records[i].Error = Rejected, why
					reject(r.Ref())
					progress(PhaseWrite, total)
					continue
				}
				body, err := addr.body(r)
				var k dataverse.Key
				if err == nil {
					k, err = addr.key(r.Ref())
				}
				if err != nil {
					// Only a translation bug gets here; say so per record.
					run.Records[i].Outcome, run.Records[i].Error = Rejected, err.Error()
					reject(r.Ref())
					progress(PhaseWrite, total)
					continue
				}
				if !yield(dataverse.Item{Ref: int64(i), Key: k, Record: body}) {
					return
				}
			}
		}
		err := sk.WriteItems(ctx, table, items, dataverse.BatchOptions{Mode: dataverse.ModeUpsert, BatchSize: m.BatchSize}, func(res dataverse.Result) {
			i := int(res.Ref)
			o := &run.Records[i]
			switch {
			case res.Outcome == dataverse.OutcomeRejected:
				o.Outcome = Rejected
				if res.Err != nil {
					o.Error = res.Err.Error()
				}
				reject(m.Result.Records[i].Ref())
			case res.Outcome == dataverse.OutcomeCreated:
				o.Outcome = Created
			case res.Outcome == dataverse.OutcomeUpdated:
				o.Outcome = Updated
			case plan.Records[i].Action == ActionCreate:
				// An upsert whose create-or-update answer Dataverse does
				// not give: the plan found no row.
				o.Outcome = Created
			default:
				o.Outcome = Updated
			}
			if res.ID != uuid.Nil {
				o.ID = res.ID.String()
			}
			progress(PhaseWrite, total)
		})
		if err != nil {
			run.tally()
			return run, fmt.Errorf("migrate: writing %s: %w", table, err)
		}
	}
	done, total = 0, plan.Counts.AssociationsAdd
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(m.readers())
	for i, ap := range plan.Associations {
		o := &run.Associations[i]
		o.Association = ap.Association
		switch {
		case ap.Action == ActionPresent:
			o.Outcome = Present
			continue
		case rejectedSet[ap.From] || rejectedSet[ap.To]:
			o.Outcome, o.Error = Skipped, "a record of the link was rejected"
			progress(PhaseAssociate, total)
			continue
		}
		g.Go(func() error {
			from, err := addr.key(ap.From)
			var to dataverse.Key
			if err == nil {
				to, err = addr.key(ap.To)
			}
			if err == nil {
				err = sk.Link(gctx, ap.From.Table, from, ap.Relationship, ap.To.Table, to)
			}
			progress(PhaseAssociate, total)
			switch {
			case err == nil:
				o.Outcome = Added
			case gctx.Err() != nil || dataverse.Classify(err).StopsRun():
				// The run cannot go on; the links not attempted keep no
				// outcome and are left out of the counts.
				return fmt.Errorf("migrate: associating %s: %w", ap.Relationship, err)
			default:
				o.Outcome, o.Error = Rejected, err.Error()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		run.tally()
		return run, err
	}
	run.tally()
	v, err := m.Verify(ctx)
	if err != nil {
		return run, err
	}
	run.Verification = v
	return run, nil
}

// refersToRejected says why a record cannot be written when one of its
// lookups points at a record that was rejected: Dataverse would refuse
// the bind anyway, with a less helpful message.
func refersToRejected(r *workspace.Record, rejected map[workspace.Ref]bool) string {
	for _, col := range sortedKeys(r.Fields) {
		if ref, ok := r.Fields[col].(workspace.Ref); ok && rejected[ref] {
			return fmt.Sprintf("not written: %s points at %s %s, which was rejected", col, ref.Table, ref.UniqueName)
		}
	}
	return ""
}

func (r *Run) tally() {
	r.Counts = Counts{}
	for _, o := range r.Records {
		if o.Outcome != "" {
			r.Counts.addRecord(o.Outcome)
		}
	}
	for _, o := range r.Associations {
		if o.Outcome != "" {
			r.Counts.addAssociation(o.Outcome)
		}
	}
}

// key addresses a translated record by its unique-name alternate key.
func key(r workspace.Ref) dataverse.Key {
	return dataverse.ByKey(workspace.KeyColumn(r.Table), r.UniqueName)
}

// Mismatch is one difference between the translation and the environment.
type Mismatch struct {
	Table      string `json:"table"`
	UniqueName string `json:"uniqueName"`
	// Column is set for a column whose value differs.
	Column string `json:"column,omitempty"`
	// Relationship and To are set for a missing association.
	Relationship string `json:"relationship,omitempty"`
	To           string `json:"to,omitempty"`
	Want         string `json:"want,omitempty"`
	Got          string `json:"got,omitempty"`
	Problem      string `json:"problem"`
}

func (m Mismatch) String() string {
	switch {
	case m.Relationship != "":
		return fmt.Sprintf("%s %s: %s %s: %s", m.Table, m.UniqueName, m.Relationship, m.To, m.Problem)
	case m.Column != "":
		return fmt.Sprintf("%s %s: %s: %s (want %s, got %s)", m.Table, m.UniqueName, m.Column, m.Problem, m.Want, m.Got)
	}
	return fmt.Sprintf("%s %s: %s", m.Table, m.UniqueName, m.Problem)
}

// Verification is the result of reading everything back.
type Verification struct {
	Records      int        `json:"records"`
	Associations int        `json:"associations"`
	Mismatches   []Mismatch `json:"mismatches"`
}

// Verify reads every translated record and association from the
// environment and lists every difference from the translation.
func (m *Migrator) Verify(ctx context.Context) (*Verification, error) {
	st, err := m.readState(ctx, PhaseVerify)
	if err != nil {
		return nil, err
	}
	v := &Verification{Mismatches: []Mismatch{}}
	for _, r := range m.Result.Records {
		v.Records++
		cur, ok := st.record(r.Ref())
		if !ok {
			v.Mismatches = append(v.Mismatches, Mismatch{Table: r.Table, UniqueName: r.UniqueName, Problem: "record not found"})
			continue
		}
		diffs, err := st.diff(r, cur)
		if err != nil {
			return nil, err
		}
		v.Mismatches = append(v.Mismatches, diffs...)
		if n := st.copies[r.Ref()]; n > 0 {
			v.Mismatches = append(v.Mismatches, Mismatch{Table: r.Table, UniqueName: r.UniqueName,
				Problem: fmt.Sprintf("%d more record(s) have this unique name; delete them or add an alternate key on it", n)})
		}
	}
	for _, a := range m.Result.Associations {
		v.Associations++
		if !st.linked(a) {
			v.Mismatches = append(v.Mismatches, Mismatch{Table: a.From.Table, UniqueName: a.From.UniqueName,
				Relationship: a.Relationship, To: a.To.UniqueName, Problem: "association not found"})
		}
	}
	return v, nil
}

// lookupValue is the property a lookup column's value is read from.
func lookupValue(col string) string { return "_" + col + "_value" }

// tableOf finds a table definition the client knows.
func tableOf(ctx context.Context, c *dataverse.Client, name string) (*schema.Table, error) {
	t, err := c.Table(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("migrate: the environment has no %s table (is the Copilot Service workspace installed?): %w", name, err)
	}
	return t, nil
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
