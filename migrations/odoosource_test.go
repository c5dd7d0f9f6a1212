package migrations_test

import (
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/dvsync/dvsync/migrations"
	"github.com/dvsync/dvsync/odoo"
	"github.com/dvsync/dvsync/odoo/odooserver"
)

func newOdoo(t *testing.T) *odoo.Client {
	t.Helper()
	srv, err := odooserver.New(odooserver.Options{Version: 17, APIKey: "secret", SeedDir: "../testdata/odoo/seed"})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	c, err := odoo.New(t.Context(), odoo.Options{URL: hs.URL, Database: odooserver.Database, Login: odooserver.AdminLogin, APIKey: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestOdooSourceResumes(t *testing.T) {
	c := newOdoo(t)
	for _, changes := range []bool{false, true} {
		src := &migrations.OdooSource{Client: c, Model: "helpdesk.ticket", Changes: changes,
			Options: odoo.StreamOptions{Fields: []string{"name", "partner_id"}, PageSize: 7}}
		var all []migrations.SourceRecord
		for r, err := range src.Records(t.Context(), "") {
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, r)
		}
		if len(all) < 20 {
			t.Fatalf("changes=%v: %d tickets in the seed, want at least 20", changes, len(all))
		}
		// Resuming after any record yields exactly the records after it.
		for _, at := range []int{0, 9, len(all) - 1} {
			var rest []string
			for r, err := range src.Records(t.Context(), all[at].Cursor) {
				if err != nil {
					t.Fatal(err)
				}
				rest = append(rest, r.ID)
			}
			if len(rest) != len(all)-at-1 || (len(rest) > 0 && rest[0] != all[at+1].ID) {
				t.Errorf("changes=%v: resume after record %d gave %d records starting %v, want %d starting %s", changes, at, len(rest), rest[:min(1, len(rest))], len(all)-at-1, all[min(at+1, len(all)-1)].ID)
			}
		}
		n, err := src.Count(t.Context(), "")
		if err != nil || n != int64(len(all)) {
			t.Errorf("changes=%v: Count = %d, %v; want %d", changes, n, err, len(all))
		}
		n, err = src.Count(t.Context(), all[9].Cursor)
		if err != nil || n < int64(len(all)-10) || (!changes && n != int64(len(all)-10)) {
			t.Errorf("changes=%v: Count after record 9 = %d, %v; want %d", changes, n, err, len(all)-10)
		}
		rec := migrations.OdooRecord(all[0])
		if strconv.Itoa(rec.ID()) != all[0].ID {
			t.Errorf("OdooRecord id %d, source id %s", rec.ID(), all[0].ID)
		}
		if name, err := rec.String("name"); err != nil || name == "" {
			t.Errorf("OdooRecord name %q %v", name, err)
		}
	}
	for _, tc := range []struct {
		changes bool
		cursor  string
	}{{false, "x"}, {true, "12"}, {true, "2024-01-01T00:00:00Z|x"}} {
		src := &migrations.OdooSource{Client: c, Model: "helpdesk.ticket", Changes: tc.changes}
		for _, err := range src.Records(t.Context(), tc.cursor) {
			if err == nil {
				t.Errorf("cursor %q (changes=%v) accepted", tc.cursor, tc.changes)
			}
			break
		}
	}
}
