// Package synccmd implements `dvsync sync`: run a sync job file once, as
// cron, a systemd timer or a Kubernetes CronJob does every night.
package synccmd

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/dvsync/dvsync/cmd/internal/connection"
	"github.com/dvsync/dvsync/cmd/internal/exitcode"
	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/migrations/statestore"
	"github.com/dvsync/dvsync/migrations/syncjob"
)

type options struct {
	job     string
	state   string
	dryRun  bool
	fresh   bool
	json    bool
	metrics string
	rejects string
	dist    distOptions
}

const longHelp = `Run a sync job once: read what changed in the source since the last run and
apply it to the target. Schedule it (cron, systemd timer, Kubernetes CronJob);
see deploy/ in the repository.

The job file is YAML:

  name: reporting-copy             # names the job's state, lock and journal
  source:
    dataverse: {env: https://org.crm.dynamics.com}   # auth: optional, as --auth
  target:
    sqlite: cs-mirror.db           # or  postgres: postgres://user@host/db
  tables: [incident, entitlement, entitlementchannel, sla, slaitem, knowledgearticle]

  tables may also select columns:  - {name: incident, columns: [title, statecode]}
  overlap: 5m      re-read window of the modifiedon fallback and Odoo (default 5m)
  page_size: 5000  rows per page read (1-5000, default 5000)

  Dataverse → Dataverse (another environment): target: dataverse: {env: …}.
  Records are written through dvsync's one Dataverse writer, by the table's
  alternate key when it has one (else by the source GUID); lookups to tables
  with an alternate key are re-bound by that key, as pull --portable does;
  deletes follow. Both environments use the same credentials.

  Odoo → Dataverse: source: odoo: {url, db, user} (key in ODOO_API_KEY),
  target: dataverse: {env: …}, map: the map file of dvsync migrate odoo. It
  runs that migration again, with tickets, customers, messages, SLA
  outcomes and articles read by (write_date, id) cursors up to one bound
  per run, so changed records follow, not only new ones; a run re-reads
  from the previous run's start minus overlap (default 5m; transactions
  open then), and once that has passed, exactly after each cursor. Teams,
  users, tags and SLA policies follow when new. Give it the migration's
  --state file to continue its ID map. Tickets deleted in
  Odoo are found by comparing id sets; deleted_tickets: cancel (default),
  delete or keep says what becomes of their cases.

Relative paths (sqlite:, map:) are relative to the job file. Secrets never
go in the job file: the Dataverse token comes from DVSYNC_TOKEN or the
AZURE_* variables, a PostgreSQL password from PGPASSWORD or ~/.pgpass.

Database targets get one table per Dataverse table, named by its logical
name, primary key column as primary key, columns in fitting SQL types
(GUID, text, integer, decimal, boolean, timestamp, date); choices hold their
integer value and dvsync_choice_labels their labels; polymorphic lookups add
<column>type naming the target table. _dvsync_hash and _dvsync_gen are
bookkeeping columns. Deletes are applied.

Change detection: Dataverse change tracking, checkpointed after every page,
so a killed run re-reads at most one page and nothing is duplicated. An
expired delta token (ExpiredVersionStamp 0x80044352, or a token older than
the organisation's expirechangetrackingindays) re-reads the table in full:
what differs is upserted, what vanished is deleted, and the summary says so.
Tables with change tracking off are read by a modifiedon watermark, with
deletes found by comparing key sets; the summary names them.

One run per job at a time: a second run exits at once with code 4.
--dry-run reads what changed and compares it with the target, writing no
row, checkpoint, delta token or rejects file (it does create missing
mirror tables): a mirror applies each table in a transaction it rolls
back; a Dataverse target is asked what it would create, update or leave
unchanged, and a record to delete is read; an Odoo job is planned as
migrate odoo --dry-run plans it. Its exit code is 0 unless it failed.

Output: a progress line per table on a terminal, then a summary per table
(read, upserted, deleted, unchanged, rejected, requests, throttled,
duration); --json prints the same figures. Rejected records are appended
as JSON lines to --rejects. Every run is journalled in the state store:
dvsync sync history --job FILE.

Exit codes:
  0  success
  1  failure (a table could not be synced, or the run was interrupted)
  2  usage error (bad flags, invalid job file)
  3  finished, but some records were rejected
  4  another run of this job holds the lock`

// NewCommand returns `dvsync sync`.
func NewCommand(streams *output.Streams) *cobra.Command { return command(streams, &options{}) }

func command(streams *output.Streams, o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sync --job FILE",
		Short: "Run an incremental sync job (Dataverse → SQLite/PostgreSQL mirror, or → another environment)",
		Long:  longHelp,
		Example: `  DVSYNC_TOKEN=... dvsync sync --job reporting-copy.yaml
  dvsync sync --job reporting-copy.yaml --state postgres://dvsync@127.0.0.1/dvsync --json
  dvsync sync --job reporting-copy.yaml --metrics /var/lib/node_exporter/textfile/dvsync.prom
  dvsync sync history --job reporting-copy.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return run(cmd.Context(), streams, o) },
	}
	addCommon(cmd.Flags(), o)
	f := cmd.Flags()
	f.BoolVar(&o.dryRun, "dry-run", false, "read and compare, write nothing")
	f.BoolVar(&o.fresh, "fresh", false, "start over: clear the job's delta tokens, watermarks, keys and recorded environments (for an Odoo source, its migration's state too), then read every table in full")
	f.StringVar(&o.metrics, "metrics", "", "write a Prometheus textfile (node_exporter textfile collector) to FILE")
	f.StringVar(&o.rejects, "rejects", "", "append rejected records as JSON lines to FILE (default <job name>.rejects.jsonl beside the job file)")
	o.dist.addFlags(f)
	cmd.SetFlagErrorFunc(usageError)
	cmd.AddCommand(newHistoryCommand(streams))
	return cmd
}

func addCommon(f *pflag.FlagSet, o *options) {
	f.StringVar(&o.job, "job", "", "job file (YAML; see dvsync sync --help)")
	f.StringVar(&o.state, "state", "", "state store: a SQLite file or a postgres:// URL (default <job name>.state.db beside the job file)")
	f.BoolVar(&o.json, "json", false, "print the result as JSON")
}

func usageError(_ *cobra.Command, err error) error {
	return &output.ExitError{Code: exitcode.Usage, Err: err}
}

// loadJob reads the job file and opens its state store.
func loadJob(ctx context.Context, o *options) (*syncjob.Job, *syncjob.Store, error) {
	if o.job == "" {
		return nil, nil, usageError(nil, errors.New("--job FILE is required"))
	}
	job, err := syncjob.LoadJob(o.job)
	if err != nil {
		return nil, nil, usageError(nil, err)
	}
	spec := o.state
	if spec == "" {
		spec = filepath.Join(job.Dir, job.Name+".state.db")
	}
	o.state = spec
	st, err := syncjob.OpenStore(ctx, spec)
	if err != nil {
		return nil, nil, &output.ExitError{Code: exitcode.Failure, Err: err}
	}
	return job, st, nil
}

func run(ctx context.Context, streams *output.Streams, o *options) error {
	job, st, err := loadJob(ctx, o)
	if err != nil {
		return err
	}
	defer st.Close()
	if o.fresh {
		if err := fresh(ctx, job, st, o); err != nil {
			return err
		}
	}
	if o.dist.on {
		return runDistributed(ctx, streams, o, job, st)
	}

	opts := syncjob.Options{Store: st, DryRun: o.dryRun}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 64
	opts.Counter = &syncjob.Counter{Base: base}
	if job.Source.Odoo != nil {
		closeOdoo, err := odooSource(ctx, job, o.state, &opts)
		if err != nil {
			return err
		}
		defer closeOdoo()
	}
	if job.Source.Dataverse != nil {
		conn := connection.Dataverse{Env: job.Source.Dataverse.Env, Auth: job.Source.Dataverse.Auth}
		prompt := func(msg string) { fmt.Fprintln(streams.Err, msg) }
		opts.Client, err = conn.Client(prompt, &dataverse.ClientOptions{Transport: opts.Counter, PageSize: job.PageSize})
		if err != nil {
			return &output.ExitError{Code: exitcode.Failure, Err: err}
		}
	}
	if d := job.Target.Dataverse; d != nil {
		conn := connection.Dataverse{Env: d.Env, Auth: d.Auth}
		prompt := func(msg string) { fmt.Fprintln(streams.Err, msg) }
		opts.TargetClient, err = conn.Client(prompt, &dataverse.ClientOptions{Transport: opts.Counter})
		if err != nil {
			return &output.ExitError{Code: exitcode.Failure, Err: fmt.Errorf("target: %w", err)}
		}
	}
	rej := rejectsFile(o, job)
	defer rej.Close()
	if !o.dryRun {
		// A dry run writes nothing: its summary counts what a run
		// would reject.
		opts.Rejects = rej
	}
	prog := newProgressView(streams, o.json)
	opts.Progress = prog.update

	sum, runErr := syncjob.Run(ctx, job, opts)
	prog.finish()
	return report(ctx, streams, o, job, sum, runErr, rej, "interrupted; the next run resumes from the last page applied")
}

// report ends a run, in one process or on workers: a refusal before
// anything ran as its own exit, else the summary (text or --json), the
// metrics file, and the exit code of the outcome. interrupted says what
// an interrupted run leaves behind.
func report(ctx context.Context, streams *output.Streams, o *options, job *syncjob.Job, sum *syncjob.Summary, runErr error, rej *lazyFile, interrupted string) error {
	if exit := exitcode.TargetMismatch(runErr, exitcode.OtherEnvironment{State: statestore.Describe(o.state), Spared: "nothing was read or written",
		Choices: []string{"start over with --fresh", "point the job file at the environments this state belongs to"}}); exit != nil {
		return exit
	}
	if errors.Is(runErr, syncjob.ErrLocked) {
		return &output.ExitError{Code: exitcode.Locked, Err: fmt.Errorf("job %s: %w; this run did nothing", job.Name, runErr)}
	}
	if errors.Is(runErr, syncjob.ErrNotSupported) {
		// The job file and flags ask for what cannot run together.
		return usageError(nil, runErr)
	}
	if sum == nil {
		return &output.ExitError{Code: exitcode.Failure, Err: runErr}
	}
	if o.metrics != "" && !sum.DryRun {
		if err := syncjob.WriteMetrics(o.metrics, sum); err != nil && runErr == nil {
			runErr = err
		}
	}
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
		return &output.ExitError{Code: exitcode.Rejects, Err: fmt.Errorf("%d records rejected; see %s", sum.Totals.Rejected, rej.path)}
	case ctx.Err() != nil:
		return &output.ExitError{Code: exitcode.Failure, Err: errors.New(interrupted)}
	default:
		return &output.ExitError{Code: exitcode.Failure, Err: runErr}
	}
}
