package compare

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/dvsync/dvsync/mapping/canonical"
)

// spill is the embedded store both sides are written to as they stream
// in: the merge-join then reads each side back in key order through an
// index, so neither side is ever held whole in memory, whatever its size.
// SQLite compares keys byte-wise (BINARY collation) on both sides, which is
// what keeps string and GUID keys from the collation mismatches
// cross-database diff tools report (datafold/data-diff#532, #550).
type spill struct {
	db   *sql.DB
	dir  string
	keep bool
}

// sideTable is the table a side spills to.
func sideTable(s canonical.Side) string {
	if s == canonical.Odoo {
		return "o"
	}
	return "d"
}

// A side's table is clustered on the first pass's key (k, then load
// order), so the first merge reads both sides sequentially in key order
// with no sort and no lookup; the few records a pass leaves go to a small
// table clustered on the next pass's key.
const sideSchema = `CREATE TABLE %s (
	k TEXT NOT NULL, seq INTEGER NOT NULL,
	src TEXT NOT NULL, num TEXT NOT NULL, idk TEXT NOT NULL, ek TEXT NOT NULL, vals TEXT NOT NULL,
	team TEXT NOT NULL, status TEXT NOT NULL, priority TEXT NOT NULL, channel TEXT NOT NULL,
	customer TEXT NOT NULL, month TEXT NOT NULL, state TEXT NOT NULL,
	created INTEGER NOT NULL, closed INTEGER NOT NULL, PRIMARY KEY (k, seq)) WITHOUT ROWID`

// heapSchema is where a side lands as it streams in: appending to a rowid
// table is cheap, while inserting in random key order into the clustered
// table is not. The clustered table is then filled from it in one sorted
// copy (SQLite's external sorter, bounded memory).
const heapSchema = `CREATE TABLE %s (
	k TEXT NOT NULL, seq INTEGER NOT NULL,
	src TEXT NOT NULL, num TEXT NOT NULL, idk TEXT NOT NULL, ek TEXT NOT NULL, vals TEXT NOT NULL,
	team TEXT NOT NULL, status TEXT NOT NULL, priority TEXT NOT NULL, channel TEXT NOT NULL,
	customer TEXT NOT NULL, month TEXT NOT NULL, state TEXT NOT NULL,
	created INTEGER NOT NULL, closed INTEGER NOT NULL)`

const leftSchema = `CREATE TABLE %s (
	side TEXT NOT NULL, k TEXT NOT NULL, seq INTEGER NOT NULL,
	src TEXT NOT NULL, num TEXT NOT NULL, idk TEXT NOT NULL, ek TEXT NOT NULL, vals TEXT NOT NULL,
	customer TEXT NOT NULL, created INTEGER NOT NULL, state TEXT NOT NULL, closed INTEGER NOT NULL,
	PRIMARY KEY (side, k, seq)) WITHOUT ROWID`

func openSpill(ctx context.Context, dir string) (*spill, error) {
	keep := dir != ""
	if !keep {
		var err error
		if dir, err = os.MkdirTemp("", "dvsync-compare-"); err != nil {
			return nil, fmt.Errorf("compare: spill directory: %w", err)
		}
	}
	file := filepath.Join(dir, "compare-spill.db")
	_ = os.Remove(file)
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(OFF)")
	q.Add("_pragma", "busy_timeout(10000)")
	// A bounded page cache per connection (KiB when negative): the store,
	// not the heap, holds the sides.
	q.Add("_pragma", "cache_size(-16000)")
	q.Add("_pragma", "temp_store(FILE)")
	db, err := sql.Open("sqlite", "file:"+file+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("compare: open spill store: %w", err)
	}
	db.SetMaxOpenConns(4)
	s := &spill{db: db, dir: dir, keep: keep}
	for _, stmt := range []string{
		fmt.Sprintf(sideSchema, "o"), fmt.Sprintf(sideSchema, "d"),
		fmt.Sprintf(heapSchema, "oh"), fmt.Sprintf(heapSchema, "dh"),
		`CREATE TABLE queue (incident TEXT NOT NULL, name TEXT NOT NULL)`,
		`CREATE TABLE closing (incident TEXT NOT NULL, at INTEGER NOT NULL)`,
		`CREATE TABLE response (side TEXT NOT NULL, ticket TEXT NOT NULL, at INTEGER NOT NULL)`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			s.close()
			return nil, fmt.Errorf("compare: spill store: %w", err)
		}
	}
	return s, nil
}

func (s *spill) close() {
	s.db.Close()
	if !s.keep {
		os.RemoveAll(s.dir)
	} else {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			os.Remove(filepath.Join(s.dir, "compare-spill.db"+suffix))
		}
	}
}

// batchSize rows go in one transaction: large enough that commits do not
// dominate, small enough that a batch is a few hundred KiB of memory.
const batchSize = 2000

// inserter writes rows in batched transactions, with one prepared
// statement per SQL text within a transaction.
type inserter struct {
	ctx   context.Context
	db    *sql.DB
	sql   string
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
	n     int
}

func (s *spill) inserter(ctx context.Context, stmt string) *inserter {
	return &inserter{ctx: ctx, db: s.db, sql: stmt}
}

func (in *inserter) add(args ...any) error { return in.addTo(in.sql, args...) }

func (in *inserter) addTo(q string, args ...any) error {
	if in.tx == nil {
		tx, err := in.db.BeginTx(in.ctx, nil)
		if err != nil {
			return err
		}
		in.tx, in.stmts = tx, map[string]*sql.Stmt{}
	}
	st := in.stmts[q]
	if st == nil {
		var err error
		if st, err = in.tx.PrepareContext(in.ctx, q); err != nil {
			return err
		}
		in.stmts[q] = st
	}
	if _, err := st.ExecContext(in.ctx, args...); err != nil {
		return err
	}
	if in.n++; in.n >= batchSize {
		return in.flush()
	}
	return nil
}

func (in *inserter) closeStmts() {
	for _, st := range in.stmts {
		st.Close()
	}
}

func (in *inserter) flush() error {
	if in.tx == nil {
		return nil
	}
	in.closeStmts()
	err := in.tx.Commit()
	in.tx, in.stmts, in.n = nil, nil, 0
	return err
}

func (in *inserter) abort() {
	if in.tx != nil {
		in.closeStmts()
		in.tx.Rollback()
		in.tx = nil
	}
}

func insertSideSQL(table string) string {
	return "INSERT INTO " + table + ` (k, seq, src, num, idk, ek, vals, team, status, priority, channel, customer, month, state, created, closed)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
}

// encodeVals packs values as length-prefixed strings ("5:hello3:abc"):
// cheaper than JSON for the one value per record the merge decodes, and
// any byte may appear in a value.
func encodeVals(v []string) string {
	var b strings.Builder
	for _, s := range v {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	return b.String()
}

func decodeVals(s string) ([]string, error) {
	var out []string
	for len(s) > 0 {
		i := strings.IndexByte(s, ':')
		if i < 0 {
			return nil, fmt.Errorf("compare: corrupt spilled values %.40q", s)
		}
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 || i+1+n > len(s) {
			return nil, fmt.Errorf("compare: corrupt spilled values %.40q", s)
		}
		out = append(out, s[i+1:i+1+n])
		s = s[i+1+n:]
	}
	return out, nil
}

// lowerKey keeps GUID keys comparable whatever case a system prints them in.
func lowerKey(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
