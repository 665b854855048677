package engine_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/systemd"
)

// A stop queued before the daemon's restart (an administrator's, landing
// between ResetFailedUnit and RestartUnit) wins: systemd refuses the
// restart (mode "fail"), the daemon takes the unit as stopped on purpose,
// retries nothing, and heals it again only once it is started again.
func TestARestartRefusedForAQueuedStopIsAStopOnPurpose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, setup{units: []heal.UnitStatus{active("web.service")}})
		synctest.Wait()
		h.sd.StopQueued = map[string]bool{"web.service": true}
		h.sd.Units["web.service"].Result = "signal"
		h.unit("web.service", "failed", "failed")
		synctest.Wait()
		if n := h.countCalls("RestartUnit"); n != 1 {
			t.Fatalf("%d restarts tried; want 1, refused by systemd", n)
		}
		stops := h.history(audit.StoppedOnPurpose)
		if len(stops) != 1 || stops[0].Outcome != "stopped" || stops[0].Target != "web.service" {
			t.Fatalf("stopped-on-purpose records = %+v; want one, web.service stopped", stops)
		}
		// The stop runs.
		h.sd.Set("web.service", "inactive", "dead")
		h.watcher.C <- systemd.Event{Unit: "web.service", ActiveState: "inactive", SubState: "dead", StopJob: true, Time: time.Now()}
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if n := h.countCalls("RestartUnit"); n != 1 {
			t.Errorf("%d restarts tried within 5 minutes of the stop; want still 1", n)
		}
		if rec, open := h.issue("unit:web.service"); open {
			t.Errorf("issue still open (%s) for a unit stopped on purpose", rec.State)
		}
		// Started again and crashing, it is healed as any other.
		h.sd.StopQueued = nil
		h.unit("web.service", "active", "running")
		synctest.Wait()
		h.unit("web.service", "failed", "failed")
		synctest.Wait()
		if n := h.countCalls("RestartUnit"); n != 2 {
			t.Errorf("%d restarts after it was started again and crashed; want 2", n)
		}
	})
}
