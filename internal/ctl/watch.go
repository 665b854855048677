package ctl

import (
	"encoding/json"
	"fmt"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/luminous-healing/luminous-healing/internal/client"
)

func watchCommand() *cli.Command {
	return &cli.Command{
		Name:  "watch",
		Usage: "print the daemon's signals as they happen, until interrupted; --notify also shows them as desktop notifications",
		Description: "One line per signal; with --json one JSON object per line:\n" +
			`{"signal": "IssueDetected", "record": {…}}, {"signal": "PropertiesChanged", "changed": {…}}` + "\n" +
			`or {"signal": "NameOwnerChanged", "owner": ":1.42"} (owner "" when the daemon left the bus).` + "\n\n" +
			"--notify sends desktop notifications through org.freedesktop.Notifications on your session bus:\n" +
			"one per issue, updated as it changes and when it is resolved, critical issues with critical\n" +
			"urgency. Where healing applies and has not run (dry-run, automatic healing off, given up), and the\n" +
			"server shows actions, the notification has \"Heal now\" (and \"Reset\" once given up); clicking it\n" +
			"opens Details. It reconnects when the daemon, the system bus or the notification server come back.\n" +
			"make install starts it at login (the systemd user unit luminous-healing-notifier.service, or the\n" +
			"XDG autostart entry); see docs/desktop.md.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "notify", Usage: "also show the signals as desktop notifications (needs a notification server on the session bus)"},
			&cli.StringFlag{Name: "details-url", Value: defaultDetailsURL, Usage: "with --notify: the page a notification's Details action opens (xdg-open); \"\" runs 'healingctl status' in a terminal instead"},
		},
		Action: func(c *cli.Context) error {
			if _, err := args(c); err != nil {
				return err
			}
			e := newEnv(c)
			ctx, stop := signal.NotifyContext(c.Context, syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			print := func(ev client.Event) error { return printEvent(e, ev) }
			if c.Bool("notify") {
				return runNotifier(ctx, e, notifyOptions{detailsURL: c.String("details-url")}, print)
			}
			cl, err := e.dial(ctx, false)
			if err != nil {
				return err
			}
			defer cl.Close()
			events, err := cl.Watch(ctx)
			if err != nil {
				return err
			}
			// Fail now, not silently later, when nobody is there.
			if _, err := cl.Issues(ctx); err != nil {
				return err
			}
			if !e.json {
				fmt.Fprintln(e.stderr, "Watching luminous-healingd; stop with Ctrl-C.")
			}
			for ev := range events {
				if err := print(ev); err != nil {
					return err
				}
			}
			if ctx.Err() != nil {
				return nil
			}
			return errBusLost
		},
	}
}

// printEvent prints one signal as watch does: a JSON object per line with
// --json, else one human line (each check's LastCheck is left out).
func printEvent(e *env, ev client.Event) error {
	if e.json {
		out := map[string]any{"signal": ev.Signal}
		switch {
		case ev.Signal == client.SignalNameOwnerChanged:
			out["owner"] = ev.Owner
		// plain here, not only in printJSONLine: it does not look inside
		// a map[string]any, and a record or a variant encoded as it is
		// has Go's field names and RFC 3339 times, or no value at all.
		case ev.Changed != nil:
			out["changed"] = plain(ev.Changed)
		default:
			out["record"] = plain(eventRecord(ev))
		}
		return printJSONLine(e, out)
	}
	if len(ev.Changed) == 1 && ev.Changed[client.PropLastCheck].Signature().String() != "" {
		return nil // every check moves LastCheck: not news for a person
	}
	_, err := fmt.Fprintln(e.stdout, describeEvent(ev))
	return err
}

// errBusLost ends a watch whose bus connection closed (dbus-daemon
// stopped or dropped us), with exit code 3 so that a supervisor
// (the notifier's systemd unit) starts it again.
var errBusLost = busLost{}

type busLost struct{}

func (busLost) Error() string { return "the connection to the bus closed" }

func eventRecord(ev client.Event) any {
	switch {
	case ev.Issue != nil:
		return *ev.Issue
	case ev.Failure != nil:
		return *ev.Failure
	case ev.Prediction != nil:
		return *ev.Prediction
	case ev.Result != nil:
		return *ev.Result
	}
	return nil
}

// printJSONLine writes one object per line: encoding/json's compact form.
func printJSONLine(e *env, v any) error {
	return json.NewEncoder(e.stdout).Encode(plain(v))
}

// describeEvent is one human line per signal.
func describeEvent(ev client.Event) string {
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
			threshold(p.Kind, p.Threshold), in(p.ETA), value(p.Kind, p.Value), 100*p.Confidence)
	case ev.Result != nil:
		r := ev.Result
		return fmt.Sprintf("%-16s %s %s: %s — %s", ev.Signal, r.Action, orDash(r.Target), r.Outcome, r.Message)
	}
	var kv []string
	for k, v := range ev.Changed {
		kv = append(kv, fmt.Sprintf("%s=%v", k, v.Value()))
	}
	sort.Strings(kv)
	return fmt.Sprintf("%-16s %s", ev.Signal, strings.Join(kv, " "))
}
