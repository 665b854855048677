package main

import (
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
		Usage: "print the daemon's signals as they happen, until interrupted",
		Description: "One line per signal; with --json one JSON object per line:\n" +
			`{"signal": "IssueDetected", "record": {…}} or {"signal": "PropertiesChanged", "changed": {…}}.`,
		Action: func(c *cli.Context) error {
			if _, err := args(c); err != nil {
				return err
			}
			e := newEnv(c)
			ctx, stop := signal.NotifyContext(c.Context, syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			cl, err := e.dial(ctx, false)
			if err != nil {
				return err
			}
			defer cl.Close()
			// Fail now, not silently later, when nobody is there.
			if _, err := cl.Status(ctx); err != nil {
				return err
			}
			events, err := cl.Watch(ctx)
			if err != nil {
				return err
			}
			if !e.json {
				fmt.Fprintln(e.stderr, "Watching luminous-healingd; stop with Ctrl-C.")
			}
			for ev := range events {
				if e.json {
					out := map[string]any{"signal": ev.Signal}
					if ev.Changed != nil {
						out["changed"] = ev.Changed
					} else {
						out["record"] = eventRecord(ev)
					}
					if err := printJSONLine(e, out); err != nil {
						return err
					}
					continue
				}
				if len(ev.Changed) == 1 && ev.Changed[client.PropLastCheck].Signature().String() != "" {
					continue // every check moves LastCheck: not news for a person
				}
				fmt.Fprintln(e.stdout, describeEvent(ev))
			}
			return nil
		},
	}
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

func printJSONLine(e *env, v any) error {
	var b strings.Builder
	if err := printJSON(&b, v); err != nil {
		return err
	}
	// One object per line.
	_, err := fmt.Fprintln(e.stdout, strings.Join(strings.Fields(b.String()), " "))
	return err
}

// describeEvent is one human line per signal.
func describeEvent(ev client.Event) string {
	switch {
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
