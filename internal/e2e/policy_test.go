package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/testbed"
)

// The healing policy measured against its peers (issue 19, docs/healing.md):
// one machine, one run, the same crashing service three times over —
// restarted by this daemon, by systemd's Restart=on-failure, and by monit
// at a one-second cycle — plus a unit that fails right after every start.
// Time is compressed: it crashes every 7.7 s instead of every few minutes,
// and the daemon's stability period is 5 s instead of 5 min.

const policyConfig = `
[monitoring]
interval = "1s"
[predictive]
enabled = false
[healing]
backoff = "1s"
backoff_max = "4s"
max_attempts = 3
attempt_window = "10m"
stable_after = "5s"
max_actions_per_minute = 60   # the global limit is not what is measured
[services]
monitored = ["lh-crash-daemon", "lh-crashloop"]
`

// lh-crasher NAME SECONDS runs for SECONDS, then fails as a service whose
// port was taken would.
const crasher = `#!/bin/sh
echo "lh-crasher $1 up"
sleep "$2"
echo "lh-crasher $1: bind() to :443 failed: address in use"
exit 1
`

// monit at a 1 s cycle, starting its copy through systemctl when the
// process is gone, as a monit check of a systemd service is written.
const monitrc = `set daemon 1
set logfile /run/lh-monit.log
set idfile /run/lh-monit.id
set statefile /run/lh-monit.state
set pidfile /run/lh-monit.pid
check process lh-crash-monit matching "lh-crasher monit"
  start program = "/bin/systemctl start lh-crash-monit.service"
`

// crashEvery is not a whole number of monit's cycles, so the crash falls
// at every point of its cycle in turn.
const crashEvery = 7700 * time.Millisecond

func TestACrashingServiceAgainstSystemdAndMonit(t *testing.T) {
	if _, err := exec.LookPath("monit"); err != nil && os.Geteuid() == 0 {
		t.Fatal("monit is not installed: the policy is measured against it (apt-get install monit; .ci/run does)")
	}
	run := fmt.Sprintf("/usr/local/bin/lh-crasher %%s %.1f", crashEvery.Seconds())
	m := bootInstalled(t, boot{
		config: policyConfig,
		units: map[string]testbed.File{
			"lh-crash-daemon.service": unitFile(fmt.Sprintf(run, "daemon"), "MemoryMax=32M"),
			"lh-crash-systemd.service": unitFile(fmt.Sprintf(run, "systemd"), "MemoryMax=32M",
				"Restart=on-failure", "StartLimitIntervalSec=0"),
			"lh-crash-monit.service": unitFile(fmt.Sprintf(run, "monit"), "MemoryMax=32M"),
			// Fails half a second after every start, forever.
			"lh-crashloop.service": unitFile(`/bin/sh -c 'echo "bind() to :443 failed: address in use"; sleep 0.5; exit 1'`,
				"MemoryMax=32M", "StartLimitIntervalSec=0"),
		},
		files: map[string]testbed.File{
			"/usr/local/bin/lh-crasher": {Data: []byte(crasher), Mode: 0o755},
			"/etc/lh-monitrc":           {Data: []byte(monitrc), Mode: 0o600},
		},
	})
	// The host's own monit may start in the machine too: only ours runs.
	m.Run(t.Context(), "systemctl", "stop", "monit.service")

	// Every HealingFailed the daemon sends, from the bus itself.
	monCtx, stopMon := context.WithCancel(t.Context())
	var monOut string
	var monWG sync.WaitGroup
	monWG.Add(1)
	go func() {
		defer monWG.Done()
		monOut, _, _ = m.Run(monCtx, "dbus-monitor", "--system",
			"type='signal',interface='org.luminous.Healing1',member='HealingFailed'")
	}()
	time.Sleep(500 * time.Millisecond) // the monitor is listening

	t0 := time.Now()
	m.MustRun(t, "systemctl", "start", "lh-crash-daemon.service", "lh-crash-systemd.service", "lh-crash-monit.service", "lh-crashloop.service")
	m.MustRun(t, "systemd-run", "--quiet", "--unit=lh-monit", "-p", "MemoryMax=64M", "/usr/bin/monit", "-I", "-c", "/etc/lh-monitrc")

	window := 6*crashEvery + 2*time.Second // six crashes each
	time.Sleep(window)
	end := time.Now()
	time.Sleep(time.Second) // the last restarts settle
	stopMon()
	monWG.Wait()

	type row struct {
		name              string
		crashes, restarts int
		down              time.Duration
		worst             time.Duration
	}
	var rows []row
	for _, peer := range []string{"daemon", "systemd", "monit"} {
		unit := "lh-crash-" + peer + ".service"
		// systemd's own records, the same for all three.
		exits := m.journal(unit, t0, messageHas("Main process exited"))
		starts := m.journal(unit, t0, messageHas("Started "))
		r := row{name: peer}
		for _, c := range exits {
			if at(c).After(end) {
				break
			}
			r.crashes++
			up := end
			for _, s := range starts {
				if at(s).After(at(c)) {
					if at(s).Before(end) {
						up = at(s)
					}
					r.restarts++
					break
				}
			}
			r.down += up.Sub(at(c))
			r.worst = max(r.worst, up.Sub(at(c)))
		}
		if r.crashes < 4 {
			t.Fatalf("%s: %d crashes in %s; want about %d\n%s", unit, r.crashes, window, int(window/crashEvery), m.daemonLog())
		}
		rows = append(rows, r)
	}
	for _, r := range rows {
		report(t, "%-8s %d crashes in %s, %d restarted, downtime %s total, %s mean, %s worst",
			r.name, r.crashes, window.Round(time.Second), r.restarts, r.down.Round(time.Millisecond),
			(r.down / time.Duration(r.crashes)).Round(time.Millisecond), r.worst.Round(time.Millisecond))
	}
	daemon, systemd := rows[0], rows[1]
	verdict := "met"
	if daemon.down > systemd.down {
		verdict = "NOT met"
	}
	report(t, "target: daemon's downtime ≤ systemd's Restart=on-failure: %s (%s vs %s)", verdict,
		daemon.down.Round(time.Millisecond), systemd.down.Round(time.Millisecond))

	// The policy, not the stopwatch: every crash was restarted at once
	// and counted, none was backed off or given up.
	if daemon.restarts != daemon.crashes {
		t.Errorf("the daemon restarted %d of %d crashes; want every one", daemon.restarts, daemon.crashes)
	}
	if daemon.worst > crashEvery/2 {
		t.Errorf("the daemon's worst downtime was %s; a restart that held %s must be healed at once, never backed off", daemon.worst, crashEvery)
	}
	own := m.journal("luminous-healing.service", t0, field("HEALING_ISSUE", "unit:lh-crash-daemon.service"))
	count := func(ev audit.Event) int {
		n := 0
		for _, e := range own {
			if e.Field("MESSAGE_ID") == audit.MessageIDs[ev] && !at(e).After(end.Add(time.Second)) {
				n++
			}
		}
		return n
	}
	if got := count(audit.IssueDetected); got < daemon.crashes {
		t.Errorf("%d issue-detected records for lh-crash-daemon; want one for each of its %d crashes", got, daemon.crashes)
	}
	if got := count(audit.ActionSucceeded); got < daemon.restarts {
		t.Errorf("%d restarts in the daemon's history; want %d", got, daemon.restarts)
	}
	if got := count(audit.BreakerOpened); got != 0 {
		t.Errorf("lh-crash-daemon was given up (%d breaker-opened records); a service whose restarts hold is never given up", got)
	}
	detected := m.journal("luminous-healing.service", t0, func(e testbed.JournalEntry) bool {
		return e.Field("HEALING_ISSUE") == "unit:lh-crash-daemon.service" && e.Field("MESSAGE_ID") == audit.MessageIDs[audit.IssueDetected]
	})
	if len(detected) == 0 || !strings.Contains(detected[0].Field("MESSAGE"), "exited with status 1") {
		t.Errorf("issue-detected records %v; want the exit status as the cause", detected)
	}
	held := 0
	for _, d := range detected {
		if strings.Contains(d.Field("MESSAGE"), "which held (stable_after 5s): a new incident, healed at once") {
			held++
		}
	}
	if held < daemon.crashes-1 {
		t.Errorf("%d of %d issue-detected records say the restart before held; want every crash after the first", held, len(detected))
	}

	// The unit that fails right after every start: a bounded number of
	// attempts, given up, one HealingFailed, a bounded journal.
	loop := m.journal("luminous-healing.service", t0, func(e testbed.JournalEntry) bool {
		return e.Field("HEALING_ISSUE") == "unit:lh-crashloop.service" || e.Field("HEALING_TARGET") == "lh-crashloop.service"
	})
	var restarts, opened int
	for _, e := range loop {
		switch {
		case e.Field("MESSAGE_ID") == audit.MessageIDs[audit.ActionSucceeded] || e.Field("MESSAGE_ID") == audit.MessageIDs[audit.ActionFailed]:
			restarts++
		case e.Field("MESSAGE_ID") == audit.MessageIDs[audit.BreakerOpened]:
			opened++
		}
	}
	failedSignals := strings.Count(monOut, "member=HealingFailed")
	loopSignals := strings.Count(monOut, "lh-crashloop")
	report(t, "crash loop: %d restarts, given up %d time(s), %d HealingFailed signal(s), %d journal records in %s",
		restarts, opened, failedSignals, len(loop), end.Sub(t0).Round(time.Second))
	if restarts == 0 || restarts > 3 {
		t.Errorf("the crash loop was restarted %d times; want 1 to max_attempts (3)", restarts)
	}
	if opened != 1 {
		t.Errorf("the crash loop was given up %d times; want once", opened)
	}
	if failedSignals != 1 || loopSignals == 0 {
		t.Errorf("%d HealingFailed signals (%d naming lh-crashloop); want exactly one, for lh-crashloop:\n%s", failedSignals, loopSignals, monOut)
	}
	if len(loop) > 6*3+4 {
		t.Errorf("%d journal records about the crash loop; want a bounded few per attempt", len(loop))
	}
	if st := m.state("lh-crashloop.service"); st != "failed" {
		t.Errorf("lh-crashloop is %s; want failed and left so", st)
	}
	out, _ := m.run("healingctl", "issues", "--json")
	if !strings.Contains(out, "exited with status 1") || !strings.Contains(out, "bind() to :443 failed: address in use") {
		t.Errorf("healingctl issues --json does not carry the crash loop's cause, exit status and last journal lines:\n%s", out)
	}
	out, _ = m.run("healingctl", "issues")
	if !strings.Contains(out, "because: exit-code: exited with status 1") {
		t.Errorf("healingctl issues does not say why lh-crashloop failed:\n%s", out)
	}
}

// A CPU hog among services beside busy user shells: only the hog is
// throttled; while only the user shells are busy nothing is, and the issue
// says where the load is.
func TestAThrottleHitsTheHogNeverABystander(t *testing.T) {
	config := `
[monitoring]
interval = "1s"
[thresholds]
cpu = 40.0
[predictive]
enabled = false
`
	busy := `while :; do :; done`
	m := bootInstalled(t, boot{
		config: config,
		units: map[string]testbed.File{
			"lh-hog.service":      unitFile(`/bin/sh -c '`+busy+`'`, "MemoryMax=32M", "RuntimeMaxSec=120"),
			"lh-idle.service":     unitFile("/bin/sleep infinity", "MemoryMax=32M"),
			"lh-crashy.service":   unitFile("/bin/sh -c 'sleep 1; exit 1'", "Restart=always", "RestartSec=2", "MemoryMax=32M"),
			"lh-earlyoom.service": unitFile("/bin/sleep infinity", "MemoryMax=32M"),
		},
		start: []string{"lh-idle.service", "lh-crashy.service", "lh-earlyoom.service"},
	})
	bystanders := []string{"lh-idle.service", "lh-crashy.service", "lh-earlyoom.service"}
	t0 := time.Now()
	// Two ordinary users' shells keep the CPUs busy, each in a scope in
	// user-1000.slice, bounded in time and memory.
	for i := range 2 {
		m.MustRun(t, "sh", "-c", fmt.Sprintf(`setsid systemd-run --quiet --scope --slice=user-1000.slice --unit=lh-shell-%d -p MemoryMax=32M timeout 120 sh -c '%s' </dev/null >/dev/null 2>&1 &`, i, busy))
	}
	var cause string
	m.waitFor(45*time.Second, "the CPU issue to say its load is in user-1000.slice", func() bool {
		out, _ := m.run("healingctl", "issues")
		if i := strings.Index(out, "because: "); i >= 0 && strings.Contains(out, "user-1000.slice, not a service") {
			cause, _, _ = strings.Cut(out[i+len("because: "):], "\n")
			return true
		}
		return false
	})
	noThrottle := func(when string) {
		for _, u := range append(slices.Clone(bystanders), "lh-hog.service") {
			if when == "with the hog" && u == "lh-hog.service" {
				continue
			}
			if w := m.prop(u, "CPUWeight"); w != "[not set]" {
				t.Errorf("%s: %s has CPUWeight=%s; want it untouched", when, u, w)
			}
		}
	}
	time.Sleep(3 * time.Second) // several more looks at the load
	noThrottle("only user shells busy")
	if acts := m.journal("luminous-healing.service", t0, func(e testbed.JournalEntry) bool {
		return e.Field("HEALING_ACTION") == "throttle" && e.Field("HEALING_OUTCOME") == "succeeded"
	}); len(acts) != 0 {
		t.Fatalf("throttled %s while only user shells were busy", acts[0].Field("HEALING_TARGET"))
	}
	report(t, "only user shells busy: nothing throttled; the issue says: %s", strings.TrimSpace(cause))

	// A service starts hogging: the issue, still open, throttles it.
	t1 := time.Now()
	m.MustRun(t, "systemctl", "start", "lh-hog.service")
	m.waitFor(45*time.Second, "CPUWeight=20 on lh-hog", func() bool { return m.prop("lh-hog.service", "CPUWeight") == "20" })
	took := time.Since(t1)
	noThrottle("with the hog")
	acts := m.journal("luminous-healing.service", t0, func(e testbed.JournalEntry) bool {
		return e.Field("HEALING_ACTION") == "throttle" && e.Field("HEALING_OUTCOME") == "succeeded"
	})
	for _, a := range acts {
		if a.Field("HEALING_TARGET") != "lh-hog.service" {
			t.Errorf("throttled %s; want only lh-hog.service", a.Field("HEALING_TARGET"))
		}
	}
	msg := ""
	if len(acts) > 0 {
		msg = acts[0].Field("MESSAGE")
	}
	report(t, "hog beside 2 busy user shells: lh-hog throttled %s after it started (%s), no bystander touched", took.Round(10*time.Millisecond), msg)
}
