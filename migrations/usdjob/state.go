package usdjob

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/schema"
	"github.com/dvsync/dvsync/mapping/workspace"
)

// namesPerQuery bounds the unique names of one In filter, keeping the URL
// well under Dataverse's 32 KB limit (max-url-length in
// compose-http-requests-handle-errors.md) whatever the name lengths.
const namesPerQuery = 50

// state is what the environment holds of a translation: the translated
// records found by unique name, and the links of the translated
// associations' "from" records.
type state struct {
	tables map[string]*schema.Table
	recs   map[workspace.Ref]dataverse.Record
	// names maps table → lower-case id → unique name, to read lookups.
	names map[string]map[string]string
	// links maps relationship/from → unique names of related records.
	links map[linkKey]map[string]bool
	// copies counts records found per unique name beyond the first:
	// without an alternate key nothing stops a person creating another.
	copies map[workspace.Ref]int
}

type linkKey struct {
	rel  string
	from workspace.Ref
	to   string // table on the other side
}

func (m *Migrator) readState(ctx context.Context, phase Phase) (*state, error) {
	st := &state{tables: map[string]*schema.Table{}, recs: map[workspace.Ref]dataverse.Record{},
		names: map[string]map[string]string{}, links: map[linkKey]map[string]bool{}, copies: map[workspace.Ref]int{}}
	byTable := map[string][]*workspace.Record{}
	for _, r := range m.Result.Records {
		byTable[r.Table] = append(byTable[r.Table], r)
	}
	groups := map[linkKey]bool{}
	var order []linkKey
	for _, a := range m.Result.Associations {
		k := linkKey{a.Relationship, a.From, a.To.Table}
		if !groups[k] {
			groups[k] = true
			order = append(order, k)
		}
	}
	var mu sync.Mutex // guards st's maps, done and Progress
	done, total := 0, len(m.Result.Records)+len(order)
	step := func(n int) {
		done += n
		if m.Progress != nil && n > 0 {
			m.Progress(phase, done, total)
		}
	}
	type chunk struct {
		t    *schema.Table
		sel  []string
		recs []*workspace.Record
	}
	var chunks []chunk
	for _, table := range sortedKeys(byTable) {
		recs := byTable[table]
		t, err := tableOf(ctx, m.Client, table)
		if err != nil {
			return nil, err
		}
		st.tables[table] = t
		st.names[table] = map[string]string{}
		sel, err := selectFor(t, recs)
		if err != nil {
			return nil, err
		}
		for i := 0; i < len(recs); i += namesPerQuery {
			chunks = append(chunks, chunk{t, sel, recs[i:min(i+namesPerQuery, len(recs))]})
		}
	}
	// Reads are independent: run them side by side, within the client's
	// own concurrency limit, so that a remote environment's round-trip
	// time is paid a few times rather than once per query.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(m.readers())
	for _, c := range chunks {
		g.Go(func() error {
			keyCol := workspace.KeyColumn(c.t.LogicalName)
			names := make([]any, len(c.recs))
			for j, r := range c.recs {
				names[j] = r.UniqueName
			}
			// Oldest first, so that with duplicate unique names the record
			// that was there first is the one kept in step.
			q := dataverse.Query{Select: c.sel, Filter: dataverse.In(keyCol, names...), OrderBy: []dataverse.Order{{Column: "createdon"}}}
			var got []dataverse.Record
			for rec, err := range m.Client.Records(gctx, c.t.LogicalName, q) {
				if err != nil {
					return fmt.Errorf("migrate: reading %s: %w", c.t.LogicalName, err)
				}
				got = append(got, rec)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, rec := range got {
				unique := rec.String(keyCol)
				ref := workspace.Ref{Table: c.t.LogicalName, UniqueName: unique}
				if _, dup := st.recs[ref]; dup {
					st.copies[ref]++
					continue // the oldest is the one written
				}
				st.recs[ref] = rec
				st.names[c.t.LogicalName][strings.ToLower(rec.String(c.t.PrimaryID))] = unique
			}
			step(len(c.recs))
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(m.readers())
	var toRead []linkKey
	for _, k := range order {
		if _, ok := st.recs[k.from]; !ok {
			// Nothing to read: the record is not there yet.
			st.links[k] = map[string]bool{}
			step(1)
			continue
		}
		toRead = append(toRead, k)
	}
	for _, k := range toRead {
		// By the ID just read: that needs no alternate key.
		from, err := uuid.Parse(st.id(k.from, st.recs[k.from]))
		if err != nil {
			return nil, fmt.Errorf("migrate: %s %s has no readable ID", k.from.Table, k.from.UniqueName)
		}
		g.Go(func() error {
			toKey := workspace.KeyColumn(k.to)
			set := map[string]bool{}
			for rec, err := range m.Client.Related(gctx, k.from.Table, dataverse.ByID(from), k.rel, dataverse.Query{Select: []string{toKey}}) {
				if err != nil {
					return fmt.Errorf("migrate: reading %s of %s %s: %w", k.rel, k.from.Table, k.from.UniqueName, err)
				}
				set[rec.String(toKey)] = true
			}
			mu.Lock()
			defer mu.Unlock()
			st.links[k] = set
			step(1)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return st, nil
}

// selectFor lists the columns to read for a table's translated records:
// the key, the primary id, and every column the translation sets
// (lookups as their _<column>_value property).
func selectFor(t *schema.Table, recs []*workspace.Record) ([]string, error) {
	keyCol := workspace.KeyColumn(t.LogicalName)
	sel := []string{t.PrimaryID, keyCol}
	seen := map[string]bool{t.PrimaryID: true, keyCol: true}
	for _, r := range recs {
		for col := range r.Fields {
			c, ok := t.Column(col)
			if !ok {
				return nil, fmt.Errorf("migrate: %s has no column %s", t.LogicalName, col)
			}
			name := col
			if c.Type.IsLookup() {
				name = lookupValue(col)
			}
			if !seen[name] {
				seen[name] = true
				sel = append(sel, name)
			}
		}
	}
	sort.Strings(sel[2:])
	return sel, nil
}

func (st *state) record(r workspace.Ref) (dataverse.Record, bool) {
	rec, ok := st.recs[r]
	return rec, ok
}

// id returns a record's primary key as read.
func (st *state) id(r workspace.Ref, cur dataverse.Record) string {
	return cur.String(st.tables[r.Table].PrimaryID)
}

func (st *state) linked(a workspace.Association) bool {
	return st.links[linkKey{a.Relationship, a.From, a.To.Table}][a.To.UniqueName]
}

// allLinks lists every link read, in a stable order.
func (st *state) allLinks() []workspace.Association {
	var out []workspace.Association
	for k, set := range st.links {
		for to := range set {
			out = append(out, workspace.Association{Relationship: k.rel, From: k.from, To: workspace.Ref{Table: k.to, UniqueName: to}})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Relationship != b.Relationship {
			return a.Relationship < b.Relationship
		}
		if a.From.UniqueName != b.From.UniqueName {
			return a.From.UniqueName < b.From.UniqueName
		}
		return a.To.UniqueName < b.To.UniqueName
	})
	return out
}

// diff compares a translated record with what the environment holds,
// column by column. Columns the translation does not set are not compared:
// a person may have filled them in since.
func (st *state) diff(r *workspace.Record, cur dataverse.Record) ([]Mismatch, error) {
	t := st.tables[r.Table]
	var out []Mismatch
	for _, col := range sortedKeys(r.Fields) {
		if col == workspace.KeyColumn(r.Table) {
			continue
		}
		c, ok := t.Column(col)
		if !ok {
			return nil, fmt.Errorf("migrate: %s has no column %s", r.Table, col)
		}
		want, got, equal := st.compare(r.Fields[col], c, cur)
		if !equal {
			out = append(out, Mismatch{Table: r.Table, UniqueName: r.UniqueName, Column: col, Want: clip(want), Got: clip(got), Problem: "value differs"})
		}
	}
	return out, nil
}

// compare reads one column from cur and compares it with the translated
// value, returning both as text.
func (st *state) compare(want any, c *schema.Column, cur dataverse.Record) (string, string, bool) {
	if ref, ok := want.(workspace.Ref); ok {
		id := cur.String(lookupValue(c.LogicalName))
		if id == "" {
			return ref.UniqueName, "(empty)", false
		}
		got, ok := st.names[ref.Table][strings.ToLower(id)]
		if !ok {
			return ref.UniqueName, "a record outside the translation (" + id + ")", false
		}
		return ref.UniqueName, got, got == ref.UniqueName
	}
	raw := cur[c.LogicalName]
	// dataverse.SameValue is the one comparer of values; Dataverse also
	// stores an empty string as null, which a re-run must not rewrite.
	equal := dataverse.SameValue(want, raw) || (want == "" && raw == nil)
	if want == nil {
		return "(empty)", text(raw), equal
	}
	return fmt.Sprint(want), text(raw), equal
}

func text(v any) string {
	if v == nil {
		return "(empty)"
	}
	return fmt.Sprint(v)
}

// clip keeps mismatch reports readable when a column holds a whole
// macro definition.
func clip(s string) string {
	if r := []rune(s); len(r) > 120 {
		return string(r[:119]) + "…"
	}
	return s
}
