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
	quiet   bool
}

// NewCommand returns `dvsync verify`.
func NewCommand(streams *output.Streams) *cobra.Command {
	o := &options{}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Reconcile a migrated Odoo helpdesk with Dataverse and report every difference",
		Long: `Reconcile the source and the target of a migration (dvsync migrate odoo): read
the Odoo helpdesk again, map every record with the same mapping file and the
IDs the runs recorded in the state file, and read the expected records back
from Dataverse a batch at a time (one In query per 100 records, within the
service's request limits). The report counts, per step and table, the records expected,
found, missing, duplicated (more records in the table than the migration
wrote since its first run) and differing field by field, lookups included
(each case's customer, owner, queue and SLA, each note's case).

Every record is checked unless --sample N is given, which checks a uniform
sample of N source records per step, fixed by --seed, so a re-run checks the
same records. The report is written as verify.html (to show: both systems,
totals and a chart, mismatches, rejects and skips grouped by reason, what to
do next) and verify.json in --report DIR, with verify-skips.jsonl and
verify-rejects.jsonl listing every skipped and rejected record with its
reason. On a terminal each step shows a bar with its total, rate and time
left, and waits the service asks for (Retry-After) are announced; elsewhere
a line every 5 seconds; --quiet silences the progress. The command exits with status 3 when anything differs or any
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
	f.BoolVarP(&o.quiet, "quiet", "q", false, "show no progress")
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
	// Each step shows a bar with its total (Odoo's count), and a wait the
	// service asks for (Retry-After) is announced between its lines.
	steps := output.NewSteps(streams.Err, output.StepsOptions{Prefix: "verifying", Quiet: o.quiet})
	defer steps.Finish()
	dv, err := o.conn.Client(func(msg string) { fmt.Fprintln(streams.Err, msg) }, &dataverse.ClientOptions{OnRetry: connection.RetryNotices(steps.Writer())})
	if err != nil {
		return exitcode.Of(err)
	}
	lists, err := openLists(o.report)
	if err != nil {
		return exitcode.Of(err)
	}
	defer lists.close()
	cfg := odoojob.Config{Odoo: oc, Database: o.odoo.DB, Dataverse: dv, Map: m, Store: store, Logger: log,
		OdooURL: o.odoo.URL, DataverseURL: dv.ServiceRoot(), Skips: lists.skips, Rejects: lists.rejects,
		Progress: func(p migrations.StepProgress) {
			steps.Update(p.Step, p.Counts.Read, p.Total, p.Status != migrations.StatusRunning)
		}}
	rep, err := odoojob.Verify(ctx, cfg, o.sample, o.seed)
	steps.Finish()
	if exit := exitcode.TargetMismatch(err, exitcode.OtherEnvironment{State: statestore.Describe(o.state), Spared: "nothing was verified",
		Choices: []string{"point --env at the environment this state belongs to", "point --state at the state of this environment's migration"}}); exit != nil {
		return exit
	}
	if err != nil {
		return exitcode.Of(err)
	}
	rep.Files = lists.files
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

// PrintReport prints the reconciliation: a table of the steps and their
// total, each line adding up (read = expected + skipped + rejected +
// unrecorded; checked = matched + mismatched), the skipped and rejected
// records grouped by reason, and the verdict.
func PrintReport(w io.Writer, rep *migrations.Report) {
	var rows [][]string
	row := func(s migrations.StepReport) []string {
		var missing, dup, diff int64
		for _, t := range s.Tables {
			missing += t.Missing
			dup += t.Duplicated
			diff += t.Differing
		}
		return []string{s.Step, i(s.SourceRead), i(s.Expected), i(s.Skipped), i(s.Rejected), i(s.Unrecorded), i(s.Checked), i(s.Matched), i(missing), i(dup), i(diff)}
	}
	for _, s := range rep.Steps {
		rows = append(rows, row(s))
	}
	rows = append(rows, row(rep.Totals()))
	output.Table(w, []string{"step", "read", "expected", "skipped", "rejected", "unrecorded", "checked", "matched", "missing", "duplicated", "differing"}, rows)
	t := rep.Totals()
	if t.Skipped > 0 {
		fmt.Fprintf(w, "\nSkipped %s on purpose by the mapping%s:\n", records(t.Skipped), listedIn(rep.Files.Skips, "its reason"))
		output.Reasons(w, reasons(rep, func(s migrations.StepReport) []migrations.ReasonGroup { return s.Skips }))
	}
	if t.Rejected > 0 {
		fmt.Fprintf(w, "\nRejected by the migration and not migrated: %s%s:\n", records(t.Rejected), listedIn(rep.Files.Rejects, "the error the migration recorded"))
		output.Reasons(w, reasons(rep, func(s migrations.StepReport) []migrations.ReasonGroup { return s.Rejects }))
	}
	switch {
	case !rep.OK:
		fmt.Fprintf(w, "\n%s.\n", plural(rep.Mismatches(), "mismatch", "mismatches"))
	case rep.TotalRejected() > 0:
		// Rejected records are never OK: they were not migrated.
		fmt.Fprintf(w, "\nNo mismatches, but %s rejected and not migrated.\n", plural(rep.TotalRejected(), "record was", "records were"))
	default:
		fmt.Fprintln(w, "\nOK: no mismatches.")
	}
}

func i(v int64) string { return strconv.FormatInt(v, 10) }
