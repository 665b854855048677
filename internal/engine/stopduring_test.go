package engine_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/heal/healtest"
	"github.com/luminous-healing/luminous-healing/internal/issue"
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

// A stop queued before the daemon's restart (an administrator's, landing
// between ResetFailedUnit and RestartUnit) wins: systemd refuses the
// restart (mode "fail"), the daemon takes the unit as stopped on purpose,
// retries nothing, and heals it again only once it is started again.
func TestARestartRefusedForAQueuedStopIsAStopOnPurpose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := crashRefused(t, func(sd *healtest.Systemd) { sd.SetRefused("web.service", true, false) })
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
		h.sd.SetRefused("web.service", false, false)
		h.unit("web.service", "active", "running")
		synctest.Wait()
		h.unit("web.service", "failed", "failed")
		synctest.Wait()
		if n := h.countCalls("RestartUnit"); n != 2 {
			t.Errorf("%d restarts after it was started again and crashed; want 2", n)
		}
	})
}

// A restart systemd refuses because a unit the unit Requires= has a stop
// queued (heal.ErrNeedStopping: the unit has no stop job of its own) is
// no stop of the unit: the issue waits and the restart is tried again
// once the dependency's stop is over. (The refusal itself is checked on
// real systemd by internal/e2e TestADependencysStopIsNotTheUnitsStop.)
func TestARestartRefusedForADependencysStopIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := crashRefused(t, func(sd *healtest.Systemd) { sd.SetRefused("web.service", false, true) })
		if stops := h.history(audit.StoppedOnPurpose); len(stops) != 0 {
			t.Errorf("stopped-on-purpose records = %+v; want none: nobody stopped web.service", stops)
		}
		if rec, open := h.issue("unit:web.service"); !open || rec.State != issue.Waiting {
			t.Errorf("issue = %s (open %v); want waiting for a retry", rec.State, open)
		}
		h.sd.SetRefused("web.service", false, false) // the dependency's stop is over
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := h.countCalls("RestartUnit"); n != 2 {
			t.Errorf("%d restarts a minute later; want 2: the refused one, then the retry", n)
		}
		if rec, open := h.issue("unit:web.service"); open {
			t.Errorf("issue still open (%s) after the retry", rec.State)
		}
	})
}

// crashRefused starts the engine on web.service, makes systemd refuse its
// restart (refuse sets the fake up) and crashes the unit; it returns once
// the one refused restart was tried.
func crashRefused(t *testing.T, refuse func(*healtest.Systemd)) *harness {
	t.Helper()
	h := start(t, setup{units: []heal.UnitStatus{active("web.service")}})
	synctest.Wait()
	refuse(h.sd)
	h.sd.Units["web.service"].Result = "signal"
	h.unit("web.service", "failed", "failed")
	synctest.Wait()
	if n := h.countCalls("RestartUnit"); n != 1 {
		t.Fatalf("%d restarts tried; want 1, refused by systemd", n)
	}
	return h
}
