package helpdesk_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/dvsync/dvsync/odoo"
	"github.com/dvsync/dvsync/odoo/helpdesk"
	"github.com/dvsync/dvsync/odoo/odooserver"
)

func reader(t *testing.T, version int, flavour string) *helpdesk.Reader {
	return readerWith(t, odooserver.Options{Version: version, Flavour: flavour})
}

func readerWith(t *testing.T, opts odooserver.Options) *helpdesk.Reader {
	t.Helper()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	opts.APIKey, opts.SeedDir, opts.Now = "k", "../../testdata/odoo/seed", func() time.Time { return now }
	srv, err := odooserver.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	c, err := odoo.New(context.Background(), odoo.Options{URL: ts.URL, Database: "dvsync", Login: "admin", APIKey: "k", PageSize: 64, RetryBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	r, err := helpdesk.Detect(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func tickets(t *testing.T, r *helpdesk.Reader) map[int]helpdesk.Ticket {
	t.Helper()
	out := map[int]helpdesk.Ticket{}
	for tk, err := range r.Tickets(context.Background(), helpdesk.Query{Archived: true}) {
		if err != nil {
			t.Fatal(err)
		}
		out[tk.ID] = tk
	}
	return out
}

func TestFlavoursAndVersions(t *testing.T) {
	ctx := context.Background()
	for v := 16; v <= 19; v++ {
		for _, fl := range []string{odooserver.FlavourEnterprise, odooserver.FlavourOCA} {
			t.Run(fmt.Sprintf("%d-%s", v, fl), func(t *testing.T) {
				r := reader(t, v, fl)
				if string(r.Flavour) != fl || r.Version != v {
					t.Fatalf("detected %s %d", r.Flavour, r.Version)
				}
				teams, err := r.Teams(ctx)
				if err != nil || len(teams) != 4 || teams[0].Name != "Customer Care" || len(teams[0].Members) != 4 {
					t.Fatalf("teams = %+v, %v", teams, err)
				}
				stages, err := r.Stages(ctx)
				if err != nil || len(stages) != 5 {
					t.Fatalf("stages = %v, %v", stages, err)
				}
				closed := map[int]bool{}
				for _, s := range stages {
					closed[s.ID] = s.Closed
				}
				if !closed[4] || !closed[5] || closed[2] {
					t.Fatalf("closed stages = %v", closed)
				}
				all := tickets(t, r)
				if len(all) != 300 {
					t.Fatalf("%d tickets", len(all))
				}
				tk := all[7]
				wantNumber := "07"
				if fl == odooserver.FlavourOCA {
					wantNumber = "HT00007"
				}
				if tk.Number != wantNumber {
					t.Fatalf("number = %q", tk.Number)
				}
				for _, tk := range all {
					if tk.Closed != closed[tk.Stage.ID] {
						t.Fatalf("ticket %d closed=%v in stage %v", tk.ID, tk.Closed, tk.Stage)
					}
					if tk.Closed != !tk.CloseDate.IsZero() {
						t.Fatalf("ticket %d closed=%v close date %v", tk.ID, tk.Closed, tk.CloseDate)
					}
				}
				_, err = r.TicketTypes(ctx)
				if hasTypes := fl == odooserver.FlavourEnterprise && v <= 17; hasTypes != (err == nil) {
					t.Fatalf("ticket types: %v", err)
				} else if !hasTypes && !errors.Is(err, helpdesk.ErrNotInstalled) {
					t.Fatalf("ticket types error = %v", err)
				}
				_, errCat := r.Categories(ctx)
				_, errSLA := r.SLAPolicies(ctx)
				var errArt error
				for _, err := range r.Articles(ctx, helpdesk.Query{}) {
					errArt = err
					break
				}
				if fl == odooserver.FlavourOCA {
					if errCat != nil || !errors.Is(errSLA, helpdesk.ErrNotInstalled) || !errors.Is(errArt, helpdesk.ErrNotInstalled) {
						t.Fatalf("OCA: categories %v, SLA %v, articles %v", errCat, errSLA, errArt)
					}
					if !tk.Category.Valid() || !tk.Channel.Valid() || tk.TicketType.Valid() {
						t.Fatalf("OCA ticket classifiers: %+v %+v %+v", tk.Category, tk.Channel, tk.TicketType)
					}
				} else {
					if !errors.Is(errCat, helpdesk.ErrNotInstalled) || errSLA != nil || errArt != nil {
						t.Fatalf("EE: categories %v, SLA %v, articles %v", errCat, errSLA, errArt)
					}
					if tk.TicketType.Valid() != (v <= 17) || tk.Category.Valid() {
						t.Fatalf("EE ticket classifiers: %+v %+v", tk.TicketType, tk.Category)
					}
				}
			})
		}
	}
}

// TestNormalisationAgreesAcrossFlavours reads the same seed as Enterprise
// and as OCA: the concepts both flavours share must come out identical.
func TestNormalisationAgreesAcrossFlavours(t *testing.T) {
	ee := tickets(t, reader(t, 17, odooserver.FlavourEnterprise))
	oca := tickets(t, reader(t, 17, odooserver.FlavourOCA))
	for id, a := range ee {
		b := oca[id]
		if a.Closed != b.Closed || !a.CloseDate.Equal(b.CloseDate) || !a.AssignDate.Equal(b.AssignDate) ||
			!a.LastStageUpdate.Equal(b.LastStageUpdate) || a.Priority != b.Priority || a.Stage.Name != b.Stage.Name ||
			a.Team.Name != b.Team.Name || a.Partner != b.Partner || a.User != b.User || a.Active != b.Active {
			t.Fatalf("ticket %d differs:\nEE  %+v\nOCA %+v", id, a, b)
		}
		if a.Flavour != helpdesk.Enterprise || b.Flavour != helpdesk.OCA {
			t.Fatal("flavour not recorded")
		}
	}
	if helpdesk.PriorityLabel(helpdesk.OCA, "3") != "Very High" || helpdesk.PriorityLabel(helpdesk.Enterprise, "3") != "Urgent" {
		t.Fatal("priority labels")
	}
	if helpdesk.DefaultPriority(helpdesk.OCA) != "1" || helpdesk.DefaultPriority(helpdesk.Enterprise) != "0" {
		t.Fatal("default priority")
	}
}

func TestMessagesSLAsAndWatermark(t *testing.T) {
	ctx := context.Background()
	r := reader(t, 16, odooserver.FlavourEnterprise)
	n, internal := 0, 0
	for m, err := range r.TicketMessages(ctx, helpdesk.Query{Domain: odoo.Cond("res_id", odoo.In, []int{1, 2, 3})}) {
		if err != nil {
			t.Fatal(err)
		}
		if m.TicketID < 1 || m.TicketID > 3 || m.Body == "" || m.Date.IsZero() {
			t.Fatalf("message %+v", m)
		}
		if m.Internal {
			internal++
		}
		n++
	}
	if n < 3 {
		t.Fatalf("%d messages", n)
	}
	statuses := 0
	for s, err := range r.SLAStatuses(ctx, helpdesk.Query{}) {
		if err != nil {
			t.Fatal(err)
		}
		if s.Deadline.IsZero() || (s.Status != "reached" && s.Status != "failed" && s.Status != "ongoing") {
			t.Fatalf("status %+v", s)
		}
		statuses++
	}
	if statuses == 0 {
		t.Fatal("no SLA statuses")
	}
	// Watermark read: tickets written after 2026-02-01.
	since := odoo.Watermark{WriteDate: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)}
	var last time.Time
	count := 0
	for tk, err := range r.Tickets(ctx, helpdesk.Query{Since: &since, Archived: true}) {
		if err != nil {
			t.Fatal(err)
		}
		if !tk.WriteDate.After(since.WriteDate) || tk.WriteDate.Before(last) {
			t.Fatalf("ticket %d write_date %v out of order", tk.ID, tk.WriteDate)
		}
		last = tk.WriteDate
		count++
	}
	if count == 0 || count >= 300 {
		t.Fatalf("%d tickets since %v", count, since.WriteDate)
	}
}

// TestExportFailureLeavesNoFiles: a model that keeps failing mid-export
// (every page is over the emulated worker limit) aborts the export, and
// neither complete-looking nor partial files remain.
func TestExportFailureLeavesNoFiles(t *testing.T) {
	r := readerWith(t, odooserver.Options{Version: 17, MaxRecordsPerCall: 8})
	dir := t.TempDir()
	// Pages never shrink below 10 records, so the 36 partners keep failing.
	_, err := r.Export(context.Background(), helpdesk.ExportOptions{Dir: dir, Models: []string{"helpdesk.stage", "res.partner"}, Concurrency: 1})
	if !odoo.IsTransient(err) {
		t.Fatalf("err = %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("files left: %v", entries)
	}
	// The same export within the limit succeeds.
	sum, err := r.Export(context.Background(), helpdesk.ExportOptions{Dir: dir, Models: []string{"helpdesk.stage"}, PageSize: 5})
	if err != nil || sum.Records != 5 {
		t.Fatalf("export: %+v, %v", sum, err)
	}
}

func TestCalendars(t *testing.T) {
	r := reader(t, 18, odooserver.FlavourOCA)
	cals, err := r.Calendars(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(cals) != 2 || cals[0].TZ != "Europe/Brussels" || len(cals[0].Attendances) != 10 || len(cals[1].Attendances) != 6 {
		t.Fatalf("calendars = %+v", cals)
	}
	if a := cals[0].Attendances[0]; a.DayOfWeek != "0" || a.HourFrom != 8 || a.HourTo != 12 {
		t.Fatalf("first attendance %+v", a)
	}
}
