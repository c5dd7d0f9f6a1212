// Package verify implements `dvsync verify`: reconcile an Odoo helpdesk with
// the Dataverse environment it was migrated into, after `dvsync migrate
// odoo`, and write an HTML and a JSON report.
package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/dvsync/dvsync/cmd/internal/connection"
	"github.com/dvsync/dvsync/cmd/internal/migrateodoo"
	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/cmd/internal/pull"
	"github.com/dvsync/dvsync/migrations"
)

type options struct {
	odoo    migrateodoo.OdooFlags
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
--report DIR. The command exits with status 1 when anything differs.`,
		Example: `  ODOO_API_KEY=... dvsync verify --odoo https://acme.odoo.com --odoo-db acme --odoo-user bot@acme.example \
      --env https://acme.crm.dynamics.com --state acme.db --map odoo-map.yaml --report ./verify
  dvsync verify ... --sample 500 --seed 42 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return run(cmd.Context(), streams, o) },
	}
	f := cmd.Flags()
	o.odoo.AddFlags(f)
	o.conn.AddFlags(f)
	f.StringVar(&o.state, "state", migrateodoo.DefaultStateFile, "state file of the migration (its ID map and rejects)")
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
		return errors.New("--sample must not be negative")
	}
	if _, err := os.Stat(o.state); err != nil {
		return fmt.Errorf("state file %s: %w (pass the --state of the migration)", o.state, err)
	}
	m, err := migrateodoo.LoadMapFlag(o.mapFile)
	if err != nil {
		return err
	}
	log := migrateodoo.Logger(streams.Err, o.verbose)
	oc, err := o.odoo.Client(ctx, log)
	if err != nil {
		return err
	}
	dv, err := migrateodoo.DataverseClient(&o.conn, streams)
	if err != nil {
		return err
	}
	store, err := migrations.OpenSQLite(ctx, o.state)
	if err != nil {
		return fmt.Errorf("opening the state file: %w", err)
	}
	defer store.Close()
	rep, err := migrateodoo.Verify(ctx, migrateodoo.Config{Odoo: oc, Database: o.odoo.DB, Dataverse: dv, Map: m, Store: store, Logger: log}, o.sample, o.seed)
	if err != nil {
		return err
	}
	htmlPath, jsonPath, err := WriteReports(rep, o.report)
	if err != nil {
		return err
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
		return &output.ExitError{Code: 1, Err: fmt.Errorf("verify: %d mismatches between Odoo and Dataverse; see %s", rep.Mismatches(), htmlPath)}
	}
	return nil
}

// WriteReports writes verify.html and verify.json into dir.
func WriteReports(rep *migrations.Report, dir string) (htmlPath, jsonPath string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	htmlPath, jsonPath = filepath.Join(dir, "verify.html"), filepath.Join(dir, "verify.json")
	for _, f := range []struct {
		path  string
		write func(io.Writer) error
	}{{htmlPath, rep.WriteHTML}, {jsonPath, rep.WriteJSON}} {
		a, err := pull.CreateAtomic(f.path)
		if err != nil {
			return "", "", err
		}
		if err := f.write(a); err != nil {
			a.Abort()
			return "", "", err
		}
		if err := a.Commit(); err != nil {
			return "", "", err
		}
	}
	return htmlPath, jsonPath, nil
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
	if rep.OK {
		fmt.Fprintln(w, "\nOK: no mismatches.")
	} else {
		fmt.Fprintf(w, "\n%d mismatches.\n", rep.Mismatches())
	}
}

func i(v int64) string { return strconv.FormatInt(v, 10) }
