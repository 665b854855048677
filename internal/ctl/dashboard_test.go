package ctl

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/bustest"
	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/ctl/show"
	"github.com/luminous-healing/luminous-healing/internal/dbusapi/apitest"
	"github.com/luminous-healing/luminous-healing/internal/detect"
	"github.com/luminous-healing/luminous-healing/internal/testbed"
)

// TestMain lets the test binary be healingctl itself, for the tests that
// run it on a terminal (in tmux): HEALINGCTL_TEST_MAIN=1 runs main.
func TestMain(m *testing.M) {
	if os.Getenv("HEALINGCTL_TEST_MAIN") == "1" {
		os.Exit(run(os.Args, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// pane is a tmux pane of a fixed size on a private tmux server, running
// healingctl (this test binary) on a real terminal.
type pane struct {
	tmux string
	sock string
}

// Pane size: the dashboard must fit every section of the tests' daemon.
const paneWidth, paneHeight = 120, 45

// startPane runs healingctl with args in a new tmux pane and, after it
// exits, prints its exit code there.
func startPane(t *testing.T, env []string, args ...string) *pane {
	t.Helper()
	tmux := testbed.NeedTool(t, "tmux", "tmux")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// A socket path must fit in sun_path (108 bytes): t.TempDir's may not.
	dir, err := os.MkdirTemp("", "lh-tmux")
	if err != nil {
		t.Fatal(err)
	}
	p := &pane{tmux: tmux, sock: dir + "/s"}
	t.Cleanup(func() {
		exec.Command(tmux, "-S", p.sock, "kill-server").Run()
		os.RemoveAll(dir)
	})
	// env(1) rather than new-session -e, which cannot override the TERM
	// tmux gives its panes.
	line := "env HEALINGCTL_TEST_MAIN=1 NO_COLOR="
	for _, e := range env {
		line += " " + shellQuote(e)
	}
	line += " " + shellQuote(exe) + " " + strings.Join(args, " ") + `; echo "healingctl exited with $?"; sleep 600`
	cmd := []string{"-S", p.sock, "-f", "/dev/null", "new-session", "-d", "-x", strconv.Itoa(paneWidth), "-y", strconv.Itoa(paneHeight), line}
	if out, err := exec.Command(tmux, cmd...).CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	return p
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// screen is what the pane shows; with escapes, its colours too.
func (p *pane) screen(t *testing.T, escapes bool) string {
	args := []string{"-S", p.sock, "capture-pane", "-p"}
	if escapes {
		args = append(args, "-e")
	}
	out, err := exec.Command(p.tmux, args...).Output()
	if err != nil {
		t.Fatalf("tmux capture-pane: %v", err)
	}
	return string(out)
}

// waitFor waits until the screen satisfies ok, and returns it.
func (p *pane) waitFor(t *testing.T, what string, ok func(screen string) bool) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := p.screen(t, false)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("the screen did not show %s within 10s; it shows:\n%s", what, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitForText waits until the screen shows every text.
func (p *pane) waitForText(t *testing.T, texts ...string) string {
	t.Helper()
	return p.waitFor(t, strings.Join(quoteAll(texts), " and "), func(s string) bool {
		for _, x := range texts {
			if !strings.Contains(s, x) {
				return false
			}
		}
		return true
	})
}

func quoteAll(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = `"` + x + `"`
	}
	return out
}

// keys types keys as tmux names them (Up, Enter, C-c, or text).
func (p *pane) keys(t *testing.T, keys ...string) {
	t.Helper()
	if out, err := exec.Command(p.tmux, append([]string{"-S", p.sock, "send-keys"}, keys...)...).CombinedOutput(); err != nil {
		t.Fatalf("tmux send-keys: %v: %s", err, out)
	}
}

// line returns the screen's first line that contains every text.
func line(screen string, texts ...string) string {
	for _, l := range strings.Split(screen, "\n") {
		all := true
		for _, x := range texts {
			all = all && strings.Contains(l, x)
		}
		if all {
			return l
		}
	}
	return ""
}

// The machine the tmux tests' daemon reports.
var dashboardReadings = []detect.Reading{
	{ID: "cpu", Kind: "cpu", Subject: "cpu", Value: 23.5},
	{ID: "memory", Kind: "memory", Subject: "memory", Value: 41.3},
	{ID: "load", Kind: "load", Subject: "load", Value: 0.42},
	{ID: "disk:/", Kind: "disk", Subject: "/", Value: 62.5},
	{ID: "inodes:/", Kind: "disk", Subject: "/", Value: 4.2},
}

func TestDashboardOnATerminal(t *testing.T) {
	setup := apitest.Setup{Readings: dashboardReadings, Config: func(c *config.Config) { c.Healing.Enabled = false }}
	d := apitest.Start(t, setup)
	d.Authority.Answer(client.ActionDevelop, bustest.Yes)
	d.Authority.Answer(client.ActionHeal, bustest.Yes)
	p := startPane(t, []string{"DBUS_SYSTEM_BUS_ADDRESS=" + d.Bus.Address}, "dashboard")
	cl := d.Client(t, client.Options{})

	s := p.waitForText(t, "RESOURCES", "No active issues.", "healing OFF")
	t.Logf("at start:\n%s", s)
	for _, r := range dashboardReadings {
		row := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(r.ID) + ` +[0-9.]+%? +[▁▂▃▄▅▆▇█]+ +(of [0-9.]+%?|no threshold) +ok$`)
		if !row.MatchString(s) {
			t.Errorf("no row for %s with its value, sparkline, threshold and state", r.ID)
		}
	}

	t.Run("injected issues appear live, worst first, critical in red", func(t *testing.T) {
		if _, err := cl.InjectIssue(t.Context(), client.Injection{Kind: "memory", Value: 91, Threshold: 85}); err != nil {
			t.Fatal(err)
		}
		p.waitForText(t, "ISSUES (1)", "› ● warning")
		if _, err := cl.InjectIssue(t.Context(), client.Injection{Kind: "unit", Subject: "web", Severity: "critical", Message: "web.service failed"}); err != nil {
			t.Fatal(err)
		}
		s := p.waitForText(t, "ISSUES (2)", "unit:web.service", "Last signal")
		crit, warn := line(s, "● critical", "unit:web.service"), line(s, "● warning", " memory ")
		if !strings.HasPrefix(crit, "  ● critical") || !strings.Contains(crit, "web.service failed [injected]") {
			t.Errorf("the critical issue's line is %q; want it with its message, not selected", crit)
		}
		if !strings.HasPrefix(warn, "› ● warning") {
			t.Errorf("the warning's line is %q; want memory still selected: it came first, and the selection stays put", warn)
		}
		if strings.Index(s, crit) > strings.Index(s, warn) {
			t.Error("the critical issue is listed after the warning; want worst first")
		}
		colored := line(p.screen(t, true), "unit:web.service", "critical")
		if !regexp.MustCompile(`\x1b\[[0-9;]*31m[^\x1b]*● critical`).MatchString(colored) {
			t.Errorf("the critical issue is not red: %q", colored)
		}
	})

	t.Run("the arrow keys select, h asks, y heals, the outcome shows", func(t *testing.T) {
		p.keys(t, "Up")
		p.waitFor(t, "unit:web.service selected", func(s string) bool { return strings.HasPrefix(line(s, "●", "unit:web.service"), "› ") })
		p.keys(t, "j")
		p.waitFor(t, "memory selected", func(s string) bool { return strings.HasPrefix(line(s, "●", " memory "), "› ") })
		p.keys(t, "k")
		p.waitFor(t, "unit:web.service selected", func(s string) bool { return strings.HasPrefix(line(s, "●", "unit:web.service"), "› ") })
		p.keys(t, "h")
		p.waitForText(t, "Heal unit:web.service now (restart)? y: yes")
		d.MarkMutations()
		p.keys(t, "y")
		s := p.waitForText(t, "restart web.service: succeeded", "ISSUES (1)")
		t.Logf("after the heal:\n%s", s)
		if m := d.Mutations(); len(m) == 0 {
			t.Error("fake systemd saw no restart")
		}
		if a := line(s, "restart web.service  succeeded"); a == "" {
			t.Error("RECENT ACTIONS lacks the restart")
		}
		if got := line(s, "●", " memory "); !strings.HasPrefix(got, "› ") {
			t.Errorf("after the healed issue went, the selection is on %q; want memory", got)
		}
	})

	t.Run("a heal polkit refuses says so and how to go on", func(t *testing.T) {
		d.Authority.Answer(client.ActionHeal, bustest.No)
		p.keys(t, "h")
		p.waitForText(t, "Heal memory now (throttle)?")
		p.keys(t, "y")
		p.waitForText(t, "heal memory: access denied by polkit.", "sudo healingctl")
	})

	t.Run("a daemon that goes away is a banner, and it reconnects", func(t *testing.T) {
		d.Stop()
		p.waitForText(t, "luminous-healingd is not reachable since", "left the bus", "Reconnecting…", "Below is what it reported at")
		// The next one checks every 100ms: the sparklines go on filling.
		setup.Bus, setup.Authority = d.Bus, d.Authority
		setup.Config = func(c *config.Config) {
			c.Healing.Enabled = false
			c.Monitoring.Interval = config.Duration(100 * time.Millisecond)
		}
		apitest.Start(t, setup)
		s := p.waitFor(t, "the banner gone and a sparkline of several readings", func(s string) bool {
			return !strings.Contains(s, "not reachable") && regexp.MustCompile(`(?m)^  cpu .*[▁▂▃▄▅▆▇█]{4} `).MatchString(s)
		})
		t.Logf("after the reconnect:\n%s", s)
	})

	t.Run("q quits with exit code 0", func(t *testing.T) {
		p.keys(t, "q")
		p.waitForText(t, "healingctl exited with 0")
	})
}

func TestDashboardOnADumbTerminalPrintsPlainText(t *testing.T) {
	d := apitest.Start(t, apitest.Setup{Readings: dashboardReadings})
	p := startPane(t, []string{"DBUS_SYSTEM_BUS_ADDRESS=" + d.Bus.Address, "TERM=dumb"}, "dashboard")
	s := p.waitForText(t, "healingctl exited with 0")
	for _, want := range []string{"luminous-healingd test on", "RESOURCES", "  inodes:/", "No active issues.", "RECENT ACTIONS"} {
		if !strings.Contains(s, want) {
			t.Errorf("the snapshot lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "↑/↓ select") {
		t.Errorf("a dumb terminal got the full-screen dashboard:\n%s", s)
	}
}

func TestThePlainDashboardIsASnapshotOrOneEveryInterval(t *testing.T) {
	d := apitest.Start(t, apitest.Setup{Readings: dashboardReadings, Config: func(c *config.Config) { c.Healing.Enabled = false }})
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", d.Bus.Address)
	d.Authority.Answer(client.ActionDevelop, bustest.Yes)
	if _, err := d.Client(t, client.Options{}).InjectIssue(t.Context(), client.Injection{Kind: "disk", Subject: "/", Severity: "critical", Value: 97, Threshold: 90}); err != nil {
		t.Fatal(err)
	}
	r := healingctl("dashboard")
	if r.code != show.ExitOK {
		t.Fatalf("exit code %d: %s", r.code, r.stderr)
	}
	t.Logf("\n%s", r.stdout)
	for _, want := range []string{"Health ● critical · 1 active issue · healing OFF", "  cpu       23.5%  ▃  of 80%  ok",
		"  ● critical  disk:/  watching  cleanup", "PREDICTIONS", "RECENT ACTIONS", "UNITS"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the snapshot lacks %q", want)
		}
	}
	if strings.Contains(r.stdout, "\x1b") || strings.Contains(r.stdout, "›") {
		t.Error("the plain snapshot has escape codes or a selection")
	}

	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	var out, errb bytes.Buffer
	if code := runContext(ctx, []string{"healingctl", "dashboard", "--every", "1s"}, &out, &errb); code != show.ExitOK {
		t.Fatalf("--every: exit code %d: %s", code, errb.String())
	}
	if n := strings.Count(out.String(), "── "); n != 2 { // each snapshot's heading: ── 2006-01-02 15:04:05 ──
		t.Errorf("--every 1s for 1.5s printed %d snapshots; want 2:\n%s", n, out.String())
	}
}

// A setting changed at run time (healingctl set) shows in the header, as in
// status and on the web dashboard, with how long it lasts; it goes with a
// reload. The dashboard showed nothing of it. No signal announces a
// setting: the dashboard sees it with the next check's (every 100ms here).
func TestDashboardShowsAnOverrideInForce(t *testing.T) {
	d := apitest.Start(t, apitest.Setup{Readings: dashboardReadings, Config: func(c *config.Config) {
		c.Healing.Enabled = false
		c.Monitoring.Interval = config.Duration(100 * time.Millisecond)
	}})
	d.Authority.Answer(client.ActionDevelop, bustest.Yes)
	p := startPane(t, []string{"DBUS_SYSTEM_BUS_ADDRESS=" + d.Bus.Address}, "dashboard")
	p.waitForText(t, "RESOURCES", "No active issues.")
	cl := d.Client(t, client.Options{})
	if err := cl.SetThreshold(t.Context(), "cpu", 70); err != nil {
		t.Fatal(err)
	}
	s := p.waitForText(t, "Override: thresholds.cpu=70")
	t.Logf("with the override:\n%s", s)
	if l := line(s, "Override: thresholds.cpu=70"); !strings.Contains(s, "until 'healingctl reload'") {
		t.Errorf("the override's line is %q; want it to say a reload ends it", l)
	}
	if colored := line(p.screen(t, true), "Override:"); !regexp.MustCompile(`\x1b\[[0-9;]*33m[^\x1b]*Override:`).MatchString(colored) {
		t.Errorf("the override is not yellow, as a warning: %q", colored)
	}
	if err := cl.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	p.waitFor(t, "the override gone after the reload", func(s string) bool {
		return !strings.Contains(s, "Override:") && strings.Contains(s, "No active issues.")
	})
}
