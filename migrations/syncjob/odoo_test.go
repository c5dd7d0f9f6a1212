package syncjob_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/odoojob/odoojobtest"
	"github.com/dvsync/dvsync/migrations/syncjob"
	"github.com/dvsync/dvsync/odoo"
	"github.com/dvsync/dvsync/odoo/odooserver"
)

type odooEnv struct {
	dv    *dataverse.Client
	odoo  *odoo.Client
	job   *syncjob.Job
	opts  syncjob.Options
	state string
	// odooCtr counts the requests sent to the reference Odoo.
	odooCtr *syncjob.Counter
	seed    string
}

// startOdooSyncSeed starts the reference Dataverse (with its seed: users,
// calendars) and a reference Odoo with seed, and declares an Odoo →
// Dataverse job with extra job file lines. now is the clock of the
// reference Odoo (write_date) and of the sync (nil: the wall clock).
func startOdooSyncSeed(t testing.TB, seed, extra string, now func() time.Time) *odooEnv {
	t.Helper()
	return startOdooSyncWith(t, seed, extra, now, nil)
}

// startOdooSyncWith is startOdooSyncSeed with wrap around the reference
// Odoo's handler (nil: none).
func startOdooSyncWith(t testing.TB, seed, extra string, now func() time.Time, wrap func(http.Handler) http.Handler) *odooEnv {
	t.Helper()
	ctx := context.Background()
	ref, err := refserver.New(refserver.Options{Token: odoojobtest.DVToken})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ref.Close() })
	if _, err := ref.LoadSeed(ctx, odoojobtest.Testdata("dataverse", "seed")); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(ref)
	t.Cleanup(hs.Close)
	osrv, err := odooserver.New(odooserver.Options{APIKey: odoojobtest.OdooKey, SeedDir: seed, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = osrv
	if wrap != nil {
		h = wrap(osrv)
	}
	ohs := httptest.NewServer(h)
	t.Cleanup(ohs.Close)
	ctr := &syncjob.Counter{}
	dv, err := dataverse.NewClient(hs.URL, dataverse.StaticToken(odoojobtest.DVToken), &dataverse.ClientOptions{Transport: ctr})
	if err != nil {
		t.Fatal(err)
	}
	octr := &syncjob.Counter{}
	oc, err := odoo.New(ctx, odoo.Options{URL: ohs.URL, Database: odooserver.Database, Login: "admin", APIKey: odoojobtest.OdooKey,
		HTTPClient: &http.Client{Transport: octr}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	text := fmt.Sprintf("name: odoo-parallel-run\nsource:\n  odoo: {url: %s, db: %s, user: admin}\ntarget:\n  dataverse: {env: %s}\nmap: %s\n%s",
		ohs.URL, odooserver.Database, hs.URL, odoojobtest.Testdata("odoodv", "demo-map.yaml"), extra)
	path := filepath.Join(dir, "odoo.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	job, err := syncjob.LoadJob(path)
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state.db")
	engine, err := migrations.OpenSQLite(ctx, state)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { engine.Close() })
	st := openStore(t, state)
	return &odooEnv{dv: dv, odoo: oc, job: job, state: state, odooCtr: octr, seed: seed,
		opts: syncjob.Options{Odoo: oc, TargetClient: dv, Counter: ctr, Store: st, EngineStore: engine, Now: now}}
}

func (e *odooEnv) run(t testing.TB) *syncjob.Summary {
	t.Helper()
	var rej strings.Builder
	o := e.opts
	o.Rejects = &rej
	sum, err := syncjob.Run(context.Background(), e.job, o)
	if err != nil {
		t.Fatalf("%v\nrejects:\n%s", err, rej.String())
	}
	return sum
}

// caseTitles returns the state of every case in Dataverse by title, and
// the number of cases.
func (e *odooEnv) caseTitles(t testing.TB) (map[string]int, int) {
	t.Helper()
	out := map[string]int{}
	count := 0
	for rec, err := range e.dv.Records(context.Background(), "incident", dataverse.Query{Select: []string{"title", "statecode"}}) {
		if err != nil {
			t.Fatal(err)
		}
		n, _ := rec["statecode"].(interface{ Int64() (int64, error) })
		s := 0
		if n != nil {
			v, _ := n.Int64()
			s = int(v)
		}
		out[rec.String("title")] = s
		count++
	}
	return out, count
}

// writerCap bounds a round's changes (fewer under -race, where everything
// runs several times slower).
var writerCap = map[bool]int{false: 300, true: 150}[raceEnabled]

// clock is a hand-moved clock shared by the reference Odoo (write_date)
// and the sync (its run start), so the test decides which writes share a
// second with a cursor.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock { c := &clock{}; c.ns.Store(t.UnixNano()); return c }

func (c *clock) now() time.Time             { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) advance(d time.Duration)    { c.ns.Add(int64(d)) }
func (c *clock) before(d time.Duration) any { return c.now().Add(-d).Format("2006-01-02 15:04:05") }

// odooWriter changes a helpdesk the way its users do while a sync reads
// it, and remembers what it wrote.
type odooWriter struct {
	t       *testing.T
	e       *odooEnv
	clk     *clock
	tickets []int // existing ticket ids
	persons []int // existing person partner ids

	mu       sync.Mutex
	stage    map[int]int    // ticket → stage it was last moved to
	bodies   map[int]string // message posted → its body, as last edited
	emails   map[int]string // partner → e-mail it was last given
	newTicks map[int]int    // ticket created → its new partner
	lastMsg  int
	writes   int
}

// step makes the k-th change: a rename, a stage move (closing or
// reopening the case), a message or an edit of one, a customer's new name
// and e-mail, or a new customer with a new ticket (the ticket depends on
// the customer).
func (w *odooWriter) step(k int) {
	ctx := context.Background()
	oc := w.e.odoo
	id := w.tickets[(k*7)%len(w.tickets)]
	var err error
	switch k % 5 {
	case 0:
		err = oc.Write(ctx, "helpdesk.ticket", []int{id}, map[string]any{"name": fmt.Sprintf("rev-%d-%d", k, id)})
	case 1:
		stage := []int{4, 2}[k/5%2] // Solved (closes the case), In Progress (reopens it)
		if err = oc.Write(ctx, "helpdesk.ticket", []int{id}, map[string]any{"stage_id": stage}); err == nil {
			w.mu.Lock()
			w.stage[id] = stage
			w.mu.Unlock()
		}
	case 2:
		w.mu.Lock()
		last := w.lastMsg
		w.mu.Unlock()
		if k/5%2 == 1 && last != 0 {
			// An edit of the message posted last: its own write_date moves.
			body := fmt.Sprintf("writer message %d, edited", k)
			if err = oc.Write(ctx, "mail.message", []int{last}, map[string]any{"body": body}); err == nil {
				w.mu.Lock()
				w.bodies[last] = body
				w.mu.Unlock()
			}
			break
		}
		body := fmt.Sprintf("writer message %d", k)
		var msg int
		if err = oc.Call(ctx, "helpdesk.ticket", "message_post", []int{id}, map[string]any{"body": body, "message_type": "comment",
			"subtype_xmlid": "mail.mt_comment"}, &msg, false); err == nil {
			w.mu.Lock()
			w.bodies[msg], w.lastMsg = body, msg
			w.mu.Unlock()
		}
	case 3:
		p := w.persons[k/5%len(w.persons)]
		email := fmt.Sprintf("renamed-%d@writer.example", k)
		if err = oc.Write(ctx, "res.partner", []int{p}, map[string]any{"name": fmt.Sprintf("Renamed Person%d", k), "email": email}); err == nil {
			w.mu.Lock()
			w.emails[p] = email
			w.mu.Unlock()
		}
	case 4:
		var p, tk int
		email := fmt.Sprintf("new-%d@writer.example", k)
		if p, err = oc.Create(ctx, "res.partner", map[string]any{"name": fmt.Sprintf("New Customer%d", k), "email": email}); err == nil {
			tk, err = oc.Create(ctx, "helpdesk.ticket", map[string]any{"name": fmt.Sprintf("new ticket %d", k), "partner_id": p, "team_id": 1})
		}
		if err == nil {
			w.mu.Lock()
			w.emails[p], w.newTicks[tk] = email, p
			w.mu.Unlock()
		}
	}
	if err != nil {
		w.t.Errorf("writer step %d: %v", k, err)
	}
	w.mu.Lock()
	w.writes++
	w.mu.Unlock()
}

// assertCaught checks the target against Odoo itself: one case per
// ticket, with its current name; the state of every ticket the writer
// moved; every message as a note; every customer the writer renamed or
// created as a contact with its e-mail, and each new ticket's case bound
// to its new customer.
func (w *odooWriter) assertCaught(before int) {
	t, e := w.t, w.e
	t.Helper()
	ctx := context.Background()
	tickets, err := e.odoo.SearchRead(ctx, "helpdesk.ticket", odoo.Query{Fields: []string{"name", "ticket_ref"}, Context: odoo.Context{}.WithArchived()})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]dataverse.Record{}
	for rec, err := range e.dv.Records(ctx, "incident", dataverse.Query{Select: []string{"ticketnumber", "title", "statecode", "_customerid_value"}}) {
		if err != nil {
			t.Fatal(err)
		}
		cases[rec.String("ticketnumber")] = rec
	}
	if len(cases) != before+len(tickets) {
		t.Errorf("%d cases, want %d (%d before the migration, %d tickets): duplicated or missing", len(cases), before+len(tickets), before, len(tickets))
	}
	byID := map[int]dataverse.Record{}
	for _, tk := range tickets {
		ref, _ := tk.String("ticket_ref")
		name, _ := tk.String("name")
		c, ok := cases[ref]
		switch {
		case !ok:
			t.Errorf("ticket %d (%s) has no case", tk.ID(), ref)
		case c.String("title") != name:
			t.Errorf("ticket %d: case title %q, Odoo name %q", tk.ID(), c.String("title"), name)
		}
		byID[tk.ID()] = c
	}
	for id, stage := range w.stage {
		want := map[int]string{4: "1", 2: "0"}[stage]
		if got := byID[id].String("statecode"); got != want {
			t.Errorf("ticket %d moved to stage %d: case statecode %s, want %s", id, stage, got, want)
		}
	}
	var notes []string
	for rec, err := range e.dv.Records(ctx, "annotation", dataverse.Query{Select: []string{"notetext"}}) {
		if err != nil {
			t.Fatal(err)
		}
		notes = append(notes, rec.String("notetext"))
	}
	all := strings.Join(notes, "\n")
	for id, b := range w.bodies {
		if !strings.Contains(all, b) {
			t.Errorf("message %d %q is in no note", id, b)
		}
	}
	contacts := map[string]string{} // e-mail → contactid
	for rec, err := range e.dv.Records(ctx, "contact", dataverse.Query{Select: []string{"contactid", "emailaddress1"}}) {
		if err != nil {
			t.Fatal(err)
		}
		contacts[rec.String("emailaddress1")] = rec.String("contactid")
	}
	for p, email := range w.emails {
		if contacts[email] == "" {
			t.Errorf("customer %d: no contact with its e-mail %s", p, email)
		}
	}
	for tk, p := range w.newTicks {
		if got, want := byID[tk].String("_customerid_value"), contacts[w.emails[p]]; got == "" || got != want {
			t.Errorf("new ticket %d: case customer %q, want the contact of new customer %d (%q)", tk, got, p, want)
		}
	}
}

// Writers change tickets, messages and customers while a sync reads them;
// the next run picks up every change and misses none: writes in the
// second of the cursor, a customer and its ticket created after the
// customers step read, and a transaction that commits rows dated before
// the cursor (within the overlap). Once the overlap has passed, a quiet
// helpdesk is read no more; a deleted ticket's case is cancelled.
func TestSyncOdooPicksUpEveryChangeWhileWritersWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("migrates a helpdesk")
	}
	clk := newClock(time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC))
	e := startOdooSyncSeed(t, odoojobtest.SmallSeed(t, 30), "overlap: 5s\n", clk.now)
	ctx := context.Background()
	_, before := e.caseTitles(t)
	sum := e.run(t)
	cases := tableSummary(t, sum, "cases")
	if cases.Read != 30 || cases.Upserted != 30 || cases.Mode != "odoo write_date cursor" {
		t.Fatalf("first run: %+v", cases)
	}
	for _, step := range []string{"accounts", "contacts", "notes", "sla-outcomes"} {
		if ts := tableSummary(t, sum, step); ts.Mode != "odoo write_date cursor" {
			t.Errorf("%s: mode %q", step, ts.Mode)
		}
	}
	ids, err := e.odoo.Search(ctx, "helpdesk.ticket", odoo.Query{Order: "id asc", Context: odoo.Context{}.WithArchived()})
	if err != nil || len(ids) != 30 {
		t.Fatalf("%d tickets, %v", len(ids), err)
	}
	users, err := e.odoo.SearchRead(ctx, "res.users", odoo.Query{Fields: []string{"partner_id"}, Context: odoo.Context{}.WithArchived()})
	if err != nil {
		t.Fatal(err)
	}
	var agents []any
	for _, u := range users {
		p, _ := u.Many2One("partner_id")
		agents = append(agents, p.ID)
	}
	// Customers, not the agents' own partners (the map skips those).
	persons, err := e.odoo.Search(ctx, "res.partner", odoo.Query{Domain: odoo.And(odoo.Cond("is_company", odoo.Eq, false),
		odoo.Cond("id", odoo.NotIn, agents)), Order: "id asc"})
	if err != nil || len(persons) == 0 {
		t.Fatalf("%d person partners, %v", len(persons), err)
	}
	clk.advance(time.Hour) // the seed's load time is settled

	w := &odooWriter{t: t, e: e, clk: clk, tickets: ids, persons: persons,
		stage: map[int]int{}, emails: map[int]string{}, newTicks: map[int]int{}, bodies: map[int]string{}}
	// A round: the writer writes while a run reads, then the next run must
	// catch every change. With a ticking clock the writes spread over the
	// seconds the run spans; with a frozen one every write shares the
	// second of the run's bound and of its cursors, so writes the run's
	// reads passed are dated in the cursor's own second.
	k := 0
	round := func(name string, tick bool) {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		first := make(chan struct{})
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if n >= writerCap {
					// Enough for a round; a slow run (-race) is not
					// made slower by ever more changes to catch.
					<-stop
					return
				}
				w.step(k)
				k++
				if n == 5 {
					close(first) // the run's bound sees the writer's second
				}
				if tick && n%4 == 3 {
					clk.advance(time.Second)
				}
			}
		}()
		<-first
		// The run may reject a ticket whose new customer was created in the
		// bound's second after the customers step read; the next run reads
		// it again.
		if _, err := syncjob.Run(ctx, e.job, e.opts); err != nil && !errors.Is(err, syncjob.ErrRejects) {
			t.Fatal(err)
		}
		close(stop)
		wg.Wait()
		if !tick {
			// More writes in the run's second, some to tickets it read.
			for range 10 {
				w.step(k)
				k++
			}
			// A transaction that began before the run commits now: Odoo
			// dates its rows with the transaction's start, before the
			// cursor, within the overlap.
			late := ids[len(ids)/2]
			if err := e.odoo.Write(ctx, "helpdesk.ticket", []int{late}, map[string]any{"name": "late commit", "write_date": clk.before(3 * time.Second)}); err != nil {
				t.Fatal(err)
			}
		}
		clk.advance(time.Second)
		sum := e.run(t)
		t.Logf("%s: writer made %d changes; next run: cases %+v, notes %+v, contacts %+v", name, w.writes,
			tableSummary(t, sum, "cases").Counts, tableSummary(t, sum, "notes").Counts, tableSummary(t, sum, "contacts").Counts)
		w.assertCaught(before)
		// And every Odoo record the migration carries, read again and
		// mapped, equals its target record (a renamed customer's notes
		// name them anew).
		verifyOdooStore(t, e.odoo, e.dv, e.opts.EngineStore)
	}
	round("ticking clock", true)
	round("frozen clock", false)

	// The first run after the overlap has passed reads the last run's
	// overlap window once more (a transaction open when that run began
	// could have committed since) and changes no value; the run after it
	// starts exactly after each cursor and reads nothing. One new write is
	// then read, once.
	clk.advance(10 * time.Minute)
	snap := func() map[string]string {
		out := map[string]string{}
		for rec, err := range e.dv.Records(ctx, "incident", dataverse.Query{}) {
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"@odata.etag", "modifiedon", "versionnumber"} {
				delete(rec, k) // a case written again with the same values
			}
			b, _ := json.Marshal(rec)
			out[rec.String("incidentid")] = string(b)
		}
		return out
	}
	s0 := snap()
	sum = e.run(t)
	if c := tableSummary(t, sum, "cases"); c.Read == 0 {
		t.Errorf("the run after the overlap read no case of the last run's window again: %+v", c.Counts)
	}
	if s1 := snap(); !maps.Equal(s0, s1) {
		t.Errorf("reading the overlap window again changed cases")
	}
	clk.advance(10 * time.Minute)
	sum = e.run(t)
	for _, step := range []string{"accounts", "contacts", "cases", "notes", "sla-outcomes"} {
		if ts := tableSummary(t, sum, step); ts.Read != 0 {
			t.Errorf("quiet run read %d %s again", ts.Read, step)
		}
	}
	if err := e.odoo.Write(ctx, "helpdesk.ticket", []int{ids[1]}, map[string]any{"name": "one more"}); err != nil {
		t.Fatal(err)
	}
	clk.advance(10 * time.Minute)
	if c := tableSummary(t, e.run(t), "cases"); c.Read != 1 || c.Upserted != 1 {
		t.Errorf("one change after a quiet run: %+v", c.Counts)
	}

	// Delete one ticket: its case is cancelled (deleted_tickets: cancel).
	gone := ids[0]
	n, err := e.odoo.SearchCount(ctx, "helpdesk.ticket", odoo.Cond("id", odoo.Ne, 0), odoo.Context{}.WithArchived())
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.odoo.SearchRead(ctx, "helpdesk.ticket", odoo.Query{Domain: odoo.Cond("id", odoo.Eq, gone), Fields: []string{"name"}})
	if err != nil || len(got) != 1 {
		t.Fatal(got, err)
	}
	name, _ := got[0].String("name")
	if err := e.odoo.Call(ctx, "helpdesk.ticket", "unlink", []int{gone}, nil, nil, false); err != nil {
		t.Fatal(err)
	}
	sum = e.run(t)
	del := tableSummary(t, sum, "deleted tickets")
	if del.Read != 1 || del.KeysCompared != int64(n-1) {
		t.Fatalf("deleted tickets: %+v (Odoo held %d before the delete)", del, n)
	}
	if del.Upserted != 1 {
		t.Errorf("the cancel is not counted as a write: %+v", del.Counts)
	}
	if titles, _ := e.caseTitles(t); titles[name] != 2 {
		t.Fatalf("case of the deleted ticket has statecode %d, want 2 (cancelled); summary %+v", titles[name], del)
	}
}

// A run reads one moment of the helpdesk: a customer and a ticket for them
// created after the customers step read (a second later) wait for the next
// run, instead of the ticket being read and rejected for want of its
// customer.
func TestSyncOdooReadsOneMomentOfTheHelpdesk(t *testing.T) {
	if testing.Short() {
		t.Skip("migrates a helpdesk")
	}
	clk := newClock(time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC))
	var e *odooEnv
	var once sync.Once
	var newTicket, newPartner int
	// Right after the contacts step's read is answered, a customer and a
	// ticket for them are created.
	hook := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			next.ServeHTTP(w, r)
			if !bytes.Contains(body, []byte(`"res.partner"`)) || !bytes.Contains(body, []byte(`["is_company","=",false]`)) ||
				!bytes.Contains(body, []byte(`write_date`)) {
				return
			}
			once.Do(func() {
				ctx := context.Background()
				clk.advance(time.Second)
				var err error
				if newPartner, err = e.odoo.Create(ctx, "res.partner", map[string]any{"name": "Late Customer", "email": "late@writer.example"}); err != nil {
					t.Error(err)
					return
				}
				if newTicket, err = e.odoo.Create(ctx, "helpdesk.ticket", map[string]any{"name": "late ticket", "partner_id": newPartner, "team_id": 1}); err != nil {
					t.Error(err)
				}
			})
		})
	}
	e = startOdooSyncWith(t, odoojobtest.SmallSeed(t, 20), "overlap: 5s\n", clk.now, hook)
	sum, err := syncjob.Run(context.Background(), e.job, e.opts)
	if err != nil {
		t.Fatalf("a run that met a ticket whose customer it had not read: %v", err)
	}
	if newTicket == 0 {
		t.Fatal("the hook did not run: the contacts step read no longer looks as expected")
	}
	if c := tableSummary(t, sum, "cases"); c.Read != 20 || c.Rejected != 0 {
		t.Errorf("first run: cases %+v, want the 20 tickets of its moment", c.Counts)
	}
	clk.advance(time.Second)
	sum = e.run(t)
	if c := tableSummary(t, sum, "cases"); c.Upserted < 1 || c.Rejected != 0 {
		t.Errorf("next run: cases %+v", c.Counts)
	}
	ctx := context.Background()
	var caseCustomer, contact string
	for rec, err := range e.dv.Records(ctx, "incident", dataverse.Query{Select: []string{"_customerid_value"}, Filter: dataverse.Eq("title", "late ticket")}) {
		must(t, err)
		caseCustomer = rec.String("_customerid_value")
	}
	for rec, err := range e.dv.Records(ctx, "contact", dataverse.Query{Select: []string{"contactid"}, Filter: dataverse.Eq("emailaddress1", "late@writer.example")}) {
		must(t, err)
		contact = rec.String("contactid")
	}
	if contact == "" || caseCustomer != contact {
		t.Errorf("late ticket's case has customer %q, want the late customer's contact %q", caseCustomer, contact)
	}
}

// recordWrites is a transport that records every request but reads.
type recordWrites struct {
	mu     sync.Mutex
	writes []string
}

func (r *recordWrites) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet {
		r.mu.Lock()
		r.writes = append(r.writes, req.Method+" "+req.URL.Path)
		r.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(req)
}

// A dry run of an Odoo job plans as `migrate odoo --dry-run` does: it
// reads the tickets changed since the last run and the ones deleted, says
// what the cases would become, and sends Dataverse nothing but reads; the
// run after it carries the same changes.
func TestSyncOdooDryRun(t *testing.T) {
	if testing.Short() {
		t.Skip("migrates a helpdesk")
	}
	clk := newClock(time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC))
	e := startOdooSyncSeed(t, odoojobtest.SmallSeed(t, 10), "overlap: 5s\n", clk.now)
	ctx := context.Background()
	e.run(t)
	clk.advance(time.Hour)
	ids, err := e.odoo.Search(ctx, "helpdesk.ticket", odoo.Query{Order: "id asc", Context: odoo.Context{}.WithArchived()})
	if err != nil || len(ids) != 10 {
		t.Fatalf("%d tickets, %v", len(ids), err)
	}
	must(t, e.odoo.Write(ctx, "helpdesk.ticket", []int{ids[1]}, map[string]any{"name": "renamed while planning"}))
	got, err := e.odoo.SearchRead(ctx, "helpdesk.ticket", odoo.Query{Domain: odoo.Cond("id", odoo.Eq, ids[2]), Fields: []string{"partner_id"}})
	if err != nil || len(got) != 1 {
		t.Fatal(got, err)
	}
	partner, _ := got[0].Many2One("partner_id")
	if _, err := e.odoo.Create(ctx, "helpdesk.ticket", map[string]any{"name": "new while planning", "partner_id": partner.ID, "team_id": 1}); err != nil {
		t.Fatal(err)
	}
	must(t, e.odoo.Call(ctx, "helpdesk.ticket", "unlink", []int{ids[0]}, nil, nil, false))
	clk.advance(10 * time.Minute)
	titles, cases := e.caseTitles(t)
	before, err := e.opts.Store.Checkpoint(ctx, e.job.Name, "helpdesk.ticket")
	must(t, err)

	rec := &recordWrites{}
	e.opts.Counter.Base = rec
	dry := e.opts
	dry.DryRun = true
	for range 2 {
		sum, err := syncjob.Run(ctx, e.job, dry)
		if err != nil {
			t.Fatal(err)
		}
		if c := tableSummary(t, sum, "cases"); !sum.DryRun || c.Read != 2 || c.Upserted != 2 || c.Created != 1 || c.Updated != 1 {
			t.Errorf("dry run, cases: %+v", c.Counts)
		}
		if d := tableSummary(t, sum, "deleted tickets"); d.Read != 1 || d.Upserted != 1 || d.Updated != 1 {
			t.Errorf("dry run, deleted tickets: %+v", d.Counts)
		}
		if len(rec.writes) > 0 {
			t.Fatalf("the dry run sent Dataverse: %v", rec.writes)
		}
	}
	e.opts.Counter.Base = nil
	if now, n := e.caseTitles(t); n != cases || !maps.Equal(now, titles) {
		t.Fatalf("the dry run changed the cases")
	}
	if cp, err := e.opts.Store.Checkpoint(ctx, e.job.Name, "helpdesk.ticket"); err != nil || cp != before {
		t.Fatalf("the dry run moved the deleted tickets' checkpoint: %+v, was %+v (%v)", cp, before, err)
	}

	sum := e.run(t)
	if c := tableSummary(t, sum, "cases"); c.Read != 2 || c.Upserted != 2 {
		t.Errorf("run after the dry runs, cases: %+v", c.Counts)
	}
	if d := tableSummary(t, sum, "deleted tickets"); d.Read != 1 || d.Upserted != 1 {
		t.Errorf("run after the dry runs, deleted tickets: %+v", d.Counts)
	}
}

// The deleted-ticket check counts instead of reading every id when it can
// show that no ticket it saw is gone; it is not fooled by a create
// that offsets a delete (the count of ids stays the same), nor by a
// ticket whose transaction was still open when the job last looked (an
// id below the greatest seen that the job's id set lacks), and it
// compares every id again once a week.
func TestSyncOdooDeletedTicketCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("migrates a helpdesk")
	}
	clk := newClock(time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC))
	e := startOdooSyncSeed(t, odoojobtest.SmallSeed(t, 12), "overlap: 5m\n", clk.now)
	ctx := context.Background()
	check := func(name, mode string, read, compared int64) syncjob.TableSummary {
		t.Helper()
		clk.advance(10 * time.Minute)
		d := tableSummary(t, e.run(t), "deleted tickets")
		if d.Mode != mode || d.Read != read || (compared >= 0 && d.KeysCompared != compared) {
			t.Fatalf("%s: deleted tickets %s %+v, want %s, %d read, %d ids compared", name, d.Mode, d.Counts, mode, read, compared)
		}
		return d
	}
	const full, count = "odoo id-set comparison", "odoo id count"
	check("first run", full, 0, 12)
	check("quiet run", count, 0, 0)
	ids, err := e.odoo.Search(ctx, "helpdesk.ticket", odoo.Query{Order: "id asc", Context: odoo.Context{}.WithArchived()})
	if err != nil || len(ids) != 12 {
		t.Fatalf("%d tickets, %v", len(ids), err)
	}
	got, err := e.odoo.SearchRead(ctx, "helpdesk.ticket", odoo.Query{Domain: odoo.Cond("id", odoo.Eq, ids[0]), Fields: []string{"partner_id"}})
	if err != nil || len(got) != 1 {
		t.Fatal(got, err)
	}
	partner, _ := got[0].Many2One("partner_id")
	newTicket := func(name string) int {
		t.Helper()
		id, err := e.odoo.Create(ctx, "helpdesk.ticket", map[string]any{"name": name, "team_id": 1, "partner_id": partner.ID})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}

	// A new ticket joins the set without a full comparison.
	created := newTicket("new")
	check("a create", count, 0, 1)

	// A delete and a create: Odoo holds as many tickets as before.
	must(t, e.odoo.Call(ctx, "helpdesk.ticket", "unlink", []int{ids[3]}, nil, nil, false))
	newTicket("offsets the delete")
	check("a delete and a create", full, 1, -1)
	check("quiet run after the delete", count, 0, 0)

	// A ticket whose transaction was still open when a run looked: Odoo
	// holds it under an id below the greatest the run saw (the ticket
	// after it), dated within the run's overlap, and the run's set lacks
	// it. A delete meanwhile is still found, though a count of the ids
	// up to the greatest would come out even.
	lateTicket := func() int {
		t.Helper()
		clk.advance(9 * time.Minute) // a minute before the next run
		late := newTicket("late")
		newTicket("after the late one")
		clk.advance(-9 * time.Minute)
		check("the run the late ticket's transaction was open in", count, 0, 2)
		must(t, e.opts.Store.DeleteKey(ctx, e.job.Name, "helpdesk.ticket", strconv.Itoa(late)))
		return late
	}
	lateTicket()
	must(t, e.odoo.Call(ctx, "helpdesk.ticket", "unlink", []int{ids[5]}, nil, nil, false))
	check("a delete beside a late ticket", full, 1, -1)
	// Alone, the late ticket joins the set by the count.
	late := lateTicket()
	check("a late ticket alone", count, 0, 2)
	if in, err := e.opts.Store.KnownKeys(ctx, e.job.Name, "helpdesk.ticket", []string{strconv.Itoa(late), strconv.Itoa(created)}); err != nil || len(in) != 2 {
		t.Fatalf("the id set lacks the late or the new ticket: %v %v", in, err)
	}

	// A week after the last full comparison, the next run compares in full.
	clk.advance(7 * 24 * time.Hour)
	check("a week later", full, 0, -1)
	check("quiet run after it", count, 0, 0)
}
