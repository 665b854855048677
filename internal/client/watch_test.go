package client_test

import (
	"errors"
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
