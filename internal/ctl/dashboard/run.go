// Package dashboard is healingctl dashboard: a board of the daemon's
// state (board.go), drawn full screen by a Bubble Tea model (model.go) that
// a feed of the daemon's signals keeps current (feed.go), or printed as a
// plain-text snapshot. healingctl's command line (internal/ctl) parses the
// flags and hands over here; what both show, and how, is internal/ctl/show.
package dashboard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"golang.org/x/sys/unix"

	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/ctl/show"
)

// Options are what the full-screen dashboard takes from healingctl.
type Options struct {
	// Client says which daemon (User: the try-it mode); the feed never
	// starts it through bus activation.
	Client client.Options
	// Heal makes healingctl heal's call.
	Heal HealFunc
	// NoAsk is --no-ask-password: never ask for a password.
	NoAsk bool
	// Agent starts polkit's text agent for a password prompt and returns
	// how to stop it.
	Agent func(stderr io.Writer) (stop func())
}

// Run runs the full-screen dashboard on w until q, Ctrl-C or the end of
// ctx.
func Run(parent context.Context, w io.Writer, o Options) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	agent, _ := exec.LookPath("pkttyagent")
	ask := asking{noAsk: o.NoAsk, terminal: show.IsTerminal(os.Stdin), root: os.Geteuid() == 0, user: o.Client.User, agent: agent}
	var f *feed
	m := newDashboard(ctx, func() { f.poke() }, o.Heal, ask)
	m.agent = o.Agent
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithOutput(w))
	f = newFeed(o.Client, p.Send)
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

// Reader runs fn against the daemon on a connection of its own, as
// healingctl's read commands do.
type Reader func(ctx context.Context, fn func(context.Context, *client.Client) error) error

// Plain prints the dashboard as plain text on w: once, or every interval
// until ctx ends. Each snapshot adds its readings to the sparklines, one
// per daemon check; now is the clock ages count from.
func Plain(ctx context.Context, w io.Writer, every time.Duration, now func() time.Time, read Reader) error {
	b := newBoard()
	width := plainWidth(w)
	for n := 0; ; n++ {
		err := read(ctx, func(ctx context.Context, cl *client.Client) error {
			st, hs, err := fetch(ctx, cl)
			if err == nil {
				b.update(st, hs, now())
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
			fmt.Fprintln(w)
		}
		if every > 0 {
			fmt.Fprintf(w, "── %s ──\n", now().Format("2006-01-02 15:04:05"))
		}
		if err != nil {
			fmt.Fprintf(w, "luminous-healingd is not reachable: %s; trying again in %s.\n", whyLost(err), show.Duration(every))
		} else {
			fmt.Fprintln(w, strings.Join(b.render(look{width: width, now: now(), maxActions: maxRecentActions, fitSpark: true}), "\n"))
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
