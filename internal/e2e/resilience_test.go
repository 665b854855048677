package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/testbed"
)

// The scenarios of issue 12: the daemon keeps healing in the conditions it
// exists for. Each compresses time through short intervals and adds a row
// to the summary table (summary_test.go).

const stateDir = "/var/lib/luminous-healing"

// The machine's resources are the shared host's: their thresholds are out
// of reach here, so that another job's load cannot add issues and lines to
// what a scenario counts.
const resilienceConfig = `
[thresholds]
cpu = 100.0
memory = 100.0
load_average = 10000.0
pressure = 0.0
[monitoring]
interval = "1s"
[healing]
backoff = "300ms"
backoff_max = "1s"
max_attempts = 5
attempt_window = "10m"
[predictive]
enabled = false
[services]
monitored = ["lh-web"]
`

// history reads and decodes the persisted history; an error means it is
// not whole.
func (m *machine) history() ([]audit.Entry, error) {
	data, err := m.ReadFile(stateDir + "/history.json")
	if err != nil {
		return nil, err
	}
	var hist []audit.Entry
	if err := json.Unmarshal(data, &hist); err != nil {
		return nil, fmt.Errorf("history.json does not decode: %w", err)
	}
	return hist, nil
}

// killAndHeal kills unit and returns how long the daemon took to have it
// active again (a new main PID, active).
func (m *machine) killAndHeal(unit string) time.Duration {
	m.t.Helper()
	pid := m.prop(unit, "MainPID")
	t0 := time.Now()
	m.MustRun(m.t, "systemctl", "kill", "--signal=KILL", unit)
	m.waitFor(20*time.Second, unit+" healed", func() bool {
		return m.isActive(unit) && m.prop(unit, "MainPID") != pid
	})
	return time.Since(t0)
}

func countEvents(hist []audit.Entry, ev audit.Event, target string, since time.Time) int {
	n := 0
	for _, e := range hist {
		if e.Event == ev && (target == "" || e.Target == target) && !e.Time.Before(since) {
			n++
		}
	}
	return n
}

// 1. The state directory's file system is full: detection, D-Bus and
// healing go on; one warning, not one per check; once space is back the
// state is saved and nothing already saved is lost.
func TestAFullStateDiskIsSaidOnceAndHealingGoesOn(t *testing.T) {
	sc := newScenario(t, "1 state disk full (ENOSPC)")
	m := bootInstalled(t, boot{config: resilienceConfig,
		units: map[string]testbed.File{"lh-web.service": unitFile("/bin/sleep infinity")},
		start: []string{"lh-web.service"}, noStartDaemon: true})
	// A real, small file system over the state directory.
	m.MustRun(t, "mkdir", "-p", "-m", "0700", stateDir)
	m.MustRun(t, "mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", stateDir)
	m.MustRun(t, "systemctl", "start", "luminous-healing.service")
	m.waitFor(10*time.Second, "the first history write", func() bool {
		h, err := m.history()
		return err == nil && len(h) > 0
	})
	before, _ := m.history()

	m.Run(t.Context(), "dd", "if=/dev/zero", "of="+stateDir+"/filler", "bs=64k")
	if out, _ := m.run("df", "--output=avail", stateDir); strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(out), "Avail")) != "0" {
		t.Fatalf("the state file system is not full:\n%s", out)
	}
	t1 := time.Now()
	var heals []time.Duration
	for range 3 {
		heals = append(heals, m.killAndHeal("lh-web.service"))
		if r := m.healingctl("", "status"); r.code != 0 {
			t.Errorf("healingctl status on a full state disk: exit %d %q", r.code, r.stderr)
		}
	}
	if r := m.healingctl("", "set", "dry-run", "on"); r.code != 0 {
		t.Errorf("set dry-run on a full state disk: exit %d %q", r.code, r.stderr)
	}
	m.healingctl("", "set", "dry-run", "off")
	time.Sleep(2 * time.Second) // a few checks more
	warned := m.journal("luminous-healing.service", t1, messageHas("state could not be saved"))
	if len(warned) != 1 {
		t.Errorf("%d warnings about the full disk; want 1", len(warned))
	}
	// What was saved before is still whole.
	if h, err := m.history(); err != nil || len(h) < len(before) {
		t.Errorf("history on the full disk: %d records, %v; want the %d saved before, whole", len(h), err, len(before))
	}

	m.MustRun(t, "rm", stateDir+"/filler")
	m.waitFor(15*time.Second, "the state saved once space is back", func() bool {
		return len(m.journal("luminous-healing.service", t1, messageHas("state saved again"))) > 0
	})
	time.Sleep(time.Second) // every file's turn
	hist, err := m.history()
	if err != nil {
		t.Fatal(err)
	}
	healed := countEvents(hist, audit.ActionSucceeded, "lh-web.service", t1)
	lost := len(heals) - healed
	if lost != 0 {
		t.Errorf("history holds %d of the %d heals done while the disk was full", healed, len(heals))
	}
	if n := countEvents(hist, audit.DaemonStarted, "", time.Time{}); n != 1 {
		t.Errorf("history holds %d daemon starts; want the one from before the disk filled", n)
	}
	state, _ := m.ReadFile(stateDir + "/state.json")
	if !strings.Contains(string(state), `"DryRun":false`) {
		t.Errorf("state.json once space is back = %s; want the last dry-run setting", state)
	}
	sc.set("healed %d× on a full state disk (slowest %s); %d warning(s) logged; records lost %d",
		len(heals), slowest(heals), len(warned), lost)
}

func slowest(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m.Round(time.Millisecond)
}

// lastCheck reads the daemon's LastCheck property over D-Bus.
func (m *machine) lastCheck() (time.Time, time.Duration, error) {
	t0 := time.Now()
	out, err := m.run("busctl", "get-property", "org.luminous.Healing", "/org/luminous/Healing", "org.luminous.Healing1", "LastCheck")
	took := time.Since(t0)
	if err != nil {
		return time.Time{}, took, err
	}
	f := strings.Fields(out)
	if len(f) != 2 {
		return time.Time{}, took, fmt.Errorf("LastCheck: %q", out)
	}
	us, err := strconv.ParseInt(f[1], 10, 64)
	return time.UnixMicro(us), took, err
}

// 2. State writes stall (a slow device): checks keep their interval, D-Bus
// answers, the watchdog is fed. A real stall (ext4 on a loop device frozen
// with fsfreeze) cannot be made here: mounting a loop device inside the
// testbed is refused (EPERM). The stall is injected instead, through the
// daemon's test hook LUMINOUS_HEALING_TEST_STALL_WRITES: while the file it
// names exists, every state write of the real daemon waits.
func TestStalledStateWritesHoldUpNeitherChecksNorDBusNorTheWatchdog(t *testing.T) {
	sc := newScenario(t, "2 state writes stalled 12 s (injected)")
	const stall = 12 * time.Second
	const flag = "/run/lh-stall"
	m := bootInstalled(t, boot{config: resilienceConfig,
		units: map[string]testbed.File{
			"lh-web.service": unitFile("/bin/sleep infinity"),
			// Three watchdog periods fit in the stall: a daemon that
			// waited on the disk would be killed.
			"luminous-healing.service.d/stall.conf": {Data: []byte("[Service]\nWatchdogSec=4s\nEnvironment=LUMINOUS_HEALING_TEST_STALL_WRITES=" + flag + "\n"), Mode: 0o644},
		},
		start: []string{"lh-web.service"}})
	pid := m.prop("luminous-healing.service", "MainPID")
	m.waitFor(10*time.Second, "the first history write", func() bool {
		h, err := m.history()
		return err == nil && len(h) > 0
	})

	m.MustRun(t, "touch", flag)
	t.Cleanup(func() { m.Run(t.Context(), "rm", "-f", flag) })
	t1 := time.Now()
	heal := m.killAndHeal("lh-web.service") // a record to write: the write blocks
	var gaps []time.Duration
	var slowRead time.Duration
	prev, _, err := m.lastCheck()
	if err != nil {
		t.Fatal(err)
	}
	for time.Since(t1) < stall {
		time.Sleep(250 * time.Millisecond)
		last, took, err := m.lastCheck()
		if err != nil {
			t.Fatalf("LastCheck over D-Bus during the stall: %v", err)
		}
		slowRead = max(slowRead, took)
		switch {
		case prev.Unix() <= 0: // no check yet reported
			prev = last
		case last.After(prev):
			gaps = append(gaps, last.Sub(prev))
			prev = last
		}
	}
	// Checks missed: a gap of more than 1.5 intervals counts the ones
	// that did not happen.
	missed := 0
	for _, g := range gaps {
		if g > 1500*time.Millisecond {
			missed += int(g/time.Second) - 1
		}
	}
	if h, _ := m.history(); countEvents(h, audit.ActionSucceeded, "lh-web.service", t1) != 0 {
		t.Errorf("the heal is on disk during the stall; the stall did not hold the write")
	}
	m.MustRun(t, "rm", flag)
	thawed := time.Now()
	m.waitFor(10*time.Second, "the heal written once the stall ended", func() bool {
		h, err := m.history()
		return err == nil && countEvents(h, audit.ActionSucceeded, "lh-web.service", t1) == 1
	})
	logged := m.journal("luminous-healing.service", t1, func(e testbed.JournalEntry) bool {
		p, _ := strconv.Atoi(e.Field("PRIORITY"))
		return e.Field("MESSAGE_ID") == "" && p <= 4 // the daemon's own warnings, not audit records
	})

	if missed > 0 {
		t.Errorf("%d checks missed during the stall (gaps %v); want none", missed, gaps)
	}
	if now := m.prop("luminous-healing.service", "MainPID"); now != pid {
		t.Errorf("the daemon's PID went %s → %s: the watchdog killed it during the stall\n%s", pid, now, m.daemonLog())
	}
	if n := m.prop("luminous-healing.service", "NRestarts"); n != "0" {
		t.Errorf("NRestarts = %s; want 0", n)
	}
	if slowRead > time.Second {
		t.Errorf("slowest D-Bus read during the stall took %s; want it served at once", slowRead)
	}
	sc.set("%d checks during a %s stall, %d missed; slowest D-Bus read %s; healed in %s; watchdog (4 s) fed, same PID; saved %s after; %d warnings logged",
		len(gaps), stall, missed, slowRead.Round(time.Millisecond), heal.Round(time.Millisecond),
		time.Since(thawed).Round(10*time.Millisecond), len(logged))
}

// 9a. SIGTERM during a restart action: the stop waits for the job, bounded,
// and the history says how it ended — or that its outcome is unknown when
// it outlived the bound.
func TestSIGTERMDuringARestartRecordsItsOutcome(t *testing.T) {
	sc := newScenario(t, "9a SIGTERM during a restart")
	cfg := strings.Replace(resilienceConfig, `monitored = ["lh-web"]`, `monitored = ["lh-slow", "lh-slower"]`, 1)
	m := bootInstalled(t, boot{config: cfg,
		units: map[string]testbed.File{
			// Their restart jobs take 2 s and 9 s: one ends within the
			// stop's 5 s, one does not.
			"lh-slow.service":   unitFile("/bin/sleep infinity", "ExecStartPre=/bin/sleep 2"),
			"lh-slower.service": unitFile("/bin/sleep infinity", "ExecStartPre=/bin/sleep 9"),
		},
		start: []string{"lh-slow.service", "lh-slower.service"}})
	var stops []time.Duration
	for _, tc := range []struct{ unit, outcome string }{{"lh-slow.service", "succeeded"}, {"lh-slower.service", "unknown"}} {
		t0 := time.Now()
		m.MustRun(t, "systemctl", "kill", "--signal=KILL", tc.unit)
		m.waitFor(10*time.Second, tc.unit+"'s restart job running", func() bool { return m.state(tc.unit) == "activating" })
		time.Sleep(500 * time.Millisecond)
		ts := time.Now()
		m.MustRun(t, "systemctl", "stop", "luminous-healing.service")
		stops = append(stops, time.Since(ts))
		hist, err := m.history()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range hist {
			if e.Target == tc.unit && !e.Time.Before(t0) && (e.Event == audit.ActionSucceeded || e.Event == audit.ActionFailed) {
				got = append(got, e.Outcome)
			}
		}
		if len(got) != 1 || got[0] != tc.outcome {
			t.Errorf("%s: restart records after SIGTERM = %q; want one, %s", tc.unit, got, tc.outcome)
		}
		m.MustRun(t, "systemctl", "start", "luminous-healing.service")
		m.waitFor(20*time.Second, tc.unit+" active again", func() bool { return m.isActive(tc.unit) })
	}
	if stops[1] > 8*time.Second {
		t.Errorf("the stop with a hung restart took %s; want it bounded well inside TimeoutStopSec=10s", stops[1])
	}
	sc.set("restart in flight at SIGTERM: recorded succeeded (stop took %s); outlived the 5 s bound: recorded unknown (stop took %s); records lost 0",
		stops[0].Round(10*time.Millisecond), stops[1].Round(10*time.Millisecond))
}

// 9b. SIGKILL while the daemon writes its state: after each kill the files
// are whole and hold every record that was on disk before it.
func TestSIGKILLDuringStateWritesLosesNothingSaved(t *testing.T) {
	sc := newScenario(t, "9b SIGKILL during state writes")
	cfg := strings.Replace(resilienceConfig, `monitored = ["lh-web"]`, `monitored = ["lh-web", "lh-flaky"]`, 1)
	cfg = strings.Replace(cfg, "max_attempts = 5", "max_attempts = 100", 1)
	m := bootInstalled(t, boot{config: cfg,
		units: map[string]testbed.File{
			"lh-web.service": unitFile("/bin/sleep infinity"),
			// Fails a moment after every start: a record every few
			// hundred milliseconds, so writes are always under way.
			"lh-flaky.service":                        unitFile("/bin/sh -c 'sleep 0.2; exit 3'", "StartLimitIntervalSec=0"),
			"luminous-healing.service.d/restart.conf": {Data: []byte("[Unit]\nStartLimitIntervalSec=0\n[Service]\nRestartSec=200ms\n"), Mode: 0o644},
		},
		start: []string{"lh-web.service", "lh-flaky.service"}})
	const kills = 4
	lost, torn := 0, 0
	for i := range kills {
		time.Sleep(time.Duration(700+137*i) * time.Millisecond) // writes under way, at varying phases
		before, err := m.history()
		if err != nil {
			t.Fatalf("history before kill %d: %v", i+1, err)
		}
		pid := m.prop("luminous-healing.service", "MainPID")
		m.MustRun(t, "systemctl", "kill", "--signal=KILL", "luminous-healing.service")
		m.waitFor(20*time.Second, "systemd to restart the daemon", func() bool {
			return m.isActive("luminous-healing.service") && m.prop("luminous-healing.service", "MainPID") != pid
		})
		after, err := m.history()
		if err != nil {
			torn++
			t.Errorf("after kill %d: %v", i+1, err)
			continue
		}
		have := map[string]bool{}
		for _, e := range after {
			have[e.Time.String()+string(e.Event)+e.Target] = true
		}
		for _, e := range before {
			if !have[e.Time.String()+string(e.Event)+e.Target] {
				lost++
			}
		}
		if _, err := m.ReadFile(stateDir + "/state.json"); err == nil {
			data, _ := m.ReadFile(stateDir + "/state.json")
			var v map[string]any
			if json.Unmarshal(data, &v) != nil {
				torn++
				t.Errorf("state.json after kill %d does not decode: %s", i+1, data)
			}
		}
	}
	m.MustRun(t, "systemctl", "stop", "lh-flaky.service")
	if lost != 0 {
		t.Errorf("%d records that were on disk before a kill were gone after it; want 0", lost)
	}
	hist, _ := m.history()
	sc.set("%d SIGKILLs under constant writes: %d torn files, records lost %d; %d records kept", kills, torn, lost, len(hist))
}

// 10. Dry-run and healing toggled while a disk fills and while a unit is
// failed: what was only planned acts once dry-run goes off or healing
// comes back on, before the disk crosses its threshold.
func TestPlansActOnceDryRunGoesOffOrHealingComesBack(t *testing.T) {
	sc := newScenario(t, "10 dry-run/healing toggled, filling disk + failed unit")
	const (
		mount     = "/srv/lhfill"
		fsBytes   = 64 << 20
		threshold = 90.0
	)
	// 20 MiB at once, then 256 KiB per "sleep 0.5" (about 0.78 points a
	// second), so 31 % → 90 % in about 75 s, and a forecast within the
	// 1 min horizon comes with a quarter of a minute to spare. The
	// chunks come every ~0.51 s, beating against the daemon's 1 s
	// samples: a slow saw-tooth one chunk high around the trend, which
	// the model must still forecast (docs/prediction.md, "Chunked
	// writers"; before it did, the disk crossed 90 % with no forecast).
	fill := `#!/bin/bash
set -eu
mkdir -p ` + mount + `/junk
head -c 20M /dev/zero > ` + mount + `/junk/base
while :; do head -c 256K /dev/zero >> ` + mount + `/junk/fill; sleep 0.5; done
`
	m := bootInstalled(t, boot{
		config: `
[thresholds]
disk = 90.0
[monitoring]
interval = "1s"
mounts = ["` + mount + `"]
[healing]
dry_run = true
cleanup_units = ["lh-empty.service"]
[predictive]
enabled = true
history_size = 100
horizon = "1m"
min_confidence = 0.8
[services]
monitored = ["lh-web"]
`,
		units: map[string]testbed.File{
			"srv-lhfill.mount": {Data: []byte(fmt.Sprintf("[Mount]\nWhat=tmpfs\nWhere=%s\nType=tmpfs\nOptions=size=%d,mode=0755\n", mount, fsBytes)), Mode: 0o644},
			"lh-fill.service":  unitFile("/usr/local/bin/lh-fill"),
			"lh-empty.service": {Data: []byte("[Unit]\nDescription=empty the test file system\n\n[Service]\nType=oneshot\nExecStart=/bin/sh -c 'rm -f " + mount + "/junk/*'\n"), Mode: 0o644},
			"lh-web.service":   unitFile("/bin/sleep infinity"),
		},
		files:         map[string]testbed.File{"/usr/local/bin/lh-fill": {Data: []byte(fill), Mode: 0o755}},
		start:         []string{"srv-lhfill.mount", "lh-web.service"},
		noStartDaemon: true,
	})
	m.MustRun(t, "systemctl", "start", "lh-fill.service")
	// The daemon's samples start on the ramp, after the first 20 MiB: a
	// step inside its window would make a poor line, and no forecast.
	m.waitFor(10*time.Second, "the fill's first 20 MiB", func() bool { return m.used(mount) >= 31 })
	m.MustRun(t, "systemctl", "start", "luminous-healing.service")
	t0 := time.Now()

	// The disk: a cleanup planned in dry-run, then dry-run off.
	planned := func(e testbed.JournalEntry) bool {
		return e.Field("MESSAGE_ID") == audit.MessageIDs[audit.ActionPlanned] && e.Field("HEALING_ACTION") == "cleanup"
	}
	// The forecast first: a planned cleanup without it would be the
	// detector's, once the disk had crossed.
	var forecast []testbed.JournalEntry
	m.waitFor(90*time.Second, "the disk's forecast (PredictionAlert)", func() bool {
		forecast = m.journal("luminous-healing.service", t0, func(e testbed.JournalEntry) bool {
			return e.Field("MESSAGE_ID") == audit.MessageIDs[audit.PredictionAlert] && e.Field("HEALING_ISSUE") == "disk:"+mount
		})
		return len(forecast) > 0 || m.used(mount) >= threshold
	})
	if len(forecast) == 0 {
		t.Errorf("the disk reached %g %% with no forecast; want one within the 1m horizon", threshold)
	}
	m.waitFor(90*time.Second, "a cleanup planned in dry-run", func() bool {
		return len(m.journal("luminous-healing.service", t0, planned)) > 0
	})
	left := time.Duration((threshold - m.used(mount)) / 0.78 * float64(time.Second))
	if r := m.healingctl("", "set", "dry-run", "off"); r.code != 0 {
		t.Fatalf("set dry-run off: exit %d %q", r.code, r.stderr)
	}
	off := time.Now()
	peak := 0.0
	var cleaned []testbed.JournalEntry
	m.waitFor(30*time.Second, "the planned cleanup run once dry-run went off", func() bool {
		peak = max(peak, m.used(mount))
		cleaned = m.journal("luminous-healing.service", off, func(e testbed.JournalEntry) bool {
			return e.Field("MESSAGE_ID") == audit.MessageIDs[audit.ActionSucceeded] && e.Field("HEALING_ACTION") == "cleanup"
		})
		return len(cleaned) > 0
	})
	m.MustRun(t, "systemctl", "stop", "lh-fill.service")
	if opened := m.journal("luminous-healing.service", t0, func(e testbed.JournalEntry) bool {
		return e.Field("MESSAGE_ID") == audit.MessageIDs[audit.IssueDetected] && e.Field("HEALING_ISSUE") == "disk:"+mount
	}); len(opened) > 0 {
		t.Errorf("the disk issue opened (%s); want the forecast acted on before the disk crossed", opened[0].Field("MESSAGE"))
	}
	if peak >= threshold {
		t.Errorf("the disk reached %.1f %%; want it cleaned before %g %%", peak, threshold)
	}
	cleanAfter := at(cleaned[0]).Sub(off)

	// The unit: failed while dry-run is on (planned), healing off, dry-run
	// off, healing on again.
	m.healingctl("", "set", "dry-run", "on")
	t1 := time.Now()
	m.MustRun(t, "systemctl", "kill", "--signal=KILL", "lh-web.service")
	m.waitFor(10*time.Second, "a restart planned in dry-run", func() bool {
		return len(m.journal("luminous-healing.service", t1, func(e testbed.JournalEntry) bool {
			return e.Field("MESSAGE_ID") == audit.MessageIDs[audit.ActionPlanned] && e.Field("HEALING_TARGET") == "lh-web.service"
		})) > 0
	})
	m.healingctl("", "set", "healing", "off")
	m.healingctl("", "set", "dry-run", "off")
	time.Sleep(2 * time.Second)
	if m.isActive("lh-web.service") {
		t.Errorf("lh-web was restarted while healing was off")
	}
	on := time.Now()
	m.healingctl("", "set", "healing", "on")
	m.waitFor(10*time.Second, "lh-web restarted once healing came back on", func() bool { return m.isActive("lh-web.service") })
	unitAfter := time.Since(on)
	sc.set("disk: planned in dry-run with %s to go, cleaned %s after dry-run off, peak %.1f %%; unit: restarted %s after healing on",
		left.Round(time.Second), cleanAfter.Round(10*time.Millisecond), peak, unitAfter.Round(10*time.Millisecond))
}

// used is a mount's use in percent, as df says.
func (m *machine) used(mount string) float64 {
	out, _ := m.run("df", "--output=pcent", mount)
	f := strings.Fields(out)
	if len(f) < 2 {
		return 0
	}
	v, _ := strconv.ParseFloat(strings.TrimSuffix(f[1], "%"), 64)
	return v
}

// timedCtl runs healingctl as user and returns its exit code and how long
// it took; safe from any goroutine.
func (m *machine) timedCtl(user string, args ...string) (int, time.Duration) {
	t0 := time.Now()
	_, _, err := m.RunAs(m.t.Context(), orRoot(user), append([]string{"healingctl"}, args...)...)
	took := time.Since(t0)
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), took
	case err != nil:
		return -1, took
	}
	return 0, took
}

// 5. polkitd answers slower than the authorization timeout (it is stopped
// with SIGSTOP: the real polkitd, not a fake): the privileged call is
// denied once the timeout passes, and other callers' calls and reads are
// not held up behind it.
func TestASlowPolkitdDeniesThatCallAndHoldsUpNoOther(t *testing.T) {
	sc := newScenario(t, "5 polkitd slower than the authorization timeout")
	m := bootInstalled(t, boot{config: resilienceConfig,
		units: map[string]testbed.File{"lh-web.service": unitFile("/bin/sleep infinity")},
		start: []string{"lh-web.service"}})
	for _, u := range []string{"alice", "bob"} {
		if err := m.AddUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
	}
	if code, _ := m.timedCtl("", "--no-ask-password", "restart", "lh-web"); code != 0 {
		t.Fatalf("with polkitd answering, root's restart: exit %d; want 0", code)
	}
	polkitd := m.prop("polkit.service", "MainPID")
	m.MustRun(t, "kill", "-STOP", polkitd)
	t.Cleanup(func() { m.Run(context.Background(), "kill", "-CONT", polkitd) })
	pid := m.prop("lh-web.service", "MainPID")
	t0 := time.Now()

	type call struct {
		who  string
		code int
		took time.Duration
	}
	calls := make(chan call, 3)
	for _, u := range []string{"", "alice", "bob"} {
		go func() {
			code, took := m.timedCtl(u, "--no-ask-password", "restart", "lh-web")
			calls <- call{orRoot(u), code, took}
		}()
	}
	// Reads while three authorizations hang.
	var slowRead time.Duration
	reads := 0
	for time.Since(t0) < 4*time.Second {
		for _, u := range []string{"alice", "bob"} {
			code, took := m.timedCtl(u, "status")
			if code != 0 {
				t.Errorf("status as %s while polkitd hangs: exit %d", u, code)
			}
			slowRead = max(slowRead, took)
			reads++
		}
	}
	var slowest time.Duration
	for range 3 {
		c := <-calls
		if c.code != 4 {
			t.Errorf("restart as %s while polkitd hangs: exit %d after %s; want 4, denied", c.who, c.code, c.took)
		}
		slowest = max(slowest, c.took)
	}
	m.MustRun(t, "kill", "-CONT", polkitd)
	if m.prop("lh-web.service", "MainPID") != pid {
		t.Errorf("lh-web was restarted although no authorization came")
	}
	// Three callers at once: each waits its own timeout, not the others'.
	if slowest > 12*time.Second {
		t.Errorf("the slowest of three concurrent denied calls took %s; want each bounded by its own timeout", slowest)
	}
	if slowRead > 2*time.Second {
		t.Errorf("slowest read while polkitd hung took %s; want reads served at once", slowRead)
	}
	denied := m.journal("luminous-healing.service", t0, field("MESSAGE_ID", audit.MessageIDs[audit.CallDenied]))
	if len(denied) != 3 {
		t.Errorf("%d denied calls audited; want 3", len(denied))
	}
	if code, _ := m.timedCtl("", "--no-ask-password", "restart", "lh-web"); code != 0 {
		t.Errorf("root's restart once polkitd answers again: exit %d; want 0", code)
	}
	sc.set("3 concurrent calls denied (exit 4), slowest after %s; %d reads meanwhile, slowest %s; allowed again once polkitd answers",
		slowest.Round(10*time.Millisecond), reads, slowRead.Round(time.Millisecond))
}

// 8. A unit failing a hundred times a second (Restart=always,
// RestartSec=10ms) for a while: systemd restarts it, the daemon stays out
// of its way (no action of its own), and neither the daemon nor its
// journal output floods.
func TestAUnitFailingAHundredTimesASecondFloodsNothing(t *testing.T) {
	sc := newScenario(t, "8 unit failing ~100×/s for 12 s")
	const spell = 12 * time.Second
	cfg := strings.Replace(resilienceConfig, `monitored = ["lh-web"]`, `monitored = ["lh-web", "lh-flap"]`, 1)
	m := bootInstalled(t, boot{config: cfg,
		units: map[string]testbed.File{
			"lh-web.service":  unitFile("/bin/sleep infinity"),
			"lh-flap.service": {Data: []byte("[Unit]\nStartLimitIntervalSec=0\n[Service]\nExecStart=/bin/false\nRestart=always\nRestartSec=10ms\n"), Mode: 0o644},
		},
		start: []string{"lh-web.service"}})
	pid := m.prop("luminous-healing.service", "MainPID")
	cpu0 := m.cpuTicks(pid)
	t0 := time.Now()
	m.MustRun(t, "systemctl", "start", "--no-block", "lh-flap.service")
	time.Sleep(spell)
	heal := m.killAndHeal("lh-web.service") // the daemon still heals meanwhile
	restarts, _ := strconv.Atoi(m.prop("lh-flap.service", "NRestarts"))
	m.MustRun(t, "systemctl", "stop", "lh-flap.service")
	took := time.Since(t0)
	cpu1 := m.cpuTicks(pid)

	lines := m.journal("luminous-healing.service", t0, func(testbed.JournalEntry) bool { return true })
	acted := 0
	var offending []string
	for _, e := range lines {
		if e.Field("HEALING_TARGET") == "lh-flap.service" && e.Field("HEALING_ACTION") != "" {
			acted++
			offending = append(offending, fmt.Sprintf("%s %s action=%s outcome=%s issue=%s: %s", e.Field("MESSAGE_ID"), e.Field("HEALING_EVENT"),
				e.Field("HEALING_ACTION"), e.Field("HEALING_OUTCOME"), e.Field("HEALING_ISSUE"), e.Field("MESSAGE")))
		}
	}
	// systemd on this 2-core machine manages 8–12 restarts a second of
	// a sandboxed /bin/false at RestartSec=10ms (135 in 12 s quiet, 99
	// while other tests load it), not the hundred asked for: at five a
	// second it still flaps far faster than any restart of the daemon's.
	if restarts < 60 {
		t.Fatalf("systemd restarted lh-flap %d times in %s; the scenario needs it flapping", restarts, spell)
	}
	if acted != 0 {
		t.Errorf("the daemon acted on lh-flap %d times; want none: systemd is restarting it: %s", acted, strings.Join(offending, "; "))
	}
	// A few lines a second at most, whatever the unit does.
	if max := int(took.Seconds()) * 3; len(lines) > max {
		kinds := map[string]int{}
		for _, e := range lines {
			kinds[e.Field("HEALING_EVENT")+" "+firstWords(e.Field("MESSAGE"))]++
		}
		t.Errorf("the daemon logged %d journal lines in %s while a unit failed %d times; want at most %d: %v", len(lines), took.Round(time.Second), restarts, max, kinds)
	}
	cpu := float64(cpu1-cpu0) / 100 / took.Seconds() * 100 // USER_HZ is 100
	sc.set("systemd restarted it %d× in %s; the daemon acted 0×, logged %d lines, used %.1f %% of a core; healed another unit in %s",
		restarts, took.Round(time.Second), len(lines), cpu, heal.Round(time.Millisecond))
}

func firstWords(s string) string {
	f := strings.Fields(s)
	return strings.Join(f[:min(len(f), 4)], " ")
}

// cpuTicks is a process's user and system CPU time in clock ticks. It is
// read inside the machine: its PIDs are its own.
func (m *machine) cpuTicks(pid string) uint64 {
	s, err := m.run("cat", "/proc/"+pid+"/stat")
	if err != nil {
		return 0
	}
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseUint(f[11], 10, 64)
	k, _ := strconv.ParseUint(f[12], 10, 64)
	return u + k
}

// 7. Fifty monitored units go wrong at once: all are healed on the global
// action limit's schedule, critical (failed) before warning (inactive
// though enabled), with a bounded number of journal lines.
func TestFiftyUnitsFailingAtOnceAreHealedOnTheLimitsScheduleCriticalFirst(t *testing.T) {
	sc := newScenario(t, "7 fifty units failing at once")
	const critical, warning, limit = 30, 20, 25
	units := map[string]testbed.File{}
	var names []string
	for i := range critical + warning {
		n := fmt.Sprintf("lh-many%02d.service", i)
		units[n] = unitFile("/bin/sleep infinity")
		names = append(names, n)
	}
	cfg := strings.Replace(resilienceConfig, `monitored = ["lh-web"]`, `monitored = ["`+strings.Join(names, `", "`)+`"]`, 1)
	cfg = strings.Replace(cfg, "[healing]\n", fmt.Sprintf("[healing]\nmax_actions_per_minute = %d\n", limit), 1)
	m := bootInstalled(t, boot{config: cfg, units: units, noStartDaemon: true})
	m.MustRun(t, append([]string{"systemctl", "enable", "--now"}, names...)...)
	m.MustRun(t, "systemctl", "start", "luminous-healing.service")
	m.waitFor(10*time.Second, "luminous-healing to be active", func() bool { return m.isActive("luminous-healing.service") })
	time.Sleep(2 * time.Second)

	t0 := time.Now()
	// SIGTERM is a clean exit for a service: inactive, though enabled (a
	// warning); SIGKILL is a failure (critical).
	m.MustRun(t, append([]string{"systemctl", "kill", "--signal=TERM"}, names[critical:]...)...)
	m.MustRun(t, append([]string{"systemctl", "kill", "--signal=KILL"}, names[:critical]...)...)
	m.waitFor(150*time.Second, "all fifty units active again", func() bool {
		out, _ := m.run(append([]string{"systemctl", "is-active"}, names...)...)
		return strings.Count(out, "active\n")-strings.Count(out, "inactive\n") == len(names)
	})
	took := time.Since(t0)

	healed := m.journal("luminous-healing.service", t0, field("MESSAGE_ID", audit.MessageIDs[audit.ActionSucceeded]))
	var lastCritical, firstWarning time.Time
	for _, e := range healed {
		// When the action started, which is what the limit counts: the
		// record is written when it ended.
		// The record's own time: the journal's stamp is when the
		// audit queue got the entry to it, a few ms later under load.
		us, _ := strconv.ParseInt(e.Field("HEALING_DURATION_USEC"), 10, 64)
		rec, err := strconv.ParseInt(e.Field("HEALING_TIME_USEC"), 10, 64)
		if err != nil {
			t.Fatalf("a heal's journal entry without HEALING_TIME_USEC: %v", e.Field("MESSAGE"))
		}
		started := time.UnixMicro(rec).Add(-time.Duration(us) * time.Microsecond)
		i := slices.Index(names, e.Field("HEALING_TARGET"))
		switch {
		case i < 0:
		case i < critical:
			if started.After(lastCritical) {
				lastCritical = started
			}
		case firstWarning.IsZero() || started.Before(firstWarning):
			firstWarning = started
		}
	}

	if len(healed) != len(names) {
		t.Errorf("%d heals recorded; want %d", len(healed), len(names))
	}
	if !firstWarning.IsZero() && firstWarning.Before(lastCritical) {
		for _, e := range healed {
			t.Log(at(e).Sub(t0), e.Field("HEALING_DURATION_USEC"), e.Field("MESSAGE"))
		}
		t.Errorf("a warning's restart started at %s, before the last critical failure's at %s; want critical first",
			firstWarning.Sub(t0).Round(time.Millisecond), lastCritical.Sub(t0).Round(time.Millisecond))
	}
	// The schedule: no more than the limit in the first minute (an action
	// that ended in it was let through in it).
	inFirst := 0
	for _, e := range healed {
		if at(e).Sub(t0) < time.Minute {
			inFirst++
		}
	}
	if inFirst > limit {
		t.Errorf("%d actions in the first minute; want at most %d", inFirst, limit)
	}
	lines := m.journal("luminous-healing.service", t0, func(testbed.JournalEntry) bool { return true })
	if max := 6 * len(names); len(lines) > max {
		t.Errorf("%d journal lines for %d units; want at most %d", len(lines), len(names), max)
	}
	sc.set("50 healed in %s (limit %d/min: %d at once, the rest a minute later), critical first; %d journal lines",
		took.Round(100*time.Millisecond), limit, limit, len(lines))
}

// 4. systemctl daemon-reexec and daemon-reload in the middle of a restart
// job: the job's outcome is still known, the subscription comes back, and
// no issue is lost or duplicated.
func TestDaemonReexecAndReloadDuringARestartJob(t *testing.T) {
	sc := newScenario(t, "4 daemon-reexec/daemon-reload mid-restart")
	cfg := strings.Replace(resilienceConfig, `monitored = ["lh-web"]`, `monitored = ["lh-web", "lh-slow"]`, 1)
	m := bootInstalled(t, boot{config: cfg,
		units: map[string]testbed.File{
			"lh-web.service":  unitFile("/bin/sleep infinity"),
			"lh-slow.service": unitFile("/bin/sleep infinity", "ExecStartPre=/bin/sleep 2"),
		},
		start: []string{"lh-web.service", "lh-slow.service"}})
	var figures []string
	for _, verb := range []string{"daemon-reexec", "daemon-reload"} {
		t0 := time.Now()
		m.MustRun(t, "systemctl", "kill", "--signal=KILL", "lh-slow.service")
		m.waitFor(10*time.Second, "lh-slow's restart job running", func() bool { return m.state("lh-slow.service") == "activating" })
		m.MustRun(t, "systemctl", verb)
		m.waitFor(20*time.Second, "lh-slow active again", func() bool { return m.isActive("lh-slow.service") })
		// The subscription is back: a failure after it is healed.
		back := m.killAndHeal("lh-web.service")
		time.Sleep(2 * time.Second) // a check or two

		entries := m.journal("luminous-healing.service", t0, func(e testbed.JournalEntry) bool { return e.Field("MESSAGE_ID") != "" })
		count := func(id audit.Event, unit string) int {
			n := 0
			for _, e := range entries {
				if e.Field("MESSAGE_ID") == audit.MessageIDs[id] && e.Field("HEALING_TARGET") == unit {
					n++
				}
			}
			return n
		}
		for _, u := range []string{"lh-slow.service", "lh-web.service"} {
			if d, r := count(audit.IssueDetected, u), count(audit.IssueResolved, u); d != 1 || r != 1 {
				t.Errorf("%s: %s issue opened %d times and resolved %d times; want once each", verb, u, d, r)
			}
		}
		ok, failed := count(audit.ActionSucceeded, "lh-slow.service"), count(audit.ActionFailed, "lh-slow.service")
		if ok+failed != 1 {
			t.Errorf("%s: the restart of lh-slow has %d outcomes recorded (%d succeeded, %d failed); want exactly one", verb, ok+failed, ok, failed)
		}
		if _, err := m.history(); err != nil {
			t.Errorf("%s: %v", verb, err)
		}
		outcome := "succeeded"
		if failed > 0 {
			outcome = "failed"
		}
		figures = append(figures, fmt.Sprintf("%s: restart %s, later failure healed in %s", verb, outcome, back.Round(time.Millisecond)))
	}
	sc.set("%s; no issue lost or duplicated", strings.Join(figures, "; "))
}

// usedMemory is the machine's memory in use, in percent, as the daemon
// counts it (MemTotal less MemAvailable).
func (m *machine) usedMemory() float64 {
	data, err := m.ReadFile("/proc/meminfo")
	if err != nil {
		m.t.Fatal(err)
	}
	kv := map[string]float64{}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) >= 2 {
			v, _ := strconv.ParseFloat(f[1], 64)
			kv[strings.TrimSuffix(f[0], ":")] = v
		}
	}
	return 100 * (1 - kv["MemAvailable"]/kv["MemTotal"])
}

// 3. Real memory pressure from a unit that allocates: the daemon is not
// what the kernel kills (OOMScoreAdjust=-900 and a memory floor in its
// unit), and it throttles the hog and releases it afterwards. The machine
// is never exhausted: each hog is bounded by MemoryMax= on its unit, and
// the daemon's memory threshold is lowered under what is in use instead.
func TestMemoryPressureThrottlesTheHogAndNeverTheDaemon(t *testing.T) {
	sc := newScenario(t, "3 memory pressure from a bounded hog")
	const hog = `/usr/bin/python3 -c "import time; a = b'x' * (%d << 20); time.sleep(1e9)"`
	cfg := strings.Replace(resilienceConfig, "[monitoring]", "[throttle]\nmin_share = 1.0\n[monitoring]", 1)
	m := bootInstalled(t, boot{config: cfg,
		units: map[string]testbed.File{
			"lh-web.service": unitFile("/bin/sleep infinity"),
			"lh-hog.service": unitFile(fmt.Sprintf(hog, 384), "MemoryMax=512M"),
			// Wants more than its unit allows: the kernel's OOM killer
			// must pick it, inside its cgroup, and nothing else.
			"lh-oom.service": unitFile(fmt.Sprintf(hog, 256), "MemoryMax=64M", "MemorySwapMax=0"),
		},
		start: []string{"lh-web.service"}})
	pid := m.prop("luminous-healing.service", "MainPID")
	if got := m.prop("luminous-healing.service", "OOMScoreAdjust"); got != "-900" {
		t.Errorf("OOMScoreAdjust = %s; want -900", got)
	}
	// Read inside the machine: its PIDs are its own. Lowering a score
	// needs CAP_SYS_RESOURCE, which some sandboxes take from everyone
	// (this one's bounding set lacks it): then systemd cannot apply it.
	adj, _ := m.run("cat", "/proc/"+pid+"/oom_score_adj")
	adj = strings.TrimSpace(adj)
	if hasCapSysResource(m) {
		if adj != "-900" {
			t.Errorf("the daemon's oom_score_adj = %q; want -900 from OOMScoreAdjust=", adj)
		}
	} else {
		t.Logf("CAP_SYS_RESOURCE is not in this machine's bounding set: systemd could not apply OOMScoreAdjust=-900 (oom_score_adj is %s); it does on a real system", adj)
		adj += " (no CAP_SYS_RESOURCE here)"
	}
	if got := m.prop("luminous-healing.service", "MemoryMin"); got != "16777216" {
		t.Errorf("MemoryMin = %s; want 16M, the floor under its working set", got)
	}

	m.Run(t.Context(), "systemctl", "start", "lh-oom.service")
	// systemd says oom-kill where it can read the cgroup's memory.events;
	// in the testbed's cgroup namespace it sees the SIGKILL the kernel's
	// OOM killer sent.
	m.waitFor(20*time.Second, "lh-oom killed by the OOM killer", func() bool {
		r := m.prop("lh-oom.service", "Result")
		return r == "oom-kill" || r == "signal" && m.prop("lh-oom.service", "ExecMainStatus") == "9"
	})

	m.MustRun(t, "systemctl", "start", "lh-hog.service")
	m.waitFor(20*time.Second, "the hog to hold its memory", func() bool {
		v, _ := strconv.ParseUint(m.prop("lh-hog.service", "MemoryCurrent"), 10, 64)
		return v > 300<<20
	})
	used := m.usedMemory()
	// A threshold under what is in use, with room for the rest of the
	// shared host to move: the pressure the daemon sees is real use.
	th := max(1, used-3)
	t0 := time.Now()
	if r := m.healingctl("", "set", "threshold", "memory", fmt.Sprintf("%.1f", th)); r.code != 0 {
		t.Fatalf("set threshold memory %.1f: exit %d %q", th, r.code, r.stderr)
	}
	m.waitFor(30*time.Second, "MemoryHigh set on lh-hog", func() bool { return m.prop("lh-hog.service", "MemoryHigh") != "infinity" })
	throttled := time.Since(t0)
	high := m.prop("lh-hog.service", "MemoryHigh")
	acts := m.journal("luminous-healing.service", t0, func(e testbed.JournalEntry) bool {
		return e.Field("HEALING_ACTION") == "throttle" && e.Field("HEALING_OUTCOME") == "succeeded"
	})
	if len(acts) == 0 || acts[0].Field("HEALING_TARGET") != "lh-hog.service" {
		t.Errorf("throttle records = %d (first target %q); want lh-hog.service picked as the top consumer", len(acts), firstTarget(acts))
	}

	// The pressure clears.
	t1 := time.Now()
	m.healingctl("", "set", "threshold", "memory", "100")
	m.waitFor(30*time.Second, "MemoryHigh lifted from lh-hog", func() bool { return m.prop("lh-hog.service", "MemoryHigh") == "infinity" })
	released := time.Since(t1)
	m.MustRun(t, "systemctl", "stop", "lh-hog.service")
	if now := m.prop("luminous-healing.service", "MainPID"); now != pid {
		t.Errorf("the daemon's PID went %s → %s under memory pressure", pid, now)
	}
	if !m.isActive("lh-hog.service") && m.prop("lh-hog.service", "Result") == "oom-kill" {
		t.Errorf("the throttle got the hog OOM-killed; want it only held back")
	}
	sc.set("OOM killer took the bounded hog, not the daemon (oom_score_adj %s, MemoryMin 16M); used %.1f %% ≥ threshold %.1f %%: lh-hog throttled (MemoryHigh=%s) in %s, released %s after the pressure cleared",
		adj, used, th, high, throttled.Round(100*time.Millisecond), released.Round(100*time.Millisecond))
}

// hasCapSysResource reports whether the machine's init may use
// CAP_SYS_RESOURCE (bit 24 of its effective set).
func hasCapSysResource(m *machine) bool {
	out, _ := m.run("grep", "^CapEff:", "/proc/1/status")
	f := strings.Fields(out)
	if len(f) != 2 {
		return false
	}
	v, err := strconv.ParseUint(f[1], 16, 64)
	return err == nil && v&(1<<24) != 0
}

func firstTarget(es []testbed.JournalEntry) string {
	if len(es) == 0 {
		return ""
	}
	return es[0].Field("HEALING_TARGET")
}
