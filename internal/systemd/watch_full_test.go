package systemd

import (
	"context"
	"log/slog"
	"testing"
	"time"
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
		units:  map[string]*watched{},
		jobs:   map[uint32]*job{},
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

// TestAnEventDroppedOnAFullQueueIsReplacedByAResync: an event that does
// not fit is replaced by a Resync, queued once the consumer makes room.
// Before the fix the Resync was tried once, on the same full queue, and
// dropped too: the change was lost until the next periodic sweep, up to a
// minute, and a stop job's with it (the unit then looked as if it had died
// by itself, and was restarted). A dropped stop job is kept for the
// consumer (PendingStops).
func TestAnEventDroppedOnAFullQueueIsReplacedByAResync(t *testing.T) {
	w := &Watcher{
		log:    slog.New(slog.DiscardHandler),
		events: make(chan Event, 1),
		units:  map[string]*watched{},
		jobs:   map[uint32]*job{},
	}
	w.events <- Event{Unit: "a.service", ActiveState: "deactivating"} // the consumer is behind
	w.send(Event{Unit: "a.service", ActiveState: "inactive", StopJob: true, Job: "stop"})
	if got := <-w.events; got.Resync {
		t.Fatalf("first event = %+v; want the one queued before", got)
	}
	select {
	case got := <-w.events:
		if !got.Resync {
			t.Fatalf("next event = %+v; want a Resync for the dropped one", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no Resync came for the dropped event")
	}
	if got := w.PendingStops(); len(got) != 1 || got[0].Unit != "a.service" || !got[0].StopJob {
		t.Errorf("pending stops = %+v; want the dropped stop of a.service", got)
	}
	if got := w.PendingStops(); len(got) != 0 {
		t.Errorf("pending stops taken twice: %+v", got)
	}
}
