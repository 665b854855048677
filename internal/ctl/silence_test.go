package ctl

import (
	"reflect"
	"testing"
	"time"
)

func TestSilenceAddTakesItsFlagsBeforeOrAfterTheScope(t *testing.T) {
	cases := []struct {
		args        []string
		flags, rest []string
	}{
		{[]string{"unit:web", "--for", "2h", "--reason", "upgrading web"}, []string{"--for", "2h", "--reason", "upgrading web"}, []string{"unit:web"}},
		{[]string{"all", "--notify-only", "--until=12:00", "--reason", "--"}, []string{"--notify-only", "--until=12:00", "--reason", "--"}, []string{"all"}},
		{[]string{"all", "extra"}, nil, []string{"all", "extra"}},
		{[]string{"all", "--", "--for"}, nil, []string{"all", "--for"}},
	}
	for _, c := range cases {
		flags, rest := flagsFirst(c.args)
		if !reflect.DeepEqual(flags, c.flags) || !reflect.DeepEqual(rest, c.rest) {
			t.Errorf("flagsFirst(%q) = %q, %q; want %q, %q", c.args, flags, rest, c.flags, c.rest)
		}
	}
}

func TestUntilTakesATimeOfDayTodayOrTomorrow(t *testing.T) {
	now := time.Date(2026, 12, 2, 14, 30, 0, 0, time.Local)
	for in, want := range map[string]time.Time{
		"15:00":                time.Date(2026, 12, 2, 15, 0, 0, 0, time.Local),
		"09:00":                time.Date(2026, 12, 3, 9, 0, 0, 0, time.Local),
		"2026-12-24 18:00":     time.Date(2026, 12, 24, 18, 0, 0, 0, time.Local),
		"2026-12-24T18:00:00Z": time.Date(2026, 12, 24, 18, 0, 0, 0, time.UTC),
	} {
		got, err := parseUntil(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseUntil(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := parseUntil("tomorrow", now); err == nil {
		t.Error(`parseUntil("tomorrow") accepted it`)
	}
}
