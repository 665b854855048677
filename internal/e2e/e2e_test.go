// Package e2e is the end-to-end suite: each test boots a throwaway real
// systemd (internal/testbed) with a real system bus, polkitd and journald,
// installs the project with the same `make install` a user runs, and drives
// it as people do — systemctl, journalctl, busctl, healingctl — as root, as an
// unprivileged user and as an admin-group member.
//
// It needs root and unshare; elsewhere every test skips with a loud message.
// Each test's result and figures are appended to a report (see report) that
// .ci/run prints after the suite.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/testbed"
)

// repoRoot is the checkout the suite installs.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// unitFile is a minimal service running cmd.
func unitFile(cmd string, extra ...string) testbed.File {
	s := "[Unit]\nDescription=luminous-healing test unit\n\n[Service]\nExecStart=" + cmd + "\n"
	for _, e := range extra {
		s += e + "\n"
	}
	s += "\n[Install]\nWantedBy=multi-user.target\n"
	return testbed.File{Data: []byte(s), Mode: 0o644}
}

// machine is a booted testbed with the project installed and configured.
type machine struct {
	*testbed.Machine
	t *testing.T
}

type boot struct {
	name          string                  // the machine's hostname; default lhtest
	config        string                  // /etc/luminous-healing/config.toml
	units         map[string]testbed.File // unit name → file in /etc/systemd/system
	start         []string                // units to start before the daemon
	files         map[string]testbed.File
	noStartDaemon bool
}

var (
	warmOnce sync.Once
	warmErr  error
)

// warmBuildCache builds the binaries once on the host with the Makefile's
// flags. Every machine's make install then finds them in the host's build
// cache (read through the overlay) instead of compiling from scratch.
func warmBuildCache(t *testing.T) {
	t.Helper()
	warmOnce.Do(func() {
		out, err := exec.Command("make", "-s", "-C", repoRoot(t), "build").CombinedOutput()
		if err != nil {
			warmErr = fmt.Errorf("make build: %v\n%s", err, out)
		}
	})
	if warmErr != nil {
		t.Fatal(warmErr)
	}
}

// bootInstalled boots a machine, installs the project with make install,
// starts the given units and then the daemon, and waits until it is active.
func bootInstalled(t *testing.T, b boot) *machine {
	t.Helper()
	files := map[string]testbed.File{}
	for k, v := range b.files {
		files[k] = v
	}
	for name, f := range b.units {
		files["/etc/systemd/system/"+name] = f
	}
	if b.config != "" {
		// Written before make install, which never overwrites a config.
		files["/etc/luminous-healing/config.toml"] = testbed.File{Data: []byte(b.config), Mode: 0o644}
	}
	tb := testbed.Boot(t, testbed.Options{
		Name:  b.name,
		Files: files,
		// The host's PostgreSQL takes 2 s to start in every machine.
		Setup: []string{"systemctl mask --quiet postgresql@15-main.service postgresql.service || true"},
	})
	warmBuildCache(t)
	tb.Install(t, repoRoot(t))
	m := &machine{Machine: tb, t: t}
	for _, u := range b.start {
		m.MustRun(t, "systemctl", "start", u)
	}
	if !b.noStartDaemon {
		m.MustRun(t, "systemctl", "start", "luminous-healing.service")
		m.waitFor(10*time.Second, "luminous-healing to be active", func() bool { return m.isActive("luminous-healing.service") })
	}
	return m
}

func (m *machine) run(argv ...string) (string, error) {
	out, stderr, err := m.Run(m.t.Context(), argv...)
	if err != nil {
		return out, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, stderr)
	}
	return out, nil
}

func (m *machine) isActive(unit string) bool {
	out, _, _ := m.Run(m.t.Context(), "systemctl", "is-active", unit)
	return strings.TrimSpace(out) == "active"
}

func (m *machine) state(unit string) string {
	out, _, _ := m.Run(m.t.Context(), "systemctl", "show", "-P", "ActiveState", unit)
	return strings.TrimSpace(out)
}

func (m *machine) prop(unit, name string) string {
	out, _, _ := m.Run(m.t.Context(), "systemctl", "show", "-P", name, unit)
	return strings.TrimSpace(out)
}

// waitFor polls cond every 20 ms until it holds or d passes.
func (m *machine) waitFor(d time.Duration, what string, cond func() bool) {
	m.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			m.t.Fatalf("timed out after %s waiting for %s\n%s", d, what, m.daemonLog())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// daemonLog is the daemon's journal, for failure messages.
func (m *machine) daemonLog() string {
	out, _, _ := m.Run(context.Background(), "journalctl", "--no-pager", "-o", "short-precise", "-u", "luminous-healing.service")
	return "journalctl -u luminous-healing:\n" + out
}

// journal returns the entries of unit since t0 whose MESSAGE contains any
// of the words.
func (m *machine) journal(unit string, since time.Time, match func(testbed.JournalEntry) bool) []testbed.JournalEntry {
	m.t.Helper()
	entries, err := m.Journal(m.t.Context(), unit, since)
	if err != nil {
		m.t.Fatal(err)
	}
	var out []testbed.JournalEntry
	for _, e := range entries {
		if match(e) {
			out = append(out, e)
		}
	}
	return out
}

// at is an entry's realtime timestamp.
func at(e testbed.JournalEntry) time.Time {
	us, _ := strconv.ParseInt(e.Field("__REALTIME_TIMESTAMP"), 10, 64)
	return time.UnixMicro(us)
}

func messageHas(words ...string) func(testbed.JournalEntry) bool {
	return func(e testbed.JournalEntry) bool {
		msg := e.Field("MESSAGE")
		for _, w := range words {
			if strings.Contains(msg, w) {
				return true
			}
		}
		return false
	}
}

func field(name, value string) func(testbed.JournalEntry) bool {
	return func(e testbed.JournalEntry) bool { return e.Field(name) == value }
}

var reportMu sync.Mutex

// report records a scenario's figures for the CI summary: t.Log, and a line
// in $LUMINOUS_E2E_REPORT (default ../../out/e2e-report.txt).
func report(t *testing.T, format string, args ...any) {
	t.Helper()
	line := appendReport(t.Name(), fmt.Sprintf(format, args...))
	t.Log(line)
}

// appendReport appends a line for name to the report and returns it.
func appendReport(name, what string) string {
	line := fmt.Sprintf("%-60s %s", name, what)
	if name == "" {
		line = what
	}
	path := os.Getenv("LUMINOUS_E2E_REPORT")
	if path == "" {
		path = filepath.Join("..", "..", "out", "e2e-report.txt")
	}
	reportMu.Lock()
	defer reportMu.Unlock()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return line
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return line
	}
	defer f.Close()
	fmt.Fprintln(f, line)
	return line
}
