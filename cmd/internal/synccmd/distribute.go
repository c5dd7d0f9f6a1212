package synccmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

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
}

func (d *distOptions) addFlags(f *pflag.FlagSet) {
	f.BoolVar(&d.on, "distribute", false, "sync each table on dvsync worker processes and wait for them (needs --state postgres://… and a Dataverse source)")
	f.StringVar(&d.appUsers, "app-users", "", "with --distribute: YAML file of the application users workers read and write as (see dvsync worker --help)")
}

// runDistributed runs the job's tables as units on the workers and prints
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
	sum, runErr := distribute.Sync(ctx, distribute.SyncOptions{State: o.state, Store: st, Job: job, JobText: text, Users: users,
		Progress: prog.update, Notice: func(msg string) { fmt.Fprintln(streams.Err, msg) }})
	prog.finish()
	switch {
	case errors.Is(runErr, syncjob.ErrLocked):
		return &output.ExitError{Code: exitcode.Locked, Err: fmt.Errorf("job %s: %w; this run did nothing", job.Name, runErr)}
	case errors.Is(runErr, syncjob.ErrNotSupported):
		return usageError(nil, runErr)
	case sum == nil:
		return &output.ExitError{Code: exitcode.Failure, Err: runErr}
	}
	if o.metrics != "" {
		if err := syncjob.WriteMetrics(o.metrics, sum); err != nil && runErr == nil {
			runErr = err
		}
	}
	// Workers keep no rejects file: the counts say how many, the workers'
	// logs which.
	rej := &lazyFile{path: filepath.Join(job.Dir, job.Name+".rejects.jsonl")}
	if o.json {
		if err := output.WriteJSON(streams.Out, sum); err != nil {
			return err
		}
	} else {
		renderSummary(streams.Out, sum, rej)
	}
	switch {
	case runErr == nil:
		return nil
	case errors.Is(runErr, syncjob.ErrRejects):
		return &output.ExitError{Code: exitcode.Rejects, Err: fmt.Errorf("%d records rejected", sum.Totals.Rejected)}
	case ctx.Err() != nil:
		return &output.ExitError{Code: exitcode.Failure, Err: fmt.Errorf("interrupted: %w", runErr)}
	default:
		return &output.ExitError{Code: exitcode.Failure, Err: runErr}
	}
}
