package workcal

import (
	"testing"
	"time"
	_ "time/tzdata"
)

func TestCalendarDeadlines(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	brussels, _ := time.LoadLocation("Europe/Brussels")
	extended := New(ny, 12)
	for d := range 6 {
		extended.Add(string(rune('0'+d)), 7, 19)
	}
	office := New(brussels, 8)
	for d := range 5 {
		office.Add(string(rune('0'+d)), 8, 12)
		office.Add(string(rune('0'+d)), 13, 17)
	}
	utc := func(s string) time.Time { t, _ := time.Parse("2006-01-02 15:04:05", s); return t }
	for _, tc := range []struct {
		cal   *Calendar
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
		if got := tc.cal.Deadline(utc(tc.start), tc.hours).Format("2006-01-02 15:04:05"); got != tc.want {
			t.Errorf("deadline(%s, %v) = %s, want %s", tc.start, tc.hours, got, tc.want)
		}
	}
	if h := office.WorkingHours(utc("2026-01-09 15:00:00"), utc("2026-01-12 10:00:00")); h != 4 {
		t.Errorf("working hours = %v, want 4", h)
	}
	if h := office.WorkingHours(utc("2026-01-12 10:00:00"), utc("2026-01-09 15:00:00")); h != -4 {
		t.Errorf("reverse working hours = %v, want -4", h)
	}
}

func TestEmptyCalendar(t *testing.T) {
	start := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	if got := New(nil, 8).Deadline(start, 40); !got.Equal(start) {
		t.Fatalf("empty calendar deadline = %v", got)
	}
	var none *Calendar
	if got := none.Deadline(start, 4); !got.Equal(start) {
		t.Fatalf("nil calendar deadline = %v", got)
	}
}
