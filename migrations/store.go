package migrations

import (
	"context"
	"fmt"
	"iter"
	"time"
)

// Store keeps the state that makes jobs resumable: per-step checkpoints,
// the source-ID → target-ID map, named values (watermarks, delta tokens),
// the currently rejected records and the run journal. SQLiteStore is the
// embedded default; a shared PostgreSQL store implements the same
// interface. Implementations must be safe for concurrent use.
//
// One process runs a given job at a time: BeginRun fails while another
// process runs the job, and marks any earlier run of the job still
// recorded as running (its process died) as interrupted.
type Store interface {
	// Checkpoint returns the committed position of a step; the zero
	// Checkpoint when the step never committed.
	Checkpoint(ctx context.Context, job, step string) (Checkpoint, error)
	// Commit records the effects of one fully written batch atomically:
	// ID map entries, rejects, the step's new cursor and the run's counts.
	Commit(ctx context.Context, c Commit) error
	// ResetCheckpoints forgets the cursors of the given steps (all steps of
	// the job when none are given), so the next run reads their sources
	// from the start. The ID map is kept: re-written records update.
	ResetCheckpoints(ctx context.Context, job string, steps ...string) error
	// LookupIDs returns the target records written for a source record, in
	// mapping order.
	LookupIDs(ctx context.Context, job, step, sourceID string) ([]Ref, error)
	// Value and SetValue keep named values of a job: watermarks and delta
	// tokens of sync jobs.
	Value(ctx context.Context, job, name string) (string, bool, error)
	SetValue(ctx context.Context, job, name, value string) error
	// Rejects streams the records of a step that are currently rejected
	// (rejected and not written successfully since).
	Rejects(ctx context.Context, job, step string) iter.Seq2[RejectState, error]
	// BeginRun starts a run in the journal and returns its ID.
	BeginRun(ctx context.Context, job string, steps []string) (string, error)
	// SetStepStatus records a step's status within a run.
	SetStepStatus(ctx context.Context, runID, step string, status Status) error
	// EndRun closes a run with its final status and error message.
	EndRun(ctx context.Context, runID string, status Status, errMsg string) error
	// Runs returns the journal of a job, oldest first.
	Runs(ctx context.Context, job string) ([]RunRecord, error)
	Close() error
}

// Checkpoint is a step's committed position.
type Checkpoint struct {
	// Cursor is the source position after the last durable batch.
	Cursor string
	// Done reports that a run read the step's source to its end.
	Done      bool
	UpdatedAt time.Time
}

// Commit is the state change of one batch, applied atomically.
type Commit struct {
	Job, Step, RunID string
	// Cursor is the step's new position; "" keeps the current one.
	Cursor string
	// Done marks the step as read to its end.
	Done bool
	// IDs are the target records written, per source record.
	IDs []IDEntry
	// Rejects are source records rejected in this batch.
	Rejects []RejectState
	// Cleared are source records written successfully in this batch, whose
	// earlier rejects no longer hold.
	Cleared []string
	// Counts are added to the run's counts for the step.
	Counts Counts
}

// IDEntry maps one source record to the Seq-th target record it produced.
type IDEntry struct {
	SourceID string
	Seq      int
	Ref      Ref
}

// RejectState is a rejected source record as the store keeps it.
type RejectState struct {
	SourceID string `json:"source_id"`
	RunID    string `json:"run_id"`
	Reason   string `json:"reason"`
	Error    string `json:"error"`
}

// Status is the state of a run or of a step within one.
type Status string

const (
	StatusRunning     Status = "running"
	StatusSucceeded   Status = "succeeded"
	StatusFailed      Status = "failed"
	StatusCancelled   Status = "cancelled"
	StatusInterrupted Status = "interrupted" // found running by a later run: the process died
	StatusPending     Status = "pending"
)

// RunRecord is one run of the journal.
type RunRecord struct {
	ID      string          `json:"id"`
	Job     string          `json:"job"`
	Started time.Time       `json:"started"`
	Ended   time.Time       `json:"ended,omitzero"`
	Status  Status          `json:"status"`
	Error   string          `json:"error,omitempty"`
	Steps   []RunStepRecord `json:"steps"`
}

// RunStepRecord is one step of a journalled run.
type RunStepRecord struct {
	Step   string `json:"step"`
	Status Status `json:"status"`
	Counts Counts `json:"counts"`
}

// Counts account for the source records of a step. They always reconcile:
// Read = Created + Updated + Written + Unchanged + Skipped + Rejected.
// Warned is informational and outside that sum: a warned record is also
// counted by its outcome.
// A source record mapped to several target records counts once: rejected
// if any of them was rejected, unchanged if all were unchanged, created if
// any was created, updated or written otherwise.
type Counts struct {
	Read      int64 `json:"read"`
	Created   int64 `json:"created"`
	Updated   int64 `json:"updated"`
	Written   int64 `json:"written"` // created or updated, target did not say which
	Unchanged int64 `json:"unchanged"`
	Skipped   int64 `json:"skipped"`
	Rejected  int64 `json:"rejected"`
	// Warned is the number of warnings the mapping returned (a record may
	// carry several; see MapResult.Warnings).
	Warned int64 `json:"warned"`
}

// Add adds o to c.
func (c *Counts) Add(o Counts) {
	c.Read += o.Read
	c.Created += o.Created
	c.Updated += o.Updated
	c.Written += o.Written
	c.Unchanged += o.Unchanged
	c.Skipped += o.Skipped
	c.Rejected += o.Rejected
	c.Warned += o.Warned
}

// TotalWritten is every record the target now holds because of the run:
// created, updated or written.
func (c Counts) TotalWritten() int64 { return c.Created + c.Updated + c.Written }

// Reconcile returns a *ReconcileError unless the counts add up. Warned is
// not part of the sum.
func (c Counts) Reconcile(step string) error {
	if sum := c.TotalWritten() + c.Unchanged + c.Skipped + c.Rejected; sum != c.Read {
		return &ReconcileError{Step: step, Counts: c}
	}
	return nil
}

// ReconcileError reports counts that do not add up: a bug in the engine or
// in a Target that lost track of a record.
type ReconcileError struct {
	Step   string
	Counts Counts
}

func (e *ReconcileError) Error() string {
	c := e.Counts
	return fmt.Sprintf("migrations: step %s does not reconcile: read %d != created %d + updated %d + written %d + unchanged %d + skipped %d + rejected %d",
		e.Step, c.Read, c.Created, c.Updated, c.Written, c.Unchanged, c.Skipped, c.Rejected)
}
