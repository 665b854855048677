package dbusapi_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/dbusapi"
	"github.com/luminous-healing/luminous-healing/internal/detect"
	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/heal/healtest"
	"github.com/luminous-healing/luminous-healing/internal/systemd"
)

// privateBus starts a dbus-daemon for one test, configured like a system
// bus (EXTERNAL auth, a unix socket) with a policy that lets every
// connection own and call anything. It skips the test without dbus-daemon.
type privateBus struct {
	addr string
	cmd  *exec.Cmd
}

func startBus(t testing.TB) *privateBus {
	t.Helper()
	daemon, err := exec.LookPath("dbus-daemon")
	if err != nil {
		t.Skip("dbus-daemon is not installed (Debian: apt install dbus-daemon); skipping a test that needs a private bus")
	}
	dir, err := os.MkdirTemp("", "lh-bus-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	conf := filepath.Join(dir, "bus.conf")
	err = os.WriteFile(conf, []byte(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=`+filepath.Join(dir, "bus")+`</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(daemon, "--config-file="+conf, "--print-address", "--nofork", "--nopidfile", "--nosyslog")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("dbus-daemon did not print its address: %v", err)
	}
	return &privateBus{addr: strings.TrimSpace(line), cmd: cmd}
}

func (b *privateBus) conn(t testing.TB) *dbus.Conn {
	t.Helper()
	c, err := dbus.Connect(b.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// answer is what fakeAuthority says to a check.
type answer int

const (
	no answer = iota
	yes
	challenge
	broken // polkit errs
	never  // polkit never answers
)

// fakeAuthority is a scripted Authorizer that records what it was asked.
type fakeAuthority struct {
	mu       sync.Mutex
	answers  map[string]answer // by action; unscripted actions get no
	requests []dbusapi.AuthRequest
}

func (f *fakeAuthority) answer(action string, a answer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.answers == nil {
		f.answers = map[string]answer{}
	}
	f.answers[action] = a
}

func (f *fakeAuthority) asked() []dbusapi.AuthRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]dbusapi.AuthRequest(nil), f.requests...)
}

func (f *fakeAuthority) Check(ctx context.Context, req dbusapi.AuthRequest) (dbusapi.Decision, error) {
	f.mu.Lock()
	f.requests = append(f.requests, req)
	a := f.answers[req.Action]
	f.mu.Unlock()
	switch a {
	case yes:
		return dbusapi.Allowed, nil
	case challenge:
		if req.AllowInteraction {
			return dbusapi.Allowed, nil // the prompt was answered
		}
		return dbusapi.Challenge, nil
	case broken:
		return dbusapi.Denied, errors.New("org.freedesktop.PolicyKit1.Error.Failed: internal polkit text")
	case never:
		<-ctx.Done()
		return dbusapi.Denied, fmt.Errorf("polkit did not answer: %w", ctx.Err())
	}
	return dbusapi.Denied, nil
}

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
	bus   *privateBus
	eng   *engine.Engine
	sd    *healtest.Systemd
	audit *audit.Log
	auth  *fakeAuthority
	srv   *dbusapi.Server
	conn  *dbus.Conn // the server's
	serve chan error
	mark  int
}

type setup struct {
	cfg   func(*config.Config)
	mode  string
	authz func(*daemon) dbusapi.Authorizer // default: the fake authority
}

func startDaemon(t testing.TB, s setup) *daemon {
	t.Helper()
	d := &daemon{bus: startBus(t), auth: &fakeAuthority{}}
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

	d.conn = d.bus.conn(t)
	var authz dbusapi.Authorizer = d.auth
	if s.authz != nil {
		authz = s.authz(d)
	}
	d.srv, err = dbusapi.New(d.conn, dbusapi.Options{Engine: eng, Audit: d.audit, Authorizer: authz, AuthTimeout: 500 * time.Millisecond})
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
	c := d.bus.conn(t)
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
	return client.New(d.bus.conn(t), opts)
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
