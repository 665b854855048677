package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/luminous-healing/luminous-healing/internal/client"
)

// The freedesktop Desktop Notifications API, spoken directly on the session
// bus: no libnotify, no notify-send.
// https://specifications.freedesktop.org/notification-spec/latest/
const (
	notificationsName  = "org.freedesktop.Notifications"
	notificationsPath  = "/org/freedesktop/Notifications"
	notificationsIface = "org.freedesktop.Notifications"
	notifyAppName      = "luminous-healing"
)

// Urgency levels of the spec's "urgency" hint.
const (
	urgencyLow      byte = 0
	urgencyNormal   byte = 1
	urgencyCritical byte = 2
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
}

// notifier turns the daemon's signals into desktop notifications: one per
// issue, replaced as the issue changes and when it is resolved.
type notifier struct {
	conn   *dbus.Conn
	obj    dbus.BusObject
	stderr io.Writer
	ids    map[string]uint32              // key → the server's notification id, for replaces_id
	acted  map[string]client.ActionResult // issue id → its latest action, told when it is resolved
	failed bool                           // the last Notify failed; said once until one works
	markup bool                           // the server reads the body as markup: escape it
}

// maxKeys bounds what a notifier remembers; past it, it forgets, and the
// next notification of a forgotten key is new rather than a replacement.
const maxKeys = 1024

// dialNotifier connects to the session bus at address and checks that a
// notification server answers there.
func dialNotifier(ctx context.Context, address string, stderr io.Writer) (*notifier, error) {
	if address == "" {
		return nil, errors.New("no session bus for desktop notifications: DBUS_SESSION_BUS_ADDRESS is unset and $XDG_RUNTIME_DIR/bus does not exist;\n" +
			"run 'healingctl watch --notify' inside your graphical session (a systemd user unit), or 'healingctl watch' to print the signals")
	}
	conn, err := dbus.Connect(address, dbus.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("cannot connect to the session bus for desktop notifications: %w", err)
	}
	n := &notifier{conn: conn, obj: conn.Object(notificationsName, notificationsPath), stderr: stderr,
		ids: map[string]uint32{}, acted: map[string]client.ActionResult{}}
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
	var caps []string
	if err := n.obj.CallWithContext(cctx, notificationsIface+".GetCapabilities", 0).Store(&caps); err == nil {
		n.markup = slices.Contains(caps, "body-markup")
	}
	return n, nil
}

// markupEscaper keeps a unit's or the daemon's text from being read as
// markup by a server that reads bodies as markup.
var markupEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// Close closes the session bus connection.
func (n *notifier) Close() error { return n.conn.Close() }

// show sends the notification an event calls for, if any. A failure is
// reported once on stderr and does not stop the watch: the notification
// server may come back.
func (n *notifier) show(ctx context.Context, ev client.Event) {
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
	note, ok := notificationFor(ev, last)
	if !ok {
		return
	}
	id, err := n.notify(ctx, note)
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
	n.ids[note.key] = id
}

// notify is one Notify call, replacing the key's earlier notification.
func (n *notifier) notify(ctx context.Context, note notification) (uint32, error) {
	hints := map[string]dbus.Variant{"urgency": dbus.MakeVariant(note.urgency)}
	if note.transient {
		hints["transient"] = dbus.MakeVariant(true)
	}
	body := note.body
	if n.markup {
		body = markupEscaper.Replace(body)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var id uint32
	err := n.obj.CallWithContext(cctx, notificationsIface+".Notify", 0,
		notifyAppName, n.ids[note.key], note.icon, note.summary, body, []string{}, hints, int32(-1)).Store(&id)
	return id, err
}

// notificationFor is what a person is told of an event: issues by
// severity, failures, forecasts, the daemon leaving, automatic healing or
// dry-run switched. last is the issue's latest action, if any. Ordinary
// bookkeeping (each check, an action whose issue's fate follows) is not
// news.
func notificationFor(ev client.Event, last *client.ActionResult) (notification, bool) {
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
		if s := issueState(*i); s != "" {
			n.body += "\n" + s
		}
		return n, true
	case client.SignalIssueResolved:
		i := ev.Issue
		n := notification{key: i.ID, summary: "Resolved: " + i.ID, body: i.Message,
			icon: "dialog-information", urgency: urgencyLow, transient: true}
		if last != nil {
			n.body += "\n" + describeResult(*last)
		}
		return n, true
	case client.SignalHealingFailed:
		f := ev.Failure
		key := f.Issue
		if key == "" {
			key = "action:" + f.Action + ":" + f.Target
		}
		n := notification{key: key, summary: fmt.Sprintf("Healing failed: %s", orDash(f.Issue)),
			body: describeResult(f.ActionResult), icon: "dialog-error", urgency: urgencyNormal}
		if f.Severity == "critical" {
			n.urgency = urgencyCritical
		}
		if f.State == "given-up" {
			n.summary = "Gave up healing: " + orDash(f.Issue)
			n.urgency = urgencyCritical
			n.body += fmt.Sprintf("\nAfter %d failed attempts healing stops until 'healingctl reset %s'.", f.Attempts, f.Issue)
		} else if f.Attempts > 0 {
			n.body += fmt.Sprintf("\nAttempt %d; it is retried with backoff.", f.Attempts)
		}
		return n, true
	case client.SignalPredictionAlert:
		p := ev.Prediction
		return notification{key: p.Series,
			summary: fmt.Sprintf("Predicted: %s reaches %s %s", p.Series, threshold(p.Kind, p.Threshold), in(p.ETA)),
			body:    fmt.Sprintf("Now %s, trend %+.2f/h, confidence %.0f%%.", value(p.Kind, p.Value), p.TrendPerHour, 100*p.Confidence),
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
	}
	return fmt.Sprintf("%s: %s.", title(orDash(i.Action)), i.State)
}

func title(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
