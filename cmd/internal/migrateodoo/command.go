// Package migrateodoo implements `dvsync migrate odoo`: flags, files and
// the summary of the migration of an Odoo helpdesk into Dataverse, which
// package migrations/odoojob runs.
package migrateodoo

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/dvsync/dvsync/cmd/internal/connection"
	"github.com/dvsync/dvsync/cmd/internal/exitcode"
	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/mapping/odoodv"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/odoojob"
	"github.com/dvsync/dvsync/migrations/statestore"
)

// DefaultStateFile is the state store used when --state is not given.
const DefaultStateFile = "dvsync-state.db"

// NewCommand returns the `migrate` command group with `odoo` beneath it.
func NewCommand(streams *output.Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Migrate another service desk into Dataverse Customer Service",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newOdooCommand(streams))
	return cmd
}

type options struct {
	odoo        connection.Odoo
	conn        connection.Dataverse
	state       string
	mapFile     string
	rejects     string
	warnings    string
	skips       string
	report      string
	quiet       bool
	printMap    bool
	dryRun      bool
	restart     bool
	fresh       bool
	batchSize   int
	concurrency int
	json        bool
	verbose     bool
	dist        distOptions
}

func newOdooCommand(streams *output.Streams) *cobra.Command { return odooCommand(streams, &options{}) }

// odooCommand is `migrate odoo` parsing its flags into o, which tests
// prepare.
func odooCommand(streams *output.Streams, o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "odoo",
		Short: "Migrate an Odoo helpdesk into Dataverse Customer Service",
		Long: `Migrate an Odoo helpdesk (Enterprise helpdesk or OCA helpdesk_mgmt, Odoo 16 to
19) into Dataverse: partners into accounts and contacts, teams into queues and
SLAs, SLA policies into SLA items, tickets into cases (with a queue item, the
Odoo creation date, and resolved through CloseIncident), SLA statuses into SLA
KPI instances, chatter messages into notes, knowledge articles into knowledge
articles.

Every choice the translation makes comes from a mapping file (--map, YAML or
JSON); --print-default-map prints the documented default to start from.

The run is resumable: checkpoints, the ID map and a journal live in the state
file (--state). Interrupt it at any moment and run the same command again to
continue; records are addressed by deterministic IDs, so nothing is written
twice. Records that cannot be mapped or written go to the rejects file and
the run goes on; records the mapping file leaves out on purpose go to the
skips file with their reasons (both beside the state file by default), and
the summary groups both by reason with counts. It reconciles read = written
+ unchanged + skipped + rejected for every step, table and the whole run.
The run writes migration.html, a report to show (both systems, totals and a
chart, rejects and skips by reason, what to do next), and migration.json
into --report DIR. On a terminal each step shows a bar with its total
(Odoo's count), rate and time left; elsewhere a line every 5 seconds;
--quiet silences it. Fallbacks the mapping took that changed the data
(an Odoo user with no Dataverse match whose tickets go to default_owner, a
tag condition Dataverse cannot express) go to the warnings file, one JSON
line each, and are counted in the WARNINGS column; they do not enter the
reconciliation. --dry-run plans the run and writes nothing.

The Odoo API key is read from ODOO_API_KEY (or --odoo-key-file), the Dataverse
token from DVSYNC_TOKEN or Azure credentials, never from the command line.`,
		Example: `  dvsync migrate odoo --print-default-map > odoo-map.yaml
  ODOO_API_KEY=... dvsync migrate odoo --odoo https://acme.odoo.com --odoo-db acme --odoo-user bot@acme.example \
      --env https://acme.crm.dynamics.com --map odoo-map.yaml --dry-run
  ODOO_API_KEY=... dvsync migrate odoo --odoo https://acme.odoo.com --odoo-db acme --odoo-user bot@acme.example \
      --env https://acme.crm.dynamics.com --map odoo-map.yaml --state acme.db --json`,
		Args: cobra.NoArgs,
		// A run that finished with rejects is no usage error.
		SilenceUsage: true,
		RunE:         func(cmd *cobra.Command, _ []string) error { return run(cmd.Context(), streams, o) },
	}
	f := cmd.Flags()
	o.odoo.AddFlags(f)
	o.conn.AddFlags(f)
	f.StringVar(&o.state, "state", DefaultStateFile, "state store, a SQLite file or a postgres:// URL (password in PGPASSWORD): checkpoints, ID map, journal; reuse it to resume")
	f.StringVar(&o.mapFile, "map", "", "mapping file, YAML or JSON (default: the built-in map)")
	f.StringVar(&o.rejects, "rejects", "", "rejects file, JSON Lines, appended to (default: <state>.rejects.jsonl)")
	f.StringVar(&o.warnings, "warnings", "", "mapping warnings file, JSON Lines, appended to (default: beside the rejects file, \"rejects\" replaced by \"warnings\" in its name)")
	f.BoolVar(&o.printMap, "print-default-map", false, "print the documented default mapping file and exit")
	f.BoolVar(&o.dryRun, "dry-run", false, "plan: count and sample what would be written, write nothing")
	f.BoolVar(&o.restart, "restart", false, "read every source from the start (records already written are updated, not duplicated)")
	f.BoolVar(&o.fresh, "fresh", false, "start over: clear this job's checkpoints, ID map and recorded environment from the state (files are kept)")
	f.IntVar(&o.batchSize, "batch-size", migrations.DefaultBatchSize, "records per write batch")
	f.IntVar(&o.concurrency, "concurrency", migrations.DefaultConcurrency, "batches in flight per step")
	f.BoolVar(&o.json, "json", false, "print the summary as JSON")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "log steps and retries to stderr")
	f.StringVar(&o.skips, "skips", "", "skipped records with their reasons, JSON Lines, appended to (default: beside the rejects file, \"rejects\" replaced by \"skips\" in its name)")
	f.StringVar(&o.report, "report", "", "directory for migration.html and migration.json (default: the state file's)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "show no progress")
	o.dist.addFlags(f)
	return cmd
}

func run(ctx context.Context, streams *output.Streams, o *options) error {
	if o.printMap {
		_, err := streams.Out.Write(odoodv.DefaultMapYAML())
		return err
	}
	m, err := odoojob.LoadMap(o.mapFile)
	if err != nil {
		return exitcode.UsageError(err)
	}
	if o.batchSize <= 0 || o.concurrency <= 0 {
		return exitcode.UsageError(errors.New("--batch-size and --concurrency must be positive"))
	}
	if o.dist.on {
		if err := o.checkDistributed(); err != nil {
			return err
		}
	}
	log := output.Logger(streams.Err, o.verbose)
	oc, err := o.odoo.Client(ctx, nil)
	if err != nil {
		return exitcode.Of(err)
	}
	prefix := "migrating"
	if o.dryRun {
		prefix = "planning"
	}
	steps := output.NewSteps(streams.Err, output.StepsOptions{Prefix: prefix, Quiet: o.quiet})
	defer steps.Finish()
	dv, err := o.conn.Client(func(msg string) { fmt.Fprintln(streams.Err, msg) }, &dataverse.ClientOptions{OnRetry: connection.RetryNotices(steps.Writer())})
	if err != nil {
		return exitcode.Of(err)
	}
	cfg := odoojob.Config{Odoo: oc, Database: o.odoo.DB, Dataverse: dv, Map: m, DryRun: o.dryRun,
		BatchSize: o.batchSize, Concurrency: o.concurrency, PageSize: o.odoo.PageSize, Logger: log,
		OdooURL: o.odoo.URL, DataverseURL: dv.ServiceRoot()}
	// A plan writes nothing anywhere: it reads an existing state (to plan
	// from its checkpoints) but never creates one.
	var store migrations.Store
	if o.dryRun {
		store, _, err = statestore.OpenExisting(ctx, o.state)
	} else {
		store, err = statestore.Open(ctx, o.state)
	}
	if err != nil {
		return exitcode.Of(fmt.Errorf("opening the state %s: %w", statestore.Describe(o.state), err))
	}
	if store != nil {
		defer store.Close()
		cfg.Store = store
	}
	files, err := openDataFiles(o)
	if err != nil {
		return err
	}
	defer files.Close()
	if !o.dryRun {
		cfg.Rejects, cfg.Skips, cfg.Warnings = files.writers()
	}
	cfg.Restart, cfg.Fresh = o.restart, o.fresh
	if o.dist.on {
		return runDistributed(ctx, streams, o, cfg, files.Files)
	}
	cfg.Progress = stepProgress(steps)
	sum, _, err := odoojob.Migrate(ctx, cfg)
	steps.Finish()
	if exit := exitcode.TargetMismatch(err, exitcode.OtherEnvironment{State: statestore.Describe(o.state), Spared: "nothing was written",
		Choices: []string{"start over with --fresh", "point --env at the environment this state belongs to"}}); exit != nil {
		return exit
	}
	if sum == nil {
		return exitcode.Of(err)
	}
	res := odoojob.NewResult(sum, files.Files)
	res.Source, res.Target = cfg.Endpoints()
	if perr := printResult(streams.Out, res, o.json); perr != nil && err == nil {
		err = perr
	}
	// The report of what happened, even of a run that stopped.
	if rerr := writeReport(streams.Out, o, res); rerr != nil && err == nil {
		err = rerr
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted: run the same command again to resume: %w", err)
		}
		return exitcode.Of(fmt.Errorf("%w (run the same command again to resume)", err))
	}
	if t := sum.Total(); !sum.DryRun && t.Rejected > 0 {
		return exitcode.Finished(t.Rejected, fmt.Sprintf("finished with %d rejected records; see %s", t.Rejected, files.Rejects))
	}
	return nil
}
