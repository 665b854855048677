package dashboard

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/godbus/dbus/v5"

	"github.com/luminous-healing/luminous-healing/internal/client"
)

var (
	challenge = &client.Error{Name: client.ErrorInteractiveAuthorizationRequired, Message: "authentication is required"}
	denied    = &client.Error{Name: client.ErrorAccessDenied, Message: "access denied by polkit"}
	restarted = client.ActionResult{Action: "restart", Target: "web.service", Issue: "unit:web.service", Outcome: "succeeded",
		Message: "web.service is active again (running)"}
)

// someStatus is a daemon with two issues, worst first.
func someStatus(now time.Time) client.Status {
	return client.Status{
		Summary: client.Summary{Version: "1.0", Hostname: "web1", Mode: "system", Health: "critical", ActiveIssues: 2,
			HealingEnabled: true, Systemd: true, LastCheck: now.Add(-2 * time.Second), Interval: time.Minute},
		Resources: []client.Resource{
			{ID: "cpu", Kind: "cpu", Value: 12, Threshold: 80, Severity: "ok"},
			{ID: "disk:/", Kind: "disk", Value: 97, Threshold: 90, Severity: "critical"},
		},
		Issues: []client.Issue{
			{ID: "unit:web.service", Kind: "unit", Severity: "critical", State: "failed", Action: "restart", Since: now.Add(-time.Minute), Message: "web.service failed"},
			{ID: "disk:/", Kind: "disk", Severity: "critical", State: "waiting", Action: "cleanup", Since: now.Add(-time.Hour), Message: "/ is 97% full"},
		},
		Predictions: []client.Prediction{{Series: "memory", Kind: "memory", Value: 70, Threshold: 85, TrendPerHour: 3, Confidence: 0.8, ETA: now.Add(5 * time.Hour)}},
		Breakers:    []client.Breaker{{Issue: "disk:/", Failures: 2, NextAttempt: now.Add(90 * time.Second)}},
		Units:       []client.UnitState{{Name: "web.service", ActiveState: "failed", SubState: "failed"}},
	}
}

// healCalls is a heal that answers as scripted and records how it was
// called.
type healCalls struct {
	mu          sync.Mutex
	interactive []bool
	answer      func(interactive bool) (client.ActionResult, error)
}

func (h *healCalls) heal(_ context.Context, id string, interactive bool) (client.ActionResult, error) {
	h.mu.Lock()
	h.interactive = append(h.interactive, interactive)
	h.mu.Unlock()
	return h.answer(interactive)
}

func (h *healCalls) calls() []bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]bool(nil), h.interactive...)
}

func key(s string) tea.KeyPressMsg {
	switch s {
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	}
	return tea.KeyPressMsg{Code: rune(s[0]), Text: s}
}

// press feeds keys to m, running the commands they return that are heals
// (not ticks or Exec), and returns the last message's command.
func press(m *dashboard, keys ...string) tea.Cmd {
	var cmd tea.Cmd
	for _, k := range keys {
		_, cmd = m.Update(key(k))
		if cmd != nil {
			if msg, ok := cmd().(healDoneMsg); ok {
				_, cmd = m.Update(msg)
			}
		}
	}
	return cmd
}

// oneLine is text with its line breaks and runs of spaces as one space, to
// find a message however it was wrapped.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

var ansiCodes = regexp.MustCompile(`\x1b\[[0-9;]*m`)

func plainScreen(m *dashboard) string { return ansiCodes.ReplaceAllString(m.screen(), "") }

func newTestDashboard(h *healCalls, ask asking) *dashboard {
	now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.Local)
	m := newDashboard(context.Background(), func() {}, h.heal, ask)
	m.now = func() time.Time { return now }
	m.width, m.height = 120, 45
	m.Update(snapshotMsg{status: someStatus(now), at: now})
	return m
}

func TestTheHealKeyAsksFirstAndHealsTheSelectedIssue(t *testing.T) {
	cases := []struct {
		name   string
		keys   []string
		calls  int
		footer string
	}{
		{"h then y heals the selected issue", []string{"h", "y"}, 1, "restart web.service: succeeded — web.service is active again"},
		{"Enter asks as h does", []string{"enter", "y"}, 1, "restart web.service: succeeded"},
		{"any key but y cancels", []string{"h", "n"}, 0, "Not healed."},
		{"Escape cancels and does not quit", []string{"h", "esc"}, 0, "Not healed."},
		{"h alone only asks", []string{"h"}, 0, "Heal unit:web.service now (restart)? y: yes, any other key: no"},
		{"down selects the next issue to heal", []string{"down", "h"}, 0, "Heal disk:/ now (cleanup)?"},
		{"down stops at the last issue", []string{"down", "j", "j", "h"}, 0, "Heal disk:/ now (cleanup)?"},
		{"up stops at the first issue", []string{"k", "up", "h"}, 0, "Heal unit:web.service now (restart)?"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := &healCalls{answer: func(bool) (client.ActionResult, error) { return restarted, nil }}
			m := newTestDashboard(h, asking{terminal: true, agent: "pkttyagent"})
			press(m, c.keys...)
			if n := len(h.calls()); n != c.calls {
				t.Errorf("heal was called %d times; want %d", n, c.calls)
			}
			if s := plainScreen(m); !strings.Contains(s, c.footer) {
				t.Errorf("the screen lacks %q:\n%s", c.footer, s)
			}
		})
	}
}

func TestAHealPolkitRefusesSaysWhyAndWhatToDo(t *testing.T) {
	cases := []struct {
		name  string
		err   error
		ask   asking
		calls []bool
		want  []string
	}{
		{"access denied", denied, asking{terminal: true, agent: "pkttyagent"}, []bool{false},
			[]string{"heal unit:web.service: access denied by polkit.", "sudo healingctl"}},
		{"a password wanted with --no-ask-password", challenge, asking{noAsk: true, terminal: true, agent: "pkttyagent"}, []bool{false},
			[]string{"polkit wants an administrator's password, and --no-ask-password forbids asking for one.",
				"Run 'healingctl heal unit:web.service' in a shell, or allow it without a password"}},
		{"a password wanted without pkttyagent", challenge, asking{terminal: true}, []bool{false},
			[]string{"pkttyagent, polkit's text agent, is not installed (Debian: apt install polkitd)", "Install it, run 'sudo healingctl heal unit:web.service'"}},
		{"a password wanted without a terminal to type on", challenge, asking{agent: "pkttyagent"}, []bool{false},
			[]string{"standard input is not a terminal to type it on", "Run 'healingctl heal unit:web.service' on a terminal"}},
		{"the try-it mode", denied, asking{user: true, terminal: true, agent: "pkttyagent"}, []bool{false},
			[]string{"heal unit:web.service: access denied: the try-it mode accepts changes only from the user who started it."}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := &healCalls{answer: func(bool) (client.ActionResult, error) { return client.ActionResult{}, c.err }}
			m := newTestDashboard(h, c.ask)
			if cmd := press(m, "h", "y"); cmd != nil {
				t.Errorf("got a command after the refusal; want none (no password prompt)")
			}
			if got := h.calls(); !slices.Equal(got, c.calls) {
				t.Errorf("heal calls (interactive?): got %v; want %v", got, c.calls)
			}
			s := plainScreen(m)
			for _, w := range c.want {
				if !strings.Contains(oneLine(s), w) {
					t.Errorf("the screen lacks %q:\n%s", w, s)
				}
			}
		})
	}
}

// When polkit wants a password and one can be asked, the dashboard steps
// aside for polkit's text agent and asks again with interaction allowed,
// in a real Bubble Tea program.
func TestAPasswordIsAskedWithTheUISteppedAside(t *testing.T) {
	h := &healCalls{answer: func(interactive bool) (client.ActionResult, error) {
		if !interactive {
			return client.ActionResult{}, challenge
		}
		return restarted, nil
	}}
	m := newTestDashboard(h, asking{terminal: true, agent: "pkttyagent"})
	var agentRan sync.WaitGroup
	agentRan.Add(1)
	m.agent = func(io.Writer) func() { return agentRan.Done }
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p := tea.NewProgram(m, tea.WithInput(nil), tea.WithOutput(&out), tea.WithWindowSize(120, 45), tea.WithContext(ctx))
	done := make(chan tea.Model, 1)
	go func() {
		final, err := p.Run()
		if err != nil {
			t.Errorf("the program ended with %v", err)
		}
		done <- final
	}()
	p.Send(key("h"))
	p.Send(key("y"))
	agentRan.Wait() // the agent was started and stopped around the interactive call
	for len(h.calls()) < 2 {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // the outcome reaches Update
	p.Send(key("q"))
	final := (<-done).(*dashboard)
	if got := h.calls(); !slices.Equal(got, []bool{false, true}) {
		t.Errorf("heal calls (interactive?): got %v; want a quiet try, then one allowing a password", got)
	}
	if !strings.Contains(out.String(), "healing unit:web.service needs an administrator's authentication") {
		t.Errorf("the terminal did not say why a password is asked:\n%q", out.String())
	}
	if s := plainScreen(final); !strings.Contains(s, "restart web.service: succeeded") {
		t.Errorf("the outcome is not on the screen:\n%s", s)
	}
}

func TestTheSelectionStaysOnItsIssue(t *testing.T) {
	h := &healCalls{}
	m := newTestDashboard(h, asking{})
	press(m, "down")
	if m.selected != "disk:/" {
		t.Fatalf("selected %q; want disk:/", m.selected)
	}
	now := m.now()
	st := someStatus(now)
	st.Issues = append([]client.Issue{{ID: "memory", Severity: "critical"}}, st.Issues...)
	m.Update(snapshotMsg{status: st, at: now})
	if m.selected != "disk:/" {
		t.Errorf("after a new issue came first: selected %q; want still disk:/", m.selected)
	}
	st.Issues = st.Issues[:2]
	m.Update(snapshotMsg{status: st, at: now})
	if m.selected != "memory" {
		t.Errorf("after the selected issue went: selected %q; want the first, memory", m.selected)
	}
	st.Issues = nil
	m.Update(snapshotMsg{status: st, at: now})
	press(m, "h")
	if m.selected != "" || !strings.Contains(plainScreen(m), "No issue to heal.") {
		t.Errorf("with no issues: selected %q, and h does not say there is nothing to heal", m.selected)
	}
}

func TestTheScreenShowsEverySectionAndFitsTheWindow(t *testing.T) {
	m := newTestDashboard(&healCalls{}, asking{})
	now := m.now()
	m.Update(signalMsg{ev: client.Event{Signal: client.SignalIssueDetected, Issue: &someStatus(now).Issues[0]}, at: now.Add(-3 * time.Second)})
	m.Update(signalMsg{ev: client.Event{Signal: "PropertiesChanged", // each check: not news
		Changed: map[string]dbus.Variant{client.PropLastCheck: dbus.MakeVariant(uint64(now.UnixMicro()))}}, at: now})
	hist := []client.HistoryEntry{
		{Time: now, Event: "action-failed", Action: "cleanup", Outcome: "failed", Message: "no space freed"},
		{Time: now, Event: "call-denied", Action: "Heal", Outcome: "denied"},
		{Time: now, Event: "action-refused", Action: "restart", Target: "web.service", Outcome: "refused", Message: "breaker open"},
		{Time: now, Event: "action-refused", Action: "restart", Target: "web.service", Outcome: "refused", Message: "breaker open"},
	}
	m.Update(snapshotMsg{status: someStatus(now), history: hist, at: now})
	s := plainScreen(m)
	t.Logf("\n%s", s)
	for _, want := range []string{
		"luminous-healingd 1.0 on web1 (system mode)",
		"Health ● critical · 2 active issues · healing on · checked 2s ago, every 1m",
		"Last signal 3s ago: IssueDetected unit:web.service [critical, failed] web.service failed",
		"  disk:/  97.0%",
		"› ● critical  unit:web.service  failed   restart  1m ago     web.service failed",
		"  memory  70.0% → 85%  in 5h00m  +3.00/h  confidence 80%",
		"restart web.service  refused  ×2  breaker open",
		"cleanup              failed       no space freed",
		"disk:/  2 failure(s)  next attempt in 1m",
		"web.service  failed (failed)",
		"↑/↓ select · h heal the selected issue · r refresh · q quit",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the screen lacks %q", want)
		}
	}
	if strings.Contains(s, "call-denied") || strings.Contains(s, "Heal ") {
		t.Error("RECENT ACTIONS shows a call decision; want actions only")
	}
	for _, size := range [][2]int{{120, 45}, {80, 24}, {60, 12}} {
		m.Update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		lines := strings.Split(plainScreen(m), "\n")
		if len(lines) != size[1] {
			t.Errorf("%dx%d: %d lines; want exactly the window's height", size[0], size[1], len(lines))
		}
		for _, l := range lines {
			if w := len([]rune(l)); w > size[0] {
				t.Errorf("%dx%d: a line of %d cells: %q", size[0], size[1], w, l)
			}
		}
		if !strings.HasPrefix(lines[len(lines)-1], "↑/↓ select") {
			t.Errorf("%dx%d: the keys are not on the last line: %q", size[0], size[1], lines[len(lines)-1])
		}
	}
	if s := plainScreen(m); !strings.Contains(s, "… more below: enlarge the window") {
		t.Errorf("60x12: nothing says the rest is cut:\n%s", s)
	}
}

func TestALostDaemonIsABannerUntilTheNextSnapshot(t *testing.T) {
	m := newTestDashboard(&healCalls{}, asking{})
	now := m.now()
	m.Update(lostMsg{err: errDaemonLeft, at: now})
	m.Update(lostMsg{err: fmt.Errorf("%w: nobody owns it", client.ErrUnreachable), at: now.Add(time.Second)})
	s := plainScreen(m)
	if !strings.Contains(s, "✖ luminous-healingd is not reachable since 12:00:00") ||
		!strings.Contains(s, "Below is what it reported at 12:00:00") || !strings.Contains(s, "RESOURCES") {
		t.Errorf("the banner does not say since when, and the board is gone:\n%s", s)
	}
	press(m, "h")
	if !strings.Contains(plainScreen(m), "nothing can be healed until it is back") {
		t.Error("h while the daemon is away does not say it cannot heal")
	}
	m.Update(snapshotMsg{status: someStatus(now), at: now})
	if s := plainScreen(m); strings.Contains(s, "✖") {
		t.Errorf("the banner stays after a snapshot:\n%s", s)
	}
}

func TestQuitKeys(t *testing.T) {
	for _, k := range []string{"q", "esc"} {
		m := newTestDashboard(&healCalls{}, asking{})
		_, cmd := m.Update(key(k))
		if cmd == nil {
			t.Errorf("%s: no command; want tea.Quit", k)
			continue
		}
		if _, ok := cmd().(tea.QuitMsg); !ok {
			t.Errorf("%s: got %T; want tea.QuitMsg", k, cmd())
		}
	}
	m := newTestDashboard(&healCalls{}, asking{})
	_, cmd := m.Update(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	if cmd == nil {
		t.Fatal("ctrl+c: no command; want tea.Quit")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Errorf("ctrl+c: got %T; want tea.QuitMsg", cmd())
	}
}

func TestSparkline(t *testing.T) {
	cases := []struct {
		name      string
		points    []float64
		threshold float64
		width     int
		want      string
	}{
		{"no points is blank", nil, 80, 4, "    "},
		{"right-aligned, newest last", []float64{0, 40, 80}, 80, 5, "  ▁▄█"},
		{"only the newest that fit", []float64{80, 80, 0, 0}, 80, 2, "▁▁"},
		{"above the threshold the scale grows", []float64{50, 100}, 50, 2, "▄█"},
		{"no threshold: against the highest point", []float64{1, 2}, 0, 2, "▄█"},
		{"all zero", []float64{0, 0}, 0, 2, "▁▁"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := sparkline(c.points, c.threshold, c.width); got != c.want {
				t.Errorf("got %q; want %q", got, c.want)
			}
		})
	}
}

func TestTheSeriesKeepOneReadingPerCheck(t *testing.T) {
	s := newSeriesRing()
	t0 := time.Unix(1_800_000_000, 0)
	st := client.Status{Summary: client.Summary{Started: t0}, Resources: []client.Resource{{ID: "cpu", Value: 1}, {ID: "disk:/srv", Value: 5}}}
	s.observe(st) // before the first check: the start's readings
	st.Resources[0].Value = 2
	s.observe(st) // a poll before any check: nothing new
	for i := range seriesPoints + 5 {
		st.LastCheck = t0.Add(time.Duration(i+1) * time.Minute)
		st.Resources[0].Value = float64(i + 3)
		s.observe(st)
		s.observe(st) // a refresh between two checks
	}
	cpu := s.points["cpu"]
	if len(cpu) != seriesPoints || cpu[0] != 8 || cpu[len(cpu)-1] != float64(seriesPoints+7) {
		t.Errorf("cpu: %d points from %v to %v; want the newest %d, one per check", len(cpu), cpu[0], cpu[len(cpu)-1], seriesPoints)
	}
	st.Resources = st.Resources[:1]
	st.LastCheck = st.LastCheck.Add(time.Minute)
	s.observe(st)
	if _, ok := s.points["disk:/srv"]; ok {
		t.Error("a mount no longer reported keeps its series")
	}
}

func TestRefreshAsksTheFeedAndSaysSoUntilTheSnapshot(t *testing.T) {
	m := newTestDashboard(&healCalls{}, asking{})
	pokes := 0
	m.poke = func() { pokes++ }
	press(m, "r")
	if pokes != 1 || !strings.Contains(plainScreen(m), "Refreshing…") {
		t.Fatalf("r: %d pokes, screen without Refreshing…; want one poke and the word", pokes)
	}
	m.Update(snapshotMsg{status: someStatus(m.now()), at: m.now()})
	if strings.Contains(plainScreen(m), "Refreshing…") {
		t.Error("Refreshing… stays after the snapshot arrived")
	}
}

func TestTheScreenShowsSilencesAndSilencedIssues(t *testing.T) {
	m := newTestDashboard(&healCalls{}, asking{})
	now := m.now()
	st := someStatus(now)
	st.ActiveSilences = 1
	st.Issues[0].State, st.Issues[0].Silenced, st.Issues[0].SilenceEffect = "silenced", "silence-1a2b3c4d", "notify-only"
	st.Silences = []client.Silence{{ID: "silence-1a2b3c4d", Scope: "unit:web.service", Effect: "notify-only", Reason: "upgrading web",
		Author: "alice (uid 1000)", Created: now, Starts: now, Expires: now.Add(90 * time.Minute), Active: true}}
	st.Units[0].StoppedOnPurpose = time.Date(2026, 12, 2, 5, 3, 21, 0, time.Local)
	m.Update(tea.WindowSizeMsg{Width: 200, Height: 60})
	m.Update(snapshotMsg{status: st, at: now})
	s := plainScreen(m)
	t.Logf("\n%s", s)
	for _, want := range []string{
		"1 silence(s) in force: healing paused within their scope (healingctl silence list)",
		"web.service failed [silenced by silence-1a2b3c4d, notify-only]",
		"SILENCES",
		"silence-1a2b3c4d  in force  unit:web.service  notify-only  until",
		"by alice (uid 1000)  upgrading web",
		"stopped on purpose at 2026-12-02 05:03:21",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the screen lacks %q", want)
		}
	}
}

// The dashboard lists the health probes: target, interval, the last
// result and the failures in a row against those that open an issue.
func TestDashboardShowsTheProbes(t *testing.T) {
	now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.Local)
	m := newDashboard(context.Background(), func() {}, (&healCalls{}).heal, asking{})
	m.now = func() time.Time { return now }
	m.width, m.height = 160, 80
	st := someStatus(now)
	st.Probes = []client.Probe{
		{Unit: "web.service", Type: "http", Target: "GET http://127.0.0.1:8080/healthz → 200", Interval: 10 * time.Second,
			Failures: 3, Failing: 2, Action: "restart", LastAt: now.Add(-3 * time.Second), LastDetail: "timed out after 2s"},
		{Unit: "db.service", Type: "tcp", Target: "tcp 127.0.0.1:5432", Interval: 30 * time.Second, Failures: 3,
			Action: "none", LastAt: now.Add(-time.Second), LastOK: true},
	}
	m.Update(snapshotMsg{status: st, at: now})
	screen := oneLine(plainScreen(m))
	for _, want := range []string{"PROBES", "GET http://127.0.0.1:8080/healthz → 200", "every 10s", "failed 3s ago: timed out after 2s", "2/3 failing",
		"tcp 127.0.0.1:5432", "0/3 failing (watch only)"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the dashboard lacks %q:\n%s", want, plainScreen(m))
		}
	}
}
