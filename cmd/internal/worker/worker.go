// Package worker implements `dvsync worker`: a process that works the
// units of distributed migrations and syncs from the shared PostgreSQL
// state store, as many of them as you run, on as many machines.
package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/dvsync/dvsync/cmd/internal/exitcode"
	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/migrations/distribute"
	"github.com/dvsync/dvsync/migrations/pgstore"
)

const longHelp = `Work the units of distributed runs: dvsync migrate odoo --distribute splits
each step of a migration into id ranges, dvsync sync --distribute a sync job
into its tables, and enqueues them in River (a job queue on PostgreSQL) in
the state database. Run one worker or many, on any number of machines; each
takes units from the queue, works them from their checkpoints and reports
to the coordinator that enqueued them. Stop a worker with Ctrl-C or SIGTERM:
it finishes its slices and hands its units back.

Units work in slices of a third of --rescue-after; a unit whose worker dies
is taken over by another worker once River has seen it stuck for
--rescue-after (plus up to 30 s, River's rescue interval). Writes are
idempotent, so a unit done twice in part writes nothing twice.

Credentials: a unit names who to write as and where each secret is, never
the secret. Every worker reads them from its own environment or files:
  Dataverse   the application users listed with --app-users by the
              coordinator (token_env/token_file, secret_env/secret_file,
              certificate_file, managed or workload identity); without a
              list, DVSYNC_TOKEN or the AZURE_* variables, as other commands
  Odoo        ODOO_API_KEY, or the variable/file the coordinator named with
              --odoo-key-file
  PostgreSQL  the password from PGPASSWORD or ~/.pgpass, never in --state

Service protection: each application user's requests, summed over every
worker, stay within the environment's x-ms-dop-hint (slots held as
PostgreSQL advisory locks while a request is in flight).

Exit codes: 0 stopped on request, 1 failure, 2 usage error.`

type options struct {
	state       string
	concurrency int
	requests    int
	rescueAfter time.Duration
	verbose     bool
}

// NewCommand returns `dvsync worker`.
func NewCommand(streams *output.Streams) *cobra.Command {
	o := &options{}
	cmd := &cobra.Command{
		Use:   "worker --state postgres://…",
		Short: "Work the units of distributed migrations and syncs (River on PostgreSQL)",
		Long:  longHelp,
		Example: `  PGPASSWORD=... DVSYNC_TOKEN_APP1=... ODOO_API_KEY=... dvsync worker --state postgres://dvsync@db.internal/dvsync
  dvsync worker --state postgres://dvsync@db.internal/dvsync --concurrency 4 --rescue-after 1m`,
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE:         func(cmd *cobra.Command, _ []string) error { return run(cmd.Context(), streams, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.state, "state", "", "the shared state store: postgres://user@host:port/database (password from PGPASSWORD or ~/.pgpass)")
	f.IntVar(&o.concurrency, "concurrency", 2, "units worked at once")
	f.IntVar(&o.requests, "max-requests", distribute.DefaultRequests, "requests to Dataverse in flight or waiting for a slot, over all application users (each holds a database connection)")
	f.DurationVar(&o.rescueAfter, "rescue-after", distribute.DefaultRescueAfter, "how long a dead worker's unit waits before another takes it over")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "log River's and the engine's messages to stderr")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return exitcode.UsageError(err) })
	return cmd
}

func run(ctx context.Context, streams *output.Streams, o *options) error {
	switch {
	case o.state == "":
		return exitcode.UsageError(errors.New("--state postgres://… is required: workers share the state store and River's queue"))
	case !pgstore.IsURL(o.state):
		return exitcode.UsageError(fmt.Errorf("--state %s is not a postgres:// URL: workers need the shared PostgreSQL store", o.state))
	case o.concurrency <= 0 || o.requests <= 0:
		return exitcode.UsageError(errors.New("--concurrency and --max-requests must be positive"))
	case o.rescueAfter < 3*time.Second:
		return exitcode.UsageError(errors.New("--rescue-after must be at least 3s"))
	}
	w, err := distribute.NewWorker(ctx, distribute.WorkerOptions{
		Options:     distribute.Options{RescueAfter: o.rescueAfter, Logger: output.Logger(streams.Err, o.verbose)},
		State:       o.state,
		Concurrency: o.concurrency,
		Requests:    o.requests,
		OnUnit:      unitLog(streams.Err),
	})
	if err != nil {
		return exitcode.Of(err)
	}
	defer w.Close()
	fmt.Fprintf(streams.Err, "dvsync worker: working the units queued in %s (schema %s; %d at once, takeover after %s)\n", w.StateWhere(), distribute.DefaultSchema, o.concurrency, o.rescueAfter)
	if err := w.Run(ctx); err != nil {
		return exitcode.Of(err)
	}
	fmt.Fprintln(streams.Err, "dvsync worker: stopped")
	return nil
}

// unitLog prints one line per slice that ends, and one per unit started.
func unitLog(w io.Writer) func(distribute.UnitEvent) {
	var mu sync.Mutex
	return func(e distribute.UnitEvent) {
		mu.Lock()
		defer mu.Unlock()
		ts := time.Now().UTC().Format(time.RFC3339)
		if !e.Ended {
			fmt.Fprintf(w, "%s start %s (attempt %d, as %s)\n", ts, e.Unit, e.Attempt, e.User)
			return
		}
		if e.Err != nil && e.Outcome == "retry" {
			fmt.Fprintf(w, "%s %s %s: %d read; %v\n", ts, e.Outcome, e.Unit, e.Read, e.Err)
			return
		}
		fmt.Fprintf(w, "%s %s %s: %d read\n", ts, e.Outcome, e.Unit, e.Read)
	}
}
