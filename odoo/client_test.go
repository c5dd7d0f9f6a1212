package odoo_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dvsync/dvsync/odoo"
	"github.com/dvsync/dvsync/odoo/odooserver"
)

const (
	testKey = "k3y-never-logged"
	seedDir = "../testdata/odoo/seed"
)

// clock is a settable clock for the reference server, so write_date values
// are deterministic.
type clock struct{ t atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.t.Store(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC).Unix())
	return c
}
func (c *clock) now() time.Time          { return time.Unix(c.t.Load(), 0).UTC() }
func (c *clock) advance(d time.Duration) { c.t.Add(int64(d / time.Second)) }

type env struct {
	srv   *odooserver.Server
	ts    *httptest.Server
	clock *clock
}

func start(t testing.TB, opts odooserver.Options, wrap func(http.Handler) http.Handler) *env {
	t.Helper()
	e := &env{clock: newClock()}
	opts.APIKey = testKey
	opts.Now = e.clock.now
	srv, err := odooserver.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	var h http.Handler = srv
	if wrap != nil {
		h = wrap(srv)
	}
	e.ts = httptest.NewServer(h)
	t.Cleanup(e.ts.Close)
	return e
}

func connect(t testing.TB, e *env, mod func(*odoo.Options)) *odoo.Client {
	t.Helper()
	opts := odoo.Options{URL: e.ts.URL + "/", Database: "dvsync", Login: "admin", APIKey: testKey, RetryBackoff: time.Millisecond}
	if mod != nil {
		mod(&opts)
	}
	c, err := odoo.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestProtocolSelectionPerVersion(t *testing.T) {
	for v := 16; v <= 19; v++ {
		for _, fl := range []string{odooserver.FlavourEnterprise, odooserver.FlavourOCA} {
			t.Run(fmt.Sprintf("%d-%s", v, fl), func(t *testing.T) {
				e := start(t, odooserver.Options{Version: v, Flavour: fl}, nil)
				c := connect(t, e, nil)
				want := odoo.ProtocolJSONRPC
				if v >= 19 {
					want = odoo.ProtocolJSON2
				}
				if c.Protocol() != want || c.Version().Major != v || c.UID() != 2 {
					t.Fatalf("protocol %s version %+v uid %d", c.Protocol(), c.Version(), c.UID())
				}
				if c.Version().Enterprise != (fl == odooserver.FlavourEnterprise) {
					t.Fatalf("enterprise = %v", c.Version().Enterprise)
				}
				n, err := c.SearchCount(context.Background(), "res.users", odoo.Cond("login", odoo.Eq, "admin"), nil)
				if err != nil || n != 1 {
					t.Fatalf("count = %d, %v", n, err)
				}
			})
		}
	}
}

func TestForcedProtocol(t *testing.T) {
	e19 := start(t, odooserver.Options{Version: 19}, nil)
	c := connect(t, e19, func(o *odoo.Options) { o.Protocol = odoo.ProtocolJSONRPC })
	if c.Protocol() != odoo.ProtocolJSONRPC {
		t.Fatalf("protocol = %s", c.Protocol())
	}
	e17 := start(t, odooserver.Options{Version: 17}, nil)
	_, err := odoo.New(context.Background(), odoo.Options{URL: e17.ts.URL, Database: "dvsync", Login: "admin", APIKey: testKey, Protocol: odoo.ProtocolJSON2})
	if err == nil || !strings.Contains(err.Error(), "JSON-2 needs Odoo 19") {
		t.Fatalf("err = %v", err)
	}
}

func TestAuthenticationFailure(t *testing.T) {
	for _, v := range []int{17, 19} {
		e := start(t, odooserver.Options{Version: v}, nil)
		_, err := odoo.New(context.Background(), odoo.Options{URL: e.ts.URL, Database: "dvsync", Login: "admin", APIKey: "wrong-key"})
		var ae *odoo.AuthError
		if !errors.As(err, &ae) || !errors.Is(err, odoo.ErrAccessDenied) {
			t.Fatalf("v%d: err = %v", v, err)
		}
		if strings.Contains(err.Error(), "wrong-key") {
			t.Fatalf("v%d: key leaked in %q", v, err)
		}
	}
	// JSON-2 checks that the key belongs to the login given.
	e := start(t, odooserver.Options{Version: 19}, nil)
	_, err := odoo.New(context.Background(), odoo.Options{URL: e.ts.URL, Database: "dvsync", Login: "someone", APIKey: testKey})
	if err == nil || !strings.Contains(err.Error(), `belongs to "admin"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestTypedErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		version    int
		code, http int
	}{{16, 200, 200}, {17, 200, 200}, {18, 200, 200}, {19, 0, 403}} {
		e := start(t, odooserver.Options{Version: tc.version}, nil)
		c := connect(t, e, nil)
		_, err := c.SearchRead(ctx, "res.users.apikeys", odoo.Query{})
		var oe *odoo.Error
		if !errors.As(err, &oe) || !errors.Is(err, odoo.ErrAccess) {
			t.Fatalf("v%d: err = %v", tc.version, err)
		}
		if oe.Name != odoo.ExcAccessError || oe.Code != tc.code || oe.HTTPStatus != tc.http || oe.Model != "res.users.apikeys" || oe.Method != "search_read" {
			t.Fatalf("v%d: %+v", tc.version, oe)
		}
		if !strings.Contains(oe.Message, "You are not allowed to read") {
			t.Fatalf("v%d: message %q", tc.version, oe.Message)
		}
		_, err = c.Read(ctx, "res.partner", []int{424242}, []string{"name"}, nil)
		if !errors.Is(err, odoo.ErrMissing) || !errors.Is(err, odoo.ErrUser) {
			t.Fatalf("v%d: missing: %v", tc.version, err)
		}
		_, err = c.SearchRead(ctx, "res.partner", odoo.Query{Fields: []string{"no_such_field"}})
		if !errors.As(err, &oe) || oe.Name != "builtins.ValueError" {
			t.Fatalf("v%d: invalid field: %v", tc.version, err)
		}
	}
}

func TestValueDecoding(t *testing.T) {
	ctx := context.Background()
	e := start(t, odooserver.Options{Version: 17, SeedDir: seedDir}, nil)
	c := connect(t, e, nil)
	recs, err := c.Read(ctx, "helpdesk.ticket", []int{1, 2}, []string{"name", "description", "team_id", "user_id", "tag_ids", "priority", "create_date", "close_date", "email_cc", "sla_reached", "assign_hours", "ticket_type_id"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := recs[0]
	if r.ID() != 1 {
		t.Fatalf("id = %d", r.ID())
	}
	team, err := r.Many2One("team_id")
	if err != nil || !team.Valid() || team.Name != "Field Service" {
		t.Fatalf("team = %+v, %v", team, err)
	}
	if pr, _ := r.String("priority"); pr != "0" {
		t.Fatalf("priority = %q (selection keys are strings)", pr)
	}
	if string(r["priority"]) != `"0"` {
		t.Fatalf("raw priority = %s", r["priority"])
	}
	tags, err := r.IDs("tag_ids")
	if err != nil || !slices.Equal(tags, []int{5}) {
		t.Fatalf("tags = %v, %v", tags, err)
	}
	created, err := r.Time("create_date")
	if err != nil || !created.Equal(time.Date(2025, 12, 20, 18, 14, 29, 0, time.UTC)) {
		t.Fatalf("create_date = %v, %v", created, err)
	}
	if desc, _ := r.String("description"); !strings.HasPrefix(desc, "<p>") {
		t.Fatalf("description = %q", desc)
	}
	// Empty values are false for every type.
	if string(r["close_date"]) != "false" || string(r["email_cc"]) != "false" {
		t.Fatalf("empty values: close_date=%s email_cc=%s", r["close_date"], r["email_cc"])
	}
	if ct, err := r.Time("close_date"); err != nil || !ct.IsZero() {
		t.Fatalf("close_date = %v, %v", ct, err)
	}
	unassigned := recs[1]
	if string(unassigned["user_id"]) != "false" {
		t.Fatalf("user_id = %s", unassigned["user_id"])
	}
	if u, err := unassigned.Many2One("user_id"); err != nil || u.Valid() {
		t.Fatalf("user_id = %+v, %v", u, err)
	}
	if h, err := r.Float("assign_hours"); err != nil || h != 0 {
		// integer field on 17: the seed's 0.88 is stored as 0.
		t.Fatalf("assign_hours = %v, %v", h, err)
	}
	// A wrong shape is a DecodeError, not a silent zero.
	var de *odoo.DecodeError
	if _, err := r.Many2One("priority"); !errors.As(err, &de) || de.Field != "priority" {
		t.Fatalf("decode error = %v", err)
	}
}

func TestDomainOperatorsAgainstServer(t *testing.T) {
	ctx := context.Background()
	e := start(t, odooserver.Options{Version: 17, SeedDir: seedDir}, nil)
	c := connect(t, e, nil)
	count := func(d odoo.Domain, cx odoo.Context) int {
		t.Helper()
		n, err := c.SearchCount(ctx, "res.partner", d, cx)
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		return n
	}
	if n := count(odoo.Cond("id", odoo.ChildOf, 10), nil); n != 4 {
		t.Fatalf("child_of = %d", n)
	}
	if n := count(odoo.Cond("id", odoo.ParentOf, 20), nil); n != 2 {
		t.Fatalf("parent_of = %d", n)
	}
	if n := count(odoo.Cond("parent_id.name", odoo.ILike, "dental"), nil); n != 3 {
		t.Fatalf("dotted path = %d", n)
	}
	if n := count(odoo.Cond("name", odoo.EqLike, "Rafael O'Neill"), nil); n != 1 {
		t.Fatalf("quote in value = %d", n)
	}
	if n := count(odoo.Cond("name", odoo.ILike, `"Nate"`), nil); n != 1 {
		t.Fatalf("double quote = %d", n)
	}
	if n := count(odoo.Cond("name", odoo.ILike, "%"), nil); n == 0 {
		t.Fatal("unescaped % should match everything")
	}
	if n := count(odoo.Cond("name", odoo.ILike, odoo.EscapeLike("%")), nil); n != 0 {
		t.Fatalf("escaped %% matched %d", n)
	}
	active := count(odoo.Cond("is_company", odoo.Eq, true), nil)
	all := count(odoo.Cond("is_company", odoo.Eq, true), odoo.Context{}.WithArchived())
	if all != active+1 {
		t.Fatalf("archived companies: active=%d all=%d", active, all)
	}
	d := odoo.Or(odoo.Cond("email", odoo.Eq, nil), odoo.Not(odoo.Cond("email", odoo.ILike, "example")))
	if n := count(d, nil); n == 0 {
		t.Fatalf("or/not: %d", n)
	}
	tickets, err := c.SearchCount(ctx, "helpdesk.ticket", odoo.Cond("tag_ids", odoo.Any, odoo.Cond("name", odoo.In, []string{"Repair", "Service"})), nil)
	if err != nil || tickets == 0 {
		t.Fatalf("any: %d %v", tickets, err)
	}
	viaIn, _ := c.SearchCount(ctx, "helpdesk.ticket", odoo.Cond("tag_ids", odoo.In, []int{3, 4}), nil)
	if viaIn != tickets {
		t.Fatalf("any (%d) and in (%d) disagree", tickets, viaIn)
	}
}

func TestDomainBuilder(t *testing.T) {
	d := odoo.And(odoo.Cond("a", odoo.Eq, 1), odoo.Or(odoo.Cond("b", odoo.In, []int{1, 2}), odoo.Not(odoo.Cond("c", odoo.ILike, "x"))), odoo.Cond("d", odoo.Ge, time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))))
	want := `["&","&",["a","=",1],"|",["b","in",[1,2]],"!",["c","ilike","x"],["d",">=","2026-01-02 02:04:05"]]`
	if got := d.String(); got != want {
		t.Fatalf("domain\n got %s\nwant %s", got, want)
	}
	// Implicit AND groups are made explicit when nested.
	inner := odoo.And(odoo.Cond("a", odoo.Eq, 1), odoo.Cond("b", odoo.Eq, 2))
	if got := odoo.Or(inner, odoo.Cond("c", odoo.Eq, 3)).String(); got != `["|","&",["a","=",1],["b","=",2],["c","=",3]]` {
		t.Fatalf("nested = %s", got)
	}
	if got := (odoo.Domain{}).String(); got != "[]" {
		t.Fatalf("empty = %s", got)
	}
	for _, bad := range []odoo.Domain{
		odoo.Cond("name; drop", odoo.Eq, 1),
		odoo.Cond("name", "==", 1),
		odoo.Cond("name", odoo.In, 3),
		odoo.Cond("tag_ids", odoo.Any, "x"),
		odoo.And(odoo.Cond("ok", odoo.Eq, 1), odoo.Cond("x", odoo.Eq, struct{}{})),
	} {
		if bad.Err() == nil {
			t.Fatalf("no error for %s", bad)
		}
		if _, err := bad.MarshalJSON(); err == nil {
			t.Fatalf("marshal of invalid domain succeeded")
		}
	}
}

func collect(t *testing.T, seq func(func(odoo.Record, error) bool)) []odoo.Record {
	t.Helper()
	var out []odoo.Record
	for r, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func TestStreamAllProtocols(t *testing.T) {
	for _, v := range []int{16, 19} {
		e := start(t, odooserver.Options{Version: v, SeedDir: seedDir}, nil)
		c := connect(t, e, func(o *odoo.Options) { o.PageSize = 37 })
		var pages int
		recs := collect(t, c.Stream(context.Background(), "helpdesk.ticket", odoo.StreamOptions{Fields: []string{"name"}, Context: odoo.Context{}.WithArchived(), OnPage: func(int) { pages++ }}))
		if len(recs) != 300 || pages != 9 {
			t.Fatalf("v%d: %d records in %d pages", v, len(recs), pages)
		}
		for i, r := range recs {
			if r.ID() != i+1 {
				t.Fatalf("v%d: record %d has id %d", v, i, r.ID())
			}
		}
	}
}

// TestStreamUnderConcurrentWrites creates and deletes tickets while a
// stream runs. Keyset paging must yield every surviving pre-existing
// ticket exactly once, in id order.
func TestStreamUnderConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	e := start(t, odooserver.Options{Version: 17, SeedDir: seedDir}, nil)
	c := connect(t, e, func(o *odoo.Options) { o.PageSize = 10 })
	writer := connect(t, e, nil)
	before, err := c.Search(ctx, "helpdesk.ticket", odoo.Query{Context: odoo.Context{}.WithArchived(), Order: "id asc"})
	if err != nil {
		t.Fatal(err)
	}
	deleted := map[int]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	pageDone := make(chan struct{})
	wg.Go(func() {
		i := 0
		for range pageDone {
			i++
			// Delete a low id (already read) and create a new ticket.
			id := before[i]
			if err := writer.Call(ctx, "helpdesk.ticket", "unlink", []int{id}, nil, nil, false); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			deleted[id] = true
			mu.Unlock()
			if _, err := writer.Create(ctx, "helpdesk.ticket", map[string]any{"name": fmt.Sprintf("during stream %d", i), "team_id": 1, "partner_id": 20}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	seen := map[int]int{}
	last := 0
	n := 0
	for r, err := range c.Stream(ctx, "helpdesk.ticket", odoo.StreamOptions{Fields: []string{"name"}, Context: odoo.Context{}.WithArchived()}) {
		if err != nil {
			t.Fatal(err)
		}
		if r.ID() <= last {
			t.Fatalf("id %d after %d", r.ID(), last)
		}
		last = r.ID()
		seen[r.ID()]++
		n++
		if n%10 == 0 {
			pageDone <- struct{}{}
		}
	}
	close(pageDone)
	wg.Wait()
	for _, id := range before {
		if seen[id] != 1 && !deleted[id] {
			t.Fatalf("ticket %d seen %d times", id, seen[id])
		}
	}
	if len(seen) <= len(before)-len(deleted) {
		t.Fatalf("tickets created ahead of the cursor were not read: %d seen", len(seen))
	}
}

func TestChangesWatermark(t *testing.T) {
	ctx := context.Background()
	e := start(t, odooserver.Options{Version: 19}, nil)
	c := connect(t, e, func(o *odoo.Options) { o.PageSize = 2 })
	// Five partners written in the same second: ties on write_date must be
	// broken by id across page boundaries.
	var ids []int
	for i := range 5 {
		id, err := c.Create(ctx, "res.partner", map[string]any{"name": fmt.Sprintf("P%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	domain := odoo.Cond("name", odoo.EqLike, "P_")
	var wm odoo.Watermark
	read := func() []int {
		var got []int
		for r, err := range c.Changes(ctx, "res.partner", wm, odoo.StreamOptions{Domain: domain, Fields: []string{"name"}}) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, r.ID())
			if wm, err = r.Watermark(); err != nil {
				t.Fatal(err)
			}
		}
		return got
	}
	if got := read(); !slices.Equal(got, ids) {
		t.Fatalf("first read = %v, want %v", got, ids)
	}
	if got := read(); len(got) != 0 {
		t.Fatalf("nothing changed, read %v", got)
	}
	e.clock.advance(time.Minute)
	if err := c.Write(ctx, "res.partner", []int{ids[3], ids[1]}, map[string]any{"phone": "+1 555 0100"}); err != nil {
		t.Fatal(err)
	}
	if got := read(); !slices.Equal(got, []int{ids[1], ids[3]}) {
		t.Fatalf("changes = %v", got)
	}
	if wm.WriteDate != e.clock.now() || wm.ID != ids[3] {
		t.Fatalf("watermark = %+v", wm)
	}
}

// TestPagesShrinkWhenWorkersAreKilled: the server fails calls returning
// more than 25 records with 502, as a proxy does when Odoo kills a worker.
func TestPagesShrinkWhenWorkersAreKilled(t *testing.T) {
	e := start(t, odooserver.Options{Version: 17, SeedDir: seedDir, MaxRecordsPerCall: 25}, nil)
	var logs bytes.Buffer
	c := connect(t, e, func(o *odoo.Options) {
		o.PageSize = 100
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	recs := collect(t, c.Stream(context.Background(), "helpdesk.ticket", odoo.StreamOptions{Fields: []string{"name"}, Context: odoo.Context{}.WithArchived()}))
	if len(recs) != 300 {
		t.Fatalf("read %d", len(recs))
	}
	if !strings.Contains(logs.String(), "next_page_size=25") {
		t.Fatalf("no shrink logged:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), testKey) {
		t.Fatal("API key in logs")
	}
	// A plain SearchRead that is too big fails with a typed, transient error.
	_, err := c.SearchRead(context.Background(), "helpdesk.ticket", odoo.Query{Limit: 100})
	var he *odoo.HTTPError
	if !errors.As(err, &he) || he.StatusCode != 502 || !odoo.IsTransient(err) {
		t.Fatalf("err = %v", err)
	}
}

// TestRetryOnDroppedConnections drops the first connections of search_read
// calls without an answer.
func TestRetryOnDroppedConnections(t *testing.T) {
	var drops, creates atomic.Int32
	drops.Store(2)
	drop := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			isCreate := bytes.Contains(body, []byte(`"create"`))
			if isCreate {
				creates.Add(1)
			}
			if (isCreate || bytes.Contains(body, []byte("search_read"))) && drops.Add(-1) >= 0 {
				conn, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					conn.Close()
				}
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	e := start(t, odooserver.Options{Version: 17, SeedDir: seedDir}, drop)
	c := connect(t, e, nil)
	recs, err := c.SearchRead(context.Background(), "helpdesk.team", odoo.Query{Fields: []string{"name"}})
	if err != nil || len(recs) != 4 {
		t.Fatalf("%d teams, %v", len(recs), err)
	}
	// Writes are not retried after a drop: the server may have applied them.
	drops.Store(1)
	_, err = c.Create(context.Background(), "helpdesk.tag", map[string]any{"name": "Dropped"})
	if err == nil || !odoo.IsTransient(err) || creates.Load() != 1 {
		t.Fatalf("create: err=%v, attempts=%d", err, creates.Load())
	}
}

func TestStreamModelsConcurrently(t *testing.T) {
	e := start(t, odooserver.Options{Version: 18, SeedDir: seedDir}, nil)
	c := connect(t, e, func(o *odoo.Options) { o.PageSize = 50 })
	var mu sync.Mutex
	counts := map[string]int{}
	streams := []odoo.ModelStream{
		{Model: "helpdesk.ticket", Options: odoo.StreamOptions{Fields: []string{"name"}}},
		{Model: "mail.message", Options: odoo.StreamOptions{Domain: odoo.Cond("model", odoo.Eq, "helpdesk.ticket"), Fields: []string{"body"}}},
		{Model: "helpdesk.stage", Options: odoo.StreamOptions{Fields: []string{"name"}}},
		{Model: "res.partner", Since: &odoo.Watermark{}, Options: odoo.StreamOptions{Fields: []string{"name"}}},
	}
	err := c.StreamModels(context.Background(), streams, 3, func(model string, r odoo.Record) error {
		mu.Lock()
		counts[model]++
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if counts["helpdesk.stage"] != 5 || counts["helpdesk.ticket"] < 280 || counts["mail.message"] < 600 || counts["res.partner"] < 30 {
		t.Fatalf("counts = %v", counts)
	}
	// An error in one model stops the whole read.
	streams = append(streams, odoo.ModelStream{Model: "res.users.apikeys"})
	err = c.StreamModels(context.Background(), streams, 2, func(string, odoo.Record) error { return nil })
	if !errors.Is(err, odoo.ErrAccess) {
		t.Fatalf("err = %v", err)
	}
}

func TestWrongDatabase(t *testing.T) {
	for _, v := range []int{17, 19} {
		e := start(t, odooserver.Options{Version: v}, nil)
		_, err := odoo.New(context.Background(), odoo.Options{URL: e.ts.URL, Database: "other", Login: "admin", APIKey: testKey})
		var oe *odoo.Error
		if !errors.As(err, &oe) {
			t.Fatalf("v%d: err = %v", v, err)
		}
		if v >= 19 && (oe.HTTPStatus != 404 || !errors.Is(err, odoo.ErrNotFound)) {
			t.Fatalf("v%d: %+v", v, oe)
		}
		if v < 19 && !strings.Contains(oe.Message, `database "other" does not exist`) {
			t.Fatalf("v%d: %+v", v, oe)
		}
	}
	if _, err := odoo.New(context.Background(), odoo.Options{URL: "ftp://x", Database: "d", Login: "l", APIKey: "k"}); err == nil {
		t.Fatal("ftp URL accepted")
	}
	if _, err := odoo.New(context.Background(), odoo.Options{URL: "http://127.0.0.1:1", Database: "d", Login: "l"}); err == nil || !strings.Contains(err.Error(), "ODOO_API_KEY") {
		t.Fatalf("missing key: %v", err)
	}
}

func TestFieldsGetFollowsVersion(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		version     int
		hoursType   string
		hasType     bool
		kanbanGreen string
	}{{16, "integer", true, "Green"}, {17, "integer", true, "Green"}, {18, "float", false, "Ready"}, {19, "float", false, "Ready"}} {
		e := start(t, odooserver.Options{Version: tc.version}, nil)
		c := connect(t, e, nil)
		fields, err := c.FieldsGet(ctx, "helpdesk.ticket")
		if err != nil {
			t.Fatal(err)
		}
		if fields["assign_hours"].Type != tc.hoursType {
			t.Errorf("v%d: assign_hours is %s", tc.version, fields["assign_hours"].Type)
		}
		if _, ok := fields["ticket_type_id"]; ok != tc.hasType {
			t.Errorf("v%d: ticket_type_id present = %v", tc.version, ok)
		}
		prio := fields["priority"]
		if len(prio.Selection) != 4 || prio.Selection[3] != (odoo.SelectionOption{Key: "3", Label: "Urgent"}) {
			t.Errorf("v%d: priority selection %v", tc.version, prio.Selection)
		}
		var green string
		for _, o := range fields["kanban_state"].Selection {
			if o.Key == "done" {
				green = o.Label
			}
		}
		if green != tc.kanbanGreen {
			t.Errorf("v%d: kanban done label %q", tc.version, green)
		}
		if f := fields["team_id"]; f.Type != "many2one" || f.Relation != "helpdesk.team" {
			t.Errorf("v%d: team_id %+v", tc.version, f)
		}
	}
}

func TestParallelStreamKeepsOrder(t *testing.T) {
	ctx := context.Background()
	e := start(t, odooserver.Options{Version: 17, SeedDir: seedDir, MaxRecordsPerCall: 40}, nil)
	c := connect(t, e, func(o *odoo.Options) { o.PageSize = 64 })
	opts := odoo.StreamOptions{Domain: odoo.Cond("priority", odoo.In, []string{"0", "2"}), Fields: []string{"name"}, Context: odoo.Context{}.WithArchived()}
	want := collect(t, c.Stream(ctx, "helpdesk.ticket", opts))
	for _, parallel := range []int{2, 3, 7} {
		opts.Parallel = parallel
		got := collect(t, c.Stream(ctx, "helpdesk.ticket", opts))
		if len(got) != len(want) || len(got) < 100 {
			t.Fatalf("parallel %d: %d records, want %d", parallel, len(got), len(want))
		}
		for i := range got {
			if got[i].ID() != want[i].ID() {
				t.Fatalf("parallel %d: record %d is %d, want %d", parallel, i, got[i].ID(), want[i].ID())
			}
		}
	}
	// Stopping early releases the readers.
	n := 0
	for _, err := range c.Stream(ctx, "helpdesk.ticket", opts) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 5 {
			break
		}
	}
	// Nothing matches: no pages, no error.
	opts.Domain = odoo.Cond("name", odoo.Eq, "no such ticket")
	if got := collect(t, c.Stream(ctx, "helpdesk.ticket", opts)); len(got) != 0 {
		t.Fatalf("%d records", len(got))
	}
	// Errors surface.
	var errs []error
	for _, err := range c.Stream(ctx, "res.users.apikeys", odoo.StreamOptions{Parallel: 2}) {
		errs = append(errs, err)
	}
	if len(errs) != 1 || !errors.Is(errs[0], odoo.ErrAccess) {
		t.Fatalf("errors = %v", errs)
	}
}

// TestSaaSVersionInfo: Odoo Online's version_info starts with "saas~17".
func TestSaaSVersionInfo(t *testing.T) {
	saas := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			if bytes.Contains(body, []byte(`"version"`)) && bytes.Contains(body, []byte(`"common"`)) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{"server_version":"saas~17.2+e","server_version_info":["saas~17",2,0,"final",0,"e"],"server_serie":"saas~17.2","protocol_version":1}}`)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			next.ServeHTTP(w, r)
		})
	}
	e := start(t, odooserver.Options{Version: 17}, saas)
	c := connect(t, e, nil)
	if v := c.Version(); v.Major != 17 || v.Minor != 2 || !v.Enterprise || c.Protocol() != odoo.ProtocolJSONRPC {
		t.Fatalf("version %+v protocol %s", v, c.Protocol())
	}
}
