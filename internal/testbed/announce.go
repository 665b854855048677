package testbed

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// SkipReason says why Boot skips on this host ("running as uid 1000, not
// root", a missing tool, no overlayfs), or "" where machines can boot.
func SkipReason() string {
	if err := preflight(); err != nil {
		return "needs root and unshare: " + err.Error()
	}
	return ""
}

// Announce prints line where the person or CI job that ran `go test` sees
// it even when the package passes. `go test ./...` keeps a passing
// package's output to itself and prints only "ok", so a package whose
// tests all skip would look like one that passed; Announce writes to the go
// command's own standard error instead, and to the test binary's where the
// binary was not started by go (go vet, a copied binary, -exec).
func Announce(line string) {
	w := goCommandStderr()
	if w == nil {
		fmt.Fprintln(os.Stderr, line)
		return
	}
	defer w.Close()
	fmt.Fprintln(w, line)
}

// AnnounceSkip is Announce for a test package whose tests need a machine:
// where none can boot it says so once, naming the package, and returns the
// reason; where machines can boot it says nothing and returns "".
func AnnounceSkip(pkg string) string {
	why := SkipReason()
	if why != "" {
		Announce(pkg + ": SKIPPED, NOT PASSED: " + why)
	}
	return why
}

// goCommandStderr opens the standard error of the go command that started
// this test binary, or returns nil where the parent is not go. A terminal or
// a pipe is opened as it is, and so is a regular file go writes to in append
// mode (2>>). A regular file go writes to at its own offset (> log 2>&1) is
// go's descriptor itself, shared through pidfd_getfd(2): opened anew it
// would have an offset of its own, and go's next line would overwrite this
// one.
func goCommandStderr() io.WriteCloser {
	ppid := os.Getppid()
	proc := "/proc/" + strconv.Itoa(ppid)
	comm, err := os.ReadFile(proc + "/comm")
	if err != nil || strings.TrimSpace(string(comm)) != "go" {
		return nil
	}
	fi, err := os.Stat(proc + "/fd/2")
	if err != nil {
		return nil
	}
	flags := os.O_WRONLY
	switch {
	case fi.Mode()&(os.ModeCharDevice|os.ModeNamedPipe|os.ModeSocket) != 0:
	case fi.Mode().IsRegular() && appending(proc+"/fdinfo/2"):
		flags |= os.O_APPEND
	case fi.Mode().IsRegular():
		return sharedDescriptor(ppid, 2)
	default:
		return nil
	}
	f, err := os.OpenFile(proc+"/fd/2", flags, 0)
	if err != nil {
		return nil
	}
	return f
}

// appending reports whether the descriptor /proc/PID/fdinfo/N describes was
// opened with O_APPEND.
func appending(fdinfo string) bool {
	b, err := os.ReadFile(fdinfo)
	if err != nil {
		return false
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "flags:"); ok {
			flags, err := strconv.ParseUint(strings.TrimSpace(v), 8, 64)
			return err == nil && flags&uint64(syscall.O_APPEND) != 0
		}
	}
	return false
}

// sharedDescriptor duplicates descriptor fd of process pid into this one,
// sharing its offset, or returns nil where the kernel does not let it
// (before Linux 5.6, or without the right to trace pid).
func sharedDescriptor(pid, fd int) io.WriteCloser {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(pidfd)
	n, err := unix.PidfdGetfd(pidfd, fd, 0)
	if err != nil {
		return nil
	}
	return os.NewFile(uintptr(n), "go's stderr")
}
