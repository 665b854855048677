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

	"github.com/godbus/dbus/v5"

	"github.com/luminous-healing/luminous-healing/internal/bustest"
	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/ctl/show"
	"github.com/luminous-healing/luminous-healing/internal/dbusapi/apitest"
)

// buttonServer is a fake notification server that shows actions, as
// GNOME's, KDE's and dunst's do; conn is its connection, from which it
// emits ActionInvoked.
type buttonServer struct {
	*fakeNotifications
	conn *dbus.Conn
}

// serveNotifications owns org.freedesktop.Notifications on bus with a
// fake server of the given capabilities.
func serveNotifications(t *testing.T, bus *bustest.Bus, caps ...string) *buttonServer {
	t.Helper()
	f := &fakeNotifications{calls: make(chan notifyCall, 64), caps: caps}
	conn := bus.Conn(t)
	if err := conn.Export(f, notificationsPath, notificationsIface); err != nil {
		t.Fatal(err)
	}
	if reply, err := conn.RequestName(notificationsName, dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("owning %s: %v, %v", notificationsName, reply, err)
	}
	return &buttonServer{f, conn}
}

// press emits ActionInvoked for a notification, as a server does when its
// button is pressed.
func (s *buttonServer) press(t *testing.T, id uint32, action string) {
	t.Helper()
	if err := s.conn.Emit(notificationsPath, notificationsIface+".ActionInvoked", id, action); err != nil {
		t.Fatal(err)
	}
}

// nextWith waits for the notification whose summary contains want and
// that offers the action, skipping others.
func (s *buttonServer) nextWith(t *testing.T, want, action string) notifyCall {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c := s.next(t, want)
		if action == "" || slices.Contains(c.actions, action) {
			return c
		}
		t.Logf("skipping %q with actions %v", c.summary, c.actions)
	}
	t.Fatalf("no notification %q offering %q", want, action)
	return notifyCall{}
}

// fakeOpener puts an xdg-open first in PATH that writes its arguments to
// the file it returns: the Details action's browser.
func fakeOpener(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "opened")
	script := "#!/bin/sh\necho \"$@\" > " + out + ".tmp && mv " + out + ".tmp " + out + "\n"
	if err := os.WriteFile(filepath.Join(dir, "xdg-open"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	return out
}

// heals returns the authorization checks of the heal action so far.
func heals(a *bustest.FakeAuthority) []bustest.Request {
	var out []bustest.Request
	for _, r := range a.Requests() {
		if r.Action == client.ActionHeal {
			out = append(out, r)
		}
	}
	return out
}

// desktopSetup is a daemon that does not heal by itself, a session bus with
// a notification server that shows buttons, and healingctl watch --notify
// between them.
func desktopSetup(t *testing.T, heal bustest.Answer) (*apitest.Daemon, *buttonServer, string) {
	t.Helper()
	d := apitest.Start(t, apitest.Setup{Config: func(c *config.Config) { c.Healing.Enabled = false }})
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", d.Bus.Address)
	d.Authority.Answer(client.ActionDevelop, bustest.Yes)
	d.Authority.Answer(client.ActionHeal, heal)
	session := bustest.Start(t)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", session.Address)
	opened := fakeOpener(t)
	server := serveNotifications(t, session, "actions", "body", "body-markup")
	cl := d.Client(t, client.Options{})
	if _, err := cl.InjectIssue(t.Context(), client.Injection{Kind: "unit", Subject: "web", Severity: "critical", Message: "web.service failed"}); err != nil {
		t.Fatal(err)
	}
	startWatch(t)
	return d, server, opened
}

// Automatic healing is off: the issue's notification offers Heal now;
// pressing it heals through the daemon, asking polkit with interaction
// allowed, and the outcome replaces the notification. Clicking it then
// opens the dashboard.
func TestHealNowOnANotificationHealsTheIssue(t *testing.T) {
	d, server, opened := desktopSetup(t, bustest.Yes)
	watched := server.nextWith(t, "Critical: unit:web.service", actHeal)
	if !slices.Equal(watched.actions, []string{"heal", "Heal now", "default", "Details"}) {
		t.Errorf("actions %q; want Heal now and Details", watched.actions)
	}
	if len(heals(d.Authority)) != 0 {
		t.Fatal("polkit was asked to heal before anyone pressed Heal now")
	}
	server.press(t, watched.id, actHeal)

	healing := server.next(t, "Healing unit:web.service")
	healed := server.next(t, "Healed: unit:web.service")
	if healing.replaces != watched.id || healed.replaces != watched.id {
		t.Errorf("Healing… replaces %d, Healed replaces %d; want both the issue's notification %d", healing.replaces, healed.replaces, watched.id)
	}
	if !strings.Contains(healed.body, "restart web.service: succeeded") {
		t.Errorf("Healed body %q; want the action's result", healed.body)
	}
	hs := heals(d.Authority)
	if len(hs) != 1 || hs[0].Flags&1 == 0 {
		t.Fatalf("polkit checks of %s: %+v; want one, with AllowUserInteraction (flag 1) so the desktop's agent may ask", client.ActionHeal, hs)
	}
	if got := d.Mutations(); !slices.Contains(got, "RestartUnit web.service fail") {
		t.Errorf("systemd calls %q; want the restart", got)
	}

	server.press(t, healed.id, actDetails)
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(opened)
		if err == nil {
			if got := strings.TrimSpace(string(b)); got != defaultDetailsURL {
				t.Errorf("Details opened %q; want %q", got, defaultDetailsURL)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Details did not run xdg-open within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// polkit says no: the notification says so and keeps its button; nothing
// was restarted.
func TestHealNowDeniedIsSaidInTheNotification(t *testing.T) {
	d, server, _ := desktopSetup(t, bustest.No)
	watched := server.nextWith(t, "Critical: unit:web.service", actHeal)
	d.MarkMutations()
	server.press(t, watched.id, actHeal)
	denied := server.next(t, "Not allowed to heal unit:web.service")
	if denied.replaces != watched.id || !slices.Contains(denied.actions, actHeal) || urgency(denied) != urgencyNormal {
		t.Errorf("denial: replaces %d, actions %q, urgency %d; want %d, Heal now kept, normal", denied.replaces, denied.actions, urgency(denied), watched.id)
	}
	if !strings.Contains(denied.body, "polkit refused") {
		t.Errorf("denial body %q; want polkit named", denied.body)
	}
	if got := d.Mutations(); len(got) != 0 {
		t.Errorf("systemd calls after a denial: %q; want none", got)
	}
}

// ActionInvoked counts only from the notification server: another
// connection on the session bus that unicasts one to the notifier heals
// nothing.
func TestAForgedActionInvokedHealsNothing(t *testing.T) {
	d, server, _ := desktopSetup(t, bustest.Yes)
	watched := server.nextWith(t, "Critical: unit:web.service", actHeal)
	session := os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	evil, err := dbus.Connect(session)
	if err != nil {
		t.Fatal(err)
	}
	defer evil.Close()
	var notifier string
	if err := evil.BusObject().Call("org.freedesktop.DBus.GetNameOwner", 0, notifierName).Store(&notifier); err != nil {
		t.Fatalf("the notifier does not own %s: %v", notifierName, err)
	}
	msg := &dbus.Message{Type: dbus.TypeSignal, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldPath: dbus.MakeVariant(dbus.ObjectPath(notificationsPath)), dbus.FieldInterface: dbus.MakeVariant(notificationsIface),
		dbus.FieldMember: dbus.MakeVariant("ActionInvoked"), dbus.FieldDestination: dbus.MakeVariant(notifier),
		dbus.FieldSignature: dbus.MakeVariant(dbus.SignatureOf(watched.id, actHeal)),
	}, Body: []any{watched.id, actHeal}}
	if call := evil.Send(msg, nil); call.Err != nil {
		t.Fatal(call.Err)
	}
	if err := evil.Object(notifier, "/").Call("org.freedesktop.DBus.Peer.Ping", 0).Err; err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if hs := heals(d.Authority); len(hs) != 0 {
		t.Fatalf("a forged ActionInvoked reached polkit: %+v", hs)
	}
	// The server's own press still works.
	server.press(t, watched.id, actHeal)
	server.next(t, "Healed: unit:web.service")
}

// Given up: the notification offers Reset, which re-arms the breaker.
func TestResetOnAGivenUpNotificationReArmsIt(t *testing.T) {
	d, server, _ := desktopSetup(t, bustest.Yes)
	server.nextWith(t, "Critical: unit:web.service", actHeal)
	failure := client.Failure{ActionResult: client.ActionResult{Action: "restart", Target: "web.service", Issue: "unit:web.service",
		Outcome: "failed", Message: "job failed"}, State: "given-up", Severity: "critical", Attempts: 5}
	if err := d.Conn.Emit(client.ObjectPath, client.Interface+"."+client.SignalHealingFailed, client.Encode(failure)); err != nil {
		t.Fatal(err)
	}
	gaveUp := server.nextWith(t, "Gave up healing: unit:web.service", actReset)
	if !slices.Equal(gaveUp.actions, []string{"heal", "Heal now", "reset", "Reset", "default", "Details"}) {
		t.Errorf("actions %q; want Heal now, Reset and Details", gaveUp.actions)
	}
	server.press(t, gaveUp.id, actReset)
	rearmed := server.next(t, "Re-armed: unit:web.service")
	if rearmed.replaces != gaveUp.id {
		t.Errorf("Re-armed replaces %d; want %d", rearmed.replaces, gaveUp.id)
	}
	if hs := heals(d.Authority); len(hs) != 1 || hs[0].Flags&1 == 0 {
		t.Errorf("polkit checks: %+v; want one, interactive", hs)
	}
}

// Text from the daemon (or whoever owns its name) is shown as text: no
// control characters, markup escaped for a server that reads markup.
func TestDaemonTextIsMadeSafeForTheServer(t *testing.T) {
	d, server, _ := desktopSetup(t, bustest.Yes)
	server.nextWith(t, "Critical: unit:web.service", actHeal)
	evil := client.Issue{ID: "unit:x\x1b[2J.service", Kind: "unit", Severity: "warning", State: "open",
		Message: "<b>bold</b> & \x1b]0;title\x07 \u202eevil\ttab\r\nnext"}
	if err := d.Conn.Emit(client.ObjectPath, client.Interface+"."+client.SignalIssueDetected, client.Encode(evil)); err != nil {
		t.Fatal(err)
	}
	got := server.next(t, "Warning: unit:x")
	// internal/client shows control characters as inert escapes as it
	// decodes (see client.Printable); the notifier escapes markup.
	if got.summary != `Warning: unit:x\x1b[2J.service` {
		t.Errorf("summary %q; want the escape character shown as text", got.summary)
	}
	if got.body != `&lt;b&gt;bold&lt;/b&gt; &amp; \x1b]0;title\x07 \u202eevil\x09tab\x0d\x0anext` {
		t.Errorf("body %q; want markup escaped and control characters shown as text", got.body)
	}
}

// A notifier runs for a whole session: the notification server and the
// system bus may each go away and come back, and it carries on. A second
// notifier in the same session leaves it to the first.
func TestTheNotifierSurvivesTheServerAndTheSystemBus(t *testing.T) {
	dir, err := os.MkdirTemp("", "notifier-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	link := filepath.Join(dir, "system_bus_socket")
	first := apitest.Start(t, apitest.Setup{})
	first.Authority.Answer(client.ActionDevelop, bustest.Yes)
	if err := os.Symlink(first.Bus.Socket(), link); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path="+link)
	session := bustest.Start(t)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", session.Address)
	server := serveNotifications(t, session, "actions", "body")
	if _, err := first.Client(t, client.Options{}).InjectIssue(t.Context(), client.Injection{Kind: "memory", Value: 91, Threshold: 85}); err != nil {
		t.Fatal(err)
	}
	stop := startWatch(t)
	server.next(t, "Warning: memory")

	// (runNotifier itself: a second urfave/cli app in this process would
	// race with the first on the library's globals.)
	var twice bytes.Buffer
	err = runNotifier(t.Context(), &env{stdout: io.Discard, stderr: &twice}, notifyOptions{}, func(client.Event) error { return nil })
	if err != nil || !strings.Contains(twice.String(), "another notifier already runs") {
		t.Errorf("a second notifier: %v, %q; want nil and a message that one runs", err, twice.String())
	}

	// The notification server crashes; another takes its place and is
	// shown what is open.
	server.conn.Close()
	again := serveNotifications(t, session, "actions", "body")
	if c := again.next(t, "Warning: memory"); c.replaces != 0 {
		t.Errorf("the new server was asked to replace %d, an id of the old one", c.replaces)
	}

	// dbus-daemon dies; a new one comes up at the same path, with the
	// daemon on it.
	first.Bus.Stop(t)
	again.next(t, "luminous-healingd is out of reach")
	second := apitest.Start(t, apitest.Setup{})
	second.Authority.Answer(client.ActionDevelop, bustest.Yes)
	if _, err := second.Client(t, client.Options{}).InjectIssue(t.Context(), client.Injection{Kind: "disk", Subject: "/", Value: 97, Threshold: 90, Severity: "critical"}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(second.Bus.Socket(), link); err != nil {
		t.Fatal(err)
	}
	again.next(t, "luminous-healingd is back")
	again.next(t, "Critical: disk:/")

	r := stop()
	if r.code != show.ExitOK {
		t.Errorf("exit %d; want 0 once stopped\nstderr: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "the connection to the system bus closed; trying again") {
		t.Errorf("stderr %q; want the lost bus said once", r.stderr)
	}
}

// An issue the daemon opens while its automatic healing is off is offered
// Heal now once the daemon says it is watched, and not once healing is on
// and the daemon heals it. The notifier believes the daemon's signals:
// IssueDetected says open, the IssueChanged that follows says watching
// (engine, announce.go). Before, the daemon never said watching and the
// notifier guessed it from HealingEnabled.
func TestAnOpenIssueWhileHealingIsOffOffersHealNow(t *testing.T) {
	d := apitest.Start(t, apitest.Setup{Config: func(c *config.Config) { c.Healing.Enabled = false }})
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", d.Bus.Address)
	d.Authority.Answer(client.ActionDevelop, bustest.Yes)
	session := bustest.Start(t)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", session.Address)
	server := serveNotifications(t, session, "actions", "body")
	// An issue open at start: once it is shown, the notifier listens.
	cl := d.Client(t, client.Options{})
	if _, err := cl.InjectIssue(t.Context(), client.Injection{Kind: "memory", Value: 91, Threshold: 85}); err != nil {
		t.Fatal(err)
	}
	startWatch(t)
	server.next(t, "Warning: memory")
	if _, err := cl.InjectIssue(t.Context(), client.Injection{Kind: "unit", Subject: "web.service", Severity: "critical"}); err != nil {
		t.Fatal(err)
	}
	off := server.next(t, "Critical: unit:web.service")
	for !strings.Contains(off.body, "Watched, not healed automatically") {
		off = server.next(t, "Critical: unit:web.service") // open first, then watching
	}
	if !slices.Contains(off.actions, actHeal) {
		t.Errorf("healing off: actions %q, body %q; want Heal now and the issue said to be watched", off.actions, off.body)
	}

	if err := cl.SetHealingEnabled(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	// The daemon heals it at once; the notification says so (in whichever
	// order it comes with "Automatic healing is on").
	on := server.next(t, "Critical: unit:web.service")
	if slices.Contains(on.actions, actHeal) || strings.Contains(on.body, "Watched") {
		t.Errorf("healing on: actions %q, body %q; want no Heal now, the issue no longer said to be watched", on.actions, on.body)
	}
}
