package e2e

import (
	"errors"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/systemd"
	"github.com/luminous-healing/luminous-healing/internal/testbed"
)

// An administrator's stop that lands between the daemon's ResetFailedUnit
// and its RestartUnit wins (issue 21: never fight the administrator). On
// the throwaway systemd, the stop is made to be still queued when the
// restart comes (an ExecStop= that takes 3 s) and the daemon's own restart
// step (internal/heal with internal/systemd, as the daemon runs them) is
// called then. It failed before: RestartUnit in mode "replace" cancelled
// the stop job ("Job canceled" for systemctl stop) and the unit ran again.
func TestAStopQueuedBeforeTheDaemonsRestartWins(t *testing.T) {
	const unit = "lh-slowstop.service"
	m, h := stopBed(t, map[string]testbed.File{
		"/etc/systemd/system/lh-slowstop.service": unitFile("/bin/sleep infinity", "ExecStop=/bin/sleep 3"),
	})
	m.MustRun(t, "systemctl", "start", unit)

	t0 := time.Now()
	m.MustRun(t, "systemctl", "stop", "--no-block", unit)
	m.waitFor(5*time.Second, "the stop job to run", func() bool { return m.state(unit) == "deactivating" })
	res := h.Do(t.Context(), restartOf(unit))
	if res.Outcome != heal.Refused || !errors.Is(res.Err, heal.ErrStopQueued) {
		t.Errorf("restart during the stop = %s (%v: %s); want refused, a stop job is queued", res.Outcome, res.Err, res.Message)
	}
	m.waitFor(10*time.Second, "the stop to finish", func() bool { return m.state(unit) != "deactivating" })
	time.Sleep(time.Second)
	if got := m.state(unit); got != "inactive" {
		t.Errorf("%s is %s after the administrator's stop and the daemon's restart; want inactive: the stop must win", unit, got)
	}
	report(t, "stop queued before the daemon's restart: %s, unit %s %.1f s after the stop", res.Outcome, m.state(unit), time.Since(t0).Seconds())
}

// A stop queued for a unit that the unit to heal Requires= is not a stop
// of that unit. On the throwaway systemd, lh-needer (Requires=lh-dep) has
// failed and an administrator stops lh-dep (an ExecStop= of 3 s keeps the
// job queued); the daemon's restart of lh-needer in mode "fail" is then
// refused by systemd (TransactionIsDestructive: our transaction would
// start lh-dep against its stop job) although lh-needer has no job of its
// own. It failed before: the refusal was heal.ErrStopQueued, which the
// engine takes for a stop of lh-needer on purpose and never heals it
// again; now it is heal.ErrNeedStopping, which the engine retries.
func TestADependencysStopIsNotTheUnitsStop(t *testing.T) {
	const a, b = "lh-needer.service", "lh-dep.service"
	m, h := stopBed(t, map[string]testbed.File{
		"/etc/systemd/system/" + b:                 unitFile("/bin/sleep infinity", "ExecStop=/bin/sleep 3"),
		"/etc/systemd/system/" + a:                 unitFile("/bin/sleep infinity"),
		"/etc/systemd/system/" + a + ".d/dep.conf": {Data: []byte("[Unit]\nRequires=" + b + "\nAfter=" + b + "\n"), Mode: 0o644},
	})
	m.MustRun(t, "systemctl", "start", a)
	m.MustRun(t, "systemctl", "kill", "--signal=KILL", a)
	m.waitFor(5*time.Second, "A to fail", func() bool { return m.state(a) == "failed" })

	m.MustRun(t, "systemctl", "stop", "--no-block", b)
	m.waitFor(5*time.Second, "B's stop job to run", func() bool { return m.state(b) == "deactivating" })
	if job := m.prop(a, "Job"); job != "" {
		t.Fatalf("%s has a job of its own (%s): the scenario needs none", a, job)
	}
	res := h.Do(t.Context(), restartOf(a))
	if res.Outcome != heal.Refused || !errors.Is(res.Err, heal.ErrNeedStopping) || errors.Is(res.Err, heal.ErrStopQueued) {
		t.Errorf("restart of %s while %s stops = %s (%v: %s); want refused for a unit it needs being stopped, not for a stop of its own",
			a, b, res.Outcome, res.Err, res.Message)
	}
	report(t, "restart while a Requires= dependency stops: %s (%v)", res.Outcome, res.Err)
}

// stopBed boots the throwaway systemd with files and returns it with a
// healer on its manager, as the daemon runs them.
func stopBed(t *testing.T, files map[string]testbed.File) (*machine, *heal.Healer) {
	tb := testbed.Boot(t, testbed.Options{Files: files,
		Setup: []string{"systemctl mask --quiet postgresql@15-main.service postgresql.service || true"}})
	mgr, err := systemd.Dial(t.Context(), tb.SystemBus())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mgr.Close)
	return &machine{Machine: tb, t: t}, heal.New(mgr, heal.SettingsFrom(config.Default(), "luminous-healing.service"), nil)
}

// restartOf is the daemon's restart of unit for its unit issue.
func restartOf(unit string) heal.Request {
	return heal.Request{Action: issue.Restart, Target: unit,
		Issue: issue.Record{ID: issue.ID(issue.Unit, unit), Kind: issue.Unit, Subject: unit}}
}
