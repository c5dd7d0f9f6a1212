package odoojob

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dvsync/dvsync/dataverse"
	"github.com/dvsync/dvsync/dataverse/refserver"
	"github.com/dvsync/dvsync/mapping/odoodv"
	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/migrations/odoojob/odoojobtest"
	"github.com/dvsync/dvsync/odoo"
	"github.com/dvsync/dvsync/odoo/helpdesk"
	"github.com/dvsync/dvsync/odoo/odooserver"
)

const (
	dvToken = odoojobtest.DVToken
	odooKey = odoojobtest.OdooKey
)

type servers struct {
	dvURL, odooURL string
	dv             *dataverse.Client
	odoo           *odoo.Client
	ref            *refserver.Server
}

// startServers starts the reference Dataverse (with its seed, for users and
// calendars) and the reference Odoo with seedDir.
func startServers(t testing.TB, seedDir string, faults *refserver.Faults) *servers {
	t.Helper()
	s := odoojobtest.Start(t, seedDir, faults)
	return &servers{dvURL: s.DVURL, odooURL: s.OdooURL, dv: s.DV, odoo: s.Odoo, ref: s.Ref}
}

func smallSeed(t testing.TB, n int) string { return odoojobtest.SmallSeed(t, n) }

func demoMap(t testing.TB) *odoodv.Map { return odoojobtest.DemoMap(t) }

func openStore(t testing.TB, dir string) migrations.Store {
	t.Helper()
	s, err := migrations.OpenSQLite(context.Background(), filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func stepCounts(sum *migrations.Summary) map[string]migrations.Counts {
	out := map[string]migrations.Counts{}
	for _, s := range sum.Steps {
		out[s.Step] = s.Counts
	}
	return out
}

// TestMigrateSeedEndToEnd migrates the reference Odoo's seed into the
// reference Dataverse and checks every case's customer, queue and notes
// against the Odoo source, then verifies, then re-runs and checks nothing
// was duplicated.
func TestMigrateSeedEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := startServers(t, "../../testdata/odoo/seed", nil)
	store := openStore(t, t.TempDir())
	var rejects bytes.Buffer
	cfg := Config{Odoo: s.odoo, Database: odooserver.Database, Dataverse: s.dv, Map: demoMap(t), Store: store, Rejects: &rejects}
	sum, p, err := Migrate(ctx, cfg)
	if err != nil {
		t.Fatalf("migrate: %v\nrejects:\n%s", err, rejects.String())
	}
	counts := stepCounts(sum)
	for step, c := range counts {
		if err := c.Reconcile(step); err != nil {
			t.Error(err)
		}
		t.Logf("%-13s %+v", step, c)
	}
	if rejects.Len() > 0 {
		t.Errorf("rejects:\n%s", rejects.String())
	}
	if c := counts[odoodv.StepCases]; c.Read != 300 || c.TotalWritten() != 300 {
		t.Errorf("cases %+v, want 300 read and written", c)
	}
	if c := counts[odoodv.StepUsers]; c.Unchanged != 6 || c.Skipped != 1 {
		t.Errorf("users %+v, want admin and the 5 agents matched, OdooBot skipped", c)
	}

	// Links, from the Odoo side: every ticket's case has the customer,
	// owner, queue and notes the source says.
	mp := p.Mapper
	users := map[int]string{}
	for _, u := range p.Context.Users {
		users[u.ID] = mp.UserEmail(u)
	}
	notesPerTicket := map[int]int{}
	for m, err := range p.Reader.TicketMessages(ctx, helpdesk.Query{}) {
		if err != nil {
			t.Fatal(err)
		}
		if r := mp.Note(m, odoodv.MigratedFunc(func(string, int) bool { return true })); r.Skip == "" {
			notesPerTicket[m.TicketID]++
		}
	}
	queueOf := map[string]string{}
	for qi, err := range s.dv.Records(ctx, "queueitem", dataverse.Query{Select: []string{"_objectid_value", "_queueid_value"}}) {
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := queueOf[qi.String("_objectid_value")]; dup {
			t.Errorf("case %s is in two queues", qi.String("_objectid_value"))
		}
		queueOf[qi.String("_objectid_value")] = qi.String("_queueid_value")
	}
	notesOf := map[string]int{}
	for n, err := range s.dv.Records(ctx, "annotation", dataverse.Query{Select: []string{"_objectid_value"}}) {
		if err != nil {
			t.Fatal(err)
		}
		notesOf[n.String("_objectid_value")]++
	}
	userID := map[string]string{}
	var checked, resolved, cancelled int
	for tk, err := range p.Reader.Tickets(ctx, helpdesk.Query{Archived: true}) {
		if err != nil {
			t.Fatal(err)
		}
		id := mp.IncidentID(tk.ID).String()
		inc, err := s.dv.Get(ctx, "incident", dataverse.ByID(mp.IncidentID(tk.ID)))
		if err != nil {
			t.Fatalf("ticket %d: %v", tk.ID, err)
		}
		checked++
		if got := inc.String("ticketnumber"); got != tk.Number {
			t.Errorf("ticket %d: ticketnumber %q, want %q", tk.ID, got, tk.Number)
		}
		cust := inc.String("_customerid_value")
		want := mp.ContactID(tk.Partner.ID).String()
		if tk.CommercialPartner.Valid() && tk.CommercialPartner.ID != tk.Partner.ID {
			want = mp.AccountID(tk.CommercialPartner.ID).String()
			if got := inc.String("_primarycontactid_value"); got != mp.ContactID(tk.Partner.ID).String() {
				t.Errorf("ticket %d: primary contact %s, want the partner's contact", tk.ID, got)
			}
		}
		if cust != want {
			t.Errorf("ticket %d: customer %s, want %s", tk.ID, cust, want)
		}
		if q := queueOf[id]; q != mp.QueueID(tk.Team.ID).String() {
			t.Errorf("ticket %d: queue %q, want team %d's", tk.ID, q, tk.Team.ID)
		}
		if got, want := notesOf[id], notesPerTicket[tk.ID]; got != want {
			t.Errorf("ticket %d: %d notes, want %d", tk.ID, got, want)
		}
		if tk.User.Valid() {
			email, ok := users[tk.User.ID]
			if !ok {
				email = p.Mapper.Map().Users.DefaultOwner
			}
			if userID[email] == "" {
				u, err := s.dv.Get(ctx, "systemuser", dataverse.ByKey("internalemailaddress", email), "systemuserid")
				if err != nil {
					t.Fatalf("user %s: %v", email, err)
				}
				userID[email] = u.String("systemuserid")
			}
			if got := inc.String("_ownerid_value"); got != userID[email] {
				t.Errorf("ticket %d: owner %s, want %s (%s)", tk.ID, got, userID[email], email)
			}
		}
		switch inc.String("statecode") {
		case "1":
			resolved++
		case "2":
			cancelled++
		}
		st := mp.CaseState(helpdesk.Stage{ID: tk.Stage.ID, Name: tk.Stage.Name, Closed: tk.Closed})
		if !dataverse.SameValue(inc["statuscode"], st.Status) {
			t.Errorf("ticket %d in stage %q: statuscode %v, want %d", tk.ID, tk.Stage.Name, inc["statuscode"], st.Status)
		}
	}
	if checked != 300 || resolved == 0 || cancelled == 0 {
		t.Errorf("checked %d cases, %d resolved, %d cancelled: want 300 with both states present", checked, resolved, cancelled)
	}
	// Each resolved case has its Case Resolution.
	var resolutions int
	for _, err := range s.dv.Records(ctx, "incidentresolution", dataverse.Query{Select: []string{"activityid"}, Filter: dataverse.StartsWith("subject", "Resolved in Odoo")}) {
		if err != nil {
			t.Fatal(err)
		}
		resolutions++
	}
	if resolutions != resolved {
		t.Errorf("%d case resolutions for %d resolved cases", resolutions, resolved)
	}

	// Running the cases again from the start (the step with state
	// transitions; the other steps are plain upserts) rewrites them and
	// duplicates nothing.
	sum2, err := migrations.Run(ctx, p.Job, migrations.RunOptions{Store: store, Restart: true, Steps: []string{odoodv.StepCases}})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range sum2.Steps {
		if st.Counts.Created != 0 || st.Counts.Rejected != 0 {
			t.Errorf("re-run %s: %+v, want no creates and no rejects", st.Step, st.Counts)
		}
	}
	for _, st := range sum2.Steps {
		if st.Step == odoodv.StepCases && st.Tables["incident"].Unchanged == 0 {
			t.Errorf("re-run incidents %+v: closed cases that match should be unchanged", st.Tables["incident"])
		}
	}
	rep, err := Verify(ctx, cfg, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		var b bytes.Buffer
		rep.WriteJSON(&b)
		t.Fatalf("verify after re-run: %d mismatches:\n%s", rep.Mismatches(), truncateForLog(b.String()))
	}
}

// TestVerifyFindsDamage damages the target after a migration (a note
// deleted, a case's customer changed, a duplicate account) and checks that
// verify reports each.
func TestVerifyFindsDamage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := startServers(t, smallSeed(t, 30), nil)
	cfg := Config{Odoo: s.odoo, Database: odooserver.Database, Dataverse: s.dv, Map: demoMap(t), Store: openStore(t, t.TempDir())}
	_, p, err := Migrate(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	mp := p.Mapper
	if err := s.dv.Delete(ctx, "annotation", dataverse.ByID(odoodv.ID("", odooserver.Database, "mail.message", 1)), nil); err != nil {
		t.Fatal(err)
	}
	// An open case, whose customer can change.
	open := 0
	for r, err := range s.dv.Records(ctx, "incident", dataverse.Query{Select: []string{"ticketnumber"}, Filter: dataverse.Eq("statecode", 0)}) {
		if err != nil {
			t.Fatal(err)
		}
		for id := 1; id <= 30 && open == 0; id++ {
			if r.String("incidentid") == mp.IncidentID(id).String() {
				open = id
			}
		}
	}
	if open == 0 {
		t.Fatal("no open migrated case")
	}
	if err := s.dv.Update(ctx, "incident", dataverse.ByID(mp.IncidentID(open)), dataverse.Record{"customerid_account@odata.bind": "/accounts(" + mp.AccountID(10).String() + ")", "title": "edited"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.dv.Create(ctx, "account", dataverse.Record{"name": "Stray", "accountnumber": "STRAY-1"}); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(ctx, cfg, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	var fields []string
	for _, st := range rep.Steps {
		for _, m := range st.Mismatches {
			kinds[m.Kind]++
			for _, f := range m.Fields {
				fields = append(fields, f.Field)
			}
		}
		if st.Step == odoodv.StepAccounts && st.Tables["account"].Unexpected != 1 {
			t.Errorf("accounts: %+v, want 1 unexpected", st.Tables["account"])
		}
	}
	if rep.OK || kinds[migrations.MismatchMissing] != 1 || kinds[migrations.MismatchDiffering] != 1 {
		t.Errorf("report OK=%v kinds %v, want one missing note and one differing case", rep.OK, kinds)
	}
	if !slices.Contains(fields, "customerid") || !slices.Contains(fields, "title") {
		t.Errorf("differing fields %v, want customerid and title", fields)
	}
	// A seeded sample checks fewer records, the same way twice.
	a, err := Verify(ctx, cfg, 20, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Verify(ctx, cfg, 20, 7)
	for i := range a.Steps {
		if a.Steps[i].Checked > 20 || a.Steps[i].Checked != b.Steps[i].Checked || a.Steps[i].Mismatches == nil != (b.Steps[i].Mismatches == nil) {
			t.Errorf("sampled %s: %d/%d checked", a.Steps[i].Step, a.Steps[i].Checked, b.Steps[i].Checked)
		}
	}
}

func truncateForLog(s string) string {
	if len(s) > 8000 {
		return s[:8000] + "\n…"
	}
	return s
}

var _ = strings.Contains

// TestMigrateFlavours migrates the seed served as OCA helpdesk_mgmt on Odoo
// 16 (no SLA models, closed flag on stages) and as Enterprise on Odoo 19
// (JSON-2, no ticket types), and verifies each.
func TestMigrateFlavours(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		version int
		flavour string
		slas    bool
	}{{16, odooserver.FlavourOCA, false}, {19, odooserver.FlavourEnterprise, true}} {
		t.Run(fmt.Sprint(tt.flavour, tt.version), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := startServers(t, "", nil)
			osrv, err := odooserver.New(odooserver.Options{Version: tt.version, Flavour: tt.flavour, APIKey: odooKey, SeedDir: smallSeed(t, 40)})
			if err != nil {
				t.Fatal(err)
			}
			os := httptest.NewServer(osrv)
			defer os.Close()
			oc, err := odoo.New(ctx, odoo.Options{URL: os.URL, Database: odooserver.Database, Login: "admin", APIKey: odooKey})
			if err != nil {
				t.Fatal(err)
			}
			var rejects bytes.Buffer
			cfg := Config{Odoo: oc, Database: odooserver.Database, Dataverse: s.dv, Map: demoMap(t), Store: openStore(t, t.TempDir()), Rejects: &rejects}
			sum, p, err := Migrate(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			c := stepCounts(sum)
			if c[odoodv.StepCases].TotalWritten() != 40 || (c[odoodv.StepSLAItems].Read > 0) != tt.slas || rejects.Len() > 0 {
				t.Errorf("%+v\n%s", c, rejects.String())
			}
			if string(p.Reader.Flavour) != tt.flavour {
				t.Errorf("flavour %s", p.Reader.Flavour)
			}
			rep, err := Verify(ctx, cfg, 0, 0)
			if err != nil || !rep.OK {
				t.Fatalf("verify: %v, %d mismatches", err, rep.Mismatches())
			}
		})
	}
}
