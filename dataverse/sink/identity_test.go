package sink_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse/sink"
	"github.com/dvsync/dvsync/migrations"
)

// countGets counts the GET requests to entity sets (not $metadata or
// WhoAmI) that reach the server.
func countGets(n *atomic.Int32) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && !strings.Contains(r.URL.Path, "$metadata") && !strings.Contains(r.URL.Path, "WhoAmI") &&
				!strings.Contains(r.URL.Path, "EntityDefinitions") {
				n.Add(1)
			}
			next.ServeHTTP(w, r)
		})
	}
}

func TestIdentifyAndHolds(t *testing.T) {
	var gets atomic.Int32
	c := refServer(t, "", countGets(&gets))
	s := sink.New(c, nil)
	ctx := t.Context()
	id, err := s.Identify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := uuid.Parse(id.ID); err != nil || id.URL != c.ServiceRoot() {
		t.Fatalf("identity %+v", id)
	}
	var recs []migrations.TargetRecord
	for i := range 3 {
		recs = append(recs, migrations.TargetRecord{Table: "account", Key: migrations.Key{ID: uuid.NewString()}, Fields: map[string]any{"name": "a" + string(rune('0'+i))}})
	}
	res, err := s.Write(ctx, recs)
	if err != nil {
		t.Fatal(err)
	}
	refs := []migrations.Ref{
		{Table: "account", ID: res[0].ID},
		{Table: "account", ID: uuid.NewString()}, // never written
		{Table: "account", ID: strings.ToUpper(res[2].ID)},
		{Table: "contact", ID: uuid.NewString()},
		{Table: "account", Key: "name=x"}, // no ID: cannot be read by ID
	}
	gets.Store(0)
	held, err := s.Holds(ctx, refs)
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{true, false, true, false, true}; len(held) != len(want) || held[0] != want[0] || held[1] != want[1] || held[2] != want[2] || held[3] != want[3] || held[4] != want[4] {
		t.Errorf("held %v, want %v", held, want)
	}
	// One request per table.
	if n := gets.Load(); n != 2 {
		t.Errorf("%d read requests for two tables", n)
	}
}
