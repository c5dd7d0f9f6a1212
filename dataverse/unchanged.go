package dataverse

import (
	"context"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse/schema"
)

// lookupChunk bounds the key values per lookup query so that the GET URL
// stays far below the 32,768-character limit (webapi/query/overview.md).
const lookupChunk = 100

// skipUnchanged reads the current version of the batch's records and
// returns the ones that differ (or cannot be compared) plus results for the
// ones that are already up to date. Comparison is conservative: a value it
// cannot compare with certainty (a lookup bound by alternate key, a column
// not read back) counts as a change.
func (w *batchWriter) skipUnchanged(ctx context.Context, b []pending) ([]pending, []Result) {
	if w.o.Mode == ModeCreate {
		return b, nil
	}
	found := w.current(ctx, b)
	var changed []pending
	var results []Result
	for i, p := range b {
		if found[i] == stateSame {
			results = append(results, Result{Ref: p.Ref, Outcome: OutcomeUnchanged, ID: p.Key.ID})
		} else {
			changed = append(changed, p)
		}
	}
	return changed, results
}

// recordState is what a read found for one record to write.
type recordState int

const (
	stateUnknown recordState = iota // not compared (composite key, failed read)
	stateAbsent                     // no record with the key
	stateSame                       // holds exactly the values to write
	stateDiffers                    // exists with other values
)

// current reads the batch's records (by primary key or a one-column
// alternate key, one In query per 100) and says for each what a write
// would meet. Composite keys and failed reads are stateUnknown.
func (w *batchWriter) current(ctx context.Context, b []pending) []recordState {
	groups := map[string][]int{}
	for i, p := range b {
		switch {
		case p.Key.ID != uuid.Nil:
			groups[w.t.PrimaryID] = append(groups[w.t.PrimaryID], i)
		case len(p.Key.Alternate) == 1:
			for col := range p.Key.Alternate {
				groups[col] = append(groups[col], i)
			}
		}
	}
	found := make([]recordState, len(b))
	for col, idx := range groups {
		for start := 0; start < len(idx); start += lookupChunk {
			chunk := idx[start:min(start+lookupChunk, len(idx))]
			w.compareChunk(ctx, b, col, chunk, found)
		}
	}
	return found
}

// Preview says what WriteAll with o would do with each item, without
// writing: OutcomeUnchanged for a record that already holds the values,
// OutcomeUpdated for one that exists with other values, OutcomeCreated for
// one that does not exist, OutcomeWritten when it cannot tell (a
// composite key). It costs one read per 100 records. A dry run reports
// "would create / would update" from it.
func (c *Client) Preview(ctx context.Context, table string, items []Item, o BatchOptions) ([]Result, error) {
	t, err := c.entitySet(ctx, table)
	if err != nil {
		return nil, err
	}
	if o.Mode == "" {
		o.Mode = ModeUpsert
	}
	w := &batchWriter{c: c, t: t, o: o}
	b := make([]pending, len(items))
	for i, it := range items {
		b[i] = pending{Item: it}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	found := w.current(ctx, b)
	out := make([]Result, len(b))
	for i, p := range b {
		r := Result{Ref: p.Ref, ID: p.Key.ID}
		switch {
		case o.Mode == ModeCreate:
			r.Outcome = OutcomeCreated
		case found[i] == stateSame:
			r.Outcome = OutcomeUnchanged
		case found[i] == stateDiffers:
			r.Outcome = OutcomeUpdated
		case found[i] == stateAbsent:
			r.Outcome = OutcomeCreated
		default:
			r.Outcome = OutcomeWritten
		}
		out[i] = r
	}
	return out, nil
}

func keyValue(p pending, col string, pk string) any {
	if col == pk && p.Key.ID != uuid.Nil {
		return p.Key.ID
	}
	return p.Key.Alternate[col]
}

// normKey is the lookup form of a key value; Dataverse matches string keys
// case-insensitively.
func normKey(v any) string {
	s, err := plainValue(v)
	if err != nil {
		return ""
	}
	return strings.ToLower(s)
}

func (w *batchWriter) compareChunk(ctx context.Context, b []pending, col string, chunk []int, found []recordState) {
	sel := map[string]bool{col: true, w.t.PrimaryID: true}
	values := make([]any, 0, len(chunk))
	for _, i := range chunk {
		values = append(values, keyValue(b[i], col, w.t.PrimaryID))
		for k := range bodyWithoutKey(w.t, b[i].Key, b[i].Record) {
			if prop, ok := w.readName(k); ok {
				sel[prop] = true
			}
		}
	}
	q := Query{Filter: In(col, values...)}
	for c := range sel {
		q.Select = append(q.Select, c)
	}
	qs, err := q.Encode()
	if err != nil {
		return
	}
	var out struct {
		Value []Record `json:"value"`
	}
	if _, err := w.c.doJSON(ctx, request{method: http.MethodGet, path: w.t.EntitySetName, query: qs}, &out); err != nil {
		// Could not compare: write everything, the safe choice.
		return
	}
	current := map[string]Record{}
	for _, r := range out.Value {
		current[normKey(r[col])] = r
	}
	for _, i := range chunk {
		cur, ok := current[normKey(keyValue(b[i], col, w.t.PrimaryID))]
		switch {
		case !ok:
			found[i] = stateAbsent
		case w.sameValues(bodyWithoutKey(w.t, b[i].Key, b[i].Record), cur):
			found[i] = stateSame
			// An unchanged record is not sent, so no answer names its ID;
			// keep the one read for the result (a record addressed by
			// alternate key would be read again to learn it).
			if b[i].Key.ID == uuid.Nil {
				b[i].Key.ID, _ = uuid.Parse(cur.String(w.t.PrimaryID))
			}
		default:
			found[i] = stateDiffers
		}
	}
}

// readName maps a body property to the property a read returns: columns
// as themselves, "nav@odata.bind" as the lookup's "_x_value".
func (w *batchWriter) readName(k string) (string, bool) {
	if nav, ok := strings.CutSuffix(k, "@odata.bind"); ok {
		col, _, found := w.t.LookupByNavigation(nav)
		if !found {
			return "", false
		}
		return col.ValueProperty(), true
	}
	if strings.Contains(k, "@") || checkProperty(k) != nil {
		return "", false
	}
	if len(w.t.Columns) > 0 {
		if _, ok := w.t.Column(k); !ok {
			return "", false
		}
	}
	return k, true
}

func (w *batchWriter) sameValues(body, cur Record) bool {
	for k, v := range body {
		if nav, ok := strings.CutSuffix(k, "@odata.bind"); ok {
			col, target, found := w.t.LookupByNavigation(nav)
			if !found {
				return false
			}
			targets := []string{target}
			if col.Type == schema.TypeOwner {
				// ownerid is one navigation property for a user or a team:
				// the bind's entity set says which.
				targets = col.Targets
			}
			id, ok := boundID(v, targets, w.c)
			if !ok || !strings.EqualFold(cur.String(col.ValueProperty()), id) {
				return false
			}
			continue
		}
		got, present := cur[k]
		if !present || !sameValue(v, got) {
			return false
		}
	}
	return true
}

// boundID is the GUID of a bind "/set(<guid>)" to the entity set of one
// of targets; binds by alternate key cannot be compared without another
// read, so they count as changes.
func boundID(v any, targets []string, c *Client) (string, bool) {
	s, ok := v.(string)
	if !ok {
		return "", false
	}
	b, err := ParseBind(s)
	if err != nil || b.Key.ID == uuid.Nil {
		return "", false
	}
	for _, target := range targets {
		t, ok := c.reg.Table(target)
		if !ok || b.EntitySet == t.EntitySetName {
			return b.Key.ID.String(), true
		}
	}
	return "", false
}

// sameValue compares a value to write with the value read back.
func sameValue(want, got any) bool { return SameValue(want, got) }
