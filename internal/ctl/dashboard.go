package ctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/luminous-healing/luminous-healing/internal/client"
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
				return usagef("dashboard has no JSON form: use 'healingctl --json status' and 'healingctl --json watch'")
			}
			every := c.Duration("every")
			if every < 0 || c.IsSet("every") && every < time.Second {
				return usagef("--every: at least 1s")
			}
			if c.Bool("plain") || every > 0 || !fullScreen(e.stdout) {
				return plainDashboard(c.Context, e, every)
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
	return ok && isTerminal(f) && term != "" && term != "dumb"
}

// fullDashboard runs the full-screen dashboard until q.
func fullDashboard(parent context.Context, e *env) error {
	// Fail now, as the other commands do, when nobody is there; later
	// absences are a banner and a reconnect.
	if err := e.readCtx(parent, func(ctx context.Context, cl *client.Client) error {
		_, err := cl.Summary(ctx)
		return err
	}); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	agent, _ := exec.LookPath("pkttyagent")
	ask := asking{noAsk: e.noAsk, terminal: isTerminal(os.Stdin), root: os.Geteuid() == 0, user: e.user, agent: agent}
	var f *feed
	m := newDashboard(ctx, func() { f.poke() }, e.healFunc(), ask)
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithOutput(e.stdout))
	f = newFeed(client.Options{User: e.user}, p.Send)
	fed := make(chan struct{})
	go func() { defer close(fed); f.run(ctx) }()
	_, err := p.Run()
	cancel()
	<-fed
	if errors.Is(err, tea.ErrInterrupted) || errors.Is(err, tea.ErrProgramKilled) {
		return nil // Ctrl-C or SIGTERM: the same as q
	}
	return err
}

// healFunc makes the heal call healingctl heal makes, on its own
// connection.
func (e *env) healFunc() healFunc {
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

// plainDashboard prints the dashboard as plain text: once, or every
// interval until interrupted. Each snapshot adds its readings to the
// sparklines, one per daemon check.
func plainDashboard(parent context.Context, e *env, every time.Duration) error {
	ctx, stop := signal.NotifyContext(parent, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	b := newBoard()
	width := plainWidth(e.stdout)
	for n := 0; ; n++ {
		err := e.readCtx(ctx, func(ctx context.Context, cl *client.Client) error {
			st, hs, err := fetch(ctx, cl)
			if err == nil {
				b.update(st, hs, clock())
			}
			return err
		})
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && every == 0:
			return err
		}
		if n > 0 {
			fmt.Fprintln(e.stdout)
		}
		if every > 0 {
			fmt.Fprintf(e.stdout, "── %s ──\n", clock().Format("2006-01-02 15:04:05"))
		}
		if err != nil {
			fmt.Fprintf(e.stdout, "luminous-healingd is not reachable: %s; trying again in %s.\n", whyLost(err), duration(every))
		} else {
			fmt.Fprintln(e.stdout, strings.Join(b.render(look{width: width, now: clock(), maxActions: maxRecentActions, fitSpark: true}), "\n"))
		}
		if every == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(every):
		}
	}
}

// plainWidth is the terminal's width, or no limit for a file or a pipe.
func plainWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
			return int(ws.Col)
		}
	}
	return 1 << 16
}

// truncate cuts s, colours and all, to width cells.
func truncate(s string, width int) string { return ansi.Truncate(s, width, "…") }
