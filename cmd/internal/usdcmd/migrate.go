package usdcmd

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dvsync/dvsync/cmd/internal/connection"
	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/mapping/workspace"
	"github.com/dvsync/dvsync/usd"
	"github.com/dvsync/dvsync/usd/migrate"
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
	Plan          *migrate.Plan  `json:"plan,omitempty"`
	Run           *migrate.Run   `json:"run,omitempty"`
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
		return &output.ExitError{Code: 2, Err: fmt.Errorf(format, args...)}
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
	client, err := target.Client(prompt, nil)
	if err != nil {
		return usage("--to-env: %v", err)
	}

	var m *usd.Model
	source := ""
	if o.from != "" {
		source = filepath.Base(o.from)
		if m, err = usd.LoadFile(ctx, o.from); err != nil {
			return &output.ExitError{Code: 1, Err: err}
		}
	} else {
		source = o.conn.Env
		src, err := o.conn.Client(prompt, nil)
		if err != nil {
			return usage("--env: %v", err)
		}
		if m, err = (&usd.DataverseSource{Client: src, Name: o.conn.Env}).Load(ctx); err != nil {
			return &output.ExitError{Code: 1, Err: err}
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

	switch migrate.Addressing(o.address) {
	case migrate.AddressAuto, migrate.AddressByKey, migrate.AddressByID:
	default:
		return usage("--address %q: use auto, key or id", o.address)
	}
	bars := &phaseProgress{w: streams.Err}
	defer bars.finish()
	mg := &migrate.Migrator{Client: client, Result: res, Options: migrate.Options{Progress: bars.update}}
	mg.Addressing = migrate.Addressing(o.address)
	mode, missing, err := mg.ResolveAddressing(ctx)
	if err != nil {
		return &output.ExitError{Code: 1, Err: err}
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
		return &output.ExitError{Code: 1, Err: err}
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
		return &output.ExitError{Code: 1, Err: err}
	}
	return runError(run)
}

// runError turns rejected records and verification differences into the
// exit status, with the first one and what to do about it.
func runError(run *migrate.Run) error {
	c := run.Counts
	if c.Rejected > 0 || c.AssociationsRejected > 0 {
		first := ""
		for _, r := range run.Records {
			if r.Outcome == migrate.Rejected {
				first = fmt.Sprintf("%s %s: %s", r.Table, r.UniqueName, r.Error)
				break
			}
		}
		if first == "" {
			for _, a := range run.Associations {
				if a.Outcome == migrate.Rejected {
					first = fmt.Sprintf("%s %s → %s: %s", a.Relationship, a.From.UniqueName, a.To.UniqueName, a.Error)
					break
				}
			}
		}
		return &output.ExitError{Code: 1, Err: fmt.Errorf("%d record(s) and %d link(s) were rejected; first: %s. Fix the cause and run the command again: what was written is kept and not written twice",
			c.Rejected, c.AssociationsRejected, first)}
	}
	if v := run.Verification; v != nil && len(v.Mismatches) > 0 {
		return &output.ExitError{Code: 1, Err: fmt.Errorf("verification found %d difference(s) between the translation and the environment; first: %s. Run the command again to re-apply; if the difference comes back, something in the environment (a plug-in, a flow, a business rule) changes these records",
			len(v.Mismatches), v.Mismatches[0])}
	}
	return nil
}

func tableTotals(run *migrate.Run) []tableSummary {
	idx := map[string]int{}
	var out []tableSummary
	for _, t := range workspace.TableOrder {
		idx[t] = len(out)
		out = append(out, tableSummary{Table: t})
	}
	for _, r := range run.Records {
		i, ok := idx[r.Table]
		if !ok {
			idx[r.Table] = len(out)
			i = len(out)
			out = append(out, tableSummary{Table: r.Table})
		}
		switch r.Outcome {
		case migrate.Created:
			out[i].Created++
		case migrate.Updated:
			out[i].Updated++
		case migrate.Unchanged:
			out[i].Unchanged++
		case migrate.Rejected:
			out[i].Rejected++
		}
	}
	return out
}

func addressing(a string) string {
	if migrate.Addressing(a) == migrate.AddressByID {
		return "by ID"
	}
	return "by unique-name key"
}

func scope(s *migrateSummary) string {
	if s.Configuration != "" {
		return "configuration " + s.Configuration
	}
	return "all configurations"
}

// writePlan prints the records and links a run would write, then totals.
func writePlan(w io.Writer, s *migrateSummary) error {
	p := s.Plan
	fmt.Fprintf(w, "Dry run: %s (%s) → %s, records addressed %s\n\n", s.Source, scope(s), s.Target, addressing(s.Addressing))
	var rows [][]string
	header := []string{"action", "table", "unique name", "name"}
	if p.Counts.Update > 0 {
		header = append(header, "changed columns")
	}
	for _, r := range p.Records {
		if r.Action == migrate.ActionUnchanged {
			continue
		}
		row := []string{string(r.Action), r.Table, r.UniqueName, r.Name}
		if p.Counts.Update > 0 {
			row = append(row, strings.Join(r.Changed, ","))
		}
		rows = append(rows, row)
	}
	if len(rows) > 0 {
		if err := output.Table(w, header, rows); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	rows = rows[:0]
	for _, a := range p.Associations {
		if a.Action == migrate.ActionAdd {
			rows = append(rows, []string{"add", a.Relationship, a.From.UniqueName, a.To.UniqueName})
		}
	}
	if len(rows) > 0 {
		if err := output.Table(w, []string{"action", "relationship", "from", "to"}, rows); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	c := p.Counts
	fmt.Fprintf(w, "Would create %d, update %d and leave %d record(s) unchanged; add %d link(s), %d already present.\n",
		c.Create, c.Update, c.Unchanged, c.AssociationsAdd, c.AssociationsPresent)
	if len(p.Extra) > 0 {
		fmt.Fprintf(w, "%d link(s) in the environment are not in the translation and are left in place.\n", len(p.Extra))
	}
	for _, d := range p.Duplicates {
		fmt.Fprintf(w, "warning: more than one %s record has the unique name %s; the oldest is kept in step, delete the others\n", d.Table, d.UniqueName)
	}
	if s.Diagnostics > 0 {
		fmt.Fprintf(w, "The translation made %d note(s); `dvsync usd assess` explains what needs a person.\n", s.Diagnostics)
	}
	return nil
}

// writeRun prints per-table totals, rejections and the verification.
func writeRun(w io.Writer, s *migrateSummary) error {
	run := s.Run
	fmt.Fprintf(w, "Migrated %s (%s) → %s, records addressed %s\n\n", s.Source, scope(s), s.Target, addressing(s.Addressing))
	var rows [][]string
	for _, t := range s.Tables {
		if t.Created+t.Updated+t.Unchanged+t.Rejected == 0 {
			continue
		}
		rows = append(rows, []string{t.Table, strconv.Itoa(t.Created), strconv.Itoa(t.Updated), strconv.Itoa(t.Unchanged), strconv.Itoa(t.Rejected)})
	}
	c := run.Counts
	rows = append(rows, []string{"total", strconv.Itoa(c.Created), strconv.Itoa(c.Updated), strconv.Itoa(c.Unchanged), strconv.Itoa(c.Rejected)})
	if err := output.Table(w, []string{"table", "created", "updated", "unchanged", "rejected"}, rows); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nLinks: %d added, %d already present, %d rejected, %d skipped.\n",
		c.AssociationsAdded, c.AssociationsPresent, c.AssociationsRejected, c.AssociationsSkipped)
	for _, r := range run.Records {
		if r.Outcome == migrate.Rejected {
			fmt.Fprintf(w, "rejected: %s %s: %s\n", r.Table, r.UniqueName, r.Error)
		}
	}
	for _, a := range run.Associations {
		if a.Outcome == migrate.Rejected || a.Outcome == migrate.Skipped {
			fmt.Fprintf(w, "%s: %s %s → %s: %s\n", a.Outcome, a.Relationship, a.From.UniqueName, a.To.UniqueName, a.Error)
		}
	}
	if v := run.Verification; v != nil {
		if len(v.Mismatches) == 0 {
			fmt.Fprintf(w, "Verified: %d record(s) and %d link(s) read back as written.\n", v.Records, v.Associations)
		} else {
			fmt.Fprintf(w, "Verification: %d difference(s) in %d record(s) and %d link(s) read back:\n", len(v.Mismatches), v.Records, v.Associations)
			for i, m := range v.Mismatches {
				if i == 20 {
					fmt.Fprintf(w, "  … and %d more (--json lists them all)\n", len(v.Mismatches)-i)
					break
				}
				fmt.Fprintf(w, "  %s\n", m)
			}
		}
	}
	return nil
}

// phaseProgress draws one progress bar per phase on a terminal.
type phaseProgress struct {
	w     io.Writer
	phase migrate.Phase
	bar   *output.Progress
	done  int
}

var phaseLabels = map[migrate.Phase]string{
	migrate.PhaseRead:      "reading the environment",
	migrate.PhaseWrite:     "writing records",
	migrate.PhaseAssociate: "adding links",
	migrate.PhaseVerify:    "verifying",
}

func (p *phaseProgress) update(phase migrate.Phase, done, total int) {
	if phase != p.phase || p.bar == nil {
		p.finish()
		p.phase, p.done = phase, 0
		p.bar = output.NewProgress(p.w, int64(total), phaseLabels[phase])
	}
	if done > p.done {
		p.bar.Add(done - p.done)
		p.done = done
	}
}

func (p *phaseProgress) finish() {
	if p.bar != nil {
		p.bar.Finish()
		p.bar = nil
	}
}
