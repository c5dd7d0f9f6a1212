package syncjob

import (
	"context"
	"strings"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/odoojob"
)

// confirmEnds refuses a run whose state belongs to other environments: a
// delta token is valid only for the organisation that issued it, and the
// target keys only for the one written to. It compares the organisation
// each Dataverse end names (WhoAmI) with the one the state recorded, and
// records them on the first run (and a URL that changed). A dry run
// records nothing. The mismatch is *migrations.TargetMismatchError, as
// for a migration.
func confirmEnds(ctx context.Context, job *Job, o Options) error {
	type end struct {
		role string
		c    *dataverse.Client
	}
	ends := []end{{RoleSource, o.Client}}
	if job.Target.Dataverse != nil {
		ends = append(ends, end{RoleTarget, o.TargetClient})
	}
	for _, e := range ends {
		if e.c == nil {
			continue
		}
		_, org, err := e.c.WhoAmI(ctx)
		if err != nil {
			return err
		}
		cur := migrations.TargetInfo{ID: strings.ToLower(org), URL: e.c.ServiceRoot()}
		rec, ok, err := o.Store.End(ctx, job.Name, e.role)
		if err != nil {
			return err
		}
		if ok && rec.ID != "" && !strings.EqualFold(rec.ID, cur.ID) {
			return &migrations.TargetMismatchError{Job: job.Name, Recorded: rec, Current: cur}
		}
		if !o.DryRun && (!ok || rec.ID != cur.ID || rec.URL != cur.URL) {
			if err := o.Store.SetEnd(ctx, job.Name, e.role, cur); err != nil {
				return err
			}
		}
	}
	return nil
}

// Fresh clears a job's state so that its next run starts over: the sync
// state in st (delta tokens, watermarks, target keys, recorded
// environments) and, for an Odoo source, the state in engine of the
// migration the sync runs (checkpoints, ID map, baselines). It holds the
// job's lock throughout and clears nothing when a run holds it (ErrLocked)
// or holds the migration's (*migrations.JobRunningError); each clear is
// atomic and the journals are kept. engine may be nil for a Dataverse
// source.
func Fresh(ctx context.Context, job *Job, st *Store, engine migrations.Store) error {
	unlock, err := st.Lock(ctx, job.Name)
	if err != nil {
		return err
	}
	defer unlock()
	if job.Source.Odoo != nil && engine != nil {
		if err := engine.Clear(ctx, odoojob.JobName(job.Source.Odoo.DB)); err != nil {
			return err
		}
	}
	return st.clearLocked(ctx, job.Name)
}
