package systemd

import (
	"context"
	"fmt"
	"sync"

	"github.com/godbus/dbus/v5"
)

const (
	busDaemon     = "org.freedesktop.DBus"
	busDaemonPath = dbus.ObjectPath("/org/freedesktop/DBus")
)

// owner follows the unique name that owns org.freedesktop.systemd1.
//
// Any local user may send a signal on the system bus, broadcast or unicast
// to a chosen connection, with any path, interface and member. A match rule
// with sender='org.freedesktop.systemd1' filters broadcasts only: godbus
// hands every signal that reaches the connection, unicast ones included, to
// every channel. So a signal counts as systemd's only when its sender — set
// by dbus-daemon, never by the sender — is the unique name that owns
// systemd's well-known name right now. That owner is read once with
// GetNameOwner and then followed through NameOwnerChanged, which only the
// bus itself may send.
type owner struct {
	mu     sync.Mutex
	unique string // "" while systemd is not on the bus
}

// ownerMatch is the match rule for the bus's NameOwnerChanged about systemd.
func ownerMatch() []dbus.MatchOption {
	return []dbus.MatchOption{
		dbus.WithMatchSender(busDaemon), dbus.WithMatchObjectPath(busDaemonPath),
		dbus.WithMatchInterface(busDaemon), dbus.WithMatchMember("NameOwnerChanged"),
		dbus.WithMatchArg(0, busName),
	}
}

// follow adds the NameOwnerChanged match, then reads the current owner: in
// that order, a change between the two is not missed.
func (o *owner) follow(ctx context.Context, conn *dbus.Conn) error {
	if err := conn.AddMatchSignalContext(ctx, ownerMatch()...); err != nil {
		return fmt.Errorf("add signal match: %w", err)
	}
	return o.refresh(ctx, conn)
}

// refresh reads the current owner from the bus.
func (o *owner) refresh(ctx context.Context, conn *dbus.Conn) error {
	var unique string
	err := conn.BusObject().CallWithContext(ctx, busDaemon+".GetNameOwner", 0, busName).Store(&unique)
	if err != nil {
		unique = "" // NameHasNoOwner: systemd is not (yet) on the bus
	}
	o.mu.Lock()
	o.unique = unique
	o.mu.Unlock()
	return nil
}

// ownerChange reports whether s is the bus's own NameOwnerChanged about
// systemd's name and, if so, records the new owner. A NameOwnerChanged from
// anyone but the bus is not one.
func (o *owner) ownerChange(s *dbus.Signal) (newOwner string, ok bool) {
	if s.Name != busDaemon+".NameOwnerChanged" || s.Sender != busDaemon || s.Path != busDaemonPath {
		return "", false
	}
	var name, old, unique string
	if dbus.Store(s.Body, &name, &old, &unique) != nil || name != busName {
		return "", false
	}
	o.mu.Lock()
	o.unique = unique
	o.mu.Unlock()
	return unique, true
}

// fromSystemd reports whether s was sent by the current owner of systemd's
// name.
func (o *owner) fromSystemd(s *dbus.Signal) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.unique != "" && s.Sender == o.unique
}

// current returns the current owner's unique name, "" when there is none.
func (o *owner) current() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.unique
}
