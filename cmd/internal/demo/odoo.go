package demo

import (
	"context"
	"fmt"

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
	// The run starts fresh (new servers, no state), so its lists do too.
	files := odoojob.Files{Rejects: r.file("odoo-rejects.jsonl"), Skips: r.file("odoo-skips.jsonl"), Warnings: r.file("odoo-warnings.jsonl")}
	lists, err := createLists(files.Rejects, files.Skips, files.Warnings)
	if err != nil {
		return err
	}
	defer closeLists(lists)
	steps := &stepProgress{w: r.o.Progress, quiet: r.o.Quiet, done: func(p migrations.StepProgress) {
		r.say("odoo migration: %-13s %s, %d read", p.Step, p.Status, p.Counts.Read)
	}}
	cfg := odoojob.Config{Odoo: srv.odoo, Database: odooserver.Database, Dataverse: srv.dv, Map: m, Store: store,
		Rejects: lists[0], Skips: lists[1], Warnings: lists[2], Progress: steps.update,
		OdooURL: srv.odooURL, DataverseURL: srv.dv.ServiceRoot()}
	// The reference environment holds cases of its own: the comparison
	// finds them only in Dataverse, rightly, and the demo says whose they
	// are.
	before, err := srv.dv.CountRows(ctx, "incident", dataverse.Filter{})
	if err != nil {
		return err
	}
	r.say("migrating the Odoo helpdesk…")
	var msum *migrations.Summary
	err = r.timed("odooMigration", func() error {
		var err error
		msum, _, err = odoojob.Migrate(ctx, cfg)
		return err
	})
	steps.finish()
	if msum != nil {
		res := odoojob.NewResult(msum, files)
		res.Source, res.Target = cfg.Endpoints()
		r.sum.Odoomig = &res
		// migration.html (both systems, totals and a chart, skips and
		// rejects by reason) and migration.json, the same report as
		// `migrate odoo --report` writes, even of a run that stopped.
		h, j, werr := res.WriteFiles(r.o.Out)
		if werr == nil {
			r.sum.Files = append(r.sum.Files, h, j)
		} else if err == nil {
			err = fmt.Errorf("writing the migration report: %w", werr)
		}
	}
	if err != nil {
		return fmt.Errorf("odoo migration: %w", err)
	}

	r.say("verifying the Odoo migration record by record…")
	// Verify lists what it finds skipped and rejected beside its report,
	// as `dvsync verify` does, and verify.html names both lists.
	vfiles := migrations.Files{Skips: r.file(migrations.VerifySkips), Rejects: r.file(migrations.VerifyRejects)}
	vlists, err := createLists(vfiles.Skips, vfiles.Rejects)
	if err != nil {
		return err
	}
	defer closeLists(vlists)
	cfg.Skips, cfg.Rejects, cfg.Warnings, cfg.Progress = vlists[0], vlists[1], nil, nil
	if err := r.timed("verify", func() error {
		rep, err := odoojob.Verify(ctx, cfg, 0, 0)
		if err != nil {
			return err
		}
		rep.Files = vfiles
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
