// Package bustest starts private D-Bus daemons, a fake polkit authority and,
// where it can run, the real polkitd, for tests that want a real bus rather
// than a mock of one.
//
// Only _test.go files may import it: it depends on package testing and
// starts processes.
package bustest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// startTimeout bounds how long a daemon may take to become ready.
const startTimeout = 10 * time.Second

// Bus is a private dbus-daemon that lives as long as the test that started
// it.
type Bus struct {
	// Address is the bus address, as DBUS_SYSTEM_BUS_ADDRESS would hold it.
	Address string

	socket string
	proc   *process
}

// Option changes the configuration of a bus started by Start.
type Option func(*busConfig)

type busConfig struct {
	extra []string
}

// WithConfig appends raw busconfig elements after the permissive default
// policy, for example <include>path/to/org.luminous.Healing.conf</include> to
// load a shipped bus policy, or a <policy context="mandatory"> that denies
// something. Rules in a mandatory policy override the default allow-all.
func WithConfig(xml string) Option {
	return func(c *busConfig) { c.extra = append(c.extra, xml) }
}

// Start starts a private dbus-daemon configured like a system bus (EXTERNAL
// authentication only, a unix socket) but with a policy that allows every
// connection to own any name and call anything, so a test can stand in for
// polkit or the daemon. The daemon is killed when the test ends. The test is
// skipped when dbus-daemon is not installed.
func Start(t testing.TB, opts ...Option) *Bus {
	t.Helper()
	daemon, err := exec.LookPath("dbus-daemon")
	if err != nil {
		t.Skip("bustest: dbus-daemon is not installed (Debian: apt install dbus-daemon); skipping test that needs a private bus")
	}
	var cfg busConfig
	for _, opt := range opts {
		opt(&cfg)
	}

	socket := filepath.Join(socketDir(t), "bus")
	config := filepath.Join(t.TempDir(), "bus.conf")
	if err := os.WriteFile(config, []byte(busConfigXML(socket, cfg.extra)), 0o644); err != nil {
		t.Fatalf("bustest: writing bus config: %v", err)
	}

	// dbus-daemon prints its address on fd 3 once it listens: reading that
	// line is the readiness signal.
	addrR, addrW, err := os.Pipe()
	if err != nil {
		t.Fatalf("bustest: %v", err)
	}
	defer addrR.Close()
	cmd := exec.Command(daemon, "--config-file="+config, "--print-address=3", "--nofork", "--nopidfile", "--nosyslog")
	cmd.ExtraFiles = []*os.File{addrW}
	proc := startProcess(t, "dbus-daemon", cmd)
	addrW.Close()

	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(addrR).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case addr := <-line:
		if addr == "" {
			t.Fatalf("bustest: dbus-daemon exited before listening:\n%s", proc.log())
		}
		return &Bus{Address: addr, socket: socket, proc: proc}
	case <-time.After(startTimeout):
		t.Fatalf("bustest: dbus-daemon did not print its address within %s:\n%s", startTimeout, proc.log())
		return nil
	}
}

// socketDir returns a directory for the bus socket that every uid can reach.
// It is not t.TempDir: sun_path holds only 107 bytes, which long test names
// overflow, and t.TempDir's parent is mode 0700, which would lock out polkitd
// (it drops to its own user) and connections made by ConnAs.
func socketDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "bustest-")
	if err != nil {
		t.Fatalf("bustest: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("bustest: %v", err)
	}
	return dir
}

func busConfigXML(socket string, extra []string) string {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=` + xmlEscape(socket) + `</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow send_type="method_call"/>
    <allow receive_sender="*"/>
  </policy>
`)
	for _, x := range extra {
		b.WriteString(x)
		b.WriteString("\n")
	}
	b.WriteString("</busconfig>\n")
	return b.String()
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// Stop kills the bus, as a crash of dbus-daemon would: every connection
// to it closes. The test's end would kill it anyway.
func (b *Bus) Stop(t testing.TB) {
	t.Helper()
	b.proc.kill()
	select {
	case <-b.proc.done:
	case <-time.After(startTimeout):
		t.Fatalf("bustest: dbus-daemon did not exit after SIGKILL")
	}
}

// Socket is the path of the bus's unix socket.
func (b *Bus) Socket() string { return b.socket }

// Conn opens a new private connection to the bus, authenticated as the test
// process's user and registered with Hello, and closes it when the test
// ends.
func (b *Bus) Conn(t testing.TB) *dbus.Conn {
	t.Helper()
	conn, err := dbus.Connect(b.Address)
	if err != nil {
		t.Fatalf("bustest: connecting to %s: %v", b.Address, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// process is a child process owned by one test.
type process struct {
	kill   func()
	name   string
	output *LockedBuffer
	done   chan struct{}
}

func (p *process) log() string {
	return p.output.String()
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// startProcess starts cmd, kills it when the test ends and logs its output if
// the test failed.
//
// The child gets Pdeathsig so it cannot outlive a test binary that panics or
// times out. Linux sends that signal when the forking thread exits, not the
// process, so the start and the wait run on one goroutine locked to its
// thread: the thread lives exactly as long as the child.
func startProcess(t testing.TB, name string, cmd *exec.Cmd) *process {
	t.Helper()
	p := &process{name: name, output: new(LockedBuffer), done: make(chan struct{})}
	cmd.Stdout = p.output
	cmd.Stderr = p.output
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}

	started := make(chan error, 1)
	go func() {
		defer close(p.done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
	}()
	if err := <-started; err != nil {
		t.Fatalf("bustest: starting %s: %v", name, err)
	}
	p.kill = func() { _ = cmd.Process.Kill() }
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-p.done:
		case <-time.After(startTimeout):
			t.Errorf("bustest: %s (pid %d) did not exit after SIGKILL", name, cmd.Process.Pid)
		}
		if t.Failed() {
			t.Logf("bustest: %s output:\n%s", name, p.log())
		}
	})
	return p
}

// LockedBuffer collects a child's output, or a log; exec (or a logger) copies into it from its own
// goroutine while a test may read it.
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitForName polls until name has an owner on the bus, the process that
// should own it has exited, or the start timeout passes.
func waitForName(conn *dbus.Conn, name string, p *process) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	for {
		var has bool
		err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, name).Store(&has)
		switch {
		case err == nil && has:
			return nil
		case ctx.Err() != nil:
			return fmt.Errorf("%s did not own %s within %s", p.name, name, startTimeout)
		case p.exited():
			return fmt.Errorf("%s exited before owning %s", p.name, name)
		case err != nil && !errors.Is(err, context.DeadlineExceeded):
			return fmt.Errorf("asking the bus whether %s has an owner: %w", name, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
