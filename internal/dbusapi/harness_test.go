package dbusapi_test

import (
	"context"
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
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/heal/healtest"
	"github.com/luminous-healing/luminous-healing/internal/polkit"
	"github.com/luminous-healing/luminous-healing/internal/systemd"
)

// fakeSampler returns the readings a test sets.
type fakeSampler struct {
	mu       sync.Mutex
	readings []detect.Reading
}

func (s *fakeSampler) Sample(ctx context.Context, snap *detect.Snapshot) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap.Time = time.Now()
	snap.Readings = append(snap.Readings[:0], s.readings...)
	return nil
}

func (s *fakeSampler) Mounts() []string { return []string{"/"} }
func (s *fakeSampler) Close() error     { return nil }

type fakeWatcher struct{ ch chan systemd.Event }

func (w *fakeWatcher) Watch(context.Context, []string) error { return nil }
func (w *fakeWatcher) Events() <-chan systemd.Event          { return w.ch }

// daemon is a real engine and server on fakes of systemd and the machine,
// served on a private bus.
type daemon struct {
	bus   *bustest.Bus
	eng   *engine.Engine
	sd    *healtest.Systemd
	audit *audit.Log
	auth  *bustest.FakeAuthority // polkit, as the daemon's polkit client sees it
	srv   *dbusapi.Server
	conn  *dbus.Conn // the server's
	serve chan error
	mark  int
}

type setup struct {
	cfg   func(*config.Config)
	mode  string
	authz func(*daemon) dbusapi.Authorizer // default: internal/polkit asking the fake authority
}

func startDaemon(t testing.TB, s setup) *daemon {
	t.Helper()
	d := &daemon{bus: bustest.Start(t)}
	d.auth = bustest.NewFakeAuthority(t, d.bus)
	cfg := config.Default()
	cfg.Monitoring.Interval = config.Duration(time.Hour)
	cfg.Services.Monitored = []string{"web.service"}
	cfg.Healing.CleanupUnits = []string{"systemd-tmpfiles-clean.service"}
	if s.cfg != nil {
		s.cfg(cfg)
	}
	d.sd = healtest.New(
		heal.UnitStatus{Name: "web.service", ActiveState: "active", SubState: "running", UnitFileState: "enabled"},
		heal.UnitStatus{Name: "other.service", ActiveState: "active", SubState: "running", UnitFileState: "enabled"},
		heal.UnitStatus{Name: "systemd-tmpfiles-clean.service", ActiveState: "inactive", UnitFileState: "static"},
	)
	d.audit = audit.New(audit.Options{})
	healer := heal.New(d.sd, heal.SettingsFrom(cfg, "luminous-healing.service"), nil)
	sampler := &fakeSampler{readings: []detect.Reading{{ID: "memory", Kind: "memory", Subject: "memory", Value: 42}}}
	eng, err := engine.New(engine.Options{
		Version: "test", Mode: s.mode, Config: cfg, Healer: healer, Units: d.sd, Watcher: &fakeWatcher{ch: make(chan systemd.Event)},
		Audit: d.audit, NewSampler: func(*config.Config) (engine.Sampler, error) { return sampler, nil },
		ForceDryRun: s.mode == "user",
	})
	if err != nil {
		t.Fatal(err)
	}
	d.eng = eng
	ctx, cancel := context.WithCancel(context.Background())
	engDone := make(chan struct{})
	go func() { eng.Run(ctx); close(engDone) }()

	d.conn = d.bus.Conn(t)
	var authz dbusapi.Authorizer = polkit.New(d.conn, polkit.Options{Timeout: 300 * time.Millisecond, InteractiveTimeout: 300 * time.Millisecond})
	if s.authz != nil {
		authz = s.authz(d)
	}
	d.srv, err = dbusapi.New(d.conn, dbusapi.Options{Engine: eng, Audit: d.audit, Authorizer: authz, AuthTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	d.serve = make(chan error, 1)
	go func() { d.serve <- d.srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-engDone
		select {
		case <-d.serve:
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after its context ended")
		}
	})
	d.waitForName(t)
	return d
}

func (d *daemon) waitForName(t testing.TB) {
	t.Helper()
	c := d.bus.Conn(t)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var has bool
		if err := c.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, client.BusName).Store(&has); err == nil && has {
			return
		}
		select {
		case err := <-d.serve:
			t.Fatalf("Serve returned before owning the name: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	t.Fatalf("%s was not owned within 10s", client.BusName)
}

// client returns a typed client on a new connection.
func (d *daemon) client(t testing.TB, opts client.Options) *client.Client {
	return client.New(d.bus.Conn(t), opts)
}

// events returns the audit records of one event type, oldest first.
func (d *daemon) events(ev audit.Event) []audit.Entry {
	var out []audit.Entry
	h := d.audit.History(0)
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].Event == ev {
			out = append(out, h[i])
		}
	}
	return out
}

// mutations lists the calls that changed something in fake systemd (it
// logs no reads) since markMutations.
func (d *daemon) mutations() []string { return d.sd.Calls()[d.mark:] }

func (d *daemon) markMutations() { d.mark = len(d.sd.Calls()) }
