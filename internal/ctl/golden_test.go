package ctl

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// goldenCase is one command line against a fixture and what it must
// print: its standard output is testdata/golden/NAME, byte for byte.
type goldenCase struct {
	name    string
	fixture func() *fixtureDaemon
	args    []string
	code    int
	calls   []string // what the command asked the daemon to do
}

// goldenCases are every command, as a table and as --json, on a daemon
// with something in every list and, where it says something else, on a
// quiet one.
var goldenCases = []goldenCase{
	{name: "status", fixture: busyFixture, args: []string{"status"}},
	{name: "status.json", fixture: busyFixture, args: []string{"--json", "status"}},
	{name: "status-quiet", fixture: quietFixture, args: []string{"status"}},
	{name: "status-quiet.json", fixture: quietFixture, args: []string{"status", "--json"}},
	{name: "issues", fixture: busyFixture, args: []string{"issues"}},
	{name: "issues.json", fixture: busyFixture, args: []string{"--json", "issues"}},
	{name: "issues-quiet", fixture: quietFixture, args: []string{"issues"}},
	{name: "issues-quiet.json", fixture: quietFixture, args: []string{"--json", "issues"}},
	{name: "predict", fixture: busyFixture, args: []string{"predict"}},
	{name: "predict.json", fixture: busyFixture, args: []string{"--json", "predict"}},
	{name: "predict-quiet", fixture: quietFixture, args: []string{"predict"}},
	{name: "history", fixture: busyFixture, args: []string{"history"}},
	{name: "history.json", fixture: busyFixture, args: []string{"--json", "history"}},
	{name: "history-n2", fixture: busyFixture, args: []string{"history", "-n", "2"}},
	{name: "history-quiet", fixture: quietFixture, args: []string{"history"}},
	{name: "silence-list", fixture: busyFixture, args: []string{"silence", "list"}},
	{name: "silence-list.json", fixture: busyFixture, args: []string{"--json", "silence", "list"}},
	{name: "silence-list-quiet", fixture: quietFixture, args: []string{"silence", "list"}},
	{name: "silence-add", fixture: busyFixture, args: []string{"silence", "add", "unit:nginx.service", "--for", "2h", "--reason", "upgrading nginx"}, calls: []string{"silence"}},
	{name: "silence-add.json", fixture: busyFixture, args: []string{"--json", "silence", "add", "--for", "2h", "--reason", "upgrading nginx", "unit:nginx.service"}, calls: []string{"silence"}},
	{name: "silence-remove", fixture: busyFixture, args: []string{"silence", "remove", "silence-7f3a"}, calls: []string{"unsilence silence-7f3a"}},
	{name: "silence-remove.json", fixture: busyFixture, args: []string{"--json", "silence", "remove", "silence-7f3a"}, calls: []string{"unsilence silence-7f3a"}},
	{name: "heal", fixture: busyFixture, args: []string{"heal", "unit:postgresql.service"}, calls: []string{"restart postgresql.serviceunit:postgresql.service"}},
	{name: "heal.json", fixture: busyFixture, args: []string{"--json", "heal", "unit:postgresql.service"}, calls: []string{"restart postgresql.serviceunit:postgresql.service"}},
	{name: "restart", fixture: busyFixture, args: []string{"restart", "nginx.service"}, calls: []string{"restart nginx.service"}},
	{name: "restart.json", fixture: busyFixture, args: []string{"--json", "restart", "nginx.service"}, calls: []string{"restart nginx.service"}},
	{name: "cleanup", fixture: busyFixture, args: []string{"cleanup"}, calls: []string{"cleanup "}},
	{name: "cleanup.json", fixture: busyFixture, args: []string{"--json", "cleanup"}, calls: []string{"cleanup "}},
	{name: "throttle", fixture: busyFixture, args: []string{"throttle", "batch.service"}, calls: []string{"throttle batch.service"}},
	{name: "throttle.json", fixture: busyFixture, args: []string{"--json", "throttle", "batch.service"}, calls: []string{"throttle batch.service"}},
	{name: "release", fixture: busyFixture, args: []string{"release", "batch.service"}, calls: []string{"release batch.service"}},
	{name: "release.json", fixture: busyFixture, args: []string{"--json", "release", "batch.service"}, calls: []string{"release batch.service"}},
	{name: "reset", fixture: busyFixture, args: []string{"reset", "unit:postgresql.service"}, calls: []string{"reset unit:postgresql.service"}},
	{name: "reset.json", fixture: busyFixture, args: []string{"--json", "reset", "unit:postgresql.service"}, calls: []string{"reset unit:postgresql.service"}},
	{name: "set-dry-run", fixture: busyFixture, args: []string{"set", "dry-run", "on"}, calls: []string{"dry-run on"}},
	{name: "set-healing", fixture: busyFixture, args: []string{"set", "healing", "off"}, calls: []string{"healing off"}},
	{name: "set-healing.json", fixture: busyFixture, args: []string{"--json", "set", "healing", "off"}, calls: []string{"healing off"}},
	{name: "set-threshold", fixture: busyFixture, args: []string{"set", "threshold", "cpu", "70"}, calls: []string{"threshold cpu"}},
	{name: "set-threshold.json", fixture: busyFixture, args: []string{"--json", "set", "threshold", "cpu", "70"}, calls: []string{"threshold cpu"}},
	{name: "reload", fixture: busyFixture, args: []string{"reload"}, calls: []string{"reload"}},
	{name: "reload.json", fixture: busyFixture, args: []string{"--json", "reload"}, calls: []string{"reload"}},
	{name: "inject", fixture: busyFixture, args: []string{"inject", "unit", "web"}, calls: []string{"inject"}},
	{name: "inject.json", fixture: busyFixture, args: []string{"--json", "inject", "unit", "web"}, calls: []string{"inject"}},
	{name: "probe", fixture: busyFixture, args: []string{"probe", "nginx.service"}, calls: []string{"probe nginx.service"}},
	{name: "probe.json", fixture: busyFixture, args: []string{"--json", "probe", "nginx.service"}, calls: []string{"probe nginx.service"}},
	{name: "probe-failed", fixture: busyFixture, args: []string{"probe", "postgresql.service"}, code: exitFailure, calls: []string{"probe postgresql.service"}},
	{name: "probe-failed.json", fixture: busyFixture, args: []string{"--json", "probe", "postgresql.service"}, code: exitFailure, calls: []string{"probe postgresql.service"}},
	{name: "dashboard-plain", fixture: busyFixture, args: []string{"dashboard", "--plain"}},
	{name: "dashboard-plain-quiet", fixture: quietFixture, args: []string{"dashboard", "--plain"}},
	{name: "version", fixture: busyFixture, args: []string{"version"}},
	{name: "version.json", fixture: busyFixture, args: []string{"--json", "version"}},
	{name: "completion-bash", fixture: quietFixture, args: []string{"completion", "bash"}},
	{name: "completion-zsh", fixture: quietFixture, args: []string{"completion", "zsh"}},
	{name: "completion-fish", fixture: quietFixture, args: []string{"completion", "fish"}},
}

// TestGoldenOutput runs every command against the fixture daemon with a
// fixed clock and compares what it prints with its golden file; go test
// ./internal/ctl -run TestGoldenOutput -update rewrites them.
func TestGoldenOutput(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			f := startFixture(t, c.fixture())
			var out, errb bytes.Buffer
			code := run(append([]string{"healingctl", "--no-ask-password"}, c.args...), &out, &errb)
			if code != c.code {
				t.Errorf("healingctl %s exited %d, want %d; stderr:\n%s", strings.Join(c.args, " "), code, c.code, errb.String())
			}
			if strings.Join(f.calls, "|") != strings.Join(c.calls, "|") {
				t.Errorf("healingctl %s asked the daemon for %q, want %q", strings.Join(c.args, " "), f.calls, c.calls)
			}
			checkGolden(t, c.name, out.Bytes())
		})
	}
}

// TestGoldenStatusInColour is status and issues on a terminal: the
// severities coloured, every column still aligned.
func TestGoldenStatusInColour(t *testing.T) {
	startFixture(t, busyFixture())
	var b bytes.Buffer
	f := busyFixture()
	printStatus(&b, f.status, true)
	b.WriteString("\n")
	printIssues(&b, f.status.Issues, true)
	checkGolden(t, "status-colour", b.Bytes())
}

// TestGoldenWatch is watch's line per signal, as text and as JSON, for a
// signal of each kind (the command itself is TestWatchJSONIsTheDocumentedRecords
// on the real daemon).
func TestGoldenWatch(t *testing.T) {
	fixClock(t)
	for _, asJSON := range []bool{false, true} {
		var b bytes.Buffer
		e := &env{json: asJSON, stdout: &b, stderr: io.Discard}
		for _, ev := range fixtureEvents() {
			if err := printEvent(e, ev); err != nil {
				t.Fatal(err)
			}
		}
		name := "watch"
		if asJSON {
			name += ".json"
		}
		checkGolden(t, name, b.Bytes())
	}
}

// TestGoldenDashboardScreen is the full-screen dashboard's layout (its
// colours left out) on the busy fixture, as the tests' terminal shows it.
func TestGoldenDashboardScreen(t *testing.T) {
	fixClock(t)
	f := busyFixture()
	m := newDashboard(t.Context(), func() {}, (&healCalls{}).heal, asking{})
	m.now = func() time.Time { return fixtureNow }
	// Two checks, for a sparkline of two readings.
	before := f.status
	before.LastCheck = before.LastCheck.Add(-time.Minute)
	before.Resources = slices.Clone(before.Resources)
	for i := range before.Resources {
		before.Resources[i].Value /= 2
	}
	m.Update(snapshotMsg{status: before, history: f.history, at: fixtureNow.Add(-time.Minute)})
	m.Update(snapshotMsg{status: f.status, history: f.history, at: fixtureNow})
	m.Update(signalMsg{ev: fixtureEvents()[0], at: fixtureNow.Add(-3 * time.Second)})
	m.width, m.height = 150, 70
	checkGolden(t, "dashboard-screen", []byte(plainScreen(m)))
	press(m, "down", "h")
	checkGolden(t, "dashboard-screen-confirm", []byte(plainScreen(m)))
}

// checkGolden compares got with testdata/golden/name, or rewrites the
// file under -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v; run go test ./internal/ctl -run TestGolden -update to write it", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test ./internal/ctl -run TestGolden -update rewrites it after a change meant to alter it)\n got:\n%s\nwant:\n%s", path, got, want)
	}
}
