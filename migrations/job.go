package migrations

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"

	"github.com/google/uuid"
)

// Job is a named, ordered set of steps. The name scopes everything the
// state store keeps (checkpoints, ID map, rejects), so two jobs can share one
// state file; running the same job again resumes it.
type Job struct {
	Name  string
	Steps []*Step
}

// Step moves one kind of source record into the target: it reads from
// Source, maps each record with Map and writes the result to Target.
//
// Declaring a step:
//
//	&migrations.Step{
//		Name:      "tickets",
//		DependsOn: []string{"customers", "teams"},
//		Source:    ticketSource,            // migrations.Source
//		Map: func(r migrations.SourceRecord, ids migrations.IDs) migrations.MapResult {
//			cust, ok := ids.Lookup("customers", r.Field("partner_id"))
//			if !ok {
//				return migrations.Reject(fmt.Errorf("customer %s was not migrated", r.Field("partner_id")))
//			}
//			return migrations.Write(migrations.TargetRecord{Table: "incident", Key: ..., Fields: ...})
//		},
//		Target: dataverseTarget,             // migrations.Target
//	}
type Step struct {
	// Name identifies the step in the job, in the state store and in
	// reports; it must not change between a run and its resume.
	Name string
	// DependsOn names the steps that must complete before this one starts:
	// the steps whose IDs Map looks up.
	DependsOn []string
	Source    Source
	Map       MapFunc
	Target    Target
	// BatchSize overrides RunOptions.BatchSize for this step.
	BatchSize int
	// Concurrency overrides RunOptions.Concurrency for this step.
	Concurrency int
}

// SourceRecord is one record read from a source.
type SourceRecord struct {
	// ID is the record's stable identity in the source system ("42" for an
	// Odoo id, a unique name for a USD record). It keys the ID map and the
	// rejects.
	ID string
	// Cursor is the position to resume from after this record: reading the
	// source again with this cursor must yield exactly the records that
	// follow it. An empty Cursor means "not resumable here"; the engine
	// then keeps the previous cursor, so a resume re-reads this record
	// (which idempotent writes make harmless). A record with no ID, no
	// Data and a non-empty Cursor is a cursor marker: it only advances the
	// position, which is how a change-tracking source hands over the delta
	// token it receives at the end of a read. A record with Data but no ID
	// is rejected.
	Cursor string
	// Data is the record itself, as the source client returns it; rejects
	// files show it.
	Data map[string]any
	// Value, when set, is the record as the source's typed reader decoded
	// it (a helpdesk.Ticket), for a mapping that works on typed values.
	// The engine passes it through untouched and never serialises it.
	Value any `json:"-"`
}

// IsMarker reports whether r is a cursor marker rather than a record.
func (r SourceRecord) IsMarker() bool { return r.ID == "" && r.Data == nil && r.Cursor != "" }

// Field returns Data[name] formatted as a string ("" when absent or nil).
func (r SourceRecord) Field(name string) string {
	v, ok := r.Data[name]
	if !ok || v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// Source streams the records of one step in a stable order.
type Source interface {
	// Records yields the records after cursor (all records when cursor is
	// ""), in an order that makes cursors meaningful. Breaking out of the
	// loop must release whatever the read holds.
	Records(ctx context.Context, cursor string) iter.Seq2[SourceRecord, error]
}

// SourceFunc adapts a function to Source.
type SourceFunc func(ctx context.Context, cursor string) iter.Seq2[SourceRecord, error]

// Records calls f.
func (f SourceFunc) Records(ctx context.Context, cursor string) iter.Seq2[SourceRecord, error] {
	return f(ctx, cursor)
}

// Key addresses a target record idempotently: by a deterministic ID, by
// alternate-key column values, or both. Writing the same key twice must
// update, never duplicate.
type Key struct {
	// ID is the record's primary key (a GUID string for Dataverse), set
	// when the mapping derives it deterministically (see DeterministicID).
	ID string
	// Alternate holds alternate-key column values.
	Alternate map[string]any
}

// IsZero reports whether k addresses nothing.
func (k Key) IsZero() bool { return k.ID == "" && len(k.Alternate) == 0 }

// String is a canonical form of the key (columns sorted), stable across
// runs; the ID map and reports use it.
func (k Key) String() string {
	var b strings.Builder
	if k.ID != "" {
		b.WriteString("id=")
		b.WriteString(k.ID)
	}
	for _, c := range slices.Sorted(maps.Keys(k.Alternate)) {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%v", c, k.Alternate[c])
	}
	return b.String()
}

// TargetRecord is one record to write, and what the writer must do
// besides writing its columns. Instructions are typed fields, never
// values hidden among the columns, so nothing meant for the writer can
// reach the service as data.
type TargetRecord struct {
	// Table is the target table (a Dataverse logical name).
	Table string `json:"table"`
	Key   Key    `json:"key"`
	// Fields are the column values to write. They are passed to the
	// target unchanged (Dataverse annotations such as
	// "customerid_account@odata.bind" included). They never hold the
	// record's state: see State.
	Fields map[string]any `json:"fields"`
	// MatchOnly looks the record up by Key and never writes it: it must
	// exist already (Dataverse users come from Entra ID; a migration
	// does not invent them). A missing record is rejected. Fields are
	// not used.
	MatchOnly bool `json:"matchOnly,omitempty"`
	// State, when set, is the state the record is moved to after it is
	// written. A state is a transition, not a column: a target writes
	// the record first and then changes its state, and moving a record
	// to the state it already has is no change.
	State *State `json:"state,omitempty"`
	// Links are many-to-many associations of the record, made after it
	// is written; making one that exists is no change.
	Links []Link `json:"links,omitempty"`
}

// State is a record's state and status reason (Dataverse statecode and
// statuscode).
type State struct {
	Code   int `json:"code"`
	Reason int `json:"reason"`
	// Close, for a case resolved (Dataverse incident statecode 1), is the
	// Case Resolution the resolving records.
	Close *Resolution `json:"close,omitempty"`
}

// Resolution describes how a case was resolved.
type Resolution struct {
	Subject string `json:"subject"`
	// ResolvedOn is when, as a Dataverse date-time string; empty means
	// now.
	ResolvedOn string `json:"resolvedOn,omitempty"`
}

// Link is one many-to-many association to another record.
type Link struct {
	// Relationship is the relationship's schema name (the collection
	// navigation property, as the Web API addresses it).
	Relationship string `json:"relationship"`
	Table        string `json:"table"`
	Key          Key    `json:"key"`
}

// Ref is what the ID map remembers about one written target record.
type Ref struct {
	Table string `json:"table"`
	// Key is Key.String() of the written record.
	Key string `json:"key"`
	// ID is the target's primary key when the target reported it (or the
	// key carried it); it may be empty for upserts by alternate key whose
	// response does not name the record.
	ID string `json:"id,omitempty"`
}

// IDs looks up what earlier steps wrote. Lookups see every step that has
// completed, and records of the running step once their batch has been
// committed (so a step should not depend on its own records: split it).
type IDs interface {
	// Lookup returns the first target record written for sourceID by step.
	Lookup(step, sourceID string) (Ref, bool)
	// LookupAll returns every target record written for sourceID by step,
	// in the order the mapping produced them.
	LookupAll(step, sourceID string) []Ref
}

// MapFunc translates one source record. It must be pure: no I/O besides
// ids, the same output for the same input, so that dry runs, resumes and
// verify see exactly what a run writes.
type MapFunc func(rec SourceRecord, ids IDs) MapResult

// MapResult is the outcome of mapping one record: records to write, a skip
// with a reason, or a reject with an error; any of them may carry warnings.
type MapResult struct {
	Records []TargetRecord
	// SkipReason, when set, means the record is deliberately not migrated
	// (a draft, an archived row). It is counted as skipped, not rejected.
	SkipReason string
	// Err, when set, rejects the record: it goes to the rejects file with
	// Reason and the run continues.
	Err    error
	Reason string
	// Warnings say where the mapping fell back or dropped something the
	// target cannot hold (an owner replaced by the default owner, a
	// condition with no equivalent). They change nothing the engine does
	// with the record; they are counted (Counts.Warned), written to
	// RunOptions.Warnings and sampled in the summary, so a user sees every
	// fallback that changed their data.
	Warnings []string
}

// WithWarnings returns r with msgs added to its warnings; empty messages
// are dropped. Warnings are kept whatever r's outcome.
//
//	return migrations.Write(rec).WithWarnings("owner falls back to the default owner")
func (r MapResult) WithWarnings(msgs ...string) MapResult {
	for _, m := range msgs {
		if m != "" {
			r.Warnings = append(r.Warnings, m)
		}
	}
	return r
}

// Write is the MapResult that writes recs.
func Write(recs ...TargetRecord) MapResult { return MapResult{Records: recs} }

// Skip is the MapResult that deliberately leaves a record out.
func Skip(reason string) MapResult { return MapResult{SkipReason: reason} }

// Reject is the MapResult of a record that cannot be mapped.
func Reject(err error) MapResult { return MapResult{Err: err, Reason: ReasonMap} }

// Reasons recorded with rejects.
const (
	ReasonMap   = "map"   // the mapping rejected the record
	ReasonWrite = "write" // the target rejected one of its records
	ReasonEmpty = "empty" // the mapping returned neither records, skip nor error
)

// Outcome is what a target did with one record.
type Outcome string

const (
	Created Outcome = "created"
	Updated Outcome = "updated"
	// Written is a create-or-update whose kind the target does not report
	// (Dataverse UpsertMultiple).
	Written   Outcome = "written"
	Unchanged Outcome = "unchanged"
	Rejected  Outcome = "rejected"
)

// WriteResult is the outcome of one TargetRecord of a batch.
type WriteResult struct {
	Outcome Outcome
	// ID is the record's primary key when known.
	ID string
	// Err is why the record was rejected.
	Err error
}

// Target writes batches of records idempotently (upsert by alternate key or
// deterministic ID), so a batch written twice after a crash leaves one copy.
type Target interface {
	// Write writes batch and returns one result per record, in order.
	// A record the target refuses is a Rejected result, not an error; an
	// error means the batch's fate is unknown and the run must stop (it is
	// retried on resume). Write may be called concurrently.
	Write(ctx context.Context, batch []TargetRecord) ([]WriteResult, error)
}

// Planner is implemented by a Target that can say, without writing, what
// Write would do with a batch: Created, Updated, Unchanged, Written (it
// cannot tell) or Rejected (a record it would refuse, such as a match-only
// record that does not exist). A dry run (Plan) asks it, so a plan says
// "would create 12, would update 3, unchanged 40" instead of "would write
// 55". An error stops the plan, as it stops a run.
type Planner interface {
	Plan(ctx context.Context, batch []TargetRecord) ([]WriteResult, error)
}

// TargetFunc adapts a function to Target.
type TargetFunc func(ctx context.Context, batch []TargetRecord) ([]WriteResult, error)

// Write calls f.
func (f TargetFunc) Write(ctx context.Context, batch []TargetRecord) ([]WriteResult, error) {
	return f(ctx, batch)
}

// DeterministicID derives a stable GUID (UUID v5) for a target record from
// the job-wide namespace and the source identity, for tables without an
// alternate key: the same source record always gets the same target ID, so a
// re-run updates instead of duplicating.
func DeterministicID(namespace, table, sourceID string) string {
	return uuid.NewHash(sha1.New(), dvsyncNamespace, []byte(namespace+"\x00"+table+"\x00"+sourceID), 5).String()
}

// dvsyncNamespace is the UUID v5 namespace of DeterministicID (a random v4,
// fixed forever: changing it would change every derived ID).
var dvsyncNamespace = uuid.MustParse("0f5c1d7e-52a4-4b8e-9d1c-6a1e0b7c2f39")

// validate checks the job's shape and returns the steps in dependency order
// (stable: declaration order among independent steps).
func (j *Job) validate() ([]*Step, error) {
	if j.Name == "" {
		return nil, errors.New("migrations: job has no name")
	}
	byName := map[string]*Step{}
	for i, s := range j.Steps {
		switch {
		case s == nil:
			return nil, fmt.Errorf("migrations: job %s: step %d is nil", j.Name, i)
		case s.Name == "":
			return nil, fmt.Errorf("migrations: job %s: step %d has no name", j.Name, i)
		case s.Source == nil || s.Map == nil || s.Target == nil:
			return nil, fmt.Errorf("migrations: step %s needs a Source, a Map and a Target", s.Name)
		}
		if byName[s.Name] != nil {
			return nil, fmt.Errorf("migrations: job %s: two steps named %q", j.Name, s.Name)
		}
		byName[s.Name] = s
	}
	for _, s := range j.Steps {
		for _, d := range s.DependsOn {
			if byName[d] == nil {
				return nil, fmt.Errorf("migrations: step %s depends on unknown step %q", s.Name, d)
			}
		}
	}
	// Kahn's algorithm, picking the earliest declared ready step each time.
	var order []*Step
	done := map[string]bool{}
	for len(order) < len(j.Steps) {
		progressed := false
		for _, s := range j.Steps {
			if done[s.Name] {
				continue
			}
			ready := true
			for _, d := range s.DependsOn {
				if !done[d] {
					ready = false
					break
				}
			}
			if ready {
				done[s.Name] = true
				order = append(order, s)
				progressed = true
				break
			}
		}
		if !progressed {
			var stuck []string
			for _, s := range j.Steps {
				if !done[s.Name] {
					stuck = append(stuck, s.Name)
				}
			}
			return nil, fmt.Errorf("migrations: job %s: dependency cycle among steps %s", j.Name, strings.Join(stuck, ", "))
		}
	}
	return order, nil
}
