package engine_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/systemd"
)

// A unit stopped on purpose, started again and killed at once: the start's
// event is read back after the crash, so the daemon never reads it active.
// The new run (another InvocationID than the one stopped) shows it was
// started again, so the crash is healed. Before the fix the read-back saw
// "failed" with the stop mark still set, took it for a stop that failed,
// and the unit stayed down (the e2e
// TestAUnitStoppedOnPurposeStaysDownUntilStartedAgain timed out so).
func TestAUnitStartedAgainAndKilledAtOnceIsHealed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		web := active("web.service")
		web.InvocationID = "run1"
		h := start(t, setup{units: []heal.UnitStatus{web}})
		synctest.Wait()
		// systemctl stop.
		h.sd.Set("web.service", "inactive", "dead")
		h.watcher.C <- systemd.Event{Unit: "web.service", ActiveState: "inactive", SubState: "dead", StopJob: true, Job: "stop", Time: time.Now()}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if calls := h.sd.Calls(); len(calls) != 0 {
			t.Fatalf("calls = %q; want none for a unit stopped on purpose", calls)
		}
		// systemctl start, and SIGKILL within milliseconds: both events
		// come after the unit has failed again.
		h.sd.Set("web.service", "failed", "failed")
		h.sd.Units["web.service"].Result = "signal"
		h.sd.Units["web.service"].InvocationID = "run2"
		h.watcher.C <- systemd.Event{Unit: "web.service", ActiveState: "active", SubState: "running", Time: time.Now()}
		time.Sleep(50 * time.Millisecond)
		h.watcher.C <- systemd.Event{Unit: "web.service", ActiveState: "failed", SubState: "failed", Time: time.Now()}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if n := h.countCalls("RestartUnit"); n != 1 {
			t.Errorf("%d restarts of a crash right after it was started again; want 1", n)
		}
		h.close()
	})
}
