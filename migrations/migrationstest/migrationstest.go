// Package migrationstest provides an in-memory Source and Target for tests
// of jobs built on package migrations: the Target upserts by key, counts
// what it did and can fail or half-apply batches on demand, which is what
// crash-and-resume tests need.
package migrationstest

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"sync"

	"github.com/dvsync/dvsync/migrations"
)

// Source serves a fixed list of records. Its cursor is the position after
// a record ("3" resumes at the fourth record), so it suits records that do
// not change between runs.
type Source struct {
	Recs []migrations.SourceRecord
	// Fail, when set, is called before yielding record i; an error is
	// yielded as a read error.
	Fail func(i int) error

	mu    sync.Mutex
	reads int
}

// NewSource returns a Source of n records with IDs "1".."n" and Data built
// by data(i) for i in 1..n.
func NewSource(n int, data func(i int) map[string]any) *Source {
	s := &Source{}
	for i := 1; i <= n; i++ {
		s.Recs = append(s.Recs, migrations.SourceRecord{ID: strconv.Itoa(i), Data: data(i)})
	}
	return s
}

// Records implements migrations.Source.
func (s *Source) Records(ctx context.Context, cursor string) iter.Seq2[migrations.SourceRecord, error] {
	return func(yield func(migrations.SourceRecord, error) bool) {
		start := 0
		if cursor != "" {
			n, err := strconv.Atoi(cursor)
			if err != nil || n < 0 || n > len(s.Recs) {
				yield(migrations.SourceRecord{}, fmt.Errorf("bad cursor %q", cursor))
				return
			}
			start = n
		}
		s.mu.Lock()
		s.reads++
		s.mu.Unlock()
		for i := start; i < len(s.Recs); i++ {
			if err := ctx.Err(); err != nil {
				yield(migrations.SourceRecord{}, err)
				return
			}
			if s.Fail != nil {
				if err := s.Fail(i); err != nil {
					yield(migrations.SourceRecord{}, err)
					return
				}
			}
			r := s.Recs[i]
			r.Cursor = strconv.Itoa(i + 1)
			if !yield(r, nil) {
				return
			}
		}
	}
}

// Count implements migrations.CountingSource.
func (s *Source) Count(ctx context.Context, cursor string) (int64, error) {
	if cursor == "" {
		return int64(len(s.Recs)), nil
	}
	n, err := strconv.Atoi(cursor)
	if err != nil || n < 0 || n > len(s.Recs) {
		return 0, fmt.Errorf("bad cursor %q", cursor)
	}
	return int64(len(s.Recs) - n), nil
}

// Reads returns how many times Records was called.
func (s *Source) Reads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads
}

// Row is one stored target record.
type Row struct {
	Table  string
	Key    migrations.Key
	Fields map[string]any
	// ID is the row's generated or given primary key.
	ID string
	// Creates and Writes count how often the row was created (more than
	// one would be a duplicate) and written.
	Creates, Writes int
}

// Target is an in-memory, idempotent target: a record is addressed by its
// Key.String(), created when absent, updated when its fields differ and
// unchanged otherwise.
type Target struct {
	// Reject, when set, rejects records for which it returns an error.
	Reject func(migrations.TargetRecord) error
	// Fault, when set, is called before batch number call (from 1) is
	// applied. It returns how many of the batch's records to apply before
	// failing with err (a crash in the middle of a batch); a nil err
	// applies the whole batch.
	Fault func(call int, batch []migrations.TargetRecord) (applied int, err error)

	mu    sync.Mutex
	rows  map[string]*Row
	calls int
	seq   int
}

// NewTarget returns an empty Target.
func NewTarget() *Target { return &Target{rows: map[string]*Row{}} }

// Write implements migrations.Target.
func (t *Target) Write(ctx context.Context, batch []migrations.TargetRecord) ([]migrations.WriteResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.calls++
	n := len(batch)
	var ferr error
	if t.Fault != nil {
		if applied, err := t.Fault(t.calls, batch); err != nil {
			n, ferr = min(max(applied, 0), len(batch)), err
		}
	}
	out := make([]migrations.WriteResult, len(batch))
	for i, rec := range batch[:n] {
		if t.Reject != nil {
			if err := t.Reject(rec); err != nil {
				out[i] = migrations.WriteResult{Outcome: migrations.Rejected, Err: err}
				continue
			}
		}
		k := rec.Table + "|" + rec.Key.String()
		row := t.rows[k]
		switch {
		case row == nil:
			t.seq++
			id := rec.Key.ID
			if id == "" {
				id = fmt.Sprintf("gen-%d", t.seq)
			}
			row = &Row{Table: rec.Table, Key: rec.Key, Fields: maps.Clone(rec.Fields), ID: id, Creates: 1, Writes: 1}
			t.rows[k] = row
			out[i] = migrations.WriteResult{Outcome: migrations.Created, ID: id}
		case reflect.DeepEqual(row.Fields, rec.Fields):
			out[i] = migrations.WriteResult{Outcome: migrations.Unchanged, ID: row.ID}
		default:
			row.Fields = maps.Clone(rec.Fields)
			row.Writes++
			out[i] = migrations.WriteResult{Outcome: migrations.Updated, ID: row.ID}
		}
	}
	if ferr != nil {
		return nil, ferr
	}
	return out, nil
}

// Rows returns the stored rows sorted by table and key.
func (t *Target) Rows() []Row {
	t.mu.Lock()
	defer t.mu.Unlock()
	var rows []Row
	for _, k := range slices.Sorted(maps.Keys(t.rows)) {
		rows = append(rows, *t.rows[k])
	}
	return rows
}

// Calls returns the number of Write calls.
func (t *Target) Calls() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.calls
}

// Get returns the row of table with key.
func (t *Target) Get(table string, key migrations.Key) (Row, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.rows[table+"|"+key.String()]
	if !ok {
		return Row{}, false
	}
	return *r, true
}

// Lookup implements migrations.TargetReader: the row stored under key, as
// its fields.
func (t *Target) Lookup(ctx context.Context, table string, key migrations.Key) ([]map[string]any, error) {
	r, ok := t.Get(table, key)
	if !ok {
		return nil, nil
	}
	return []map[string]any{maps.Clone(r.Fields)}, nil
}

// Put stores a row directly (to set up differing or extra target data).
func (t *Target) Put(rec migrations.TargetRecord) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rows[rec.Table+"|"+rec.Key.String()] = &Row{Table: rec.Table, Key: rec.Key, Fields: maps.Clone(rec.Fields), ID: rec.Key.ID, Creates: 1, Writes: 1}
}

// Delete removes a row.
func (t *Target) Delete(table string, key migrations.Key) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.rows, table+"|"+key.String())
}

// ErrInjected is the error of injected faults.
var ErrInjected = errors.New("injected fault")
