package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/wire"
)

// snapshotJSON is one message of the dashboard's event stream: everything
// the page shows, so that a reconnecting page needs nothing else.
type snapshotJSON struct {
	Status map[string]any `json:"status"`
	// Series are each resource's recent points as [ms since the epoch, value].
	Series map[string][][2]float64 `json:"series"`
	// Actions are the latest actions, newest first, with repeats of the
	// same action and outcome on the same target folded into one.
	// Each is a history record with "repeats": how many times in a row
	// it happened.
	Actions []map[string]any `json:"actions"`
}

// recentActions is how many actions a snapshot carries.
const recentActions = 10

func (s *Server) snapshot() ([]byte, error) {
	st := s.o.Engine.Status()
	s.series.observe(st)
	snap := snapshotJSON{Status: statusOf(st), Series: make(map[string][][2]float64, len(st.Resources))}
	for _, r := range st.Resources {
		pts := s.series.points(r.ID)
		// The predictor keeps longer histories, persisted across restarts,
		// but not for every series (it skips cpu); a sparkline shows the
		// latest cachedPoints of them, however long history_size is.
		if p := s.o.Engine.Series(r.ID); len(p) >= len(pts) {
			p = p[max(0, len(p)-cachedPoints):]
			pts = pts[:0]
			for _, pt := range p {
				pts = append(pts, [2]float64{float64(pt.T.UnixMilli()), pt.V})
			}
		}
		snap.Series[r.ID] = nonNil(pts)
	}
	snap.Actions = recent(s.o.History.History(0))
	return json.Marshal(snap)
}

// recent picks the latest actions from the history, newest first, folding
// runs of the same action and outcome on the same target: a refusal
// repeated at every check is one line, not the whole list.
func recent(history []audit.Entry) []map[string]any {
	type run struct {
		e       audit.Entry
		repeats int
	}
	var runs []run
	for _, e := range history {
		if !strings.HasPrefix(string(e.Event), "action-") {
			continue
		}
		if n := len(runs); n > 0 {
			last := &runs[n-1]
			if last.e.Action == e.Action && last.e.Target == e.Target && last.e.Issue == e.Issue &&
				last.e.Outcome == e.Outcome && last.e.Message == e.Message {
				last.repeats++
				continue
			}
		}
		if len(runs) == recentActions {
			break
		}
		runs = append(runs, run{e, 1})
	}
	out := make([]map[string]any, len(runs))
	for i, r := range runs {
		out[i] = client.JSON(wire.History(r.e))
		out[i]["repeats"] = r.repeats
	}
	return out
}

const (
	// coalesce is how long the stream gathers engine events into one
	// snapshot: a burst of events costs one message.
	coalesce = 150 * time.Millisecond
	// keepalive keeps proxies and browsers from timing the stream out.
	keepalive = 20 * time.Second
	// streamWriteTimeout bounds one write to a stalled client.
	streamWriteTimeout = 10 * time.Second
)

// serveEvents is the dashboard's server-sent event stream: a snapshot on
// connect and after every change.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	release, ok := s.clients.take(clientOf(r))
	if !ok {
		http.Error(w, fmt.Sprintf("this client has %d dashboards open already; close one and reload", maxStreamsPerClient), http.StatusTooManyRequests)
		return
	}
	defer release()
	select {
	case s.streams <- struct{}{}:
		defer func() { <-s.streams }()
	default:
		http.Error(w, "too many dashboards are open; close one and reload", http.StatusServiceUnavailable)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx in front must not buffer the stream
	if r.Method == http.MethodHead {
		return
	}
	events, unsubscribe := s.o.Engine.Subscribe(64)
	defer unsubscribe()
	rc := http.NewResponseController(w)
	write := func(format string, args ...any) bool {
		rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	send := func() bool {
		data, err := s.snapshot()
		if err != nil {
			s.log.Error("could not encode the dashboard's snapshot", "err", err)
			return false
		}
		return write("event: snapshot\ndata: %s\n\n", data)
	}
	if !write("retry: 2000\n\n") || !send() {
		return
	}
	ping := time.NewTicker(keepalive)
	defer ping.Stop()
	var due <-chan time.Time
	for {
		select {
		case <-r.Context().Done():
			return
		case _, ok := <-events:
			if !ok {
				return
			}
			if due == nil {
				due = time.After(coalesce)
			}
		case <-due:
			due = nil
			if !send() {
				return
			}
		case <-ping.C:
			if !write(": keepalive\n\n") {
				return
			}
		}
	}
}

// seriesCache keeps each resource's recent readings, taken from the status
// after every check, for the series the predictor does not keep.
type seriesCache struct {
	mu   sync.Mutex
	last time.Time
	pts  map[string][][2]float64
}

// cachedPoints is how many readings a snapshot carries per series, and
// the cache keeps.
const cachedPoints = 120

func newSeriesCache() *seriesCache { return &seriesCache{pts: map[string][][2]float64{}} }

// observe records st's readings once per check.
func (c *seriesCache) observe(st *engine.Status) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st.LastCheck.IsZero() || !st.LastCheck.After(c.last) {
		return
	}
	c.last = st.LastCheck
	t := float64(st.LastCheck.UnixMilli())
	seen := make(map[string]bool, len(st.Resources))
	for _, r := range st.Resources {
		p := c.pts[r.ID]
		if len(p) >= cachedPoints {
			p = append(p[:0], p[1:]...)
		}
		c.pts[r.ID] = append(p, [2]float64{t, r.Value})
		seen[r.ID] = true
	}
	for id := range c.pts {
		if !seen[id] {
			delete(c.pts, id) // a mount no longer watched
		}
	}
}

func (c *seriesCache) points(id string) [][2]float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][2]float64(nil), c.pts[id]...)
}
