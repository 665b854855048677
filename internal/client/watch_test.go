package client_test

import (
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/bustest"
	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/dbusapi/apitest"
)

// A long-running watcher (the dashboard, the notifier) must see the daemon
// go and come back, and keep receiving the new daemon's signals on the
// same subscription.
func TestWatchFollowsTheDaemonAcrossARestart(t *testing.T) {
	first := apitest.Start(t, apitest.Setup{Config: func(c *config.Config) { c.Healing.Enabled = false }})
	first.Authority.Answer(client.ActionDevelop, bustest.Yes)
	c := first.Client(t, client.Options{NoAutoStart: true})
	events, err := c.Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	first.Stop()
	if ev := next(t, events, client.SignalNameOwnerChanged); ev.Running() {
		t.Errorf("after the daemon stopped: got owner %q; want none", ev.Owner)
	}
	if _, err := c.Status(t.Context()); !errors.Is(err, client.ErrUnreachable) {
		t.Errorf("Status with the daemon gone: got %v; want ErrUnreachable", err)
	}

	apitest.Start(t, apitest.Setup{Bus: first.Bus, Authority: first.Authority,
		Config: func(c *config.Config) { c.Healing.Enabled = false }})
	if ev := next(t, events, client.SignalNameOwnerChanged); !ev.Running() {
		t.Error("after the daemon started again: got no owner; want its unique name")
	}
	if _, err := c.InjectIssue(t.Context(), client.Injection{Kind: "memory", Severity: "critical"}); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, events, client.SignalIssueDetected); ev.Issue.ID != "memory" {
		t.Errorf("IssueDetected from the new daemon: got %+v; want memory", ev.Issue)
	}
}

func next(t *testing.T, events <-chan client.Event, signal string) client.Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("the stream ended before %s", signal)
			}
			if ev.Signal == signal {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s within 10s", signal)
		}
	}
}

// A watcher that falls behind loses signals, not memory: godbus must not
// pile up a goroutine per signal it cannot deliver. The daemon's leaving
// the bus still comes through.
func TestAWatcherThatFallsBehindDropsSignals(t *testing.T) {
	d := apitest.Start(t, apitest.Setup{})
	c := d.Client(t, client.Options{NoAutoStart: true})
	events, err := c.Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	rec := client.Encode(client.Issue{ID: "memory", Kind: "memory", Severity: "warning"})
	for range 2000 {
		if err := d.Conn.Emit(client.ObjectPath, client.Interface+"."+client.SignalIssueDetected, rec); err != nil {
			t.Fatal(err)
		}
	}
	// Let the bus deliver them all: a Ping on the watcher's own
	// connection returns after the signals queued before its reply.
	if err := c.Conn().BusObject().Call("org.freedesktop.DBus.Peer.Ping", 0).Err; err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if n := runtime.NumGoroutine() - before; n > 100 {
		t.Errorf("%d more goroutines after 2000 unread signals; want the excess dropped", n)
	}
	d.Stop()
	if ev := next(t, events, client.SignalNameOwnerChanged); ev.Running() {
		t.Errorf("after the daemon stopped: got owner %q; want none", ev.Owner)
	}
}
