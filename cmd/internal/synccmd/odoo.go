package synccmd

import (
	"context"
	"strings"

	"github.com/dvsync/dvsync/cmd/internal/connection"
	"github.com/dvsync/dvsync/cmd/internal/exitcode"
	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/pgstore"
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
	var engine migrations.Store
	if strings.HasPrefix(state, "postgres://") || strings.HasPrefix(state, "postgresql://") {
		engine, err = pgstore.Open(ctx, state, pgstore.Options{})
	} else {
		engine, err = migrations.OpenSQLite(ctx, state)
	}
	if err != nil {
		return nil, &output.ExitError{Code: exitcode.Failure, Err: err}
	}
	opts.Odoo, opts.EngineStore = oc, engine
	return func() { engine.Close() }, nil
}
