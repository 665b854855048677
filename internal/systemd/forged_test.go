package systemd

import (
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/luminous-healing/luminous-healing/internal/bustest"
	"github.com/luminous-healing/luminous-healing/internal/securitytest"
)

// This file's tests run the watcher and the manager on a private real
// dbus-daemon. systemd itself cannot run there, so a connection that owns
// org.freedesktop.systemd1 stands in for it (fakeSystemd): it answers the
// few manager calls the adapters make and sends the signals a real systemd
// would. A second connection — as the unprivileged user nobody when the
// test runs as root — forges the same signals, broadcast and unicast.

const fakeJob = dbus.ObjectPath("/org/freedesktop/systemd1/job/7")

type fakeSystemd struct{ conn *dbus.Conn }

func (fakeSystemd) Subscribe() *dbus.Error { return nil }
func (fakeSystemd) RestartUnit(name, mode string) (dbus.ObjectPath, *dbus.Error) {
	return fakeJob, nil
}
func (fakeSystemd) StartUnit(name, mode string) (dbus.ObjectPath, *dbus.Error) {
	return fakeJob, nil
}

type fakeProps struct{}

func (fakeProps) Get(iface, prop string) (dbus.Variant, *dbus.Error) {
	return dbus.MakeVariant("257"), nil
}

func startFakeSystemd(t *testing.T, b *bustest.Bus) *dbus.Conn {
	t.Helper()
	conn := b.Conn(t)
	claimSystemd(t, conn, fakeSystemd{conn})
	return conn
}

// claimSystemd exports manager as systemd's Manager on conn and takes
// systemd's name.
func claimSystemd(t testing.TB, conn *dbus.Conn, manager any) {
	t.Helper()
	if err := conn.Export(manager, managerPath, managerIface); err != nil {
		t.Fatal(err)
	}
	if err := conn.Export(fakeProps{}, managerPath, propsIface); err != nil {
		t.Fatal(err)
	}
	if reply, err := conn.RequestName(busName, dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("taking %s: %v, %v", busName, reply, err)
	}
}

// attacker returns a connection of an ordinary user where the test can make
// one (as root), else a second connection of the test's own user: the bus
// lets either send any signal.
func attacker(t *testing.T, b *bustest.Bus) *dbus.Conn {
	if os.Geteuid() == 0 {
		return b.ConnAs(t, 65534)
	}
	return b.Conn(t)
}

// forge sends a signal from conn, broadcast when to is "", else unicast to
// the connection named to; then it makes a round trip to the bus, so the
// bus has routed the forgery before anything the test sends next.
func forge(t *testing.T, conn *dbus.Conn, to string, path dbus.ObjectPath, iface, member string, body ...any) {
	t.Helper()
	msg := &dbus.Message{
		Type: dbus.TypeSignal,
		Headers: map[dbus.HeaderField]dbus.Variant{
			dbus.FieldPath:      dbus.MakeVariant(path),
			dbus.FieldInterface: dbus.MakeVariant(iface),
			dbus.FieldMember:    dbus.MakeVariant(member),
		},
		Body: body,
	}
	if to != "" {
		msg.Headers[dbus.FieldDestination] = dbus.MakeVariant(to)
	}
	if len(body) > 0 {
		msg.Headers[dbus.FieldSignature] = dbus.MakeVariant(dbus.SignatureOf(body...))
	}
	call := conn.Send(msg, make(chan *dbus.Call, 1))
	if call.Err != nil {
		t.Fatalf("forging %s: %v", member, call.Err)
	}
	var id string
	if err := conn.BusObject().Call(busDaemon+".GetId", 0).Store(&id); err != nil {
		t.Fatal(err)
	}
}

func propsChanged(state string) []any {
	return []any{unitIface, map[string]dbus.Variant{
		"ActiveState": dbus.MakeVariant(state), "SubState": dbus.MakeVariant(state),
	}, []string{}}
}

func TestWatcherTakesUnitSignalsOnlyFromSystemd(t *testing.T) {
	b := bustest.Start(t)
	sysd := startFakeSystemd(t, b)
	evil := attacker(t, b)
	ctx := t.Context()

	w, err := NewWatcher(ctx, b.Address, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Watch(ctx, []string{"web.service"}); err != nil {
		t.Fatal(err)
	}
	if ev := <-w.Events(); !ev.Resync {
		t.Fatalf("first event = %+v; want the resync Watch asks for", ev)
	}
	go w.Run(ctx)
	me := w.conn.Names()[0]
	path := UnitPath("web.service")

	forgeries := []struct {
		name string
		send func()
	}{
		{"a unicast PropertiesChanged(active)", func() {
			forge(t, evil, me, path, propsIface, "PropertiesChanged", propsChanged("active")...)
		}},
		{"a broadcast PropertiesChanged(active)", func() {
			forge(t, evil, "", path, propsIface, "PropertiesChanged", propsChanged("active")...)
		}},
		{"a unicast JobNew for the unit", func() {
			forge(t, evil, me, managerPath, managerIface, "JobNew", uint32(9), fakeJob, "web.service")
		}},
		{"a NameOwnerChanged claiming systemd's name, then a PropertiesChanged", func() {
			forge(t, evil, me, busDaemonPath, busDaemon, "NameOwnerChanged", busName, sysd.Names()[0], evil.Names()[0])
			forge(t, evil, me, path, propsIface, "PropertiesChanged", propsChanged("active")...)
		}},
	}
	for _, f := range forgeries {
		securitytest.Tried(t, securitytest.Forged, f.name+" (to the unit watcher)", 1)
		f.send()
	}
	// The real systemd's signal comes last: it must be the first event.
	if err := sysd.Emit(path, propsIface+".PropertiesChanged", propsChanged("failed")...); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-w.Events():
		if ev.ActiveState != "failed" || ev.Unit != "web.service" {
			t.Fatalf("first event = %+v; want systemd's own (web.service failed): a forged signal was believed", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("systemd's own PropertiesChanged never became an event")
	}
	select {
	case ev := <-w.Events():
		t.Fatalf("extra event %+v; want none", ev)
	case <-time.After(200 * time.Millisecond):
	}
	if got := w.Refused(); got < uint64(len(forgeries)) {
		t.Errorf("Refused() = %d; want at least %d (every forgery counted)", got, len(forgeries))
	}
}

func TestManagerTakesJobResultsOnlyFromSystemd(t *testing.T) {
	b := bustest.Start(t)
	sysd := startFakeSystemd(t, b)
	evil := attacker(t, b)
	ctx := t.Context()

	m, err := Dial(ctx, b.Address)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	ch := make(chan string, 1)
	if err := m.Restart(ctx, "web.service", ch); err != nil {
		t.Fatal(err)
	}
	removed := []any{uint32(7), fakeJob, "web.service", "failed"}
	securitytest.Tried(t, securitytest.Forged, "JobRemoved(failed) for the daemon's restart job, broadcast and unicast (private bus)", 1)
	forge(t, evil, "", managerPath, managerIface, "JobRemoved", removed...)
	var names []string
	if err := evil.BusObject().Call(busDaemon+".ListNames", 0).Store(&names); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if len(n) > 0 && n[0] == ':' && n != evil.Names()[0] && n != sysd.Names()[0] {
			forge(t, evil, n, managerPath, managerIface, "JobRemoved", removed...) // unicast to each of the manager's connections
		}
	}
	if err := sysd.Emit(managerPath, managerIface+".JobRemoved", uint32(7), fakeJob, "web.service", "done"); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-ch:
		if got != "done" {
			t.Fatalf("job result = %q; want systemd's own %q: a forged JobRemoved was believed", got, "done")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("systemd's own JobRemoved never became the job's result")
	}
}
