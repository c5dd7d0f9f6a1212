package distribute

import (
	"fmt"
	"strconv"

	"github.com/riverqueue/river"

	"github.com/dvsync/dvsync/migrations/syncjob"
)

// Kinds of unit.
const (
	// UnitOdooRange is an id range of one step of `migrate odoo`.
	UnitOdooRange = "odoo-range"
	// UnitSyncTable is one table of a `sync` job.
	UnitSyncTable = "sync-table"
	// UnitSyncOdoo is the whole sync of an Odoo-source job (a tenant).
	UnitSyncOdoo = "sync-odoo"
)

// Unit is one unit of work, as a River job's arguments. It describes the
// work completely, so any worker can do it, and holds no secret: the
// application users and the Odoo key are named by variable or file, and
// each worker reads them from its own environment.
type Unit struct {
	// Run identifies the distributed run the unit belongs to; with the
	// fields below it makes the unit unique, so enqueueing it again (a
	// resumed coordinator) never duplicates it.
	Run  string `json:"run" river:"unique"`
	Type string `json:"type" river:"unique"`
	// Job is the state store's job name.
	Job  string `json:"job" river:"unique"`
	Step string `json:"step,omitempty" river:"unique"`
	// From and To bound the source ids of an odoo-range unit: From ≤ id <
	// To, To 0 meaning no upper bound.
	From int64 `json:"from,omitempty" river:"unique"`
	To   int64 `json:"to,omitempty" river:"unique"`
	// Table is the table of a sync-table unit.
	Table string `json:"table,omitempty" river:"unique"`
	// Seq orders the units of a run; it also spreads them over the
	// application users.
	Seq int `json:"seq"`

	// Env is the Dataverse environment written (and, for sync, read).
	Env   string    `json:"env,omitempty"`
	Users []AppUser `json:"users"`
	// Odoo is the Odoo connection of an odoo-range or sync-odoo unit.
	Odoo *OdooConn `json:"odoo,omitempty"`
	// Map is the migration's map file.
	Map MapFiles `json:"map,omitzero"`
	// SyncJob is the text of a sync job file.
	SyncJob string `json:"sync_job,omitempty"`
	// SyncJobDir resolves relative paths of the sync job file.
	SyncJobDir  string `json:"sync_job_dir,omitempty"`
	BatchSize   int    `json:"batch_size,omitempty"`
	Concurrency int    `json:"concurrency,omitempty"`
}

// OdooConn names an Odoo database and where a worker finds its API key.
type OdooConn struct {
	URL      string `json:"url"`
	DB       string `json:"db"`
	User     string `json:"user"`
	Protocol string `json:"protocol,omitempty"`
	PageSize int    `json:"page_size,omitempty"`
	// KeyEnv names the variable holding the API key (ODOO_API_KEY when
	// empty and KeyFile is empty); KeyFile a file holding it.
	KeyEnv  string `json:"key_env,omitempty"`
	KeyFile string `json:"key_file,omitempty"`
}

// Kind implements river.JobArgs.
func (Unit) Kind() string { return "dvsync_unit" }

var _ river.JobArgs = Unit{}

// Name is the unit's partition of its step: the name its checkpoint and
// its journal go under.
func (u Unit) Name() string {
	switch u.Type {
	case UnitSyncTable:
		return u.Table
	case UnitSyncOdoo:
		return syncjob.OdooUnit
	}
	to := "end"
	if u.To > 0 {
		to = strconv.FormatInt(u.To-1, 10)
	}
	return fmt.Sprintf("%s@%d-%s", u.Step, u.From, to)
}

// String describes the unit for messages.
func (u Unit) String() string {
	return u.Job + " " + u.Name()
}
