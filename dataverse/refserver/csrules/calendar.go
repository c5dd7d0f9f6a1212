package csrules

import (
	"errors"
	"sort"
	"strings"
	"time"
	_ "time/tzdata" // calendars name zones that a minimal host may not have
)

// Window is one stretch of working time on a weekday, in minutes from the
// local midnight of the calendar's time zone (calendarrule.offset and
// offset+duration of an inner calendar's "Available" rule).
type Window struct {
	Day        time.Weekday
	Start, End int
}

// Span is an absolute period of non-working time: a holiday of the holiday
// schedule (calendarrule.starttime and duration).
type Span struct{ Start, End time.Time }

// Calendar is a customer service schedule: working windows per weekday in a
// time zone, and holidays. A nil *Calendar means the SLA has no business
// hours and counts around the clock.
//
// Source: "Manage changes to customer service and holiday schedules"
// (learn.microsoft.com/dynamics365/customer-service/administer/change-schedules):
// warning and failure times count only working hours of the customer
// service schedule and skip the days of the holiday schedule; and the
// calendar model of calendar/calendarrule/innercalendarid
// (learn.microsoft.com/dynamics365/customerengagement/on-premises/developer/calendar-entities).
type Calendar struct {
	Loc      *time.Location
	Windows  []Window
	Holidays []Span
}

// ErrNoWorkingTime is returned when a calendar has no working time within
// the search horizon, so a duration can never elapse.
var ErrNoWorkingTime = errors.New("the business hours calendar has no working time")

// horizonDays bounds the search for working time (five years), so that a
// calendar of holidays only cannot loop forever.
const horizonDays = 5 * 366

// intervals returns the working intervals of the local day that starts at
// midnight, with holidays cut out, in time order.
func (c *Calendar) intervals(midnight time.Time) []Span {
	var out []Span
	for _, w := range c.Windows {
		if w.Day != midnight.Weekday() || w.End <= w.Start {
			continue
		}
		start := time.Date(midnight.Year(), midnight.Month(), midnight.Day(), 0, w.Start, 0, 0, c.Loc)
		end := time.Date(midnight.Year(), midnight.Month(), midnight.Day(), 0, w.End, 0, 0, c.Loc)
		out = append(out, subtract(Span{start, end}, c.Holidays)...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

func subtract(s Span, holes []Span) []Span {
	parts := []Span{s}
	for _, h := range holes {
		var next []Span
		for _, p := range parts {
			if !h.Start.Before(p.End) || !h.End.After(p.Start) {
				next = append(next, p)
				continue
			}
			if h.Start.After(p.Start) {
				next = append(next, Span{p.Start, h.Start})
			}
			if h.End.Before(p.End) {
				next = append(next, Span{h.End, p.End})
			}
		}
		parts = next
	}
	return parts
}

func (c *Calendar) midnight(t time.Time) time.Time {
	l := t.In(c.Loc)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, c.Loc)
}

// AddWorkingMinutes returns the moment when minutes of working time have
// elapsed after from. Time outside working hours and on holidays does not
// count: a case created at 16:45 on a Friday with a 60-minute KPI on a
// Monday-Friday 09:00-17:00 calendar fails at 09:45 on Monday.
func (c *Calendar) AddWorkingMinutes(from time.Time, minutes int) (time.Time, error) {
	if c == nil || minutes <= 0 {
		return from.Add(time.Duration(minutes) * time.Minute), nil
	}
	left := time.Duration(minutes) * time.Minute
	day := c.midnight(from)
	for i := 0; i < horizonDays; i++ {
		for _, iv := range c.intervals(day) {
			start := iv.Start
			if start.Before(from) {
				start = from
			}
			if !start.Before(iv.End) {
				continue
			}
			if avail := iv.End.Sub(start); left <= avail {
				return start.Add(left).UTC(), nil
			} else {
				left -= avail
			}
		}
		day = time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, c.Loc)
	}
	return time.Time{}, ErrNoWorkingTime
}

// WorkingMinutes counts the working minutes between from and to; used for
// the paused time of a KPI, which extends its failure time only by the
// business hours it was paused (SupportArticles-docs "SLA timer doesn't
// pause when its state is changed from InProgress to OnHold on a holiday":
// hold time outside working hours is not considered).
func (c *Calendar) WorkingMinutes(from, to time.Time) int {
	if !to.After(from) {
		return 0
	}
	if c == nil {
		return int(to.Sub(from) / time.Minute)
	}
	var total time.Duration
	day := c.midnight(from)
	for i := 0; i < horizonDays && day.Before(to); i++ {
		for _, iv := range c.intervals(day) {
			s, e := iv.Start, iv.End
			if s.Before(from) {
				s = from
			}
			if e.After(to) {
				e = to
			}
			if e.After(s) {
				total += e.Sub(s)
			}
		}
		day = time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, c.Loc)
	}
	return int(total / time.Minute)
}

// ParseWeeklyDays reads the BYDAY list of a calendarrule pattern such as
// "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,TU,WE,TH,FR" (the iCalendar recurrence
// Dataverse stores in calendarrule.pattern). ok is false when the pattern is
// not weekly.
func ParseWeeklyDays(pattern string) (days []time.Weekday, ok bool) {
	weekly := false
	for _, part := range strings.Split(strings.ToUpper(pattern), ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "FREQ":
			weekly = v == "WEEKLY" || v == "DAILY"
			if v == "DAILY" {
				days = []time.Weekday{0, 1, 2, 3, 4, 5, 6}
			}
		case "BYDAY":
			days = nil
			for _, d := range strings.Split(v, ",") {
				if wd, ok := weekdays[strings.TrimSpace(d)]; ok {
					days = append(days, wd)
				}
			}
		}
	}
	return days, weekly
}

var weekdays = map[string]time.Weekday{"SU": time.Sunday, "MO": time.Monday, "TU": time.Tuesday, "WE": time.Wednesday, "TH": time.Thursday, "FR": time.Friday, "SA": time.Saturday}

// TimeZone maps a Dataverse timezonecode (the Windows time zone index the
// timezonedefinition table uses) to a location. Decision: only the zones
// the reference data uses are known; any other code counts in UTC.
func TimeZone(code int64) *time.Location {
	name, ok := map[int64]string{
		4: "America/Los_Angeles", 10: "America/Denver", 20: "America/Chicago", 35: "America/New_York",
		85: "Europe/London", 105: "Europe/Paris", 110: "Europe/Berlin", 95: "Europe/Prague",
		190: "Asia/Kolkata", 210: "Asia/Shanghai", 235: "Asia/Tokyo", 255: "Australia/Sydney",
	}[code]
	if !ok {
		return time.UTC
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	return loc
}
