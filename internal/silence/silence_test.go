package silence

import (
	"strings"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/issue"
)

func TestCalendarWindows(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	// Sunday 2026-11-29.
	sun := func(h, m int) time.Time { return time.Date(2026, 11, 29, h, m, 0, 0, time.UTC) }
	cases := []struct {
		name, expr  string
		at          time.Time
		start, end  time.Time
		activeAtNow bool
	}{
		{"a Sunday window is in force on Sunday night", "Sun 02:00..04:00 UTC", sun(3, 0), sun(2, 0), sun(4, 0), true},
		{"before it starts, the same day's occurrence is next", "Sun 02:00..04:00 UTC", sun(1, 0), sun(2, 0), sun(4, 0), false},
		{"after it ends, next Sunday's is next", "Sun 02:00..04:00 UTC", sun(4, 0), sun(2, 0).AddDate(0, 0, 7), sun(4, 0).AddDate(0, 0, 7), false},
		{"its end is not in it", "Sun 02:00..04:00 UTC", sun(4, 0).Add(-time.Nanosecond), sun(2, 0), sun(4, 0), true},
		{"a window past midnight runs into the next day", "Sat 22:00..02:00 UTC", sun(1, 0), sun(-2, 0), sun(2, 0), true},
		{"a day range covers the weekend", "Fri..Mon 12:00..13:00 UTC", sun(12, 30), sun(12, 0), sun(13, 0), true},
		{"a list of days, full names, any case", "saturday,MONDAY 12:00..13:00 UTC", sun(12, 30), sun(12, 0).AddDate(0, 0, 1), sun(13, 0).AddDate(0, 0, 1), false},
		{"no weekday means every day", "00:00:10..00:00:20 UTC", sun(0, 0), sun(0, 0).Add(10 * time.Second), sun(0, 0).Add(20 * time.Second), false},
		{"local times follow the zone", "Sun 03:00..04:00", sun(2, 30), sun(2, 0), sun(3, 0), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cal, err := ParseCalendar(c.expr, berlin)
			if err != nil {
				t.Fatal(err)
			}
			s, e, ok := cal.Next(c.at)
			if !ok || !s.Equal(c.start) || !e.Equal(c.end) {
				t.Errorf("Next(%s) = %s..%s; want %s..%s", c.at, s.UTC(), e.UTC(), c.start, c.end)
			}
			if got := !c.at.Before(s) && c.at.Before(e); got != c.activeAtNow {
				t.Errorf("in force at %s = %v; want %v", c.at, got, c.activeAtNow)
			}
		})
	}
}

func TestBadCalendarsAreRefusedWithTheReason(t *testing.T) {
	for expr, want := range map[string]string{
		"":                         "want optional weekdays",
		"Sun":                      "want a time range",
		"Sun 02:00":                "want a time range",
		"Sunday 02:00..25:00":      "not HH:MM",
		"Funday 02:00..04:00":      "unknown weekday",
		"Sun 2:00..04:00":          "not HH:MM",
		"Sun 02:00..02:00":         "empty",
		"Sun Mon 02:00..04:00":     "want optional weekdays",
		"*-*-* 02:00..04:00":       "unknown weekday",
		"Sun 02:00..04:00 Europe/": "want optional weekdays",
	} {
		_, err := ParseCalendar(expr, time.UTC)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseCalendar(%q) = %v; want an error saying %q", expr, err, want)
		}
	}
}

func TestScopes(t *testing.T) {
	web := issue.Record{ID: "unit:web.service", Kind: issue.Unit, Subject: "web.service"}
	disk := issue.Record{ID: "inodes:/", Kind: issue.Disk, Subject: "/"}
	cases := []struct {
		in, canonical string
		web, disk     bool
	}{
		{"all", "all", true, true},
		{"unit:web", "unit:web.service", true, false},
		{"issue:inodes:/", "issue:inodes:/", false, true},
		{"kind:disk", "kind:disk", false, true},
		{"kind:unit", "kind:unit", true, false},
	}
	for _, c := range cases {
		sc, err := ParseScope(c.in)
		if err != nil {
			t.Fatalf("ParseScope(%q): %v", c.in, err)
		}
		if string(sc) != c.canonical || sc.Matches(web) != c.web || sc.Matches(disk) != c.disk {
			t.Errorf("%q → %q, covers web %v, disk %v; want %q, %v, %v", c.in, sc, sc.Matches(web), sc.Matches(disk), c.canonical, c.web, c.disk)
		}
	}
	// A unit's silence covers its health probe's issue too; a kind scope
	// tells them apart.
	hung := issue.Record{ID: "probe:web.service", Kind: issue.Probe, Subject: "web.service"}
	for in, want := range map[string]bool{"unit:web": true, "unit:db": false, "kind:probe": true, "kind:unit": false} {
		if sc, _ := ParseScope(in); sc.Matches(hung) != want {
			t.Errorf("%q covers a probe issue: %v, want %v", in, !want, want)
		}
	}
	for _, bad := range []string{"", "everything", "unit:", "unit:a/b", "kind:gpu", "issue:a\x1bb", "host:x"} {
		if _, err := ParseScope(bad); err == nil {
			t.Errorf("ParseScope(%q) accepted it", bad)
		}
	}
}

func TestPickPrefersPauseThenTheLatestEnd(t *testing.T) {
	now := time.Unix(1700000000, 0)
	rec := issue.Record{ID: "cpu", Kind: issue.CPU}
	ss := []Silence{
		{ID: "a", Scope: "kind:cpu", Effect: NotifyOnly, Starts: now.Add(-time.Hour), Expires: now.Add(3 * time.Hour)},
		{ID: "b", Scope: "all", Effect: Pause, Starts: now.Add(-time.Hour), Expires: now.Add(time.Hour)},
		{ID: "c", Scope: "all", Effect: Pause, Starts: now.Add(-time.Hour), Expires: now.Add(2 * time.Hour)},
		{ID: "d", Scope: "all", Effect: Pause, Starts: now.Add(-time.Hour), Expires: now},                     // ended
		{ID: "e", Scope: "all", Effect: Pause, Starts: now.Add(time.Minute), Expires: now.Add(9 * time.Hour)}, // not yet
		{ID: "f", Scope: "kind:disk", Effect: Pause, Starts: now.Add(-time.Hour), Expires: now.Add(9 * time.Hour)},
	}
	if s, ok := Pick(ss, rec, now); !ok || s.ID != "c" {
		t.Errorf("Pick = %q, %v; want c", s.ID, ok)
	}
	if _, ok := Pick(ss[3:], rec, now); ok {
		t.Error("Pick found a silence among ended, future and other-scope ones")
	}
}
