package usdcmd

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dvsync/dvsync/cmd/internal/connection"
	"github.com/dvsync/dvsync/cmd/internal/exitcode"
	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/mapping/workspace"
	"github.com/dvsync/dvsync/migrations/usdjob"
	"github.com/dvsync/dvsync/usd"
)

type migrateOptions struct {
	from          string
	conn          connection.Dataverse
	toEnv         string
	configuration string
	all           bool
	prefix        string
	appModule     string
	dryRun        bool
	json          bool
	address       string
}

func newMigrateCommand(streams *output.Streams) *cobra.Command {
	o := &migrateOptions{}
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Write the Copilot Service workspace configuration translated from USD to an environment",
		Long: `Translate a USD configuration into Copilot Service workspace records (app
profiles, session templates, application tab templates and their parameters, agent
scripts and steps, macros) and write them to the environment given with --to-env.

The USD configuration comes from a Configuration Migration Tool export (--from) or
from the USD tables of an environment (--env). Both environments use the same
authentication: --auth, DVSYNC_TOKEN for the reference server, or the Azure
credential chain and AZURE_* variables.

Every record has a stable unique name (--prefix, default dvs_), so the command is
safe to re-run: it reads what the environment holds, writes only records that are
missing or differ, upserting in dependency order (macros and tab
templates before the scripts, session templates and app profiles that use them),
adds the many-to-many links last, and then reads everything back to verify it.
--dry-run stops after the first step and lists what would be created or updated.

Records are written by their unique-name alternate key when the target defines
one on every table, as the reference server does; otherwise (the workspace tables
and workflow have none out of the box) by record ID, new records getting an ID
derived from their unique name. --address key or id forces one way.

The exit status is 1 when a record or link was rejected or the verification found
a difference.`,
		Example: `  dvsync usd migrate --from usd-export.zip --to-env https://contoso.crm.dynamics.com --dry-run
  dvsync usd migrate --from usd-export.zip --to-env https://contoso.crm.dynamics.com --all-configurations
  dvsync usd migrate --env https://old.crm.dynamics.com --to-env https://new.crm.dynamics.com --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runMigrate(cmd.Context(), streams, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.from, "from", "", "Configuration Migration Tool export zip to read the USD configuration from")
	o.conn.AddFlags(f)
	f.Lookup("env").Usage = "Dataverse environment to read the USD configuration from (instead of --from)"
	f.StringVar(&o.toEnv, "to-env", "", "Dataverse environment URL to write the workspace configuration to")
	f.StringVar(&o.configuration, "configuration", "", "migrate only this USD configuration")
	f.BoolVar(&o.all, "all-configurations", false, "migrate every configuration (one app profile each)")
	f.StringVar(&o.prefix, "prefix", "dvs_", "publisher prefix that starts every unique name")
	f.StringVar(&o.appModule, "app-module", "", "unique name of the model-driven app the app profiles are for (default: left unset)")
	f.StringVar(&o.address, "address", "auto", "how records are named when written: key (upsert by unique-name alternate key), id (by record ID, for environments without those keys) or auto (key when every table has the key)")
	f.BoolVar(&o.dryRun, "dry-run", false, "list what would be created or updated, write nothing")
	f.BoolVar(&o.json, "json", false, "print the plan or the run as JSON")
	return cmd
}

// migrateSummary is the --json output.
type migrateSummary struct {
	Source        string         `json:"source"`
	Target        string         `json:"target"`
	Configuration string         `json:"configuration,omitempty"`
	DryRun        bool           `json:"dryRun"`
	Addressing    string         `json:"addressing"`
	Diagnostics   int            `json:"translationNotes"`
	Plan          *usdjob.Plan   `json:"plan,omitempty"`
	Run           *usdjob.Run    `json:"run,omitempty"`
	Tables        []tableSummary `json:"tables,omitempty"`
}

type tableSummary struct {
	Table     string `json:"table"`
	Created   int    `json:"created"`
	Updated   int    `json:"updated"`
	Unchanged int    `json:"unchanged"`
	Rejected  int    `json:"rejected"`
}

func runMigrate(ctx context.Context, streams *output.Streams, o *migrateOptions) error {
	usage := func(format string, args ...any) error {
		return exitcode.UsageError(fmt.Errorf(format, args...))
	}
	switch {
	case o.toEnv == "":
		return usage("--to-env URL is required: the Dataverse environment to write the workspace configuration to")
	case o.from != "" && o.conn.Env != "":
		return usage("give either --from or --env, not both")
	case o.from == "" && o.conn.Env == "":
		return usage("give --from FILE (a Configuration Migration Tool export zip) or --env URL (an environment with USD)")
	case o.all && o.configuration != "":
		return usage("give either --configuration or --all-configurations, not both")
	}
	if _, err := workspace.NormalizePrefix(o.prefix); err != nil {
		return usage("--prefix: %v", err)
	}
	prompt := func(msg string) { fmt.Fprintln(streams.Err, msg) }
	target := o.conn
	target.Env = o.toEnv
	client, err := target.Client(prompt, &dataverse.ClientOptions{OnRetry: connection.RetryNotices(streams.Err)})
	if err != nil {
		return usage("--to-env: %v", err)
	}

	var m *usd.Model
	source := ""
	if o.from != "" {
		source = filepath.Base(o.from)
		if m, err = usd.LoadFile(ctx, o.from); err != nil {
			return exitcode.Of(err)
		}
	} else {
		source = o.conn.Env
		src, err := o.conn.Client(prompt, nil)
		if err != nil {
			return usage("--env: %v", err)
		}
		if m, err = (&usd.DataverseSource{Client: src, Name: o.conn.Env}).Load(ctx); err != nil {
			return exitcode.Of(err)
		}
	}
	if n := m.Errors(); n > 0 {
		fmt.Fprintf(streams.Err, "warning: the USD configuration has %d error(s); what could be read is migrated (first: %s)\n", n, firstError(m))
	}
	sel := m
	if !o.all {
		if sel, err = usd.Select(m, o.configuration); err != nil {
			return usage("%v", err)
		}
	}
	res, err := workspace.Translate(sel, workspace.Options{Prefix: o.prefix, AppModuleUniqueName: o.appModule})
	if err != nil {
		return usage("%v", err)
	}

	switch usdjob.Addressing(o.address) {
	case usdjob.AddressAuto, usdjob.AddressByKey, usdjob.AddressByID:
	default:
		return usage("--address %q: use auto, key or id", o.address)
	}
	bars := &phaseProgress{w: streams.Err}
	defer bars.finish()
	mg := &usdjob.Migrator{Client: client, Result: res, Options: usdjob.Options{Progress: bars.update}}
	mg.Addressing = usdjob.Addressing(o.address)
	mode, missing, err := mg.ResolveAddressing(ctx)
	if err != nil {
		return exitcode.Of(err)
	}
	if len(missing) > 0 {
		fmt.Fprintf(streams.Err, "note: no alternate key on the unique name of %s; records are written by ID instead (--address id)\n",
			strings.Join(missing, ", "))
	}
	mg.Addressing = mode
	sum := &migrateSummary{Source: source, Target: client.ServiceRoot(), Configuration: sel.Selected, DryRun: o.dryRun,
		Addressing: string(mode), Diagnostics: len(res.Diagnostics)}

	plan, err := mg.Plan(ctx)
	bars.finish()
	if err != nil {
		return exitcode.Of(err)
	}
	if o.dryRun {
		sum.Plan = plan
		if o.json {
			return output.WriteJSON(streams.Out, sum)
		}
		return writePlan(streams.Out, sum)
	}
	run, err := mg.Apply(ctx, plan)
	bars.finish()
	if run != nil {
		sum.Run = run
		sum.Tables = tableTotals(run)
		var werr error
		if o.json {
			werr = output.WriteJSON(streams.Out, sum)
		} else {
			werr = writeRun(streams.Out, sum)
		}
		if werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		return exitcode.Of(err)
	}
	return runError(run)
}

// runError turns rejected records and verification differences into the
// exit status, with the first one and what to do about it.
func runError(run *usdjob.Run) error {
	c := run.Counts
	if c.Rejected > 0 || c.AssociationsRejected > 0 {
		first := ""
		for _, r := range run.Records {
			if r.Outcome == usdjob.Rejected {
				first = fmt.Sprintf("%s %s: %s", r.Table, r.UniqueName, r.Error)
				break
			}
		}
		if first == "" {
			for _, a := range run.Associations {
				if a.Outcome == usdjob.Rejected {
					first = fmt.Sprintf("%s %s → %s: %s", a.Relationship, a.From.UniqueName, a.To.UniqueName, a.Error)
					break
				}
			}
		}
		return &output.ExitError{Code: exitcode.Rejects, Err: fmt.Errorf("%d record(s) and %d link(s) were rejected; first: %s. Fix the cause and run the command again: what was written is kept and not written twice",
			c.Rejected, c.AssociationsRejected, first)}
	}
	if v := run.Verification; v != nil && len(v.Mismatches) > 0 {
		return &output.ExitError{Code: exitcode.Rejects, Err: fmt.Errorf("verification found %d difference(s) between the translation and the environment; first: %s. Run the command again to re-apply; if the difference comes back, something in the environment (a plug-in, a flow, a business rule) changes these records",
			len(v.Mismatches), v.Mismatches[0])}
	}
	return nil
}
