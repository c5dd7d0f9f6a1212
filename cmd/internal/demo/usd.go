package demo

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/mapping/workspace"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/usdjob"
	"github.com/dvsync/dvsync/testdata"
	"github.com/dvsync/dvsync/usd"
	"github.com/dvsync/dvsync/usd/assess"
)

// usd assesses the USD export and migrates it into Copilot Service
// workspace records. Its state lives in tmp: it belongs to this run's
// servers, which are gone after it.
func (r *demoRun) usd(ctx context.Context, dv *dataverse.Client, tmp string) error {
	zip := r.o.USD
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
		if err := writeFile(r.file(f.name), f.write); err != nil {
			return err
		}
	}
	r.say("usd assessment: %d components", len(rep.Items))
	res, err := workspace.Translate(sel, workspace.Options{})
	if err != nil {
		return err
	}
	store, err := migrations.OpenSQLite(ctx, filepath.Join(tmp, "usd-state.db"))
	if err != nil {
		return err
	}
	defer store.Close()
	run, err := usdjob.Migrate(ctx, usdjob.Config{Dataverse: dv, Translation: res, Store: store})
	if run != nil {
		if werr := writeJSON(r.file("usd-migration.json"), run); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		return fmt.Errorf("usd migration: %w", err)
	}
	u := &USDSummary{Source: filepath.Base(zip), Components: len(rep.Items), Migration: run.Total()}
	for _, rec := range run.Records {
		u.Links += rec.Links
	}
	if run.Verification != nil {
		u.Mismatches = int(run.Verification.Mismatches())
	}
	r.sum.USD = u
	t := u.Migration
	r.say("usd migration: %d records (%d written, %d unchanged, %d rejected), %d links, %d verification mismatches",
		t.Read, t.TotalWritten(), t.Unchanged, t.Rejected, u.Links, u.Mismatches)
	return nil
}
