package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/testbed"
)

// Four hundred monitored units, all running, at a 1 s interval: the
// daemon follows them by systemd's signals and one batched read a minute
// (docs/performance.md), heals any one that is killed, and sees a
// monitored unit that did not exist appear with the daemon-reload that
// installs it, without waiting for that batched read. The CPU figures are
// reported, not asserted (make bench measures them side by side).
func TestFourHundredWatchedUnitsAreFollowedBySignals(t *testing.T) {
	const n = 400
	units := map[string]testbed.File{}
	var names []string
	for i := range n {
		name := fmt.Sprintf("lh-n%03d.service", i)
		units[name] = unitFile("/bin/sleep infinity")
		names = append(names, name)
	}
	quoted := make([]string, 0, n+1)
	for _, u := range append(slices.Clone(names), "lh-later.service") {
		quoted = append(quoted, `"`+u+`"`)
	}
	// Thresholds out of reach: the host's load, which the machine sees,
	// would open a load issue whose throttle reads every service.
	cfg := benchThresholds + "[monitoring]\ninterval = \"1s\"\n[predictive]\nenabled = false\n[services]\nmonitored = [" + strings.Join(quoted, ", ") + "]\n"
	m := bootInstalled(t, boot{config: cfg, units: units, start: names})

	m.waitFor(10*time.Second, "the absent unit's issue", func() bool {
		return strings.Contains(m.healingctl("", "status").stdout, "lh-later.service is monitored but does not exist")
	})
	// Steady state: nothing changes, CPU over a window.
	daemon := m.prop("luminous-healing.service", "MainPID")
	bus := m.prop("dbus.service", "MainPID")
	m.settle(daemon)
	const window = 10 * time.Second
	d0, s0, b0 := m.cpuTicks(daemon), m.cpuTicks("1"), m.cpuTicks(bus)
	time.Sleep(window)
	d1, s1, b1 := m.cpuTicks(daemon), m.cpuTicks("1"), m.cpuTicks(bus)
	share := func(ticks uint64) string { // 100 ticks a second
		return fmt.Sprintf("%.1f%%", float64(ticks)/window.Seconds())
	}
	report(t, "%d units watched, interval 1s, %s steady: CPU daemon %s, systemd %s, dbus-daemon %s of a core (clock ticks, ±%s)",
		n, window, share(d1-d0), share(s1-s0), share(b1-b0), share(1))

	// Any one of them killed is healed.
	var heals []time.Duration
	for _, u := range []string{names[0], names[n/2], names[n-1]} {
		heals = append(heals, m.killAndHeal(u))
	}
	slices.Sort(heals)
	report(t, "%d units watched: kill → active again (wall, systemctl polled), median of 3: %s", n, heals[1].Round(time.Millisecond))

	// The unit that did not exist is installed: the daemon-reload's
	// Reloading signal has every unit read again, at once.
	if err := m.WriteFile("/etc/systemd/system/lh-later.service", unitFile("/bin/sleep infinity").Data, 0o644); err != nil {
		t.Fatal(err)
	}
	m.MustRun(t, "systemctl", "daemon-reload")
	t0 := time.Now()
	m.waitFor(10*time.Second, "the issue of the unit now installed to be resolved", func() bool {
		return !strings.Contains(m.healingctl("", "status").stdout, "lh-later.service is monitored but does not exist")
	})
	report(t, "a monitored unit installed by daemon-reload: its issue resolved after %s (the batched re-read is 60 s away)", time.Since(t0).Round(time.Millisecond))
}

// settle waits, up to a minute, until the process uses at most 1 % of a
// core over 2 s: past the daemon's start-up, which reads every monitored
// unit in full once (two GetAll each), so that a steady window measures
// the steady state.
func (m *machine) settle(pid string) {
	m.t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		t0 := m.cpuTicks(pid)
		time.Sleep(2 * time.Second)
		if m.cpuTicks(pid)-t0 <= 2 {
			return
		}
	}
	m.t.Logf("pid %s did not settle within a minute; measuring anyway", pid)
}

// A monitored unit that fails while the daemon has no bus gets no signal to
// anyone: the daemon's first look once it is back, one batched read of
// every monitored unit (docs/healing.md), finds it failed and heals it.
// The daemon is frozen (SIGSTOP) across the bus restart so that the
// failure surely falls in the gap, with two hundred units watched.
func TestAFailureWhileTheBusIsDownIsHealedByTheBatchedRead(t *testing.T) {
	const n = 200
	units := map[string]testbed.File{}
	var names, quoted []string
	for i := range n {
		name := fmt.Sprintf("lh-b%03d.service", i)
		units[name] = unitFile("/bin/sleep infinity")
		names, quoted = append(names, name), append(quoted, `"`+name+`"`)
	}
	cfg := benchThresholds + "[monitoring]\ninterval = \"1s\"\n[predictive]\nenabled = false\n[services]\nmonitored = [" + strings.Join(quoted, ", ") + "]\n"
	t0 := time.Now()
	m := bootInstalled(t, boot{config: cfg, units: units, start: names})
	m.waitFor(20*time.Second, "the daemon's start record", func() bool {
		return len(m.journal("luminous-healing.service", t0, field("MESSAGE_ID", audit.MessageIDs[audit.DaemonStarted]))) > 0
	})
	pid := m.prop("luminous-healing.service", "MainPID")
	victim := names[n/2]
	m.MustRun(t, "systemctl", "kill", "--signal=STOP", "luminous-healing.service")
	m.MustRun(t, "systemctl", "restart", "dbus.service")
	m.MustRun(t, "systemctl", "kill", "--signal=KILL", victim)
	m.waitFor(10*time.Second, victim+" failed", func() bool { return m.prop(victim, "ActiveState") == "failed" })
	t1 := time.Now()
	m.MustRun(t, "systemctl", "kill", "--signal=CONT", "luminous-healing.service")
	m.waitFor(30*time.Second, victim+" healed by the restarted daemon", func() bool {
		return m.isActive(victim) && len(m.journal("luminous-healing.service", t1, field("MESSAGE_ID", audit.MessageIDs[audit.ActionSucceeded]))) > 0
	})
	if now := m.prop("luminous-healing.service", "MainPID"); now == pid {
		t.Errorf("the daemon (pid %s) was not restarted after losing the bus; the heal came from elsewhere", pid)
	}
	report(t, "a unit failed while the bus was down, %d units watched: healed %s after the daemon was let go", n, time.Since(t1).Round(100*time.Millisecond))
}
