package testbed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ErrStopped is returned for anything asked of a machine after Kill or Close.
var ErrStopped = errors.New("testbed: the machine has stopped")

// rootEnv is the environment of root's commands in the machine.
var rootEnv = []string{
	"PATH=" + machinePath,
	"HOME=/root",
	"USER=root",
	"LOGNAME=root",
	"SHELL=/bin/sh",
	"LANG=C.UTF-8",
}

// Command returns a command that runs argv inside the machine: in all of its
// namespaces, chrooted to its root, with its / as working directory and a
// clean environment. user "" or "root" runs argv as root; any other user
// runs it with that user's uid, gid and groups and the environment
// setpriv --reset-env gives (HOME, USER, LOGNAME, SHELL, PATH), so the
// system bus and polkit see a real unprivileged caller.
//
// argv runs in a session of its own. When ctx ends, argv and everything in
// its process group are killed; if the command is killed otherwise, argv is
// killed too. Start the command while the machine runs: after Kill or Close,
// Start fails with ErrStopped. Most callers want Run or RunAs.
func (m *Machine) Command(ctx context.Context, user string, argv ...string) *exec.Cmd {
	// nsenter gets the namespaces and root as descriptors 3 to 9, which
	// can never name another machine's or the host's, unlike a PID.
	args := []string{
		"--mount=/proc/self/fd/3", "--uts=/proc/self/fd/4", "--ipc=/proc/self/fd/5",
		"--net=/proc/self/fd/6", "--pid=/proc/self/fd/7", "--cgroup=/proc/self/fd/8",
		"--root=/proc/self/fd/9", "--wd=/proc/self/fd/9",
		"--", "setsid", "setpriv", "--pdeathsig=KILL",
	}
	var lookupErr error
	if user != "" && user != "root" {
		uid, gid, err := m.lookupUser(user)
		lookupErr = err
		args = append(args, "--reuid="+strconv.Itoa(uid), "--regid="+strconv.Itoa(gid), "--init-groups", "--reset-env")
	}
	args = append(args, "--")
	args = append(args, argv...)
	cmd := exec.CommandContext(ctx, "nsenter", args...)
	cmd.Env = rootEnv
	cmd.Cancel = func() error { return cancelNsenter(cmd.Process) }
	cmd.WaitDelay = 5 * time.Second
	m.mu.RLock()
	cmd.ExtraFiles = m.nsFiles
	m.mu.RUnlock()
	switch {
	case lookupErr != nil:
		cmd.Err = lookupErr
	case len(argv) == 0:
		cmd.Err = errors.New("testbed: empty command")
	case cmd.ExtraFiles == nil:
		cmd.Err = ErrStopped
	}
	return cmd
}

// Run runs argv as root inside the machine and returns its output. A command
// that exits non-zero returns an *exec.ExitError (wrapped, with stderr in the
// message) along with whatever it printed.
func (m *Machine) Run(ctx context.Context, argv ...string) (stdout, stderr string, err error) {
	return m.run(m.Command(ctx, "", argv...), argv)
}

// RunAs is Run as user, who must exist in the machine (see AddUser).
func (m *Machine) RunAs(ctx context.Context, user string, argv ...string) (stdout, stderr string, err error) {
	return m.run(m.Command(ctx, user, argv...), argv)
}

// MustRun runs argv as root inside the machine, fails the test if it does
// not succeed, and returns its standard output. Call it from the test's
// goroutine.
func (m *Machine) MustRun(t testing.TB, argv ...string) string {
	t.Helper()
	out, _, err := m.Run(t.Context(), argv...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return out
}

func (m *Machine) run(cmd *exec.Cmd, argv []string) (string, string, error) {
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := m.startAndWait(cmd)
	if err != nil {
		msg := strings.TrimSpace(errOut.String())
		if len(msg) > 2000 {
			msg = "…" + msg[len(msg)-2000:]
		}
		if msg != "" {
			msg = ": " + msg
		}
		err = fmt.Errorf("testbed: %s: run %q: %w%s", m.name, argv, err, msg)
	}
	return out.String(), errOut.String(), err
}

// cancelNsenter stops a command started by Command. Killing nsenter itself
// would orphan its child, the command in the machine; an orphan goes to the
// host's init to be reaped, and until it is, the machine's init cannot finish
// dying (some hosts' inits reap only now and then). So the child's process
// group, which setsid made its own, is killed: the command and whatever it
// started, which would otherwise hold its output open. nsenter then reaps
// the child and exits.
func cancelNsenter(nsenter *os.Process) error {
	pid := nsenter.Pid
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	killed := false
	for f := range strings.FieldsSeq(string(data)) {
		child, err := strconv.Atoi(f)
		if err != nil {
			continue
		}
		fd, err := unix.PidfdOpen(child, 0)
		if err != nil {
			continue
		}
		// The pidfd pins the process; check it is still nsenter's child.
		if ppid(child) == pid && unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0) == nil {
			_ = unix.Kill(-child, unix.SIGKILL)
			killed = true
		}
		unix.Close(fd)
	}
	if err != nil || !killed {
		return nsenter.Kill() // not forked yet, or gone
	}
	return nil
}

// ppid returns the parent of pid, or 0.
func ppid(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// pid (comm) state ppid …; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 2 {
		return 0
	}
	p, _ := strconv.Atoi(f[1])
	return p
}

// lookupUser finds user's uid and primary gid in the machine's /etc/passwd.
func (m *Machine) lookupUser(user string) (uid, gid int, err error) {
	data, err := m.ReadFile("/etc/passwd")
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.Lines(string(data)) {
		f := strings.Split(strings.TrimSpace(line), ":")
		if len(f) < 7 || f[0] != user {
			continue
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			break
		}
		return uid, gid, nil
	}
	return 0, 0, fmt.Errorf("testbed: %s: no user %q in /etc/passwd", m.name, user)
}

// startAndWait runs cmd. Kill waits while the machine's descriptors are
// being passed to it, so they cannot be closed and reused under it.
func (m *Machine) startAndWait(cmd *exec.Cmd) error {
	m.mu.RLock()
	if m.nsFiles == nil && cmd.Err == nil {
		cmd.Err = ErrStopped
	}
	err := cmd.Start()
	m.mu.RUnlock()
	if err != nil {
		return err
	}
	return cmd.Wait()
}
