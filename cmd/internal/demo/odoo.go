package demo

import (
	"context"
	"fmt"
	"os"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/mapping/odoodv"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/compare"
	"github.com/dvsync/dvsync/migrations/odoojob"
	"github.com/dvsync/dvsync/odoo/odooserver"
)

// odoo migrates the Odoo helpdesk, verifies the migration record by record
// and compares the helpdesk with the cases it became.
func (r *demoRun) odoo(ctx context.Context, srv *servers, m *odoodv.Map) error {
	store, err := migrations.OpenSQLite(ctx, r.file(stateFile))
	if err != nil {
		return err
	}
	defer store.Close()
	rejectsPath, warningsPath := r.file("odoo-rejects.jsonl"), r.file("odoo-warnings.jsonl")
	rejects, err := os.Create(rejectsPath)
	if err != nil {
		return err
	}
	defer rejects.Close()
	warnings, err := os.Create(warningsPath)
	if err != nil {
		return err
	}
	defer warnings.Close()
	steps := &stepProgress{w: r.o.Progress, quiet: r.o.Quiet, done: func(p migrations.StepProgress) {
		r.say("odoo migration: %-13s %s, %d read", p.Step, p.Status, p.Counts.Read)
	}}
	cfg := odoojob.Config{Odoo: srv.odoo, Database: odooserver.Database, Dataverse: srv.dv, Map: m, Store: store,
		Rejects: rejects, Warnings: warnings, Progress: steps.update}
	// The reference environment holds cases of its own: the comparison
	// finds them only in Dataverse, rightly, and the demo says whose they
	// are.
	before, err := srv.dv.CountRows(ctx, "incident", dataverse.Filter{})
	if err != nil {
		return err
	}
	r.say("migrating the Odoo helpdesk…")
	var msum *migrations.Summary
	err = r.timed("odoo_migration", func() error {
		var err error
		msum, _, err = odoojob.Migrate(ctx, cfg)
		return err
	})
	steps.finish()
	if msum != nil {
		res := odoojob.NewResult(msum, odoojob.Files{Rejects: rejectsPath, Warnings: warningsPath})
		r.sum.Odoomig = &res
		if werr := writeJSON(r.file("odoo-migration.json"), res); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		return fmt.Errorf("odoo migration: %w", err)
	}

	r.say("verifying the Odoo migration record by record…")
	cfg.Rejects, cfg.Warnings, cfg.Progress = nil, nil, nil
	if err := r.timed("verify", func() error {
		rep, err := odoojob.Verify(ctx, cfg, 0, 0)
		if err != nil {
			return err
		}
		r.sum.Verify = rep
		h, j, err := rep.WriteFiles(r.o.Out)
		r.sum.Files = append(r.sum.Files, h, j)
		return err
	}); err != nil {
		return fmt.Errorf("verify: %w", err)
	}

	r.say("comparing the Odoo helpdesk with the cases in Dataverse…")
	if err := r.timed("compare", func() error {
		mapName := "the built-in demo map"
		if r.o.Map != "" {
			mapName = r.o.Map
		}
		rep, err := compare.OdooVersusDataverse(ctx, compare.OdooConfig{Odoo: srv.odoo, Database: odooserver.Database,
			Dataverse: srv.dv, Map: m, Store: store, Out: r.o.Out,
			Meta: compare.Report{Odoo: srv.odooURL + " (database " + odooserver.Database + ")", Dataverse: srv.dvURL,
				MapFile: mapName, StateFile: stateFile}})
		if err != nil {
			return err
		}
		res := rep.Result
		r.sum.Compare = &CompareSummary{Matched: res.Matched, OnlyInOdoo: res.OnlyInOdoo, OnlyInDataverse: res.OnlyInDataverse,
			Differing: res.Differing, Report: r.file(compare.FileHTML)}
		if before.Exact || before.Snapshot {
			r.sum.Compare.CasesBefore = before.N
		}
		r.file(compare.FileJSON)
		r.file(compare.FileDifferencesCSV)
		return nil
	}); err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	return nil
}
