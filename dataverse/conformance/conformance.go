// Package conformance is the behaviour suite of the Dataverse client, in the
// manner of rclone's fstests: one set of checks that runs against the
// reference server in every test run and against a real environment when
// DVSYNC_TEST_ENV and Azure credentials are set.
//
// The suite only creates records whose names start with a per-run prefix
// ("dvsync-conf-<random>") and deletes them when it ends.
package conformance

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse"
)

// env is one run of the suite.
type env struct {
	t      *testing.T
	c      *dataverse.Client
	prefix string
	// short is a per-run tag for key columns with small limits
	// (account.accountnumber holds 20 characters).
	short string

	mu      sync.Mutex
	created map[string][]uuid.UUID // table → IDs to delete at the end
}

func (e *env) track(table string, id uuid.UUID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.created[table] = append(e.created[table], id)
}

func (e *env) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Children before parents.
	for _, table := range []string{"incident", "entitlementchannel", "entitlement", "slaitem", "sla", "knowledgearticle", "account"} {
		ids := e.created[table]
		for i := len(ids) - 1; i >= 0; i-- { // newest first: versions before their roots
			id := ids[i]
			if err := e.c.Delete(ctx, table, dataverse.ByID(id), nil); err != nil && !dataverse.IsNotFound(err) {
				e.t.Logf("cleanup: deleting %s %s: %v", table, id, err)
			}
		}
	}
}

func (e *env) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func (e *env) createAccount(t *testing.T, rec dataverse.Record) uuid.UUID {
	t.Helper()
	id, err := e.c.Create(e.ctx(t), "account", rec)
	if err != nil {
		t.Fatalf("creating account: %v", err)
	}
	e.track("account", id)
	return id
}

// hasKey reports whether table declares an alternate key on exactly cols.
func (e *env) hasKey(t *testing.T, table string, cols ...string) bool {
	tb, err := e.c.Table(e.ctx(t), table)
	if err != nil {
		t.Fatal(err)
	}
	_, ok := tb.AlternateKeyFor(cols)
	return ok
}

// Run exercises every client behaviour against the environment newClient
// connects to.
func Run(t *testing.T, newClient func(t *testing.T) *dataverse.Client) {
	run := uuid.NewString()[:8]
	e := &env{t: t, c: newClient(t), prefix: "dvsync-conf-" + run, short: "dc" + run, created: map[string][]uuid.UUID{}}
	t.Cleanup(e.cleanup)
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *env)
	}{
		{"WhoAmIAndParallelismHint", testWhoAmI},
		{"Metadata", testMetadata},
		{"CreateReadUpdateDelete", testCRUD},
		{"OptimisticConcurrency", testETags},
		{"UpsertByAlternateKey", testUpsertAlternateKey},
		{"TypedErrors", testErrors},
		{"FilterLiteralsAreEscaped", testEscaping},
		{"Paging", testPaging},
		{"PartitionedReadMatchesSequential", testPartitioned},
		{"BatchedWritesBulk", func(t *testing.T, e *env) { testWriteAll(t, e, false) }},
		{"BatchedWritesBatch", func(t *testing.T, e *env) { testWriteAll(t, e, true) }},
		{"CreateModeNeverDuplicates", testCreateMode},
		{"SkipUnchanged", testSkipUnchanged},
		{"LookupBoundByAlternateKey", testLookupByKey},
		{"CustomerServiceTablesParentsBeforeChildren", testServiceTables},
		{"ChangeTracking", testChangeTracking},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, e) })
	}
}

func testWhoAmI(t *testing.T, e *env) {
	user, org, err := e.c.WhoAmI(e.ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := uuid.Parse(user); err != nil {
		t.Fatalf("UserId %q is not a GUID", user)
	}
	if _, err := uuid.Parse(org); err != nil {
		t.Fatalf("OrganizationId %q is not a GUID", org)
	}
	if s := e.c.Limiter().Stats(); s.DOPHint <= 0 {
		t.Fatalf("no x-ms-dop-hint seen (stats %+v)", s)
	}
}

func testMetadata(t *testing.T, e *env) {
	tb, err := e.c.DiscoverTable(e.ctx(t), "account")
	if err != nil {
		t.Fatal(err)
	}
	if tb.EntitySetName != "accounts" || tb.PrimaryID != "accountid" || tb.PrimaryName != "name" {
		t.Fatalf("account definition %+v", tb)
	}
	col, ok := tb.Column("name")
	if !ok || col.Type != "String" {
		t.Fatalf("account.name: %+v", col)
	}
	if tb2, err := e.c.DiscoverTable(e.ctx(t), "accounts"); err != nil || tb2.LogicalName != "account" {
		t.Fatalf("by entity set name: %v %v", tb2, err)
	}
	if _, err := e.c.DiscoverTable(e.ctx(t), "dvsync_no_such_table"); err == nil {
		t.Fatal("unknown table discovered")
	}
}

func testCRUD(t *testing.T, e *env) {
	ctx := e.ctx(t)
	name := e.prefix + " crud"
	id := e.createAccount(t, dataverse.Record{"name": name})
	rec, err := e.c.Get(ctx, "account", dataverse.ByID(id), "name")
	if err != nil {
		t.Fatal(err)
	}
	if rec.String("name") != name || rec.String("accountid") != id.String() || rec.ETag() == "" {
		t.Fatalf("read back %v", rec)
	}
	if err := e.c.Update(ctx, "account", dataverse.ByID(id), dataverse.Record{"name": name + " v2"}, nil); err != nil {
		t.Fatal(err)
	}
	if rec, _ := e.c.Get(ctx, "account", dataverse.ByID(id), "name"); rec.String("name") != name+" v2" {
		t.Fatalf("update not applied: %v", rec)
	}
	if err := e.c.Delete(ctx, "account", dataverse.ByID(id), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Get(ctx, "account", dataverse.ByID(id)); !dataverse.IsNotFound(err) {
		t.Fatalf("get after delete: %v", err)
	}
	if err := e.c.Delete(ctx, "account", dataverse.ByID(id), nil); !dataverse.IsNotFound(err) {
		t.Fatalf("second delete: %v", err)
	}
	// Update never creates (If-Match: *).
	missing := uuid.New()
	if err := e.c.Update(ctx, "account", dataverse.ByID(missing), dataverse.Record{"name": e.prefix + " ghost"}, nil); !dataverse.IsNotFound(err) {
		t.Fatalf("update of a missing record: %v", err)
	}
	if _, err := e.c.Get(ctx, "account", dataverse.ByID(missing)); !dataverse.IsNotFound(err) {
		t.Fatal("update created a record")
	}
}

func testETags(t *testing.T, e *env) {
	ctx := e.ctx(t)
	id := e.createAccount(t, dataverse.Record{"name": e.prefix + " etag"})
	rec, err := e.c.Get(ctx, "account", dataverse.ByID(id), "name")
	if err != nil {
		t.Fatal(err)
	}
	etag := rec.ETag()
	if err := e.c.Update(ctx, "account", dataverse.ByID(id), dataverse.Record{"name": e.prefix + " etag 2"}, &dataverse.WriteOptions{IfMatch: etag}); err != nil {
		t.Fatal(err)
	}
	err = e.c.Update(ctx, "account", dataverse.ByID(id), dataverse.Record{"name": e.prefix + " lost"}, &dataverse.WriteOptions{IfMatch: etag})
	if !dataverse.IsConcurrencyConflict(err) {
		t.Fatalf("stale etag update: %v", err)
	}
	if err := e.c.Delete(ctx, "account", dataverse.ByID(id), &dataverse.WriteOptions{IfMatch: etag}); !dataverse.IsConcurrencyConflict(err) {
		t.Fatalf("stale etag delete: %v", err)
	}
}

func testUpsertAlternateKey(t *testing.T, e *env) {
	if !e.hasKey(t, "account", "accountnumber") {
		t.Skip("account has no alternate key on accountnumber in this environment")
	}
	ctx := e.ctx(t)
	// A quote and a space: escaped as '' inside the literal and %20 in the URL.
	number := e.short + "-'A 1"
	key := dataverse.ByKey("accountnumber", number)
	id, err := e.c.Upsert(ctx, "account", key, dataverse.Record{"name": e.prefix + " upsert"})
	if err != nil {
		t.Fatal(err)
	}
	if id == uuid.Nil {
		rec, err := e.c.Get(ctx, "account", key, "accountid")
		if err != nil {
			t.Fatal(err)
		}
		id = uuid.MustParse(rec.String("accountid"))
	}
	e.track("account", id)
	id2, err := e.c.Upsert(ctx, "account", key, dataverse.Record{"name": e.prefix + " upsert 2"})
	if err != nil {
		t.Fatal(err)
	}
	if id2 != uuid.Nil && id2 != id {
		t.Fatalf("second upsert created %s, want update of %s", id2, id)
	}
	rec, err := e.c.Get(ctx, "account", key, "name", "accountnumber")
	if err != nil {
		t.Fatal(err)
	}
	if rec.String("name") != e.prefix+" upsert 2" || rec.String("accountnumber") != number || rec.String("accountid") != id.String() {
		t.Fatalf("read by key %v", rec)
	}
}

func testErrors(t *testing.T, e *env) {
	ctx := e.ctx(t)
	_, err := e.c.Get(ctx, "account", dataverse.ByID(uuid.New()))
	if re, ok := err.(*dataverse.ResponseError); !ok || re.StatusCode != 404 || re.RequestID == "" {
		t.Fatalf("missing record: %#v", err)
	}
	for _, err := range e.c.Records(ctx, "account", dataverse.Query{Filter: dataverse.Eq("dvsync_no_such_column", 1)}) {
		if !dataverse.IsBadRequest(err) {
			t.Fatalf("unknown column: %v", err)
		}
		break
	}
	_, err = e.c.Create(ctx, "account", dataverse.Record{"name": strings.Repeat("x", 5000)})
	if !dataverse.IsBadRequest(err) {
		t.Fatalf("over-long name: %v", err)
	}
}

func testEscaping(t *testing.T, e *env) {
	ctx := e.ctx(t)
	tricky := e.prefix + " O'Neil & Sons #1+2 %_ é"
	id := e.createAccount(t, dataverse.Record{"name": tricky})
	e.createAccount(t, dataverse.Record{"name": e.prefix + " O"})
	var got []string
	for rec, err := range e.c.Records(ctx, "account", dataverse.Query{Select: []string{"name"}, Filter: dataverse.Eq("name", tricky)}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, rec.String("accountid"))
	}
	if len(got) != 1 || got[0] != id.String() {
		t.Fatalf("filter on %q returned %v", tricky, got)
	}
	// An injection attempt stays one literal and matches nothing.
	for rec, err := range e.c.Records(ctx, "account", dataverse.Query{Filter: dataverse.Eq("name", "x' or name ne 'y")}) {
		if err != nil {
			t.Fatal(err)
		}
		t.Fatalf("injection matched %v", rec)
	}
}

// seedAccounts creates n accounts named "<prefix> <tag> NNN".
func seedAccounts(t *testing.T, e *env, tag string, n int) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	for i := range n {
		id := e.createAccount(t, dataverse.Record{"name": fmt.Sprintf("%s %s %03d", e.prefix, tag, i)})
		ids[id.String()] = true
	}
	return ids
}

func testPaging(t *testing.T, e *env) {
	ctx := e.ctx(t)
	want := seedAccounts(t, e, "page", 23)
	p := e.c.NewPager(ctx, "account", dataverse.Query{Select: []string{"name"}, Filter: dataverse.StartsWith("name", e.prefix+" page "), PageSize: 5})
	defer p.Close()
	got := map[string]bool{}
	for p.Next() {
		id := p.Record().String("accountid")
		if got[id] {
			t.Fatalf("record %s returned twice", id)
		}
		got[id] = true
	}
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, want) {
		t.Fatalf("paged read returned %d records, want %d", len(got), len(want))
	}
	if p.Pages() != 5 {
		t.Fatalf("%d pages for 23 records at 5 per page, want 5", p.Pages())
	}
}

func testPartitioned(t *testing.T, e *env) {
	ctx := e.ctx(t)
	want := seedAccounts(t, e, "part", 40)
	q := dataverse.Query{Select: []string{"name"}, Filter: dataverse.StartsWith("name", e.prefix+" part "), PageSize: 7}
	for _, n := range []int{1, 3, 8} {
		got := map[string]bool{}
		for rec, err := range e.c.RecordsPartitioned(ctx, "account", q, dataverse.PartitionOptions{Partitions: n}) {
			if err != nil {
				t.Fatal(err)
			}
			id := rec.String("accountid")
			if got[id] {
				t.Fatalf("%d partitions: %s twice", n, id)
			}
			got[id] = true
		}
		if !maps.Equal(got, want) {
			t.Fatalf("%d partitions: %d records, want %d", n, len(got), len(want))
		}
	}
	got := map[string]bool{}
	for rec, err := range e.c.RecordsPartitioned(ctx, "account", q, dataverse.PartitionOptions{Partitions: 4, By: dataverse.PartitionByCreatedOn}) {
		if err != nil {
			t.Fatal(err)
		}
		got[rec.String("accountid")] = true
	}
	if !maps.Equal(got, want) {
		t.Fatalf("createdon partitions: %d records, want %d", len(got), len(want))
	}
}

func testWriteAll(t *testing.T, e *env, disableBulk bool) {
	ctx := e.ctx(t)
	tag := "bulk"
	if disableBulk {
		tag = "batch"
	}
	if !e.hasKey(t, "account", "accountnumber") {
		t.Skip("account has no alternate key on accountnumber in this environment")
	}
	const n = 30
	bad := 17
	in := func(yield func(dataverse.Item) bool) {
		for i := range n {
			name := fmt.Sprintf("%s %s %03d", e.prefix, tag, i)
			if i == bad {
				name = strings.Repeat("x", 5000)
			}
			it := dataverse.Item{Ref: int64(i), Key: dataverse.ByKey("accountnumber", fmt.Sprintf("%s%s%03d", e.short, tag[:2], i)), Record: dataverse.Record{"name": name}}
			if !yield(it) {
				return
			}
		}
	}
	counts := map[dataverse.Outcome]int{}
	refs := map[int64]int{}
	var rejected error
	report := func(r dataverse.Result) {
		counts[r.Outcome]++
		refs[r.Ref]++
		if r.Outcome == dataverse.OutcomeRejected {
			rejected = r.Err
			if r.Ref != int64(bad) {
				t.Errorf("record %d rejected: %v", r.Ref, r.Err)
			}
		}
	}
	if err := e.c.WriteAll(ctx, "account", in, dataverse.BatchOptions{Mode: dataverse.ModeUpsert, BatchSize: 8, DisableBulk: disableBulk}, report); err != nil {
		t.Fatal(err)
	}
	if len(refs) != n || counts[dataverse.OutcomeRejected] != 1 || !dataverse.IsBadRequest(rejected) {
		t.Fatalf("outcomes %v over %d records; rejected error %v", counts, len(refs), rejected)
	}
	for ref, k := range refs {
		if k != 1 {
			t.Fatalf("record %d reported %d times", ref, k)
		}
	}
	// Read back: exactly the 29 good records, once each.
	var names []string
	for rec, err := range e.c.Records(ctx, "account", dataverse.Query{Select: []string{"name"}, Filter: dataverse.StartsWith("name", e.prefix+" "+tag+" ")}) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, rec.String("name"))
		e.track("account", uuid.MustParse(rec.String("accountid")))
	}
	slices.Sort(names)
	if len(names) != n-1 || len(slices.Compact(slices.Clone(names))) != n-1 {
		t.Fatalf("read back %d records (%d distinct), want %d", len(names), len(slices.Compact(slices.Clone(names))), n-1)
	}
}

func testCreateMode(t *testing.T, e *env) {
	ctx := e.ctx(t)
	const n = 12
	in := func(yield func(dataverse.Item) bool) {
		for i := range n {
			if !yield(dataverse.Item{Ref: int64(i), Record: dataverse.Record{"name": fmt.Sprintf("%s create %03d", e.prefix, i)}}) {
				return
			}
		}
	}
	created := 0
	report := func(r dataverse.Result) {
		if r.Outcome != dataverse.OutcomeCreated || r.ID == uuid.Nil {
			t.Errorf("record %d: %s %v", r.Ref, r.Outcome, r.Err)
			return
		}
		created++
		e.track("account", r.ID)
	}
	if err := e.c.WriteAll(ctx, "account", in, dataverse.BatchOptions{Mode: dataverse.ModeCreate, BatchSize: 5}, report); err != nil {
		t.Fatal(err)
	}
	count := 0
	for _, err := range e.c.Records(ctx, "account", dataverse.Query{Filter: dataverse.StartsWith("name", e.prefix+" create ")}) {
		if err != nil {
			t.Fatal(err)
		}
		count++
	}
	if created != n || count != n {
		t.Fatalf("created %d, stored %d, want %d", created, count, n)
	}
}

func testLookupByKey(t *testing.T, e *env) {
	if !e.hasKey(t, "account", "accountnumber") {
		t.Skip("account has no alternate key on accountnumber in this environment")
	}
	ctx := e.ctx(t)
	number := e.short + "-cust"
	acct := e.createAccount(t, dataverse.Record{"name": e.prefix + " customer", "accountnumber": number})
	lit, _ := dataverse.KeySegment(dataverse.ByKey("accountnumber", number))
	id, err := e.c.Create(ctx, "incident", dataverse.Record{
		"title":                         e.prefix + " case",
		"customerid_account@odata.bind": "/accounts(" + lit + ")",
	})
	if err != nil {
		t.Fatal(err)
	}
	e.track("incident", id)
	rec, err := e.c.Get(ctx, "incident", dataverse.ByID(id), "title", "_customerid_value")
	if err != nil {
		t.Fatal(err)
	}
	if rec.String("_customerid_value") != acct.String() {
		t.Fatalf("_customerid_value = %q, want %s", rec.String("_customerid_value"), acct)
	}
}

func testChangeTracking(t *testing.T, e *env) {
	tb, err := e.c.Table(e.ctx(t), "account")
	if err != nil {
		t.Fatal(err)
	}
	if !tb.ChangeTracking {
		t.Skip("change tracking is not enabled for account")
	}
	ctx := e.ctx(t)
	q := dataverse.Query{Select: []string{"name"}}
	first, err := e.c.TrackChanges(ctx, "account", q, "", func(dataverse.Change) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if !first.Full || first.DeltaLink == "" {
		t.Fatalf("initial tracked read: %+v", first)
	}
	id := e.createAccount(t, dataverse.Record{"name": e.prefix + " tracked"})
	second, err := e.c.TrackChanges(ctx, "account", q, first.DeltaLink, func(ch dataverse.Change) error {
		if ch.ID == id && ch.Deleted {
			t.Errorf("new record reported deleted")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if second.Full {
		t.Fatal("delta read fell back to a full read")
	}
	sawNew := false
	// Read the same delta again to check the new record is in it.
	if _, err := e.c.TrackChanges(ctx, "account", q, first.DeltaLink, func(ch dataverse.Change) error {
		sawNew = sawNew || (ch.ID == id && !ch.Deleted)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !sawNew {
		t.Fatal("created record missing from the delta")
	}
	if err := e.c.Delete(ctx, "account", dataverse.ByID(id), nil); err != nil {
		t.Fatal(err)
	}
	sawDelete := false
	third, err := e.c.TrackChanges(ctx, "account", q, second.DeltaLink, func(ch dataverse.Change) error {
		sawDelete = sawDelete || (ch.ID == id && ch.Deleted)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !sawDelete || third.DeltaLink == "" {
		t.Fatalf("delete missing from the delta (%+v)", third)
	}
}

func testSkipUnchanged(t *testing.T, e *env) {
	if !e.hasKey(t, "account", "accountnumber") {
		t.Skip("account has no alternate key on accountnumber in this environment")
	}
	ctx := e.ctx(t)
	const n = 10
	write := func(changed map[int]bool) map[dataverse.Outcome]int {
		in := func(yield func(dataverse.Item) bool) {
			for i := range n {
				name := fmt.Sprintf("%s same %03d", e.prefix, i)
				if changed[i] {
					name += " changed"
				}
				rec := dataverse.Record{"name": name, "numberofemployees": 10 + i, "description": nil}
				if !yield(dataverse.Item{Ref: int64(i), Key: dataverse.ByKey("accountnumber", fmt.Sprintf("%ssu%03d", e.short, i)), Record: rec}) {
					return
				}
			}
		}
		counts := map[dataverse.Outcome]int{}
		err := e.c.WriteAll(ctx, "account", in, dataverse.BatchOptions{Mode: dataverse.ModeUpsert, SkipUnchanged: true}, func(r dataverse.Result) {
			counts[r.Outcome]++
			if r.Err != nil {
				t.Errorf("record %d: %v", r.Ref, r.Err)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		return counts
	}
	first := write(nil)
	if first[dataverse.OutcomeUnchanged] != 0 || first[dataverse.OutcomeRejected] != 0 {
		t.Fatalf("first write: %v", first)
	}
	for rec, err := range e.c.Records(ctx, "account", dataverse.Query{Select: []string{"name"}, Filter: dataverse.StartsWith("name", e.prefix+" same ")}) {
		if err != nil {
			t.Fatal(err)
		}
		e.track("account", uuid.MustParse(rec.String("accountid")))
	}
	if again := write(nil); again[dataverse.OutcomeUnchanged] != n {
		t.Fatalf("identical rewrite: %v, want %d unchanged", again, n)
	}
	third := write(map[int]bool{2: true, 7: true})
	if third[dataverse.OutcomeUnchanged] != n-2 || third[dataverse.OutcomeWritten]+third[dataverse.OutcomeUpdated] != 2 {
		t.Fatalf("two changed: %v", third)
	}
	rec, err := e.c.Get(ctx, "account", dataverse.ByKey("accountnumber", e.short+"su007"), "name")
	if err != nil || !strings.HasSuffix(rec.String("name"), " changed") {
		t.Fatalf("changed record not written: %v %v", rec, err)
	}
}

// testServiceTables writes the Customer Service parent/child tables the
// migrations move (entitlements with their channels, SLAs with their items,
// knowledge articles with their versions), parents before children through
// the batched writer, binding children to parents, and reads them back.
func testServiceTables(t *testing.T, e *env) {
	ctx := e.ctx(t)
	create := func(table string, recs ...dataverse.Record) []uuid.UUID {
		t.Helper()
		ids := make([]uuid.UUID, len(recs))
		in := func(yield func(dataverse.Item) bool) {
			for i, r := range recs {
				if !yield(dataverse.Item{Ref: int64(i), Record: r}) {
					return
				}
			}
		}
		err := e.c.WriteAll(ctx, table, in, dataverse.BatchOptions{Mode: dataverse.ModeCreate}, func(r dataverse.Result) {
			if r.Outcome != dataverse.OutcomeCreated {
				t.Fatalf("%s %d: %s %v", table, r.Ref, r.Outcome, r.Err)
			}
			ids[r.Ref] = r.ID
			e.track(table, r.ID)
		})
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	// lookups reads table's rows named with the run prefix and returns
	// name → _col_value.
	lookups := func(table, nameCol, col string) map[string]string {
		t.Helper()
		out := map[string]string{}
		q := dataverse.Query{Select: []string{nameCol, "_" + col + "_value"}, Filter: dataverse.StartsWith(nameCol, e.prefix)}
		for rec, err := range e.c.Records(ctx, table, q) {
			if err != nil {
				t.Fatal(err)
			}
			out[rec.String(nameCol)] = rec.String("_" + col + "_value")
		}
		return out
	}
	acct := e.createAccount(t, dataverse.Record{"name": e.prefix + " cs customer"})

	ent := create("entitlement", dataverse.Record{
		"name": e.prefix + " entitlement", "startdate": "2026-01-01T00:00:00Z", "enddate": "2026-12-31T00:00:00Z",
		"customerid_account@odata.bind": "/accounts(" + acct.String() + ")",
	})[0]
	create("entitlementchannel",
		dataverse.Record{"name": e.prefix + " phone", "channel": 1, "totalterms": 10, "entitlementid@odata.bind": "/entitlements(" + ent.String() + ")"},
		dataverse.Record{"name": e.prefix + " email", "channel": 2, "totalterms": 5, "entitlementid@odata.bind": "/entitlements(" + ent.String() + ")"},
	)
	if got := lookups("entitlementchannel", "name", "entitlementid"); len(got) != 2 || got[e.prefix+" phone"] != ent.String() || got[e.prefix+" email"] != ent.String() {
		t.Fatalf("entitlement channels %v, want both bound to %s", got, ent)
	}
	if got := lookups("entitlement", "name", "customerid"); got[e.prefix+" entitlement"] != acct.String() {
		t.Fatalf("entitlement customer %v", got)
	}

	sla := create("sla", dataverse.Record{"name": e.prefix + " sla", "applicablefrom": "createdon", "primaryentityotc": 112})[0]
	cond := `<and><condition attribute="prioritycode" operator="eq" value="1" /></and>`
	create("slaitem",
		dataverse.Record{"name": e.prefix + " first response", "failureafter": 60, "warnafter": 30, "applicablewhenxml": cond, "successconditionsxml": cond, "slaid@odata.bind": "/slas(" + sla.String() + ")"},
		dataverse.Record{"name": e.prefix + " resolve", "failureafter": 480, "warnafter": 240, "applicablewhenxml": cond, "successconditionsxml": cond, "slaid@odata.bind": "/slas(" + sla.String() + ")"},
	)
	if got := lookups("slaitem", "name", "slaid"); len(got) != 2 || got[e.prefix+" resolve"] != sla.String() {
		t.Fatalf("SLA items %v, want both bound to %s", got, sla)
	}

	root := create("knowledgearticle", dataverse.Record{"title": e.prefix + " article v1", "content": "<p>v1</p>", "isrootarticle": true, "articlepublicnumber": e.short + "-KA"})[0]
	create("knowledgearticle", dataverse.Record{
		"title": e.prefix + " article v2", "content": "<p>v2</p>", "articlepublicnumber": e.short + "-KA", "majorversionnumber": 2,
		"rootarticleid@odata.bind":            "/knowledgearticles(" + root.String() + ")",
		"previousarticlecontentid@odata.bind": "/knowledgearticles(" + root.String() + ")",
	})
	if got := lookups("knowledgearticle", "title", "rootarticleid"); got[e.prefix+" article v2"] != root.String() {
		t.Fatalf("article versions %v, want v2 under root %s", got, root)
	}
}
