// Package statestore opens the state store a --state value names: a SQLite
// file (the embedded default) or a PostgreSQL database (postgres://…), the
// shared store when several workers run one job.
package statestore

import (
	"context"

	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/pgstore"
)

// Open opens the store named by state: a postgres:// or postgresql:// URL
// opens the PostgreSQL store (schema migrations applied), anything else is
// a SQLite file path.
func Open(ctx context.Context, state string) (migrations.Store, error) {
	if IsShared(state) {
		return pgstore.Open(ctx, state, pgstore.Options{})
	}
	return migrations.OpenSQLite(ctx, state)
}

// IsShared reports whether state names the shared PostgreSQL store.
func IsShared(state string) bool { return pgstore.IsURL(state) }

// Describe names the store for messages, without any password.
func Describe(state string) string {
	if IsShared(state) {
		return pgstore.Redact(state)
	}
	return state
}
