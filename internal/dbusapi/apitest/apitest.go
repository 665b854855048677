// Package apitest runs luminous-healingd's engine and D-Bus server on
// fakes of systemd and of the machine, on a private bus with a fake polkit
// authority, for the tests and benchmarks of the server, the client and
// healingctl.
//
// Only _test.go files may import it: it depends on package testing and
// starts processes.
package apitest

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/bustest"
	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/dbusapi"
	"github.com/luminous-healing/luminous-healing/internal/detect"
	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/engine/enginetest"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/heal/healtest"
	"github.com/luminous-healing/luminous-healing/internal/polkit"
)

// Daemon is a real engine and server on fakes of systemd and the machine,
// served on a private bus.
type Daemon struct {
	Bus       *bustest.Bus
	Engine    *engine.Engine
	Systemd   *healtest.Systemd // knows web.service (monitored), other.service and systemd-tmpfiles-clean.service
	Audit     *audit.Log
	Authority *bustest.FakeAuthority // polkit, as the daemon's polkit client sees it
	Server    *dbusapi.Server
	Conn      *dbus.Conn // the server's
	// Served receives Serve's result.
	Served chan error
	mark   int
	stop   func()
}

// Setup varies a Daemon.
type Setup struct {
	// Config changes the configuration: monitoring every hour,
	// web.service monitored, cleanup by systemd-tmpfiles-clean.service.
	Config func(*config.Config)
	// Mode is "system" (default) or "user".
	Mode string
	// Authorizer replaces internal/polkit asking the fake authority.
	Authorizer func(*Daemon) dbusapi.Authorizer
	// Readings are what the machine reports; default memory at 42%.
	Readings []detect.Reading
	// Server changes the D-Bus server's options (a 1 s authorization
	// deadline).
	Server func(*dbusapi.Options)
	// Bus and Authority, when set, are another Daemon's, so that a test
	// can stop one daemon and start the next on the same bus, as a
	// restart does.
	Bus       *bustest.Bus
	Authority *bustest.FakeAuthority
}

// Start runs a Daemon until the test ends and waits until it owns its
// bus name.
func Start(t testing.TB, s Setup) *Daemon {
	t.Helper()
	d := &Daemon{Bus: s.Bus, Authority: s.Authority}
	if d.Bus == nil {
		d.Bus = bustest.Start(t)
	}
	if d.Authority == nil {
		d.Authority = bustest.NewFakeAuthority(t, d.Bus)
	}
	cfg := enginetest.Config(time.Hour)
	if s.Config != nil {
		s.Config(cfg)
	}
	readings := s.Readings
	if readings == nil {
		readings = []detect.Reading{{ID: "memory", Kind: "memory", Subject: "memory", Value: 42}}
	}
	e := enginetest.New(t, enginetest.Setup{
		Config: cfg, Self: "luminous-healing.service", Readings: readings,
		Units: []heal.UnitStatus{
			{Name: "web.service", ActiveState: "active", SubState: "running", UnitFileState: "enabled"},
			{Name: "other.service", ActiveState: "active", SubState: "running", UnitFileState: "enabled"},
			{Name: "systemd-tmpfiles-clean.service", ActiveState: "inactive", UnitFileState: "static"},
		},
		Options: func(o *engine.Options) { o.Mode, o.ForceDryRun = s.Mode, s.Mode == "user" },
	})
	eng := e.Engine
	d.Engine, d.Systemd, d.Audit = eng, e.Systemd, e.Audit
	ctx, cancel := context.WithCancel(context.Background())
	engDone := e.Start(ctx)
	// Run answers once it has primed: the first readings and the units'
	// states are in the status, so tests compare against a settled one.
	if !eng.Alive(ctx, 10*time.Second) {
		cancel()
		t.Fatal("apitest: the engine's loop did not start within 10s")
	}

	d.Conn = d.Bus.Conn(t)
	var authz dbusapi.Authorizer = polkit.New(d.Conn, polkit.Options{Timeout: 300 * time.Millisecond, InteractiveTimeout: 300 * time.Millisecond})
	if s.Authorizer != nil {
		authz = s.Authorizer(d)
	}
	opts := dbusapi.Options{Engine: eng, Audit: d.Audit, Authorizer: authz, AuthTimeout: time.Second}
	if s.Server != nil {
		s.Server(&opts)
	}
	var err error
	d.Server, err = dbusapi.New(d.Conn, opts)
	if err != nil {
		t.Fatal(err)
	}
	d.Served = make(chan error, 1)
	go func() { d.Served <- d.Server.Serve(ctx) }()
	d.stop = sync.OnceFunc(func() {
		cancel()
		<-engDone
		select {
		case <-d.Served:
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after its context ended")
		}
	})
	t.Cleanup(d.stop)
	d.waitForName(t)
	return d
}

// Stop stops the daemon as a clean shutdown does: the server releases its
// bus name and the engine stops. The test's end stops it too.
func (d *Daemon) Stop() { d.stop() }

func (d *Daemon) waitForName(t testing.TB) {
	t.Helper()
	c := d.Bus.Conn(t)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var has bool
		if err := c.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, client.BusName).Store(&has); err == nil && has {
			return
		}
		select {
		case err := <-d.Served:
			t.Fatalf("Serve returned before owning the name: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	t.Fatalf("%s was not owned within 10s", client.BusName)
}

// Client returns a typed client on a new connection.
func (d *Daemon) Client(t testing.TB, opts client.Options) *client.Client {
	return client.New(d.Bus.Conn(t), opts)
}

// Events returns the audit records of one event type, oldest first.
func (d *Daemon) Events(ev audit.Event) []audit.Entry {
	var out []audit.Entry
	h := d.Audit.History(0)
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].Event == ev {
			out = append(out, h[i])
		}
	}
	return out
}

// Mutations lists the calls that changed something in fake systemd (it
// logs no reads) since MarkMutations.
func (d *Daemon) Mutations() []string { return d.Systemd.Calls()[d.mark:] }

// MarkMutations forgets the calls so far.
func (d *Daemon) MarkMutations() { d.mark = len(d.Systemd.Calls()) }

// TCPTarget listens on loopback and accepts and closes every connection:
// the target of a TCP probe that passes until the test closes it (and
// the test's end closes it anyway).
func TCPTarget(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln
}
