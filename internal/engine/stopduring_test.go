package engine_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/systemd"
)

// An administrator who stops a unit while the daemon's own restart of it
// is running has stopped it on purpose, as at any other time: the stop job
// is not the daemon's (it never starts one). Before the fix the engine
// dropped every event of a unit its action was moving, so the stop went
// unseen; the restart then found the unit inactive, counted a failure,
// and the daemon restarted the unit again once its backoff passed —
// fighting the administrator (spec §10).
func TestAStopDuringTheDaemonsOwnRestartIsAStopOnPurpose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, setup{units: []heal.UnitStatus{active("web.service")}})
		synctest.Wait()
		proceed := make(chan struct{})
		h.sd.OnRestart = func(string) { <-proceed }
		h.sd.AfterRestart["web.service"] = "inactive" // the administrator's stop wins
		h.unit("web.service", "failed", "failed")
		synctest.Wait() // the restart is running
		// systemctl stop web.service, while the daemon's restart runs.
		h.sd.Set("web.service", "inactive", "dead")
		h.watcher.C <- systemd.Event{Unit: "web.service", ActiveState: "inactive", SubState: "dead", StopJob: true, Job: "stop", Time: time.Now()}
		synctest.Wait()
		close(proceed)
		time.Sleep(30 * time.Minute)
		synctest.Wait()
		if n := h.countCalls("RestartUnit"); n != 1 {
			t.Errorf("%d restarts; want the one that was running when the administrator stopped the unit", n)
		}
		if rec, open := h.issue("unit:web.service"); open {
			t.Errorf("issue still open (%s); want it resolved as stopped on purpose", rec.State)
		}
		if got := h.history(audit.StoppedOnPurpose); len(got) != 1 || got[0].Outcome != "stopped" {
			t.Errorf("stopped-on-purpose records = %+v; want one, outcome stopped", got)
		}
	})
}
