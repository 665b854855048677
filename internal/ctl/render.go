package ctl

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/luminous-healing/luminous-healing/internal/client"
)

// JSON output is the D-Bus records themselves: the same snake_case keys,
// times in µs since the epoch, so scripts read one contract everywhere.

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(plain(v))
}

// plain turns records and variants into values encoding/json can write.
func plain(v any) any {
	switch x := v.(type) {
	case dbus.Variant:
		return plain(x.Value())
	case map[string]dbus.Variant:
		m := make(map[string]any, len(x))
		for k, val := range x {
			m[k] = plain(val)
		}
		return m
	case []map[string]dbus.Variant:
		l := make([]any, len(x))
		for i, val := range x {
			l[i] = plain(val)
		}
		return l
	case interface {
		Map() map[string]dbus.Variant
	}:
		return plain(x.Map())
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
	}
	return v
}

// records encodes a list of records for JSON.
func records[T interface {
	Map() map[string]dbus.Variant
}](xs []T) []map[string]dbus.Variant {
	return client.Maps(xs)
}

// table writes aligned columns; the header is upper case.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	t.row(header...)
	return t
}

func (t *table) row(cols ...string) { fmt.Fprintln(t.tw, strings.Join(cols, "\t")) }

func (t *table) flush() { t.tw.Flush() }

// value formats a reading: percent for everything but the load average.
func value(kind string, v float64) string {
	switch kind {
	case "load":
		return fmt.Sprintf("%.2f", v)
	case "unit":
		return "-"
	}
	return fmt.Sprintf("%.1f%%", v)
}

func threshold(kind string, v float64) string {
	if v == 0 {
		return "off"
	}
	if kind == "load" {
		return fmt.Sprintf("%g", v)
	}
	return fmt.Sprintf("%g%%", v)
}

// clock is healingctl's idea of now, which ages and countdowns count
// from; the golden tests fix it.
var clock = time.Now

// ago formats a past time relative to now.
func ago(t time.Time) string { return agoAt(t, clock()) }

// in formats a future time relative to now.
func in(t time.Time) string { return inAt(t, clock()) }

// agoAt and inAt are ago and in against a given now, so that a render is
// the same for the same input.
func agoAt(t, now time.Time) string {
	switch d := now.Sub(t); {
	case t.IsZero():
		return "never"
	case d < time.Second:
		return "just now"
	default:
		return duration(d) + " ago"
	}
}

func inAt(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := t.Sub(now)
	if d <= 0 {
		return "now"
	}
	return "in " + duration(d)
}

// duration rounds for people: 45s, 12m, 3h10m, 2d4h.
func duration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printResult reports an action's result in one line.
func printResult(e *env, r client.ActionResult) error {
	if e.json {
		return printJSON(e.stdout, r)
	}
	fmt.Fprintln(e.stdout, describeResult(r))
	return nil
}

// describeResult is an action's result in one line: what, on what, the
// outcome and the daemon's message.
func describeResult(r client.ActionResult) string {
	what := r.Action
	if r.Target != "" {
		what += " " + r.Target
	}
	line := fmt.Sprintf("%s: %s", what, r.Outcome)
	if r.DryRun && r.Outcome == "planned" {
		line += " (dry-run, nothing was done)"
	}
	if r.Message != "" {
		line += " — " + r.Message
	}
	if r.Duration > 0 && r.Outcome != "planned" {
		line += fmt.Sprintf(" (%s)", duration(r.Duration))
	}
	return line
}

// throttleLimits is the limits the daemon put on a unit, "-" for none.
func throttleLimits(th client.Throttle) string {
	var limits []string
	if th.CPUWeight != 0 {
		limits = append(limits, fmt.Sprintf("CPUWeight=%d", th.CPUWeight))
	}
	if th.MemoryHigh != 0 {
		limits = append(limits, fmt.Sprintf("MemoryHigh=%dM", th.MemoryHigh>>20))
	}
	return orDash(strings.Join(limits, " "))
}
