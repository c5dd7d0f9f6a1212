package migrations

import (
	"context"
	"fmt"
	"strings"
)

// TargetIdentifier is implemented by a Target that can name the system it
// writes to (a Dataverse organisation and its URL), so a job's state can
// be tied to it and never resumed against another.
type TargetIdentifier interface {
	Identify(ctx context.Context) (TargetInfo, error)
}

// TargetProber is implemented by a Target that can tell which of a few
// records it holds, reading them by ID (one request per table). held[i]
// reports refs[i]; a ref the target cannot check (no usable ID) counts as
// held, so it never causes a refusal.
type TargetProber interface {
	Holds(ctx context.Context, refs []Ref) (held []bool, err error)
}

// TargetMismatchError reports that a job's state does not belong to the
// target of this run: the state names another organisation, or the
// target no longer holds the records the state says its last batches
// wrote (a sandbox reset or replaced, a new reference server). Resuming
// would bind records to IDs that do not exist; the choices are to start
// over with a fresh state or to point the run at the target the state
// belongs to.
type TargetMismatchError struct {
	Job string
	// Recorded is the target the state belongs to; Current the target of
	// this run.
	Recorded, Current TargetInfo
	// Step and Missing are set when the organisation matches (or was not
	// recorded) but the target lacks the Missing records the last
	// checkpoint of Step wrote.
	Step    string
	Missing int
}

func (e *TargetMismatchError) Error() string {
	if e.Step == "" {
		return fmt.Sprintf("the state of job %s belongs to %s, not to %s", e.Job, e.Recorded, e.Current)
	}
	where := e.Current.URL
	if where == "" {
		where = "the target"
	}
	return fmt.Sprintf("the state of job %s does not match %s: none of the %d records its last checkpoint of step %s wrote is there (the environment was reset or replaced since)",
		e.Job, where, e.Missing, e.Step)
}

// ConfirmOptions configure ConfirmTarget.
type ConfirmOptions struct {
	// Probe reads a few records each step's last checkpoint wrote
	// (Checkpoint.Written) from the target, when it is a TargetProber.
	Probe bool
	// Record records the target in the store (SetTarget) once it is
	// confirmed: on the first run, and when its URL changed. A dry run or
	// a verify records nothing.
	Record bool
}

// ConfirmTarget checks, before a job resumes from store, that store's
// state belongs to the job's target: the organisation it recorded is the
// one the target names, and (with Probe) the target still holds, for every
// step, at least one of the records the step's last checkpoint wrote. It
// returns *TargetMismatchError when not, and nil when the job's targets
// cannot name themselves (TargetIdentifier) or the state holds nothing to
// check. Run calls it first; Verify's callers may.
func ConfirmTarget(ctx context.Context, job *Job, store Store, o ConfirmOptions) error {
	if store == nil || job == nil {
		return nil
	}
	var ident TargetIdentifier
	var prober TargetProber
	for _, s := range job.Steps {
		if s == nil {
			continue
		}
		if id, ok := s.Target.(TargetIdentifier); ok && ident == nil {
			ident = id
		}
		if p, ok := s.Target.(TargetProber); ok && prober == nil {
			prober = p
		}
	}
	if ident == nil {
		return nil
	}
	current, err := ident.Identify(ctx)
	if err != nil {
		return fmt.Errorf("migrations: naming the target of job %s: %w", job.Name, err)
	}
	recorded, known, err := store.Target(ctx, job.Name)
	if err != nil {
		return err
	}
	if known && recorded.ID != "" && current.ID != "" && !strings.EqualFold(recorded.ID, current.ID) {
		return &TargetMismatchError{Job: job.Name, Recorded: recorded, Current: current}
	}
	if o.Probe && prober != nil {
		if err := probeWritten(ctx, job, store, prober, recorded, current); err != nil {
			return err
		}
	}
	if o.Record && (!known || recorded.ID != current.ID || recorded.URL != current.URL) {
		return store.SetTarget(ctx, job.Name, current)
	}
	return nil
}

// probeWritten reads the samples of every step's checkpoint in one Holds
// call and fails when a step's sample is gone entirely. One record of a
// sample still there is enough: users delete records, a reset deletes
// them all.
func probeWritten(ctx context.Context, job *Job, store Store, prober TargetProber, recorded, current TargetInfo) error {
	var refs []Ref
	var steps []string
	var ends []int
	for _, s := range job.Steps {
		if s == nil {
			continue
		}
		cp, err := store.Checkpoint(ctx, job.Name, s.Name)
		if err != nil {
			return err
		}
		if len(cp.Written) == 0 {
			continue
		}
		refs = append(refs, cp.Written...)
		steps = append(steps, s.Name)
		ends = append(ends, len(refs))
	}
	if len(refs) == 0 {
		return nil
	}
	held, err := prober.Holds(ctx, refs)
	if err == nil && len(held) != len(refs) {
		err = fmt.Errorf("the target answered for %d records of %d", len(held), len(refs))
	}
	if err != nil {
		return fmt.Errorf("migrations: reading back records the state of job %s says were written: %w", job.Name, err)
	}
	start := 0
	for i, end := range ends {
		found := false
		for _, h := range held[start:end] {
			found = found || h
		}
		if !found {
			return &TargetMismatchError{Job: job.Name, Recorded: recorded, Current: current, Step: steps[i], Missing: end - start}
		}
		start = end
	}
	return nil
}
