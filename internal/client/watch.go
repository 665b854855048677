package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/godbus/dbus/v5"
)

// SignalNameOwnerChanged is the bus's own signal, as Watch reports it
// when the daemon leaves the bus or comes back.
const SignalNameOwnerChanged = "NameOwnerChanged"

// Event is one signal of the daemon.
type Event struct {
	// Signal is the member name (IssueDetected, …), "PropertiesChanged",
	// or SignalNameOwnerChanged.
	Signal string
	// Exactly one of these is set, by Signal: Issue for IssueDetected,
	// IssueChanged and IssueResolved; Failure for HealingFailed;
	// Prediction for PredictionAlert; Result for ActionCompleted;
	// Changed (property name → value) for PropertiesChanged.
	Issue      *Issue
	Failure    *Failure
	Prediction *Prediction
	Result     *ActionResult
	Changed    map[string]dbus.Variant
	// Owner is set for SignalNameOwnerChanged: the unique bus name of the
	// daemon that now owns BusName, or "" when it left the bus (stopped,
	// crashed, restarting).
	Owner string
}

// Running reports, for a SignalNameOwnerChanged event, whether the daemon
// is on the bus now.
func (ev Event) Running() bool { return ev.Owner != "" }

// Watch streams the daemon's signals, and its leaving and joining the bus,
// until ctx ends or the bus connection closes, then closes the channel.
// The subscriptions name BusName, so they follow a daemon that restarts;
// a signal counts only when it comes from the connection that owns BusName
// at the time (forged ones, unicast by another connection, are dropped).
// Signals that arrive while the reader is more than 64 behind are dropped
// rather than stalling the connection or piling up in godbus; the
// daemon's leaving and joining the bus are never dropped.
func (c *Client) Watch(ctx context.Context) (<-chan Event, error) {
	rules := [][]dbus.MatchOption{
		{dbus.WithMatchSender(BusName), dbus.WithMatchObjectPath(ObjectPath), dbus.WithMatchInterface(Interface)},
		{dbus.WithMatchSender(BusName), dbus.WithMatchObjectPath(ObjectPath), dbus.WithMatchInterface("org.freedesktop.DBus.Properties"),
			dbus.WithMatchMember("PropertiesChanged"), dbus.WithMatchArg(0, Interface)},
		{dbus.WithMatchSender("org.freedesktop.DBus"), dbus.WithMatchObjectPath("/org/freedesktop/DBus"),
			dbus.WithMatchInterface("org.freedesktop.DBus"), dbus.WithMatchMember("NameOwnerChanged"), dbus.WithMatchArg(0, BusName)},
	}
	for _, r := range rules {
		if err := c.conn.AddMatchSignalContext(ctx, r...); err != nil {
			return nil, c.convert(fmt.Errorf("subscribing to signals: %w", err))
		}
	}
	raw := make(chan *dbus.Signal, 64)
	c.conn.Signal(raw)
	// Anyone on the bus may unicast a signal that looks like the daemon's
	// to us: the bus delivers it whatever our match rules say. Only the
	// connection that owns BusName speaks for the daemon, so its unique
	// name is asked now (after subscribing, so that no change of owner
	// falls between) and then followed through NameOwnerChanged.
	owner, err := c.nameOwner(ctx)
	if err != nil {
		c.conn.RemoveSignal(raw)
		for _, r := range rules {
			_ = c.conn.RemoveMatchSignalContext(context.WithoutCancel(ctx), r...)
		}
		return nil, err
	}
	out := make(chan Event, 64)
	go func() {
		defer close(out)
		defer func() {
			c.conn.RemoveSignal(raw)
			for _, r := range rules {
				_ = c.conn.RemoveMatchSignalContext(context.WithoutCancel(ctx), r...)
			}
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case <-c.conn.Context().Done():
				return
			case s, ok := <-raw:
				if !ok {
					return
				}
				ev, ok := decodeSignal(s)
				if !ok {
					continue
				}
				if ev.Signal == SignalNameOwnerChanged {
					owner = ev.Owner
				} else if owner == "" || s.Sender != owner {
					continue // forged, or a stale owner's
				}
				if ev.Signal != SignalNameOwnerChanged {
					select {
					case out <- ev:
					default: // the reader is behind: drop it, keep draining raw
					}
					continue
				}
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

// nameOwner is the unique name of the connection that owns BusName, or ""
// when nobody does.
func (c *Client) nameOwner(ctx context.Context) (string, error) {
	var owner string
	err := c.conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.GetNameOwner", 0, BusName).Store(&owner)
	var de dbus.Error
	if errors.As(err, &de) && de.Name == "org.freedesktop.DBus.Error.NameHasNoOwner" {
		return "", nil
	}
	if err != nil {
		return "", c.convert(fmt.Errorf("asking who owns %s: %w", BusName, err))
	}
	return owner, nil
}

// decodeSignal turns a signal of the daemon's object into an Event.
func decodeSignal(s *dbus.Signal) (Event, bool) {
	if s.Name == "org.freedesktop.DBus.NameOwnerChanged" {
		// Only the bus itself sends it; anyone may send a signal to us.
		if s.Sender != "org.freedesktop.DBus" || s.Path != "/org/freedesktop/DBus" || len(s.Body) != 3 {
			return Event{}, false
		}
		name, _ := s.Body[0].(string)
		owner, _ := s.Body[2].(string)
		if name != BusName {
			return Event{}, false
		}
		return Event{Signal: SignalNameOwnerChanged, Owner: owner}, true
	}
	if s.Path != ObjectPath {
		return Event{}, false
	}
	if s.Name == "org.freedesktop.DBus.Properties.PropertiesChanged" {
		if len(s.Body) < 2 {
			return Event{}, false
		}
		iface, _ := s.Body[0].(string)
		changed, _ := s.Body[1].(map[string]dbus.Variant)
		if iface != Interface {
			return Event{}, false
		}
		return Event{Signal: "PropertiesChanged", Changed: changed}, true
	}
	if len(s.Body) != 1 || len(s.Name) <= len(Interface)+1 || s.Name[:len(Interface)+1] != Interface+"." {
		return Event{}, false
	}
	m, ok := s.Body[0].(map[string]dbus.Variant)
	if !ok {
		return Event{}, false
	}
	ev := Event{Signal: s.Name[len(Interface)+1:]}
	switch ev.Signal {
	case SignalIssueDetected, SignalIssueChanged, SignalIssueResolved:
		i := Decode[Issue](m)
		ev.Issue = &i
	case SignalHealingFailed:
		f := Decode[Failure](m)
		ev.Failure = &f
	case SignalPredictionAlert:
		p := Decode[Prediction](m)
		ev.Prediction = &p
	case SignalActionCompleted:
		r := Decode[ActionResult](m)
		ev.Result = &r
	default:
		return Event{}, false
	}
	return ev, true
}
