package systemd

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// TestWatchWithEventsFullDoesNotDeadlock: Watch queues its Resync while
// the consumer is behind (the events channel full, as under a flapping
// unit when a reload changes the watch set). send then falls back to
// counting the pile-up under w.mu, which Watch must no longer hold.
// Before the fix Watch held w.mu across send and deadlocked, taking the
// engine's loop, and with it the watchdog, down.
func TestWatchWithEventsFullDoesNotDeadlock(t *testing.T) {
	w := &Watcher{
		log:    slog.New(slog.DiscardHandler),
		events: make(chan Event, 1),
		paths:  map[dbus.ObjectPath]string{},
		jobs:   map[uint32]*job{},
		last:   map[string]string{},
	}
	w.events <- Event{Unit: "a.service"} // the consumer is behind
	done := make(chan error, 1)
	go func() { done <- w.Watch(context.Background(), nil) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Watch deadlocked: it held w.mu while send took it again")
	}
}
