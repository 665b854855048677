package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/engine/enginetest"
)

// systemd hears STATUS= when the line it shows changes, not at every
// check: the status changes at every check (its LastCheck) while the line
// (health, mode, issues, units) does not, and each datagram wakes PID 1.
// On systemd's notify socket, here a socket of the test's own. It failed
// before: one STATUS= a check.
func TestSystemdHearsTheStatusLineOnlyWhenItChanges(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "")

	cfg := enginetest.Config(100 * time.Millisecond)
	cfg.Monitoring.Interval = config.Duration(100 * time.Millisecond)
	cfg.Services.Monitored = nil // nothing that could open an issue and change the line
	e := enginetest.New(t, enginetest.Setup{Config: cfg})
	ctx, cancel := context.WithCancel(context.Background())
	done := e.Start(ctx)
	defer func() { cancel(); <-done }()
	events, unsubscribe := e.Subscribe(64)
	defer unsubscribe()
	// Read as systemd does, all along: the socket queues only ten
	// datagrams (net.unix.max_dgram_qlen) and the sender then blocks.
	heard := make(chan []string, 1)
	go func() {
		var got []string
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				heard <- got
				return
			}
			got = append(got, strings.ReplaceAll(string(buf[:n]), "\n", " | "))
		}
	}()
	ready := make(chan struct{})
	close(ready)
	stopped := make(chan struct{})
	go func() {
		notifySystemd(ctx, e.Engine, ready, slog.New(slog.NewTextHandler(io.Discard, nil)))
		close(stopped)
	}()

	// Ten checks, each a StatusChanged (its LastCheck).
	for checks := 0; checks < 10; {
		select {
		case ev := <-events:
			if ev.Type == engine.StatusChanged {
				checks++
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("no ten checks in 30 s (%d)", checks)
		}
	}
	cancel()
	<-stopped
	conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	got := <-heard
	var status int
	for _, g := range got {
		if strings.Contains(g, "STATUS=") {
			status++
		}
	}
	if len(got) == 0 || !strings.HasPrefix(got[0], "READY=1") {
		t.Fatalf("systemd heard %q; want READY=1 first", got)
	}
	if status != 1 {
		t.Errorf("systemd heard STATUS= %d times in ten checks of an unchanged status; want once, with READY=1:\n%s", status, strings.Join(got, "\n"))
	}
}
