package e2e

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/testbed"
)

const healingConfig = `
[monitoring]
interval = "1s"
[healing]
backoff = "300ms"
backoff_max = "1s"
max_attempts = 3
attempt_window = "10m"
[services]
monitored = ["lh-web", "lh-flaky"]
`

func healingUnits() map[string]testbed.File {
	return map[string]testbed.File{
		"lh-web.service":       unitFile("/bin/sleep infinity"),
		"lh-bystander.service": unitFile("/bin/sleep infinity"),
		// Fails a moment after every start, forever.
		"lh-flaky.service": unitFile("/bin/sh -c 'sleep 0.3; exit 3'", "StartLimitIntervalSec=0"),
	}
}

func TestAMonitoredUnitKilledWithSIGKILLIsActiveAgain(t *testing.T) {
	m := bootInstalled(t, boot{config: healingConfig, units: healingUnits(), start: []string{"lh-web.service"}})
	t0 := time.Now()
	pid := m.prop("lh-web.service", "MainPID")
	m.MustRun(t, "systemctl", "kill", "--signal=KILL", "lh-web.service")
	m.waitFor(10*time.Second, "lh-web to be active again with a new process", func() bool {
		return m.isActive("lh-web.service") && m.prop("lh-web.service", "MainPID") != pid
	})

	// Time from the failure to active again, from systemd's own records.
	failed := m.journal("lh-web.service", t0, messageHas("Failed with result"))
	started := m.journal("lh-web.service", t0, messageHas("Started "))
	if len(failed) == 0 || len(started) == 0 {
		t.Fatalf("journal lacks the failure (%d) or the start (%d)\n%s", len(failed), len(started), m.daemonLog())
	}
	took := at(started[len(started)-1]).Sub(at(failed[0]))
	report(t, "failure → active again: %s (journal timestamps; target ≤ 1s)", took.Round(time.Millisecond))

	acts := m.journal("luminous-healing.service", t0, field("MESSAGE_ID", audit.MessageIDs[audit.ActionSucceeded]))
	if len(acts) != 1 || acts[0].Field("HEALING_TARGET") != "lh-web.service" || acts[0].Field("HEALING_ACTION") != "restart" {
		t.Errorf("journal has %d action-succeeded records (%v); want one restart of lh-web.service", len(acts), acts)
	}
	if uid := acts[0].Field("HEALING_CALLER_UID"); uid != "-1" {
		t.Errorf("HEALING_CALLER_UID = %q; want -1 (the daemon's own decision)", uid)
	}
	// journalctl -u lh-web shows what the daemon did to it.
	out, _ := m.run("journalctl", "--no-pager", "-u", "lh-web.service", "-o", "cat")
	if !strings.Contains(out, "lh-web.service is active again") {
		t.Errorf("journalctl -u lh-web does not show the daemon's record:\n%s", out)
	}
}

func TestAnAlwaysFailingUnitIsRetriedWithBackoffThenLeftAlone(t *testing.T) {
	m := bootInstalled(t, boot{config: healingConfig, units: healingUnits()})
	t0 := time.Now()
	// Started by hand once; it fails, and the daemon takes over.
	m.Run(t.Context(), "systemctl", "start", "lh-flaky.service")
	m.waitFor(30*time.Second, "the breaker to give lh-flaky up", func() bool {
		return len(m.journal("luminous-healing.service", t0, field("MESSAGE_ID", audit.MessageIDs[audit.BreakerOpened]))) > 0
	})
	restarts := func() []testbed.JournalEntry {
		return m.journal("luminous-healing.service", t0, func(e testbed.JournalEntry) bool {
			return e.Field("HEALING_ACTION") == "restart" && e.Field("HEALING_TARGET") == "lh-flaky.service" &&
				(e.Field("HEALING_OUTCOME") == "succeeded" || e.Field("HEALING_OUTCOME") == "failed")
		})
	}
	before := restarts()
	if len(before) < 2 {
		t.Fatalf("%d restarts before giving up; want several\n%s", len(before), m.daemonLog())
	}
	var gaps []time.Duration
	for i := 1; i < len(before); i++ {
		gaps = append(gaps, at(before[i]).Sub(at(before[i-1])).Round(10*time.Millisecond))
	}
	for i := 1; i < len(gaps); i++ {
		if gaps[i] < gaps[i-1] {
			t.Errorf("gaps between attempts %v shrink; want backoff to grow", gaps)
		}
	}
	time.Sleep(4 * time.Second) // several checks and polls
	after := restarts()
	if len(after) != len(before) {
		t.Errorf("%d restarts after giving up; want it left alone at %d", len(after), len(before))
	}
	if st := m.state("lh-flaky.service"); st != "failed" {
		t.Errorf("lh-flaky is %s; want failed and left so", st)
	}
	report(t, "%d attempts, gaps %v, then left alone", len(before), gaps)
}

func TestAUnitThatIsNotMonitoredIsNeverTouched(t *testing.T) {
	m := bootInstalled(t, boot{config: healingConfig, units: healingUnits(), start: []string{"lh-bystander.service"}})
	t0 := time.Now()
	m.MustRun(t, "systemctl", "kill", "--signal=KILL", "lh-bystander.service")
	m.waitFor(5*time.Second, "lh-bystander to fail", func() bool { return m.state("lh-bystander.service") == "failed" })
	time.Sleep(3 * time.Second)
	if st := m.state("lh-bystander.service"); st != "failed" {
		t.Errorf("lh-bystander is %s; want failed, untouched", st)
	}
	if recs := m.journal("luminous-healing.service", t0, field("HEALING_TARGET", "lh-bystander.service")); len(recs) != 0 {
		t.Errorf("the daemon recorded %d actions on an unmonitored unit", len(recs))
	}
	report(t, "unmonitored unit left failed")
}

func TestDryRunPlansAndActsOnNothing(t *testing.T) {
	m := bootInstalled(t, boot{config: healingConfig + "\n", units: healingUnits(), start: []string{"lh-web.service"}})
	// Switch dry-run on through the configuration and a reload, as an
	// administrator would.
	cfg, err := m.ReadFile("/etc/luminous-healing/config.toml")
	if err != nil {
		t.Fatal(err)
	}
	cfg = []byte(strings.Replace(string(cfg), "[healing]\n", "[healing]\ndry_run = true\n", 1))
	if err := m.WriteFile("/etc/luminous-healing/config.toml", cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	m.MustRun(t, "systemctl", "reload", "luminous-healing.service")
	m.waitFor(5*time.Second, "the reload to be recorded", func() bool {
		return len(m.journal("luminous-healing.service", t0, messageHas("configuration set to reloaded"))) > 0
	})
	m.MustRun(t, "systemctl", "kill", "--signal=KILL", "lh-web.service")
	m.waitFor(5*time.Second, "a planned restart", func() bool {
		return len(m.journal("luminous-healing.service", t0, field("MESSAGE_ID", audit.MessageIDs[audit.ActionPlanned]))) > 0
	})
	time.Sleep(2 * time.Second)
	if st := m.state("lh-web.service"); st != "failed" {
		t.Errorf("lh-web is %s in dry-run; want failed, untouched", st)
	}
	planned := m.journal("luminous-healing.service", t0, field("MESSAGE_ID", audit.MessageIDs[audit.ActionPlanned]))
	if len(planned) != 1 || !strings.Contains(planned[0].Field("MESSAGE"), "would reset-failed and restart lh-web.service") {
		t.Errorf("planned records = %d (%v); want one saying what it would do", len(planned), planned)
	}
	if n := len(m.journal("luminous-healing.service", t0, field("MESSAGE_ID", audit.MessageIDs[audit.ActionSucceeded]))); n != 0 {
		t.Errorf("%d executed actions in dry-run", n)
	}
	report(t, "planned, not executed: %q", planned[0].Field("MESSAGE"))
}

func TestAnUnprivilegedUserWatchesIssuesComeAndGo(t *testing.T) {
	m := bootInstalled(t, boot{config: healingConfig, units: healingUnits(), start: []string{"lh-web.service"}})
	if err := m.AddUser(t.Context(), "alice"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	watch := m.Command(ctx, "alice", "healingctl", "--json", "watch")
	var out syncBuffer
	watch.Stdout, watch.Stderr = &out, &out
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		watch.Wait()
	}()
	time.Sleep(500 * time.Millisecond) // subscribed
	m.MustRun(t, "systemctl", "kill", "--signal=KILL", "lh-web.service")
	m.waitFor(10*time.Second, "IssueDetected and IssueResolved in alice's watch", func() bool {
		s := out.String()
		return strings.Contains(s, `"IssueDetected"`) && strings.Contains(s, `"IssueResolved"`)
	})
	var lines []string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.Contains(l, "unit:lh-web.service") && (strings.Contains(l, `"IssueDetected"`) || strings.Contains(l, `"IssueResolved"`)) {
			lines = append(lines, l)
		}
	}
	if len(lines) < 2 || !strings.Contains(lines[0], "IssueDetected") {
		t.Errorf("watch output for lh-web = %q; want IssueDetected, then IssueResolved", lines)
	}
	report(t, "alice saw %d signals about unit:lh-web.service", len(lines))
}

// syncBuffer is a bytes.Buffer safe to read while a command writes it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
