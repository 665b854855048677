package silence

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Calendar is a recurring window in the subset of systemd's calendar
// syntax (systemd.time(7)) documented in docs/healing.md:
//
//	[WEEKDAYS ]HH:MM[:SS]..HH:MM[:SS][ UTC]
//
// WEEKDAYS is a comma-separated list of days or day ranges, English names
// abbreviated or in full, any case: "Sun", "Mon..Fri", "Sat,Sun". Without
// it the window recurs every day. The time range is the one extension:
// systemd's OnCalendar= names instants, a window needs an end. An end at or
// before the start runs past midnight into the next day ("Fri 22:00..02:00"
// ends Saturday 02:00). Times are the daemon's local time, or UTC with the
// suffix.
type Calendar struct {
	expr       string
	days       [7]bool // by time.Weekday
	start, end time.Duration
	loc        *time.Location
}

var dayNames = map[string]time.Weekday{
	"mon": time.Monday, "monday": time.Monday, "tue": time.Tuesday, "tuesday": time.Tuesday,
	"wed": time.Wednesday, "wednesday": time.Wednesday, "thu": time.Thursday, "thursday": time.Thursday,
	"fri": time.Friday, "friday": time.Friday, "sat": time.Saturday, "saturday": time.Saturday,
	"sun": time.Sunday, "sunday": time.Sunday,
}

// ParseCalendar parses a window expression; loc is the zone of times
// without the UTC suffix (time.Local in the daemon).
func ParseCalendar(expr string, loc *time.Location) (*Calendar, error) {
	c := &Calendar{expr: expr, loc: loc}
	fields := strings.Fields(expr)
	if len(fields) > 0 && fields[len(fields)-1] == "UTC" {
		c.loc = time.UTC
		fields = fields[:len(fields)-1]
	}
	bad := func(format string, args ...any) (*Calendar, error) {
		return nil, fmt.Errorf("calendar %q: %s (want e.g. \"Sun 02:00..04:00\", \"Mon..Fri 22:00..06:00 UTC\")", expr, fmt.Sprintf(format, args...))
	}
	switch len(fields) {
	case 1:
		for d := range c.days {
			c.days[d] = true
		}
	case 2:
		for _, part := range strings.Split(fields[0], ",") {
			from, to, isRange := strings.Cut(part, "..")
			a, ok := dayNames[strings.ToLower(from)]
			if !ok {
				return bad("unknown weekday %q", from)
			}
			b := a
			if isRange {
				if b, ok = dayNames[strings.ToLower(to)]; !ok {
					return bad("unknown weekday %q", to)
				}
			}
			// Mon..Sun, and Fri..Mon across the weekend.
			for d := a; ; d = (d + 1) % 7 {
				c.days[d] = true
				if d == b {
					break
				}
			}
		}
	default:
		return bad("want optional weekdays, then a time range")
	}
	from, to, ok := strings.Cut(fields[len(fields)-1], "..")
	if !ok {
		return bad("want a time range, HH:MM..HH:MM")
	}
	var err error
	if c.start, err = clock(from); err != nil {
		return bad("%v", err)
	}
	if c.end, err = clock(to); err != nil {
		return bad("%v", err)
	}
	if c.start == c.end {
		return bad("the window is empty: it starts and ends at %s", from)
	}
	return c, nil
}

// clock parses HH:MM or HH:MM:SS into the time of day.
func clock(s string) (time.Duration, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, fmt.Errorf("time %q is not HH:MM or HH:MM:SS", s)
	}
	limits := []int{23, 59, 59}
	units := []time.Duration{time.Hour, time.Minute, time.Second}
	var d time.Duration
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || len(p) != 2 || n < 0 || n > limits[i] {
			return 0, fmt.Errorf("time %q is not HH:MM or HH:MM:SS", s)
		}
		d += time.Duration(n) * units[i]
	}
	return d, nil
}

// String returns the expression as written.
func (c *Calendar) String() string { return c.expr }

// occurrence is the window that starts on the day of day (in c.loc).
func (c *Calendar) occurrence(day time.Time) (start, end time.Time) {
	y, m, d := day.Date()
	midnight := time.Date(y, m, d, 0, 0, 0, 0, c.loc)
	start = at(midnight, c.start)
	if c.end > c.start {
		return start, at(midnight, c.end)
	}
	next := time.Date(y, m, d+1, 0, 0, 0, 0, c.loc)
	return start, at(next, c.end)
}

// at is the wall-clock time of day after midnight, so that a window keeps
// its clock times across a daylight saving change.
func at(midnight time.Time, tod time.Duration) time.Time {
	y, m, d := midnight.Date()
	s := int(tod / time.Second)
	return time.Date(y, m, d, s/3600, s/60%60, s%60, 0, midnight.Location())
}

// Next returns the occurrence in force at t, or else the next one to start;
// ok is false only for a calendar with no day (which ParseCalendar never
// returns).
func (c *Calendar) Next(t time.Time) (start, end time.Time, ok bool) {
	local := t.In(c.loc)
	for i := -1; i <= 7; i++ {
		y, m, d := local.Date()
		day := time.Date(y, m, d+i, 12, 0, 0, 0, c.loc)
		if !c.days[day.Weekday()] {
			continue
		}
		s, e := c.occurrence(day)
		if t.Before(e) {
			return s, e, true
		}
	}
	return time.Time{}, time.Time{}, false
}
