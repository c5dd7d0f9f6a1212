package dataverse

import (
	"context"
	"net/http"
	"strings"

	"github.com/google/uuid"
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
	// Group by the column the key uses: the primary key, or a one-column
	// alternate key. Composite keys are written without comparing.
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
	same := make([]bool, len(b))
	for col, idx := range groups {
		for start := 0; start < len(idx); start += lookupChunk {
			chunk := idx[start:min(start+lookupChunk, len(idx))]
			w.compareChunk(ctx, b, col, chunk, same)
		}
	}
	var changed []pending
	var results []Result
	for i, p := range b {
		if same[i] {
			results = append(results, Result{Ref: p.Ref, Outcome: OutcomeUnchanged, ID: p.Key.ID})
		} else {
			changed = append(changed, p)
		}
	}
	return changed, results
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

func (w *batchWriter) compareChunk(ctx context.Context, b []pending, col string, chunk []int, same []bool) {
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
		same[i] = ok && w.sameValues(bodyWithoutKey(w.t, b[i].Key, b[i].Record), cur)
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
			id, ok := boundID(v, target, w.c)
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

// boundID is the GUID of a bind "/set(<guid>)" to target's entity set;
// binds by alternate key cannot be compared without another read, so they
// count as changes.
func boundID(v any, target string, c *Client) (string, bool) {
	s, ok := v.(string)
	if !ok {
		return "", false
	}
	b, err := ParseBind(s)
	if err != nil || b.Key.ID == uuid.Nil {
		return "", false
	}
	if t, ok := c.reg.Table(target); ok && b.EntitySet != t.EntitySetName {
		return "", false
	}
	return b.Key.ID.String(), true
}

// sameValue compares a value to write with the value read back.
func sameValue(want, got any) bool { return SameValue(want, got) }
