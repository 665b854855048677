//go:build linux && (amd64 || arm64)

package bustest

import (
	"net"
	"os"
	"os/user"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"unsafe"

	"github.com/godbus/dbus/v5"
)

// ConnAs opens a connection to the bus that the bus, and so polkit, sees as
// coming from uid, with that user's primary and supplementary groups from the
// user database. uid must be in the user database: dbus-daemon drops a
// connection whose groups it cannot look up. It needs root and is skipped
// otherwise.
//
// The bus learns a peer's uid from SO_PEERCRED, which the kernel records from
// the credentials of the thread that calls connect(2). So the connect runs on
// a thread locked to its goroutine that first drops to uid; the thread is
// never unlocked and the Go runtime discards it afterwards. The rest of the
// conversation runs as usual in this process, which stays root.
func (b *Bus) ConnAs(t testing.TB, uid int) *dbus.Conn {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("bustest: ConnAs needs root to connect as another uid")
	}
	gid, groups := identity(uid)
	fd, err := connectAs(b.socket, uid, gid, groups)
	if err != nil {
		t.Fatalf("bustest: connecting to %s as uid %d: %v", b.socket, uid, err)
	}
	f := os.NewFile(uintptr(fd), b.socket)
	nc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		t.Fatalf("bustest: %v", err)
	}
	conn, err := dbus.NewConn(nc)
	if err != nil {
		nc.Close()
		t.Fatalf("bustest: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.Auth([]dbus.Auth{dbus.AuthExternal(strconv.Itoa(uid))}); err != nil {
		t.Fatalf("bustest: authenticating as uid %d: %v", uid, err)
	}
	if err := conn.Hello(); err != nil {
		t.Fatalf("bustest: Hello as uid %d: %v", uid, err)
	}
	return conn
}

// identity returns uid's primary group and groups, or uid as its own group
// when the user database does not know it.
func identity(uid int) (gid int, groups []uint32) {
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		return uid, nil
	}
	gid, err = strconv.Atoi(u.Gid)
	if err != nil {
		gid = uid
	}
	ids, _ := u.GroupIds()
	for _, s := range ids {
		if g, err := strconv.ParseUint(s, 10, 32); err == nil {
			groups = append(groups, uint32(g))
		}
	}
	return gid, groups
}

func connectAs(path string, uid, gid int, groups []uint32) (int, error) {
	type result struct {
		fd  int
		err error
	}
	res := make(chan result, 1)
	go func() {
		// No UnlockOSThread: this thread's credentials change for good, so
		// the runtime must terminate it when the goroutine returns.
		runtime.LockOSThread()
		fd, err := dropAndConnect(path, uid, gid, groups)
		res <- result{fd, err}
	}()
	r := <-res
	// Changing a thread's uid clears the process-wide dumpable flag, which
	// hides /proc/<pid> details from polkitd; set it back.
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_DUMPABLE, 1, 0)
	return r.fd, r.err
}

// dropAndConnect changes the calling thread's (not the process's, unlike
// syscall.Setuid) credentials and connects to the socket at path.
func dropAndConnect(path string, uid, gid int, groups []uint32) (int, error) {
	var list unsafe.Pointer
	if len(groups) > 0 {
		list = unsafe.Pointer(&groups[0])
	}
	if _, _, e := syscall.RawSyscall(syscall.SYS_SETGROUPS, uintptr(len(groups)), uintptr(list), 0); e != 0 {
		return -1, os.NewSyscallError("setgroups", e)
	}
	if _, _, e := syscall.RawSyscall(syscall.SYS_SETRESGID, uintptr(gid), uintptr(gid), uintptr(gid)); e != 0 {
		return -1, os.NewSyscallError("setresgid", e)
	}
	if _, _, e := syscall.RawSyscall(syscall.SYS_SETRESUID, uintptr(uid), uintptr(uid), uintptr(uid)); e != 0 {
		return -1, os.NewSyscallError("setresuid", e)
	}
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	if err := syscall.Connect(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		syscall.Close(fd)
		return -1, os.NewSyscallError("connect", err)
	}
	return fd, nil
}
