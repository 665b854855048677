package web_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/web"
)

// syncBuffer is a log destination the listener and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A port another program holds is said at once, naming --listen, and once:
// the retries every RebindEvery do not repeat it (before, every 30 s). The
// listener binds when the port is free again.
func TestATakenPortIsSaidOnceNamingListen(t *testing.T) {
	d := startDaemon(t, "")
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := taken.Addr().String()

	var logs syncBuffer
	srv := web.New(web.Options{Engine: listenOn{d.eng, addr}, History: audit.New(audit.Options{}), RebindEvery: 20 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { srv.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	got, err := srv.Listening(t.Context())
	var be *web.BindError
	if got != "" || !errors.As(err, &be) || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("Listening = %q, %v; want no address and a BindError for a port in use", got, err)
	}
	for _, want := range []string{addr + " is taken", "--listen"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q; want it to say %q", err, want)
		}
	}
	time.Sleep(300 * time.Millisecond) // a dozen retries
	if n := strings.Count(logs.String(), "level=ERROR"); n != 1 || !strings.Contains(logs.String(), "--listen") {
		t.Errorf("%d error lines while the port stayed taken; want one naming --listen:\n%s", n, logs.String())
	}
	taken.Close()
	waitFor(t, "the listener once the port is free", func() bool { return srv.Addr() == addr })
	if got, err := srv.Listening(t.Context()); got != addr || err != nil {
		t.Errorf("Listening = %q, %v once bound; want %s", got, err, addr)
	}
}

// listenOn is the daemon's engine with monitoring.listen set to addr, for a
// second listener beside the daemon's own.
type listenOn struct {
	web.Engine
	addr string
}

func (l listenOn) Config() *config.Config {
	c := *l.Engine.Config()
	c.Monitoring.Listen = l.addr
	return &c
}
