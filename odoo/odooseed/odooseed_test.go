package odooseed

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

const baseDir = "../../testdata/odoo/seed"

func TestGenerateIsDeterministicAndNeverInTheFuture(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	a, b := t.TempDir(), t.TempDir()
	for _, dir := range []string{a, b} {
		if _, err := Generate(Options{BaseDir: baseDir, OutDir: dir, Tickets: 400, Seed: 9, Now: now, Span: 3 * 24 * time.Hour}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range Generated {
		x, _ := os.ReadFile(filepath.Join(a, name))
		y, _ := os.ReadFile(filepath.Join(b, name))
		if len(x) == 0 || !bytes.Equal(x, y) {
			t.Fatalf("%s differs between runs (or is empty)", name)
		}
	}
	// A short span pushes many events past Now; none may be written.
	limit := now.Format(odooDatetime)
	for _, name := range []string{"helpdesk.ticket.jsonl", "mail.message.jsonl"} {
		f, err := os.Open(filepath.Join(a, name))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var r map[string]any
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"create_date", "write_date", "date", "close_date", "assign_date"} {
				if v, ok := r[k].(string); ok && v > limit {
					t.Fatalf("%s %v: %s = %s is after %s", name, r["id"], k, v, limit)
				}
			}
		}
		f.Close()
	}
	if _, err := os.Stat(filepath.Join(a, "helpdesk.team.jsonl")); err != nil {
		t.Fatal("base files not copied")
	}
}

func TestCalendarDeadlines(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	brussels, _ := time.LoadLocation("Europe/Brussels")
	extended := &calendar{loc: ny, hoursPerDay: 12}
	for d := range 6 {
		extended.add(string(rune('0'+d)), 7, 19)
	}
	office := &calendar{loc: brussels, hoursPerDay: 8}
	for d := range 5 {
		office.add(string(rune('0'+d)), 8, 12)
		office.add(string(rune('0'+d)), 13, 17)
	}
	utc := func(s string) time.Time { t, _ := time.Parse(odooDatetime, s); return t }
	for _, tc := range []struct {
		cal   *calendar
		start string
		hours float64
		want  string
	}{
		// Saturday 13:14 New York + 36 h = 3 working days (Sunday skipped).
		{extended, "2025-12-20 18:14:29", 36, "2025-12-24 18:14:29"},
		// Monday 01:48 Brussels + 16 h = 2 days, kept at 01:48, then 0 h → 08:00 start of work.
		{office, "2025-10-12 23:48:35", 16, "2025-10-15 06:00:00"},
		// Friday 16:00 Brussels + 4 h: 1 h on Friday, 3 h on Monday from 08:00.
		{office, "2026-01-09 15:00:00", 4, "2026-01-12 10:00:00"},
		// Across lunch: 11:00 + 2 h = 14:00.
		{office, "2026-01-07 10:00:00", 2, "2026-01-07 13:00:00"},
	} {
		if got := tc.cal.deadline(utc(tc.start), tc.hours).Format(odooDatetime); got != tc.want {
			t.Errorf("deadline(%s, %v) = %s, want %s", tc.start, tc.hours, got, tc.want)
		}
	}
	if h := office.workingHours(utc("2026-01-09 15:00:00"), utc("2026-01-12 10:00:00")); h != 4 {
		t.Errorf("working hours = %v, want 4", h)
	}
	if h := office.workingHours(utc("2026-01-12 10:00:00"), utc("2026-01-09 15:00:00")); h != -4 {
		t.Errorf("reverse working hours = %v, want -4", h)
	}
}
