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
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/statestore"
	"github.com/dvsync/dvsync/migrations/usdjob"
	"github.com/dvsync/dvsync/usd"
)

// defaultState is the state store used when --state is not given.
const defaultState = "dvsync-usd-state.db"

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
	state         string
	fresh         bool
}

func newMigrateCommand(streams *output.Streams) *cobra.Command {
	o := &migrateOptions{}
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Write the Copilot Service workspace configuration translated from USD to an environment",
		Long: `Translate a USD configuration into Copilot Service workspace records (app
profiles, session templates, application tab templates and their parameters, agent
scripts and steps, macros, notification templates) and write them to the
environment given with --to-env.

The USD configuration comes from a Configuration Migration Tool export (--from) or
from the USD tables of an environment (--env). Both environments use the same
authentication: --auth, DVSYNC_TOKEN for the reference server, or the Azure
credential chain and AZURE_* variables.

The migration runs on the same engine and writer as every dvsync migration: one
step per table in dependency order (macros and tab templates before the scripts,
session templates and app profiles that use them), many-to-many links made with
the record written last, then a verification that reads every record and link
back. Every record has a stable unique name (--prefix, default dvs_), and records
that already hold the translated values are not written, so a re-run of an
unchanged configuration writes nothing. --dry-run says what a run would create or
update and writes nothing, here or in the environment.

The run keeps its checkpoints, ID map and rejects in --state: a SQLite file or a
postgres:// URL (the shared store of distributed runs). A run that was
interrupted resumes where it stopped; a run after a finished one reads the whole
configuration again.

Records are written by their unique-name alternate key when the target defines
one on every table, as the reference server does; otherwise (the workspace tables
and workflow have none out of the box) by record ID, new records getting an ID
derived from their unique name. --address key or id forces one way.

Exit status: 0 when everything was written and verified; 1 when the run could not
go on (run the command again to resume); 2 for a usage error; 3 when it finished
but a record was rejected or the verification found a difference.`,
		Example: `  dvsync usd migrate --from usd-export.zip --to-env https://contoso.crm.dynamics.com --dry-run
  dvsync usd migrate --from usd-export.zip --to-env https://contoso.crm.dynamics.com --all-configurations
  dvsync usd migrate --env https://old.crm.dynamics.com --to-env https://new.crm.dynamics.com --state postgres://dvsync@db/dvsync --json`,
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
	f.StringVar(&o.state, "state", defaultState, "state store: a SQLite file or a postgres:// URL; checkpoints, ID map, rejects; reuse it to resume")
	f.BoolVar(&o.dryRun, "dry-run", false, "say what a run would create or update; write nothing, here or in the environment")
	f.BoolVar(&o.fresh, "fresh", false, "start over: forget the checkpoints and ID map in --state (after the environment was reset, or to migrate into another one)")
	f.BoolVar(&o.json, "json", false, "print the plan or the run as JSON")
	return cmd
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
	case o.state == "" && !o.dryRun:
		return usage("--state must name a SQLite file or a postgres:// URL")
	case o.fresh && o.dryRun:
		return usage("--fresh starts a run over; a --dry-run writes no state, so give one or the other")
	}
	switch usdjob.Addressing(o.address) {
	case usdjob.AddressAuto, usdjob.AddressByKey, usdjob.AddressByID:
	default:
		return usage("--address %q: use auto, key or id", o.address)
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
	out := &migrateOutput{}
	sel, err := o.load(ctx, streams, prompt, out)
	if err != nil {
		return err
	}
	res, err := workspace.Translate(sel, workspace.Options{Prefix: o.prefix, AppModuleUniqueName: o.appModule})
	if err != nil {
		return usage("%v", err)
	}
	out.Target, out.Configuration, out.TranslationNotes = client.ServiceRoot(), sel.Selected, len(res.Diagnostics)

	bars := &stepBars{w: streams.Err, off: o.json}
	defer bars.finish()
	p, err := usdjob.Prepare(ctx, usdjob.Config{Dataverse: client, Translation: res, Addressing: usdjob.Addressing(o.address),
		DryRun: o.dryRun, Fresh: o.fresh, Progress: bars.update, VerifyProgress: bars.verify})
	if err != nil {
		return exitcode.Of(err)
	}
	if len(p.Keyless) > 0 {
		fmt.Fprintf(streams.Err, "note: no alternate key on the unique name of %s; records are written by ID instead (--address id)\n",
			strings.Join(p.Keyless, ", "))
	}
	var store migrations.Store
	if !o.dryRun {
		// Opened once the environment answered: a run that cannot start
		// leaves no state behind.
		if store, err = statestore.Open(ctx, o.state); err != nil {
			return exitcode.Of(fmt.Errorf("opening the state store %s: %w", statestore.Describe(o.state), err))
		}
		defer store.Close()
		out.State = statestore.Describe(o.state)
	}
	out.Result, err = p.Migrate(ctx, store)
	bars.finish()
	if exit := exitcode.TargetMismatch(err, exitcode.OtherEnvironment{State: statestore.Describe(o.state), Spared: "nothing was written",
		Choices: []string{"start over with --fresh", "point --to-env at the environment this state belongs to"}}); exit != nil {
		return exit
	}
	if out.Result == nil {
		return exitcode.Of(err)
	}
	if werr := out.write(streams.Out, o.json); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted: run the same command again to resume: %w", err)
		}
		return exitcode.Of(fmt.Errorf("%w (run the same command again to resume)", err))
	}
	return out.exit()
}

// load reads the USD configuration and selects what to migrate.
func (o *migrateOptions) load(ctx context.Context, streams *output.Streams, prompt func(string), out *migrateOutput) (*usd.Model, error) {
	var m *usd.Model
	var err error
	if o.from != "" {
		out.Source = filepath.Base(o.from)
		if m, err = usd.LoadFile(ctx, o.from); err != nil {
			return nil, exitcode.Of(err)
		}
	} else {
		out.Source = o.conn.Env
		src, err := o.conn.Client(prompt, nil)
		if err != nil {
			return nil, exitcode.UsageError(fmt.Errorf("--env: %v", err))
		}
		if m, err = (&usd.DataverseSource{Client: src, Name: o.conn.Env}).Load(ctx); err != nil {
			return nil, exitcode.Of(err)
		}
	}
	if n := m.Errors(); n > 0 {
		fmt.Fprintf(streams.Err, "warning: the USD configuration has %d error(s); what could be read is migrated (first: %s)\n", n, firstError(m))
	}
	if o.all {
		return m, nil
	}
	sel, err := usd.Select(m, o.configuration)
	if err != nil {
		return nil, exitcode.UsageError(err)
	}
	return sel, nil
}
