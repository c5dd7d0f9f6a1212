package odoojob

import (
	"context"

	"github.com/dvsync/dvsync/migrations"
)

// RecordBaselines counts the target tables before the first run, as
// Migrate does, for a caller that runs the job's steps itself (the
// workers of a distributed migration): verify then tells the records the
// migration added from those that were there. Later calls keep the first
// counts.
func RecordBaselines(ctx context.Context, p *Prepared, s migrations.Store) error {
	return recordBaselines(ctx, p, s)
}
