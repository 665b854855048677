package dashboard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/ctl/show"
)

// HealFunc runs the heal call healingctl heal makes; interactive allows
// polkit to ask for a password.
type HealFunc func(ctx context.Context, id string, interactive bool) (client.ActionResult, error)

// asking says whether the dashboard may suspend itself for polkit's
// password prompt, and if not, why.
type asking struct {
	noAsk    bool   // --no-ask-password
	terminal bool   // standard input is a terminal to type on
	root     bool   // polkit never asks root
	user     bool   // the try-it mode has no polkit
	agent    string // pkttyagent's path, "" when it is not installed
}

func (a asking) possible() bool {
	return !a.noAsk && a.terminal && !a.root && !a.user && a.agent != ""
}

// whyNot says why no password can be asked for the issue id, and what to
// do instead.
func (a asking) whyNot(id string) (why, next string) {
	instead := "allow it without a password (docs/healingctl.md, \"Who may do what\")"
	switch {
	case a.noAsk:
		return "--no-ask-password forbids asking for one", "Run 'healingctl heal " + id + "' in a shell, or " + instead + "."
	case a.root:
		return "it runs as root, whom polkit should never ask", "Check the polkit rules for org.luminous.healing.heal."
	case a.user:
		return "the try-it mode has no polkit to ask with", "Check that luminous-healingd --user runs as you."
	case !a.terminal:
		return "standard input is not a terminal to type it on", "Run 'healingctl heal " + id + "' on a terminal, or " + instead + "."
	case a.agent == "":
		return "pkttyagent, polkit's text agent, is not installed (Debian: apt install polkitd)",
			"Install it, run 'sudo healingctl heal " + id + "', or " + instead + "."
	}
	return "polkit found no agent to ask with", "Run 'sudo healingctl heal " + id + "', or " + instead + "."
}

// Messages of the dashboard itself.
type (
	tickMsg     time.Time
	healDoneMsg struct {
		id       string
		result   client.ActionResult
		err      error
		prompted bool // the call allowed polkit to ask for a password
	}
)

// dashboard is the full-screen UI: a board, the selected issue, and the
// heal in progress. Its Update is the only place its state changes.
type dashboard struct {
	ctx  context.Context
	b    *board
	poke func() // asks the feed for a snapshot now
	heal HealFunc
	ask  asking
	// agent starts polkit's text agent for the password prompt and
	// returns how to stop it.
	agent func(stderr io.Writer) (stop func())

	width, height int
	selected      string   // the selected issue's id
	confirm       string   // the issue whose heal waits for y
	busy          string   // the issue being healed
	flash         []string // the latest outcome, one or two lines
	flashSev      string   // its severity, for its colour
	refreshing    bool     // r was pressed: the next snapshot clears the flash
	now           func() time.Time
}

func newDashboard(ctx context.Context, poke func(), heal HealFunc, ask asking) *dashboard {
	return &dashboard{ctx: ctx, b: newBoard(), poke: poke, heal: heal, ask: ask,
		agent: func(io.Writer) func() { return func() {} },
		width: 80, height: 24, now: time.Now}
}

func tick() tea.Cmd {
	return tea.Tick(time.Second, func(t time.Time) tea.Msg { return tickMsg(t) })
}

// Init implements tea.Model.
func (m *dashboard) Init() tea.Cmd { return tick() }

// Update implements tea.Model.
func (m *dashboard) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case tickMsg:
		return m, tick() // ages and countdowns move
	case snapshotMsg:
		m.b.update(msg.status, msg.history, msg.at)
		m.keepSelection()
		if m.refreshing {
			m.refreshing, m.flash = false, nil
		}
	case signalMsg:
		if line, ok := signalLine(msg.ev, msg.at); ok {
			m.b.signal, m.b.signalAt = line, msg.at
		}
	case lostMsg:
		if m.b.lost == "" {
			m.b.lostAt = msg.at
		}
		m.b.lost = whyLost(msg.err)
	case healDoneMsg:
		return m, m.healed(msg)
	case tea.KeyPressMsg:
		return m, m.key(msg)
	}
	return m, nil
}

// keepSelection follows the selected issue across snapshots; when it is
// gone, the one now in its place is selected.
func (m *dashboard) keepSelection() {
	issues := m.b.status.Issues
	if len(issues) == 0 {
		m.selected = ""
		return
	}
	if slices.ContainsFunc(issues, func(i client.Issue) bool { return i.ID == m.selected }) {
		return
	}
	m.selected = issues[0].ID
}

func (m *dashboard) move(by int) {
	issues := m.b.status.Issues
	if len(issues) == 0 {
		return
	}
	i := slices.IndexFunc(issues, func(i client.Issue) bool { return i.ID == m.selected })
	m.selected = issues[min(max(i+by, 0), len(issues)-1)].ID
}

func (m *dashboard) say(severity string, lines ...string) {
	m.flash, m.flashSev, m.refreshing = lines, severity, false
}

func (m *dashboard) key(k tea.KeyPressMsg) tea.Cmd {
	key := k.String()
	if m.confirm != "" {
		id := m.confirm
		m.confirm = ""
		if key != "y" && key != "Y" {
			m.say("", "Not healed.")
			return nil
		}
		m.busy = id
		m.say("", "Healing "+id+"…")
		return m.healCmd(id)
	}
	switch key {
	case "q", "ctrl+c", "esc":
		return tea.Quit
	case "up", "k":
		m.move(-1)
	case "down", "j":
		m.move(+1)
	case "r":
		m.poke()
		m.say("", "Refreshing…")
		m.refreshing = true
	case "h", "enter":
		switch {
		case m.busy != "":
			m.say("warning", m.busy+" is being healed; wait for the outcome.")
		case m.b.lost != "":
			m.say("warning", "luminous-healingd is not reachable; nothing can be healed until it is back.")
		case m.selected == "":
			m.say("", "No issue to heal.")
		default:
			m.confirm = m.selected
		}
	}
	return nil
}

func (m *dashboard) healCmd(id string) tea.Cmd {
	return func() tea.Msg {
		r, err := m.heal(m.ctx, id, false)
		return healDoneMsg{id: id, result: r, err: err}
	}
}

// healed shows a heal's outcome. When polkit wants a password and one can
// be asked, the UI steps aside: the terminal goes back to normal, polkit's
// text agent asks on it, and the UI returns with the outcome.
func (m *dashboard) healed(msg healDoneMsg) tea.Cmd {
	m.busy = ""
	if msg.err == nil {
		sev := msg.result.Outcome
		m.say(sev, show.Result(msg.result))
		m.poke()
		return nil
	}
	if errors.Is(msg.err, client.ErrInteractiveAuthorizationRequired) {
		if !msg.prompted && m.ask.possible() {
			m.busy = msg.id
			m.say("", "Asking for a password…")
			a := &authHeal{ctx: m.ctx, id: msg.id, heal: m.heal, agent: m.agent}
			return tea.Exec(a, func(error) tea.Msg {
				return healDoneMsg{id: a.id, result: a.result, err: a.err, prompted: true}
			})
		}
		ask := m.ask
		if msg.prompted {
			ask = asking{terminal: true, agent: ask.agent} // it was asked, and nobody answered
		}
		why, next := ask.whyNot(msg.id)
		m.say("critical", fmt.Sprintf("heal %s: polkit wants an administrator's password, and %s.", msg.id, why), next)
		return nil
	}
	_, text := show.Explain(msg.err, m.ask.user, false)
	lines := strings.SplitN(strings.TrimPrefix(text, "healingctl: "), "\n", 2)
	lines[0] = "heal " + msg.id + ": " + lines[0]
	m.say("critical", lines...)
	return nil
}

// authHeal is a heal with polkit's text agent asking for the password on
// the terminal, run while the UI has stepped aside (tea.Exec).
type authHeal struct {
	ctx    context.Context
	id     string
	heal   HealFunc
	agent  func(io.Writer) func()
	out    io.Writer
	errOut io.Writer
	result client.ActionResult
	err    error
}

func (a *authHeal) SetStdin(io.Reader)    {}
func (a *authHeal) SetStdout(w io.Writer) { a.out = w }
func (a *authHeal) SetStderr(w io.Writer) { a.errOut = w }

// Run implements tea.ExecCommand.
func (a *authHeal) Run() error {
	fmt.Fprintf(a.out, "\nhealingctl dashboard: healing %s needs an administrator's authentication.\n"+
		"polkit asks below; Ctrl-C cancels. The dashboard comes back afterwards.\n\n", a.id)
	stop := a.agent(a.errOut)
	defer stop()
	a.result, a.err = a.heal(a.ctx, a.id, true)
	return nil
}

// signalLine is a signal in one line for the "Last signal" line; each
// check's LastCheck is not news.
func signalLine(ev client.Event, at time.Time) (string, bool) {
	if ev.Signal == "PropertiesChanged" {
		changed := maps.Clone(ev.Changed)
		delete(changed, client.PropLastCheck)
		if len(changed) == 0 {
			return "", false
		}
		ev.Changed = changed
	}
	return strings.Join(strings.Fields(show.Event(ev, at)), " "), true
}

// View implements tea.Model.
func (m *dashboard) View() tea.View {
	v := tea.NewView(m.screen())
	v.AltScreen = true
	v.WindowTitle = "healingctl dashboard"
	if m.b.have {
		v.WindowTitle = fmt.Sprintf("%s: %s — healingctl dashboard", show.OrDash(m.b.status.Hostname), m.b.status.Health)
	}
	return v
}

// screen lays the dashboard out in the window: a banner while the daemon
// is away, the board, and at the bottom the latest outcome and the keys.
// What does not fit is cut, the recent actions first.
func (m *dashboard) screen() string {
	p := palette{color: true}
	now := m.now()
	w, h := max(m.width, 20), max(m.height, 5)
	var top []string
	if m.b.lost != "" {
		text := fmt.Sprintf("✖ luminous-healingd is not reachable since %s: %s. Reconnecting…",
			m.b.lostAt.Local().Format("15:04:05"), m.b.lost)
		if m.b.have {
			text += fmt.Sprintf(" Below is what it reported at %s.", m.b.at.Local().Format("15:04:05"))
		}
		for _, l := range show.Wrap(text, w) {
			top = append(top, p.style(show.Banner, l+strings.Repeat(" ", max(w-lipgloss.Width(l), 0))))
		}
	}
	var foot []string
	switch {
	case m.confirm != "":
		action := "its action"
		if i := slices.IndexFunc(m.b.status.Issues, func(i client.Issue) bool { return i.ID == m.confirm }); i >= 0 {
			action = m.b.status.Issues[i].Action
		}
		foot = append(foot, p.style(show.Heading, fmt.Sprintf("Heal %s now (%s)? y: yes, any other key: no", m.confirm, action)))
	case len(m.flash) > 0:
		for _, l := range m.flash {
			for _, part := range show.Wrap(l, w) {
				foot = append(foot, p.sev(m.flashSev, part))
			}
		}
	default:
		foot = append(foot, "")
	}
	foot = append(foot, p.style(show.Dim, "↑/↓ select · h heal the selected issue · r refresh · q quit"))
	for i, l := range foot {
		foot[i] = show.Truncate(l, w)
	}

	room := h - len(top) - len(foot)
	var body []string
	if !m.b.have {
		body = []string{"Connecting to luminous-healingd…"}
	} else {
		l := look{palette: p, width: w, now: now, selected: m.selected, maxActions: maxRecentActions, live: true}
		body = m.b.render(l)
		if over := len(body) - room; over > 0 {
			l.maxActions = max(maxRecentActions-over, 1)
			body = m.b.render(l)
		}
	}
	if len(body) > room {
		body = append(body[:max(room-1, 0)], p.style(show.Dim, "… more below: enlarge the window"))
	}
	for len(body) < room {
		body = append(body, "")
	}
	return strings.Join(slices.Concat(top, body, foot), "\n")
}
