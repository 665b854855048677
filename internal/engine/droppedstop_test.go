package engine_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/engine/enginetest"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/systemd"
)

// stopsWatcher is a fake watcher that, as systemd.Watcher does when its
// queue is full, replaced a stop job's event by a Resync and keeps the
// stop for PendingStops.
type stopsWatcher struct {
	*enginetest.Watcher
	mu    sync.Mutex
	stops []systemd.Event
}

func (w *stopsWatcher) PendingStops() []systemd.Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.stops
	w.stops = nil
	return out
}

// A stop whose event the watcher had to drop (a burst: isolate stopping
// hundreds of monitored units at once) is still a stop on purpose. Failed
// before: the Resync's re-read found the unit inactive with no stop known,
// and restarted it after the grace period.
func TestAStopWhoseEventWasDroppedIsStillAStopOnPurpose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sw := &stopsWatcher{Watcher: enginetest.NewWatcher(16)}
		e := enginetest.New(t, enginetest.Setup{Units: []heal.UnitStatus{active("web.service")},
			Options: func(o *engine.Options) { o.Watcher = sw }})
		ctx, cancel := context.WithCancel(context.Background())
		done := e.Start(ctx)
		defer func() { cancel(); <-done }()
		synctest.Wait()
		e.Systemd.Set("web.service", "inactive", "dead")
		sw.mu.Lock()
		sw.stops = []systemd.Event{{Unit: "web.service", ActiveState: "inactive", SubState: "dead", StopJob: true, Job: "stop", Time: time.Now()}}
		sw.mu.Unlock()
		sw.C <- systemd.Event{Resync: true, Time: time.Now()}
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if calls := e.Systemd.Calls(); len(calls) != 0 {
			t.Errorf("calls = %q; want none for a unit stopped on purpose", calls)
		}
		n := 0
		for _, r := range e.Audit.History(0) {
			if r.Event == audit.StoppedOnPurpose && r.Outcome == "stopped" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d stopped-on-purpose records; want 1", n)
		}
	})
}
