// Package mirror keeps a copy of Dataverse tables in a SQL database:
// embedded SQLite by default, or a PostgreSQL server. Each Dataverse table
// becomes one SQL table named by its logical name, with the primary key
// column as primary key and every mirrored column under its logical name in
// a fitting SQL type; choice columns hold their integer value and the labels
// sit beside them in dvsync_choice_labels.
//
// Two bookkeeping columns ride along, as Fivetran's _fivetran_synced and
// Airbyte's _airbyte_* columns do: _dvsync_hash (a hash of the mirrored
// values, so that a re-read row that did not change is counted unchanged
// and not rewritten) and _dvsync_gen (the full read that last saw the row,
// so that a re-baseline can delete what vanished from the source).
//
// Every write is idempotent: upserts are by primary key and deletes by
// primary key, so re-applying a page after a crash neither duplicates nor
// loses a row.
package mirror

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"
)

// Kind is a database engine.
type Kind string

const (
	SQLite   Kind = "sqlite"
	Postgres Kind = "postgres"
)

// DB is an open mirror database.
type DB struct {
	sql  *sql.DB
	kind Kind
	// dsn is kept for error messages only when it holds no password.
	where string
}

// Open opens (creating if needed) a mirror database. For SQLite dsn is a
// file path; for PostgreSQL a postgres:// URL.
func Open(ctx context.Context, kind Kind, dsn string) (*DB, error) {
	db, where, err := OpenSQL(ctx, kind, dsn)
	if err != nil {
		return nil, err
	}
	m := &DB{sql: db, kind: kind, where: where}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS dvsync_choice_labels (
		table_name TEXT NOT NULL, column_name TEXT NOT NULL, value INTEGER NOT NULL, label TEXT NOT NULL,
		PRIMARY KEY (table_name, column_name, value))`); err != nil {
		db.Close()
		return nil, fmt.Errorf("mirror: %s: %w", where, err)
	}
	return m, nil
}

// OpenSQL opens a database/sql handle for kind, with the settings every
// dvsync database uses: for SQLite WAL, a busy timeout and one connection
// (SQLite serialises writers anyway; one connection avoids SQLITE_BUSY).
// The second result names the database for messages, without a password.
func OpenSQL(ctx context.Context, kind Kind, dsn string) (*sql.DB, string, error) {
	var db *sql.DB
	var err error
	var where string
	switch kind {
	case SQLite:
		if dsn == "" {
			return nil, "", errors.New("mirror: empty SQLite file name")
		}
		q := url.Values{}
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)")
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_txlock", "immediate")
		where = dsn
		db, err = sql.Open("sqlite", "file:"+dsn+"?"+q.Encode())
		if err == nil {
			db.SetMaxOpenConns(1)
		}
	case Postgres:
		u, perr := url.Parse(dsn)
		if perr != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return nil, "", errors.New("mirror: PostgreSQL address must be a postgres:// URL")
		}
		where = u.Redacted()
		db, err = sql.Open("pgx", dsn)
		if err == nil {
			db.SetMaxOpenConns(4)
		}
	default:
		return nil, "", fmt.Errorf("mirror: unknown database kind %q", kind)
	}
	if err != nil {
		return nil, "", fmt.Errorf("mirror: open %s: %w", where, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, "", fmt.Errorf("mirror: open %s: %w", where, err)
	}
	return db, where, nil
}

// Close closes the database.
func (m *DB) Close() error { return m.sql.Close() }

// Kind returns the engine.
func (m *DB) Kind() Kind { return m.kind }

// SQL returns the database/sql handle, for reading the mirror.
func (m *DB) SQL() *sql.DB { return m.sql }

// Rebind turns ? placeholders into PostgreSQL's $1, $2, … when kind is
// Postgres. Queries passed here never contain a literal '?'.
func Rebind(kind Kind, q string) string {
	if kind != Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// QuoteIdent quotes an SQL identifier (both engines use double quotes).
func QuoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
