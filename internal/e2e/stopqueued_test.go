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
	tb := testbed.Boot(t, testbed.Options{
		Files: map[string]testbed.File{
			"/etc/systemd/system/lh-slowstop.service": unitFile("/bin/sleep infinity", "ExecStop=/bin/sleep 3"),
		},
		Setup: []string{"systemctl mask --quiet postgresql@15-main.service postgresql.service || true"},
	})
	m := &machine{Machine: tb, t: t}
	const unit = "lh-slowstop.service"
	m.MustRun(t, "systemctl", "start", unit)

	mgr, err := systemd.Dial(t.Context(), tb.SystemBus())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mgr.Close)
	h := heal.New(mgr, heal.SettingsFrom(config.Default(), "luminous-healing.service"), nil)

	t0 := time.Now()
	m.MustRun(t, "systemctl", "stop", "--no-block", unit)
	m.waitFor(5*time.Second, "the stop job to run", func() bool { return m.state(unit) == "deactivating" })
	res := h.Do(t.Context(), heal.Request{Action: issue.Restart, Target: unit,
		Issue: issue.Record{ID: issue.ID(issue.Unit, unit), Kind: issue.Unit, Subject: unit}})
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
