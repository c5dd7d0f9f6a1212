package synccmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/dvsync/dvsync/cmd/internal/connection"
	"github.com/dvsync/dvsync/cmd/internal/exitcode"
	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/statestore"
	"github.com/dvsync/dvsync/migrations/syncjob"
	"github.com/dvsync/dvsync/odoo"
)

// odooSource connects to the job's Odoo and opens the migrations engine's
// store on the same state (the file or database `dvsync migrate odoo`
// keeps its ID map in).
func odooSource(ctx context.Context, job *syncjob.Job, state string, opts *syncjob.Options) (func(), error) {
	src := job.Source.Odoo
	conn := connection.Odoo{URL: src.URL, DB: src.DB, User: src.User, Protocol: "auto", PageSize: odoo.DefaultPageSize}
	oc, err := conn.Client(ctx, nil)
	if err != nil {
		return nil, &output.ExitError{Code: exitcode.Failure, Err: err}
	}
	engine, err := statestore.Open(ctx, state)
	if err != nil {
		return nil, &output.ExitError{Code: exitcode.Failure, Err: err}
	}
	opts.Odoo, opts.EngineStore = oc, engine
	return func() { engine.Close() }, nil
}

// fresh clears the job's state for --fresh (syncjob.Fresh): the sync
// state and, for an Odoo source, its migration's state in the same store.
func fresh(ctx context.Context, job *syncjob.Job, st *syncjob.Store, o *options) error {
	if o.dryRun {
		return usageError(nil, errors.New("--fresh clears the job's state and --dry-run writes nothing: run one, then the other"))
	}
	var engine migrations.Store
	if job.Source.Odoo != nil {
		var err error
		if engine, err = statestore.Open(ctx, o.state); err != nil {
			return &output.ExitError{Code: exitcode.Failure, Err: err}
		}
		defer engine.Close()
	}
	err := syncjob.Fresh(ctx, job, st, engine)
	var running *migrations.JobRunningError
	if errors.Is(err, syncjob.ErrLocked) || errors.As(err, &running) {
		return &output.ExitError{Code: exitcode.Locked, Err: fmt.Errorf("--fresh: job %s: %w; nothing was cleared", job.Name, err)}
	}
	if err != nil {
		return &output.ExitError{Code: exitcode.Failure, Err: err}
	}
	return nil
}
