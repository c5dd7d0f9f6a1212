package mirror

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/schema"
)

// Bookkeeping columns (see the package comment).
const (
	ColHash = "_dvsync_hash"
	ColGen  = "_dvsync_gen"
)

// lookupTypeAnnotation names the target table of a polymorphic lookup value
// (respond-side annotation Microsoft.Dynamics.CRM.lookuplogicalname,
// webapi/query/select-columns.md).
const lookupTypeAnnotation = "@Microsoft.Dynamics.CRM.lookuplogicalname"

// column is one mirrored column.
type column struct {
	name string            // SQL column name: the logical name
	prop string            // property of the Web API record holding the value
	typ  schema.ColumnType // "" for the <lookup>type companion (text)
}

// Table is one mirrored Dataverse table.
type Table struct {
	db   *DB
	def  *schema.Table
	name string
	cols []column
	// Added lists columns that existed in the definition but not yet in the
	// database table: rows already mirrored lack their values, so the
	// caller re-reads the table in full (schema drift backfill).
	Added []string

	upsertSQL, unchangedSQL, deleteSQL, markSQL, sweepSQL string
}

// Table creates or extends the SQL table mirroring def. selected limits the
// mirrored columns (the primary key is always mirrored); empty means all.
func (m *DB) Table(ctx context.Context, def *schema.Table, selected []string) (*Table, error) {
	t := &Table{db: m, def: def, name: def.LogicalName}
	if !validIdent(def.LogicalName) {
		return nil, fmt.Errorf("mirror: table name %q is not a plain identifier", def.LogicalName)
	}
	want := map[string]bool{}
	for _, s := range selected {
		c, ok := def.Column(s)
		if !ok {
			return nil, fmt.Errorf("mirror: table %s has no column %q", def.LogicalName, s)
		}
		want[c.LogicalName] = true
	}
	pk, ok := def.Column(def.PrimaryID)
	if !ok {
		return nil, fmt.Errorf("mirror: table %s does not declare its primary key column %s", def.LogicalName, def.PrimaryID)
	}
	t.cols = append(t.cols, column{name: pk.LogicalName, prop: pk.LogicalName, typ: schema.TypeUniqueidentifier})
	for i := range def.Columns {
		c := &def.Columns[i]
		if c.LogicalName == def.PrimaryID || (len(want) > 0 && !want[c.LogicalName]) || !validIdent(c.LogicalName) {
			continue
		}
		if c.Type.IsLookup() {
			t.cols = append(t.cols, column{name: c.LogicalName, prop: c.ValueProperty(), typ: c.Type})
			if len(c.Targets) > 1 {
				// Which table a polymorphic lookup points at (account or
				// contact), as Dataverse's own <name>type virtual column.
				t.cols = append(t.cols, column{name: c.LogicalName + "type", prop: c.ValueProperty() + lookupTypeAnnotation})
			}
			continue
		}
		t.cols = append(t.cols, column{name: c.LogicalName, prop: c.LogicalName, typ: c.Type})
	}
	if err := t.create(ctx); err != nil {
		return nil, err
	}
	if err := t.writeLabels(ctx); err != nil {
		return nil, err
	}
	t.prepareSQL()
	return t, nil
}

func validIdent(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// sqlType is the column type for each engine: GUIDs as uuid (text in
// SQLite), choices as integers, decimals exact, times as timestamps.
func (m *DB) sqlType(c column) string {
	pg := m.kind == Postgres
	switch c.typ {
	case schema.TypeUniqueidentifier, schema.TypeLookup, schema.TypeCustomer, schema.TypeOwner:
		if pg {
			return "uuid"
		}
		return "TEXT"
	case schema.TypeInteger, schema.TypePicklist, schema.TypeState, schema.TypeStatus:
		return "INTEGER"
	case schema.TypeBigInt:
		return "BIGINT"
	case schema.TypeDecimal, schema.TypeMoney:
		return "NUMERIC"
	case schema.TypeDouble:
		if pg {
			return "double precision"
		}
		return "REAL"
	case schema.TypeBoolean:
		return "BOOLEAN"
	case schema.TypeDateTime:
		if pg {
			return "timestamptz"
		}
		return "TIMESTAMP"
	case schema.TypeDateOnly:
		return "DATE"
	default:
		return "TEXT"
	}
}

func (t *Table) create(ctx context.Context) error {
	m := t.db
	var b strings.Builder
	b.WriteString("CREATE TABLE IF NOT EXISTS " + QuoteIdent(t.name) + " (")
	for i, c := range t.cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(QuoteIdent(c.name) + " " + m.sqlType(c))
		if i == 0 {
			b.WriteString(" PRIMARY KEY")
		}
	}
	b.WriteString(", " + ColHash + " TEXT, " + ColGen + " BIGINT)")
	if _, err := m.sql.ExecContext(ctx, b.String()); err != nil {
		return fmt.Errorf("mirror: create table %s: %w", t.name, err)
	}
	have, err := t.existingColumns(ctx)
	if err != nil {
		return err
	}
	for _, c := range t.cols {
		if have[c.name] {
			continue
		}
		if _, err := m.sql.ExecContext(ctx, "ALTER TABLE "+QuoteIdent(t.name)+" ADD COLUMN "+QuoteIdent(c.name)+" "+m.sqlType(c)); err != nil {
			return fmt.Errorf("mirror: add column %s.%s: %w", t.name, c.name, err)
		}
		t.Added = append(t.Added, c.name)
	}
	return nil
}

func (t *Table) existingColumns(ctx context.Context) (map[string]bool, error) {
	var rows *sql.Rows
	var err error
	if t.db.kind == Postgres {
		rows, err = t.db.sql.QueryContext(ctx, `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1`, t.name)
	} else {
		rows, err = t.db.sql.QueryContext(ctx, `SELECT name FROM pragma_table_info(?)`, t.name)
	}
	if err != nil {
		return nil, fmt.Errorf("mirror: columns of %s: %w", t.name, err)
	}
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		have[n] = true
	}
	return have, rows.Err()
}

func (t *Table) writeLabels(ctx context.Context) error {
	q := Rebind(t.db.kind, `INSERT INTO dvsync_choice_labels (table_name, column_name, value, label) VALUES (?, ?, ?, ?)
		ON CONFLICT (table_name, column_name, value) DO UPDATE SET label = excluded.label`)
	tx, err := t.db.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, c := range t.cols {
		def, ok := t.def.Column(c.name)
		if !ok || !def.Type.IsChoice() {
			continue
		}
		for _, o := range def.Options {
			if _, err := tx.ExecContext(ctx, q, t.name, c.name, o.Value, o.Label); err != nil {
				return fmt.Errorf("mirror: choice labels of %s.%s: %w", t.name, c.name, err)
			}
		}
	}
	return tx.Commit()
}

func (t *Table) prepareSQL() {
	k := t.db.kind
	pk := QuoteIdent(t.cols[0].name)
	names := make([]string, 0, len(t.cols)+2)
	sets := make([]string, 0, len(t.cols)+1)
	for i, c := range t.cols {
		names = append(names, QuoteIdent(c.name))
		if i > 0 {
			sets = append(sets, QuoteIdent(c.name)+" = excluded."+QuoteIdent(c.name))
		}
	}
	names = append(names, ColHash, ColGen)
	sets = append(sets, ColHash+" = excluded."+ColHash, ColGen+" = excluded."+ColGen)
	ph := strings.TrimSuffix(strings.Repeat("?, ", len(names)), ", ")
	tn := QuoteIdent(t.name)
	t.upsertSQL = Rebind(k, "INSERT INTO "+tn+" ("+strings.Join(names, ", ")+") VALUES ("+ph+") ON CONFLICT ("+pk+") DO UPDATE SET "+strings.Join(sets, ", "))
	t.unchangedSQL = Rebind(k, "UPDATE "+tn+" SET "+ColGen+" = ? WHERE "+pk+" = ? AND "+ColHash+" = ?")
	t.deleteSQL = Rebind(k, "DELETE FROM "+tn+" WHERE "+pk+" = ?")
	t.markSQL = Rebind(k, "UPDATE "+tn+" SET "+ColGen+" = ? WHERE "+pk+" = ?")
	t.sweepSQL = Rebind(k, "DELETE FROM "+tn+" WHERE "+ColGen+" < ? OR "+ColGen+" IS NULL")
}

// Name is the SQL table name (the logical name).
func (t *Table) Name() string { return t.name }

// Def is the table definition.
func (t *Table) Def() *schema.Table { return t.def }

// Select returns the Web API $select list that reads every mirrored column.
func (t *Table) Select() []string {
	var s []string
	for _, c := range t.cols {
		if c.typ == "" {
			continue // annotation, arrives with its lookup
		}
		s = append(s, c.prop)
	}
	return s
}

// Annotations is the include-annotations preference the read needs: the
// target table of polymorphic lookups.
func (t *Table) Annotations() string {
	for _, c := range t.cols {
		if c.typ == "" {
			return strings.TrimPrefix(lookupTypeAnnotation, "@")
		}
	}
	return ""
}

// Count returns the number of mirrored rows.
func (t *Table) Count(ctx context.Context) (int64, error) {
	var n int64
	err := t.db.sql.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+QuoteIdent(t.name)).Scan(&n)
	return n, err
}

// Hashes returns every mirrored row's primary key and value hash, for
// comparing a mirror with its source.
func (t *Table) Hashes(ctx context.Context) (map[string]string, error) {
	rows, err := t.db.sql.QueryContext(ctx, "SELECT "+QuoteIdent(t.cols[0].name)+", "+ColHash+" FROM "+QuoteIdent(t.name))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, h sql.NullString
		if err := rows.Scan(&id, &h); err != nil {
			return nil, err
		}
		out[strings.ToLower(id.String)] = h.String
	}
	return out, rows.Err()
}

// ValueError is a source value the mirror cannot hold (a malformed GUID,
// a number out of range): the record is rejected, the run goes on.
type ValueError struct {
	Column string
	Err    error
}

func (e *ValueError) Error() string { return fmt.Sprintf("column %s: %v", e.Column, e.Err) }

// Row is a source record converted to the mirror's column values.
type Row struct {
	ID     string
	values []any
	Hash   string
}

// Convert turns a Web API record into mirror values and their hash.
func (t *Table) Convert(rec dataverse.Record) (Row, error) {
	vals := make([]any, len(t.cols))
	h := fnv.New128a()
	var buf []byte
	for i, c := range t.cols {
		v, text, err := t.db.convert(c, rec[c.prop])
		if err != nil {
			return Row{}, &ValueError{Column: c.name, Err: err}
		}
		vals[i] = v
		buf = buf[:0]
		if v == nil {
			buf = append(buf, 0)
		} else {
			buf = append(buf, 1)
			buf = append(buf, text...)
		}
		buf = append(buf, 0x1f)
		h.Write(buf)
	}
	id, _ := vals[0].(string)
	if id == "" {
		return Row{}, &ValueError{Column: t.cols[0].name, Err: errors.New("the record has no primary key")}
	}
	return Row{ID: id, values: vals, Hash: hex.EncodeToString(h.Sum(nil))}, nil
}

// HashOf is the hash Convert gives rec, or "" when rec cannot be mirrored.
func (t *Table) HashOf(rec dataverse.Record) string {
	r, err := t.Convert(rec)
	if err != nil {
		return ""
	}
	return r.Hash
}

// convert returns the value to store and its canonical text for the hash.
func (m *DB) convert(c column, v any) (any, string, error) {
	if v == nil {
		return nil, "", nil
	}
	switch c.typ {
	case schema.TypeUniqueidentifier, schema.TypeLookup, schema.TypeCustomer, schema.TypeOwner:
		s, ok := v.(string)
		if !ok {
			return nil, "", fmt.Errorf("GUID expected, got %T", v)
		}
		if s == "" {
			return nil, "", nil
		}
		id, err := uuid.Parse(s)
		if err != nil {
			return nil, "", fmt.Errorf("not a GUID: %q", s)
		}
		return id.String(), id.String(), nil
	case schema.TypeInteger, schema.TypePicklist, schema.TypeState, schema.TypeStatus, schema.TypeBigInt:
		n, err := toInt(v)
		if err != nil {
			return nil, "", err
		}
		if c.typ != schema.TypeBigInt && (n > 1<<31-1 || n < -1<<31) {
			return nil, "", fmt.Errorf("integer %d out of range", n)
		}
		return n, strconv.FormatInt(n, 10), nil
	case schema.TypeDecimal, schema.TypeMoney:
		s, err := numberText(v)
		if err != nil {
			return nil, "", err
		}
		if m.kind == SQLite {
			// SQLite has no exact decimal; NUMERIC affinity keeps integers
			// exact and stores the rest as REAL.
			f, _ := strconv.ParseFloat(s, 64)
			return f, s, nil
		}
		return s, s, nil
	case schema.TypeDouble:
		s, err := numberText(v)
		if err != nil {
			return nil, "", err
		}
		f, _ := strconv.ParseFloat(s, 64)
		return f, s, nil
	case schema.TypeBoolean:
		b, ok := v.(bool)
		if !ok {
			return nil, "", fmt.Errorf("boolean expected, got %T", v)
		}
		if b {
			return true, "1", nil
		}
		return false, "0", nil
	case schema.TypeDateTime:
		s, ok := v.(string)
		if !ok {
			return nil, "", fmt.Errorf("date and time expected, got %T", v)
		}
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, "", fmt.Errorf("not a date and time: %q", s)
		}
		text := tm.UTC().Format(time.RFC3339Nano)
		if m.kind == Postgres {
			return tm.UTC(), text, nil
		}
		return text, text, nil
	case schema.TypeDateOnly:
		s, ok := v.(string)
		if !ok {
			return nil, "", fmt.Errorf("date expected, got %T", v)
		}
		d, err := time.Parse("2006-01-02", s[:min(len(s), 10)])
		if err != nil {
			return nil, "", fmt.Errorf("not a date: %q", s)
		}
		text := d.Format("2006-01-02")
		return text, text, nil
	default:
		s, ok := v.(string)
		if !ok {
			b, _ := json.Marshal(v)
			s = string(b)
		}
		return s, s, nil
	}
}

func toInt(v any) (int64, error) {
	switch n := v.(type) {
	case json.Number:
		return n.Int64()
	case float64:
		if n != float64(int64(n)) {
			return 0, fmt.Errorf("integer expected, got %v", n)
		}
		return int64(n), nil
	case int64:
		return n, nil
	case int:
		return int64(n), nil
	}
	return 0, fmt.Errorf("integer expected, got %T", v)
}

func numberText(v any) (string, error) {
	switch n := v.(type) {
	case json.Number:
		if _, err := strconv.ParseFloat(string(n), 64); err != nil {
			return "", err
		}
		return string(n), nil
	case float64:
		return strconv.FormatFloat(n, 'f', -1, 64), nil
	case string:
		if _, err := strconv.ParseFloat(n, 64); err != nil {
			return "", fmt.Errorf("number expected, got %q", n)
		}
		return n, nil
	}
	return "", fmt.Errorf("number expected, got %T", v)
}

// Outcome is what applying one change did.
type Outcome int

const (
	Unchanged Outcome = iota
	Upserted
	Deleted
)

// Tx applies changes to one table inside one database transaction.
type Tx struct {
	t                            *Table
	tx                           *sql.Tx
	upsert, unchanged, del, mark *sql.Stmt
	ctx                          context.Context
}

// Begin starts a transaction on the table.
func (t *Table) Begin(ctx context.Context) (*Tx, error) {
	tx, err := t.db.sql.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("mirror: %w", err)
	}
	x := &Tx{t: t, tx: tx, ctx: ctx}
	for _, p := range []struct {
		s   **sql.Stmt
		sql string
	}{{&x.upsert, t.upsertSQL}, {&x.unchanged, t.unchangedSQL}, {&x.del, t.deleteSQL}, {&x.mark, t.markSQL}} {
		if *p.s, err = tx.PrepareContext(ctx, p.sql); err != nil {
			tx.Rollback()
			return nil, fmt.Errorf("mirror: %w", err)
		}
	}
	return x, nil
}

// Upsert writes r with generation gen. Unless fresh (the table was empty
// when this full read began, so no row can be unchanged) a row whose hash
// matches the stored one is only re-stamped with gen and reported
// Unchanged.
func (x *Tx) Upsert(r Row, gen int64, fresh bool) (Outcome, error) {
	if !fresh {
		res, err := x.unchanged.ExecContext(x.ctx, gen, r.ID, r.Hash)
		if err != nil {
			return 0, fmt.Errorf("mirror: %s %s: %w", x.t.name, r.ID, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return Unchanged, nil
		}
	}
	args := append(slices.Clip(r.values), r.Hash, gen)
	if _, err := x.upsert.ExecContext(x.ctx, args...); err != nil {
		return 0, fmt.Errorf("mirror: %s %s: %w", x.t.name, r.ID, err)
	}
	return Upserted, nil
}

// Delete removes the row with primary key id; Unchanged when there was none
// (a record created and deleted between two runs).
func (x *Tx) Delete(id string) (Outcome, error) {
	res, err := x.del.ExecContext(x.ctx, strings.ToLower(id))
	if err != nil {
		return 0, fmt.Errorf("mirror: delete %s %s: %w", x.t.name, id, err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return Deleted, nil
	}
	return Unchanged, nil
}

// Mark stamps the row with primary key id with gen: the key was seen in the
// source during a key-set comparison.
func (x *Tx) Mark(id string, gen int64) error {
	if _, err := x.mark.ExecContext(x.ctx, gen, strings.ToLower(id)); err != nil {
		return fmt.Errorf("mirror: %s %s: %w", x.t.name, id, err)
	}
	return nil
}

// Sweep deletes every row not stamped with gen or later: rows a full read
// or key-set comparison did not find in the source.
func (x *Tx) Sweep(gen int64) (int64, error) {
	res, err := x.tx.ExecContext(x.ctx, x.t.sweepSQL, gen)
	if err != nil {
		return 0, fmt.Errorf("mirror: sweep %s: %w", x.t.name, err)
	}
	return res.RowsAffected()
}

// Commit commits the transaction.
func (x *Tx) Commit() error {
	if err := x.tx.Commit(); err != nil {
		return fmt.Errorf("mirror: commit %s: %w", x.t.name, err)
	}
	return nil
}

// Rollback abandons the transaction (dry runs end this way).
func (x *Tx) Rollback() error { return x.tx.Rollback() }
