package dashboard

import (
	"context"
	"errors"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/ctl/show"
)

// Messages from the feed to the dashboard.
type (
	// snapshotMsg is a fresh picture of the daemon.
	snapshotMsg struct {
		status  client.Status
		history []client.HistoryEntry
		at      time.Time
	}
	// signalMsg is a signal of the daemon, as it arrives.
	signalMsg struct {
		ev client.Event
		at time.Time
	}
	// lostMsg says the daemon cannot be reached now, and why; the feed
	// keeps trying and the next snapshotMsg ends it.
	lostMsg struct {
		err error
		at  time.Time
	}
)

// Feed timings.
const (
	// feedPoll is the slow poll under the signals: it catches what no
	// signal announces (a unit's state, a prediction's ETA moving) and
	// notices a daemon that hangs.
	feedPoll = 15 * time.Second
	// feedCoalesce gathers a burst of signals into one refresh.
	feedCoalesce = 100 * time.Millisecond
	// feedRetryMax bounds the wait between attempts to reach the bus again.
	feedRetryMax = 5 * time.Second
	// feedHistory is how many history records a refresh reads to find the
	// recent actions among them.
	feedHistory = 200
	// fetchTimeout bounds a snapshot's calls, as healingctl's reads are.
	fetchTimeout = 25 * time.Second
)

// feed keeps the dashboard's picture of the daemon current: it subscribes
// to the signals, takes a snapshot (client.Status and GetHistory) at once, on
// every burst of signals and on a slow poll, and when the daemon or the
// bus goes away says so and reconnects. Its calls never start the daemon
// through bus activation: a dashboard watches, it does not resurrect a
// daemon an administrator stopped.
type feed struct {
	opts    client.Options
	send    func(tea.Msg)
	refresh chan struct{} // a poke: take a snapshot now
	poll    time.Duration
}

func newFeed(opts client.Options, send func(tea.Msg)) *feed {
	opts.Interactive = false
	opts.NoAutoStart = true
	return &feed{opts: opts, send: send, refresh: make(chan struct{}, 1), poll: feedPoll}
}

// poke asks for a snapshot now.
func (f *feed) poke() {
	select {
	case f.refresh <- struct{}{}:
	default:
	}
}

// run feeds the dashboard until ctx ends.
func (f *feed) run(ctx context.Context) {
	wait := 250 * time.Millisecond
	for ctx.Err() == nil {
		live, err := f.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if live {
			wait = 250 * time.Millisecond
		}
		f.send(lostMsg{err: err, at: time.Now()})
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		case <-f.refresh:
		}
		wait = min(2*wait, feedRetryMax)
	}
}

// session runs on one bus connection until it closes: it returns why, and
// whether it ever got a snapshot. A daemon that leaves the bus is reported
// and waited for on the same connection.
func (f *feed) session(ctx context.Context) (live bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Subscribe first, so that nothing falls between the snapshot and the
	// first signal.
	cl, events, err := client.Follow(ctx, f.opts)
	if err != nil {
		return false, err
	}
	defer cl.Close()
	snapshot := func() bool {
		st, hs, err := fetch(ctx, cl)
		if err != nil {
			if ctx.Err() == nil {
				f.send(lostMsg{err: err, at: time.Now()})
			}
			return false
		}
		live = true
		f.send(snapshotMsg{status: st, history: hs, at: time.Now()})
		return true
	}
	snapshot()
	tick := time.NewTicker(f.poll)
	defer tick.Stop()
	var coalesce <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return live, ctx.Err()
		case ev, ok := <-events:
			if !ok {
				return live, show.ErrBusLost
			}
			now := time.Now()
			if ev.Signal == client.SignalNameOwnerChanged && !ev.Running() {
				f.send(lostMsg{err: errDaemonLeft, at: now})
				coalesce = nil
				continue
			}
			f.send(signalMsg{ev: ev, at: now})
			if coalesce == nil {
				coalesce = time.After(feedCoalesce)
			}
		case <-coalesce:
			coalesce = nil
			snapshot()
		case <-f.refresh:
			snapshot()
		case <-tick.C:
			snapshot()
		}
	}
}

// errDaemonLeft is the daemon leaving the bus: stopped, crashed or
// restarting.
var errDaemonLeft = errors.New("luminous-healingd left the bus: stopped, crashed or restarting")

// fetch takes one snapshot.
func fetch(ctx context.Context, cl *client.Client) (client.Status, []client.HistoryEntry, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	st, err := cl.Status(ctx)
	if err != nil {
		return client.Status{}, nil, err
	}
	hs, err := cl.History(ctx, feedHistory)
	if err != nil {
		return client.Status{}, nil, err
	}
	return st, hs, nil
}

// whyLost says in a few words why the daemon cannot be reached.
func whyLost(err error) string {
	switch {
	case errors.Is(err, errDaemonLeft):
		return "it left the bus (stopped, crashed or restarting)"
	case errors.Is(err, show.ErrBusLost):
		return "the bus connection closed"
	case errors.Is(err, client.ErrUnreachable):
		return "it is not running (" + err.Error() + ")"
	case errors.Is(err, context.DeadlineExceeded):
		return "it does not answer"
	}
	return err.Error()
}
