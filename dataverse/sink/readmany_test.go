package sink_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/sink"
	"github.com/dvsync/dvsync/migrations"
)

// LookupBatch reads back what Lookup does, key by key (missing records,
// duplicates of a column Dataverse does not keep unique, values in another
// case, keys of two columns), with one In query per hundred keys instead of
// a request per record (issue 11 item 11: verify was one GET per record).
func TestLookupBatchMatchesLookupInFewRequests(t *testing.T) {
	var reads atomic.Int64
	c := refServer(t, "off", func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/accounts") {
				reads.Add(1)
			}
			next.ServeHTTP(w, r)
		})
	})
	s := sink.New(c, nil)
	var batch []migrations.TargetRecord
	for i := range 250 {
		batch = append(batch, migrations.TargetRecord{Table: "account",
			Key:    migrations.Key{ID: migrations.DeterministicID("readmany", "account", fmt.Sprint(i))},
			Fields: map[string]any{"name": fmt.Sprintf("Acme %d", i%50), "telephone1": fmt.Sprint(i)}})
	}
	if _, err := s.Write(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	var keys []migrations.Key
	for _, r := range batch {
		keys = append(keys, r.Key)
	}
	for i := range 3 {
		keys = append(keys, migrations.Key{ID: migrations.DeterministicID("readmany", "missing", fmt.Sprint(i))})
	}
	for i := range 60 {
		name := fmt.Sprintf("Acme %d", i)
		if i%2 == 0 {
			name = strings.ToLower(name)
		}
		keys = append(keys, migrations.Key{Alternate: map[string]any{"name": name}})
	}
	keys = append(keys,
		migrations.Key{Alternate: map[string]any{"name": "Acme 7", "telephone1": "57"}},
		migrations.Key{ID: batch[8].Key.ID, Alternate: map[string]any{"name": "Acme 8"}},
		migrations.Key{ID: batch[9].Key.ID, Alternate: map[string]any{"name": "Acme 8"}})

	reads.Store(0)
	got, err := s.LookupBatch(t.Context(), "account", keys)
	if err != nil {
		t.Fatal(err)
	}
	batched := reads.Load()
	if len(got) != len(keys) {
		t.Fatalf("%d results for %d keys", len(got), len(keys))
	}
	ids := func(rows []map[string]any) []string {
		var out []string
		for _, r := range rows {
			out = append(out, strings.ToLower(dataverse.Record(r).String("accountid")))
		}
		slices.Sort(out)
		return out
	}
	reads.Store(0)
	for i, k := range keys {
		want, err := s.Lookup(t.Context(), "account", k)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := ids(got[i]), ids(want); !slices.Equal(g, w) && !(len(w) == 2 && len(g) > 2) {
			// Lookup stops at two rows ("duplicated"); the batch reads them all.
			t.Errorf("key %s: batch read %v, Lookup %v", k, g, w)
		}
	}
	single := reads.Load()
	if n := len(got[250]) + len(got[251]) + len(got[252]); n != 0 {
		t.Errorf("missing keys found %d records", n)
	}
	if n := len(got[253]); n != 5 {
		t.Errorf("name acme 0 (in another case): %d records, want its 5 duplicates", n)
	}
	if n := len(got[len(keys)-3]); n != 1 {
		t.Errorf("two-column key: %d records", n)
	}
	if a, b := len(got[len(keys)-2]), len(got[len(keys)-1]); a != 1 || b != 0 {
		t.Errorf("ID and name: %d and %d records, want 1 (account 8) and 0 (account 9 is not named Acme 8)", a, b)
	}
	// 253 IDs in 3 queries, 60 names in 1, the two-column key alone and
	// the two keys of ID and name in one.
	if batched > 6 || single < int64(len(keys)) {
		t.Errorf("LookupBatch sent %d reads, Lookup one per key %d", batched, single)
	}
}
