package ctl

import (
	"encoding/json"
	"fmt"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/ctl/show"
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
			return show.ErrBusLost
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
	_, err := fmt.Fprintln(e.stdout, show.Event(ev, clock()))
	return err
}

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
