package engine_test

import (
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/issue"
)

// Between a unit's failure signal and the RestartUnit that heals it the
// daemon reads the unit from systemd once: the read-back that confirms the
// signal (SPEC §10) also gives the restart's plan what it needs (loaded,
// failed or not). On systemd a full read is two GetAll of a few hundred
// properties, a round trip each through dbus-daemon: on a loaded machine
// 2–30 ms of the time to heal (docs/performance.md). It failed before: two
// reads, the read-back and the plan's own.
func TestAFailedUnitIsReadOnceBeforeItsRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, setup{units: []heal.UnitStatus{active("web.service")}})
		synctest.Wait()
		reads0, _ := h.sd.Reads()
		var atRestart atomic.Int64
		h.sd.SetOnRestart(func(string) {
			n, _ := h.sd.Reads()
			atRestart.Store(int64(n))
		})
		h.unit("web.service", "failed", "failed")
		synctest.Wait()
		if h.countCalls("RestartUnit web.service") != 1 {
			t.Fatalf("the failed unit was not restarted; calls %v", h.sd.Calls())
		}
		if n := atRestart.Load() - int64(reads0); n != 1 {
			t.Errorf("%d reads of the unit between its failure signal and its restart; want 1 (the read-back)", n)
		}
		if h.countCalls("ResetFailedUnit web.service") != 1 {
			t.Errorf("a failed unit is restarted without ResetFailed first; calls %v", h.sd.Calls())
		}
		if rec, ok := h.issue(issue.ID(issue.Unit, "web.service")); ok && rec.State != issue.Healed {
			t.Errorf("issue %s after the restart; want healed or resolved", rec.State)
		}
	})
}
