package web

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/engine"
)

// rebindEvery is how often a listener that could not bind tries again: the
// port may be held by a daemon that is going away.
const rebindEvery = 30 * time.Second

// Run serves HTTP on the configured address until ctx ends, following
// reloads: a new listen address rebinds, the metrics and dashboard switches
// apply at once, and "" stops listening. With monitoring.dashboard_listen
// set, the dashboard has a second listener of its own (SPEC §9's
// dashboardPort), and the first one stops serving it. A failure to bind is
// logged, not returned: healing goes on without the listener, which tries
// again.
func (s *Server) Run(ctx context.Context) error {
	events, unsubscribe := s.o.Engine.Subscribe(16)
	defer unsubscribe()
	var main, dash *running
	defer func() { main.stop(); dash.stop() }()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	// failed is the address each listener last failed to bind, so that a
	// port that stays taken is said once, not at every retry.
	failed := map[listenerRole]string{}

	// bind (re)binds one listener to addr, or stops it for "".
	bind := func(cur **running, addr string, role listenerRole, published *atomic.Pointer[string]) {
		if *cur != nil && (*cur).addr == addr {
			return
		}
		(*cur).stop()
		*cur = nil
		published.Store(nil)
		if role == mainListener {
			s.loopback.Store(loopbackAddr(addr))
		}
		if addr == "" {
			if role == mainListener {
				s.log.Info("the HTTP listener is off")
			}
			return
		}
		r, err := s.start(addr, role)
		if err != nil {
			be := &BindError{Addr: addr, Err: err}
			if role == mainListener {
				s.bindErr.Store(be)
			}
			if failed[role] != addr {
				failed[role] = addr
				s.log.Error("the HTTP listener is not running; it tries again in the background",
					"why", be.Error(), "listen", addr, "role", role.String(), "retry_every", s.o.RebindEvery)
			} else {
				s.log.Debug("the HTTP listener still cannot bind", "listen", addr, "role", role.String(), "err", err)
			}
			retry.Reset(s.o.RebindEvery)
			return
		}
		delete(failed, role)
		if role == mainListener {
			s.bindErr.Store(nil)
		}
		*cur = r
		bound := r.ln.Addr().String()
		published.Store(&bound)
		if role == mainListener {
			s.loopback.Store(r.loopback)
		}
		attrs := []any{"listen", bound, "role", role.String()}
		if role == mainListener {
			attrs = append(attrs, "metrics", s.metricsOn(), "dashboard", s.dashboardOn() && s.dashboardListen() == "")
		}
		if !r.loopback {
			attrs = append(attrs, "note", "not loopback: anyone who can reach this address can read the status")
		}
		s.log.Info("HTTP listener started", attrs...)
	}
	apply := func() {
		bind(&main, s.listenAddr(s.o.Engine.Config()), mainListener, &s.addr)
		bind(&dash, s.dashboardListen(), dashboardListener, &s.dashAddr)
	}
	apply()
	s.triedOnce.Do(func() { close(s.tried) })
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			switch ev.Type {
			case engine.ConfigChanged:
				apply()
			case engine.StatusChanged:
				s.series.observe(s.o.Engine.Status())
			}
		case <-retry.C:
			apply()
		}
	}
}

// listenerRole tells the handlers which listener a request came in on.
type listenerRole int

const (
	mainListener      listenerRole = iota // everything, less the dashboard when it has its own
	dashboardListener                     // the dashboard and the API it reads
)

func (r listenerRole) String() string {
	if r == dashboardListener {
		return "dashboard"
	}
	return "main"
}

// listenerKey keys the listenerInfo in every request's context.
type listenerKey struct{}

type listenerInfo struct {
	role     listenerRole
	loopback bool
}

// dashboardListen is the dashboard's own address, or "" when it is served
// on the main listener (or not at all).
func (s *Server) dashboardListen() string {
	c := s.o.Engine.Config()
	if !s.dashboardOn() {
		return ""
	}
	return c.Monitoring.DashboardListen
}

// running is one bound listener and its server.
type running struct {
	addr     string
	ln       net.Listener
	srv      *http.Server
	cancel   context.CancelFunc
	done     chan struct{}
	loopback bool
}

func (s *Server) start(addr string, role listenerRole) (*running, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(ln.Addr().String())
	ip := net.ParseIP(host)
	// Requests' contexts derive from base, so cancelling it ends the
	// open event streams, which Shutdown alone would wait for.
	r := &running{addr: addr, ln: ln, done: make(chan struct{}), loopback: ip != nil && ip.IsLoopback()}
	base, cancel := context.WithCancel(context.WithValue(context.Background(), listenerKey{}, listenerInfo{role: role, loopback: r.loopback}))
	r.cancel = cancel
	r.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		// The event stream extends its own deadline before every write.
		WriteTimeout:   30 * time.Second,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 16 << 10,
		BaseContext:    func(net.Listener) context.Context { return base },
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	go func() {
		defer close(r.done)
		if err := r.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("the HTTP listener stopped", "listen", addr, "err", err)
		}
	}()
	return r, nil
}

// stop closes the listener, ends the event streams and waits briefly for
// requests in flight.
func (r *running) stop() {
	if r == nil {
		return
	}
	r.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := r.srv.Shutdown(ctx); err != nil {
		r.srv.Close()
	}
	<-r.done
}

// BindError is why the HTTP listener could not bind its address.
type BindError struct {
	Addr string
	Err  error
}

func (e *BindError) Error() string {
	if errors.Is(e.Err, syscall.EADDRINUSE) {
		return e.Addr + " is taken by another program (address already in use); choose another with --listen ADDRESS or monitoring.listen"
	}
	return "cannot listen on " + e.Addr + ": " + e.Err.Error() + "; choose another address with --listen ADDRESS or monitoring.listen"
}

func (e *BindError) Unwrap() error { return e.Err }

// Listening waits until Run has tried to bind the main listener, or ctx
// ends, and returns the bound address, or "" and why it is not listening
// (nil when it is off).
func (s *Server) Listening(ctx context.Context) (string, error) {
	select {
	case <-s.tried:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	if be := s.bindErr.Load(); be != nil && s.Addr() == "" {
		return "", be
	}
	return s.Addr(), nil
}

// Addr returns the address the listener is bound to, or "" when it is not
// listening; for tests and the try-it mode's banner.
func (s *Server) Addr() string {
	if a := s.addr.Load(); a != nil {
		return *a
	}
	return ""
}

// DashboardAddr returns the address the dashboard's own listener is bound
// to, or "" when there is none (the dashboard is then on Addr, or off).
func (s *Server) DashboardAddr() string {
	if a := s.dashAddr.Load(); a != nil {
		return *a
	}
	return ""
}
