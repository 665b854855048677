package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/testbed"
)

// probeConfig probes lh-web over HTTP and lh-db over TCP every 300 ms; three
// failures in a row make the issue. The grace covers the restarted
// server's start.
const probeConfig = `
[monitoring]
interval = "1s"
[healing]
backoff = "300ms"
backoff_max = "1s"
[services]
monitored = ["lh-web", "lh-db", "lh-app", "lh-cfg"]

[[probe]]
unit = "lh-web"
type = "http"
url = "http://127.0.0.1:8181/healthz"
body_contains = "ok"
interval = "300ms"
timeout = "250ms"
failures = 3
grace = "1s"

[[probe]]
unit = "lh-db"
type = "tcp"
address = "127.0.0.1:8182"
interval = "300ms"
timeout = "250ms"
failures = 3
grace = "1s"

# Healthy while lh-app's file is there, and only when not run as root.
[[probe]]
unit = "lh-app"
type = "command"
command = ["/bin/sh", "-c", "test -e /run/lh-app-ok && test $(id -u) -ne 0"]
interval = "1s"
timeout = "1s"
failures = 3
grace = "1s"

# Healed by a reload (its ExecReload= puts the file back), not a restart.
[[probe]]
unit = "lh-cfg"
type = "command"
command = ["/bin/test", "-e", "/run/lh-cfg-ok"]
interval = "1s"
timeout = "1s"
failures = 3
grace = "1s"
action = "reload"
`

// probeServer builds the suite's monitored server (testdata/probeserver)
// for the machine.
func probeServer(t *testing.T) testbed.File {
	t.Helper()
	if why := testbed.SkipReason(); why != "" {
		t.Skip(why)
	}
	out := filepath.Join(t.TempDir(), "lh-probeserver")
	if b, err := exec.Command("go", "build", "-o", out, "./testdata/probeserver").CombinedOutput(); err != nil {
		t.Fatalf("go build probeserver: %v\n%s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return testbed.File{Data: data, Mode: 0o755}
}

// probeFailures reads healing_probe_failures_total for a unit from the
// daemon's /metrics; -1 when the series is not there.
func (m *machine) probeFailures(unit string) int {
	out, err := m.run("curl", "-sS", "--max-time", "2", "http://127.0.0.1:9955/metrics")
	if err != nil {
		return -1
	}
	re := regexp.MustCompile(`healing_probe_failures_total\{type="[a-z]+",unit="` + regexp.QuoteMeta(unit) + `"\} (\d+)`)
	mm := re.FindStringSubmatch(out)
	if mm == nil {
		return -1
	}
	n, _ := strconv.Atoi(mm[1])
	return n
}

// firstFailure reads when the first probe failed from the message
// ("… since 15:04:05.123)", the daemon's local time), on the entry's date.
func firstFailure(e testbed.JournalEntry) (time.Time, bool) {
	mm := regexp.MustCompile(`since (\d\d:\d\d:\d\d\.\d{3})\)`).FindStringSubmatch(e.Field("MESSAGE"))
	if mm == nil {
		return time.Time{}, false
	}
	at := at(e).Local()
	clock, err := time.ParseInLocation("15:04:05.000", mm[1], time.Local)
	if err != nil {
		return time.Time{}, false
	}
	first := time.Date(at.Year(), at.Month(), at.Day(), clock.Hour(), clock.Minute(), clock.Second(), clock.Nanosecond(), time.Local)
	if d := at.Sub(first); d < 0 || d > time.Minute {
		return time.Time{}, false // another time zone in the machine, or a day boundary
	}
	return first, true
}

// TestProbesHealAHungServer runs two monitored servers that systemd calls
// active throughout: one is frozen with SIGSTOP (its HTTP probe times
// out), the other stops accepting TCP connections. Each becomes the issue
// probe:UNIT after three failed probes, is restarted by the daemon, and
// answers again; the time from the first failed probe (seen in the
// failures counter) to answering again is reported. Then a probe of a unit
// that is not monitored, and of a protected one, is refused by
// --check-config and by a reload, naming the key.
func TestProbesHealAHungServer(t *testing.T) {
	bin := probeServer(t)
	m := bootInstalled(t, boot{config: probeConfig,
		files: map[string]testbed.File{"/usr/local/bin/lh-probeserver": bin},
		units: map[string]testbed.File{
			"lh-web.service": unitFile("/usr/local/bin/lh-probeserver -http 127.0.0.1:8181"),
			"lh-db.service":  unitFile("/usr/local/bin/lh-probeserver -tcp 127.0.0.1:8182"),
			"lh-app.service": unitFile("/bin/sh -c 'touch /run/lh-app-ok; exec sleep infinity'"),
			"lh-cfg.service": unitFile("/bin/sh -c 'touch /run/lh-cfg-ok; exec sleep infinity'", "ExecReload=/bin/touch /run/lh-cfg-ok"),
		},
		start: []string{"lh-web.service", "lh-db.service", "lh-app.service", "lh-cfg.service"},
	})
	answers := func() bool {
		out, err := m.run("curl", "-sS", "--max-time", "1", "http://127.0.0.1:8181/healthz")
		return err == nil && strings.TrimSpace(out) == "ok"
	}
	accepts := func() bool {
		_, err := m.run("bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8182")
		return err == nil
	}
	// Healthy: both probed, no failure counted.
	m.waitFor(10*time.Second, "both probes to have run", func() bool {
		return m.probeFailures("lh-web.service") == 0 && m.probeFailures("lh-db.service") == 0 && m.probeFailures("lh-app.service") == 0
	})
	time.Sleep(2 * time.Second)
	if w, d, a := m.probeFailures("lh-web.service"), m.probeFailures("lh-db.service"), m.probeFailures("lh-app.service"); w != 0 || d != 0 || a != 0 {
		t.Fatalf("healthy servers failed their probes: web %d, db %d, app %d\n%s", w, d, a, m.daemonLog())
	}

	// Who may see and run them: everyone reads them in status; running
	// one is the heal tier — root may, an ordinary user may not, and a
	// hostile name is refused before polkit is asked.
	if r := m.healingctl("", "probe", "lh-web"); r.code != 0 || !strings.Contains(r.stdout, "probe lh-web.service (http): ok — status 200 OK") {
		t.Errorf("root's healingctl probe lh-web: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if err := m.AddUser(t.Context(), "mallory"); err != nil {
		t.Fatal(err)
	}
	if r := m.healingctl("mallory", "status"); r.code != 0 || !strings.Contains(r.stdout, "GET http://127.0.0.1:8181/healthz → 200") {
		t.Errorf("mallory's status does not list the probes: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := m.healingctl("mallory", "--no-ask-password", "probe", "lh-web"); r.code != 4 {
		t.Errorf("mallory's healingctl probe: exit %d (%s); want 4, access denied", r.code, r.stderr)
	}
	if r := m.healingctl("mallory", "--no-ask-password", "probe", "lh-web;id\x1b[2J"); r.code != 2 {
		t.Errorf("mallory's hostile unit name: exit %d (%s); want 2, invalid", r.code, r.stderr)
	}

	heal := func(unit, how string, break_ []string, back func() bool) {
		t.Helper()
		pid := m.prop(unit, "MainPID")
		tStop := time.Now()
		m.MustRun(t, break_...)
		var tFail time.Time
		m.waitFor(10*time.Second, unit+" to fail a probe", func() bool {
			if m.probeFailures(unit) > 0 {
				tFail = time.Now()
				return true
			}
			return false
		})
		if st := m.state(unit); st != "active" {
			t.Fatalf("%s is %s after %s; systemd should still call it active", unit, st, how)
		}
		m.waitFor(20*time.Second, unit+" to be restarted and answer again", func() bool {
			return m.prop(unit, "MainPID") != pid && m.isActive(unit) && back()
		})
		tBack := time.Now()
		// The daemon's record: the issue, with when the first probe
		// failed, and the restart.
		var detected []testbed.JournalEntry
		m.waitFor(5*time.Second, "the journal to record probe:"+unit, func() bool {
			detected = m.journal("luminous-healing.service", tStop, messageHas(unit+" does not answer its"))
			return len(detected) > 0
		})
		if first, ok := firstFailure(detected[0]); ok {
			tFail = first
		} else {
			t.Logf("the issue's message has no first failure time; the figure is from the test's scrape of the failures counter")
		}
		if len(m.restartsOf(unit, tStop)) == 0 {
			t.Errorf("no restart of %s recorded\n%s", unit, m.daemonLog())
		}
		m.waitFor(10*time.Second, "probe:"+unit+" to resolve", func() bool {
			return !strings.Contains(m.MustRun(t, "healingctl", "issues"), "probe:"+unit)
		})
		report(t, "%s %s: first failed probe → answering again %s (from the fault %s)", unit, how,
			tBack.Sub(tFail).Round(time.Millisecond), tBack.Sub(tStop).Round(time.Millisecond))
	}
	heal("lh-web.service", "frozen with SIGSTOP", []string{"systemctl", "kill", "-s", "SIGSTOP", "lh-web.service"}, answers)
	heal("lh-db.service", "no longer accepting", []string{"systemctl", "kill", "-s", "SIGUSR1", "lh-db.service"}, accepts)
	heal("lh-app.service", "failing its command probe", []string{"rm", "/run/lh-app-ok"}, func() bool {
		_, err := m.run("test", "-e", "/run/lh-app-ok")
		return err == nil
	})
	// A reload heals lh-cfg: same process, the file back.
	pid := m.prop("lh-cfg.service", "MainPID")
	tStop := time.Now()
	m.MustRun(t, "rm", "/run/lh-cfg-ok")
	m.waitFor(20*time.Second, "lh-cfg to be reloaded", func() bool {
		_, err := m.run("test", "-e", "/run/lh-cfg-ok")
		return err == nil
	})
	tBack := time.Now()
	if now := m.prop("lh-cfg.service", "MainPID"); now != pid {
		t.Errorf("lh-cfg's main PID went from %s to %s: restarted, not reloaded", pid, now)
	}
	if rs := m.journal("luminous-healing.service", tStop, messageHas("lh-cfg.service reloaded")); len(rs) == 0 {
		t.Errorf("no reload of lh-cfg recorded\n%s", m.daemonLog())
	}
	report(t, "lh-cfg.service failing its command probe, action reload: file removed → reloaded, same PID, %s", tBack.Sub(tStop).Round(time.Millisecond))
	// The command ran in transient units, which are gone.
	if out := m.MustRun(t, "systemctl", "list-units", "--all", "--no-legend", "lh-probe-*"); strings.TrimSpace(out) != "" {
		t.Errorf("transient probe units left behind:\n%s", out)
	}

	// Refused: a probe of a unit not monitored, and of a protected one.
	protected := strings.Replace(probeConfig, `monitored = ["lh-web", "lh-db", "lh-app", "lh-cfg"]`, "monitored = [\"lh-web\", \"lh-db\", \"lh-app\", \"lh-cfg\"]\nprotected = [\"lh-db\"]", 1)
	for _, c := range []struct{ cfg, want string }{
		{probeConfig + "[[probe]]\nunit = \"lh-other\"\ntype = \"tcp\"\naddress = \"127.0.0.1:1\"\n", "probe[4].unit: lh-other.service is not monitored"},
		{protected, "probe[1].unit: lh-db.service is protected"},
	} {
		cfg := c.cfg
		if err := m.WriteFile("/tmp/bad.toml", []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := m.run("luminous-healingd", "--check-config", "--config", "/tmp/bad.toml")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("--check-config: err %v, out %q; want %q", err, out, c.want)
		}
		m.MustRun(t, "cp", "/etc/luminous-healing/config.toml", "/tmp/good.toml")
		m.MustRun(t, "cp", "/tmp/bad.toml", "/etc/luminous-healing/config.toml")
		if _, err := m.run("healingctl", "reload"); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("healingctl reload: err %v; want %q", err, c.want)
		}
		m.MustRun(t, "cp", "/tmp/good.toml", "/etc/luminous-healing/config.toml")
	}
	report(t, "a probe of a unit not monitored, or protected, is refused by --check-config and reload, naming the key")
}
