package ctl

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/ctl/show"
)

// runNotifier is watch --notify: it prints and notifies the daemon's
// signals until ctx ends. It is meant to run for a whole graphical session,
// so it outlives what it talks to: when the daemon stops it notifies and
// waits for it (client.Watch follows its bus name); when the system bus
// connection closes it reconnects with backoff; when the notification
// server goes away it goes on printing and shows the open issues again to
// the next one. Only the session bus closing (the session is over) ends
// it, with exit code 3.
func runNotifier(ctx context.Context, e *env, opts notifyOptions, print func(client.Event) error) error {
	n, err := dialNotifier(ctx, client.SessionBusAddress(), e.stderr, opts)
	if err != nil {
		return err
	}
	defer n.Close()
	mine, err := n.claim()
	if err != nil {
		return err
	}
	if !mine {
		fmt.Fprintf(e.stderr, "healingctl: another notifier already runs in this session (it owns %s on the session bus); leaving it to notify.\n", notifierName)
		return nil
	}
	if !e.json {
		fmt.Fprintln(e.stderr, "Watching luminous-healingd; stop with Ctrl-C.")
	}
	wait := backoffFirst
	var said string // the last reconnection message, said once
	for {
		connected, err := n.follow(ctx, e, print)
		var pe printError
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.As(err, &pe):
			return pe.err
		}
		select {
		case <-n.lost:
			return show.ErrBusLost
		default:
		}
		if connected {
			wait = backoffFirst
			n.outOfReach = true
			n.post(ctx, notification{key: "daemon", summary: "luminous-healingd is out of reach",
				body: "The connection to the system bus closed; reconnecting.", icon: "dialog-warning", urgency: urgencyNormal})
		}
		if msg := err.Error(); msg != said {
			fmt.Fprintf(e.stderr, "healingctl: %s; trying again (every %s at most)\n", msg, backoffMax)
			said = msg
		}
		select {
		case <-ctx.Done():
			return nil
		case <-n.lost:
			return show.ErrBusLost
		case <-time.After(wait):
		}
		wait = min(2*wait, backoffMax)
	}
}

// printError is print's failure: stdout is gone, which no retry mends.
type printError struct{ err error }

func (p printError) Error() string { return p.err.Error() }

// follow is one system bus connection's life: it shows the issues open
// now, then every signal until the connection closes. connected says that
// it got as far as watching.
func (n *notifier) follow(ctx context.Context, e *env, print func(client.Event) error) (connected bool, err error) {
	cl, events, err := client.Follow(ctx, client.Options{User: e.user})
	if err != nil {
		return false, err
	}
	defer cl.Close()
	lctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	issues, err := cl.Issues(lctx)
	cancel()
	// The buttons ask with ALLOW_INTERACTIVE_AUTHORIZATION: the desktop's
	// own polkit agent asks for a password where the policy says so.
	n.setDaemon(client.New(cl.Conn(), client.Options{User: e.user, Interactive: !e.user && !e.noAsk, NoAutoStart: true}))
	defer n.setDaemon(nil)

	switch {
	case err == nil:
		if n.outOfReach {
			n.outOfReach = false
			n.show(ctx, client.Event{Signal: client.SignalNameOwnerChanged, Owner: "back"})
		}
		// Someone logging in wants to know what is wrong already.
		for _, i := range issues {
			n.show(ctx, client.Event{Signal: client.SignalIssueDetected, Issue: &i})
		}
	case errors.Is(err, client.ErrUnreachable):
		fmt.Fprintf(e.stderr, "healingctl: luminous-healingd is not running (%v); waiting for it\n", err)
	default:
		return true, err
	}
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				if ctx.Err() != nil {
					return true, ctx.Err()
				}
				return true, errors.New("the connection to the system bus closed")
			}
			n.show(ctx, ev)
			if err := print(ev); err != nil {
				return true, printError{err}
			}
		case <-n.lost:
			return true, show.ErrBusLost
		}
	}
}
