package dashboard

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/lipgloss/v2"

	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/ctl/show"
)

// board is what the dashboard knows of the daemon: the latest snapshot,
// the readings seen so far, and whether the daemon is reachable now. The
// full-screen UI and the plain snapshot both render it.
type board struct {
	status  client.Status
	have    bool      // a snapshot has arrived
	at      time.Time // when it arrived
	actions []recentAction
	series  *seriesRing

	signal   string // the latest signal, in one line
	signalAt time.Time

	lost   string    // why the daemon is not reachable; "" while it is
	lostAt time.Time // since when
}

func newBoard() *board { return &board{series: newSeriesRing()} }

// update takes a new snapshot.
func (b *board) update(st client.Status, history []client.HistoryEntry, at time.Time) {
	b.status, b.have, b.at = st, true, at
	b.actions = recentActions(history)
	b.series.observe(st)
	b.lost = ""
}

// recentAction is an action from the history; a run of the same action
// with the same outcome on the same target is one, with a count, as on the
// web dashboard.
type recentAction struct {
	client.HistoryEntry
	repeats int
}

// maxRecentActions is how many recent actions the dashboard shows, as the
// web dashboard does.
const maxRecentActions = 10

func recentActions(history []client.HistoryEntry) []recentAction {
	var out []recentAction
	for _, h := range history {
		if !strings.HasPrefix(h.Event, "action-") {
			continue
		}
		if n := len(out); n > 0 {
			last := &out[n-1]
			if last.Action == h.Action && last.Target == h.Target && last.Issue == h.Issue &&
				last.Outcome == h.Outcome && last.Message == h.Message {
				last.repeats++
				continue
			}
		}
		if len(out) == maxRecentActions {
			break
		}
		out = append(out, recentAction{HistoryEntry: h, repeats: 1})
	}
	return out
}

// palette colours by severity, or not at all for plain text, in
// show's colours.
type palette struct{ color bool }

func (p palette) style(s lipgloss.Style, text string) string { return show.Paint(p.color, s, text) }

// sev paints text by severity: ok, warning or critical, and the outcomes
// of actions.
func (p palette) sev(severity, text string) string { return show.Sev(p.color, severity, text) }

// look is how to render a board.
type look struct {
	palette
	width      int       // cells per line
	now        time.Time // what ages are counted from
	selected   string    // the issue to mark as selected
	maxActions int       // how many recent actions fit
	// fitSpark makes sparklines as wide as the readings they have, for a
	// plain snapshot; the full-screen UI keeps them at one width so the
	// columns stay put as readings arrive.
	fitSpark bool
	// live marks the header of a board that follows the daemon.
	live bool
}

// render draws the board as lines of at most width cells: the header, the
// issues (the selected one marked), each resource with its sparkline,
// predictions, recent actions, breakers, throttles, units and probes. The issues
// come first, before the web dashboard's order: they are what the keys act
// on, and a short terminal cuts from the bottom.
func (b *board) render(l look) []string {
	p, width, now, selected, maxActions := l.palette, l.width, l.now, l.selected, l.maxActions
	var out []string
	add := func(lines ...string) {
		for _, l := range lines {
			out = append(out, show.Truncate(l, width))
		}
	}
	// The header says what matters most: it wraps rather than lose its end.
	addWrapped := func(text string) {
		for _, l := range show.Wrap(text, width) {
			add(l)
		}
	}
	st := b.status
	host := st.Hostname
	if host == "" {
		host = "this machine"
	}
	live := ""
	if l.live && b.lost == "" {
		live = " · " + p.sev("ok", "live")
	}
	add(p.style(show.Heading, fmt.Sprintf("luminous-healingd %s on %s", st.Version, host)) +
		p.style(show.Dim, fmt.Sprintf(" (%s mode)", st.Mode)) + live)
	issues := fmt.Sprintf("%d active issue", st.ActiveIssues)
	if st.ActiveIssues != 1 {
		issues += "s"
	}
	mode := p.sev("ok", "healing on")
	switch {
	case !st.HealingEnabled:
		mode = p.sev("warning", "healing OFF: watching only")
	case st.DryRun:
		mode = p.sev("warning", "dry-run: actions are planned, not executed")
	}
	addWrapped(fmt.Sprintf("Health %s · %s · %s · checked %s, every %s", p.sev(st.Health, "● "+st.Health), issues, mode,
		show.Ago(st.LastCheck, now), show.Duration(st.Interval)))
	if !st.Systemd {
		addWrapped(p.sev("warning", "systemd is not reachable: resources are watched, no unit is watched or healed"))
	}
	if st.SampleError != "" {
		addWrapped(p.sev("warning", "Sampling: "+st.SampleError))
	}
	if n := st.ActiveSilences; n > 0 {
		addWrapped(p.sev("warning", fmt.Sprintf("%d silence(s) in force: healing paused within their scope (healingctl silence list)", n)))
	}
	if len(st.Overrides) > 0 {
		addWrapped(p.sev("warning", "Override: "+show.Overrides(st)))
	}
	if b.signal != "" {
		add(p.style(show.Dim, fmt.Sprintf("Last signal %s: %s", show.Ago(b.signalAt, now), b.signal)))
	}

	add("", p.style(show.Heading, fmt.Sprintf("ISSUES (%d)", len(st.Issues))))
	if len(st.Issues) == 0 {
		add("  " + p.sev("ok", "No active issues."))
	}
	var rows [][]string
	for _, i := range st.Issues {
		id, mark := i.ID, " "
		if i.ID == selected {
			id, mark = p.style(show.Selected, i.ID), "›"
		}
		rows = append(rows, []string{mark + " " + p.sev(i.Severity, "● "+i.Severity), id, i.State, show.OrDash(i.Action),
			show.Ago(i.Since, now), show.IssueMessage(i)})
	}
	add(gridIndent(rows, "")...)

	add("", p.style(show.Heading, "RESOURCES"))
	if len(st.Resources) == 0 {
		add("  No readings yet.")
	}
	rows = rows[:0]
	points := 1
	for _, r := range st.Resources {
		of := "of " + show.Threshold(r.Kind, r.Threshold)
		if r.Threshold == 0 {
			of = "no threshold"
		}
		rows = append(rows, []string{r.ID, show.Value(r.Kind, r.Value), "", of, p.sev(r.Severity, r.Severity)})
		points = max(points, len(b.series.points[r.ID]))
	}
	// The sparkline takes the room the other columns leave, within reason.
	spark := min(seriesPoints/2, max(8, width-2-columnsWidth(rows)-2*4))
	if l.fitSpark {
		spark = min(spark, points)
	}
	for i, r := range st.Resources {
		// Without a threshold a percentage is drawn against 100%, so
		// that a quiet series does not look alarming.
		scale := r.Threshold
		if scale == 0 && r.Kind != "load" {
			scale = 100
		}
		rows[i][2] = p.sev(r.Severity, sparkline(b.series.points[r.ID], scale, spark))
	}
	add(grid(rows, 1)...)

	add("", p.style(show.Heading, "PREDICTIONS"))
	if len(st.Predictions) == 0 {
		add("  No resource is predicted to cross its threshold.")
	}
	rows = rows[:0]
	for _, pr := range st.Predictions {
		rows = append(rows, []string{pr.Series, show.Value(pr.Kind, pr.Value) + " → " + show.Threshold(pr.Kind, pr.Threshold),
			p.sev("warning", show.In(pr.ETA, now)), fmt.Sprintf("%+.2f/h", pr.TrendPerHour), fmt.Sprintf("confidence %.0f%%", 100*pr.Confidence)})
	}
	add(grid(rows)...)

	add("", p.style(show.Heading, "RECENT ACTIONS"))
	if len(b.actions) == 0 {
		add("  None yet.")
	}
	rows = rows[:0]
	for i, a := range b.actions {
		if i == maxActions {
			break
		}
		what := a.Action
		if a.Target != "" {
			what += " " + a.Target
		}
		times := ""
		if a.repeats > 1 {
			times = fmt.Sprintf("×%d", a.repeats)
		}
		msg := a.Message
		if a.DryRun {
			msg += " [dry-run]"
		}
		rows = append(rows, []string{a.Time.Local().Format("15:04:05"), what, p.sev(a.Outcome, show.OrDash(a.Outcome)), times, msg})
	}
	add(grid(rows)...)

	// section adds a heading and its rows in columns; nothing without rows.
	section := func(title string, rows [][]string) {
		if len(rows) > 0 {
			add("", p.style(show.Heading, title))
			add(grid(rows)...)
		}
	}
	section("BREAKERS", rowsOf(st.Breakers, func(br client.Breaker) []string {
		next := "next attempt " + show.In(br.NextAttempt, now)
		switch {
		case br.GivenUp:
			next = p.sev("critical", "given up: 'healingctl reset "+br.Issue+"' re-arms it")
		case br.NextAttempt.IsZero():
			next = "an attempt may run now"
		}
		return []string{br.Issue, fmt.Sprintf("%d failure(s)", br.Failures), next}
	}))
	section("SILENCES", rowsOf(st.Silences, func(s client.Silence) []string {
		state := p.style(show.Dim, "waiting")
		if s.Active {
			state = p.sev("warning", "in force")
		}
		return []string{s.ID, state, s.Scope, s.Effect, show.SilenceWhen(s, now), "by " + s.Author, s.Reason}
	}))
	section("THROTTLED", rowsOf(st.Throttles, func(th client.Throttle) []string {
		return []string{th.Unit, "since " + show.Ago(th.Since, now), show.ThrottleLimits(th),
			"because of " + show.OrDash(strings.Join(th.Issues, ","))}
	}))
	section("UNITS", rowsOf(st.Units, func(u client.UnitState) []string {
		return []string{u.Name, p.sev(show.UnitSeverity(u.ActiveState), show.UnitState(u))}
	}))
	section("PROBES", rowsOf(st.Probes, func(pr client.Probe) []string {
		last := p.style(show.Dim, "not run yet")
		if sev, text := show.ProbeLast(pr, now); sev != "" {
			last = p.sev(sev, text)
		}
		failing := fmt.Sprintf("%d/%d failing", pr.Failing, pr.Failures)
		if pr.Action == "none" {
			failing += " (watch only)"
		}
		return []string{pr.Unit, pr.Target, "every " + show.Duration(pr.Interval), last, failing}
	}))
	return out
}

// rowsOf is a row per record.
func rowsOf[T any](xs []T, row func(T) []string) [][]string {
	rows := make([][]string, 0, len(xs))
	for _, x := range xs {
		rows = append(rows, row(x))
	}
	return rows
}

// grid aligns rows in columns, two spaces apart, indented by two; the
// columns listed in right are aligned right, as numbers are.
func grid(rows [][]string, right ...int) []string { return gridIndent(rows, "  ", right...) }

func gridIndent(rows [][]string, indent string, right ...int) []string {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], lipgloss.Width(c))
		}
	}
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		var b strings.Builder
		b.WriteString(indent)
		for i, c := range r {
			if i > 0 {
				b.WriteString("  ")
			}
			padding := strings.Repeat(" ", widths[i]-lipgloss.Width(c))
			switch {
			case slices.Contains(right, i):
				b.WriteString(padding + c)
			case i < len(r)-1:
				b.WriteString(c + padding)
			default:
				b.WriteString(c)
			}
		}
		out = append(out, strings.TrimRight(b.String(), " "))
	}
	return out
}

// columnsWidth is the width the widest cells of each column take.
func columnsWidth(rows [][]string) int {
	widths := map[int]int{}
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], lipgloss.Width(c))
		}
	}
	total := 0
	for _, w := range widths {
		total += w
	}
	return total
}
