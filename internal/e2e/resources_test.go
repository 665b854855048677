package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/testbed"
)

func TestAFullDiskIsCleanedUpByTheCleanupUnits(t *testing.T) {
	const mount = "/srv/lhdisk"
	m := bootInstalled(t, boot{
		config: `
[monitoring]
interval = "1s"
mounts = ["` + mount + `"]
[thresholds]
disk = 50.0
[predictive]
enabled = false
`,
		units: map[string]testbed.File{
			// A 16 MiB file system of its own, so filling it harms nothing.
			"srv-lhdisk.mount": {Data: []byte("[Mount]\nWhat=tmpfs\nWhere=" + mount + "\nType=tmpfs\nOptions=size=16m,mode=0755\n"), Mode: 0o644},
		},
		files: map[string]testbed.File{
			// What systemd-tmpfiles-clean.service, the default cleanup
			// unit, removes: anything in junk/ older than a second.
			"/etc/tmpfiles.d/lhdisk.conf": {Data: []byte("e " + mount + "/junk - - - 1s\n"), Mode: 0o644},
		},
		start:         []string{"srv-lhdisk.mount"},
		noStartDaemon: true,
	})
	m.MustRun(t, "mkdir", "-p", mount+"/junk")
	m.MustRun(t, "systemctl", "start", "luminous-healing.service")
	m.waitFor(10*time.Second, "luminous-healing", func() bool { return m.isActive("luminous-healing.service") })
	t0 := time.Now()
	m.MustRun(t, "dd", "if=/dev/zero", "of="+mount+"/junk/big", "bs=1M", "count=12", "status=none")

	var done []testbed.JournalEntry
	m.waitFor(20*time.Second, "a cleanup that succeeded", func() bool {
		done = m.journal("luminous-healing.service", t0, func(e testbed.JournalEntry) bool {
			return e.Field("MESSAGE_ID") == audit.MessageIDs[audit.ActionSucceeded] && e.Field("HEALING_ACTION") == "cleanup"
		})
		return len(done) > 0
	})
	freed, _ := strconv.ParseUint(done[0].Field("HEALING_FREED_BYTES"), 10, 64)
	if freed < 12<<20 {
		t.Errorf("freed %d bytes; want at least the 12 MiB written", freed)
	}
	if out, _ := m.run("ls", "-A", mount+"/junk"); strings.TrimSpace(out) != "" {
		t.Errorf("junk/ still holds %q", out)
	}
	if !strings.Contains(done[0].Field("HEALING_TARGET"), "systemd-tmpfiles-clean.service") {
		t.Errorf("cleanup started %q; want the default systemd-tmpfiles-clean.service", done[0].Field("HEALING_TARGET"))
	}
	// Reported over D-Bus, to anyone, and in /metrics.
	hist := m.healingctl("nobody", "--json", "history", "--limit", "50")
	var entries []struct {
		Action     string `json:"action"`
		Outcome    string `json:"outcome"`
		FreedBytes uint64 `json:"freed_bytes"`
	}
	if err := json.Unmarshal([]byte(hist.stdout), &entries); err != nil {
		t.Fatalf("healingctl --json history: %v (exit %d, %s)\n%s", err, hist.code, hist.stderr, hist.stdout)
	}
	var overDBus uint64
	for _, e := range entries {
		if e.Action == "cleanup" && e.Outcome == "succeeded" {
			overDBus = e.FreedBytes
		}
	}
	if overDBus != freed {
		t.Errorf("GetHistory reports %d bytes freed; want %d as in the journal", overDBus, freed)
	}
	metrics, err := m.run("curl", "-sSf", "http://127.0.0.1:9955/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if got := metricSum(metrics, "healing_cleanup_freed_bytes_total"); got != float64(freed) {
		t.Errorf("healing_cleanup_freed_bytes_total = %v; want %d:\n%s", got, freed, grepLines(metrics, "freed"))
	}
	m.waitFor(10*time.Second, "the disk issue to resolve", func() bool {
		return len(m.journal("luminous-healing.service", t0, field("MESSAGE_ID", audit.MessageIDs[audit.IssueResolved]))) > 0
	})
	report(t, "freed %s on %s by %s", fmt.Sprintf("%.1f MiB", float64(freed)/(1<<20)), mount, done[0].Field("HEALING_TARGET"))
}

// The machine's /proc/stat is the host's (a PID namespace does not give a
// machine counters of its own), so what the daemon reads as CPU pressure is
// the host's: the hog's two loops take it to 100 %, and whatever else the
// host runs (other test packages, other work on a shared box) is in it
// too. The threshold sits at 95 %, where only a CPU with no idle time at
// all crosses it: the hog makes it so whatever else runs, and the pressure
// has cleared the first time the host has 10 % idle (the margin). At 60 %,
// as before, the host had to stay under 55 % after the hog stopped, and on
// a busy host it did not for minutes: the daemon rightly kept the throttle
// and the test failed.
func TestACPUHogIsThrottledAndReleasedOnceThePressureClears(t *testing.T) {
	config := `
[monitoring]
interval = "1s"
margin = 5.0
[thresholds]
cpu = 95.0
[predictive]
enabled = false
`
	m := bootInstalled(t, boot{
		config: config,
		units: map[string]testbed.File{
			// Two busy loops, both cores, while /run/lh-burn exists; the
			// unit stays active after.
			"lh-hog.service": unitFile(`/bin/sh -c 'burn() { while [ -e /run/lh-burn ]; do :; done; }; burn & burn; exec sleep infinity'`),
		},
		files: map[string]testbed.File{"/run/lh-burn": {Data: nil, Mode: 0o644}},
		start: []string{"lh-hog.service"},
	})
	t0 := time.Now()
	m.waitFor(30*time.Second, "CPUWeight=20 on lh-hog", func() bool { return m.prop("lh-hog.service", "CPUWeight") == "20" })
	acts := m.journal("luminous-healing.service", t0, func(e testbed.JournalEntry) bool {
		return e.Field("HEALING_ACTION") == "throttle" && e.Field("HEALING_OUTCOME") == "succeeded"
	})
	if len(acts) == 0 || acts[0].Field("HEALING_TARGET") != "lh-hog.service" {
		t.Fatalf("throttle records = %v; want lh-hog.service chosen as the top consumer", acts)
	}
	// Two busy loops on two cores: the record says what it was picked for.
	msg := acts[0].Field("MESSAGE")
	use := regexp.MustCompile(`using ([0-9]+)% CPU`).FindStringSubmatch(msg)
	if use == nil || len(use[1]) < 2 {
		t.Fatalf("throttle record %q; want the hog's CPU use, tens of percent or more", msg)
	}
	// The runtime drop-in systemd wrote is what `systemctl show` reads.
	if out, _ := m.run("systemctl", "cat", "lh-hog.service"); !strings.Contains(out, "/run/systemd/system.control/lh-hog.service.d") {
		t.Errorf("no runtime drop-in for the limit:\n%s", out)
	}

	// The pressure clears: the hog stops burning but keeps running. (Other
	// work on a shared development box can keep the CPU busy a while.)
	m.MustRun(t, "rm", "/run/lh-burn")
	stopped := time.Now()
	m.waitFor(90*time.Second, "CPUWeight back to unset on lh-hog", func() bool { return m.prop("lh-hog.service", "CPUWeight") == "[not set]" })
	if !m.isActive("lh-hog.service") {
		t.Errorf("lh-hog is not active; the throttle must not have stopped it")
	}
	released := m.journal("luminous-healing.service", t0, func(e testbed.JournalEntry) bool {
		return e.Field("HEALING_ACTION") == "release" && e.Field("HEALING_OUTCOME") == "succeeded"
	})
	if len(released) != 1 {
		t.Fatalf("%d release records; want 1", len(released))
	}
	// The release follows the CPU issue's clearing, never precedes it.
	cleared := m.journal("luminous-healing.service", t0, func(e testbed.JournalEntry) bool {
		return e.Field("MESSAGE_ID") == audit.MessageIDs[audit.IssueResolved] && e.Field("HEALING_ISSUE") == "cpu"
	})
	if len(cleared) == 0 || at(released[0]).Before(at(cleared[0])) {
		t.Errorf("cpu issue resolved %v, throttle released at %s; want the release after the issue cleared", cleared, at(released[0]))
	}
	report(t, "CPUWeight=20 on lh-hog (picked at %s%% CPU) after %s, released %s after the hog stopped, once the issue cleared",
		use[1], at(acts[0]).Sub(t0).Round(10*time.Millisecond), at(released[0]).Sub(stopped).Round(10*time.Millisecond))
}

func grepLines(s, word string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// metricValue is the value of an unlabelled sample in a text exposition,
// or -1 when it is missing.
// metricSum adds up every series of a metric, whatever its labels.
func metricSum(exposition, name string) float64 {
	sum, found := 0.0, false
	for _, l := range strings.Split(exposition, "\n") {
		rest, ok := strings.CutPrefix(l, name)
		if !ok || (!strings.HasPrefix(rest, " ") && !strings.HasPrefix(rest, "{")) {
			continue
		}
		fields := strings.Fields(rest)
		if f, err := strconv.ParseFloat(fields[len(fields)-1], 64); err == nil {
			sum, found = sum+f, true
		}
	}
	if !found {
		return -1
	}
	return sum
}

func metricValue(exposition, name string) float64 {
	for _, l := range strings.Split(exposition, "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}
