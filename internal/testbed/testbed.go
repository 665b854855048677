// Package testbed boots a throwaway systemd machine for tests that need the
// real stack: systemd as PID 1, a system bus, journald, logind and
// bus-activated polkit, all from the host's own installation.
//
// Each machine is systemd running as PID 1 of its own PID, mount, UTS, IPC,
// network and cgroup namespaces, chrooted into a copy-on-write overlay of /
// whose writes land on a tmpfs that dies with the machine. The recipe, its
// dangers and how cleanup is verified are in docs/testbed.md.
//
// Only tests import this package. Tests that use it need root; Boot skips
// them otherwise.
package testbed

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

//go:embed boot.sh
var bootScript []byte

const (
	// namePrefix starts the name of every machine's directory on the host
	// and of its cgroups, so leftovers are easy to recognise.
	namePrefix = "lhsd."
	// layerSize bounds the tmpfs that takes all of a machine's writes.
	layerSize = "2g"
	// stopTimeout bounds how long Close waits for the machine to go.
	stopTimeout = 30 * time.Second
	// machinePath is $PATH inside the machine.
	machinePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// File is a file to put into a machine.
type File struct {
	Data []byte
	Mode fs.FileMode // permission bits; 0 means 0644
}

// Options configure a machine. The zero value boots a machine named lhtest.
type Options struct {
	// Name is the machine's hostname and the value of $container.
	Name string
	// Files are written into the machine before systemd starts, keyed by
	// absolute path; missing parent directories are created 0755.
	Files map[string]File
	// Setup are shell commands run as root inside the machine after Files
	// are written and before systemd starts, e.g.
	// "systemctl enable foo.service" or "groupadd wheel".
	Setup []string
	// BootTimeout bounds the boot; 0 means one minute.
	BootTimeout time.Duration
}

// Machine is a booted throwaway systemd machine. Its methods may be called
// from several goroutines.
type Machine struct {
	name string
	dir  string // the machine's directory on the host

	lock    *os.File // flock held for the machine's lifetime
	cgroups []string // the machine's cgroup directories on the host
	cmd     *exec.Cmd
	exited  chan struct{} // closed once cmd has been waited for
	initPID int           // host PID of the machine's PID 1

	goPipe      *os.File      // write end of boot.sh's stdin, "boot" starts systemd
	console     *os.File      // the master side of the machine's /dev/console
	consolePeer *os.File      // the harness's hold on the terminal side
	consoleDone chan struct{} // closed when the console copier returns

	mu      sync.RWMutex
	pidfd   int        // the machine's PID 1, or -1
	nsFiles []*os.File // mnt, uts, ipc, net, pid, cgroup namespaces, then the root directory

	overlayMu sync.Mutex
	overlay   map[string]bool // host directories overlaid into the machine by Install

	closeOnce sync.Once
	closeErr  error
}

var validName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// Boot boots a machine and waits until systemd reports it running or
// degraded. The machine is killed and everything it left on the host is
// removed when the test ends, whether it passed or not; leftovers of earlier
// runs that crashed are removed first. Without root, unshare or overlayfs
// the test is skipped.
func Boot(t testing.TB, opts Options) *Machine {
	t.Helper()
	if err := preflight(); err != nil {
		t.Skipf("testbed: skipped — needs root and unshare: %v", err)
	}
	if opts.Name == "" {
		opts.Name = "lhtest"
	}
	if !validName.MatchString(opts.Name) {
		t.Fatalf("testbed: invalid machine name %q: want a lowercase host name", opts.Name)
	}
	if opts.BootTimeout == 0 {
		opts.BootTimeout = time.Minute
	}
	for _, removed := range removeLeftovers(t.Logf) {
		t.Logf("testbed: removed the leftovers of an earlier run in %s", removed)
	}

	start := time.Now()
	dir, err := os.MkdirTemp("", namePrefix)
	if err != nil {
		t.Fatalf("testbed: %v", err)
	}
	m := &Machine{name: opts.Name, dir: dir, pidfd: -1, overlay: map[string]bool{}}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("testbed: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), opts.BootTimeout)
	defer cancel()
	if err := m.start(ctx); err != nil {
		t.Fatalf("testbed: boot %s: %v\n%s", m.name, err, m.bootLog())
	}
	for _, p := range sortedKeys(opts.Files) {
		f := opts.Files[p]
		if f.Mode == 0 {
			f.Mode = 0o644
		}
		if err := m.WriteFile(p, f.Data, f.Mode); err != nil {
			t.Fatalf("testbed: boot %s: %v", m.name, err)
		}
	}
	for _, c := range opts.Setup {
		if _, _, err := m.Run(ctx, "/bin/sh", "-c", c); err != nil {
			t.Fatalf("testbed: boot %s: setup: %v", m.name, err)
		}
	}
	state, err := m.boot(ctx)
	if err != nil {
		t.Fatalf("testbed: boot %s: %v\n%s", m.name, err, m.bootLog())
	}
	t.Logf("testbed: %s booted in %v (%s; %s; init PID %d)", m.name, time.Since(start).Round(time.Millisecond), state, m.dir, m.initPID)
	if state == "degraded" {
		out, _, _ := m.Run(ctx, "systemctl", "list-units", "--failed", "--no-legend", "--plain")
		t.Logf("testbed: %s is degraded; failed units:\n%s", m.name, out)
	}
	return m
}

// Name returns the machine's name.
func (m *Machine) Name() string { return m.name }

// Dir returns the machine's directory on the host, /tmp/lhsd.* unless
// $TMPDIR says otherwise. It is removed by Close.
func (m *Machine) Dir() string { return m.dir }

// InitPID returns the host's PID of the machine's PID 1.
func (m *Machine) InitPID() int { return m.initPID }

// Cgroups returns the machine's cgroup directory in each of the host's
// hierarchies; every process of the machine lives below them.
func (m *Machine) Cgroups() []string { return m.cgroups }

// start runs boot.sh up to the point where the machine's mounts are in
// place and its init waits to exec systemd.
func (m *Machine) start(ctx context.Context) error {
	lock, err := os.OpenFile(filepath.Join(m.dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lock.Close()
		return fmt.Errorf("lock %s: %w", m.dir, err)
	}
	m.lock = lock

	hs, plan, err := cgroupPlan(filepath.Base(m.dir))
	if err != nil {
		return err
	}
	// The plan is written before the cgroups exist, so a crash in between
	// still leaves a record for removeLeftovers.
	if err := os.WriteFile(filepath.Join(m.dir, "plan"), []byte(strings.Join(plan, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	for _, h := range hs {
		m.cgroups = append(m.cgroups, h.dir)
	}
	if err := createCgroups(hs); err != nil {
		return err
	}
	script := filepath.Join(m.dir, "boot.sh")
	if err := os.WriteFile(script, bootScript, 0o700); err != nil {
		return err
	}
	for _, d := range []string{"layers", "merged"} {
		if err := os.Mkdir(filepath.Join(m.dir, d), 0o700); err != nil {
			return err
		}
	}
	log, err := os.OpenFile(filepath.Join(m.dir, "boot.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	console, err := m.startConsole(log)
	if err != nil {
		return err
	}

	readyR, readyW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer readyR.Close()
	goR, goW, err := os.Pipe()
	if err != nil {
		readyW.Close()
		return err
	}
	machineID := make([]byte, 16)
	_, _ = rand.Read(machineID)
	cmd := exec.Command("/bin/sh", script, "outer")
	cmd.Env = []string{
		"PATH=" + machinePath,
		"LHSD_BASE=" + m.dir,
		"LHSD_NAME=" + m.name,
		"LHSD_MACHINE_ID=" + hex.EncodeToString(machineID),
		"LHSD_LAYER_SIZE=" + layerSize,
		"LHSD_CONSOLE=" + console,
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = goR, log, log
	cmd.ExtraFiles = []*os.File{readyW}
	// If the test binary dies, so does unshare, and unshare's --kill-child
	// takes the machine with it. (Pdeathsig follows the thread that started
	// unshare; Go ends threads only for goroutines that exit locked to one.)
	cmd.SysProcAttr = &unix.SysProcAttr{Pdeathsig: unix.SIGKILL}
	err = cmd.Start()
	readyW.Close()
	goR.Close()
	if err != nil {
		goW.Close()
		return err
	}
	m.cmd = cmd
	m.exited = make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(m.exited)
	}()
	m.goPipe = goW

	deadline, _ := ctx.Deadline()
	_ = readyR.SetReadDeadline(deadline)
	line, err := bufio.NewReader(readyR).ReadString('\n')
	if err != nil {
		return fmt.Errorf("boot.sh did not get ready: %w", err)
	}
	pidText, ok := strings.CutPrefix(strings.TrimSpace(line), "ready ")
	pid, err := strconv.Atoi(pidText)
	if !ok || err != nil || pid <= 1 {
		return fmt.Errorf("boot.sh said %q, want ready <pid>", line)
	}
	return m.attach(pid)
}

// attach takes hold of the machine's init by pidfd and of its namespaces and
// root directory by file descriptor, so nothing later can reach another
// process that reuses the PID.
func (m *Machine) attach(pid int) error {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("pidfd of the machine's init: %w", err)
	}
	// The pidfd pins the process: if it is unshare's child now, it is the
	// machine's init for as long as the pidfd lives.
	if ppid(pid) != m.cmd.Process.Pid {
		unix.Close(pidfd)
		return fmt.Errorf("PID %d is not the child of unshare (PID %d)", pid, m.cmd.Process.Pid)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pidfd = pidfd
	m.initPID = pid
	for _, ns := range []string{"mnt", "uts", "ipc", "net", "pid", "cgroup"} {
		f, err := os.Open(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
		if err != nil {
			return fmt.Errorf("namespace of the machine: %w", err)
		}
		m.nsFiles = append(m.nsFiles, f)
		if same, err := sameFile(f.Name(), "/proc/self/ns/"+ns); err != nil || same {
			return fmt.Errorf("the machine shares the host's %s namespace", ns)
		}
	}
	// Before systemd chroots, the overlay is at dir/merged inside the
	// machine's mount namespace; this directory stays its root.
	root, err := os.Open(fmt.Sprintf("/proc/%d/root%s/merged", pid, m.dir))
	if err != nil {
		return fmt.Errorf("root of the machine: %w", err)
	}
	m.nsFiles = append(m.nsFiles, root)
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(root.Fd()), &st); err != nil || st.Type != unix.OVERLAYFS_SUPER_MAGIC {
		return fmt.Errorf("root of the machine is not the overlay (fs type %#x): %v", st.Type, err)
	}
	return nil
}

// boot lets the machine's init exec systemd and waits for the boot to end.
func (m *Machine) boot(ctx context.Context) (string, error) {
	_, err := io.WriteString(m.goPipe, "boot\n")
	m.goPipe.Close()
	if err != nil {
		return "", fmt.Errorf("start systemd: %w", err)
	}
	// systemctl works once the manager listens on its private socket.
	for {
		if _, err := m.stat("/run/systemd/private"); err == nil {
			break
		}
		select {
		case <-m.exited:
			return "", errors.New("the machine's init exited")
		case <-ctx.Done():
			return "", fmt.Errorf("systemd did not start: %w", ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
	out, _, err := m.Run(ctx, "systemctl", "is-system-running", "--wait")
	state := strings.TrimSpace(out)
	switch state {
	case "running", "degraded":
		return state, nil
	}
	if ctx.Err() != nil {
		err = ctx.Err()
	}
	return state, fmt.Errorf("systemd reports %q: %v", state, err)
}

// Kill sends SIGKILL to the machine's init, which takes every process of the
// machine's PID namespace with it. It never shuts systemd down cleanly: a
// clean shutdown could remount shared file systems read-only.
func (m *Machine) Kill() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var err error
	if m.pidfd >= 0 {
		if e := unix.PidfdSendSignal(m.pidfd, unix.SIGKILL, nil, 0); e != nil && !errors.Is(e, unix.ESRCH) {
			err = fmt.Errorf("kill the machine's init: %w", e)
		}
		unix.Close(m.pidfd)
		m.pidfd = -1
	}
	// Held namespaces would keep the machine's mounts alive.
	for _, f := range m.nsFiles {
		f.Close()
	}
	m.nsFiles = nil
	return err
}

// Close kills the machine and removes everything it left on the host: its
// processes, cgroups and directory. Its mounts were never visible on the
// host and vanish with its last process. Close is idempotent; Boot arranges
// for it to run when the test ends.
func (m *Machine) Close() error {
	m.closeOnce.Do(func() { m.closeErr = m.close() })
	return m.closeErr
}

func (m *Machine) close() error {
	var errs []error
	if err := m.Kill(); err != nil {
		errs = append(errs, err)
	}
	if m.goPipe != nil {
		m.goPipe.Close()
	}
	if m.cmd != nil {
		select {
		case <-m.exited:
		case <-time.After(stopTimeout):
			_ = m.cmd.Process.Kill()
			<-m.exited
			errs = append(errs, fmt.Errorf("unshare (PID %d) outlived the machine's init by %v", m.cmd.Process.Pid, stopTimeout))
		}
	}
	if m.console != nil {
		m.consolePeer.Close()
		m.console.Close()
		<-m.consoleDone
	}
	if err := removeMachineDir(m.dir, m.cgroups); err != nil {
		errs = append(errs, err)
	}
	if m.lock != nil {
		m.lock.Close()
	}
	if len(errs) > 0 {
		return fmt.Errorf("close %s: %w", m.name, errors.Join(errs...))
	}
	return nil
}

// startConsole gives the machine a /dev/console: a pseudo-terminal whose
// output is copied to boot.log, so systemd's status lines are there when a
// boot fails. systemd writes to the console only if it is a terminal, hence
// not a plain file or FIFO. The harness keeps the terminal's other end open
// so reading never hits EIO while nobody in the machine has it open; Close
// ends the copy. It returns the terminal's path for boot.sh to bind-mount.
func (m *Machine) startConsole(log *os.File) (string, error) {
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return "", fmt.Errorf("console: %w", err)
	}
	var n int
	if err = ptmxControl(ptmx, func(fd int) error {
		if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
			return err
		}
		n, err = unix.IoctlGetInt(fd, unix.TIOCGPTN)
		return err
	}); err != nil {
		ptmx.Close()
		return "", fmt.Errorf("console: %w", err)
	}
	tty := fmt.Sprintf("/dev/pts/%d", n)
	peer, err := os.OpenFile(tty, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		ptmx.Close()
		return "", fmt.Errorf("console: %w", err)
	}
	out, err := os.OpenFile(log.Name(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		ptmx.Close()
		peer.Close()
		return "", fmt.Errorf("console: %w", err)
	}
	m.console, m.consolePeer = ptmx, peer
	m.consoleDone = make(chan struct{})
	go func() {
		defer close(m.consoleDone)
		defer out.Close()
		_, _ = io.Copy(crlfWriter{out}, ptmx)
	}()
	return tty, nil
}

// ptmxControl runs f on the raw descriptor of a pollable file without
// taking it out of non-blocking mode, as File.Fd would.
func ptmxControl(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// crlfWriter drops the carriage returns a terminal adds to each line.
type crlfWriter struct{ w io.Writer }

func (c crlfWriter) Write(p []byte) (int, error) {
	if _, err := c.w.Write(bytes.ReplaceAll(p, []byte("\r"), nil)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// bootLog returns the end of the machine's boot log, for failure messages.
func (m *Machine) bootLog() string {
	data, err := os.ReadFile(filepath.Join(m.dir, "boot.log"))
	if err != nil {
		return fmt.Sprintf("(no boot log: %v)", err)
	}
	const max = 16 << 10
	if len(data) > max {
		data = append([]byte("…\n"), data[len(data)-max:]...)
	}
	return "boot log:\n" + string(data)
}

// preflight reports why machines cannot boot here, if they cannot.
func preflight() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("running as uid %d, not root", os.Geteuid())
	}
	for _, p := range []string{"unshare", "nsenter", "setpriv", "chroot", "mount"} {
		if _, err := exec.LookPath(p); err != nil {
			return err
		}
	}
	if _, err := os.Stat("/lib/systemd/systemd"); err != nil {
		return fmt.Errorf("no systemd: %w", err)
	}
	fss, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		return err
	}
	for _, fs := range []string{"overlay", "tmpfs", "cgroup"} {
		if !strings.Contains(string(fss), "\t"+fs+"\n") {
			return fmt.Errorf("the kernel has no %s file system", fs)
		}
	}
	out, err := exec.Command("unshare", "--pid", "--fork", "--mount", "--uts", "--ipc", "--net", "--cgroup", "true").CombinedOutput()
	if err != nil {
		return fmt.Errorf("unshare: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

func sameFile(a, b string) (bool, error) {
	sa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	sb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(sa, sb), nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
