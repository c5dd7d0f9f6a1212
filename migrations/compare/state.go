package compare

import (
	"context"
	"strings"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/mapping/odoodv"
	"github.com/dvsync/dvsync/migrations"
)

// StateIDMap matches through a migration's ID map: the incident the cases
// step wrote for an Odoo ticket id. job is the migration's job name
// (migrations/odoojob JobName).
func StateIDMap(store migrations.Store, job string) func(ctx context.Context, odooID string) (string, error) {
	return func(ctx context.Context, odooID string) (string, error) {
		refs, err := store.LookupIDs(ctx, job, odoodv.StepCases, odooID)
		if err != nil {
			return "", err
		}
		for _, r := range refs {
			if r.Table != "incident" {
				continue
			}
			if r.ID != "" {
				return r.ID, nil
			}
			// A key written by ID prints as the bare GUID.
			if id, err := uuid.Parse(strings.Trim(r.Key, "()")); err == nil {
				return id.String(), nil
			}
		}
		return "", nil
	}
}

// OdooJobName is the job name `dvsync migrate odoo` gives the migration of
// an Odoo database (migrations/odoojob JobName; a test holds the two
// equal), so that compare can read that job's ID map without depending on
// the job package.
func OdooJobName(database string) string { return "odoo/" + database }
