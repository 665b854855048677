// Package web is the daemon's HTTP listener (SPEC §1): /metrics for
// Prometheus, the live dashboard at / with its server-sent event stream, the
// read-only JSON API under /api/v1/ and /healthz. Nothing here mutates
// anything: every route is GET (and so HEAD); mutations exist only on D-Bus.
// docs/http.md and docs/dashboard.md describe what it serves.
//
// It is a transport: it reads the engine and the audit history through the
// small interfaces below and is wired by cmd/luminous-healingd only.
package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/metrics"
	"github.com/luminous-healing/luminous-healing/internal/predict"
)

// Engine is what the listener reads from the daemon's core (engine.Engine).
type Engine interface {
	Status() *engine.Status
	Series(id string) []predict.Point
	Subscribe(buf int) (<-chan engine.Event, func())
	Config() *config.Config
	Alive(ctx context.Context, timeout time.Duration) bool
}

// History is the audit history (audit.Log).
type History interface {
	History(limit int) []audit.Entry
}

// Options wire a Server. Engine and History are required.
type Options struct {
	Engine  Engine
	History History
	// Metrics serves /metrics (metrics.Recorder.Handler); nil: no /metrics.
	Metrics http.Handler
	// ForceDashboard serves the dashboard whatever the configuration
	// says: the try-it mode shows it.
	ForceDashboard bool
	Log            *slog.Logger
	// RebindEvery is how often a listener that could not bind tries
	// again; default 30 s.
	RebindEvery time.Duration
}

// Server is the HTTP listener. Create it with New, start it with Run.
type Server struct {
	o       Options
	log     *slog.Logger
	handler http.Handler
	// loopback is set while the listener is bound to a loopback address.
	loopback atomic.Bool
	series   *seriesCache
	streams  chan struct{} // a token per open event stream
	clients  clientStreams // open event streams per client
	addr     atomic.Pointer[string]
	dashAddr atomic.Pointer[string] // the dashboard's own listener, if any
	// bindErr is why the main listener is not bound, while it is not.
	bindErr atomic.Pointer[BindError]
	// tried is closed once Run has tried to bind the first time.
	tried     chan struct{}
	triedOnce sync.Once
}

// maxStreams bounds the dashboards open at once: each holds a goroutine
// and a subscription.
const maxStreams = 32

// New returns a Server for o.
func New(o Options) *Server {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.RebindEvery <= 0 {
		o.RebindEvery = rebindEvery
	}
	s := &Server{o: o, log: o.Log, series: newSeriesCache(), streams: make(chan struct{}, maxStreams), tried: make(chan struct{})}
	s.loopback.Store(loopbackAddr(s.listenAddr(o.Engine.Config())))

	mux := http.NewServeMux()
	// Patterns with GET also match HEAD; the mux answers 405 with an
	// Allow header to any other method on these paths, 404 elsewhere.
	mux.HandleFunc("GET /{$}", s.dashboard(s.serveAsset))
	mux.HandleFunc("GET /assets/{name}", s.dashboard(s.serveAsset))
	mux.HandleFunc("GET /api/v1/events", s.dashboard(s.serveEvents))
	mux.HandleFunc("GET /metrics", s.serveMetrics)
	mux.HandleFunc("GET /healthz", s.serveHealth)
	mux.HandleFunc("GET /api/v1/status", s.serveStatus)
	mux.HandleFunc("GET /api/v1/issues", s.serveIssues)
	mux.HandleFunc("GET /api/v1/predictions", s.servePredictions)
	mux.HandleFunc("GET /api/v1/history", s.serveHistory)
	s.handler = s.guard(mux)
	return s
}

// The [monitoring] switches are read from the configuration in force on
// every request, so that they apply as soon as a reload returns.
func (s *Server) metricsOn() bool {
	return s.o.Metrics != nil && s.o.Engine.Config().Monitoring.Metrics
}
func (s *Server) dashboardOn() bool {
	return s.o.ForceDashboard || s.o.Engine.Config().Monitoring.Dashboard
}

// Handler is the listener's whole HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// guard applies what holds for every response: the headers that keep a
// browser from doing anything but showing the page, and the refusal of Host
// names the listener does not answer to (on loopback: names that are not
// loopback; elsewhere: see allowedHost), so that a web page cannot read
// the API through DNS rebinding.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		loopback := s.loopback.Load()
		if li, ok := r.Context().Value(listenerKey{}).(listenerInfo); ok {
			loopback = li.loopback
		}
		if loopback && !loopbackHost(r.Host) {
			http.Error(w, "this listener is bound to loopback and answers to loopback host names only (localhost, 127.0.0.1, [::1])", http.StatusMisdirectedRequest)
			return
		}
		if !loopback && !s.allowedHost(r) {
			http.Error(w, "this listener answers to loopback names, the machine's host name, its own address and monitoring.allowed_hosts only", http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// listenAddr is the address to listen on. The daemon's --listen reaches
// it through the configuration (engine.Options.Amend).
func (s *Server) listenAddr(c *config.Config) string {
	return c.Monitoring.Listen
}

// loopbackAddr reports whether a listen address binds loopback only.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && host != "" && loopbackHost(host)
}

// loopbackHost reports whether a Host header names this machine's
// loopback: localhost (or a name under .localhost) or a loopback address.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// dashboard gates the dashboard's routes on [monitoring] dashboard.
func (s *Server) dashboard(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.dashboardOn() {
			http.Error(w, "the dashboard is off: set dashboard = true in [monitoring] and reload", http.StatusNotFound)
			return
		}
		if own := s.dashboardListen(); own != "" && roleOf(r) == mainListener {
			http.Error(w, "the dashboard has a listener of its own: "+own+" (dashboard_listen in [monitoring])", http.StatusNotFound)
			return
		}
		h(w, r)
	}
}

// roleOf is the listener r came in on; the main one for requests served
// without a listener (tests calling Handler directly).
func roleOf(r *http.Request) listenerRole {
	if li, ok := r.Context().Value(listenerKey{}).(listenerInfo); ok {
		return li.role
	}
	return mainListener
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if roleOf(r) == dashboardListener {
		http.Error(w, "metrics are on the main listener (listen in [monitoring]), not the dashboard's", http.StatusNotFound)
		return
	}
	if !s.metricsOn() {
		http.Error(w, "metrics are off: set metrics = true in [monitoring] and reload", http.StatusNotFound)
		return
	}
	s.o.Metrics.ServeHTTP(w, r)
}

// serveHealth answers 200 while the engine's loop answers and checks on
// time, 503 otherwise: what a liveness probe or a load balancer wants.
func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if !s.o.Engine.Alive(r.Context(), 2*time.Second) {
		http.Error(w, "unhealthy: the engine's loop does not answer", http.StatusServiceUnavailable)
		return
	}
	st := s.o.Engine.Status()
	// The first check comes one interval after the start; allow three
	// intervals (and a minute for slow first passes) before calling it late.
	since := st.LastCheck
	if since.IsZero() {
		since = st.Started
	}
	if late := time.Since(since); late > 3*st.Interval+time.Minute {
		http.Error(w, "unhealthy: no check for "+late.Round(time.Second).String(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

func (s *Server) serveStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, r, statusOf(s.o.Engine.Status()))
}

func (s *Server) serveIssues(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, r, issuesOf(s.o.Engine.Status().Issues))
}

func (s *Server) servePredictions(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, r, predictionsOf(s.o.Engine.Status().Forecasts))
}

// defaultHistory is how many entries /api/v1/history returns without ?limit.
const defaultHistory = 100

func (s *Server) serveHistory(w http.ResponseWriter, r *http.Request) {
	limit := defaultHistory
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.ParseUint(v, 10, 31)
		if err != nil {
			writeError(w, http.StatusBadRequest, "limit must be a whole number (0 = all), got "+strconv.Quote(shorten(v)))
			return
		}
		limit = int(n)
	}
	writeJSON(w, r, historyOf(s.o.History.History(limit)))
}

func shorten(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}

// gzipMin is the size below which compressing costs more than it saves.
const gzipMin = 1024

var gzipPool = sync.Pool{New: func() any { w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed); return w }}

// writeJSON sends v as JSON, gzipped when the client accepts it and the
// body is large enough to gain from it.
func writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "could not encode the response")
		return
	}
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Add("Vary", "Accept-Encoding")
	var zipped func() []byte
	if len(body) >= gzipMin {
		zipped = func() []byte {
			var buf bytes.Buffer
			zw := gzipPool.Get().(*gzip.Writer)
			zw.Reset(&buf)
			zw.Write(body)
			zw.Close()
			gzipPool.Put(zw)
			return buf.Bytes()
		}
	}
	writeBody(w, r, body, zipped)
}

// writeBody sends body, or to a client that accepts gzip the form zipped
// makes (nil: none, the body is too small to gain), with its length; a
// HEAD request gets the headers alone.
func writeBody(w http.ResponseWriter, r *http.Request, body []byte, zipped func() []byte) {
	h := w.Header()
	if zipped != nil && metrics.AcceptsGzip(r.Header.Get("Accept-Encoding")) {
		body = zipped()
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
