package syncjob

import (
	"context"
	"errors"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/migrations/mirror"
)

// applier applies one table's changes to a target, a page at a time. It
// counts every change into the table's summary as upserted, deleted,
// unchanged or rejected (calling tableRun.reject for the last). Writes are
// idempotent, so a page applied twice after a crash changes nothing.
type applier interface {
	// Query is the source read that gives the applier what it needs.
	Query(pageSize int) dataverse.Query
	// Empty reports whether the target holds nothing of the table yet.
	Empty(ctx context.Context) (bool, error)
	Upsert(rec dataverse.Record, gen int64) error
	Delete(id string) error
	// Mark notes that the source still holds id (key-set comparison).
	Mark(id string, gen int64) error
	// Sweep deletes what a full read or key-set comparison of generation
	// gen did not see.
	Sweep(gen int64) error
	// Commit makes what was applied since the last Commit durable.
	Commit() error
	// Rollback abandons what was applied since the last Commit.
	Rollback()
}

// mirrorApplier applies changes to a SQL mirror table, one database
// transaction per page.
type mirrorApplier struct {
	t  *tableRun
	mt *mirror.Table
	tx *mirror.Tx
}

func (a *mirrorApplier) Query(pageSize int) dataverse.Query {
	return dataverse.Query{Select: a.mt.Select(), Annotations: a.mt.Annotations(), PageSize: pageSize}
}

func (a *mirrorApplier) Empty(ctx context.Context) (bool, error) {
	n, err := a.mt.Count(ctx)
	return n == 0, err
}

func (a *mirrorApplier) begin() error {
	if a.tx != nil {
		return nil
	}
	// Writes to the mirror outlive a cancelled run (Ctrl-C, SIGTERM): what
	// was read is committed with its checkpoint, and only the read stops.
	tx, err := a.mt.Begin(context.WithoutCancel(a.t.ctx))
	if err != nil {
		return err
	}
	a.tx = tx
	return nil
}

func (a *mirrorApplier) Upsert(rec dataverse.Record, gen int64) error {
	if err := a.begin(); err != nil {
		return err
	}
	row, err := a.mt.Convert(rec)
	if err != nil {
		var ve *mirror.ValueError
		if errors.As(err, &ve) {
			return a.t.reject(rec.String(a.mt.Def().PrimaryID), err)
		}
		return err
	}
	out, err := a.tx.Upsert(row, gen, a.t.cp.Fresh)
	if err != nil {
		return err
	}
	a.t.count(out)
	return nil
}

func (a *mirrorApplier) Delete(id string) error {
	if err := a.begin(); err != nil {
		return err
	}
	out, err := a.tx.Delete(id)
	if err != nil {
		return err
	}
	a.t.count(out)
	return nil
}

func (a *mirrorApplier) Mark(id string, gen int64) error {
	if err := a.begin(); err != nil {
		return err
	}
	return a.tx.Mark(id, gen)
}

func (a *mirrorApplier) Sweep(gen int64) error {
	if err := a.begin(); err != nil {
		return err
	}
	n, err := a.tx.Sweep(gen)
	if err != nil {
		return err
	}
	a.t.sum.Deleted += n
	a.t.sum.Read += n
	return nil
}

func (a *mirrorApplier) Commit() error {
	if a.tx == nil || a.t.r.o.DryRun {
		// A dry run applies the whole table in one transaction, rolled
		// back at its end.
		return nil
	}
	err := a.tx.Commit()
	a.tx = nil
	return err
}

func (a *mirrorApplier) Rollback() {
	if a.tx != nil {
		a.tx.Rollback()
		a.tx = nil
	}
}
