package systemd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
)

const (
	busName      = "org.freedesktop.systemd1"
	managerPath  = dbus.ObjectPath("/org/freedesktop/systemd1")
	managerIface = "org.freedesktop.systemd1.Manager"
	unitIface    = "org.freedesktop.systemd1.Unit"
	propsIface   = "org.freedesktop.DBus.Properties"
)

// Event is a change in a watched unit's state, or a request to re-read
// every unit (Resync) after systemd came back or the watch set changed.
type Event struct {
	Unit        string
	ActiveState string
	SubState    string
	// StopJob is set on a unit's change to inactive that happened while a
	// job systemd announced for it (JobNew, not yet JobRemoved) was running
	// and the unit was not starting, or to failed from deactivating (or
	// from active, the job not known to be a reload) while one was: a stop job — systemctl stop, isolate, a conflicting unit,
	// shutdown, from any caller — took it down. A unit that died or
	// exited by itself has no job. See docs/healing.md.
	StopJob bool
	// Job is the type of that job where systemd answered in time ("stop",
	// "restart", …), "" when the job ended before its type could be read.
	Job    string
	Resync bool
	Time   time.Time
}

// Watcher turns systemd's signals about the watched units into Events:
// Manager.Subscribe plus one PropertiesChanged match for every unit's
// object path (unitsMatch), filtered here by the watched set, so a failure
// is seen within milliseconds. It also follows the jobs of the
// watched units (JobNew, JobRemoved), to tell a stop on purpose from a unit
// that died, and systemd's bus name, to subscribe again after systemd
// re-executes.
type Watcher struct {
	conn   *dbus.Conn
	log    *slog.Logger
	events chan Event
	sigs   chan *dbus.Signal

	// owner is systemd's unique name: only its signals count.
	owner owner
	// refused counts signals dropped because systemd did not send them.
	refused atomic.Uint64

	mu sync.Mutex
	// units are the watched units: the one match takes every unit's
	// signals, and only these count, found by the name their object path
	// escapes (unitName). Each holds the unit's ActiveState from its
	// signals. Keyed by name, the set keeps no path per unit.
	units map[string]*watched
	// jobs are the watched units' jobs between JobNew and JobRemoved.
	// systemd sends a unit's pending PropertiesChanged before the
	// JobRemoved of the job that changed it, so a change to inactive that
	// arrives while a job is listed was made by that job.
	jobs map[uint32]*job

	// piled counts events replaced by a Resync since the warning that
	// said so, which is given at most once per pileWarnEvery.
	piled    int
	pileWarn time.Time
	// stops are the stop-job events send could not queue, by unit, until
	// the consumer takes them (PendingStops) on the Resync that replaced
	// them: a re-read alone cannot tell a stop on purpose from a unit
	// that went down by itself.
	stops map[string]Event
	// resyncing is set while queueResync waits for room; dropped counts
	// every event send could not queue.
	resyncing bool
	dropped   uint64
}

// pileWarnEvery bounds the "piling up" warnings: a unit flapping a hundred
// times a second must not flood the journal.
const pileWarnEvery = time.Minute

// watched is one watched unit's state from its signals. It is changed in
// place: assigning a map entry would replace its key with the name just
// decoded from a signal, and keep that string for each unit.
type watched struct {
	last string // ActiveState from the last signal, "" before one
}

type job struct {
	unit string
	typ  string // read after JobNew; "" until then, or for good when it ended first
}

// NewWatcher connects privately to the bus at address ("" = the system bus)
// and subscribes to systemd's signals. The connection lives until ctx ends.
func NewWatcher(ctx context.Context, address string, log *slog.Logger) (*Watcher, error) {
	var conn *dbus.Conn
	var err error
	if address == "" {
		conn, err = dbus.ConnectSystemBus(dbus.WithContext(ctx))
	} else {
		conn, err = dbus.Connect(address, dbus.WithContext(ctx))
	}
	if err != nil {
		return nil, fmt.Errorf("connect to the system bus: %w", err)
	}
	w := &Watcher{
		conn:   conn,
		log:    log,
		events: make(chan Event, 256),
		sigs:   make(chan *dbus.Signal, 256),
		units:  map[string]*watched{},
		jobs:   map[uint32]*job{},
	}
	conn.Signal(w.sigs)
	if err := w.owner.follow(ctx, conn); err != nil {
		conn.Close()
		return nil, err
	}
	for _, m := range [][]dbus.MatchOption{
		{dbus.WithMatchSender(busName), dbus.WithMatchObjectPath(managerPath), dbus.WithMatchInterface(managerIface), dbus.WithMatchMember("JobNew")},
		{dbus.WithMatchSender(busName), dbus.WithMatchObjectPath(managerPath), dbus.WithMatchInterface(managerIface), dbus.WithMatchMember("JobRemoved")},
		// A daemon-reload (also what systemctl enable, mask and their
		// undoing do) can change what a monitored unit is without a
		// change of its ActiveState: a unit file installed, removed or
		// masked. Its end asks for one re-read of every unit.
		{dbus.WithMatchSender(busName), dbus.WithMatchObjectPath(managerPath), dbus.WithMatchInterface(managerIface), dbus.WithMatchMember("Reloading")},
		unitsMatch(),
	} {
		if err := conn.AddMatchSignalContext(ctx, m...); err != nil {
			conn.Close()
			return nil, fmt.Errorf("add signal match: %w", err)
		}
	}
	if err := w.subscribe(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return w, nil
}

func (w *Watcher) subscribe(ctx context.Context) error {
	err := w.conn.Object(busName, managerPath).CallWithContext(ctx, managerIface+".Subscribe", 0).Err
	var de dbus.Error
	// systemd answers AlreadySubscribed... on a second Subscribe; that is fine.
	if err != nil && !(errors.As(err, &de) && de.Name == "org.freedesktop.systemd1.AlreadySubscribed") {
		return fmt.Errorf("subscribe to systemd's signals: %w", err)
	}
	return nil
}

// UnitPath returns a unit's object path, as systemd escapes it.
func UnitPath(unit string) dbus.ObjectPath {
	return dbus.ObjectPath("/org/freedesktop/systemd1/unit/" + sd.PathBusEscape(unit))
}

// unitsNamespace is where systemd puts every unit's object path.
const unitsNamespace = dbus.ObjectPath("/org/freedesktop/systemd1/unit")

// unitName returns the unit whose object path p is, undoing systemd's
// escaping (bus_label_escape: each byte but [A-Za-z0-9], and a leading
// digit, as _ and two lowercase hex digits); ok is false for any other
// path.
func unitName(p dbus.ObjectPath) (string, bool) {
	label, ok := strings.CutPrefix(string(p), string(unitsNamespace)+"/")
	if !ok || label == "" || strings.IndexByte(label, '/') >= 0 {
		return "", false
	}
	if strings.IndexByte(label, '_') < 0 {
		return label, true
	}
	b := make([]byte, 0, len(label))
	for i := 0; i < len(label); i++ {
		if label[i] != '_' {
			b = append(b, label[i])
			continue
		}
		if i+2 >= len(label) {
			return "", false
		}
		hi, okH := unhex(label[i+1])
		lo, okL := unhex(label[i+2])
		if !okH || !okL {
			return "", false
		}
		b = append(b, hi<<4|lo)
		i += 2
	}
	return string(b), true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// unitsMatch is the one match rule for every unit's state changes, whatever
// the number watched. One rule per unit cost a bus round trip each to set
// up (a thousand at start, one after the other, before the first signal
// could come) and dbus-daemon a comparison against each of them for every
// PropertiesChanged systemd sends. Signals of units not watched are
// dropped by dispatch; the sender is checked there too, since a match rule
// filters broadcasts only (owner).
func unitsMatch() []dbus.MatchOption {
	return []dbus.MatchOption{
		dbus.WithMatchSender(busName), dbus.WithMatchPathNamespace(unitsNamespace),
		dbus.WithMatchInterface(propsIface), dbus.WithMatchMember("PropertiesChanged"),
		dbus.WithMatchArg(0, unitIface),
	}
}

// Watch sets the watched units and queues a Resync so the caller reads
// every unit's current state once. It makes no call to the bus: the match
// for every unit's signals is set once (NewWatcher), so a unit that does
// not exist yet is watched all the same.
func (w *Watcher) Watch(ctx context.Context, units []string) error {
	w.setWatched(units)
	// Outside w.mu: send takes it when the consumer is behind.
	w.send(Event{Resync: true, Time: time.Now()})
	return nil
}

func (w *Watcher) setWatched(units []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	want := make(map[string]*watched, len(units))
	for _, u := range units {
		if old, ok := w.units[u]; ok {
			want[u] = old // keeps its last state
		} else {
			want[u] = &watched{}
		}
	}
	w.units = want
}

// Events delivers the watched units' changes.
func (w *Watcher) Events() <-chan Event { return w.events }

// Run dispatches signals until ctx ends (nil) or the bus connection is lost
// (an error: the daemon cannot watch units without it).
func (w *Watcher) Run(ctx context.Context) error {
	defer w.conn.Close()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.conn.Context().Done():
			return errors.New("lost the system bus connection")
		case s, ok := <-w.sigs:
			if !ok {
				return errors.New("lost the system bus connection")
			}
			w.dispatch(ctx, s)
		}
	}
}

// Refused returns how many signals were dropped because the current owner
// of org.freedesktop.systemd1 did not send them.
func (w *Watcher) Refused() uint64 { return w.refused.Load() }

func (w *Watcher) dispatch(ctx context.Context, s *dbus.Signal) {
	if unique, ok := w.owner.ownerChange(s); ok {
		if unique == "" {
			return // systemd left the bus; it is followed when it comes back
		}
		// systemd re-executed or came back: its subscriptions are gone,
		// and so may be the JobRemoved of the jobs listed.
		w.mu.Lock()
		clear(w.jobs)
		for _, u := range w.units {
			u.last = ""
		}
		w.mu.Unlock()
		if err := w.subscribe(ctx); err != nil {
			w.log.Warn("could not subscribe to systemd again", "err", err)
		}
		w.send(Event{Resync: true, Time: time.Now()})
		return
	}
	if !w.owner.fromSystemd(s) {
		// Forged, or from a process that lost systemd's name: count it
		// and log it at debug, never per signal above that, so a flood
		// of forgeries cannot flood the journal either.
		if w.refused.Add(1) == 1 {
			w.log.Warn("ignoring a signal that systemd did not send; further ones are counted, not logged",
				"sender", s.Sender, "signal", s.Name, "path", string(s.Path))
		} else {
			w.log.Debug("ignoring a signal that systemd did not send", "sender", s.Sender, "signal", s.Name)
		}
		return
	}
	switch s.Name {
	case propsIface + ".PropertiesChanged":
		unit, ok := unitName(s.Path)
		if !ok || len(s.Body) < 2 {
			return
		}
		w.mu.Lock()
		u, ok := w.units[unit]
		w.mu.Unlock()
		if !ok {
			return // a unit not watched: the match takes them all
		}
		changed, _ := s.Body[1].(map[string]dbus.Variant)
		active, okA := changed["ActiveState"]
		if !okA {
			return
		}
		ev := Event{Unit: unit, Time: time.Now()}
		ev.ActiveState, _ = active.Value().(string)
		if sub, ok := changed["SubState"]; ok {
			ev.SubState, _ = sub.Value().(string)
		}
		w.mu.Lock()
		prev := u.last
		u.last = state(ev.ActiveState)
		down := ev.ActiveState == "inactive" && prev != "inactive" && prev != "activating"
		// A stop that fails (ExecStop= failed, the stop timed out) ends
		// failed from deactivating; a crash while running or reloading
		// does not pass through deactivating.
		down = down || ev.ActiveState == "failed" && prev == "deactivating"
		// A stop of a running unit whose process had just exited with a
		// failure goes active → deactivating → failed within one turn
		// of systemd's loop, and only failed is sent (a unit flapping
		// under Restart=, stopped). A running unit's job then is a stop
		// or restart, unless it is known to be a reload, or the start
		// that made it active and whose JobRemoved is still to come.
		fastFail := ev.ActiveState == "failed" && prev == "active"
		if down || fastFail {
			// A start that ends inactive (a condition failed, a oneshot
			// finished) is not a stop.
			for _, j := range w.jobs {
				if j.unit == unit && (down || j.typ != "reload" && j.typ != "start") {
					ev.StopJob = true
					if j.typ != "" {
						ev.Job = j.typ
					}
				}
			}
		}
		w.mu.Unlock()
		w.send(ev)
	case managerIface + ".Reloading":
		// Reloading(true) as it starts, (false) once done. UnitNew and
		// UnitRemoved are not followed: every read of a unit that does
		// not exist loads it and sends both, so following them would
		// loop; a unit that appears and starts sends PropertiesChanged
		// on its path, which is matched before it exists.
		if len(s.Body) == 1 {
			if starting, ok := s.Body[0].(bool); ok && !starting {
				w.send(Event{Resync: true, Time: time.Now()})
			}
		}
	case managerIface + ".JobNew":
		var id uint32
		var path dbus.ObjectPath
		var unit string
		if dbus.Store(s.Body, &id, &path, &unit) != nil {
			return
		}
		w.mu.Lock()
		_, ok := w.units[unit]
		if ok {
			w.jobs[id] = &job{unit: unit}
		}
		w.mu.Unlock()
		if ok {
			go w.readJobType(ctx, id, path)
		}
	case managerIface + ".JobRemoved":
		var id uint32
		var path dbus.ObjectPath
		var unit, result string
		if dbus.Store(s.Body, &id, &path, &unit, &result) != nil {
			return
		}
		w.mu.Lock()
		delete(w.jobs, id)
		w.mu.Unlock()
	}
}

// readJobType reads a new job's type, for the record only: a fast job is
// often gone before the read, and the rule does not need it.
func (w *Watcher) readJobType(ctx context.Context, id uint32, path dbus.ObjectPath) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var t string
	err := w.conn.Object(busName, path).CallWithContext(ctx, propsIface+".Get", 0, "org.freedesktop.systemd1.Job", "JobType").Store(&t)
	if err != nil {
		return
	}
	w.mu.Lock()
	if j, ok := w.jobs[id]; ok {
		j.typ = t
	}
	w.mu.Unlock()
}

// send never blocks the dispatcher: when the consumer is far behind, an
// event is replaced by a Resync, which makes the consumer re-read all units
// (and take the stop jobs that were dropped, PendingStops). The Resync
// itself is queued by one goroutine that waits for room: the queue is full
// when an event is dropped, so it could not be queued at once.
func (w *Watcher) send(ev Event) {
	select {
	case w.events <- ev:
		return
	default:
	}
	w.mu.Lock()
	if ev.StopJob {
		if w.stops == nil {
			w.stops = map[string]Event{}
		}
		w.stops[ev.Unit] = ev
	}
	w.dropped++
	w.piled++
	var n int
	if now := time.Now(); now.Sub(w.pileWarn) >= pileWarnEvery {
		n, w.piled, w.pileWarn = w.piled, 0, now
	}
	start := !w.resyncing
	w.resyncing = true
	w.mu.Unlock()
	if n > 0 {
		w.log.Warn("unit events are piling up; asking for a full re-read", "events", n, "next_warning_in", pileWarnEvery)
	}
	if start {
		go w.queueResync()
	}
}

// queueResync queues a Resync once the consumer makes room, again if more
// events were dropped meanwhile. It ends then, or when the bus connection
// closes (Run's end).
func (w *Watcher) queueResync() {
	var closed <-chan struct{}
	if w.conn != nil {
		closed = w.conn.Context().Done()
	}
	for {
		w.mu.Lock()
		seen := w.dropped
		w.mu.Unlock()
		select {
		case w.events <- Event{Resync: true, Time: time.Now()}:
		case <-closed:
			return
		}
		w.mu.Lock()
		if w.dropped == seen {
			w.resyncing = false
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
	}
}

// PendingStops returns, and forgets, the stop-job events that were replaced
// by a Resync. The consumer handles them, reading each unit back, before it
// re-reads the units.
func (w *Watcher) PendingStops() []Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]Event, 0, len(w.stops))
	for _, ev := range w.stops {
		out = append(out, ev)
	}
	clear(w.stops)
	slices.SortFunc(out, func(a, b Event) int { return strings.Compare(a.Unit, b.Unit) })
	return out
}

// Watched returns the watched units, sorted.
func (w *Watcher) Watched() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, 0, len(w.units))
	for u := range w.units {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}
