package syncjob_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/odoojob"
	"github.com/dvsync/dvsync/migrations/odoojob/odoojobtest"
	"github.com/dvsync/dvsync/migrations/syncjob"
	"github.com/dvsync/dvsync/odoo"
	"github.com/dvsync/dvsync/odoo/odooserver"
)

// Kill-and-resume soaks with a Dataverse target: Dataverse → Dataverse and
// Odoo → Dataverse. A child process runs the sync; the parent kills it
// with SIGKILL at random moments of an initial and an incremental run,
// while the reference Dataverse injects 503s, 500s and dropped
// connections; a last run finishes, and the target must equal the source
// row for row, nothing missing, nothing twice. Sizes are small for CI;
// DVSYNC_SYNC_SOAK_ROWS (Dataverse cases) and DVSYNC_SYNC_SOAK_TICKETS
// (Odoo tickets) make bigger runs.

// Environment of TestSyncSoakChild.
const (
	envSoakChild  = "DVSYNC_SYNC_SOAK_CHILD" // "dataverse" or "odoo"
	envSoakTarget = "DVSYNC_SYNC_SOAK_TARGET"
	envSoakOdoo   = "DVSYNC_SYNC_SOAK_ODOO"
)

func soakSize(env string, def, race int) int {
	if n, err := strconv.Atoi(os.Getenv(env)); err == nil && n > 0 {
		return n
	}
	if raceEnabled {
		return race
	}
	return def
}

// TestSyncSoakChild is the sync process the Dataverse-target soaks kill.
func TestSyncSoakChild(t *testing.T) {
	mode := os.Getenv(envSoakChild)
	if mode == "" {
		t.Skip("run by the Dataverse-target soaks")
	}
	ctx := context.Background()
	ctr := &syncjob.Counter{}
	client := func(url, token string) *dataverse.Client {
		c, err := dataverse.NewClient(url, dataverse.StaticToken(token), &dataverse.ClientOptions{
			Transport: ctr, RetryWaitMin: time.Millisecond, RetryWaitMax: 10 * time.Millisecond, MaxRetries: 30})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	job, err := syncjob.LoadJob(os.Getenv(envKillJob))
	if err != nil {
		t.Fatal(err)
	}
	state := os.Getenv(envKillState)
	st, err := syncjob.OpenStore(ctx, state)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	opts := syncjob.Options{Counter: ctr, Store: st}
	switch mode {
	case "dataverse":
		opts.Client, opts.TargetClient = client(os.Getenv(envKillURL), refToken), client(os.Getenv(envSoakTarget), refToken)
	case "odoo":
		opts.TargetClient = client(os.Getenv(envSoakTarget), odoojobtest.DVToken)
		if opts.Odoo, err = odoo.New(ctx, odoo.Options{URL: os.Getenv(envSoakOdoo), Database: odooserver.Database, Login: "admin",
			APIKey: odoojobtest.OdooKey}); err != nil {
			t.Fatal(err)
		}
		engine, err := migrations.OpenSQLite(ctx, state)
		if err != nil {
			t.Fatal(err)
		}
		defer engine.Close()
		opts.EngineStore = engine
	}
	var rej strings.Builder
	opts.Rejects = &rej
	sum, err := syncjob.Run(ctx, job, opts)
	if err != nil {
		t.Fatalf("%v\nrejects:\n%s", err, rej.String())
	}
	var c syncjob.Counts
	for _, ts := range sum.Tables {
		c.Read += ts.Read
		c.Upserted += ts.Upserted
		c.Deleted += ts.Deleted
		c.Unchanged += ts.Unchanged
		c.Requests += ts.Requests
	}
	fmt.Printf("SUMMARY read=%d upserted=%d deleted=%d unchanged=%d requests=%d\n", c.Read, c.Upserted, c.Deleted, c.Unchanged, c.Requests)
}

// soak runs children of one job and kills them.
type soak struct {
	t     *testing.T
	rng   *rand.Rand
	env   []string
	state string
	job   string
	// progress counts what the runs so far have committed, so a kill can
	// wait for the run under way to commit more.
	progress func() int64
	kills    int
}

func (s *soak) child() *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestSyncSoakChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), s.env...)
	return cmd
}

// killRun starts children and kills each with SIGKILL once the run has
// committed a random number of further checkpoints, plus a random few
// milliseconds: 1 to 4, or up to its share of the about expect
// checkpoints the whole read takes, so kills spread over a big run. It
// returns how many kills landed before the child finished.
// DVSYNC_SYNC_SOAK_KILLS multiplies the kills.
func (s *soak) killRun(phase string, kills, expect int) int {
	t := s.t
	if m, err := strconv.Atoi(os.Getenv("DVSYNC_SYNC_SOAK_KILLS")); err == nil && m > 1 {
		kills *= m
	}
	spread := max(4, expect/kills)
	landed := 0
	for k := range kills {
		cmd := s.child()
		out := &strings.Builder{}
		cmd.Stdout, cmd.Stderr = out, out
		before := s.progress()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		goal := before + 1 + int64(s.rng.IntN(spread))
		finished := false
	wait:
		for {
			select {
			case err := <-done:
				if err != nil {
					// A fault that outlasted the client's retries stops a run;
					// the next one resumes. Anything else is the final check's.
					t.Logf("%s: child %d stopped: %v\n%.1500s", phase, k, err, out.String())
				}
				finished = true
				break wait
			case <-time.After(5 * time.Millisecond):
				if s.progress() >= goal {
					break wait
				}
			}
		}
		if finished {
			t.Logf("%s: child %d ended before its kill", phase, k)
			continue
		}
		time.Sleep(time.Duration(s.rng.IntN(30)) * time.Millisecond)
		cmd.Process.Kill()
		<-done
		landed++
		t.Logf("%s: SIGKILL %d after %d checkpoints of the run", phase, k, s.progress()-before)
	}
	s.kills += landed
	t.Logf("%s: %d SIGKILLs landed", phase, landed)
	return landed
}

// finish runs children until one completes; a fault may stop one.
func (s *soak) finish(phase string) {
	t := s.t
	for attempt := range 5 {
		out, err := s.child().CombinedOutput()
		if err == nil {
			for _, line := range splitLines(string(out)) {
				if strings.HasPrefix(line, "SUMMARY ") {
					t.Logf("%s: final run %s", phase, line)
				}
			}
			return
		}
		t.Logf("%s: final run %d stopped: %v\n%.2000s", phase, attempt, err, out)
	}
	t.Fatalf("%s: no run completed in 5 attempts", phase)
}

// journal logs the sync journal's runs and how many were cut short.
func (s *soak) journal() {
	st := openStore(s.t, s.state)
	runs, err := st.Runs(context.Background(), s.job, 0)
	if err != nil {
		s.t.Fatal(err)
	}
	cut := 0
	for _, r := range runs {
		if r.Status == "running" || r.Status == "interrupted" {
			cut++
		}
	}
	s.t.Logf("journal: %d runs, %d cut short; %d SIGKILLs in all", len(runs), cut, s.kills)
}

// checkpoints counts the checkpoints a sync job has saved: every save
// rewrites its table's row, so the distinct states seen so far.
func checkpoints(state, job string) func() int64 {
	return distinctRows(state, `SELECT tbl, state FROM dvsync_sync_state WHERE job = ?`, job)
}

// engineCheckpoints counts the checkpoints the migrations engine has saved
// for a job (the Odoo steps of a sync), as checkpoints does.
func engineCheckpoints(state, job string) func() int64 {
	return distinctRows(state, `SELECT step, cursor FROM checkpoints WHERE job = ?`, job)
}

// distinctRows counts the distinct (a, b) rows query has returned so far,
// read-only beside the process writing them.
func distinctRows(state, query, job string) func() int64 {
	seen := map[string]bool{}
	return func() int64 {
		db, err := sql.Open("sqlite", "file:"+state+"?mode=ro&_pragma=busy_timeout(5000)")
		if err != nil {
			return int64(len(seen))
		}
		defer db.Close()
		rows, err := db.Query(query, job)
		if err != nil {
			return int64(len(seen))
		}
		defer rows.Close()
		for rows.Next() {
			var a, b string
			if rows.Scan(&a, &b) == nil {
				seen[a+"\x00"+b] = true
			}
		}
		return int64(len(seen))
	}
}

// soakCase is what the Dataverse → Dataverse soak compares of a case.
type soakCase struct {
	title, priority, origin, state, status, customer string
}

// cases reads every case of an environment by case number, with its
// customer as the account's number (GUIDs differ between environments).
func cases(t *testing.T, c *dataverse.Client) map[string]soakCase {
	t.Helper()
	ctx := context.Background()
	accounts := map[string]string{}
	for rec, err := range c.Records(ctx, "account", dataverse.Query{Select: []string{"accountid", "accountnumber", "name"}}) {
		must(t, err)
		accounts[strings.ToLower(rec.String("accountid"))] = rec.String("accountnumber") + "/" + rec.String("name")
	}
	out := map[string]soakCase{}
	for rec, err := range c.Records(ctx, "incident", dataverse.Query{Select: []string{"ticketnumber", "title", "prioritycode", "caseorigincode",
		"statecode", "statuscode", "_customerid_value"}}) {
		must(t, err)
		n := rec.String("ticketnumber")
		if _, dup := out[n]; dup {
			t.Errorf("case %s is there twice", n)
		}
		out[n] = soakCase{title: rec.String("title"), priority: rec.String("prioritycode"), origin: rec.String("caseorigincode"),
			state: rec.String("statecode"), status: rec.String("statuscode"), customer: accounts[strings.ToLower(rec.String("_customerid_value"))]}
	}
	return out
}

func assertSameCases(t *testing.T, src, dst *dataverse.Client, want int) {
	t.Helper()
	a, b := cases(t, src), cases(t, dst)
	missing, differ := 0, 0
	for n, sc := range a {
		dc, ok := b[n]
		switch {
		case !ok:
			missing++
		case dc != sc:
			differ++
			if differ <= 3 {
				t.Errorf("case %s: source %+v, target %+v", n, sc, dc)
			}
		}
		delete(b, n)
	}
	if len(a) != want || missing > 0 || differ > 0 || len(b) > 0 {
		t.Fatalf("%d source cases (want %d): %d missing from the target, %d differing, %d in the target only", len(a), want, missing, differ, len(b))
	}
}

// TestSyncDataverseTargetKillAndResume: Dataverse → Dataverse, written by
// case number with customers re-bound by account number, both
// environments injecting faults.
func TestSyncDataverseTargetKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	rows := soakSize("DVSYNC_SYNC_SOAK_ROWS", 1500, 600)
	src := newEnv(t, refserver.Options{Faults: &refserver.Faults{Seed: 7, Unavailable: 0.03, Internal: 0.01, Reset: 0.03}})
	dst := newEnv(t, refserver.Options{Faults: &refserver.Faults{Seed: 8, Unavailable: 0.03, Internal: 0.01, Reset: 0.03}})
	ctx := context.Background()
	const srcAcc, dstAcc = "0a0a0a0a-0000-4000-8000-00000000a001", "0b0b0b0b-0000-4000-8000-00000000b001"
	for _, e := range []struct {
		env *env
		id  string
	}{{src, srcAcc}, {dst, dstAcc}} {
		must(t, e.env.srv.InsertRows(ctx, "account", 1, func(int) map[string]any {
			return map[string]any{"accountid": e.id, "name": "Fabrikam", "accountnumber": "ACC-1", "statecode": 0, "statuscode": 1}
		}))
	}
	must(t, src.srv.InsertRows(ctx, "incident", rows, func(i int) map[string]any {
		return map[string]any{"incidentid": incidentID(i), "title": fmt.Sprintf("Case %07d", i), "ticketnumber": fmt.Sprintf("CAS-%07d", i),
			"prioritycode": i%3 + 1, "caseorigincode": i%3 + 1, "statecode": 0, "statuscode": 1,
			"customerid": refserver.Ref{Table: "account", ID: srcAcc}}
	}))
	jobPath := filepath.Join(src.dir, "dvsoak.yaml")
	text := fmt.Sprintf("name: dvsoak\nsource:\n  dataverse: {env: %s}\ntarget:\n  dataverse: {env: %s}\ntables: [incident]\npage_size: %d\n",
		src.url, dst.url, killPage)
	must(t, os.WriteFile(jobPath, []byte(text), 0o600))
	state := filepath.Join(src.dir, "state.db")
	s := &soak{t: t, rng: rand.New(rand.NewPCG(17, 2026)), state: state, job: "dvsoak", progress: checkpoints(state, "dvsoak"),
		env: []string{envSoakChild + "=dataverse", envKillURL + "=" + src.url, envSoakTarget + "=" + dst.url, envKillJob + "=" + jobPath, envKillState + "=" + state}}

	if s.killRun("initial", 4, rows/killPage) == 0 {
		t.Fatal("no kill landed during the initial run")
	}
	s.finish("initial")
	sc, _ := src.client(t, 0)
	dc, _ := dst.client(t, 0)
	assertSameCases(t, sc, dc, rows)

	// rows/5 changes: updates, creates, deletes and resolutions, through
	// the faulty server, each idempotent (updates and upserts by key, a
	// delete found gone, a resolution found resolved).
	n := rows / 5
	for i := range n * 6 / 10 {
		must(t, sc.Update(ctx, "incident", dataverse.ByKey("incidentid", incidentID(i*5)), dataverse.Record{"title": fmt.Sprintf("updated %d", i), "prioritycode": 1}, nil))
	}
	for i := range n / 5 {
		id := uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "dvsoak-%d", i))
		_, err := sc.Upsert(ctx, "incident", dataverse.ByID(id), dataverse.Record{"title": "created", "ticketnumber": fmt.Sprintf("NEW-%05d", i),
			"customerid_account@odata.bind": "/accounts(" + srcAcc + ")"})
		must(t, err)
	}
	for i := range n / 10 {
		id, _ := uuidOf(incidentID(i*5 + 1))
		if err := sc.Delete(ctx, "incident", dataverse.ByID(id), nil); err != nil && !dataverse.IsNotFound(err) {
			t.Fatal(err)
		}
	}
	for i := range n / 10 {
		id := incidentID(i*5 + 2)
		err := sc.InvokeAction(ctx, "CloseIncident", map[string]any{"Status": 5, "IncidentResolution": map[string]any{"subject": "Resolved",
			"incidentid@odata.bind": "/incidents(" + id + ")"}}, nil, &dataverse.ActionOptions{Idempotent: true})
		if err != nil {
			got, gerr := sc.Get(ctx, "incident", dataverse.ByKey("incidentid", id), "statecode")
			if gerr != nil || got.String("statecode") != "1" {
				t.Fatalf("resolving %s: %v", id, err)
			}
		}
	}
	if s.killRun("incremental", 3, n/killPage) == 0 {
		t.Fatal("no kill landed during the incremental run")
	}
	s.finish("incremental")
	assertSameCases(t, sc, dc, rows+n/5-n/10)
	s.journal()
}

// TestSyncOdooTargetKillAndResume: Odoo → Dataverse (tickets with their
// messages, SLA outcomes and customers), the reference Dataverse injecting
// faults; afterwards verify reads every Odoo record and finds its target
// record once with the same values.
func TestSyncOdooTargetKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	tickets := soakSize("DVSYNC_SYNC_SOAK_TICKETS", 300, 80)
	ctx := context.Background()
	dir := t.TempDir()
	faults, err := refserver.ParseFaults("seed=5,503=0.02,500=0.005,reset=0.02")
	must(t, err)
	ref, err := refserver.New(refserver.Options{Token: odoojobtest.DVToken, DataPath: filepath.Join(dir, "dataverse.db"), Faults: faults})
	must(t, err)
	t.Cleanup(func() { ref.Close() })
	_, err = ref.LoadSeed(ctx, odoojobtest.Testdata("dataverse", "seed"))
	must(t, err)
	hs := httptest.NewServer(ref)
	t.Cleanup(hs.Close)
	// The wall clock, so write_date moves as tickets change.
	osrv, err := odooserver.New(odooserver.Options{APIKey: odoojobtest.OdooKey, SeedDir: odoojobtest.SmallSeed(t, tickets)})
	must(t, err)
	ohs := httptest.NewServer(osrv)
	t.Cleanup(ohs.Close)
	oc, err := odoo.New(ctx, odoo.Options{URL: ohs.URL, Database: odooserver.Database, Login: "admin", APIKey: odoojobtest.OdooKey})
	must(t, err)
	dv, err := dataverse.NewClient(hs.URL, dataverse.StaticToken(odoojobtest.DVToken), &dataverse.ClientOptions{
		RetryWaitMin: time.Millisecond, RetryWaitMax: 10 * time.Millisecond, MaxRetries: 30})
	must(t, err)
	countCases := func() int {
		n := 0
		for _, err := range dv.Records(ctx, "incident", dataverse.Query{Select: []string{"incidentid"}}) {
			must(t, err)
			n++
		}
		return n
	}
	before := countCases()

	jobPath := filepath.Join(dir, "odoosoak.yaml")
	text := fmt.Sprintf("name: odoosoak\nsource:\n  odoo: {url: %s, db: %s, user: admin}\ntarget:\n  dataverse: {env: %s}\nmap: %s\npage_size: 50\noverlap: 2s\ndeleted_tickets: delete\n",
		ohs.URL, odooserver.Database, hs.URL, odoojobtest.Testdata("odoodv", "demo-map.yaml"))
	must(t, os.WriteFile(jobPath, []byte(text), 0o600))
	state := filepath.Join(dir, "state.db")
	s := &soak{t: t, rng: rand.New(rand.NewPCG(23, 2026)), state: state, job: "odoosoak", progress: engineCheckpoints(state, odoojob.JobName(odooserver.Database)),
		env: []string{envSoakChild + "=odoo", envSoakOdoo + "=" + ohs.URL, envSoakTarget + "=" + hs.URL, envKillJob + "=" + jobPath, envKillState + "=" + state}}

	// About 100 records a checkpoint; 5 records (messages, SLA outcomes)
	// a ticket.
	if s.killRun("initial", 4, tickets*5/100) == 0 {
		t.Fatal("no kill landed during the initial run")
	}
	s.finish("initial")
	verifyOdoo(t, oc, dv, state)
	if n := countCases(); n != before+tickets {
		t.Fatalf("%d cases added for %d tickets", n-before, tickets)
	}

	// A day's changes: renames, closing and reopening, answers, customers
	// renamed, new customers with new tickets, and deleted tickets.
	ids, err := oc.Search(ctx, "helpdesk.ticket", odoo.Query{Order: "id asc", Context: odoo.Context{}.WithArchived()})
	must(t, err)
	w := &odooWriter{t: t, e: &odooEnv{odoo: oc}, tickets: ids[2:], persons: soakPersons(t, oc),
		stage: map[int]int{}, emails: map[int]string{}, newTicks: map[int]int{}, bodies: map[int]string{}}
	changes := max(tickets/3, 20)
	for k := range changes {
		w.step(k)
	}
	// Deleting a ticket deletes its messages (mail.thread.unlink); the
	// reference Odoo leaves them, so they go first.
	msgs, err := oc.Search(ctx, "mail.message", odoo.Query{Domain: odoo.And(odoo.Cond("model", odoo.Eq, "helpdesk.ticket"),
		odoo.Cond("res_id", odoo.In, []any{ids[0], ids[1]}))})
	must(t, err)
	must(t, oc.Call(ctx, "mail.message", "unlink", msgs, nil, nil, false))
	must(t, oc.Call(ctx, "helpdesk.ticket", "unlink", ids[:2], nil, nil, false))
	if s.killRun("incremental", 3, changes*2/100) == 0 {
		t.Fatal("no kill landed during the incremental run")
	}
	s.finish("incremental")
	verifyOdoo(t, oc, dv, state)
	if n, want := countCases(), before+tickets+len(w.newTicks)-2; n != want {
		t.Fatalf("%d cases, want %d (%d tickets, %d new, 2 deleted)", n, want, tickets, len(w.newTicks))
	}
	s.journal()
}

func soakPersons(t *testing.T, oc *odoo.Client) []int {
	t.Helper()
	ctx := context.Background()
	users, err := oc.SearchRead(ctx, "res.users", odoo.Query{Fields: []string{"partner_id"}, Context: odoo.Context{}.WithArchived()})
	must(t, err)
	var agents []any
	for _, u := range users {
		p, _ := u.Many2One("partner_id")
		agents = append(agents, p.ID)
	}
	persons, err := oc.Search(ctx, "res.partner", odoo.Query{Domain: odoo.And(odoo.Cond("is_company", odoo.Eq, false),
		odoo.Cond("id", odoo.NotIn, agents)), Order: "id asc"})
	must(t, err)
	return persons
}

// verifyOdoo reads every Odoo record the migration carries and checks its
// target record: found once, same values, nothing rejected.
func verifyOdoo(t *testing.T, oc *odoo.Client, dv *dataverse.Client, state string) {
	t.Helper()
	store, err := migrations.OpenSQLite(context.Background(), state)
	must(t, err)
	defer store.Close()
	verifyOdooStore(t, oc, dv, store)
}

func verifyOdooStore(t testing.TB, oc *odoo.Client, dv *dataverse.Client, store migrations.Store) {
	t.Helper()
	ctx := context.Background()
	rep, err := odoojob.Verify(ctx, odoojob.Config{Odoo: oc, Database: odooserver.Database, Dataverse: dv, Map: odoojobtest.DemoMap(t), Store: store}, 0, 0)
	must(t, err)
	for _, s := range rep.Steps {
		for name, tr := range s.Tables {
			if tr.Missing != 0 || tr.Duplicated != 0 || tr.Unexpected != 0 || tr.Differing != 0 || tr.Rejected != 0 {
				t.Errorf("%s/%s: %+v", s.Step, name, *tr)
			}
		}
	}
	if !rep.OK {
		t.Fatalf("verify: %d mismatches, %d rejected", rep.Mismatches(), rep.Rejected)
	}
}
