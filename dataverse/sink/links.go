package sink

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/schema"
	"github.com/dvsync/dvsync/migrations"
)

// N:N links are read a batch of records at a time, the same way for a
// write, a plan and verify's comparisons: one query per 100 records (an In
// filter on the primary key) expanding each relationship, a
// collection-valued navigation property, with only the related records'
// IDs selected (query/join-tables.md), instead of one read per record and
// relationship.
const (
	// maxExpands is the number of $expand options one query may hold
	// (join-tables.md: "up to 15").
	maxExpands = 15
	// maxExpanded is the most related records Dataverse returns in one
	// expanded collection: a single-level $expand is not paged and stops
	// at 5,000 (join-tables.md, "Single $expand on collection-valued
	// navigation properties"). A record with that many is read on its
	// own, paged.
	maxExpanded = 5000
	// maxRemembered bounds the records of LookupBatch answers kept for
	// the comparisons that follow them (see remember).
	maxRemembered = 10000
)

// relTables maps relationships to the primary key column of the table on
// their other side, the one column a read of the links selects.
type relTables map[string]string

// linkSets is what a read of links found: record ID → relationship → IDs
// of the related records, all in lower case.
type linkSets map[string]map[string]map[string]bool

// linkCheck is a record whose links are checked: key addresses it, id is
// its ID when known.
type linkCheck struct {
	key   dataverse.Key
	id    string
	links []migrations.Link
}

// link makes the N:N links of written records, after reading the links
// the batch's records already have (unless have, the links prefetch read
// by lower-case record ID, holds them), so a record whose links all exist
// stays unchanged and a new link makes it updated. The missing links are
// made side by side, within the sink's concurrency.
func (s *Sink) link(ctx context.Context, tbl *schema.Table, batch []migrations.TargetRecord, idx []int, results []migrations.WriteResult, have linkSets) error {
	var at []int
	var checks []linkCheck
	for _, i := range idx {
		r := batch[i]
		if len(r.Links) == 0 || results[i].Outcome == migrations.Rejected {
			continue
		}
		key, err := recordKey(r, results[i])
		if err != nil {
			results[i] = reject(err)
			continue
		}
		at = append(at, i)
		checks = append(checks, linkCheck{key: key, id: results[i].ID, links: r.Links})
	}
	if len(checks) == 0 {
		return nil
	}
	missing, errs, err := s.missingLinksKnown(ctx, tbl, checks, have)
	if err != nil {
		return err
	}
	type pair struct {
		k int
		l migrations.Link
	}
	var pairs []pair
	for k := range checks {
		if errs[k] == nil {
			for _, l := range missing[k] {
				pairs = append(pairs, pair{k, l})
			}
		}
	}
	failed := make([]error, len(pairs))
	err = s.parallel(ctx, len(pairs), func(ctx context.Context, p int) error {
		l := pairs[p].l
		okey, _ := Key(l.Key) // missingLinks checked it
		err := s.c.Associate(ctx, tbl.LogicalName, checks[pairs[p].k].key, l.Relationship, l.Table, okey)
		if stops(err) {
			return err
		}
		failed[p] = err
		return nil
	})
	if err != nil {
		return err
	}
	for p, e := range failed {
		if k := pairs[p].k; e != nil && errs[k] == nil {
			errs[k] = e
		}
	}
	for k, i := range at {
		if checks[k].id != "" {
			s.forget(tbl.LogicalName, checks[k].id)
		}
		switch {
		case errs[k] != nil:
			results[i] = reject(fmt.Errorf("linking: %w", errs[k]))
		case len(missing[k]) > 0 && results[i].Outcome == migrations.Unchanged:
			results[i].Outcome = migrations.Updated
		}
	}
	return nil
}

// missingLinks returns, for each record checked, the links it does not
// have yet, or in errs[k] why they cannot be told; err is a failure that
// stops the run. Records whose IDs are known are read together
// (readLinks); one addressed by alternate key alone is read on its own. A
// link to a record addressed by alternate key cannot be told present
// without another read, so it counts as missing (associating it again is
// no change).
func (s *Sink) missingLinks(ctx context.Context, tbl *schema.Table, checks []linkCheck) (missing [][]migrations.Link, errs []error, err error) {
	missing = make([][]migrations.Link, len(checks))
	errs = make([]error, len(checks))
	rels := make([]relTables, len(checks))
	all := relTables{}
	var together, alone []int
	for k, c := range checks {
		rels[k], errs[k] = s.learn(ctx, tbl, c.links)
		switch {
		case stops(errs[k]):
			return nil, nil, errs[k]
		case errs[k] != nil:
		case c.id == "":
			alone = append(alone, k)
		default:
			together = append(together, k)
			maps.Copy(all, rels[k])
		}
	}
	if len(together) > 0 {
		ids := make([]string, len(together))
		for n, k := range together {
			ids[n] = checks[k].id
		}
		sets, err := s.readLinks(ctx, tbl, ids, all)
		switch {
		case stops(err):
			return nil, nil, err
		case err != nil:
			// One record's relationship refused fails the query of all:
			// read them one by one, so the error is that record's alone.
			alone = append(alone, together...)
		default:
			for _, k := range together {
				missing[k] = absent(checks[k].links, sets[strings.ToLower(checks[k].id)])
			}
		}
	}
	for _, k := range alone {
		have, err := s.linksOf(ctx, tbl, checks[k].key, rels[k])
		switch {
		case stops(err):
			return nil, nil, err
		case err != nil:
			errs[k] = err
		default:
			missing[k] = absent(checks[k].links, have)
		}
	}
	return missing, errs, nil
}

// missingLinksKnown is missingLinks for checks whose records' links are
// in have (by lower-case ID) where they are, with no read for those.
func (s *Sink) missingLinksKnown(ctx context.Context, tbl *schema.Table, checks []linkCheck, have linkSets) (missing [][]migrations.Link, errs []error, err error) {
	var rest []int
	var restChecks []linkCheck
	missing = make([][]migrations.Link, len(checks))
	errs = make([]error, len(checks))
	for k, c := range checks {
		if sets, ok := have[strings.ToLower(c.id)]; ok && c.id != "" {
			missing[k] = absent(c.links, sets)
			continue
		}
		rest = append(rest, k)
		restChecks = append(restChecks, c)
	}
	if len(rest) == 0 {
		return missing, errs, nil
	}
	m, e, err := s.missingLinks(ctx, tbl, restChecks)
	if err != nil {
		return nil, nil, err
	}
	for n, k := range rest {
		missing[k], errs[k] = m[n], e[n]
	}
	return missing, errs, nil
}

// absent returns the links of links that have does not hold.
func absent(links []migrations.Link, have map[string]map[string]bool) []migrations.Link {
	var out []migrations.Link
	for _, l := range links {
		okey, _ := Key(l.Key)
		if okey.ID == uuid.Nil || !have[l.Relationship][okey.ID.String()] {
			out = append(out, l)
		}
	}
	return out
}

// learn checks links (the related table exists, the key is usable) and
// returns their relationships. The sink remembers the relationships of
// each table, so that LookupBatch reads them with the records.
func (s *Sink) learn(ctx context.Context, tbl *schema.Table, links []migrations.Link) (relTables, error) {
	rels := relTables{}
	for _, l := range links {
		other, err := s.c.Table(ctx, l.Table)
		if err != nil {
			return nil, err
		}
		if _, err := Key(l.Key); err != nil {
			return nil, err
		}
		rels[l.Relationship] = other.PrimaryID
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	known := s.rels[tbl.LogicalName]
	if known == nil {
		known = relTables{}
		s.rels[tbl.LogicalName] = known
	}
	maps.Copy(known, rels)
	return rels, nil
}

// knownRels returns the relationships links of tbl have named so far.
func (s *Sink) knownRels(table string) relTables {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.rels[table])
}

// readLinks reads the links through rels of the records of tbl with the
// given IDs: one query per 100 records and 15 relationships. Every ID
// asked for has an entry, empty when the record was not found.
func (s *Sink) readLinks(ctx context.Context, tbl *schema.Table, ids []string, rels relTables) (linkSets, error) {
	out := linkSets{}
	for _, id := range ids {
		out[strings.ToLower(id)] = map[string]map[string]bool{}
	}
	names := slices.Sorted(maps.Keys(rels))
	for group := range slices.Chunk(names, maxExpands) {
		q := dataverse.Query{Select: []string{tbl.PrimaryID}, Expand: expands(group, rels)}
		for chunk := range slices.Chunk(ids, maxInValues) {
			values := make([]any, len(chunk))
			for n, id := range chunk {
				values[n] = id
			}
			q.Filter = dataverse.In(tbl.PrimaryID, values...)
			var full []string
			for rec, err := range s.c.Records(ctx, tbl.LogicalName, q) {
				if err != nil {
					return nil, err
				}
				full = append(full, takeLinks(tbl, rec, group, rels, out)...)
			}
			if err := s.readFull(ctx, tbl, full, rels, out); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func expands(names []string, rels relTables) []dataverse.Expand {
	out := make([]dataverse.Expand, len(names))
	for n, rel := range names {
		out[n] = dataverse.Expand{Property: rel, Select: []string{rels[rel]}}
	}
	return out
}

// takeLinks moves the expanded relationships names of rec into sets,
// removing them from rec, and returns "<id> <relationship>" for each
// collection that may have been cut at maxExpanded.
func takeLinks(tbl *schema.Table, rec dataverse.Record, names []string, rels relTables, sets linkSets) (full []string) {
	id := strings.ToLower(rec.String(tbl.PrimaryID))
	if sets[id] == nil {
		sets[id] = map[string]map[string]bool{}
	}
	for _, rel := range names {
		items, _ := rec[rel].([]any)
		delete(rec, rel)
		delete(rec, rel+"@odata.nextLink")
		have := map[string]bool{}
		for _, it := range items {
			if m, ok := it.(map[string]any); ok {
				have[strings.ToLower(dataverse.Record(m).String(rels[rel]))] = true
			}
		}
		sets[id][rel] = have
		if len(items) >= maxExpanded {
			full = append(full, id+" "+rel)
		}
	}
	return full
}

// readFull reads, paged, the collections takeLinks found possibly cut.
func (s *Sink) readFull(ctx context.Context, tbl *schema.Table, full []string, rels relTables, sets linkSets) error {
	for _, f := range full {
		id, rel, _ := strings.Cut(f, " ")
		pid, err := uuid.Parse(id)
		if err != nil {
			return fmt.Errorf("%s read back with ID %q", tbl.LogicalName, id)
		}
		have, err := s.linksOf(ctx, tbl, dataverse.ByID(pid), relTables{rel: rels[rel]})
		if err != nil {
			return err
		}
		sets[id][rel] = have[rel]
	}
	return nil
}

// linksOf reads the links through rels of the one record key addresses,
// one paged read per relationship.
func (s *Sink) linksOf(ctx context.Context, tbl *schema.Table, key dataverse.Key, rels relTables) (map[string]map[string]bool, error) {
	out := map[string]map[string]bool{}
	for _, rel := range slices.Sorted(maps.Keys(rels)) {
		have := map[string]bool{}
		for rec, err := range s.c.Related(ctx, tbl.LogicalName, key, rel, dataverse.Query{Select: []string{rels[rel]}}) {
			if err != nil {
				return nil, err
			}
			have[strings.ToLower(rec.String(rels[rel]))] = true
		}
		out[rel] = have
	}
	return out, nil
}

// compareLinks reports, for verify, the links of expected that the record
// read back (actual) does not have.
func (s *Sink) compareLinks(ctx context.Context, tbl *schema.Table, expected migrations.TargetRecord, actual map[string]any) []migrations.FieldDiff {
	id, err := uuid.Parse(fmt.Sprint(actual[tbl.PrimaryID]))
	if err != nil {
		return []migrations.FieldDiff{{Field: "links", Expected: len(expected.Links), Actual: "record read back without its ID"}}
	}
	missing, err := s.missingAt(ctx, tbl, id.String(), expected.Links)
	if err != nil {
		return []migrations.FieldDiff{{Field: "links", Expected: len(expected.Links), Actual: "could not read: " + err.Error()}}
	}
	var diffs []migrations.FieldDiff
	for _, l := range missing {
		diffs = append(diffs, migrations.FieldDiff{Field: l.Relationship, Expected: l.Table + " " + l.Key.String(), Actual: "not linked"})
	}
	return diffs
}

// missingAt returns the links the record with ID id does not have: read
// with the batch LookupBatch read it in, when it did, else on its own.
func (s *Sink) missingAt(ctx context.Context, tbl *schema.Table, id string, links []migrations.Link) ([]migrations.Link, error) {
	rels, err := s.learn(ctx, tbl, links)
	if err != nil {
		return nil, err
	}
	var have map[string]map[string]bool
	if b := s.recall(tbl.LogicalName, id); b != nil {
		have, err = b.links(ctx, s, id, rels)
	} else {
		have, err = s.linksOf(ctx, tbl, dataverse.ByID(uuid.MustParse(id)), rels)
	}
	if err != nil {
		return nil, err
	}
	return absent(links, have), nil
}

// readBack is a batch of records LookupBatch returned, remembered so that
// the comparisons verify makes of them next read their links together:
// with the records, for the relationships the sink knew of then, or at the
// first comparison that needs another, for the whole batch at once.
type readBack struct {
	tbl *schema.Table
	ids []string // lower case

	mu   sync.Mutex
	sets linkSets
	read map[string]bool // the relationships in sets
}

// links returns the links through rels of the record with ID id, reading
// those not read yet, and every other relationship the sink knows for the
// table, for all the batch's records.
func (b *readBack) links(ctx context.Context, s *Sink, id string, rels relTables) (map[string]map[string]bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	need := relTables{}
	for rel := range rels {
		if !b.read[rel] {
			maps.Copy(need, s.knownRels(b.tbl.LogicalName))
			maps.Copy(need, rels)
			maps.DeleteFunc(need, func(rel, _ string) bool { return b.read[rel] })
			break
		}
	}
	if len(need) > 0 {
		sets, err := s.readLinks(ctx, b.tbl, b.ids, need)
		if err != nil {
			return nil, err
		}
		for rid, byRel := range sets {
			if b.sets[rid] == nil {
				b.sets[rid] = map[string]map[string]bool{}
			}
			maps.Copy(b.sets[rid], byRel)
		}
		for rel := range need {
			b.read[rel] = true
		}
	}
	return b.sets[strings.ToLower(id)], nil
}

// remember keeps a batch LookupBatch read back (the records' IDs, and
// the links read with them through the relationships read) until each
// record is compared (recall), linked by a write (forget), or, oldest
// first, more than maxRemembered records are kept.
func (s *Sink) remember(tbl *schema.Table, ids []string, sets linkSets, read []string) {
	if len(ids) == 0 {
		return
	}
	if sets == nil {
		sets = linkSets{}
	}
	b := &readBack{tbl: tbl, ids: ids, sets: sets, read: map[string]bool{}}
	for _, rel := range read {
		b.read[rel] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		s.back[tbl.LogicalName+"\x00"+id] = b
	}
	s.backs = append(s.backs, b)
	s.backN += len(ids)
	for s.backN > maxRemembered && len(s.backs) > 1 {
		old := s.backs[0]
		s.backs = s.backs[1:]
		s.backN -= len(old.ids)
		for _, id := range old.ids {
			if k := old.tbl.LogicalName + "\x00" + id; s.back[k] == old {
				delete(s.back, k)
			}
		}
	}
}

// recall returns, and forgets, the batch the record with ID id was read
// back in.
func (s *Sink) recall(table, id string) *readBack {
	k := table + "\x00" + strings.ToLower(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.back[k]
	delete(s.back, k)
	return b
}

// forget drops what a read back found of the record with ID id, whose
// links a write changed.
func (s *Sink) forget(table, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.back, table+"\x00"+strings.ToLower(id))
}
