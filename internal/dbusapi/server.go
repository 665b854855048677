// Package dbusapi is the daemon's D-Bus transport: it exports
// org.luminous.Healing1 at /org/luminous/Healing, owns org.luminous.Healing,
// turns the engine's events into signals and PropertiesChanged, and is
// where every privileged call is authorized — once, at this edge — and
// audited. The contract (names, records, errors) lives in internal/client;
// dbus/org.luminous.Healing1.xml describes it and the tests hold the two
// together.
//
// It imports the engine, the audit log and the shared leaf packages; only
// cmd/luminous-healingd wires it.
package dbusapi

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/unit"
	"github.com/luminous-healing/luminous-healing/internal/wire"
)

// Options wire a Server. Engine and Audit are required.
type Options struct {
	Engine *engine.Engine
	Audit  *audit.Log
	// Authorizer decides privileged calls; nil denies every one of them.
	Authorizer Authorizer
	Log        *slog.Logger
	// AuthTimeout bounds one authorization, a password prompt included;
	// default 2 minutes. The authorizer's own, shorter deadlines apply
	// inside it.
	AuthTimeout time.Duration
	// MaxPrivileged bounds the authorized privileged calls being acted on
	// at once; default 16. A call that finds no room within BusyWait is
	// answered with RateLimited.
	MaxPrivileged int
	BusyWait      time.Duration
}

// Server serves the API on one bus connection.
type Server struct {
	o       Options
	conn    *dbus.Conn
	log     *slog.Logger
	limit   rateLimit
	denials denials
	sem     chan struct{}
	cache   atomic.Pointer[snapshot]
	// propCache is the properties alone, for PropertiesChanged at every
	// check: the lists (every monitored unit's record) are built only
	// when a method asks for them.
	propCache atomic.Pointer[propSnapshot]

	ctx    context.Context // lives as long as Serve; actions run under it
	cancel context.CancelFunc
	ready  chan struct{} // closed once the bus name is ours
}

// ErrBusLost is returned by Serve when the bus connection dies.
var ErrBusLost = errors.New("the bus connection was lost")

// New returns a Server on conn, a private connection the caller owns.
func New(conn *dbus.Conn, o Options) (*Server, error) {
	if o.Engine == nil || o.Audit == nil {
		return nil, errors.New("dbusapi: Engine and Audit are required")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.AuthTimeout <= 0 {
		o.AuthTimeout = 2 * time.Minute
	}
	if o.MaxPrivileged <= 0 {
		o.MaxPrivileged = 16
	}
	if o.BusyWait <= 0 {
		o.BusyWait = 2 * time.Second
	}
	s := &Server{o: o, conn: conn, log: o.Log.With("component", "dbus"), sem: make(chan struct{}, o.MaxPrivileged),
		ready: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Ready is closed once Serve owns the bus name: the daemon tells systemd
// it is ready (Type=notify) only then, so `systemctl start` returning means
// the API answers.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Serve exports the object, takes the bus name and forwards the engine's
// events as signals until ctx ends (nil) or the connection dies
// (ErrBusLost). Everything is exported before the name is requested, so a
// caller activated by the name never finds a half-built object.
func (s *Server) Serve(ctx context.Context) error {
	defer s.cancel()
	if err := s.export(); err != nil {
		return err
	}
	events, unsubscribe := s.o.Engine.Subscribe(256)
	defer unsubscribe()
	reply, err := s.conn.RequestName(client.BusName, dbus.NameFlagDoNotQueue)
	if err != nil {
		if !s.conn.Connected() {
			return fmt.Errorf("%w: while requesting %s", ErrBusLost, client.BusName)
		}
		return fmt.Errorf("request %s: %w", client.BusName, err)
	}
	if reply != dbus.RequestNameReplyPrimaryOwner {
		return fmt.Errorf("%s is owned by another process (another luminous-healingd?): request answered %d", client.BusName, reply)
	}
	s.log.Info("serving on the bus", "name", client.BusName, "unique", s.conn.Names()[0])
	close(s.ready)
	last := s.props()
	// Summaries of denied calls are written when their window ends, even
	// if no call comes after.
	sweep := time.NewTicker(time.Minute)
	defer sweep.Stop()
	for {
		select {
		case now := <-sweep.C:
			s.flushDenials(now, s.o.Engine.Config().DBus.Window.D())
		case <-ctx.Done():
			if _, err := s.conn.ReleaseName(client.BusName); err != nil && s.conn.Connected() {
				s.log.Debug("could not release the bus name", "err", err)
			}
			return nil
		case <-s.conn.Context().Done():
			return ErrBusLost
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			s.signal(ev)
			if ev.Type == engine.StatusChanged { // the engine's word that a property changed
				last = s.propertiesChanged(last)
			}
		}
	}
}

func (s *Server) export() error {
	path := dbus.ObjectPath(client.ObjectPath)
	if err := s.conn.ExportMethodTable(s.handlers(), path, client.Interface); err != nil {
		return fmt.Errorf("export %s: %w", client.Interface, err)
	}
	for _, e := range []struct {
		v     any
		iface string
	}{
		{&properties{s}, "org.freedesktop.DBus.Properties"},
		{introspectable(node()), "org.freedesktop.DBus.Introspectable"},
	} {
		if err := s.conn.Export(e.v, path, e.iface); err != nil {
			return fmt.Errorf("export %s: %w", e.iface, err)
		}
	}
	// The parents, so `busctl tree org.luminous.Healing` finds the object.
	for _, p := range []struct{ path, child string }{{"/", "org"}, {"/org", "luminous"}, {"/org/luminous", "Healing"}} {
		n := &introspect.Node{Interfaces: []introspect.Interface{introspect.IntrospectData, introspect.PeerData}, Children: []introspect.Node{{Name: p.child}}}
		if err := s.conn.Export(introspectable(n), dbus.ObjectPath(p.path), "org.freedesktop.DBus.Introspectable"); err != nil {
			return fmt.Errorf("export %s: %w", p.path, err)
		}
	}
	return nil
}

// introspectable serves n as is. (godbus's NewIntrospectable can list
// Peer twice, which busctl rejects.)
func introspectable(n *introspect.Node) introspect.Introspectable {
	b, err := xml.MarshalIndent(n, "", "  ")
	if err != nil {
		panic("dbusapi: introspection data: " + err.Error()) // static data: a bug
	}
	return introspect.Introspectable(strings.TrimSpace(introspect.IntrospectDeclarationString) + "\n" + string(b) + "\n")
}

// snapshot is the wire form of one engine status, built once per status
// and shared by every read until the status changes.
type snapshot struct {
	st        *engine.Status
	status    map[string]dbus.Variant // GetStatus: the summary
	resources []map[string]dbus.Variant
	units     []map[string]dbus.Variant
	issues    []map[string]dbus.Variant
	preds     []map[string]dbus.Variant
	breakers  []map[string]dbus.Variant
	throttles []map[string]dbus.Variant
	silences  []map[string]dbus.Variant
	props     map[string]dbus.Variant
}

// snapshot returns the current status in wire form without locks: readers
// that race build the same thing and one of them wins.
func (s *Server) snapshot() *snapshot {
	st := s.o.Engine.Status()
	if c := s.cache.Load(); c != nil && c.st == st {
		return c
	}
	rec := wire.Status(st)
	c := &snapshot{st: st, status: client.Encode(rec.Summary), resources: client.Maps(rec.Resources),
		units: client.Maps(rec.Units), issues: client.Maps(rec.Issues), preds: client.Maps(rec.Predictions),
		breakers: client.Maps(rec.Breakers), throttles: client.Maps(rec.Throttles), silences: client.Maps(rec.Silences)}
	c.props = client.Properties(c.status)
	s.cache.Store(c)
	return c
}

type propSnapshot struct {
	st    *engine.Status
	props map[string]dbus.Variant
}

// props returns the D-Bus properties of the current status, from the full
// snapshot where one was built for it, else from the summary alone.
func (s *Server) props() map[string]dbus.Variant {
	st := s.o.Engine.Status()
	if c := s.cache.Load(); c != nil && c.st == st {
		return c.props
	}
	if p := s.propCache.Load(); p != nil && p.st == st {
		return p.props
	}
	p := &propSnapshot{st: st, props: client.Properties(client.Encode(wire.Summary(st)))}
	s.propCache.Store(p)
	return p.props
}

// signal emits the signal an engine event stands for.
func (s *Server) signal(ev engine.Event) {
	var name string
	var rec map[string]dbus.Variant
	switch ev.Type {
	case engine.IssueDetected:
		name, rec = client.SignalIssueDetected, client.Encode(wire.Issue(ev.Issue))
	case engine.IssueChanged:
		name, rec = client.SignalIssueChanged, client.Encode(wire.Issue(ev.Issue))
	case engine.IssueResolved:
		name, rec = client.SignalIssueResolved, client.Encode(wire.Issue(ev.Issue))
	case engine.HealingFailed:
		name, rec = client.SignalHealingFailed, client.Encode(wire.Failure(ev))
	case engine.PredictionAlert:
		name, rec = client.SignalPredictionAlert, client.Encode(wire.Prediction(ev.Forecast))
	case engine.ActionDone:
		name, rec = client.SignalActionCompleted, client.Encode(wire.Result(ev.Result))
	default:
		return
	}
	if err := s.conn.Emit(client.ObjectPath, client.Interface+"."+name, rec); err != nil {
		s.log.Debug("could not emit a signal", "signal", name, "err", err)
	}
}

// propertiesChanged emits one PropertiesChanged carrying exactly the
// properties that differ from last, and returns the values now current.
func (s *Server) propertiesChanged(last map[string]dbus.Variant) map[string]dbus.Variant {
	cur := s.props()
	changed := map[string]dbus.Variant{}
	for k, v := range cur {
		if !reflect.DeepEqual(v.Value(), last[k].Value()) {
			changed[k] = v
		}
	}
	if len(changed) == 0 {
		return last
	}
	err := s.conn.Emit(client.ObjectPath, "org.freedesktop.DBus.Properties.PropertiesChanged", client.Interface, changed, []string{})
	if err != nil {
		s.log.Debug("could not emit PropertiesChanged", "err", err)
	}
	return cur
}

// properties implements org.freedesktop.DBus.Properties, read-only and
// lock-free.
type properties struct{ s *Server }

// Get implements org.freedesktop.DBus.Properties.Get.
func (p *properties) Get(iface, name string) (dbus.Variant, *dbus.Error) {
	if iface != client.Interface && iface != "" {
		return dbus.Variant{}, unknownInterface(iface)
	}
	v, ok := p.s.props()[name]
	if !ok {
		return dbus.Variant{}, &dbus.Error{Name: "org.freedesktop.DBus.Error.UnknownProperty",
			Body: []any{fmt.Sprintf("no property %s on %s", unit.Quote(name), client.Interface)}}
	}
	return v, nil
}

// GetAll implements org.freedesktop.DBus.Properties.GetAll.
func (p *properties) GetAll(iface string) (map[string]dbus.Variant, *dbus.Error) {
	if iface != client.Interface && iface != "" {
		return nil, unknownInterface(iface)
	}
	return p.s.props(), nil
}

// Set implements org.freedesktop.DBus.Properties.Set: every property is
// read-only; the methods change settings, under polkit.
func (p *properties) Set(iface, name string, _ dbus.Variant) *dbus.Error {
	if iface != client.Interface {
		return unknownInterface(iface)
	}
	return &dbus.Error{Name: "org.freedesktop.DBus.Error.PropertyReadOnly",
		Body: []any{fmt.Sprintf("%s is read-only; use the Set… methods", unit.Quote(name))}}
}

func unknownInterface(iface string) *dbus.Error {
	return &dbus.Error{Name: "org.freedesktop.DBus.Error.UnknownInterface", Body: []any{fmt.Sprintf("no interface %s here", unit.Quote(iface))}}
}
