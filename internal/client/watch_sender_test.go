package client_test

import (
	"os"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/luminous-healing/luminous-healing/internal/bustest"
	"github.com/luminous-healing/luminous-healing/internal/client"
)

// forger is a connection of another user (nobody, where the test runs as
// root; else another connection of the test's user) on the daemon's bus.
func forger(t *testing.T, bus *bustest.Bus) *dbus.Conn {
	t.Helper()
	if os.Geteuid() == 0 {
		return bus.ConnAs(t, 65534)
	}
	t.Log("not root: the forger is another connection of the same user")
	return bus.Conn(t)
}

// unicast sends a signal that looks like the daemon's to one connection
// only: the bus delivers a unicast signal whatever the receiver's match
// rules say, so only the receiver can refuse it.
func unicast(t *testing.T, from *dbus.Conn, to string, path dbus.ObjectPath, member string, body ...any) {
	t.Helper()
	msg := &dbus.Message{Type: dbus.TypeSignal, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldPath:        dbus.MakeVariant(path),
		dbus.FieldInterface:   dbus.MakeVariant(client.Interface),
		dbus.FieldMember:      dbus.MakeVariant(member),
		dbus.FieldDestination: dbus.MakeVariant(to),
	}, Body: body}
	if member == "PropertiesChanged" {
		msg.Headers[dbus.FieldInterface] = dbus.MakeVariant("org.freedesktop.DBus.Properties")
	}
	if len(body) > 0 {
		msg.Headers[dbus.FieldSignature] = dbus.MakeVariant(dbus.SignatureOf(body...))
	}
	if call := from.Send(msg, nil); call.Err != nil {
		t.Fatal(call.Err)
	}
	// A call after it from the same connection returns once the bus has
	// handed the signal over: messages between two peers keep their order.
	if err := from.Object(to, "/").Call("org.freedesktop.DBus.Peer.Ping", 0).Err; err != nil {
		t.Fatal(err)
	}
}

// firstIssue returns the next event that carries an issue or changed
// properties, skipping the bus's own NameOwnerChanged.
func firstIssue(t *testing.T, events <-chan client.Event) client.Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("the stream ended")
			}
			if ev.Signal != client.SignalNameOwnerChanged {
				return ev
			}
		case <-timeout:
			t.Fatal("no signal within 10s")
		}
	}
}

// Only the connection that owns org.luminous.Healing speaks for the daemon:
// another user's connection may unicast a well-formed IssueDetected (or
// PropertiesChanged) to a watcher, and the watcher must drop it. (Before
// the sender was pinned, the forged issue came out of Watch first.)
func TestWatchDropsSignalsForgedByAnotherConnection(t *testing.T) {
	bus := bustest.Start(t)
	daemon := bus.Conn(t)
	if reply, err := daemon.RequestName(client.BusName, dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("owning %s: %v %v", client.BusName, reply, err)
	}
	c := client.New(bus.Conn(t), client.Options{NoAutoStart: true})
	events, err := c.Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	me := c.Conn().Names()[0]
	evil := forger(t, bus)

	forged := client.Encode(client.Issue{ID: "unit:forged.service", Kind: "unit", Severity: "critical", Message: "forged"})
	unicast(t, evil, me, client.ObjectPath, client.SignalIssueDetected, forged)
	unicast(t, evil, me, client.ObjectPath, "PropertiesChanged", client.Interface,
		map[string]dbus.Variant{client.PropHealingEnabled: dbus.MakeVariant(false)}, []string{})
	// A broadcast from the forger: the bus itself keeps it from us, as the
	// match rule names the daemon's bus name.
	if err := evil.Emit(client.ObjectPath, client.Interface+"."+client.SignalIssueDetected, forged); err != nil {
		t.Fatal(err)
	}

	real := client.Encode(client.Issue{ID: "memory", Kind: "memory", Severity: "warning"})
	if err := daemon.Emit(client.ObjectPath, client.Interface+"."+client.SignalIssueDetected, real); err != nil {
		t.Fatal(err)
	}
	if ev := firstIssue(t, events); ev.Issue == nil || ev.Issue.ID != "memory" {
		t.Fatalf("first event: got %s %+v; want the daemon's IssueDetected memory, the forged ones dropped", ev.Signal, ev.Issue)
	}

	// The daemon's own unicast (none today, but allowed) still counts.
	unicast(t, daemon, me, client.ObjectPath, client.SignalIssueDetected, client.Encode(client.Issue{ID: "load", Kind: "load"}))
	if ev := firstIssue(t, events); ev.Issue == nil || ev.Issue.ID != "load" {
		t.Fatalf("the owner's unicast: got %s %+v; want IssueDetected load", ev.Signal, ev.Issue)
	}
}

// When the name changes hands (the daemon restarts), the watcher follows:
// the new owner is believed, the old one no longer is.
func TestWatchFollowsTheOwnerOfTheName(t *testing.T) {
	bus := bustest.Start(t)
	old := bus.Conn(t)
	if reply, err := old.RequestName(client.BusName, dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("owning %s: %v %v", client.BusName, reply, err)
	}
	c := client.New(bus.Conn(t), client.Options{NoAutoStart: true})
	events, err := c.Watch(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	me := c.Conn().Names()[0]
	if _, err := old.ReleaseName(client.BusName); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, events, client.SignalNameOwnerChanged); ev.Running() {
		t.Fatalf("after the release: owner %q; want none", ev.Owner)
	}
	// Nobody owns the name: nobody speaks for the daemon.
	unicast(t, old, me, client.ObjectPath, client.SignalIssueDetected, client.Encode(client.Issue{ID: "unit:stale.service"}))

	fresh := bus.Conn(t)
	if reply, err := fresh.RequestName(client.BusName, dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("owning %s again: %v %v", client.BusName, reply, err)
	}
	if ev := next(t, events, client.SignalNameOwnerChanged); ev.Owner != fresh.Names()[0] {
		t.Fatalf("after the new owner came: owner %q; want %q", ev.Owner, fresh.Names()[0])
	}
	unicast(t, old, me, client.ObjectPath, client.SignalIssueDetected, client.Encode(client.Issue{ID: "unit:old.service"}))
	if err := fresh.Emit(client.ObjectPath, client.Interface+"."+client.SignalIssueDetected, client.Encode(client.Issue{ID: "memory"})); err != nil {
		t.Fatal(err)
	}
	if ev := firstIssue(t, events); ev.Issue == nil || ev.Issue.ID != "memory" {
		t.Fatalf("first event after the change: got %s %+v; want the new owner's memory, the old owner's dropped", ev.Signal, ev.Issue)
	}
}
