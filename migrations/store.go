package migrations

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"
	"time"
)

// Store keeps the state that makes jobs resumable: per-step checkpoints,
// the source-ID → target-ID map, named values (watermarks, delta tokens),
// the currently rejected and skipped records and the run journal.
// SQLiteStore is the embedded default; a shared PostgreSQL store
// implements the same interface. Implementations must be safe for
// concurrent use.
//
// One process runs a given job at a time: BeginRun fails while another
// process runs the job, and marks any earlier run of the job still
// recorded as running (its process died) as interrupted.
//
// Checkpoints and values are compare-and-swap: a store remembers the
// version of each checkpoint and value it last read or wrote, and an
// update applies only while the row still has that version; otherwise it
// fails with *ConflictError and nothing of the update is kept. Two handles
// (two processes, two workers) can never both advance the same step or
// delta token from the same position.
//
// A job's state belongs to one target: SetTarget records which, and the
// engine refuses to resume against another (see ConfirmTarget).
type Store interface {
	// Checkpoint returns the committed position of a step; the zero
	// Checkpoint when the step never committed.
	Checkpoint(ctx context.Context, job, step string) (Checkpoint, error)
	// Commit records the effects of one fully written batch atomically:
	// ID map entries, rejects, skips, the step's new cursor and the run's
	// counts. When it moves the checkpoint, a few of the batch's ID map
	// entries that carry a target ID are kept with it (Checkpoint.Written).
	Commit(ctx context.Context, c Commit) error
	// ResetCheckpoints forgets the cursors of the given steps (all steps of
	// the job when none are given), so the next run reads their sources
	// from the start. The ID map, rejects and skips are kept: re-written
	// records update, and records read again replace their reject or skip.
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
	// Skips streams the records of a step that are currently skipped
	// (skipped, and neither written nor rejected since), ordered by source
	// ID, each with the reason and run of its latest skip.
	Skips(ctx context.Context, job, step string) iter.Seq2[SkipState, error]
	// BeginRun starts a run in the journal and returns its ID.
	BeginRun(ctx context.Context, job string, steps []string) (string, error)
	// SetStepStatus records a step's status within a run.
	SetStepStatus(ctx context.Context, runID, step string, status Status) error
	// EndRun closes a run with its final status and error message.
	EndRun(ctx context.Context, runID string, status Status, errMsg string) error
	// Runs returns the journal of a job, oldest first.
	Runs(ctx context.Context, job string) ([]RunRecord, error)
	// Target returns the target a job's state belongs to, as SetTarget
	// recorded it; ok is false when none is recorded.
	Target(ctx context.Context, job string) (TargetInfo, bool, error)
	// SetTarget records the target a job's state belongs to. Recorded is
	// kept from the first call.
	SetTarget(ctx context.Context, job string, t TargetInfo) error
	// Clear forgets a job's state in one transaction: checkpoints, ID map,
	// values, rejects, skips and its target, so the next run starts over
	// as on a new store. The journal is kept (it is history, not state).
	// Clear fails with *JobRunningError while a run of the job holds its
	// lock.
	Clear(ctx context.Context, job string) error
	Close() error
}

// TargetInfo names the target a job's state belongs to.
type TargetInfo struct {
	// ID is the target's own identity, the same whatever URL reaches it:
	// a Dataverse organisation ID (WhoAmI's OrganizationId).
	ID string `json:"id"`
	// URL is where the target was reached (an environment URL), for
	// messages.
	URL string `json:"url"`
	// Recorded is when the store first recorded the job's target; zero
	// in what a Target reports.
	Recorded time.Time `json:"recorded,omitzero"`
}

// String names the target for messages.
func (t TargetInfo) String() string {
	switch {
	case t.URL != "" && t.ID != "":
		return fmt.Sprintf("%s (organisation %s)", t.URL, t.ID)
	case t.URL != "":
		return t.URL
	case t.ID != "":
		return "organisation " + t.ID
	}
	return "an unnamed target"
}

// ConflictError reports that another writer advanced a checkpoint or value
// since this store last saw it: the losing side of a compare-and-swap.
// Nothing of the update that failed was kept.
type ConflictError struct {
	Job, Name string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("migrations: %s of job %s was advanced by another process since this one read it; nothing was committed", e.Name, e.Job)
}

// WrittenSample is the number of ID map entries a checkpoint keeps
// (Checkpoint.Written).
const WrittenSample = 5

// Checkpoint is a step's committed position.
type Checkpoint struct {
	// Cursor is the source position after the last durable batch.
	Cursor string
	// Done reports that a run read the step's source to its end.
	Done      bool
	UpdatedAt time.Time
	// Written holds up to WrittenSample target records (with their IDs)
	// of the last batch that moved the checkpoint and wrote any, spread
	// over the batch, so a resume can confirm the target still holds
	// them (ConfirmTarget).
	Written []Ref
}

// SampleWritten picks up to WrittenSample entries with a target ID, spread
// evenly over ids (first and last included): the Checkpoint.Written a
// commit of ids records. Store implementations call it.
func SampleWritten(ids []IDEntry) []Ref {
	var with []Ref
	for _, e := range ids {
		if e.Ref.ID != "" {
			with = append(with, e.Ref)
		}
	}
	if len(with) <= WrittenSample {
		return with
	}
	out := make([]Ref, WrittenSample)
	for i := range out {
		out[i] = with[i*(len(with)-1)/(WrittenSample-1)]
	}
	return out
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
	// Rejects are source records rejected in this batch. A rejected
	// record is no longer skipped.
	Rejects []RejectState
	// Skips are source records skipped in this batch, with the mapping's
	// reason. A skipped record is no longer rejected. A record skipped
	// again replaces its earlier skip, so a batch committed twice (redone
	// after a crash) keeps one row per record.
	Skips []SkipState
	// Cleared are source records of this batch that are no longer rejected
	// nor skipped: written successfully (and, from the engine, skipped
	// ones too, which Skips then records again: a store removes what
	// Cleared names before it records Rejects and Skips).
	Cleared []string
	// Counts are added to the run's counts for the step.
	Counts Counts
	// Written, when set, is the sample the moved checkpoint keeps
	// (Checkpoint.Written) instead of one of IDs: for a caller that
	// commits a batch's IDs and its checkpoint under different step
	// names (the units of a distributed run).
	Written []Ref
}

// IDEntry maps one source record to the Seq-th target record it produced.
type IDEntry struct {
	SourceID string
	Seq      int
	Ref      Ref
}

// RejectState is a rejected source record as the store keeps it. Stores
// keep it in columns, never as JSON; its JSON names are camelCase, as in
// every JSON dvsync writes (RejectLine).
type RejectState struct {
	SourceID string `json:"sourceId"`
	RunID    string `json:"runId"`
	Reason   string `json:"reason"`
	Error    string `json:"error"`
}

// SkipState is a skipped source record as the store keeps it: in
// columns, with camelCase JSON names, as RejectState. RunID and Reason are
// those of its latest skip; a store records the commit's RunID.
type SkipState struct {
	SourceID string `json:"sourceId"`
	RunID    string `json:"runId"`
	Reason   string `json:"reason"`
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

// Versions remembers, for a Store implementation, the version of each
// checkpoint and value the store last read or wrote: the expected side of
// its compare-and-swap. The zero value is ready to use.
type Versions struct {
	mu sync.Mutex
	m  map[string]int64 // "c\x00job\x00step" or "v\x00job\x00name"
}

func (v *Versions) get(key string) (int64, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	n, ok := v.m[key]
	return n, ok
}

func (v *Versions) set(key string, n int64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil {
		v.m = map[string]int64{}
	}
	v.m[key] = n
}

// Checkpoint returns the version of a step's checkpoint last seen (0: seen
// absent); ok is false when this store never saw it.
func (v *Versions) Checkpoint(job, step string) (int64, bool) {
	return v.get("c\x00" + job + "\x00" + step)
}

// SeeCheckpoint records the version of a step's checkpoint read or written.
func (v *Versions) SeeCheckpoint(job, step string, n int64) { v.set("c\x00"+job+"\x00"+step, n) }

// Value returns the version of a value last seen, as Checkpoint does.
func (v *Versions) Value(job, name string) (int64, bool) { return v.get("v\x00" + job + "\x00" + name) }

// SeeValue records the version of a value read or written.
func (v *Versions) SeeValue(job, name string, n int64) { v.set("v\x00"+job+"\x00"+name, n) }

// Forget marks the checkpoints of steps (every step and every value of
// the job when none is named) as seen absent, after the store removed them.
func (v *Versions) Forget(job string, steps ...string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	cp, val := "c\x00"+job+"\x00", "v\x00"+job+"\x00"
	for k := range v.m {
		switch {
		case strings.HasPrefix(k, cp) && (len(steps) == 0 || slices.Contains(steps, k[len(cp):])):
			v.m[k] = 0
		case len(steps) == 0 && strings.HasPrefix(k, val):
			v.m[k] = 0
		}
	}
}

// FormatWritten is the text form of Checkpoint.Written that stores keep:
// "" for none, else JSON.
func FormatWritten(refs []Ref) string {
	if len(refs) == 0 {
		return ""
	}
	b, _ := json.Marshal(refs)
	return string(b)
}

// ParseWritten reads what FormatWritten wrote.
func ParseWritten(text string) ([]Ref, error) {
	if text == "" {
		return nil, nil
	}
	var refs []Ref
	if err := json.Unmarshal([]byte(text), &refs); err != nil {
		return nil, fmt.Errorf("damaged sample of written records: %w", err)
	}
	return refs, nil
}
