// Package verify implements `dvsync verify`: reconcile an Odoo helpdesk with
// the Dataverse environment it was migrated into, after `dvsync migrate
// odoo`, and write an HTML and a JSON report.
package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/dvsync/dvsync/cmd/internal/connection"
	"github.com/dvsync/dvsync/cmd/internal/exitcode"
	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/odoojob"
	"github.com/dvsync/dvsync/migrations/statestore"
)

// defaultStateFile is `dvsync migrate odoo`'s default --state.
const defaultStateFile = "dvsync-state.db"

type options struct {
	odoo    connection.Odoo
	conn    connection.Dataverse
	state   string
	mapFile string
	sample  int
	seed    uint64
	report  string
	json    bool
	verbose bool
}

// NewCommand returns `dvsync verify`.
func NewCommand(streams *output.Streams) *cobra.Command {
	o := &options{}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Reconcile a migrated Odoo helpdesk with Dataverse and report every difference",
		Long: `Reconcile the source and the target of a migration (dvsync migrate odoo): read
the Odoo helpdesk again, map every record with the same mapping file and the
IDs the runs recorded in the state file, and look each expected record up in
Dataverse. The report counts, per step and table, the records expected,
found, missing, duplicated (more records in the table than the migration
wrote since its first run) and differing field by field, lookups included
(each case's customer, owner, queue and SLA, each note's case).

Every record is checked unless --sample N is given, which checks a uniform
sample of N source records per step, fixed by --seed, so a re-run checks the
same records. The report is written as verify.html and verify.json in
--report DIR. The command exits with status 3 when anything differs or any
record was rejected by the migration (rejected records are never OK), 1 when
it could not finish, 2 on a usage error.`,
		Example: `  ODOO_API_KEY=... dvsync verify --odoo https://acme.odoo.com --odoo-db acme --odoo-user bot@acme.example \
      --env https://acme.crm.dynamics.com --state acme.db --map odoo-map.yaml --report ./verify
  dvsync verify ... --sample 500 --seed 42 --json`,
		Args: cobra.NoArgs,
		// Mismatches found are no usage error.
		SilenceUsage: true,
		RunE:         func(cmd *cobra.Command, _ []string) error { return run(cmd.Context(), streams, o) },
	}
	f := cmd.Flags()
	o.odoo.AddFlags(f)
	o.conn.AddFlags(f)
	f.StringVar(&o.state, "state", defaultStateFile, "state of the migration, a SQLite file or a postgres:// URL (its ID map and rejects)")
	f.StringVar(&o.mapFile, "map", "", "mapping file the migration used (default: the built-in map)")
	f.IntVar(&o.sample, "sample", 0, "check a seeded sample of N source records per step instead of all")
	f.Uint64Var(&o.seed, "seed", 1, "seed of --sample")
	f.StringVar(&o.report, "report", ".", "directory for verify.html and verify.json")
	f.BoolVar(&o.json, "json", false, "print the report as JSON")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "log progress to stderr")
	return cmd
}

func run(ctx context.Context, streams *output.Streams, o *options) error {
	if o.sample < 0 {
		return exitcode.UsageError(errors.New("--sample must not be negative"))
	}
	// Verify reads the migration's state and never creates one.
	store, ok, err := statestore.OpenExisting(ctx, o.state)
	if err != nil {
		return exitcode.Of(fmt.Errorf("opening the state %s: %w", statestore.Describe(o.state), err))
	}
	if !ok {
		return exitcode.UsageError(fmt.Errorf("state file or database %s holds no migration state (pass the --state of the migration)", statestore.Describe(o.state)))
	}
	defer store.Close()
	m, err := odoojob.LoadMap(o.mapFile)
	if err != nil {
		return exitcode.UsageError(err)
	}
	log := output.Logger(streams.Err, o.verbose)
	oc, err := o.odoo.Client(ctx, nil)
	if err != nil {
		return exitcode.Of(err)
	}
	dv, err := o.conn.Client(func(msg string) { fmt.Fprintln(streams.Err, msg) }, &dataverse.ClientOptions{OnRetry: connection.RetryNotices(streams.Err)})
	if err != nil {
		return exitcode.Of(err)
	}
	rep, err := odoojob.Verify(ctx, odoojob.Config{Odoo: oc, Database: o.odoo.DB, Dataverse: dv, Map: m, Store: store, Logger: log}, o.sample, o.seed)
	var mismatch *migrations.TargetMismatchError
	if errors.As(err, &mismatch) {
		return exitcode.Of(fmt.Errorf("%s: %v: point --env at the environment this state belongs to, or --state at the state of this environment's migration",
			statestore.Describe(o.state), mismatch))
	}
	if err != nil {
		return exitcode.Of(err)
	}
	htmlPath, jsonPath, err := rep.WriteFiles(o.report)
	if err != nil {
		return exitcode.Of(err)
	}
	if o.json {
		if err := output.WriteJSON(streams.Out, rep); err != nil {
			return err
		}
	} else {
		PrintReport(streams.Out, rep)
		fmt.Fprintf(streams.Out, "\nReport: %s\n        %s\n", htmlPath, jsonPath)
	}
	if !rep.OK {
		return exitcode.Finished(rep.Mismatches(), fmt.Sprintf("verify: %d mismatches between Odoo and Dataverse; see %s", rep.Mismatches(), htmlPath))
	}
	return exitcode.Finished(rep.TotalRejected(), fmt.Sprintf("verify: no mismatches, but %d records were rejected by the migration; see its rejects file", rep.TotalRejected()))
}

// PrintReport prints the per-step reconciliation as a table.
func PrintReport(w io.Writer, rep *migrations.Report) {
	var rows [][]string
	for _, s := range rep.Steps {
		var missing, dup, diff, unexpected int64
		for _, t := range s.Tables {
			missing += t.Missing
			dup += t.Duplicated
			diff += t.Differing
			unexpected += t.Unexpected
		}
		rows = append(rows, []string{s.Step, i(s.SourceRead), i(s.Expected), i(s.Skipped), i(s.Rejected), i(s.Checked), i(missing), i(dup + unexpected), i(diff), i(s.Unrecorded)})
	}
	output.Table(w, []string{"step", "source", "expected", "skipped", "rejected", "checked", "missing", "duplicated", "differing", "unrecorded"}, rows)
	switch {
	case rep.OK && rep.TotalRejected() > 0:
		// Rejected records are never OK: they were not migrated.
		fmt.Fprintf(w, "\nNo mismatches, but %d records were rejected and not migrated.\n", rep.TotalRejected())
	case rep.OK:
		fmt.Fprintln(w, "\nOK: no mismatches.")
	default:
		fmt.Fprintf(w, "\n%d mismatches.\n", rep.Mismatches())
	}
}

func i(v int64) string { return strconv.FormatInt(v, 10) }
