package ctl

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/ctl/dashboard"
	"github.com/luminous-healing/luminous-healing/internal/ctl/show"
)

func dashboardCommand() *cli.Command {
	return &cli.Command{
		Name:  "dashboard",
		Usage: "live terminal dashboard: health, resources with sparklines, issues (heal them with h), predictions, actions",
		Description: "Full screen on a terminal: it follows the daemon's signals, refreshes every 15 s besides, and\n" +
			"reconnects when the daemon goes away. Keys: ↑/↓ (or k/j) select an issue, h (or Enter) heals it\n" +
			"after y confirms (polkit: org.luminous.healing.heal; a password is asked on the terminal),\n" +
			"r refreshes, q quits.\n\n" +
			"When standard output is not a terminal, TERM is dumb or unset, or with --plain, it prints one plain-text\n" +
			"snapshot and exits; --every DURATION prints a new one every DURATION until interrupted.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "plain", Usage: "print a plain-text snapshot instead of the full-screen dashboard"},
			&cli.DurationFlag{Name: "every", Usage: "print a plain-text snapshot every `DURATION` (e.g. 30s) until interrupted; implies --plain"},
		},
		Action: func(c *cli.Context) error {
			if _, err := args(c); err != nil {
				return err
			}
			e := newEnv(c)
			if e.json {
				return show.Usagef("dashboard has no JSON form: use 'healingctl --json status' and 'healingctl --json watch'")
			}
			every := c.Duration("every")
			if every < 0 || c.IsSet("every") && every < time.Second {
				return show.Usagef("--every: at least 1s")
			}
			if c.Bool("plain") || every > 0 || !fullScreen(e.stdout) {
				ctx, stop := signal.NotifyContext(c.Context, syscall.SIGINT, syscall.SIGTERM)
				defer stop()
				return dashboard.Plain(ctx, e.stdout, every, clock, e.readCtx)
			}
			return fullDashboard(c.Context, e)
		},
	}
}

// fullScreen reports whether w can take the full-screen dashboard: a
// terminal that is not dumb.
func fullScreen(w io.Writer) bool {
	f, ok := w.(*os.File)
	term := os.Getenv("TERM")
	return ok && show.IsTerminal(f) && term != "" && term != "dumb"
}

// fullDashboard runs the full-screen dashboard until q.
func fullDashboard(ctx context.Context, e *env) error {
	// Fail now, as the other commands do, when nobody is there; later
	// absences are a banner and a reconnect.
	if err := e.readCtx(ctx, func(ctx context.Context, cl *client.Client) error {
		_, err := cl.Summary(ctx)
		return err
	}); err != nil {
		return err
	}
	return dashboard.Run(ctx, e.stdout, dashboard.Options{Client: client.Options{User: e.user}, Heal: e.healFunc(),
		NoAsk: e.noAsk, Agent: startAgent})
}

// healFunc makes the heal call healingctl heal makes, on its own
// connection.
func (e *env) healFunc() dashboard.HealFunc {
	return func(ctx context.Context, id string, interactive bool) (client.ActionResult, error) {
		ctx, cancel := context.WithTimeout(ctx, actionTimeout)
		defer cancel()
		cl, err := client.Dial(ctx, client.Options{User: e.user, Interactive: interactive && !e.user, NoAutoStart: true})
		if err != nil {
			return client.ActionResult{}, err
		}
		defer cl.Close()
		return cl.Heal(ctx, id)
	}
}
