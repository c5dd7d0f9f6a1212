package refserver

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // pure-Go SQLite driver, registered as "sqlite"

	"github.com/dvsync/dvsync/dataverse/schema"
)

// Store keeps records in embedded SQLite, one SQL table per Dataverse table
// with one SQL column per Dataverse column, so that filters, ordering and
// keyset paging run inside SQLite and a million-row table is paged without
// being loaded into memory. String columns use NOCASE collation because
// Dataverse string comparisons (and alternate keys) are case-insensitive.
//
// Writes are serialised by a mutex (SQLite has one writer anyway), which
// also makes the global row version counter — Dataverse's rowversion, the
// source of etags, versionnumber and change-tracking tokens — monotonic.
type Store struct {
	db      *sql.DB
	stmts   *stmtCache
	reg     *schema.Registry
	path    string
	tempDir string // removed on Close for --memory stores

	writeMu sync.Mutex
	version int64 // last version handed out; guarded by writeMu

	ensureMu sync.Mutex
	ensured  map[string]bool

	// now is the clock behind createdon, modifiedon and the Customer
	// Service rules (Options.Now); nil is the wall clock.
	now func() time.Time
}

// lookupValue is a stored lookup: the referenced record and its table.
type lookupValue struct {
	ID     string
	Target string
}

// row is one stored record: column logical name → value. Values are string,
// int64, float64, bool, lookupValue or nil, by column type.
type row map[string]any

const (
	colVersion  = "versionnumber"
	targetSufix = "__target"
)

// OpenStore opens (or creates) a store. An empty path makes a throwaway
// store in a temporary directory that Close removes; it behaves exactly like
// a persistent one but keeps nothing after exit, and unlike an in-memory
// database its size is bounded by disk, not RAM.
func OpenStore(path string, reg *schema.Registry) (*Store, error) {
	s := &Store{reg: reg, ensured: map[string]bool{}}
	if path == "" {
		dir, err := os.MkdirTemp("", "dvsync-dataverse-")
		if err != nil {
			return nil, fmt.Errorf("creating temporary store: %w", err)
		}
		s.tempDir = dir
		path = filepath.Join(dir, "dataverse.db")
	} else if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("creating store directory: %w", err)
	}
	s.path = path
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(OFF)")
	if s.tempDir != "" {
		// Durability is pointless for a throwaway store; speed is not.
		q.Add("_pragma", "synchronous(OFF)")
	} else {
		q.Add("_pragma", "synchronous(NORMAL)")
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		s.removeTemp()
		return nil, fmt.Errorf("opening store %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	s.db = db
	s.stmts = newStmtCache(db)
	if err := s.init(); err != nil {
		db.Close()
		s.removeTemp()
		return nil, err
	}
	return s, nil
}

func (s *Store) removeTemp() {
	if s.tempDir != "" {
		os.RemoveAll(s.tempDir)
	}
}

// Close flushes and closes the database.
func (s *Store) Close() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.stmts.close()
	_, _ = s.db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	err := s.db.Close()
	s.removeTemp()
	return err
}

func (s *Store) init() error {
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS _tombstones (tbl TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, deletedon TEXT NOT NULL, PRIMARY KEY (tbl, version)) WITHOUT ROWID`,
		`CREATE TABLE IF NOT EXISTS _meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`,
		`CREATE TABLE IF NOT EXISTS _associations (rel TEXT NOT NULL, id1 TEXT NOT NULL, id2 TEXT NOT NULL, PRIMARY KEY (rel, id1, id2)) WITHOUT ROWID`,
	}
	for _, st := range stmts {
		if _, err := s.db.Exec(st); err != nil {
			return fmt.Errorf("initialising store: %w", err)
		}
	}
	var v sql.NullInt64
	if err := s.db.QueryRow(`SELECT MAX(version) FROM _tombstones`).Scan(&v); err != nil {
		return fmt.Errorf("initialising store: %w", err)
	}
	s.version = v.Int64
	var meta sql.NullString
	_ = s.db.QueryRow(`SELECT value FROM _meta WHERE key='version'`).Scan(&meta)
	if meta.Valid {
		var mv int64
		fmt.Sscan(meta.String, &mv)
		s.version = max(s.version, mv)
	}
	for _, t := range s.reg.Tables() {
		if err := s.ensureTable(t); err != nil {
			return err
		}
	}
	return nil
}

func sqlTable(t *schema.Table) string { return `"t_` + t.LogicalName + `"` }
func quoteIdent(s string) string      { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func sqlType(c *schema.Column) string {
	switch c.Type {
	case schema.TypeString, schema.TypeMemo, schema.TypeEntityName:
		return "TEXT COLLATE NOCASE"
	case schema.TypeInteger, schema.TypeBigInt, schema.TypePicklist, schema.TypeState, schema.TypeStatus, schema.TypeBoolean:
		return "INTEGER"
	case schema.TypeDecimal, schema.TypeDouble, schema.TypeMoney:
		return "REAL"
	default: // dates (ISO 8601 text sorts correctly), GUIDs, lookups
		return "TEXT"
	}
}

// ensureTable creates the SQL table for t, or adds columns declared since it
// was created, and the indexes its alternate keys need.
func (s *Store) ensureTable(t *schema.Table) error {
	s.ensureMu.Lock()
	defer s.ensureMu.Unlock()
	if s.ensured[t.LogicalName] {
		return nil
	}
	cols := []string{quoteIdent(t.PrimaryID) + " TEXT PRIMARY KEY", quoteIdent(colVersion) + " INTEGER NOT NULL"}
	for i := range t.Columns {
		c := &t.Columns[i]
		if c.LogicalName == t.PrimaryID || c.LogicalName == colVersion {
			continue
		}
		cols = append(cols, quoteIdent(c.LogicalName)+" "+sqlType(c))
		if c.Type.IsLookup() {
			cols = append(cols, quoteIdent(c.LogicalName+targetSufix)+" TEXT")
		}
	}
	if _, err := s.db.Exec(`CREATE TABLE IF NOT EXISTS ` + sqlTable(t) + ` (` + strings.Join(cols, ", ") + `) WITHOUT ROWID`); err != nil {
		return fmt.Errorf("creating table %s: %w", t.LogicalName, err)
	}
	existing := map[string]bool{}
	rows, err := s.db.Query(`SELECT name FROM pragma_table_info(?)`, "t_"+t.LogicalName)
	if err != nil {
		return err
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		existing[n] = true
	}
	rows.Close()
	for i := range t.Columns {
		c := &t.Columns[i]
		add := map[string]string{c.LogicalName: sqlType(c)}
		if c.Type.IsLookup() {
			add[c.LogicalName+targetSufix] = "TEXT"
		}
		for name, typ := range add {
			if existing[name] {
				continue
			}
			if _, err := s.db.Exec(`ALTER TABLE ` + sqlTable(t) + ` ADD COLUMN ` + quoteIdent(name) + ` ` + typ); err != nil {
				return fmt.Errorf("adding column %s.%s: %w", t.LogicalName, name, err)
			}
		}
	}
	idx := []string{
		`CREATE INDEX IF NOT EXISTS ` + quoteIdent("ix_"+t.LogicalName+"_version") + ` ON ` + sqlTable(t) + ` (` + quoteIdent(colVersion) + `)`,
	}
	if _, ok := t.Column("createdon"); ok {
		idx = append(idx, `CREATE INDEX IF NOT EXISTS `+quoteIdent("ix_"+t.LogicalName+"_createdon")+` ON `+sqlTable(t)+` ("createdon", `+quoteIdent(t.PrimaryID)+`)`)
	}
	for _, k := range t.AlternateKeys {
		q := make([]string, len(k.Columns))
		for i, c := range k.Columns {
			q[i] = quoteIdent(c)
		}
		idx = append(idx, `CREATE UNIQUE INDEX IF NOT EXISTS `+quoteIdent("ak_"+t.LogicalName+"_"+k.Name)+` ON `+sqlTable(t)+` (`+strings.Join(q, ", ")+`)`)
	}
	for _, st := range idx {
		if _, err := s.db.Exec(st); err != nil {
			return fmt.Errorf("indexing %s: %w", t.LogicalName, err)
		}
	}
	s.ensured[t.LogicalName] = true
	return nil
}

// storedColumns lists the SQL columns holding t's data, in a fixed order.
func storedColumns(t *schema.Table) []string {
	out := []string{t.PrimaryID, colVersion}
	for i := range t.Columns {
		c := &t.Columns[i]
		if c.LogicalName == t.PrimaryID || c.LogicalName == colVersion {
			continue
		}
		out = append(out, c.LogicalName)
		if c.Type.IsLookup() {
			out = append(out, c.LogicalName+targetSufix)
		}
	}
	return out
}

// scanRow turns SQL values back into typed row values.
func scanRow(t *schema.Table, cols []string, vals []any) row {
	r := make(row, len(cols))
	for i, name := range cols {
		v := vals[i]
		if strings.HasSuffix(name, targetSufix) {
			continue
		}
		c, ok := t.Column(name)
		if !ok {
			r[name] = v
			continue
		}
		if v == nil {
			r[name] = nil
			continue
		}
		switch {
		case c.Type.IsLookup():
			target := ""
			for j, n := range cols {
				if n == name+targetSufix {
					if s, ok := vals[j].(string); ok {
						target = s
					}
				}
			}
			if target == "" && len(c.Targets) > 0 {
				target = c.Targets[0]
			}
			r[name] = lookupValue{ID: asString(v), Target: target}
		case c.Type == schema.TypeBoolean:
			n, _ := v.(int64)
			r[name] = n != 0
		case c.Type == schema.TypeDecimal || c.Type == schema.TypeDouble || c.Type == schema.TypeMoney:
			switch x := v.(type) {
			case int64:
				r[name] = float64(x)
			default:
				r[name] = x
			}
		default:
			if b, ok := v.([]byte); ok {
				r[name] = string(b)
			} else {
				r[name] = v
			}
		}
	}
	return r
}

func asString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	default:
		return fmt.Sprint(x)
	}
}

// sqlValue converts a row value to what SQLite stores.
func sqlValue(v any) any {
	switch x := v.(type) {
	case bool:
		if x {
			return int64(1)
		}
		return int64(0)
	case lookupValue:
		return x.ID
	default:
		return x
	}
}

// querier is satisfied by *sql.DB and *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// get reads one record by primary key; (nil, nil) when absent.
func (s *Store) get(ctx context.Context, q querier, t *schema.Table, id string) (row, error) {
	rows, err := s.selectRows(ctx, q, t, nil, quoteIdent(t.PrimaryID)+" = ?", []any{id}, "", 1)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	return rows[0], nil
}

// getByKey reads one record by alternate-key values; (nil, nil) when absent.
func (s *Store) getByKey(ctx context.Context, q querier, t *schema.Table, key map[string]any) (row, error) {
	var where []string
	var args []any
	for _, col := range sortedKeys(key) {
		v := key[col]
		if v == nil {
			where = append(where, quoteIdent(col)+" IS NULL")
			continue
		}
		where = append(where, quoteIdent(col)+" = ?")
		args = append(args, sqlValue(v))
	}
	rows, err := s.selectRows(ctx, q, t, nil, strings.Join(where, " AND "), args, "", 2)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	return rows[0], nil
}

// selectRows runs a bounded SELECT and returns typed rows. cols nil = all.
func (s *Store) selectRows(ctx context.Context, q querier, t *schema.Table, cols []string, where string, args []any, orderBy string, limit int) ([]row, error) {
	if cols == nil {
		cols = storedColumns(t)
	}
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = quoteIdent(c)
	}
	stmt := `SELECT ` + strings.Join(quoted, ", ") + ` FROM ` + sqlTable(t)
	if where != "" {
		stmt += ` WHERE ` + where
	}
	if orderBy != "" {
		stmt += ` ORDER BY ` + orderBy
	}
	if limit > 0 {
		stmt += fmt.Sprintf(" LIMIT %d", limit)
	}
	rs, err := q.QueryContext(ctx, stmt, args...)
	if err != nil {
		return nil, fmt.Errorf("querying %s: %w", t.LogicalName, err)
	}
	defer rs.Close()
	var out []row
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rs.Next() {
		if err := rs.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, scanRow(t, cols, vals))
	}
	return out, rs.Err()
}

// writeTx is a write transaction. All mutations go through one, so that a
// change set or a bulk message is atomic and versions are monotonic.
type writeTx struct {
	s   *Store
	tx  *sql.Tx
	q   querier // tx through the statement cache
	ctx context.Context
	now time.Time
	// closingIncident is set while the CloseIncident action runs, the one
	// path allowed to resolve a case.
	closingIncident bool
	// importing is set while seed fixtures load: they describe end states,
	// so the Customer Service engine (cs_*.go) leaves them as given.
	importing bool
	// bound remembers @odata.bind targets already found in this
	// transaction (a bulk message binds thousands of records to a handful
	// of parents); any delete clears it.
	bound map[string]string
}

type txKey struct{}

// withTx returns a context carrying tx: writes made with it join tx instead
// of starting their own, and reads see tx's uncommitted changes. $batch
// change sets use this to run their requests as one atomic transaction.
func withTx(ctx context.Context, tx *writeTx) context.Context {
	return context.WithValue(ctx, txKey{}, tx)
}

func txFrom(ctx context.Context) *writeTx {
	tx, _ := ctx.Value(txKey{}).(*writeTx)
	return tx
}

// reader is what reads in ctx must use: the enclosing transaction, if any.
func (s *Store) reader(ctx context.Context) querier {
	if tx := txFrom(ctx); tx != nil {
		return tx.q
	}
	return cachedQuerier{c: s.stmts}
}

// write runs fn in a serialised write transaction, committing if it returns
// nil. Inside a transaction carried by ctx, fn joins it (savepoint
// semantics are not needed: a failing part aborts the whole change set).
func (s *Store) write(ctx context.Context, fn func(*writeTx) error) error {
	if outer := txFrom(ctx); outer != nil {
		return fn(outer)
	}
	return s.writeNew(ctx, fn)
}

// writeNew always starts a new transaction.
func (s *Store) writeNew(ctx context.Context, fn func(*writeTx) error) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	startVersion := s.version
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("starting transaction: %w", err)
	}
	w := &writeTx{s: s, tx: tx, q: cachedQuerier{c: s.stmts, tx: tx}, ctx: ctx, now: s.clock().UTC().Truncate(time.Second)}
	if err := fn(w); err != nil {
		tx.Rollback()
		s.version = startVersion
		return err
	}
	if _, err := w.q.ExecContext(ctx, `INSERT INTO _meta(key, value) VALUES('version', ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value`, fmt.Sprint(s.version)); err != nil {
		tx.Rollback()
		s.version = startVersion
		return err
	}
	if err := tx.Commit(); err != nil {
		s.version = startVersion
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

func (w *writeTx) nextVersion() int64 {
	w.s.version++
	return w.s.version
}

func (w *writeTx) get(t *schema.Table, id string) (row, error) { return w.s.get(w.ctx, w.q, t, id) }

func (w *writeTx) getByKey(t *schema.Table, key map[string]any) (row, error) {
	return w.s.getByKey(w.ctx, w.q, t, key)
}

// insert stores a new record; r must hold the primary key.
func (w *writeTx) insert(t *schema.Table, r row) error {
	countRecords(w.ctx, 1) // for the latency profile (latency.go)
	r[colVersion] = w.nextVersion()
	var cols, marks []string
	var args []any
	for _, name := range sortedKeys(r) {
		v := r[name]
		cols = append(cols, quoteIdent(name))
		marks = append(marks, "?")
		args = append(args, sqlValue(v))
		if lv, ok := v.(lookupValue); ok {
			cols = append(cols, quoteIdent(name+targetSufix))
			marks = append(marks, "?")
			args = append(args, lv.Target)
		}
	}
	_, err := w.q.ExecContext(w.ctx, `INSERT INTO `+sqlTable(t)+` (`+strings.Join(cols, ", ")+`) VALUES (`+strings.Join(marks, ", ")+`)`, args...)
	return classifySQLError(t, err)
}

// update changes the given columns of an existing record.
func (w *writeTx) update(t *schema.Table, id string, changes row) error {
	countRecords(w.ctx, 1) // for the latency profile (latency.go)
	changes[colVersion] = w.nextVersion()
	var sets []string
	var args []any
	for _, name := range sortedKeys(changes) {
		v := changes[name]
		sets = append(sets, quoteIdent(name)+" = ?")
		args = append(args, sqlValue(v))
		if c, ok := t.Column(name); ok && c.Type.IsLookup() {
			target := ""
			if lv, ok := v.(lookupValue); ok {
				target = lv.Target
			}
			sets = append(sets, quoteIdent(name+targetSufix)+" = ?")
			args = append(args, nullIfEmpty(target))
		}
	}
	args = append(args, id)
	_, err := w.q.ExecContext(w.ctx, `UPDATE `+sqlTable(t)+` SET `+strings.Join(sets, ", ")+` WHERE `+quoteIdent(t.PrimaryID)+` = ?`, args...)
	return classifySQLError(t, err)
}

// remove deletes a record and leaves a tombstone for change tracking.
func (w *writeTx) remove(t *schema.Table, id string) error {
	w.bound = nil
	countRecords(w.ctx, 1) // for the latency profile (latency.go)
	if _, err := w.q.ExecContext(w.ctx, `DELETE FROM `+sqlTable(t)+` WHERE `+quoteIdent(t.PrimaryID)+` = ?`, id); err != nil {
		return err
	}
	_, err := w.q.ExecContext(w.ctx, `INSERT INTO _tombstones (tbl, id, version, deletedon) VALUES (?, ?, ?, ?)`,
		t.LogicalName, id, w.nextVersion(), w.now.Format(time.RFC3339))
	return err
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func classifySQLError(t *schema.Table, err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if strings.Contains(msg, "UNIQUE constraint failed") {
		if strings.Contains(msg, "t_"+t.LogicalName+"."+t.PrimaryID) {
			return newError(412, codeDuplicateKey, "Cannot insert duplicate key.")
		}
		return &apiError{Status: 412, Code: codeDuplicateRecord,
			Message: "A record that has the attribute values " + keyColumnsFromSQLError(msg) + " already exists. The entity key " + keyNameFromSQLError(t, msg) + " requires that this set of attributes contains unique values. Select unique values and try again."}
	}
	return err
}

func keyColumnsFromSQLError(msg string) string {
	// "UNIQUE constraint failed: t_account.accountnumber, t_account.x"
	i := strings.Index(msg, "failed: ")
	if i < 0 {
		return ""
	}
	parts := strings.Split(msg[i+len("failed: "):], ", ")
	for j, p := range parts {
		if k := strings.IndexByte(p, '.'); k >= 0 {
			parts[j] = p[k+1:]
		}
		parts[j] = strings.TrimSpace(strings.Fields(parts[j] + " ")[0])
	}
	return strings.Join(parts, ", ")
}

func keyNameFromSQLError(t *schema.Table, msg string) string {
	cols := keyColumnsFromSQLError(msg)
	for _, k := range t.AlternateKeys {
		if strings.Join(k.Columns, ", ") == cols {
			return k.Name
		}
	}
	return cols
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
