package testbed

import (
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// DialContext connects to address (a "tcp" address such as
// "127.0.0.1:9955") from inside the machine's network namespace, where only
// the machine's own loopback is: it reaches the machine's services listening
// on 127.0.0.1 without giving the machine an address of any other network.
//
// The socket is made on a thread locked to the calling goroutine that enters
// the machine's namespace and then goes back to its own: a socket keeps the
// namespace it was made in. The thread must go back rather than end (as a
// goroutine that exits locked ends its thread): the thread may be the one
// that started some machine's unshare, whose Pdeathsig would then kill that
// machine.
func (m *Machine) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return m.Dial(ctx, &net.Dialer{}, network, address)
}

// Dial is DialContext with a dialer of the caller's, for a local address
// (d.LocalAddr: one the machine has, such as one added to its lo) or a
// timeout.
func (m *Machine) Dial(ctx context.Context, d *net.Dialer, network, address string) (net.Conn, error) {
	// The socket must be made here, on this thread: a host name could
	// make the dialer race two addresses on goroutines of its own, whose
	// sockets would be made in the host's namespace.
	if host, _, err := net.SplitHostPort(address); err != nil || net.ParseIP(host) == nil {
		return nil, fmt.Errorf("testbed: %s: dial %q: want an IP address and a port", m.name, address)
	}
	m.mu.RLock()
	if m.nsFiles == nil {
		m.mu.RUnlock()
		return nil, ErrStopped
	}
	// A copy of the descriptor, so Kill may close the machine's own
	// while the dial is under way.
	netns, err := unix.Dup(int(m.nsFiles[3].Fd()))
	m.mu.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("testbed: %s: network namespace: %w", m.name, err)
	}
	defer unix.Close(netns)

	runtime.LockOSThread()
	home, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("testbed: %s: the host's network namespace: %w", m.name, err)
	}
	defer unix.Close(home)
	if err := unix.Setns(netns, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("testbed: %s: enter the network namespace: %w", m.name, err)
	}
	conn, err := d.DialContext(ctx, network, address)
	if serr := unix.Setns(home, unix.CLONE_NEWNET); serr != nil {
		// Unlocking would let other goroutines run in the machine's
		// namespace; this one's thread now ends with the process.
		panic(fmt.Sprintf("testbed: %s: cannot leave the machine's network namespace: %v", m.name, serr))
	}
	runtime.UnlockOSThread()
	if err != nil {
		return nil, fmt.Errorf("testbed: %s: %w", m.name, err)
	}
	return conn, nil
}

// Forward listens on a free port of the host's loopback and forwards every
// connection to address inside the machine (see DialContext). It returns the
// host's address, "127.0.0.1:PORT". Nothing but the host's loopback and the
// machine's namespace carries the traffic; no interface or address is added
// anywhere. The forwarder stops when the test ends or the machine stops.
//
// A host's tool (a Prometheus, a browser) can so reach a service that listens
// on the machine's loopback only.
func (m *Machine) Forward(t testing.TB, address string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testbed: forward to %s in %s: %v", address, m.name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			in, err := ln.Accept()
			if err != nil {
				return // closed
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer in.Close()
				out, err := m.DialContext(ctx, "tcp", address)
				if err != nil {
					return // the client sees the connection closed, as with a refused port
				}
				defer out.Close()
				stop := context.AfterFunc(ctx, func() {
					in.Close()
					out.Close()
				})
				defer stop()
				splice(in, out)
			}()
		}
	}()
	return ln.Addr().String()
}

// splice copies both ways until either side is done, passing on half
// closes so that a request body's end reaches the server.
func splice(a, b net.Conn) {
	var wg sync.WaitGroup
	half := func(dst, src net.Conn) {
		defer wg.Done()
		if _, err := io.Copy(dst, src); err != nil {
			// A broken side ends both directions.
			a.Close()
			b.Close()
			return
		}
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
	}
	wg.Add(2)
	go half(a, b)
	go half(b, a)
	wg.Wait()
}
