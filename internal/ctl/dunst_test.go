package ctl

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/luminous-healing/luminous-healing/internal/bustest"
	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/dbusapi/apitest"
)

// This file runs watch --notify against a real notification server:
// dunst, on an X server of its own (Xvfb), on a private session bus; the
// daemon is the real D-Bus server and engine on a private system bus,
// with fake systemd and a fake polkit authority (apitest) so that the Heal
// a button asks for can be seen arrive.

// need skips the test when a program is missing.
func need(t *testing.T, progs ...string) {
	t.Helper()
	for _, p := range progs {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s is not installed (Debian: apt install xvfb dunst imagemagick): skipping the test on a real notification server", p)
		}
	}
}

// startChild runs cmd until the test ends and logs its output if it failed.
func startChild(t *testing.T, name string, cmd *exec.Cmd) {
	t.Helper()
	var out bustest.LockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out.String())
		}
	})
}

// startXvfb starts an X server on a free display and returns its name.
func startXvfb(t *testing.T) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", "1024x640x24", "-nolisten", "tcp")
	cmd.ExtraFiles = []*os.File{w}
	startChild(t, "Xvfb", cmd)
	w.Close()
	line := make(chan string, 1)
	go func() { s, _ := bufio.NewReader(r).ReadString('\n'); line <- strings.TrimSpace(s) }()
	select {
	case n := <-line:
		if _, err := strconv.Atoi(n); err != nil {
			t.Fatalf("Xvfb did not start (it printed display %q)", n)
		}
		return ":" + n
	case <-time.After(20 * time.Second):
		t.Fatal("Xvfb did not print its display within 20s")
		return ""
	}
}

// observed is one Notify call as the bus carried it, with dunst's reply.
type observed struct {
	summary, body string
	replaces, id  uint32
	actions       []string
	hints         map[string]dbus.Variant
}

// busMonitor records every Notify call on a bus and the id the server
// answered, through org.freedesktop.DBus.Monitoring.BecomeMonitor: the
// exact arguments, as the server received them.
type busMonitor struct {
	mu      sync.Mutex
	pending map[string]observed // sender/serial → the call, until its reply
	calls   chan observed
	invoked chan string // ActionInvoked's action keys, as the server sent them
}

func monitorNotify(t *testing.T, address string) *busMonitor {
	t.Helper()
	conn, err := dbus.Connect(address)
	if err != nil {
		t.Fatal(err)
	}
	m := &busMonitor{pending: map[string]observed{}, calls: make(chan observed, 64), invoked: make(chan string, 16)}
	msgs := make(chan *dbus.Message, 1024)
	conn.Eavesdrop(msgs) // the BecomeMonitor reply too: godbus hands nothing to its callers from here on
	// Close alone would close msgs while godbus's reader may still be
	// about to send it a message read before the transport closed (a
	// panic, "send on closed channel", seen under -race). Eavesdrop(nil)
	// waits for any send in progress, and no send follows it.
	t.Cleanup(func() {
		conn.Eavesdrop(nil)
		close(msgs)
		conn.Close()
	})
	conn.BusObject().Go("org.freedesktop.DBus.Monitoring.BecomeMonitor", 0, nil, []string{}, uint32(0))
	go func() {
		for msg := range msgs {
			m.record(msg)
		}
	}()
	return m
}

func (m *busMonitor) record(msg *dbus.Message) {
	hdr := func(f dbus.HeaderField) string { s, _ := msg.Headers[f].Value().(string); return s }
	switch msg.Type {
	case dbus.TypeMethodCall:
		if hdr(dbus.FieldMember) != "Notify" || hdr(dbus.FieldInterface) != notificationsIface || len(msg.Body) != 8 {
			return
		}
		o := observed{}
		o.replaces, _ = msg.Body[1].(uint32)
		o.summary, _ = msg.Body[3].(string)
		o.body, _ = msg.Body[4].(string)
		o.actions, _ = msg.Body[5].([]string)
		o.hints, _ = msg.Body[6].(map[string]dbus.Variant)
		m.mu.Lock()
		m.pending[hdr(dbus.FieldSender)+"/"+strconv.FormatUint(uint64(msg.Serial()), 10)] = o
		m.mu.Unlock()
	case dbus.TypeMethodReply:
		serial, _ := msg.Headers[dbus.FieldReplySerial].Value().(uint32)
		key := hdr(dbus.FieldDestination) + "/" + strconv.FormatUint(uint64(serial), 10)
		m.mu.Lock()
		o, ok := m.pending[key]
		delete(m.pending, key)
		m.mu.Unlock()
		if ok && len(msg.Body) == 1 {
			o.id, _ = msg.Body[0].(uint32)
			m.calls <- o
		}
	case dbus.TypeSignal:
		if hdr(dbus.FieldMember) == "ActionInvoked" && len(msg.Body) == 2 {
			key, _ := msg.Body[1].(string)
			m.invoked <- key
		}
	}
}

// next waits for the Notify call whose summary starts with prefix.
func (m *busMonitor) next(t *testing.T, prefix string) observed {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case o := <-m.calls:
			if strings.HasPrefix(o.summary, prefix) {
				return o
			}
			t.Logf("monitor: Notify %q (id %d)", o.summary, o.id)
		case <-timeout:
			t.Fatalf("no Notify %q within 20s", prefix)
		}
	}
}

// screenshot saves the X screen under $ARTIFACTS_DIR (else the test's
// temporary directory) and returns the file.
func screenshot(t *testing.T, display, name string) string {
	t.Helper()
	dir := os.Getenv("ARTIFACTS_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, name)
	out, err := exec.Command("import", "-display", display, "-window", "root", file).CombinedOutput()
	if err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	t.Logf("screenshot: %s", file)
	return file
}

// dunstHistory is `dunstctl history`: the notifications dunst closed.
type dunstHistory struct {
	Data [][]map[string]struct {
		Data any `json:"data"`
	} `json:"data"`
}

func TestNotificationsOnDunst(t *testing.T) {
	need(t, "Xvfb", "dunst", "dunstctl", "import")
	display := startXvfb(t)

	d := apitest.Start(t, apitest.Setup{Config: func(c *config.Config) { c.Healing.Enabled = false }})
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", d.Bus.Address)
	d.Authority.Answer(client.ActionDevelop, bustest.Yes)
	d.Authority.Answer(client.ActionHeal, bustest.Yes)

	session := bustest.Start(t)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", session.Address)
	t.Setenv("DISPLAY", display)
	t.Setenv("WAYLAND_DISPLAY", "") // restored at the end; unset meanwhile, so dunst draws on X
	os.Unsetenv("WAYLAND_DISPLAY")
	runtimeDir := t.TempDir()
	if err := os.Chmod(runtimeDir, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_RUNTIME_DIR", runtimeDir)
	monitor := monitorNotify(t, session.Address)
	opened := fakeOpener(t)

	// dunst's context menu is dmenu; this one writes what it was offered
	// and picks Heal now, as a person would.
	dir := t.TempDir()
	menu := filepath.Join(dir, "menu")
	dmenu := filepath.Join(dir, "dmenu")
	if err := os.WriteFile(dmenu, []byte("#!/bin/sh\ncat > "+menu+".tmp; mv "+menu+".tmp "+menu+"\ngrep -m1 'Heal now' "+menu+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	rc := filepath.Join(dir, "dunstrc")
	if err := os.WriteFile(rc, []byte("[global]\n    dmenu = "+dmenu+"\n    font = DejaVu Sans 11\n    width = 460\n    offset = 20x20\n    frame_width = 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dunst := exec.Command("dunst", "-config", rc)
	startChild(t, "dunst", dunst)
	waitForOwner(t, session, notificationsName)

	cl := d.Client(t, client.Options{})
	if _, err := cl.InjectIssue(t.Context(), client.Injection{Kind: "unit", Subject: "web", Severity: "critical",
		Message: "web.service failed <exit-code> & stopped"}); err != nil {
		t.Fatal(err)
	}
	stop := startWatch(t)

	// The issue, automatic healing off: a critical notification with Heal
	// now, its text escaped for dunst's markup.
	var shown observed
	for shown.actions == nil || !strings.Contains(strings.Join(shown.actions, ","), "heal") {
		shown = monitor.next(t, "Critical: unit:web.service")
	}
	if u, _ := shown.hints["urgency"].Value().(byte); u != urgencyCritical {
		t.Errorf("urgency %v; want critical", shown.hints["urgency"])
	}
	if want := "web.service failed &lt;exit-code&gt; &amp; stopped\nWatched, not healed automatically ('healingctl heal unit:web.service' acts now)."; shown.body != want {
		t.Errorf("body %q; want %q", shown.body, want)
	}
	if got := strings.Join(shown.actions, ","); got != "heal,Heal now,default,Details" {
		t.Errorf("actions %q; want Heal now and Details", got)
	}
	time.Sleep(300 * time.Millisecond) // let dunst draw it
	screenshot(t, display, "desktop-notification.png")

	// A click (dunst's "action" of the topmost notification is the
	// default one) opens Details.
	if out, err := exec.Command("dunstctl", "action", "0").CombinedOutput(); err != nil {
		t.Fatalf("dunstctl action 0: %v\n%s", err, out)
	}
	if key := waitFor(t, monitor.invoked); key != "default" {
		t.Errorf("dunstctl action 0 invoked %q; want default", key)
	}
	waitForFile(t, opened, defaultDetailsURL)

	// Heal now, through dunst's context menu.
	if out, err := exec.Command("dunstctl", "context").CombinedOutput(); err != nil {
		t.Fatalf("dunstctl context: %v\n%s", err, out)
	}
	if key := waitFor(t, monitor.invoked); key != "heal" {
		t.Errorf("the context menu invoked %q; want heal", key)
	}
	offered, _ := os.ReadFile(menu)
	if !strings.Contains(string(offered), "#Heal now (Critical: unit:web.service (injected))") {
		t.Errorf("dunst's context menu offered:\n%s\nwant Heal now", offered)
	}
	healing := monitor.next(t, "Healing unit:web.service")
	healed := monitor.next(t, "Healed: unit:web.service")
	if healing.replaces != shown.id || healed.replaces != shown.id || healed.id != shown.id {
		t.Errorf("Healing… replaces %d, Healed replaces %d and got id %d; want all %d, the issue's notification", healing.replaces, healed.replaces, healed.id, shown.id)
	}
	if hs := heals(d.Authority); len(hs) != 1 || hs[0].Flags&1 == 0 {
		t.Fatalf("polkit checks of heal: %+v; want one, with interaction allowed", hs)
	}
	if got := d.Mutations(); len(got) == 0 || got[len(got)-1] != "RestartUnit web.service fail" {
		t.Errorf("systemd calls %q; want the restart", got)
	}
	time.Sleep(300 * time.Millisecond)
	screenshot(t, display, "desktop-notification-healed.png")

	// What dunst itself holds: close everything and read its history.
	stop()
	if out, err := exec.Command("dunstctl", "close-all").CombinedOutput(); err != nil {
		t.Fatalf("dunstctl close-all: %v\n%s", err, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := exec.Command("dunstctl", "history").Output()
		if err != nil {
			t.Fatalf("dunstctl history: %v", err)
		}
		var h dunstHistory
		if err := json.Unmarshal(out, &h); err != nil {
			t.Fatalf("dunstctl history: %v\n%s", err, out)
		}
		var mine map[string]struct {
			Data any `json:"data"`
		}
		for _, n := range h.Data[0] {
			if id, _ := n["id"].Data.(float64); uint32(id) == shown.id {
				mine = n
			}
		}
		if mine != nil {
			if s := mine["summary"].Data; !strings.HasPrefix(s.(string), "Healed: unit:web.service") && !strings.HasPrefix(s.(string), "Resolved: unit:web.service") {
				t.Errorf("dunst's notification %d ends as %q; want Healed or Resolved", shown.id, s)
			}
			if a := mine["appname"].Data; a != notifyAppName {
				t.Errorf("appname %v; want %s", a, notifyAppName)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("notification %d is not in dunst's history:\n%s", shown.id, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func waitFor(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(20 * time.Second):
		t.Fatal("nothing within 20s")
		return ""
	}
}

func waitForFile(t *testing.T, file, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if b, err := os.ReadFile(file); err == nil {
			if got := strings.TrimSpace(string(b)); got != want {
				t.Errorf("%s holds %q; want %q", file, got, want)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not written within 20s", file)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitForOwner(t *testing.T, bus *bustest.Bus, name string) {
	t.Helper()
	conn := bus.Conn(t)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var has bool
		if err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, name).Store(&has); err == nil && has {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nobody owned %s within 20s", name)
}
