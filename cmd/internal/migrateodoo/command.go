// Package migrateodoo implements `dvsync migrate odoo`: the migration of an
// Odoo helpdesk (Enterprise or OCA, Odoo 16 to 19) into Dataverse Customer
// Service on the migrations engine, with the mapping of mapping/odoodv. Its
// Config, Prepare, Migrate and Verify are shared with `dvsync verify` and
// `dvsync demo`.
package migrateodoo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/dvsync/dvsync/cmd/internal/connection"
	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/mapping/odoodv"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/odoo"
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

// OdooFlags are the Odoo connection flags; `dvsync verify` shares them.
type OdooFlags struct {
	URL, DB, User, KeyFile, Protocol string
	PageSize                         int
}

// AddFlags registers the Odoo connection flags.
func (f *OdooFlags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.URL, "odoo", os.Getenv("ODOO_URL"), "Odoo server URL (default $ODOO_URL)")
	fs.StringVar(&f.DB, "odoo-db", os.Getenv("ODOO_DB"), "Odoo database (default $ODOO_DB)")
	fs.StringVar(&f.User, "odoo-user", os.Getenv("ODOO_USER"), "Odoo login (default $ODOO_USER); the API key is read from $ODOO_API_KEY")
	fs.StringVar(&f.KeyFile, "odoo-key-file", "", "read the Odoo API key from this file instead of $ODOO_API_KEY")
	fs.StringVar(&f.Protocol, "odoo-protocol", "auto", "auto, jsonrpc or json2")
	fs.IntVar(&f.PageSize, "odoo-page-size", odoo.DefaultPageSize, "records per Odoo read call")
}

// Client connects to Odoo. The key never comes from a flag.
func (f *OdooFlags) Client(ctx context.Context, logger *slog.Logger) (*odoo.Client, error) {
	var missing []string
	for _, m := range []struct{ v, flag string }{{f.URL, "--odoo"}, {f.DB, "--odoo-db"}, {f.User, "--odoo-user"}} {
		if m.v == "" {
			missing = append(missing, m.flag)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	key := os.Getenv("ODOO_API_KEY")
	if f.KeyFile != "" {
		b, err := os.ReadFile(f.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("reading --odoo-key-file: %w", err)
		}
		key = strings.TrimSpace(string(b))
	}
	if key == "" {
		return nil, errors.New("no Odoo API key: set ODOO_API_KEY or pass --odoo-key-file")
	}
	protocol, err := odoo.ParseProtocol(f.Protocol)
	if err != nil {
		return nil, err
	}
	c, err := odoo.New(ctx, odoo.Options{URL: f.URL, Database: f.DB, Login: f.User, APIKey: key, Protocol: protocol, PageSize: f.PageSize, Logger: logger})
	var ae *odoo.AuthError
	if errors.As(err, &ae) {
		return nil, fmt.Errorf("%w (check --odoo-user and the API key)", err)
	}
	return c, err
}

// LoadMapFlag reads --map, or the default map when it is empty.
func LoadMapFlag(file string) (*odoodv.Map, error) {
	if file == "" {
		return odoodv.DefaultMap(), nil
	}
	return odoodv.LoadMap(file)
}

// Logger is a stderr logger at info level with -v, silent otherwise.
func Logger(w io.Writer, verbose bool) *slog.Logger {
	if !verbose {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type options struct {
	odoo        OdooFlags
	conn        connection.Dataverse
	state       string
	mapFile     string
	rejects     string
	warnings    string
	printMap    bool
	dryRun      bool
	restart     bool
	batchSize   int
	concurrency int
	json        bool
	verbose     bool
}

func newOdooCommand(streams *output.Streams) *cobra.Command {
	o := &options{}
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
the run goes on; the summary reconciles read = written + unchanged + skipped
+ rejected for every step. Fallbacks the mapping took that changed the data
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
		RunE: func(cmd *cobra.Command, _ []string) error { return run(cmd.Context(), streams, o) },
	}
	f := cmd.Flags()
	o.odoo.AddFlags(f)
	o.conn.AddFlags(f)
	f.StringVar(&o.state, "state", DefaultStateFile, "state file (SQLite): checkpoints, ID map, journal; reuse it to resume")
	f.StringVar(&o.mapFile, "map", "", "mapping file, YAML or JSON (default: the built-in map)")
	f.StringVar(&o.rejects, "rejects", "", "rejects file, JSON Lines, appended to (default: <state>.rejects.jsonl)")
	f.StringVar(&o.warnings, "warnings", "", "mapping warnings file, JSON Lines, appended to (default: beside the rejects file, \"rejects\" replaced by \"warnings\" in its name)")
	f.BoolVar(&o.printMap, "print-default-map", false, "print the documented default mapping file and exit")
	f.BoolVar(&o.dryRun, "dry-run", false, "plan: count and sample what would be written, write nothing")
	f.BoolVar(&o.restart, "restart", false, "read every source from the start (records already written are updated, not duplicated)")
	f.IntVar(&o.batchSize, "batch-size", migrations.DefaultBatchSize, "records per write batch")
	f.IntVar(&o.concurrency, "concurrency", migrations.DefaultConcurrency, "batches in flight per step")
	f.BoolVar(&o.json, "json", false, "print the summary as JSON")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "log steps and retries to stderr")
	return cmd
}

// DataverseClient builds the Dataverse client of the connection flags.
func DataverseClient(conn *connection.Dataverse, streams *output.Streams) (*dataverse.Client, error) {
	return conn.Client(func(msg string) { fmt.Fprintln(streams.Err, msg) }, nil)
}

func run(ctx context.Context, streams *output.Streams, o *options) error {
	if o.printMap {
		_, err := streams.Out.Write(odoodv.DefaultMapYAML())
		return err
	}
	m, err := LoadMapFlag(o.mapFile)
	if err != nil {
		return err
	}
	if o.batchSize <= 0 || o.concurrency <= 0 {
		return errors.New("--batch-size and --concurrency must be positive")
	}
	log := Logger(streams.Err, o.verbose)
	oc, err := o.odoo.Client(ctx, log)
	if err != nil {
		return err
	}
	dv, err := DataverseClient(&o.conn, streams)
	if err != nil {
		return err
	}
	store, err := migrations.OpenSQLite(ctx, o.state)
	if err != nil {
		return fmt.Errorf("opening the state file: %w", err)
	}
	defer store.Close()
	cfg := Config{Odoo: oc, Database: o.odoo.DB, Dataverse: dv, Map: m, Store: store, DryRun: o.dryRun,
		BatchSize: o.batchSize, Concurrency: o.concurrency, PageSize: o.odoo.PageSize, Logger: log}
	// A plan writes no files; its summary still counts and samples warnings.
	rejectsPath, warningsPath := o.rejects, ""
	if !o.dryRun {
		if rejectsPath == "" {
			rejectsPath = strings.TrimSuffix(o.state, filepath.Ext(o.state)) + ".rejects.jsonl"
		}
		if warningsPath = o.warnings; warningsPath == "" {
			warningsPath = WarningsPath(rejectsPath)
		}
		if filepath.Clean(warningsPath) == filepath.Clean(rejectsPath) {
			return fmt.Errorf("--warnings and --rejects name the same file %s; give them different files", rejectsPath)
		}
		f, err := openRejects(rejectsPath)
		if err != nil {
			return fmt.Errorf("opening the rejects file: %w", err)
		}
		defer f.Close()
		cfg.Rejects = f
		wf, err := openRejects(warningsPath)
		if err != nil {
			return fmt.Errorf("opening the warnings file: %w", err)
		}
		defer wf.Close()
		cfg.Warnings = wf
	}
	bars := newStepBars(streams.Err, o.json)
	cfg.Progress = bars.update
	cfg.Restart = o.restart
	sum, _, err := Migrate(ctx, cfg)
	bars.finish()
	if sum == nil {
		return err
	}
	if perr := printSummary(streams.Out, sum, Files{Rejects: rejectsPath, Warnings: warningsPath}, o.json); perr != nil && err == nil {
		err = perr
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted: run the same command again to resume: %w", err)
		}
		return &output.ExitError{Code: 1, Err: fmt.Errorf("%w (run the same command again to resume)", err)}
	}
	return nil
}

// stepBars draws one progress bar per step on a terminal.
type stepBars struct {
	w    io.Writer
	off  bool
	cur  string
	bar  *output.Progress
	seen int64
}

func newStepBars(w io.Writer, quiet bool) *stepBars { return &stepBars{w: w, off: quiet} }

func (b *stepBars) update(p migrations.StepProgress) {
	if b.off {
		return
	}
	if p.Step != b.cur {
		b.finish()
		b.cur, b.seen = p.Step, 0
		b.bar = output.NewProgress(b.w, -1, p.Step)
	}
	if n := p.Counts.Read - b.seen; n > 0 {
		b.bar.Add(int(n))
		b.seen = p.Counts.Read
	}
}

func (b *stepBars) finish() {
	if b.bar != nil {
		b.bar.Finish()
		b.bar = nil
	}
}

// WarningsPath is the default warnings file beside a rejects file: the
// last "rejects" in its name becomes "warnings" (odoo-rejects.jsonl →
// odoo-warnings.jsonl), or ".warnings.jsonl" replaces its extension.
func WarningsPath(rejects string) string {
	dir, base := filepath.Split(rejects)
	if i := strings.LastIndex(base, "rejects"); i >= 0 {
		return dir + base[:i] + "warnings" + base[i+len("rejects"):]
	}
	return dir + strings.TrimSuffix(base, filepath.Ext(base)) + ".warnings.jsonl"
}

// Files are the report files of a run ("" when not written).
type Files struct {
	Rejects, Warnings string
}

// Result is the JSON summary of `dvsync migrate odoo`.
type Result struct {
	*migrations.Summary
	Rejects  string `json:"rejects_file,omitempty"`
	Warnings string `json:"warnings_file,omitempty"`
	// Warned is the number of mapping warnings of all steps (each step's
	// counts.warned, and a sample in its warnings).
	Warned int64          `json:"warned"`
	Rates  map[string]int `json:"records_per_second"`
}

// NewResult is the JSON summary of a run that wrote files.
func NewResult(sum *migrations.Summary, files Files) Result {
	res := Result{Summary: sum, Rejects: files.Rejects, Warnings: files.Warnings, Warned: sum.Total().Warned, Rates: map[string]int{}}
	for _, s := range sum.Steps {
		res.Rates[s.Step] = int(rate(s.Counts.Read, s.Duration))
	}
	return res
}

// maxListedWarnings bounds the warnings the table summary prints; the
// warnings file and --json have more.
const maxListedWarnings = 5

func printSummary(w io.Writer, sum *migrations.Summary, files Files, asJSON bool) error {
	res := NewResult(sum, files)
	if asJSON {
		return output.WriteJSON(w, res)
	}
	var rows [][]string
	for _, s := range sum.Steps {
		c := s.Counts
		rows = append(rows, []string{s.Step, string(s.Status), n(c.Read), n(c.Created), n(c.Updated), n(c.Written), n(c.Unchanged), n(c.Skipped), n(c.Rejected), n(c.Warned),
			s.Duration.Round(time.Millisecond).String(), strconv.Itoa(res.Rates[s.Step])})
	}
	t := sum.Total()
	rows = append(rows, []string{"total", string(sum.Status), n(t.Read), n(t.Created), n(t.Updated), n(t.Written), n(t.Unchanged), n(t.Skipped), n(t.Rejected), n(t.Warned),
		sum.Ended.Sub(sum.Started).Round(time.Millisecond).String(), strconv.Itoa(int(rate(t.Read, sum.Ended.Sub(sum.Started))))})
	if err := output.Table(w, []string{"step", "status", "read", "created", "updated", "written", "unchanged", "skipped", "rejected", "warnings", "time", "rec/s"}, rows); err != nil {
		return err
	}
	if t.Warned > 0 {
		where := "--json has a sample of each step's warnings"
		if files.Warnings != "" {
			where = "see " + files.Warnings
		}
		fmt.Fprintf(w, "\n%d mapping warnings (fallbacks that changed the data); %s. First ones:\n", t.Warned, where)
		listed := 0
		for _, s := range sum.Steps {
			for _, wn := range s.Warnings {
				if listed == maxListedWarnings {
					break
				}
				fmt.Fprintf(w, "  %s %s: %s\n", s.Step, wn.SourceID, wn.Message)
				listed++
			}
		}
	}
	if sum.DryRun {
		var tables []string
		per := map[string]int64{}
		for _, s := range sum.Steps {
			for name, tc := range s.Tables {
				if per[name] == 0 {
					tables = append(tables, name)
				}
				per[name] += tc.Records
			}
		}
		sort.Strings(tables)
		fmt.Fprintln(w, "\nDry run: nothing was written. Records per table:")
		for _, name := range tables {
			fmt.Fprintf(w, "  %-18s %d\n", name, per[name])
		}
		fmt.Fprintln(w, "Use --json to see a sample of each step's records.")
		return nil
	}
	if t.Rejected > 0 {
		fmt.Fprintf(w, "\n%d records rejected; see %s\n", t.Rejected, files.Rejects)
	}
	return nil
}

func n(v int64) string { return strconv.FormatInt(v, 10) }
