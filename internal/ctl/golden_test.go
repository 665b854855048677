package ctl

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/ctl/ctltest"
	"github.com/luminous-healing/luminous-healing/internal/ctl/show"
)

// goldenCase is one command line against a fixture and what it must
// print: its standard output is testdata/golden/NAME, byte for byte.
type goldenCase struct {
	name    string
	fixture func() *ctltest.Daemon
	args    []string
	code    int
	calls   []string // what the command asked the daemon to do
}

// goldenCases are every command, as a table and as --json, on a daemon
// with something in every list and, where it says something else, on a
// quiet one.
var goldenCases = []goldenCase{
	{name: "status", fixture: ctltest.Busy, args: []string{"status"}},
	{name: "status.json", fixture: ctltest.Busy, args: []string{"--json", "status"}},
	{name: "status-quiet", fixture: ctltest.Quiet, args: []string{"status"}},
	{name: "status-quiet.json", fixture: ctltest.Quiet, args: []string{"status", "--json"}},
	{name: "issues", fixture: ctltest.Busy, args: []string{"issues"}},
	{name: "issues.json", fixture: ctltest.Busy, args: []string{"--json", "issues"}},
	{name: "issues-quiet", fixture: ctltest.Quiet, args: []string{"issues"}},
	{name: "issues-quiet.json", fixture: ctltest.Quiet, args: []string{"--json", "issues"}},
	{name: "predict", fixture: ctltest.Busy, args: []string{"predict"}},
	{name: "predict.json", fixture: ctltest.Busy, args: []string{"--json", "predict"}},
	{name: "predict-quiet", fixture: ctltest.Quiet, args: []string{"predict"}},
	{name: "history", fixture: ctltest.Busy, args: []string{"history"}},
	{name: "history.json", fixture: ctltest.Busy, args: []string{"--json", "history"}},
	{name: "history-n2", fixture: ctltest.Busy, args: []string{"history", "-n", "2"}},
	{name: "history-quiet", fixture: ctltest.Quiet, args: []string{"history"}},
	{name: "silence-list", fixture: ctltest.Busy, args: []string{"silence", "list"}},
	{name: "silence-list.json", fixture: ctltest.Busy, args: []string{"--json", "silence", "list"}},
	{name: "silence-list-quiet", fixture: ctltest.Quiet, args: []string{"silence", "list"}},
	{name: "silence-add", fixture: ctltest.Busy, args: []string{"silence", "add", "unit:nginx.service", "--for", "2h", "--reason", "upgrading nginx"}, calls: []string{"silence"}},
	{name: "silence-add.json", fixture: ctltest.Busy, args: []string{"--json", "silence", "add", "--for", "2h", "--reason", "upgrading nginx", "unit:nginx.service"}, calls: []string{"silence"}},
	{name: "silence-remove", fixture: ctltest.Busy, args: []string{"silence", "remove", "silence-7f3a"}, calls: []string{"unsilence silence-7f3a"}},
	{name: "silence-remove.json", fixture: ctltest.Busy, args: []string{"--json", "silence", "remove", "silence-7f3a"}, calls: []string{"unsilence silence-7f3a"}},
	{name: "heal", fixture: ctltest.Busy, args: []string{"heal", "unit:postgresql.service"}, calls: []string{"restart postgresql.serviceunit:postgresql.service"}},
	{name: "heal.json", fixture: ctltest.Busy, args: []string{"--json", "heal", "unit:postgresql.service"}, calls: []string{"restart postgresql.serviceunit:postgresql.service"}},
	{name: "restart", fixture: ctltest.Busy, args: []string{"restart", "nginx.service"}, calls: []string{"restart nginx.service"}},
	{name: "restart.json", fixture: ctltest.Busy, args: []string{"--json", "restart", "nginx.service"}, calls: []string{"restart nginx.service"}},
	{name: "cleanup", fixture: ctltest.Busy, args: []string{"cleanup"}, calls: []string{"cleanup "}},
	{name: "cleanup.json", fixture: ctltest.Busy, args: []string{"--json", "cleanup"}, calls: []string{"cleanup "}},
	{name: "throttle", fixture: ctltest.Busy, args: []string{"throttle", "batch.service"}, calls: []string{"throttle batch.service"}},
	{name: "throttle.json", fixture: ctltest.Busy, args: []string{"--json", "throttle", "batch.service"}, calls: []string{"throttle batch.service"}},
	{name: "release", fixture: ctltest.Busy, args: []string{"release", "batch.service"}, calls: []string{"release batch.service"}},
	{name: "release.json", fixture: ctltest.Busy, args: []string{"--json", "release", "batch.service"}, calls: []string{"release batch.service"}},
	{name: "reset", fixture: ctltest.Busy, args: []string{"reset", "unit:postgresql.service"}, calls: []string{"reset unit:postgresql.service"}},
	{name: "reset.json", fixture: ctltest.Busy, args: []string{"--json", "reset", "unit:postgresql.service"}, calls: []string{"reset unit:postgresql.service"}},
	{name: "set-dry-run", fixture: ctltest.Busy, args: []string{"set", "dry-run", "on"}, calls: []string{"dry-run true"}},
	{name: "set-healing", fixture: ctltest.Busy, args: []string{"set", "healing", "off"}, calls: []string{"healing false"}},
	{name: "set-healing.json", fixture: ctltest.Busy, args: []string{"--json", "set", "healing", "off"}, calls: []string{"healing false"}},
	{name: "set-threshold", fixture: ctltest.Busy, args: []string{"set", "threshold", "cpu", "70"}, calls: []string{"threshold cpu"}},
	{name: "set-threshold.json", fixture: ctltest.Busy, args: []string{"--json", "set", "threshold", "cpu", "70"}, calls: []string{"threshold cpu"}},
	{name: "reload", fixture: ctltest.Busy, args: []string{"reload"}, calls: []string{"reload"}},
	{name: "reload.json", fixture: ctltest.Busy, args: []string{"--json", "reload"}, calls: []string{"reload"}},
	{name: "inject", fixture: ctltest.Busy, args: []string{"inject", "unit", "web"}, calls: []string{"inject"}},
	{name: "inject.json", fixture: ctltest.Busy, args: []string{"--json", "inject", "unit", "web"}, calls: []string{"inject"}},
	{name: "probe", fixture: ctltest.Busy, args: []string{"probe", "nginx.service"}, calls: []string{"probe nginx.service"}},
	{name: "probe.json", fixture: ctltest.Busy, args: []string{"--json", "probe", "nginx.service"}, calls: []string{"probe nginx.service"}},
	{name: "probe-failed", fixture: ctltest.Busy, args: []string{"probe", "postgresql.service"}, code: show.ExitFailure, calls: []string{"probe postgresql.service"}},
	{name: "probe-failed.json", fixture: ctltest.Busy, args: []string{"--json", "probe", "postgresql.service"}, code: show.ExitFailure, calls: []string{"probe postgresql.service"}},
	{name: "dashboard-plain", fixture: ctltest.Busy, args: []string{"dashboard", "--plain"}},
	{name: "dashboard-plain-quiet", fixture: ctltest.Quiet, args: []string{"dashboard", "--plain"}},
	{name: "version", fixture: ctltest.Busy, args: []string{"version"}},
	{name: "version.json", fixture: ctltest.Busy, args: []string{"--json", "version"}},
	{name: "completion-bash", fixture: ctltest.Quiet, args: []string{"completion", "bash"}},
	{name: "completion-zsh", fixture: ctltest.Quiet, args: []string{"completion", "zsh"}},
	{name: "completion-fish", fixture: ctltest.Quiet, args: []string{"completion", "fish"}},
}

// TestGoldenOutput runs every command against the fixture daemon with a
// fixed clock and compares what it prints with its golden file; go test
// ./internal/ctl -run TestGoldenOutput -update rewrites them.
func TestGoldenOutput(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			f := ctltest.Start(t, c.fixture())
			fixClock(t)
			var out, errb bytes.Buffer
			code := run(append([]string{"healingctl", "--no-ask-password"}, c.args...), &out, &errb)
			if code != c.code {
				t.Errorf("healingctl %s exited %d, want %d; stderr:\n%s", strings.Join(c.args, " "), code, c.code, errb.String())
			}
			if calls := f.Calls(); strings.Join(calls, "|") != strings.Join(c.calls, "|") {
				t.Errorf("healingctl %s asked the daemon for %q, want %q", strings.Join(c.args, " "), calls, c.calls)
			}
			ctltest.Golden(t, c.name, out.Bytes())
		})
	}
}

// TestGoldenStatusInColour is status and issues on a terminal: the
// severities coloured, every column still aligned.
func TestGoldenStatusInColour(t *testing.T) {
	fixClock(t)
	var b bytes.Buffer
	f := ctltest.Busy()
	printStatus(&b, f.Status, true)
	b.WriteString("\n")
	printIssues(&b, f.Status.Issues, true)
	ctltest.Golden(t, "status-colour", b.Bytes())
}

// TestGoldenWatch is watch's line per signal, as text and as JSON, for a
// signal of each kind (the command itself is TestWatchJSONIsTheDocumentedRecords
// on the real daemon).
func TestGoldenWatch(t *testing.T) {
	fixClock(t)
	for _, asJSON := range []bool{false, true} {
		var b bytes.Buffer
		e := &env{json: asJSON, stdout: &b, stderr: io.Discard}
		for _, ev := range ctltest.Events() {
			if err := printEvent(e, ev); err != nil {
				t.Fatal(err)
			}
		}
		name := "watch"
		if asJSON {
			name += ".json"
		}
		ctltest.Golden(t, name, b.Bytes())
	}
}

// fixClock stops healingctl's clock at ctltest.Now and prints local times
// in UTC until the test ends.
func fixClock(t *testing.T) {
	saved := clock
	clock = func() time.Time { return ctltest.Now }
	t.Cleanup(func() { clock = saved })
	ctltest.SetLocal(t)
}
