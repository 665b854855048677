package engine_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/engine/enginetest"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/systemd"
)

// heldHandler is a log handler that does not answer until released, as
// the journal's socket when journald is stuck.
type heldHandler struct{ held chan struct{} }

func (h heldHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h heldHandler) Handle(context.Context, slog.Record) error {
	<-h.held
	return nil
}
func (h heldHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h heldHandler) WithGroup(string) slog.Handler      { return h }

// A journal that does not answer stalls neither detection nor the readers
// of the engine's state (every D-Bus read). It failed before: the engine
// recorded the issue, and the audit log wrote it to the journal, with the
// engine's lock held, so the next read of the issue waited as long as the
// journal. (journald cannot be stalled on purpose here; the audit log's
// writer, the part that talks to it, is held instead.)
func TestAStalledJournalStallsNeitherDetectionNorReads(t *testing.T) {
	held := make(chan struct{})
	e := enginetest.New(t, enginetest.Setup{
		Units: []heal.UnitStatus{active("web.service")}, Self: "luminous-healing.service", WatcherBuffer: 4,
		Options: func(o *engine.Options) {
			o.Audit = audit.New(audit.Options{Logger: slog.New(heldHandler{held})})
			o.Config.Healing.DryRun = true
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := e.Start(ctx)
	defer func() {
		close(held)
		cancel()
		<-done
	}()
	e.Systemd.Set("web.service", "failed", "failed")
	e.Watcher.C <- systemd.Event{Unit: "web.service", ActiveState: "failed", SubState: "failed", Time: time.Now()}
	id := issue.ID(issue.Unit, "web.service")
	deadline := time.Now().Add(10 * time.Second)
	for {
		read := make(chan bool, 1)
		go func() {
			e.Monitored() // takes the engine's lock, as D-Bus reads do
			_, ok := e.Issue(id)
			read <- ok
		}()
		select {
		case ok := <-read:
			if ok {
				return
			}
		case <-time.After(5 * time.Second):
			t.Fatal("reading an issue waited for the stalled journal")
		}
		if time.Now().After(deadline) {
			t.Fatal("the failed unit was not detected while the journal was stalled")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
