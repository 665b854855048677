package ctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/ctl/show"
)

// The freedesktop Desktop Notifications API, spoken directly on the session
// bus: no libnotify, no notify-send.
// https://specifications.freedesktop.org/notification-spec/latest/
const (
	notificationsName  = "org.freedesktop.Notifications"
	notificationsPath  = "/org/freedesktop/Notifications"
	notificationsIface = "org.freedesktop.Notifications"
	notifyAppName      = "luminous-healing"
	// notifierName is owned on the session bus by the one notifier of a
	// session, so that the systemd user unit and the XDG autostart entry
	// never both notify.
	notifierName = "org.luminous.Healing.Notifier"
)

// Urgency levels of the spec's "urgency" hint.
const (
	urgencyLow      byte = 0
	urgencyNormal   byte = 1
	urgencyCritical byte = 2
)

// Action keys of a notification's buttons. "default" is the spec's
// action for a click on the notification itself; it opens Details.
const (
	actHeal    = "heal"
	actReset   = "reset"
	actDetails = "default"
)

var actionLabels = map[string]string{actHeal: "Heal now", actReset: "Reset", actDetails: "Details"}

// defaultDetailsURL is the dashboard at the daemon's default listener.
const defaultDetailsURL = "http://127.0.0.1:9955/"

// Reconnection backoff, for the system bus and the daemon.
const (
	backoffFirst = time.Second
	backoffMax   = 30 * time.Second
)

// notification is one Notify call. key says which earlier notification it
// replaces: an issue's id, a series' id, "daemon" or a setting.
type notification struct {
	key       string
	summary   string
	body      string
	icon      string
	urgency   byte
	transient bool // news that needs no keeping in the notification history
	// issue is what Heal now and Reset act on; actions are the buttons
	// offered (actHeal, actReset, actDetails), shown only by a server with
	// the "actions" capability.
	issue   string
	actions []string
}

// healer is what the notifier's buttons call on the daemon.
type healer interface {
	Heal(ctx context.Context, issueID string) (client.ActionResult, error)
	ResetBreaker(ctx context.Context, issueID string) error
	Issues(ctx context.Context) ([]client.Issue, error)
}

// notifyOptions are watch --notify's flags.
type notifyOptions struct {
	detailsURL string
}

// notifier turns the daemon's signals into desktop notifications: one per
// issue, replaced as the issue changes and when it is resolved; and runs
// what their buttons ask for.
type notifier struct {
	conn    *dbus.Conn
	obj     dbus.BusObject
	stderr  io.Writer
	details []string      // the command Details runs; nil: no Details
	lost    chan struct{} // closed when the session bus connection closes
	// outOfReach: the system bus was lost; said to be back once the
	// daemon answers again. Only runNotifier's goroutine uses it.
	outOfReach bool

	mu      sync.Mutex                     // guards what follows, and orders Notify calls
	ids     map[string]uint32              // key → the server's notification id, for replaces_id
	offers  map[uint32]notification        // the server's id → the notification whose buttons it shows
	acted   map[string]client.ActionResult // issue id → its latest action, told when it is resolved
	failed  bool                           // the last Notify failed; said once until one works
	markup  bool                           // the server reads the body as markup: escape it
	buttons bool                           // the server shows actions
	server  string                         // the notification server's unique name; "" when none runs
	vendor  string                         // the server's name, from GetServerInformation
	daemon  healer                         // the daemon while connected, else nil
}

// maxKeys bounds what a notifier remembers; past it, it forgets, and the
// next notification of a forgotten key is new rather than a replacement.
const maxKeys = 1024

// dialNotifier connects to the session bus at address, checks that a
// notification server answers there and follows it: its buttons, and its
// going away and coming back.
func dialNotifier(ctx context.Context, address string, stderr io.Writer, opts notifyOptions) (*notifier, error) {
	if address == "" {
		return nil, errors.New("no session bus for desktop notifications: DBUS_SESSION_BUS_ADDRESS is unset and $XDG_RUNTIME_DIR/bus does not exist;\n" +
			"run 'healingctl watch --notify' inside your graphical session (a systemd user unit), or 'healingctl watch' to print the signals")
	}
	conn, err := dbus.Connect(address, dbus.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("cannot connect to the session bus for desktop notifications: %w", err)
	}
	n := &notifier{conn: conn, obj: conn.Object(notificationsName, notificationsPath), stderr: stderr,
		details: detailsCommand(opts.detailsURL), lost: make(chan struct{}),
		ids: map[string]uint32{}, offers: map[uint32]notification{}, acted: map[string]client.ActionResult{}}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var name, vendor, version, spec string
	if err := n.obj.CallWithContext(cctx, notificationsIface+".GetServerInformation", 0).Store(&name, &vendor, &version, &spec); err != nil {
		conn.Close()
		var de dbus.Error
		if errors.As(err, &de) && (de.Name == "org.freedesktop.DBus.Error.ServiceUnknown" || de.Name == "org.freedesktop.DBus.Error.NameHasNoOwner") {
			return nil, errors.New("no notification server runs on your session bus (nobody owns org.freedesktop.Notifications);\n" +
				"start your desktop's (or one such as dunst or mako), or use 'healingctl watch' to print the signals instead")
		}
		return nil, fmt.Errorf("the notification server on your session bus did not answer: %w", err)
	}
	// The buttons: ActionInvoked and NotificationClosed of the server, and
	// the server's leaving and coming back. As with the daemon's signals,
	// only the current owner of the name is believed.
	rules := [][]dbus.MatchOption{
		{dbus.WithMatchSender(notificationsName), dbus.WithMatchObjectPath(notificationsPath), dbus.WithMatchInterface(notificationsIface)},
		{dbus.WithMatchSender("org.freedesktop.DBus"), dbus.WithMatchObjectPath("/org/freedesktop/DBus"),
			dbus.WithMatchInterface("org.freedesktop.DBus"), dbus.WithMatchMember("NameOwnerChanged"), dbus.WithMatchArg(0, notificationsName)},
	}
	for _, r := range rules {
		if err := conn.AddMatchSignalContext(cctx, r...); err != nil {
			conn.Close()
			return nil, fmt.Errorf("subscribing to the notification server's signals: %w", err)
		}
	}
	raw := make(chan *dbus.Signal, 64)
	conn.Signal(raw)
	if err := conn.BusObject().CallWithContext(cctx, "org.freedesktop.DBus.GetNameOwner", 0, notificationsName).Store(&n.server); err != nil {
		n.server = "" // an activatable server that is not running yet
	}
	n.vendor = name
	n.capabilities(cctx)
	go n.listen(ctx, raw)
	return n, nil
}

// capabilities asks the server what it shows.
func (n *notifier) capabilities(ctx context.Context) {
	var caps []string
	err := n.obj.CallWithContext(ctx, notificationsIface+".GetCapabilities", 0).Store(&caps)
	n.mu.Lock()
	defer n.mu.Unlock()
	n.markup, n.buttons = false, false
	if err == nil {
		n.markup = slices.Contains(caps, "body-markup")
		n.buttons = slices.Contains(caps, "actions")
	}
	// dunst (1.9, with its default markup = full) reads bodies as Pango
	// markup without saying body-markup: "<exit-code>" vanished.
	n.markup = n.markup || n.vendor == "dunst"
}

// claim owns notifierName on the session bus; false means another
// notifier of this session owns it.
func (n *notifier) claim() (bool, error) {
	reply, err := n.conn.RequestName(notifierName, dbus.NameFlagDoNotQueue)
	if err != nil {
		return false, fmt.Errorf("owning %s on the session bus: %w", notifierName, err)
	}
	return reply == dbus.RequestNameReplyPrimaryOwner, nil
}

// detailsCommand is what the Details action runs: the dashboard in the
// desktop's browser, else healingctl status in a terminal, else nothing.
func detailsCommand(url string) []string {
	if url != "" {
		if p, err := exec.LookPath("xdg-open"); err == nil {
			return []string{p, url}
		}
	}
	term, err := exec.LookPath("x-terminal-emulator") // Debian's alternative
	if err != nil {
		return nil
	}
	self, err := os.Executable()
	if err != nil {
		self = "healingctl"
	}
	return []string{term, "-e", "sh", "-c", `"$0" status; echo; echo "Press Enter to close."; read -r _`, self}
}

// markupEscaper keeps a unit's or the daemon's text from being read as
// markup by a server that reads bodies as markup.
var markupEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// Close closes the session bus connection.
func (n *notifier) Close() error { return n.conn.Close() }

// setDaemon says which client the buttons call: the daemon's while the
// system bus is there, nil while it is not.
func (n *notifier) setDaemon(d healer) {
	n.mu.Lock()
	n.daemon = d
	n.mu.Unlock()
}

// show sends the notification an event calls for, if any. A failure is
// reported once on stderr and does not stop the watch: the notification
// server may come back.
func (n *notifier) show(ctx context.Context, ev client.Event) {
	n.mu.Lock()
	// An issue's state is the daemon's last word on it: it announces
	// every move (open, then watching while healing is off, healing, …).
	if ev.Result != nil && ev.Result.Issue != "" {
		if len(n.acted) >= maxKeys {
			clear(n.acted)
		}
		n.acted[ev.Result.Issue] = *ev.Result
	}
	var last *client.ActionResult
	if ev.Issue != nil {
		if r, ok := n.acted[ev.Issue.ID]; ok {
			last = &r
		}
		if ev.Signal == client.SignalIssueResolved {
			delete(n.acted, ev.Issue.ID)
		}
	}
	n.mu.Unlock()
	if note, ok := notificationFor(ev, last); ok {
		n.post(ctx, note)
	}
}

// post sends one notification, replacing its key's earlier one.
func (n *notifier) post(ctx context.Context, note notification) {
	n.mu.Lock()
	defer n.mu.Unlock()
	id, err := n.notifyLocked(ctx, note)
	if err != nil {
		if !n.failed {
			fmt.Fprintf(n.stderr, "healingctl: could not show a desktop notification: %v\n", err)
		}
		n.failed = true
		return
	}
	n.failed = false
	if len(n.ids) >= maxKeys {
		clear(n.ids)
	}
	if old, ok := n.ids[note.key]; ok {
		delete(n.offers, old)
	}
	n.ids[note.key] = id
	if n.buttons && len(note.actions) > 0 {
		if len(n.offers) >= maxKeys {
			clear(n.offers)
		}
		n.offers[id] = note
	}
}

// notifyLocked is one Notify call, replacing the key's earlier
// notification.
func (n *notifier) notifyLocked(ctx context.Context, note notification) (uint32, error) {
	hints := map[string]dbus.Variant{"urgency": dbus.MakeVariant(note.urgency)}
	if note.transient {
		hints["transient"] = dbus.MakeVariant(true)
	}
	summary, body := show.SafeText(note.summary, false), show.SafeText(note.body, true)
	if n.markup {
		body = markupEscaper.Replace(body)
	}
	actions := []string{}
	if n.buttons {
		for _, a := range note.actions {
			if a == actDetails && n.details == nil {
				continue
			}
			actions = append(actions, a, actionLabels[a])
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var id uint32
	err := n.obj.CallWithContext(cctx, notificationsIface+".Notify", 0,
		notifyAppName, n.ids[note.key], note.icon, summary, body, actions, hints, int32(-1)).Store(&id)
	return id, err
}

// listen follows the notification server: its buttons, its closing
// notifications, its leaving and coming back. It returns when the session
// bus connection closes.
func (n *notifier) listen(ctx context.Context, raw chan *dbus.Signal) {
	defer close(n.lost)
	for {
		var s *dbus.Signal
		var ok bool
		select {
		case <-ctx.Done():
			return
		case <-n.conn.Context().Done():
			return
		case s, ok = <-raw:
			if !ok {
				return
			}
		}
		switch {
		case s.Name == "org.freedesktop.DBus.NameOwnerChanged" && s.Sender == "org.freedesktop.DBus" && len(s.Body) == 3:
			if name, _ := s.Body[0].(string); name != notificationsName {
				continue
			}
			owner, _ := s.Body[2].(string)
			n.mu.Lock()
			n.server = owner
			// The old server's ids mean nothing to the next one.
			clear(n.ids)
			clear(n.offers)
			n.mu.Unlock()
			if owner != "" {
				go n.serverBack(ctx)
			}
		case s.Path != notificationsPath:
		case s.Name == notificationsIface+".ActionInvoked" && len(s.Body) == 2:
			id, _ := s.Body[0].(uint32)
			key, _ := s.Body[1].(string)
			n.mu.Lock()
			note, ok := n.offers[id]
			ok = ok && s.Sender == n.server && slices.Contains(note.actions, key)
			n.mu.Unlock()
			if ok {
				go n.invoke(ctx, note, key)
			}
		case s.Name == notificationsIface+".NotificationClosed" && len(s.Body) == 2:
			id, _ := s.Body[0].(uint32)
			n.mu.Lock()
			if s.Sender == n.server {
				delete(n.offers, id)
			}
			n.mu.Unlock()
		}
	}
}

// serverBack shows a new notification server what is wrong now: the
// notifications of the one that went away went with it.
func (n *notifier) serverBack(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var name, vendor, version, spec string
	if err := n.obj.CallWithContext(cctx, notificationsIface+".GetServerInformation", 0).Store(&name, &vendor, &version, &spec); err == nil {
		n.mu.Lock()
		n.vendor = name
		n.mu.Unlock()
	}
	n.capabilities(cctx)
	n.mu.Lock()
	d := n.daemon
	n.mu.Unlock()
	if d == nil {
		return
	}
	issues, err := d.Issues(cctx)
	if err != nil {
		return
	}
	for _, i := range issues {
		n.show(ctx, client.Event{Signal: client.SignalIssueDetected, Issue: &i})
	}
}

// invoke runs what a button asks for and tells its outcome in the same
// notification.
func (n *notifier) invoke(ctx context.Context, note notification, action string) {
	if action == actDetails {
		if err := n.openDetails(); err != nil {
			fmt.Fprintf(n.stderr, "healingctl: Details: %v\n", err)
			n.post(ctx, notification{key: note.key, summary: note.summary, icon: note.icon, urgency: note.urgency,
				body: note.body + "\nCould not open the details: " + err.Error(), issue: note.issue, actions: note.actions})
		}
		return
	}
	n.mu.Lock()
	d := n.daemon
	n.mu.Unlock()
	if d == nil {
		n.post(ctx, outcomeFor(note, action, client.ActionResult{}, errors.New("luminous-healingd is not reachable now")))
		return
	}
	verb := "Healing"
	if action == actReset {
		verb = "Re-arming"
	}
	n.post(ctx, notification{key: note.key, summary: verb + " " + note.issue + "…", icon: "dialog-information", urgency: note.urgency,
		body: "Asked luminous-healingd; your desktop may ask for an administrator's password."})
	cctx, cancel := context.WithTimeout(ctx, actionTimeout)
	defer cancel()
	var r client.ActionResult
	var err error
	if action == actReset {
		err = d.ResetBreaker(cctx, note.issue)
	} else {
		r, err = d.Heal(cctx, note.issue)
	}
	if ctx.Err() != nil {
		return
	}
	n.post(ctx, outcomeFor(note, action, r, err))
}

// openDetails runs the Details command without waiting for it.
func (n *notifier) openDetails() error {
	if n.details == nil {
		return errors.New("neither xdg-open nor x-terminal-emulator is installed")
	}
	cmd := exec.Command(n.details[0], n.details[1:]...)
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}

// outcomeFor is what a person is told after pressing Heal now or Reset on
// note: the result, or why nothing was done. A refusal or failure keeps the
// buttons, so that it can be tried again.
func outcomeFor(note notification, action string, r client.ActionResult, err error) notification {
	out := notification{key: note.key, issue: note.issue, icon: "dialog-information", urgency: urgencyLow}
	what := "heal"
	if action == actReset {
		what = "re-arm"
	}
	switch {
	case err == nil && action == actReset:
		out.summary = "Re-armed: " + note.issue
		out.body = "Healing of " + note.issue + " is armed again; it is tried at the next check."
	case err == nil && r.Outcome == "planned":
		out.summary = "Planned, not executed: " + note.issue
		out.body = show.Result(r) + "\nDry-run is on ('healingctl set dry-run off' executes actions)."
		out.actions = []string{actDetails}
	case err == nil && r.Outcome == "succeeded":
		out.summary = "Healed: " + note.issue
		out.body = show.Result(r)
		out.actions = []string{actDetails}
	case err == nil:
		out.summary = "Not healed: " + note.issue
		out.body = show.Result(r)
		out.icon, out.urgency, out.actions = "dialog-error", urgencyNormal, note.actions
	case errors.Is(err, client.ErrInteractiveAuthorizationRequired):
		out.summary = "Not allowed to " + what + " " + note.issue
		out.body = "It needs an administrator's password, and no authentication agent of your desktop could ask for it."
		out.icon, out.urgency, out.actions = "dialog-error", urgencyNormal, note.actions
	case errors.Is(err, client.ErrAccessDenied):
		out.summary = "Not allowed to " + what + " " + note.issue
		out.body = "polkit refused it (or the password dialog was dismissed). An administrator may grant it: docs/healingctl.md, \"Who may do what\"."
		out.icon, out.urgency, out.actions = "dialog-error", urgencyNormal, note.actions
	default:
		var ce *client.Error
		msg := err.Error()
		if errors.As(err, &ce) {
			msg = ce.Message
		}
		out.summary = "Could not " + what + " " + note.issue
		out.body = msg
		out.icon, out.urgency, out.actions = "dialog-error", urgencyNormal, note.actions
	}
	return out
}

// notificationFor is what a person is told of an event: issues by
// severity, failures, forecasts, the daemon leaving, automatic healing or
// dry-run switched. last is the issue's latest action, if any. Ordinary
// bookkeeping (each check, an action whose issue's fate follows) is not
// news.
func notificationFor(ev client.Event, last *client.ActionResult) (notification, bool) {
	if ev.Issue != nil && ev.Issue.SilenceEffect == "pause" {
		// A silence that pauses healing holds its notifications back
		// too; `healingctl issues` and the history still show them.
		return notification{}, false
	}
	switch ev.Signal {
	case client.SignalIssueDetected, client.SignalIssueChanged:
		i := ev.Issue
		n := notification{key: i.ID, summary: fmt.Sprintf("%s: %s", title(i.Severity), i.ID),
			body: i.Message, icon: "dialog-warning", urgency: urgencyNormal}
		if i.Severity == "critical" {
			n.icon, n.urgency = "dialog-error", urgencyCritical
		}
		if i.Synthetic {
			n.summary += " (injected)"
		}
		if i.Cause != "" {
			n.body += "\nCause: " + i.Cause
		}
		if s := issueState(*i); s != "" {
			n.body += "\n" + s
		}
		n.issue, n.actions = i.ID, issueActions(*i)
		return n, true
	case client.SignalIssueResolved:
		i := ev.Issue
		n := notification{key: i.ID, summary: "Resolved: " + i.ID, body: i.Message,
			icon: "dialog-information", urgency: urgencyLow, transient: true}
		if last != nil {
			n.body += "\n" + show.Result(*last)
		}
		n.issue, n.actions = i.ID, []string{actDetails}
		return n, true
	case client.SignalHealingFailed:
		f := ev.Failure
		key := f.Issue
		if key == "" {
			key = "action:" + f.Action + ":" + f.Target
		}
		n := notification{key: key, summary: fmt.Sprintf("Healing failed: %s", show.OrDash(f.Issue)),
			body: show.Result(f.ActionResult), icon: "dialog-error", urgency: urgencyNormal}
		if f.Severity == "critical" {
			n.urgency = urgencyCritical
		}
		if f.Cause != "" && f.Cause != f.Message {
			n.body += "\nCause: " + f.Cause
		}
		if f.State == "given-up" {
			n.summary = "Gave up healing: " + show.OrDash(f.Issue)
			n.urgency = urgencyCritical
			n.body += fmt.Sprintf("\nAfter %d failed attempts healing stops until 'healingctl reset %s'.", f.Attempts, f.Issue)
		} else if f.Attempts > 0 {
			n.body += fmt.Sprintf("\nAttempt %d; it is retried with backoff.", f.Attempts)
		}
		if f.Issue != "" {
			n.issue, n.actions = f.Issue, []string{actDetails}
			switch {
			case f.State == "given-up":
				n.actions = []string{actHeal, actReset, actDetails}
			case f.Outcome == "refused":
				n.actions = []string{actHeal, actDetails}
			}
		}
		return n, true
	case client.SignalPredictionAlert:
		p := ev.Prediction
		return notification{key: p.Series,
			summary: fmt.Sprintf("Predicted: %s reaches %s %s", p.Series, show.Threshold(p.Kind, p.Threshold), in(p.ETA)),
			body:    fmt.Sprintf("Now %s, trend %+.2f/h, confidence %.0f%%.", show.Value(p.Kind, p.Value), p.TrendPerHour, 100*p.Confidence),
			icon:    "dialog-warning", urgency: urgencyNormal}, true
	case client.SignalNameOwnerChanged:
		if ev.Running() {
			return notification{key: "daemon", summary: "luminous-healingd is back",
				body: "Issues are watched and healed again.", icon: "dialog-information", urgency: urgencyLow, transient: true}, true
		}
		return notification{key: "daemon", summary: "luminous-healingd stopped",
			body: "Nothing is watched or healed until it is back ('systemctl status luminous-healing').",
			icon: "dialog-warning", urgency: urgencyNormal}, true
	case "PropertiesChanged":
		if v, ok := ev.Changed[client.PropHealingEnabled].Value().(bool); ok {
			n := notification{key: "setting:healing", summary: "Automatic healing is on",
				body: "Issues are healed as they are found.", icon: "dialog-information", urgency: urgencyLow, transient: true}
			if !v {
				n.summary, n.body, n.urgency = "Automatic healing is off",
					"Issues are watched, not healed ('healingctl set healing on').", urgencyNormal
			}
			return n, true
		}
		if v, ok := ev.Changed[client.PropDryRun].Value().(bool); ok {
			n := notification{key: "setting:dry-run", summary: "Dry-run is off",
				body: "Actions are executed again.", icon: "dialog-information", urgency: urgencyLow, transient: true}
			if v {
				n.summary, n.body = "Dry-run is on", "Actions are planned and recorded, none is executed."
			}
			return n, true
		}
	}
	return notification{}, false
}

// issueActions are the buttons of an issue's notification: Heal now where
// healing applies and has not run (a dry-run plan, automatic healing off,
// given up), Reset once given up, and Details always.
func issueActions(i client.Issue) []string {
	applies := i.Action != "" && i.Action != "none"
	switch {
	case i.State == "given-up":
		return []string{actHeal, actReset, actDetails}
	case applies && (i.State == "planned" || i.State == "watching" || i.State == "silenced"):
		return []string{actHeal, actDetails}
	}
	return []string{actDetails}
}

// issueState says in one line what is being done about an issue.
func issueState(i client.Issue) string {
	switch i.State {
	case "open", "":
		if i.Action == "" || i.Action == "none" {
			return ""
		}
		return "Action: " + i.Action + "."
	case "watching":
		if i.Action == "" || i.Action == "none" {
			return "Watched only: no action applies to it."
		}
		return "Watched, not healed automatically ('healingctl heal " + i.ID + "' acts now)."
	case "given-up":
		return "Healing gave up: 'healingctl reset " + i.ID + "' re-arms it."
	case "planned":
		return "Dry-run: " + i.Action + " planned, not executed."
	case "silenced":
		return "Silenced by " + i.Silenced + ": not healed automatically until it ends ('healingctl heal " + i.ID + "' acts now)."
	}
	return fmt.Sprintf("%s: %s.", title(show.OrDash(i.Action)), i.State)
}

func title(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
