package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/testbed"
)

func TestTheDaemonComesBackAfterDBusRestarts(t *testing.T) {
	m := bootInstalled(t, boot{config: healingConfig, units: healingUnits(), start: []string{"lh-web.service"}})
	pid := m.prop("luminous-healing.service", "MainPID")
	t0 := time.Now()
	m.MustRun(t, "systemctl", "restart", "dbus.service")
	m.waitFor(20*time.Second, "a new luminous-healingd to be active", func() bool {
		return m.isActive("luminous-healing.service") && m.prop("luminous-healing.service", "MainPID") != pid
	})
	back := time.Since(t0)
	// And it heals again: its watcher is subscribed on the new bus.
	m.waitFor(5*time.Second, "the daemon's start record", func() bool {
		return len(m.journal("luminous-healing.service", t0, field("MESSAGE_ID", audit.MessageIDs[audit.DaemonStarted]))) > 0
	})
	t1 := time.Now()
	m.MustRun(t, "systemctl", "kill", "--signal=KILL", "lh-web.service")
	m.waitFor(10*time.Second, "lh-web healed after the bus restart", func() bool {
		return len(m.journal("luminous-healing.service", t1, field("MESSAGE_ID", audit.MessageIDs[audit.ActionSucceeded]))) > 0
	})
	report(t, "back %s after dbus restarted; heals again", back.Round(10*time.Millisecond))
}

func TestStateAndHistorySurviveASIGKILLOfTheDaemon(t *testing.T) {
	m := bootInstalled(t, boot{config: healingConfig, units: healingUnits(), start: []string{"lh-web.service"}})
	t0 := time.Now()
	// Something worth remembering: a healed unit in the history, and a
	// unit given up by its breaker.
	m.MustRun(t, "systemctl", "kill", "--signal=KILL", "lh-web.service")
	m.Run(t.Context(), "systemctl", "start", "lh-flaky.service")
	m.waitFor(30*time.Second, "lh-flaky given up", func() bool {
		return len(m.journal("luminous-healing.service", t0, field("MESSAGE_ID", audit.MessageIDs[audit.BreakerOpened]))) > 0
	})
	time.Sleep(500 * time.Millisecond) // the history is written at most 250 ms behind

	pid := m.prop("luminous-healing.service", "MainPID")
	t1 := time.Now()
	m.MustRun(t, "systemctl", "kill", "--signal=KILL", "luminous-healing.service")
	m.waitFor(20*time.Second, "systemd to restart the daemon", func() bool {
		return m.isActive("luminous-healing.service") && m.prop("luminous-healing.service", "MainPID") != pid
	})
	time.Sleep(3 * time.Second) // several checks and polls of lh-flaky

	data, err := m.ReadFile("/var/lib/luminous-healing/history.json")
	if err != nil {
		t.Fatal(err)
	}
	var hist []audit.Entry
	if err := json.Unmarshal(data, &hist); err != nil {
		t.Fatalf("history after SIGKILL does not decode: %v", err)
	}
	var healed, starts int
	for _, e := range hist {
		if e.Event == audit.ActionSucceeded && e.Target == "lh-web.service" {
			healed++
		}
		if e.Event == audit.DaemonStarted {
			starts++
		}
	}
	if healed == 0 || starts < 2 {
		t.Errorf("history has %d heals of lh-web and %d daemon starts; want the old run's records kept beside the new run's", healed, starts)
	}
	restarts := m.journal("luminous-healing.service", t1, func(e testbed.JournalEntry) bool {
		id := e.Field("MESSAGE_ID")
		return e.Field("HEALING_TARGET") == "lh-flaky.service" && e.Field("HEALING_ACTION") == "restart" &&
			(id == audit.MessageIDs[audit.ActionSucceeded] || id == audit.MessageIDs[audit.ActionFailed])
	})
	if len(restarts) != 0 {
		t.Errorf("the new daemon restarted lh-flaky %d times; want its given-up breaker remembered", len(restarts))
	}
	state, _ := m.ReadFile("/var/lib/luminous-healing/state.json")
	if !strings.Contains(string(state), `"GivenUp":true`) {
		t.Errorf("state.json does not hold the given-up breaker: %s", state)
	}
	report(t, "history kept %d records across SIGKILL; given-up breaker remembered", len(hist))
}

func TestWithPolkitdStoppedPrivilegedCallsAreDeniedAndReadsServed(t *testing.T) {
	m := bootInstalled(t, boot{config: dbusConfig, units: map[string]testbed.File{"lh-web.service": unitFile("/bin/sleep infinity")},
		start: []string{"lh-web.service"}})
	if err := m.AddUser(t.Context(), "alice"); err != nil {
		t.Fatal(err)
	}
	if r := m.healingctl("", "--no-ask-password", "restart", "lh-web"); r.code != 0 {
		t.Fatalf("with polkitd running, root's restart: exit %d %q; want 0", r.code, r.stderr)
	}
	// Masked, so that the bus cannot activate it again.
	m.MustRun(t, "systemctl", "mask", "--runtime", "--now", "polkit.service")
	m.waitFor(5*time.Second, "polkitd to be gone", func() bool { return m.state("polkit.service") != "active" })
	pid := m.prop("lh-web.service", "MainPID")
	t0 := time.Now()

	for _, user := range []string{"", "alice"} {
		r := m.healingctl(user, "--no-ask-password", "restart", "lh-web")
		if r.code != 4 {
			t.Errorf("restart as %s without polkitd: exit %d (%q); want 4, fail closed", orRoot(user), r.code, r.stderr)
		}
		if r := m.healingctl(user, "status"); r.code != 0 || !strings.Contains(r.stdout, "Health:") {
			t.Errorf("status as %s without polkitd: exit %d %q; want it served", orRoot(user), r.code, r.stderr)
		}
	}
	if m.prop("lh-web.service", "MainPID") != pid {
		t.Errorf("lh-web was restarted although polkitd was gone")
	}
	denied := m.journal("luminous-healing.service", t0, field("MESSAGE_ID", audit.MessageIDs[audit.CallDenied]))
	if len(denied) != 2 {
		t.Errorf("%d denied calls audited; want 2", len(denied))
	}
	report(t, "privileged calls denied (exit 4) and reads served while polkitd was down")
}
