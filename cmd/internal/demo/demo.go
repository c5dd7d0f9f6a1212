// Package demo implements `dvsync demo`: the whole toolkit on the reference
// servers, in one command, without an account or a network. It starts the
// reference Dataverse and the reference Odoo in-process on loopback with
// their seeds, assesses and migrates the sample Unified Service Desk export,
// migrates the Odoo helpdesk, verifies it, and writes every report into one
// folder.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/dvsync/dvsync/cmd/internal/output"
	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/mapping/workspace"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/odoojob"
	migrate "github.com/dvsync/dvsync/migrations/usdjob"
	"github.com/dvsync/dvsync/odoo"
	"github.com/dvsync/dvsync/odoo/odooseed"
	"github.com/dvsync/dvsync/odoo/odooserver"
	"github.com/dvsync/dvsync/testdata"
	"github.com/dvsync/dvsync/usd"
	"github.com/dvsync/dvsync/usd/assess"
)

// embeddedUSD is the --usd value that selects the USD export built into
// the binary.
const embeddedUSD = "builtin:contoso.zip"

// Options configure a demo run. The fixture fields name files or folders
// on disk; empty means the copy embedded in the binary (package testdata),
// so the demo runs from any folder.
type Options struct {
	Out           string
	DataverseSeed string
	OdooSeed      string
	// USD is a CMT export to assess and migrate; embeddedUSD for the
	// built-in one, empty to skip the USD part.
	USD string
	Map string
	// Tickets, when positive, generates that many Odoo tickets (with
	// threads and SLA statuses) over the seed instead of its own tickets.
	Tickets int
	// Faults is a refserver fault profile (see dvsync serve --faults).
	Faults string
	JSON   bool
	// Progress receives one line per stage, and progress bars (lines off
	// a terminal) for long steps; Quiet silences both.
	Progress io.Writer
	Quiet    bool
}

// Summary is what the demo did, also written as summary.json.
type Summary struct {
	Out       string             `json:"out"`
	Dataverse string             `json:"dataverse"`
	Odoo      string             `json:"odoo"`
	USD       *USDSummary        `json:"usd,omitempty"`
	Odoomig   *odoojob.Result    `json:"odoo_migration"`
	Verify    *migrations.Report `json:"verify"`
	Timings   map[string]float64 `json:"timings_seconds"`
	Files     []string           `json:"files"`
	Generated *odooseed.Stats    `json:"generated,omitempty"`
}

// USDSummary is the USD part of the demo.
type USDSummary struct {
	Source     string         `json:"source"`
	Components int            `json:"components"`
	Migration  migrate.Counts `json:"migration"`
	Mismatches int            `json:"verification_mismatches"`
}

// NewCommand returns `dvsync demo`.
func NewCommand(streams *output.Streams) *cobra.Command {
	o := &Options{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole toolkit on the built-in reference servers and write the reports",
		Long: `Run dvsync end to end on the local reference servers, with no account and no
network: start the reference Dataverse and the reference Odoo on loopback with
their seed data, assess and migrate the sample Unified Service Desk export into
Copilot Service workspace records, migrate the Odoo helpdesk into Customer
Service (accounts, contacts, queues, SLAs, cases, notes, articles), verify the
migration record by record, and write every report into one folder, named at
the end.

The seeds, the USD export and the mapping are built into the binary, so the
demo runs from any folder; the --*-seed, --usd and --map flags replace them
with files of your own. --tickets N generates a larger Odoo helpdesk first.

The reference servers start empty on every run, so a folder that holds an
earlier demo's reports and state is cleared of that state first; a folder
holding anything else's state is refused.`,
		Example: `  go run ./cmd/dvsync demo
  dvsync demo --out ./demo --tickets 20000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Progress = streams.Err
			sum, err := Run(cmd.Context(), *o)
			if sum != nil {
				if o.JSON {
					if werr := output.WriteJSON(streams.Out, sum); werr != nil && err == nil {
						err = werr
					}
				} else {
					printSummary(streams.Out, sum)
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Out, "out", "", "folder for the reports (default: dvsync-demo-<time> in the current directory)")
	f.StringVar(&o.DataverseSeed, "dataverse-seed", "", "seed folder of the reference Dataverse (default: built in)")
	f.StringVar(&o.OdooSeed, "odoo-seed", "", "seed folder of the reference Odoo (default: built in)")
	f.StringVar(&o.USD, "usd", embeddedUSD, "USD Configuration Migration Tool export to assess and migrate (default: built in; empty: skip)")
	f.StringVar(&o.Map, "map", "", "Odoo mapping file (default: built in)")
	f.IntVar(&o.Tickets, "tickets", 0, "generate this many Odoo tickets instead of the seed's")
	f.StringVar(&o.Faults, "faults", "off", "fault profile of the reference Dataverse, e.g. seed=1,reset=0.01")
	f.BoolVar(&o.JSON, "json", false, "print the summary as JSON")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "print only the summary: no stage lines, no progress")
	return cmd
}

func randomKey() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// serve serves h on a free loopback port until ctx ends.
func serve(ctx context.Context, h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	go srv.Serve(ln)
	stop := func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}
	return "http://" + ln.Addr().String(), stop, nil
}

func need(path, flag string) error {
	if path == "" {
		return nil
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("%s %s: %w (leave %s out to use the built-in one)", flag, path, err, flag)
	}
	return nil
}

// Run runs the demo.
func Run(ctx context.Context, o Options) (*Summary, error) {
	say := func(format string, a ...any) {
		if o.Progress != nil && !o.Quiet {
			fmt.Fprintf(o.Progress, format+"\n", a...)
		}
	}
	for _, c := range []struct{ path, flag string }{{o.DataverseSeed, "--dataverse-seed"}, {o.OdooSeed, "--odoo-seed"}, {o.Map, "--map"}} {
		if err := need(c.path, c.flag); err != nil {
			return nil, err
		}
	}
	if o.USD != "" && o.USD != embeddedUSD {
		if err := need(o.USD, "--usd"); err != nil {
			return nil, err
		}
	}
	m, err := loadMap(o.Map)
	if err != nil {
		return nil, err
	}
	faults, err := refserver.ParseFaults(o.Faults)
	if err != nil {
		return nil, fmt.Errorf("--faults: %w", err)
	}
	if o.Out == "" {
		o.Out = "dvsync-demo-" + time.Now().UTC().Format("20060102-150405")
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	cleared, err := startFresh(o.Out)
	if err != nil {
		return nil, err
	}
	if cleared {
		say("starting fresh in %s: removed the earlier demo's state (its reference servers are gone)", o.Out)
	}
	// Embedded seeds are written to a private folder the servers load from.
	if o.DataverseSeed == "" || o.OdooSeed == "" {
		dir, err := os.MkdirTemp("", "dvsync-demo-seed-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		if o.DataverseSeed == "" {
			if o.DataverseSeed, err = testdata.ExtractDir(testdata.DataverseSeed, dir); err != nil {
				return nil, fmt.Errorf("built-in Dataverse seed: %w", err)
			}
		}
		if o.OdooSeed == "" {
			if o.OdooSeed, err = testdata.ExtractDir(testdata.OdooSeed, dir); err != nil {
				return nil, fmt.Errorf("built-in Odoo seed: %w", err)
			}
		}
	}
	sum := &Summary{Out: o.Out, Timings: map[string]float64{}}
	timed := func(name string, f func() error) error {
		start := time.Now()
		err := f()
		sum.Timings[name] = time.Since(start).Seconds()
		return err
	}
	file := func(name string) string {
		p := filepath.Join(o.Out, name)
		sum.Files = append(sum.Files, p)
		return p
	}

	// Odoo seed, generated when asked.
	odooSeed := o.OdooSeed
	if o.Tickets > 0 {
		dir, err := os.MkdirTemp("", "dvsync-demo-odoo-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		if err := timed("generate_odoo", func() error {
			st, err := odooseed.Generate(odooseed.Options{BaseDir: o.OdooSeed, OutDir: dir, Tickets: o.Tickets, Seed: 1})
			sum.Generated = &st
			return err
		}); err != nil {
			return nil, fmt.Errorf("generating Odoo tickets: %w", err)
		}
		odooSeed = dir
		say("generated %d Odoo tickets, %d messages, %d SLA statuses", sum.Generated.Tickets, sum.Generated.Messages, sum.Generated.SLAStatuses)
	}

	// Reference servers, in-process, loopback only, throwaway stores.
	token, odooKey := randomKey(), randomKey()
	ref, err := refserver.New(refserver.Options{Token: token, Faults: faults})
	if err != nil {
		return nil, err
	}
	defer ref.Close()
	if _, err := ref.LoadSeed(ctx, o.DataverseSeed); err != nil {
		return nil, fmt.Errorf("loading the Dataverse seed: %w", err)
	}
	dvURL, stopDV, err := serve(ctx, ref)
	if err != nil {
		return nil, err
	}
	defer stopDV()
	osrv, err := odooserver.New(odooserver.Options{APIKey: odooKey, SeedDir: odooSeed})
	if err != nil {
		return nil, fmt.Errorf("starting the reference Odoo: %w", err)
	}
	odooURL, stopOdoo, err := serve(ctx, osrv)
	if err != nil {
		return nil, err
	}
	defer stopOdoo()
	sum.Dataverse, sum.Odoo = dvURL+"/api/data/v9.2/", odooURL+"/"
	say("dataverse %s", sum.Dataverse)
	say("odoo %s", sum.Odoo)
	dv, err := dataverse.NewClient(dvURL, dataverse.StaticToken(token), nil)
	if err != nil {
		return nil, err
	}

	// Unified Service Desk: assessment and migration.
	if o.USD != "" {
		if err := timed("usd", func() error { return runUSD(ctx, o.USD, dv, sum, file, say) }); err != nil {
			return sum, err
		}
	}

	// Odoo helpdesk migration.
	oc, err := odoo.New(ctx, odoo.Options{URL: odooURL, Database: odooserver.Database, Login: "admin", APIKey: odooKey})
	if err != nil {
		return sum, err
	}
	store, err := migrations.OpenSQLite(ctx, file(stateFile))
	if err != nil {
		return sum, err
	}
	defer store.Close()
	rejects, err := os.Create(file("odoo-rejects.jsonl"))
	if err != nil {
		return sum, err
	}
	defer rejects.Close()
	warnings, err := os.Create(file("odoo-warnings.jsonl"))
	if err != nil {
		return sum, err
	}
	defer warnings.Close()
	steps := &stepProgress{w: o.Progress, quiet: o.Quiet, done: func(p migrations.StepProgress) {
		say("odoo migration: %-13s %s, %d read", p.Step, p.Status, p.Counts.Read)
	}}
	cfg := odoojob.Config{Odoo: oc, Database: odooserver.Database, Dataverse: dv, Map: m, Store: store, Rejects: rejects, Warnings: warnings,
		Progress: steps.update}
	say("migrating the Odoo helpdesk…")
	var msum *migrations.Summary
	err = timed("odoo_migration", func() error {
		var err error
		msum, _, err = odoojob.Migrate(ctx, cfg)
		return err
	})
	steps.finish()
	if msum != nil {
		res := odoojob.NewResult(msum, odoojob.Files{Rejects: filepath.Join(o.Out, "odoo-rejects.jsonl"),
			Warnings: filepath.Join(o.Out, "odoo-warnings.jsonl")})
		sum.Odoomig = &res
		if werr := writeJSON(file("odoo-migration.json"), res); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		return sum, fmt.Errorf("Odoo migration: %w", err)
	}

	say("verifying the Odoo migration record by record…")
	cfg.Rejects, cfg.Warnings, cfg.Progress = nil, nil, nil
	err = timed("verify", func() error {
		rep, err := odoojob.Verify(ctx, cfg, 0, 0)
		if err != nil {
			return err
		}
		sum.Verify = rep
		h, j, err := rep.WriteFiles(o.Out)
		sum.Files = append(sum.Files, h, j)
		return err
	})
	if err != nil {
		return sum, fmt.Errorf("verify: %w", err)
	}
	if werr := writeJSON(file("summary.json"), sum); werr != nil {
		return sum, werr
	}
	if !sum.Verify.OK {
		return sum, &output.ExitError{Code: 1, Err: fmt.Errorf("verify found %d mismatches; see %s", sum.Verify.Mismatches(), filepath.Join(o.Out, "verify.html"))}
	}
	return sum, nil
}

func runUSD(ctx context.Context, zip string, dv *dataverse.Client, sum *Summary, file func(string) string, say func(string, ...any)) error {
	model, err := loadUSD(ctx, zip)
	if err != nil {
		return fmt.Errorf("reading %s: %w", zip, err)
	}
	if zip == embeddedUSD {
		zip = testdata.USD
	}
	sel, err := usd.Select(model, "")
	if err != nil {
		return err
	}
	rep := assess.Assess(sel, assess.Options{Source: filepath.Base(zip)})
	for _, f := range []struct {
		name  string
		write func(io.Writer) error
	}{{"usd-assessment.html", rep.WriteHTML}, {"usd-assessment.md", rep.WriteMarkdown}, {"usd-assessment.json", rep.WriteJSON}} {
		if err := writeFile(file(f.name), f.write); err != nil {
			return err
		}
	}
	say("usd assessment: %d components", len(rep.Items))
	res, err := workspace.Translate(sel, workspace.Options{})
	if err != nil {
		return err
	}
	run, err := (&migrate.Migrator{Client: dv, Result: res}).Apply(ctx, nil)
	if err != nil {
		return fmt.Errorf("USD migration: %w", err)
	}
	if err := writeJSON(file("usd-migration.json"), run); err != nil {
		return err
	}
	u := &USDSummary{Source: filepath.Base(zip), Components: len(rep.Items), Migration: run.Counts}
	if run.Verification != nil {
		u.Mismatches = len(run.Verification.Mismatches)
	}
	sum.USD = u
	say("usd migration: %d records (%d created, %d rejected), %d associations, %d verification mismatches",
		run.Counts.Records, run.Counts.Created, run.Counts.Rejected, run.Counts.Associations, u.Mismatches)
	return nil
}

func writeFile(path string, write func(io.Writer) error) error {
	a, err := output.CreateAtomic(path)
	if err != nil {
		return err
	}
	if err := write(a); err != nil {
		a.Abort()
		return err
	}
	return a.Commit()
}

func writeJSON(path string, v any) error {
	return writeFile(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(v)
	})
}

func printSummary(w io.Writer, s *Summary) {
	if s.USD != nil {
		fmt.Fprintf(w, "USD %s: %d components assessed; %d workspace records written (%d rejected), %d verification mismatches\n",
			s.USD.Source, s.USD.Components, s.USD.Migration.Records-s.USD.Migration.Rejected, s.USD.Migration.Rejected, s.USD.Mismatches)
	}
	if s.Odoomig != nil {
		t := s.Odoomig.Total()
		fmt.Fprintf(w, "Odoo helpdesk: %d records read, %d written, %d unchanged, %d skipped, %d rejected in %.1fs; %d mapping warnings\n",
			t.Read, t.TotalWritten(), t.Unchanged, t.Skipped, t.Rejected, s.Timings["odoo_migration"], t.Warned)
	}
	if s.Verify != nil {
		verdict := "OK, no mismatches"
		if !s.Verify.OK {
			verdict = fmt.Sprintf("%d MISMATCHES", s.Verify.Mismatches())
		}
		fmt.Fprintf(w, "Verify: %s (%.1fs)\n", verdict, s.Timings["verify"])
	}
	fmt.Fprintf(w, "\nReports are in %s:\n", s.Out)
	for _, f := range s.Files {
		if filepath.Ext(f) != ".db" {
			fmt.Fprintf(w, "  %s\n", f)
		}
	}
}
