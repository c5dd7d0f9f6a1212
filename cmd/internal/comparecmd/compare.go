// Package comparecmd implements `dvsync compare`: an Odoo helpdesk and a
// Dynamics 365 environment side by side (operations figures and record
// reconciliation), or two Dataverse environments table by table. The work
// is migrations/compare's; this package parses flags and renders.
package comparecmd

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/dvsync/dvsync/cmd/internal/connection"
	"github.com/dvsync/dvsync/cmd/internal/exitcode"
	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/mapping/canonical"
	"github.com/dvsync/dvsync/mapping/odoodv"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/compare"
	"github.com/dvsync/dvsync/migrations/statestore"
)

// ExitDifferences is the exit code of --fail-on-diff when anything is
// unmatched or differs (the shared "finished with mismatches" code).
const ExitDifferences = exitcode.Rejects

type options struct {
	odoo       connection.Odoo
	conn       connection.Dataverse
	envB       string
	tables     []string
	mapFile    string
	state      string
	since      string
	out        string
	json       bool
	failOnDiff bool
}

// NewCommand returns `dvsync compare`.
func NewCommand(streams *output.Streams) *cobra.Command {
	o := &options{}
	cmd := &cobra.Command{
		Use:   "compare",
		Short: "Put an Odoo helpdesk and Dynamics 365 side by side (or two Dataverse environments)",
		Long: `Compare an Odoo helpdesk with Dynamics 365 Customer Service: operations side by
side (volumes by team/queue, status, priority, channel and month, open backlog,
SLA compliance, time to resolution, top customers, entitlement use), and record
reconciliation (tickets matched to cases through the migration's ID map with
--state, else by Odoo reference and ticketnumber, then by customer e-mail and
creation time; every field classified as equal, both empty, empty on one side,
or differs).

Values are read through the map file of 'dvsync migrate odoo' (--map), so a
stage and a case status the map pairs compare as equal; its compare section
sets the normalisation (time zone, HTML or text, white space, choice labels).

With --env-b and --tables, two Dataverse environments are compared instead,
record by record on each table's primary key.

The report (HTML, Markdown, JSON, CSV, and every difference as CSV and JSON
Lines) is written to --out. Exit status 0 when the comparison ran; with
--fail-on-diff, 3 when anything is unmatched or differs.`,
		Example: `  ODOO_API_KEY=... dvsync compare --odoo https://acme.odoo.com --odoo-db acme --odoo-user bot@acme.example \
      --env https://acme.crm.dynamics.com --map odoo-map.yaml --state acme.db --out compare/
  dvsync compare --env https://prod.crm.dynamics.com --env-b https://test.crm.dynamics.com --tables incident,account`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return run(cmd.Context(), streams, o) },
	}
	f := cmd.Flags()
	o.odoo.AddFlags(f)
	o.conn.AddFlags(f)
	f.StringVar(&o.envB, "env-b", "", "second Dataverse environment URL: compare --env with it table by table (same credentials)")
	f.StringSliceVar(&o.tables, "tables", nil, "tables to compare with --env-b, e.g. incident,account")
	f.StringVar(&o.mapFile, "map", "", "mapping file of 'dvsync migrate odoo' (default: the built-in map)")
	f.StringVar(&o.state, "state", "", "state of 'dvsync migrate odoo', a file or a postgres:// URL: match tickets to cases through its ID map")
	f.StringVar(&o.since, "since", "", "compare only tickets and cases created on or after this date (YYYY-MM-DD, UTC)")
	f.StringVar(&o.out, "out", "compare-report", "folder for the report files")
	f.BoolVar(&o.json, "json", false, "print the summary as JSON")
	f.BoolVar(&o.failOnDiff, "fail-on-diff", false, "exit with status 3 when anything is unmatched or differs")
	return cmd
}

// counter counts the HTTP requests a side costs.
type counter struct {
	base http.RoundTripper
	n    atomic.Int64
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.base.RoundTrip(r)
}

func newCounter() *counter {
	return &counter{base: http.DefaultTransport.(*http.Transport).Clone()}
}

func usage(format string, a ...any) error { return exitcode.UsageError(fmt.Errorf(format, a...)) }

func run(ctx context.Context, streams *output.Streams, o *options) error {
	var since time.Time
	if o.since != "" {
		var err error
		if since, err = time.Parse("2006-01-02", o.since); err != nil {
			return usage("--since %q: want a date such as 2025-01-31", o.since)
		}
	}
	if o.envB != "" || len(o.tables) > 0 {
		if o.envB == "" || len(o.tables) == 0 {
			return usage("comparing two environments needs both --env-b URL and --tables TABLE[,TABLE…]")
		}
		return runEnvs(ctx, streams, o, since)
	}
	m, err := loadMap(o.mapFile)
	if err != nil {
		return exitcode.UsageError(oneLine(err))
	}
	md, err := canonical.New(m)
	if err != nil {
		return exitcode.UsageError(oneLine(err))
	}
	var store migrations.Store
	if o.state != "" {
		var ok bool
		if store, ok, err = statestore.OpenExisting(ctx, o.state); err != nil {
			return exitcode.Of(fmt.Errorf("opening the state %s: %w", statestore.Describe(o.state), err))
		}
		if !ok {
			return usage("state %s does not exist: pass the --state 'dvsync migrate odoo' wrote (a file or a postgres:// URL), or leave --state out to match by case number", statestore.Describe(o.state))
		}
		defer store.Close()
	}
	oc, ocount := newCounter(), newCounter()
	dv, err := o.conn.Client(func(msg string) { fmt.Fprintln(streams.Err, msg) }, &dataverse.ClientOptions{Transport: oc})
	if err != nil {
		return err
	}
	odc, err := o.odoo.Client(ctx, &http.Client{Timeout: 5 * time.Minute, Transport: ocount})
	if err != nil {
		return err
	}
	if _, _, err := dv.WhoAmI(ctx); err != nil {
		return o.conn.Explain(err)
	}
	rep, err := compare.OdooVersusDataverse(ctx, compare.OdooConfig{Odoo: odc, Database: o.odoo.DB, Dataverse: dv, Model: md, Store: store,
		Since: since, Out: o.out, Requests: func() (int64, int64) { return ocount.n.Load(), oc.n.Load() },
		Meta: compare.Report{Odoo: o.odoo.URL + " (database " + o.odoo.DB + ")", Dataverse: dv.ServiceRoot(),
			MapFile: orDefault(o.mapFile, "built-in map"), StateFile: statestore.Describe(o.state), Since: o.since}})
	if err != nil {
		return o.conn.Explain(err)
	}
	if err := render(streams, o, rep); err != nil {
		return err
	}
	if r := rep.Result; o.failOnDiff {
		return exitcode.Finished(r.OnlyInOdoo+r.OnlyInDataverse+r.Differing, fmt.Sprintf("%d tickets without a case, %d cases without a ticket, %d matched with differences; see %s",
			r.OnlyInOdoo, r.OnlyInDataverse, r.Differing, filepath.Join(o.out, compare.FileHTML)))
	}
	return nil
}

func loadMap(file string) (*odoodv.Map, error) {
	if file == "" {
		return odoodv.DefaultMap(), nil
	}
	if _, err := os.Stat(file); err != nil {
		return nil, fmt.Errorf("map file %s: %w (print the default with 'dvsync migrate odoo --print-default-map')", file, errors.Unwrap(err))
	}
	return odoodv.LoadMap(file)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// oneLine joins a multi-line error (YAML decoding, several map problems)
// into the one line the command contract promises.
func oneLine(err error) error {
	lines := strings.Fields(strings.ReplaceAll(err.Error(), "\n", " ; "))
	return errors.New(strings.ReplaceAll(strings.Join(lines, " "), ": ;", ":"))
}
