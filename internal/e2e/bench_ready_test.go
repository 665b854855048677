package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// readyTimes restarts a Type=notify unit n times and returns, sorted, how
// long each took from its main process's start to READY=1 as systemd
// timed them (ExecMainStart to ActiveEnter). systemd stamps ExecMainStart
// when it forks, before it sets up the unit's sandbox, so the figure
// includes that set-up.
func (m *machine) readyTimes(unit string, n int) []time.Duration {
	m.t.Helper()
	var out []time.Duration
	for range n {
		// reset-failed also resets the start rate limit (5 in 10 s).
		m.Run(m.t.Context(), "systemctl", "reset-failed", unit)
		m.MustRun(m.t, "systemctl", "restart", unit)
		s, _ := strconv.ParseInt(m.prop(unit, "ExecMainStartTimestampMonotonic"), 10, 64)
		a, _ := strconv.ParseInt(m.prop(unit, "ActiveEnterTimestampMonotonic"), 10, 64)
		out = append(out, time.Duration(a-s)*time.Microsecond)
	}
	slices.Sort(out)
	return out
}

// notifierSource is the least a Type=notify service can do: send READY=1
// and wait. Under the daemon's unit file it measures what systemd's
// sandbox set-up costs before any program of ours runs.
const notifierSource = `package main

import (
	"net"
	"os"
	"time"
)

func main() {
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: os.Getenv("NOTIFY_SOCKET"), Net: "unixgram"})
	if err == nil {
		c.Write([]byte("READY=1"))
		c.Close()
	}
	time.Sleep(time.Hour)
}
`

// sandboxOptions are the lines of the shipped unit file that make its
// sandbox (docs/security.md): left out, the unit runs the same program
// without it.
const sandboxOptions = `/^\(Protect\|Private\|Restrict\|SystemCall\|Memory\|Lock\|IPAddress\|Capability\|Ambient\|NoNew\|Device\|Remove\|Keyring\|OOMScore\|ManagedOOM\)/d`

// benchReadyParts splits the daemon's start to READY between systemd's
// set-up of the unit's sandbox and the daemon's own start (docs/
// performance.md): the same unit file running a program that only sends
// READY=1, and the daemon run by a copy of its unit file without the
// sandbox. The daemon's unit is stopped meanwhile (one owner of its bus
// name) and started again at the end.
func benchReadyParts(t *testing.T, m *machine, n int) []benchRow {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(notifierSource), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module notifier\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", "notifier", ".")
	build.Dir, build.Env = dir, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the notifier: %v\n%s", err, out)
	}
	bin, err := os.ReadFile(filepath.Join(dir, "notifier"))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.WriteFile("/usr/local/bin/lh-notifier", bin, 0o755); err != nil {
		t.Fatal(err)
	}
	const shipped = "/usr/lib/systemd/system/luminous-healing.service"
	m.MustRun(t, "sh", "-c", `sed -e 's|^ExecStart=.*|ExecStart=/usr/local/bin/lh-notifier|' -e '/^BusName=/d' -e '/^Alias=/d' `+
		shipped+` > /etc/systemd/system/lh-sandbox.service`)
	m.MustRun(t, "sh", "-c", `sed -e '/^Alias=/d' -e '`+sandboxOptions+`' `+shipped+` > /etc/systemd/system/lh-nosandbox.service`)
	m.MustRun(t, "sh", "-c", `printf '[Service]\nType=notify\nExecStart=/usr/local/bin/lh-notifier\n' > /etc/systemd/system/lh-bare.service`)
	m.MustRun(t, "systemctl", "daemon-reload")
	bare := m.readyTimes("lh-bare.service", n)
	sandbox := m.readyTimes("lh-sandbox.service", n)
	m.MustRun(t, "systemctl", "stop", "lh-sandbox.service", "lh-bare.service", "luminous-healing.service")
	own := m.readyTimes("lh-nosandbox.service", n)
	m.MustRun(t, "systemctl", "stop", "lh-nosandbox.service")
	m.MustRun(t, "systemctl", "start", "luminous-healing.service")
	p50 := func(ds []time.Duration) string {
		return fmt.Sprintf("p50 %s", pct(ds, 0.5).Round(100*time.Microsecond))
	}
	return []benchRow{
		{fmt.Sprintf("start to READY of a program that only sends READY=1: a bare unit / under the daemon's unit file and its sandbox (%d restarts each)", n),
			p50(bare) + " / " + p50(sandbox), "—", "—", "— (systemd's own cost)"},
		{fmt.Sprintf("start to READY of the daemon run without its unit's sandbox (%d restarts)", n), p50(own), "—", "—", "≤ 50 ms"},
	}
}
