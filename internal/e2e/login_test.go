package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/testbed"
)

// loginConfig heals nothing by itself: issues wait for a person.
const loginConfig = `
[monitoring]
interval = "1s"
[healing]
enabled = false
[services]
monitored = ["lh-web"]
`

// lhSession stands in for a desktop's session manager: starting it starts
// graphical-session.target, as GNOME's and Plasma's session targets do.
const lhSession = `[Unit]
Description=The test's graphical session
BindsTo=graphical-session.target
Before=graphical-session.target
`

// A person logs in to a graphical session on a machine where make install
// ran: systemd --user starts luminous-healing-notifier.service through
// graphical-session.target, with no configuration; a unit fails; its
// notification appears on the session's notification server (dunst,
// bus-activated, on an X server of its own) with Heal now; choosing it in
// dunst's menu asks polkitd, which asks alice's authentication agent
// (pkttyagent, standing in for the desktop's) for the administrator's
// password — alice is not in wheel — and the unit is restarted through the
// real daemon and system bus.
func TestANotifierStartedAtLoginHealsFromTheNotification(t *testing.T) {
	for _, p := range []string{"Xvfb", "dunst", "dunstctl", "import"} {
		if _, err := os.Stat(filepath.Join("/usr/bin", p)); err != nil {
			t.Skipf("%s is not installed (Debian: apt install xvfb dunst imagemagick): skipping the graphical login scenario", p)
		}
	}
	if _, err := os.Stat("/usr/lib/systemd/user/dbus.socket"); err != nil {
		t.Skip("dbus-user-session is not installed: systemd --user has no session bus; skipping the graphical login scenario")
	}
	rules, err := os.ReadFile(repoRoot(t) + "/polkit/org.luminous.healing.rules")
	if err != nil {
		t.Fatal(err)
	}
	// dunst's menu (dmenu) as a person uses it: this one notes what it was
	// offered and picks lh-web's Heal now (the machine's own load may have
	// notifications with buttons too).
	dmenu := "#!/bin/sh\ncat > /tmp/lh-menu\ngrep -m1 '^#Heal now (.*unit:lh-web' /tmp/lh-menu\n"
	m := bootInstalled(t, boot{config: loginConfig, units: map[string]testbed.File{"lh-web.service": unitFile("/bin/sleep infinity")},
		start: []string{"lh-web.service"},
		files: map[string]testbed.File{
			"/etc/polkit-1/rules.d/50-luminous-healing.rules": {Data: rules, Mode: 0o644},
			"/etc/systemd/user/lh-session.target":             {Data: []byte(lhSession), Mode: 0o644},
			"/usr/local/bin/lh-dmenu":                         {Data: []byte(dmenu), Mode: 0o755},
			"/etc/xdg/dunst/dunstrc": {Data: []byte("[global]\n    dmenu = /usr/local/bin/lh-dmenu\n    font = DejaVu Sans 11\n" +
				"    width = 460\n    offset = 20x20\n"), Mode: 0o644},
		}})
	if err := m.AddUser(t.Context(), "alice"); err != nil {
		t.Fatal(err)
	}
	m.MustRun(t, "sh", "-c", "echo root:s3cret | chpasswd") // the administrator polkit asks for
	uid := strings.TrimSpace(m.MustRun(t, "id", "-u", "alice"))
	runtime := "/run/user/" + uid
	// alice runs a command in her session: her runtime directory and bus.
	// Every step is bounded: a step that blocks fails the test instead of
	// the whole suite's timeout.
	session := func(argv ...string) (string, error) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		out, stderr, err := m.RunAs(ctx, "alice", append([]string{"env", "XDG_RUNTIME_DIR=" + runtime,
			"DBUS_SESSION_BUS_ADDRESS=unix:path=" + runtime + "/bus", "DISPLAY=:7"}, argv...)...)
		if err != nil {
			return out, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, stderr)
		}
		return out, nil
	}
	mustSession := func(argv ...string) string {
		t.Helper()
		out, err := session(argv...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	t.Cleanup(func() {
		if t.Failed() {
			out, _ := session("journalctl", "--user", "--no-pager", "-o", "cat", "-u", "luminous-healing-notifier", "-u", "dunst")
			t.Logf("alice's notifier and dunst:\n%s\nthe daemon:\n%s", out, m.daemonLog())
		}
	})

	// The login: logind would start user@UID.service; then the desktop
	// its X server and its session target.
	t0 := time.Now()
	m.MustRun(t, "systemctl", "start", "user@"+uid+".service")
	m.waitFor(15*time.Second, "alice's session bus", func() bool {
		_, err := m.run("test", "-S", runtime+"/bus")
		return err == nil
	})
	mustSession("systemd-run", "--user", "--unit=lh-xvfb", "--quiet", "/usr/bin/Xvfb", ":7", "-screen", "0", "1024x640x24", "-nolisten", "tcp")
	m.waitFor(15*time.Second, "Xvfb", func() bool { _, err := m.run("test", "-S", "/tmp/.X11-unix/X7"); return err == nil })
	mustSession("systemctl", "--user", "set-environment", "DISPLAY=:7")
	mustSession("systemctl", "--user", "start", "lh-session.target")
	m.waitFor(20*time.Second, "luminous-healing-notifier.service in alice's session", func() bool {
		out, _ := session("systemctl", "--user", "is-active", "luminous-healing-notifier.service")
		return strings.TrimSpace(out) == "active"
	})
	started := time.Since(t0)

	// The XDG autostart entry's command, as a desktop that runs autostart
	// entries itself would start it in the same session: it leaves the
	// notifying to the unit's.
	// (Once the unit's notifier owns its session-bus name: active means
	// started, not yet settled.)
	m.waitFor(20*time.Second, "the notifier to own "+"org.luminous.Healing.Notifier", func() bool {
		out, _ := session("busctl", "--user", "call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
			"NameHasOwner", "s", "org.luminous.Healing.Notifier")
		return strings.TrimSpace(out) == "b true"
	})
	exec, err := m.run("sed", "-n", "s/^Exec=//p", "/etc/xdg/autostart/luminous-healing-notifier.desktop")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := session("sh", "-c", "timeout 20 "+strings.TrimSpace(exec)+" 2>&1; echo EXIT=$?"); err != nil ||
		!strings.Contains(out, "another notifier already runs") || !strings.Contains(out, "EXIT=0") {
		t.Errorf("the autostart entry's %q beside the user unit: %q, %v; want exit 0, leaving it to the unit", exec, out, err)
	}

	// A unit fails; healing is off, so it waits for a person.
	m.MustRun(t, "systemctl", "kill", "--signal=KILL", "lh-web.service")
	m.waitFor(20*time.Second, "the notification on dunst", func() bool {
		out, _ := session("dunstctl", "count", "displayed")
		return strings.TrimSpace(out) != "" && strings.TrimSpace(out) != "0"
	})
	time.Sleep(500 * time.Millisecond) // dunst draws it
	shot := func(name string) {
		t.Helper()
		b64 := mustSession("sh", "-c", "import -display :7 -window root png:- | base64 -w0")
		png, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		dir := os.Getenv("ARTIFACTS_DIR")
		if dir == "" {
			dir = t.TempDir()
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, name)
		if err := os.WriteFile(file, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", file)
	}
	shot("login-notification.png")

	// alice's authentication agent, for the notifier's process: a
	// desktop's agent (GNOME Shell's, Plasma's polkit-kde-agent) does the
	// same for the whole session, with a dialog instead of a terminal.
	pid := strings.TrimSpace(mustSession("systemctl", "--user", "show", "-P", "MainPID", "luminous-healing-notifier.service"))
	agent := startAgent(t, m, "alice", pid)

	// Heal now, from dunst's menu.
	t1 := time.Now()
	mustSession("dunstctl", "context")
	agent.answer(t, "s3cret")
	m.waitFor(30*time.Second, "lh-web restarted from the notification", func() bool { return m.isActive("lh-web.service") })
	healed := time.Since(t1)
	if s := agent.screen(); !strings.Contains(s, "AUTHENTICATING FOR org.luminous.healing.heal") {
		t.Errorf("the agent was not asked for org.luminous.healing.heal:\n%s", s)
	}
	menu, _ := m.run("cat", "/tmp/lh-menu")
	if !strings.Contains(menu, "#Heal now (Critical: unit:lh-web.service)") && !strings.Contains(menu, "#Heal now (Warning: unit:lh-web.service)") {
		t.Errorf("dunst's menu offered:\n%s\nwant Heal now for unit:lh-web.service", menu)
	}
	byAlice := m.journal("luminous-healing.service", t1, func(e testbed.JournalEntry) bool {
		return e.Field("HEALING_ACTION") == "restart" && e.Field("HEALING_TARGET") == "lh-web.service" && e.Field("HEALING_CALLER_UID") == uid
	})
	if len(byAlice) == 0 {
		t.Errorf("no restart of lh-web by uid %s in the daemon's journal:\n%s", uid, m.daemonLog())
	}
	time.Sleep(time.Second) // the outcome replaces the notification
	shot("login-notification-healed.png")
	m.waitFor(20*time.Second, "the notification to say it healed", func() bool {
		mustSession("dunstctl", "close-all")
		h := mustSession("dunstctl", "history")
		return strings.Contains(h, "Healed: unit:lh-web.service") || strings.Contains(h, "Resolved: unit:lh-web.service")
	})
	if t.Failed() {
		out, _ := session("journalctl", "--user", "-u", "luminous-healing-notifier", "--no-pager")
		t.Logf("the notifier's journal:\n%s", out)
		return
	}
	// A new session starts it again; turned off as docs/desktop.md says,
	// it does not.
	relogin := func() string {
		mustSession("systemctl", "--user", "stop", "lh-session.target")
		m.waitFor(15*time.Second, "the session's end to stop the notifier", func() bool {
			out, _ := session("systemctl", "--user", "is-active", "luminous-healing-notifier.service")
			return strings.TrimSpace(out) != "active"
		})
		mustSession("systemctl", "--user", "start", "lh-session.target")
		time.Sleep(time.Second)
		out, _ := session("systemctl", "--user", "is-active", "luminous-healing-notifier.service")
		return strings.TrimSpace(out)
	}
	if st := relogin(); st != "active" {
		t.Errorf("the notifier is %s in a new session; want active", st)
	}
	// --now: a masked unit loses its PartOf=, so the running one would
	// outlive the session otherwise.
	mustSession("systemctl", "--user", "mask", "--now", "luminous-healing-notifier.service")
	if st := relogin(); st == "active" {
		t.Error("the notifier started in a new session after systemctl --user mask")
	}
	report(t, "notifier up %s after login (graphical-session.target); Heal now in dunst, the admin password to alice's agent: lh-web restarted as alice in %s",
		started.Round(10*time.Millisecond), healed.Round(10*time.Millisecond))
}

// ttyAgent is pkttyagent on a pseudo-terminal (script(1)), registered for
// one process, as a person's authentication agent.
type ttyAgent struct {
	mu  sync.Mutex
	out strings.Builder
	in  io.WriteCloser
}

func startAgent(t *testing.T, m *machine, user, pid string) *ttyAgent {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	cmd := m.Command(ctx, user, "script", "-qec", "pkttyagent --process "+pid+" --notify-fd 3 3>/dev/null", "/dev/null")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	a := &ttyAgent{in: in}
	go func() {
		buf := make([]byte, 512)
		for {
			n, err := out.Read(buf)
			a.mu.Lock()
			a.out.Write(buf[:n])
			a.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	time.Sleep(time.Second) // registering with polkitd
	return a
}

func (a *ttyAgent) screen() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.out.String()
}

// answer waits for the agent's password prompt and types password. The
// agent turns echo off only after printing its prompt: type a moment after.
func (a *ttyAgent) answer(t *testing.T, password string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(a.screen(), "Password:") {
		if time.Now().After(deadline) {
			t.Fatalf("the agent was not asked for a password within 30s:\n%s", a.screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	if _, err := io.WriteString(a.in, password+"\n"); err != nil {
		t.Fatal(err)
	}
}
