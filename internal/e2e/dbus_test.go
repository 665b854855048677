package e2e

import (
	"encoding/xml"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5/introspect"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/testbed"
)

const dbusConfig = `
[monitoring]
interval = "1s"
[services]
monitored = ["lh-web"]
`

// ctl is one healingctl run inside the machine.
type ctl struct {
	code           int
	stdout, stderr string
}

// healingctl runs healingctl as user ("" = root) in the machine, without a
// terminal, as a script or an ssh command would.
func (m *machine) healingctl(user string, args ...string) ctl {
	m.t.Helper()
	out, stderr, err := m.RunAs(m.t.Context(), orRoot(user), append([]string{"healingctl"}, args...)...)
	r := ctl{stdout: out, stderr: stderr}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		m.t.Fatalf("healingctl %v as %s: %v", args, orRoot(user), err)
	}
	return r
}

// healingctlOnTerminal runs healingctl as user on a pseudo-terminal
// (script(1)), as a person types it, and types password whenever polkit's
// text agent asks for one. It returns everything the terminal showed, ending in
// "EXIT=<code>".
func (m *machine) healingctlOnTerminal(user, password string, args ...string) string {
	m.t.Helper()
	cmd := m.Command(m.t.Context(), user, "script", "-qec", "healingctl "+strings.Join(args, " ")+"; echo EXIT=$?", "/dev/null")
	in, err := cmd.StdinPipe()
	if err != nil {
		m.t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		m.t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		m.t.Fatal(err)
	}
	kill := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	defer kill.Stop()
	chunks := make(chan []byte)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 512)
			n, err := out.Read(buf)
			if n > 0 {
				chunks <- buf[:n]
			}
			if err != nil {
				return
			}
		}
	}()
	// The agent prints "Password:" and only then turns echo off, flushing
	// what was typed before: type a moment after each prompt, and again if
	// nothing happens (polkit asks up to three times anyway).
	var screen strings.Builder
	typed, pending, last := 0, false, time.Time{}
	for {
		select {
		case c, ok := <-chunks:
			if !ok {
				cmd.Wait()
				return screen.String()
			}
			screen.Write(c)
			pending = false
			continue
		case <-time.After(300 * time.Millisecond):
		}
		prompts := strings.Count(screen.String(), "Password:")
		if typed < prompts || pending && time.Since(last) > 2*time.Second {
			io.WriteString(in, password+"\n")
			typed, pending, last = prompts, true, time.Now()
		}
	}
}

func orRoot(user string) string {
	if user == "" {
		return "root"
	}
	return user
}

// TestTheDBusAPIOnTheRealStack drives the daemon's D-Bus API the way people
// do — busctl and healingctl as an unprivileged user, as a wheel member with
// the shipped polkit rules, and as root — against a real system bus, polkitd
// and systemd. One machine serves every step: booting one takes seconds.
func TestTheDBusAPIOnTheRealStack(t *testing.T) {
	rules, err := os.ReadFile(repoRoot(t) + "/polkit/org.luminous.healing.rules")
	if err != nil {
		t.Fatal(err)
	}
	m := bootInstalled(t, boot{
		config: dbusConfig,
		units: map[string]testbed.File{
			"lh-web.service":   unitFile("/bin/sleep infinity"),
			"lh-other.service": unitFile("/bin/sleep infinity"),
		},
		start: []string{"lh-web.service", "lh-other.service"},
		// The example rules, installed as the docs say.
		files: map[string]testbed.File{"/etc/polkit-1/rules.d/50-luminous-healing.rules": {Data: rules, Mode: 0o644}},
	})
	for _, u := range []struct{ name, group string }{{"alice", ""}, {"wheeler", "wheel"}} {
		var groups []string
		if u.group != "" {
			groups = append(groups, u.group)
		}
		if err := m.AddUser(t.Context(), u.name, groups...); err != nil {
			t.Fatal(err)
		}
	}
	m.MustRun(t, "sh", "-c", "echo root:s3cret | chpasswd") // the administrator polkit asks for
	uid := func(user string) string { return strings.TrimSpace(m.MustRun(t, "id", "-u", user)) }
	alice, wheeler := uid("alice"), uid("wheeler")
	t0 := time.Now()

	t.Run("busctl introspect shows the interface", func(t *testing.T) {
		out := m.MustRun(t, "busctl", "introspect", "org.luminous.Healing", "/org/luminous/Healing")
		raw, err := os.ReadFile("../../dbus/org.luminous.Healing1.xml")
		if err != nil {
			t.Fatal(err)
		}
		var node introspect.Node
		if err := xml.Unmarshal(raw, &node); err != nil || len(node.Interfaces) != 1 {
			t.Fatalf("the interface XML: %v", err)
		}
		want := []string{"org.luminous.Healing1", "emits-change"}
		iface := node.Interfaces[0]
		for _, m := range iface.Methods {
			want = append(want, "."+m.Name)
		}
		for _, p := range iface.Properties {
			want = append(want, "."+p.Name)
		}
		for _, s := range iface.Signals {
			want = append(want, "."+s.Name)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("busctl introspect lacks %s:\n%s", w, out)
			}
		}
	})

	t.Run("the bus policy lets only root own the name", func(t *testing.T) {
		_, stderr, err := m.RunAs(t.Context(), "alice", "dbus-send", "--system", "--print-reply", "--dest=org.freedesktop.DBus",
			"/org/freedesktop/DBus", "org.freedesktop.DBus.RequestName", "string:org.luminous.Healing", "uint32:4")
		if err == nil || !strings.Contains(stderr, "AccessDenied") {
			t.Errorf("alice's RequestName: %v, %q; want AccessDenied", err, stderr)
		}
	})

	t.Run("an unprivileged user reads the status", func(t *testing.T) {
		r := m.healingctl("alice", "status")
		if r.code != 0 || !strings.Contains(r.stdout, "Health:") || !strings.Contains(r.stdout, "lh-web.service") {
			t.Errorf("exit %d; want 0 and the status:\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("an unprivileged user is denied heal and restart and nothing changes", func(t *testing.T) {
		// An issue to heal: root injects one while automatic healing is
		// off, so it stays open.
		if r := m.healingctl("", "set", "healing", "off"); r.code != 0 {
			t.Fatalf("root: set healing off: exit %d: %s", r.code, r.stderr)
		}
		if r := m.healingctl("", "inject", "cpu"); r.code != 0 {
			t.Fatalf("root: inject cpu: exit %d: %s", r.code, r.stderr)
		}
		pid := m.prop("lh-web.service", "MainPID")
		for i, args := range [][]string{{"restart", "lh-web"}, {"heal", "cpu"}, {"--no-ask-password", "restart", "lh-web"}} {
			r := m.healingctl("alice", args...)
			if i == 0 {
				report(t, "exit %d: %s", r.code, strings.ReplaceAll(strings.TrimSpace(r.stderr), "\n", " / "))
			}
			if r.code != 4 || !strings.Contains(r.stderr, "access denied") {
				t.Errorf("alice: healingctl %v: exit %d, %q; want 4 and a message saying access was denied", args, r.code, r.stderr)
			}
			if n := strings.Count(strings.TrimSpace(r.stderr), "\n"); n > 1 {
				t.Errorf("alice: healingctl %v: %d lines of error; want one or two", args, n+1)
			}
		}
		if got := m.prop("lh-web.service", "MainPID"); got != pid {
			t.Errorf("lh-web's MainPID changed from %s to %s: something restarted it", pid, got)
		}
	})

	t.Run("a wheel member with the shipped rules restarts a monitored unit", func(t *testing.T) {
		pid := m.prop("lh-web.service", "MainPID")
		r := m.healingctl("wheeler", "restart", "lh-web")
		if r.code != 0 || !strings.Contains(r.stdout, "restart lh-web.service: succeeded") {
			t.Fatalf("exit %d; want 0 and the result:\n%s%s", r.code, r.stdout, r.stderr)
		}
		report(t, "%s", strings.TrimSpace(r.stdout))
		if got := m.prop("lh-web.service", "MainPID"); got == pid || !m.isActive("lh-web.service") {
			t.Errorf("lh-web: MainPID %s → %s, active %v; want a new process, active", pid, got, m.isActive("lh-web.service"))
		}
	})

	t.Run("development calls are refused to both without a password", func(t *testing.T) {
		for _, user := range []string{"alice", "wheeler"} {
			for _, args := range [][]string{{"set", "dry-run", "on"}, {"restart", "lh-other"}, {"set", "threshold", "cpu", "50"}} {
				r := m.healingctl(user, args...)
				if r.code != 4 {
					t.Errorf("%s: healingctl %v: exit %d, %q; want 4", user, args, r.code, r.stderr)
				}
			}
		}
		out, _ := m.run("busctl", "get-property", "org.luminous.Healing", "/org/luminous/Healing", "org.luminous.Healing1", "DryRun")
		if strings.TrimSpace(out) != "b false" {
			t.Errorf("DryRun is %q; want b false", out)
		}
	})

	t.Run("on a terminal polkit asks for the administrator's password through pkttyagent", func(t *testing.T) {
		screen := m.healingctlOnTerminal("alice", "s3cret", "set", "threshold", "memory", "97")
		if !strings.Contains(screen, "AUTHENTICATING FOR org.luminous.healing.develop") || !strings.Contains(screen, "EXIT=0") {
			t.Fatalf("want a password prompt and success; the terminal showed:\n%s", screen)
		}
		report(t, "prompted by pkttyagent, then: %q", lastLines(screen, 2))
		screen = m.healingctlOnTerminal("alice", "wrong", "set", "threshold", "memory", "96")
		if !strings.Contains(screen, "EXIT=4") {
			t.Errorf("a wrong password, three times: want exit 4; the terminal showed:\n%s", screen)
		}
		screen = m.healingctlOnTerminal("alice", "s3cret", "--no-ask-password", "set", "threshold", "memory", "95")
		if strings.Contains(screen, "Password:") || !strings.Contains(screen, "EXIT=4") {
			t.Errorf("--no-ask-password: want no prompt and exit 4; the terminal showed:\n%s", screen)
		}
		st := m.healingctl("alice", "--json", "status")
		if !strings.Contains(st.stdout, `"threshold": 97`) {
			t.Errorf("the memory threshold is not 97 after the one authenticated call:\n%s", st.stdout)
		}
	})

	t.Run("root may do everything", func(t *testing.T) {
		if r := m.healingctl("", "restart", "lh-other"); r.code != 0 {
			t.Errorf("root: restart an unmonitored unit: exit %d: %s", r.code, r.stderr)
		}
	})

	t.Run("the audit records every decision with the caller's uid", func(t *testing.T) {
		denied := m.journal("luminous-healing.service", t0, field("MESSAGE_ID", audit.MessageIDs[audit.CallDenied]))
		allowed := m.journal("luminous-healing.service", t0, field("MESSAGE_ID", audit.MessageIDs[audit.CallAllowed]))
		count := func(es []testbed.JournalEntry, uid, method string) int {
			n := 0
			for _, e := range es {
				if e.Field("HEALING_CALLER_UID") == uid && e.Field("HEALING_ACTION") == method {
					n++
				}
			}
			return n
		}
		for _, c := range []struct {
			what    string
			entries []testbed.JournalEntry
			uid     string
			method  string
			want    int
		}{
			{"alice's denied restarts", denied, alice, "RestartUnit", 3},
			{"alice's denied heal", denied, alice, "Heal", 1},
			{"alice's denied settings", denied, alice, "SetDryRun", 1},
			{"alice's authenticated threshold", allowed, alice, "SetThreshold", 1},
			{"alice's threshold refused on a wrong password or without asking", denied, alice, "SetThreshold", 3},
			{"wheeler's denied settings", denied, wheeler, "SetThreshold", 1},
			{"wheeler's allowed restart", allowed, wheeler, "RestartUnit", 1},
			{"root's allowed restart", allowed, "0", "RestartUnit", 1},
		} {
			if got := count(c.entries, c.uid, c.method); got != c.want {
				t.Errorf("%s: %d journal records; want %d", c.what, got, c.want)
			}
		}
		report(t, "%d denied and %d allowed calls audited", len(denied), len(allowed))
	})

	t.Run("a stopped daemon is reported in one line, and D-Bus activation starts it once enabled", func(t *testing.T) {
		m.MustRun(t, "systemctl", "stop", "luminous-healing.service")
		r := m.healingctl("alice", "status")
		if r.code != 3 || !strings.Contains(r.stderr, "not running") || !strings.Contains(r.stderr, "systemctl enable --now luminous-healing") {
			t.Errorf("exit %d, %q; want 3 and how to start it", r.code, r.stderr)
		}
		m.MustRun(t, "systemctl", "enable", "luminous-healing.service")
		if r := m.healingctl("alice", "status"); r.code != 0 {
			t.Errorf("after enabling: exit %d, %q; want the bus to activate the daemon", r.code, r.stderr)
		}
	})
}

func lastLines(s string, n int) string {
	s = strings.NewReplacer("\x1b[0m", "", "\x1b[1;31m", "", "\r", "").Replace(s)
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}
