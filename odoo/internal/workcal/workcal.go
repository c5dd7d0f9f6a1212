// Package workcal computes with Odoo working-hour calendars
// (resource.calendar): SLA deadlines and elapsed working hours, as
// Enterprise helpdesk does (research/odoo.md §2, helpdesk.sla.status
// "Deadline calculation"). Leaves and public holidays are not modelled.
package workcal

import (
	"math"
	"sort"
	"time"
)

// Calendar is a resource.calendar: weekly working intervals in a time zone.
type Calendar struct {
	loc         *time.Location
	hoursPerDay float64
	// days[weekday] lists [from, to) in hours, sorted; weekday uses Go's
	// numbering (Sunday = 0), converted from Odoo's dayofweek (Monday = "0").
	days [7][][2]float64
}

// New returns an empty calendar; hoursPerDay <= 0 means 8.
func New(loc *time.Location, hoursPerDay float64) *Calendar {
	if loc == nil {
		loc = time.UTC
	}
	return &Calendar{loc: loc, hoursPerDay: hoursPerDay}
}

// Add adds a weekly interval; odooDay is resource.calendar.attendance
// dayofweek ("0" = Monday), from/to are local hours.
func (c *Calendar) Add(odooDay string, from, to float64) {
	if len(odooDay) != 1 || odooDay[0] < '0' || odooDay[0] > '6' || to <= from {
		return
	}
	d := (int(odooDay[0]-'0') + 1) % 7
	c.days[d] = append(c.days[d], [2]float64{from, to})
	sort.Slice(c.days[d], func(i, j int) bool { return c.days[d][i][0] < c.days[d][j][0] })
}

func (c *Calendar) empty() bool {
	for _, d := range c.days {
		if len(d) > 0 {
			return false
		}
	}
	return true
}

func (c *Calendar) working(t time.Time) bool { return len(c.days[t.Weekday()]) > 0 }

func clock(t time.Time) float64 {
	return float64(t.Hour()) + float64(t.Minute())/60 + float64(t.Second())/3600
}

func atHour(day time.Time, h float64) time.Time {
	y, m, d := day.Date()
	secs := int(math.Round(h * 3600))
	return time.Date(y, m, d, 0, 0, secs, 0, day.Location())
}

// Deadline adds hours of working time to start: whole days first (plan_days,
// keeping the time of day), then the rest through the working intervals
// (plan_hours). Without a calendar the deadline is the start itself.
func (c *Calendar) Deadline(start time.Time, hours float64) time.Time {
	if c == nil || c.empty() {
		return start
	}
	t := start.In(c.loc)
	hpd := c.hoursPerDay
	if hpd <= 0 {
		hpd = 8
	}
	days := int(math.Floor(hours / hpd))
	rest := hours - float64(days)*hpd
	for days > 0 {
		t = t.AddDate(0, 0, 1)
		if c.working(t) {
			days--
		}
	}
	return c.planHours(t, rest).UTC()
}

func (c *Calendar) planHours(t time.Time, hours float64) time.Time {
	for guard := 0; guard < 3660; guard++ {
		for _, iv := range c.days[t.Weekday()] {
			from, to := iv[0], iv[1]
			now := clock(t)
			if now >= to {
				continue
			}
			if now < from {
				now = from
			}
			avail := to - now
			if hours <= avail {
				return atHour(t, now+hours)
			}
			hours -= avail
		}
		t = atHour(t.AddDate(0, 0, 1), 0)
	}
	return t
}

// WorkingHours counts working time between a and b (negative if b < a).
func (c *Calendar) WorkingHours(a, b time.Time) float64 {
	if c == nil {
		return b.Sub(a).Hours()
	}
	if b.Before(a) {
		return -c.WorkingHours(b, a)
	}
	t, end := a.In(c.loc), b.In(c.loc)
	total := 0.0
	for guard := 0; guard < 3660 && t.Before(end); guard++ {
		for _, iv := range c.days[t.Weekday()] {
			from, to := atHour(t, iv[0]), atHour(t, iv[1])
			if from.Before(t) {
				from = t
			}
			if to.After(end) {
				to = end
			}
			if to.After(from) {
				total += to.Sub(from).Hours()
			}
		}
		t = atHour(t.AddDate(0, 0, 1), 0)
	}
	return math.Round(total*100) / 100
}
