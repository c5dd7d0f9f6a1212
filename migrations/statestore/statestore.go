// Package statestore opens the state store a --state value names: a SQLite
// file (the embedded default) or a PostgreSQL database (postgres://…), the
// shared store when several workers run one job.
package statestore

import (
	"context"
	"errors"
	"io/fs"
	"os"

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

// OpenExisting opens the store named by state only when it already holds
// dvsync state; ok is false, and nothing was created, for a missing file
// or a database without the state schema. Dry runs, verify and compare
// read state and never create it.
func OpenExisting(ctx context.Context, state string) (s migrations.Store, ok bool, err error) {
	if IsShared(state) {
		ok, err = pgstore.Exists(ctx, state, pgstore.Options{})
	} else {
		_, err = os.Stat(state)
		ok = err == nil
		if errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
	}
	if err != nil || !ok {
		return nil, false, err
	}
	s, err = Open(ctx, state)
	return s, err == nil, err
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
