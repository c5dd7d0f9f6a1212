// Package odoojob is the migration of an Odoo helpdesk (Enterprise or OCA,
// Odoo 16 to 19) into Dataverse Customer Service: its sources (the Odoo
// models, read in id order from a checkpoint), its mapping
// (mapping/odoodv), its target (the Dataverse sink) and its baselines, as
// one migrations.Job. It is a library: `dvsync migrate odoo`, `dvsync
// verify` and `dvsync demo` only parse flags, call Migrate or Verify and
// render the result, and a Go program can do the same without them.
package odoojob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/sink"
	"github.com/dvsync/dvsync/mapping/odoodv"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/odoo"
	"github.com/dvsync/dvsync/odoo/helpdesk"
)

// Tables lists the Dataverse tables the migration writes or matches
// (systemuser), for baselines and counts.
var Tables = []string{"systemuser", "account", "contact", "queue", "subject", "sla", "slaitem", "incident", "queueitem", "slakpiinstance", "annotation", "knowledgearticle"}

// Config is one migration of an Odoo database into a Dataverse environment.
type Config struct {
	Odoo *odoo.Client
	// Database is the Odoo database name; it scopes the job and salts
	// every target ID.
	Database  string
	Dataverse *dataverse.Client
	// Map is the mapping file; nil means the default.
	Map *odoodv.Map
	// Store keeps checkpoints, the ID map and baselines; required, except
	// for a dry run, which then plans from the start.
	Store migrations.Store
	// Rejects receives the rejected records as JSON Lines; nil discards.
	Rejects io.Writer
	// Warnings receives the mapping's warnings (fallbacks that changed
	// the data) as JSON Lines; nil discards them (they are still counted
	// and sampled in the summary).
	Warnings io.Writer
	// Skips receives the records the mapping leaves out on purpose, with
	// their reasons, as JSON Lines; nil discards them (they are still
	// counted and grouped by reason in the summary). Verify writes the
	// skipped records to Skips and the rejected ones to Rejects too.
	Skips io.Writer
	// OdooURL and DataverseURL name the two systems in reports
	// (Endpoints); they are not used to connect.
	OdooURL, DataverseURL string
	DryRun                bool
	// Restart reads every source from the start; the ID map is kept, so
	// records already written are updated.
	Restart bool
	// Fresh starts over: the job's state (checkpoints, ID map, baselines,
	// rejects, recorded target) is cleared from Store before the run, as
	// for a state that belongs to another environment. A dry run only
	// plans as if from a new state.
	Fresh       bool
	BatchSize   int
	Concurrency int
	PageSize    int
	// Progress is told how each step moves, with the step's total when
	// the source can count it (Odoo search_count): the migration's steps,
	// or verify's.
	Progress func(migrations.StepProgress)
	Logger   *slog.Logger
}

// Prepared is a migration ready to run or verify.
type Prepared struct {
	Job *migrations.Job
	// Sink writes the job's records, reads them back for verify and
	// counts the tables (less their baselines).
	Sink    *sink.Sink
	Reader  *helpdesk.Reader
	Mapper  *odoodv.Mapper
	Context odoodv.Context
}

// Prepare detects the helpdesk, reads the reference tables and declares the
// job.
func Prepare(ctx context.Context, cfg Config) (*Prepared, error) {
	if cfg.Odoo == nil || cfg.Dataverse == nil || cfg.Database == "" {
		return nil, errors.New("odoojob: Config needs an Odoo client, its database name and a Dataverse client")
	}
	r, err := helpdesk.Detect(ctx, cfg.Odoo)
	if err != nil {
		return nil, err
	}
	c, err := LoadContext(ctx, r, cfg.Database)
	if err != nil {
		return nil, err
	}
	mp, err := odoodv.New(cfg.Map, c)
	if err != nil {
		return nil, err
	}
	name := JobName(c.Database)
	so := &sink.Options{}
	if cfg.Store != nil {
		so.Baseline = func(ctx context.Context, table string) (int64, bool, error) {
			return baseline(ctx, cfg.Store, name, table)
		}
	}
	s := sink.New(cfg.Dataverse, so)
	job := BuildJob(JobOptions{Reader: r, Mapper: mp, Context: c, Target: s, PageSize: cfg.PageSize})
	return &Prepared{Job: job, Sink: s, Reader: r, Mapper: mp, Context: c}, nil
}

func baselineName(table string) string { return "baseline:" + table }

func baseline(ctx context.Context, s migrations.Store, job, table string) (int64, bool, error) {
	v, ok, err := s.Value(ctx, job, baselineName(table))
	if err != nil || !ok {
		return 0, ok, err
	}
	var n int64
	if _, err := fmt.Sscan(v, &n); err != nil {
		return 0, false, fmt.Errorf("state: bad baseline %q for %s", v, table)
	}
	return n, true, nil
}

// recordBaselines counts the target tables before the first run, so
// verify can tell the records the migration added from those that were
// there; later runs keep the first counts.
func recordBaselines(ctx context.Context, p *Prepared, s migrations.Store) error {
	// The tables are counted side by side: each count is one request
	// (or a paging of IDs for a table over the count cap), and a dozen
	// of them one after the other would delay every run's first write.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, table := range Tables {
		g.Go(func() error {
			if _, ok, err := s.Value(gctx, p.Job.Name, baselineName(table)); err != nil || ok {
				return err
			}
			n, err := p.Sink.CountAll(gctx, table)
			if err != nil {
				return fmt.Errorf("counting %s before the migration: %w", table, err)
			}
			return s.SetValue(gctx, p.Job.Name, baselineName(table), fmt.Sprint(n))
		})
	}
	return g.Wait()
}

// Migrate runs (or, with DryRun, plans) the migration; running it again
// resumes from the last checkpoint.
func Migrate(ctx context.Context, cfg Config) (*migrations.Summary, *Prepared, error) {
	if cfg.Store == nil && !cfg.DryRun {
		return nil, nil, errors.New("odoojob: Config needs a Store (a dry run may go without)")
	}
	p, err := Prepare(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	if cfg.Fresh && cfg.DryRun {
		cfg.Store = nil
	}
	if cfg.Fresh && cfg.Store != nil {
		if err := cfg.Store.Clear(ctx, p.Job.Name); err != nil {
			return nil, p, err
		}
	}
	o := migrations.RunOptions{Store: cfg.Store, BatchSize: cfg.BatchSize, Concurrency: cfg.Concurrency, Rejects: cfg.Rejects,
		Warnings: cfg.Warnings, Skips: cfg.Skips, Progress: cfg.Progress, Logger: cfg.Logger, Restart: cfg.Restart}
	if cfg.DryRun {
		sum, err := migrations.Plan(ctx, p.Job, o)
		return sum, p, err
	}
	if err := recordBaselines(ctx, p, cfg.Store); err != nil {
		return nil, p, err
	}
	sum, err := migrations.Run(ctx, p.Job, o)
	return sum, p, err
}

// Verify reconciles the Odoo source with Dataverse after a run, reading
// Dataverse back a batch of records per request. The report names both
// systems (Config.Endpoints); the skipped and rejected records go to
// cfg.Skips and cfg.Rejects.
func Verify(ctx context.Context, cfg Config, sample int, seed uint64) (*migrations.Report, error) {
	p, err := Prepare(ctx, cfg)
	if err != nil {
		return nil, err
	}
	// A state of another organisation is refused; an emptied environment
	// of the same one is what verify itself reports, record by record.
	if err := migrations.ConfirmTarget(ctx, p.Job, cfg.Store, migrations.ConfirmOptions{}); err != nil {
		return nil, err
	}
	rep, err := migrations.Verify(ctx, p.Job, migrations.VerifyOptions{Target: p.Sink, Store: cfg.Store, Compare: p.Sink.Compare,
		Sample: sample, Seed: seed, Logger: cfg.Logger, Progress: cfg.Progress, Skips: cfg.Skips, Rejects: cfg.Rejects})
	if err != nil {
		return nil, err
	}
	rep.Source, rep.Target = cfg.Endpoints()
	return rep, nil
}

// LoadMap reads a mapping file, or returns the default map when file is
// empty.
func LoadMap(file string) (*odoodv.Map, error) {
	if file == "" {
		return odoodv.DefaultMap(), nil
	}
	return odoodv.LoadMap(file)
}

// Files are the data files of a run ("" when not written).
type Files struct {
	Rejects, Warnings, Skips string
}

// Result is the JSON summary of a migration run.
type Result struct {
	*migrations.Summary
	// Source and Target name the two systems (Config.Endpoints).
	Source   migrations.Endpoint `json:"source,omitzero"`
	Target   migrations.Endpoint `json:"target,omitzero"`
	Rejects  string              `json:"rejectsFile,omitempty"`
	Skips    string              `json:"skipsFile,omitempty"`
	Warnings string              `json:"warningsFile,omitempty"`
	// Warned is the number of mapping warnings of all steps (each step's
	// counts.warned, and a sample in its warnings).
	Warned int64          `json:"warned"`
	Rates  map[string]int `json:"recordsPerSecond"`
}

// NewResult is the JSON summary of a run that wrote files.
func NewResult(sum *migrations.Summary, files Files) Result {
	res := Result{Summary: sum, Rejects: files.Rejects, Warnings: files.Warnings, Skips: files.Skips, Warned: sum.Total().Warned, Rates: map[string]int{}}
	for _, s := range sum.Steps {
		res.Rates[s.Step] = int(Rate(s.Counts.Read, s.Duration))
	}
	return res
}

// Rate is records per second, for summaries.
func Rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
