package syncjob

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dvsync/dvsync/migrations"
)

// OdooUnit names a distributed run's Odoo sync: its lock
// (TableLockName(job, OdooUnit)) and the checkpoint that records the run
// it last ended.
const OdooUnit = "odoo sync"

// ErrRunDone is returned by RunOdoo when the run's Odoo sync has already
// ended and recorded its figures (an attempt River gave out again).
var ErrRunDone = errors.New("the run's Odoo sync has already ended")

// RunOdoo runs an Odoo job's sync once as the unit of the distributed run
// o.RunID (dvsync worker): as Run does, but under the unit's own lock
// (ErrLocked when another worker runs it) instead of the job's, which the
// coordinator holds, and without journalling (the coordinator does). The
// steps' figures and the rejected records are recorded in o.Store under
// the run, in the transaction that marks the unit's checkpoint with the
// run, also when the sync fails (what it wrote stays written); once it has
// succeeded, another attempt of the same run returns ErrRunDone.
func RunOdoo(ctx context.Context, job *Job, o Options) ([]TableSummary, error) {
	switch {
	case o.Store == nil:
		return nil, errors.New("sync: no state store")
	case job.Source.Odoo == nil:
		return nil, fmt.Errorf("sync: job %s reads Dataverse: %w", job.Name, ErrNotSupported)
	case o.Odoo == nil || o.EngineStore == nil || o.TargetClient == nil:
		return nil, errors.New("sync: an Odoo job needs an Odoo client, a Dataverse client for the target and an engine store")
	case o.RunID == "":
		return nil, errors.New("sync: RunOdoo runs a unit of a distributed run: no run id")
	case o.DryRun:
		return nil, fmt.Errorf("sync: a dry run runs in one process: %w", ErrNotSupported)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	unlock, err := o.Store.Lock(ctx, TableLockName(job.Name, OdooUnit))
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Read under the lock: it also tells the compare-and-swap below which
	// version this attempt saw.
	mark, err := o.Store.Checkpoint(ctx, job.Name, OdooUnit)
	if err != nil {
		return nil, err
	}
	if mark.Phase == "current" && mark.Link == o.RunID {
		return nil, ErrRunDone
	}
	if err := confirmEnds(ctx, job, o); err != nil {
		return nil, err
	}
	rej := &rejectLines{job: job.Name}
	o.Rejects = rej
	r := &runner{job: job, o: o, sum: &Summary{Job: job.Name, Target: job.Target.Kind()}}
	runErr := r.runOdoo(ctx)
	tables := r.sum.Tables
	mark = Checkpoint{Mode: "odoo", Phase: "interrupted", Link: o.RunID}
	if runErr == nil {
		mark.Phase = "current"
	}
	if err := o.Store.saveRun(context.WithoutCancel(ctx), job.Name, OdooUnit, mark, o.RunID, tables, rej.list()); err != nil && runErr == nil {
		runErr = err
	}
	return tables, runErr
}

// rejectLines keeps the rejects an Odoo sync writes: the engine's lines
// (migrations.RejectLine, under the step's name) and the deleted-ticket
// check's (Reject), as Rejects.
type rejectLines struct {
	job string
	buf bytes.Buffer
}

func (w *rejectLines) Write(p []byte) (int, error) { return w.buf.Write(p) }

func (w *rejectLines) list() []Reject {
	var out []Reject
	sc := bufio.NewScanner(bytes.NewReader(w.buf.Bytes()))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var l struct {
			migrations.RejectLine
			Table string `json:"table"`
			ID    string `json:"id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			// Not lost: listed as it was written.
			out = append(out, Reject{Job: w.job, Error: sc.Text()})
			continue
		}
		r := Reject{Time: l.Time, Job: w.job, Table: l.Table, ID: l.ID, Error: l.Error}
		if l.Step != "" {
			r.Table, r.ID = l.Step, l.SourceID
			if r.Error == "" {
				r.Error = l.Reason
			}
		}
		out = append(out, r)
	}
	return out
}
