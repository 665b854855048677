package show

import (
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/luminous-healing/luminous-healing/internal/client"
)

// Value formats a reading: percent for everything but the load average.
func Value(kind string, v float64) string {
	switch kind {
	case "load":
		return fmt.Sprintf("%.2f", v)
	case "unit":
		return "-"
	}
	return fmt.Sprintf("%.1f%%", v)
}

// Threshold formats a threshold, "off" for none.
func Threshold(kind string, v float64) string {
	if v == 0 {
		return "off"
	}
	if kind == "load" {
		return fmt.Sprintf("%g", v)
	}
	return fmt.Sprintf("%g%%", v)
}

// Ago formats a past time relative to now.
func Ago(t, now time.Time) string {
	switch d := now.Sub(t); {
	case t.IsZero():
		return "never"
	case d < time.Second:
		return "just now"
	default:
		return Duration(d) + " ago"
	}
}

// In formats a future time relative to now.
func In(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := t.Sub(now)
	if d <= 0 {
		return "now"
	}
	return "in " + Duration(d)
}

// Duration rounds for people: 45s, 12m, 3h10m, 2d4h.
func Duration(d time.Duration) string {
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

// OnOff is a switch's state.
func OnOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// OrDash is s, or "-" for nothing.
func OrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Result is an action's result in one line: what, on what, the outcome
// and the daemon's message.
func Result(r client.ActionResult) string {
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
		line += fmt.Sprintf(" (%s)", Duration(r.Duration))
	}
	return line
}

// ThrottleLimits is the limits the daemon put on a unit, "-" for none.
func ThrottleLimits(th client.Throttle) string {
	var limits []string
	if th.CPUWeight != 0 {
		limits = append(limits, fmt.Sprintf("CPUWeight=%d", th.CPUWeight))
	}
	if th.MemoryHigh != 0 {
		limits = append(limits, fmt.Sprintf("MemoryHigh=%dM", th.MemoryHigh>>20))
	}
	return OrDash(strings.Join(limits, " "))
}

// UnitState is a unit's state as systemctl words it: active (running),
// and when it was stopped on purpose, which the daemon respects.
func UnitState(u client.UnitState) string {
	s := u.ActiveState
	if u.SubState != "" {
		s += " (" + u.SubState + ")"
	}
	if !u.StoppedOnPurpose.IsZero() {
		s += ", stopped on purpose at " + u.StoppedOnPurpose.Local().Format("2006-01-02 15:04:05") + "; not healed until started again"
	}
	return s
}

// UnitSeverity rates a unit's ActiveState.
func UnitSeverity(active string) string {
	switch active {
	case "active", "reloading":
		return "ok"
	case "failed":
		return "critical"
	}
	return "warning"
}

// ProbeLast is a probe's last run and its severity: ok or critical, with
// how long ago and, for a failure, why; "" and "not run yet" before the
// first run.
func ProbeLast(p client.Probe, now time.Time) (severity, text string) {
	switch {
	case p.LastAt.IsZero():
		return "", "not run yet"
	case p.LastOK:
		return "ok", "ok " + Ago(p.LastAt, now)
	}
	return "critical", "failed " + Ago(p.LastAt, now) + ": " + p.LastDetail
}

// IssueMessage is an issue's message as the issues table and the
// dashboard show it: marked when injected, with its cause (made safe), and
// the silence that covers it.
func IssueMessage(i client.Issue) string {
	msg := i.Message
	if i.Synthetic {
		msg += " [injected]"
	}
	if i.Cause != "" {
		msg += " — because: " + SafeText(i.Cause, false)
	}
	return msg + silencedMark(i)
}

// silencedMark says that a silence covers an issue: " [silenced by ID]".
func silencedMark(i client.Issue) string {
	if i.Silenced == "" {
		return ""
	}
	if i.SilenceEffect == "notify-only" {
		return " [silenced by " + i.Silenced + ", notify-only]"
	}
	return " [silenced by " + i.Silenced + "]"
}

// SilenceWhen says when a silence is in force: "until 14:00 (in 1h59m)",
// or for a window not in force now, its next occurrence.
func SilenceWhen(s client.Silence, now time.Time) string {
	end := s.Expires.Local().Format("Jan 02 15:04:05")
	if s.Active || !s.Starts.After(now) {
		w := "until " + end + " (" + In(s.Expires, now) + ")"
		if s.Window != "" {
			w = s.Window + ": " + w
		}
		return w
	}
	return s.Window + ": next " + s.Starts.Local().Format("Jan 02 15:04:05") + " until " + end
}

// Event is one human line per signal; a prediction's countdown counts
// from now.
func Event(ev client.Event, now time.Time) string {
	switch {
	case ev.Signal == client.SignalNameOwnerChanged:
		if ev.Running() {
			return fmt.Sprintf("%-16s luminous-healingd is on the bus (%s)", ev.Signal, ev.Owner)
		}
		return fmt.Sprintf("%-16s luminous-healingd left the bus: stopped or restarting", ev.Signal)
	case ev.Issue != nil:
		i := ev.Issue
		return fmt.Sprintf("%-16s %s [%s, %s] %s", ev.Signal, i.ID, i.Severity, i.State, i.Message)
	case ev.Failure != nil:
		f := ev.Failure
		return fmt.Sprintf("%-16s %s %s %s: %s (attempt %d, %s)", ev.Signal, f.Issue, f.Action, f.Target, f.Message, f.Attempts, f.State)
	case ev.Prediction != nil:
		p := ev.Prediction
		return fmt.Sprintf("%-16s %s reaches %s %s (now %s, confidence %.0f%%)", ev.Signal, p.Series,
			Threshold(p.Kind, p.Threshold), In(p.ETA, now), Value(p.Kind, p.Value), 100*p.Confidence)
	case ev.Result != nil:
		r := ev.Result
		return fmt.Sprintf("%-16s %s %s: %s — %s", ev.Signal, r.Action, OrDash(r.Target), r.Outcome, r.Message)
	}
	var kv []string
	for k, v := range ev.Changed {
		kv = append(kv, fmt.Sprintf("%s=%v", k, v.Value()))
	}
	sort.Strings(kv)
	return fmt.Sprintf("%-16s %s", ev.Signal, strings.Join(kv, " "))
}

// maxText bounds a text from the daemon, in runes: the daemon's texts are
// bounded already; this keeps a forged or broken one from filling a screen.
const maxText = 1000

// SafeText makes text from the daemon fit for a terminal or a
// notification: valid UTF-8, no control characters (newlines kept when
// newlines is set), bounded.
func SafeText(s string, newlines bool) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == maxText {
			b.WriteRune('…')
			break
		}
		switch {
		case r == '\n' && newlines:
		case r == '\t' || r == '\n':
			r = ' '
		case unicode.IsControl(r), unicode.Is(unicode.Bidi_Control, r):
			continue
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// Truncate cuts s, colours and all, to width cells.
func Truncate(s string, width int) string { return ansi.Truncate(s, width, "…") }

// Wrap breaks text into lines of at most width cells at spaces.
func Wrap(text string, width int) []string {
	return strings.Split(lipgloss.Wrap(text, width, " "), "\n")
}

// Overrides names the settings changed at run time (healingctl set) and how
// long they last, for status and the dashboard.
func Overrides(st client.Status) string {
	file := st.ConfigPath
	if file == "" {
		file = "the embedded default"
	}
	return strings.Join(st.Overrides, ", ") +
		" (set at run time; kept across restarts until 'healingctl reload' goes back to " + file + ")"
}
