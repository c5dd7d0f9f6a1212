package synccmd

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/dvsync/dvsync/cmd/internal/exitcode"
	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/migrations/distribute"
	"github.com/dvsync/dvsync/migrations/pgstore"
	"github.com/dvsync/dvsync/migrations/syncjob"
)

// distOptions are the flags of a distributed sync.
type distOptions struct {
	on       bool
	appUsers string
	// river places the queue (tests: a schema of their own).
	river distribute.Options
}

func (d *distOptions) addFlags(f *pflag.FlagSet) {
	f.BoolVar(&d.on, "distribute", false, "run the sync on dvsync worker processes and wait for them (needs --state postgres://…): a unit per table of a Dataverse source, one unit for an Odoo source")
	f.StringVar(&d.appUsers, "app-users", "", "with --distribute: YAML file of the application users workers read and write as (see dvsync worker --help)")
}

// runDistributed runs the job as units on the workers (its tables, or
// the whole of an Odoo source) and prints
// the summary they report, with the exit codes of a single-process run.
func runDistributed(ctx context.Context, streams *output.Streams, o *options, job *syncjob.Job, st *syncjob.Store) error {
	switch {
	case o.dryRun:
		return usageError(nil, errors.New("--dry-run runs in one process: leave out --distribute"))
	case !pgstore.IsURL(o.state):
		return usageError(nil, fmt.Errorf("--distribute needs the shared state store: --state postgres://… (not %s)", o.state))
	}
	var users []distribute.AppUser
	if o.dist.appUsers != "" {
		var err error
		if users, err = distribute.LoadAppUsers(o.dist.appUsers); err != nil {
			return usageError(nil, err)
		}
	}
	text, err := os.ReadFile(o.job)
	if err != nil {
		return &output.ExitError{Code: exitcode.Failure, Err: err}
	}
	prog := newProgressView(streams, o.json)
	// The workers record rejected records in the state store; the
	// coordinator writes them here, as a single-process run does.
	rej := rejectsFile(o, job)
	defer rej.Close()
	sum, runErr := distribute.Sync(ctx, distribute.SyncOptions{Options: o.dist.river, State: o.state, Store: st, Job: job, JobText: text, Users: users,
		Progress: prog.update, Notice: func(msg string) { fmt.Fprintln(streams.Err, msg) }, Rejects: rej})
	prog.finish()
	interrupted := "interrupted"
	if runErr != nil {
		interrupted = "interrupted: " + runErr.Error()
	}
	return report(ctx, streams, o, job, sum, runErr, rej, interrupted)
}
