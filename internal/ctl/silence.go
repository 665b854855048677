package ctl

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/ctl/show"
)

func silenceCommand() *cli.Command {
	return &cli.Command{
		Name:  "silence",
		Usage: "pause automatic healing of a unit, an issue, a kind or everything for a while",
		Description: "A silence pauses automatic healing within its scope until it expires; issues are still\n" +
			"detected, recorded and exported, marked silenced. Maintenance windows from the\n" +
			"configuration are listed too. Adding and removing need polkit's org.luminous.healing.heal.",
		Subcommands: []*cli.Command{silenceAddCommand(), silenceListCommand(), silenceRemoveCommand()},
	}
}

func silenceAddCommand() *cli.Command {
	return &cli.Command{
		Name:      "add",
		Usage:     "add a silence (polkit: org.luminous.healing.heal)",
		ArgsUsage: "SCOPE",
		Description: "SCOPE is all, unit:NAME, issue:ID or kind:KIND. An expiry is required, and a reason:\n" +
			"   healingctl silence add unit:nginx --for 2h --reason \"upgrading nginx\"",
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "for", Usage: "end the silence after `DURATION` (e.g. 30m, 2h)", DefaultText: "none: --for or --until is required"},
			&cli.StringFlag{Name: "until", Usage: "end the silence at `TIME`: RFC 3339, or \"YYYY-MM-DD HH:MM\" or \"HH:MM\" in local time"},
			&cli.StringFlag{Name: "reason", Usage: "why healing is paused, in one line of `TEXT` (required; recorded with your name)"},
			&cli.BoolFlag{Name: "notify-only", Usage: "keep desktop notifications on (the default effect, pause, holds them back too)"},
		},
		Action: func(c *cli.Context) error {
			// People type the flags after the scope too, as the help
			// shows; the parser stops at the first argument.
			if flags, rest := flagsFirst(c.Args().Slice()); len(flags) > 0 {
				return c.Command.Run(c, append(append([]string{c.Command.Name}, flags...), rest...)...)
			}
			a, err := args(c, "scope")
			if err != nil {
				return err
			}
			req := client.SilenceRequest{Scope: a[0], Reason: c.String("reason"), For: c.Duration("for")}
			if c.Bool("notify-only") {
				req.Effect = "notify-only"
			}
			switch {
			case c.IsSet("for") && c.IsSet("until"):
				return show.Usagef("give --for or --until, not both")
			case c.IsSet("until"):
				if req.Until, err = parseUntil(c.String("until"), clock()); err != nil {
					return show.Usagef("--until: %v", err)
				}
			case !c.IsSet("for"):
				return show.Usagef("a silence needs an expiry: --for DURATION or --until TIME")
			case req.For <= 0:
				return show.Usagef("--for: must be positive, got %s", req.For)
			}
			if strings.TrimSpace(req.Reason) == "" {
				return show.Usagef("--reason is required: say why healing is paused")
			}
			e := newEnv(c)
			return e.act(c, func(ctx context.Context, cl *client.Client) error {
				s, err := cl.AddSilence(ctx, req)
				if err != nil {
					return err
				}
				return e.answer(records([]client.Silence{s})[0], fmt.Sprintf("%s: healing of %s paused until %s (%s)", s.ID, s.Scope,
					s.Expires.Local().Format("2006-01-02 15:04:05"), s.Effect))
			})
		},
	}
}

// flagsFirst splits arguments left after the first positional one into
// flags (with the values of those that take one) and the rest.
func flagsFirst(args []string) (flags, rest []string) {
	valued := map[string]bool{"--for": true, "-for": true, "--until": true, "-until": true, "--reason": true, "-reason": true}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return flags, append(rest, args[i+1:]...)
		case strings.HasPrefix(a, "-") && len(a) > 1:
			flags = append(flags, a)
			if valued[a] && i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
		default:
			rest = append(rest, a)
		}
	}
	return flags, rest
}

// parseUntil reads --until: RFC 3339, a local date and time, or a local
// time of day (today, or tomorrow when it has passed).
func parseUntil(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	for _, layout := range []string{"15:04:05", "15:04"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			y, m, d := now.Local().Date()
			at := time.Date(y, m, d, t.Hour(), t.Minute(), t.Second(), 0, time.Local)
			if !at.After(now) {
				at = at.AddDate(0, 0, 1)
			}
			return at, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time: want RFC 3339, \"YYYY-MM-DD HH:MM\" or \"HH:MM\"", s)
}

func silenceListCommand() *cli.Command {
	return &cli.Command{
		Name:   "list",
		Usage:  "list the silences and maintenance windows",
		Action: lists((*client.Client).Silences, "", func(w io.Writer, ss []client.Silence) { printSilences(w, ss, clock()) }),
	}
}

// printSilences is the SILENCE table of silence list and status.
func printSilences(w io.Writer, ss []client.Silence, now time.Time) {
	if len(ss) == 0 {
		fmt.Fprintln(w, "No silences and no maintenance windows.")
		return
	}
	t := newTable(w, "SILENCE", "SCOPE", "EFFECT", "WHEN", "BY", "REASON")
	for _, s := range ss {
		t.row(s.ID, s.Scope, s.Effect, show.SilenceWhen(s, now), s.Author, s.Reason)
	}
	t.flush()
}

func silenceRemoveCommand() *cli.Command {
	return &cli.Command{
		Name:      "remove",
		Usage:     "end a silence before its expiry (polkit: org.luminous.healing.heal)",
		ArgsUsage: "ID",
		Action: acts([]string{"id"}, func(ctx context.Context, e *env, cl *client.Client, a []string) error {
			return e.done(cl.RemoveSilence(ctx, a[0]), "%s: removed; healing resumes within its scope", a[0])
		}),
		BashComplete: completeFrom(func(ctx context.Context, cl *client.Client) ([]string, error) {
			ss, err := cl.Silences(ctx)
			var ids []string
			for _, s := range ss {
				if s.Window == "" {
					ids = append(ids, s.ID)
				}
			}
			return ids, err
		}),
	}
}
