package testbed

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestReachingAServiceOnTheMachinesLoopback runs an echo service on the
// machine's 127.0.0.1 and reaches it from the host, through DialContext and
// through Forward, and checks that a dial really happens in the machine's
// namespace: a port open on the host's loopback is not there.
func TestReachingAServiceOnTheMachinesLoopback(t *testing.T) {
	m := Boot(t, Options{Name: "lhnet", Setup: []string{"systemctl mask --quiet postgresql@15-main.service postgresql.service || true"}})
	ctx := t.Context()
	m.MustRun(t, "systemd-run", "--unit=lh-echo", "--quiet",
		"systemd-socket-activate", "--listen=127.0.0.1:7777", "--accept", "--inetd", "/bin/cat")
	echo := func(t *testing.T, c net.Conn) {
		t.Helper()
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, "ping\n"); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || line != "ping\n" {
			t.Fatalf("echo answered %q, %v; want ping", line, err)
		}
	}
	waitDial := func(t *testing.T) net.Conn {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			c, err := m.DialContext(ctx, "tcp", "127.0.0.1:7777")
			if err == nil {
				return c
			}
			if time.Now().After(deadline) {
				t.Fatalf("dial the echo service in the machine: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	t.Run("DialContext reaches the machine's loopback", func(t *testing.T) {
		echo(t, waitDial(t))
	})

	t.Run("dials end no thread, so no machine dies with one", func(t *testing.T) {
		// A dial's thread that ended instead of going back could be the
		// one that started some machine's unshare, whose Pdeathsig would
		// kill that machine: in the first version, the fleet test lost
		// a machine so. Go itself never ends a thread otherwise.
		before := threads(t)
		var wg sync.WaitGroup
		for range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if c, err := m.DialContext(ctx, "tcp", "127.0.0.1:7777"); err == nil {
					c.Close()
				}
			}()
		}
		wg.Wait()
		after := threads(t)
		for _, tid := range before {
			if !slices.Contains(after, tid) {
				t.Errorf("thread %s ended during the dials; want every thread kept", tid)
			}
		}
		if out, _, err := m.Run(ctx, "true"); err != nil {
			t.Fatalf("the machine no longer runs commands after the dials: %v %s", err, out)
		}
	})

	t.Run("a host name is refused", func(t *testing.T) {
		if _, err := m.DialContext(ctx, "tcp", "localhost:7777"); err == nil {
			t.Error("dialled localhost:7777; want an error: only an IP address keeps the socket in the machine")
		}
	})

	t.Run("a port of the host's loopback is not in the machine", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		if c, err := m.DialContext(ctx, "tcp", ln.Addr().String()); err == nil {
			c.Close()
			t.Fatalf("dialled the host's %s from inside the machine; want connection refused", ln.Addr())
		}
	})

	t.Run("Forward carries a connection and its half close", func(t *testing.T) {
		addr := m.Forward(t, "127.0.0.1:7777")
		if !strings.HasPrefix(addr, "127.0.0.1:") {
			t.Errorf("Forward listens on %s; want the host's loopback", addr)
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		echo(t, c)

		// cat answers everything once its input ends: the end must pass.
		c, err = net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "one\ntwo\n")
		c.(*net.TCPConn).CloseWrite()
		got, err := io.ReadAll(c)
		if err != nil || string(got) != "one\ntwo\n" {
			t.Errorf("through Forward: %q, %v; want one, two and the end", got, err)
		}
	})

	t.Run("nothing is dialled once the machine has stopped", func(t *testing.T) {
		addr := m.Forward(t, "127.0.0.1:7777")
		if err := m.Kill(); err != nil {
			t.Fatal(err)
		}
		if _, err := m.DialContext(ctx, "tcp", "127.0.0.1:7777"); !errors.Is(err, ErrStopped) {
			t.Errorf("DialContext after Kill: %v; want ErrStopped", err)
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err) // the forwarder's own listener stays until the test ends
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if n, err := c.Read(make([]byte, 1)); err == nil {
			t.Errorf("read %d bytes through Forward after Kill; want the connection closed", n)
		}
	})
}

// threads lists the test process's thread ids.
func threads(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range ents {
		ids = append(ids, e.Name())
	}
	return ids
}
