package engine

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/detect"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/predict"
	"github.com/luminous-healing/luminous-healing/internal/silence"
)

// Status is everything the daemon reports about itself, rebuilt after every
// change and read without locks. Treat it as read-only.
type Status struct {
	Version        string
	Mode           string // "system" or "user"
	Hostname       string
	ConfigPath     string // "" on the embedded default
	Health         issue.Severity
	DryRun         bool
	HealingEnabled bool
	ActiveIssues   int
	LastCheck      time.Time
	Started        time.Time
	Interval       time.Duration
	Systemd        bool // systemd reachable
	MonitoredUnits []string
	Units          []UnitInfo
	Probes         []ProbeInfo // the health probes, by unit (docs/probes.md)
	Resources      []Resource
	Issues         []issue.Record     // worst first
	Forecasts      []predict.Forecast // soonest crossing first
	Accuracy       predict.Accuracy   // the score of the recorded forecasts
	Breakers       []heal.BreakerState
	Throttles      []heal.Throttled
	// Silences are the operator's silences and every maintenance window's
	// current or next occurrence, soonest end first; ActiveSilences counts
	// those in force.
	Silences       []silence.Silence
	ActiveSilences int
	Built          time.Time // when this status was built: what "active" is judged at
	SampleError    string
	// Overrides are the settings changed at run time (SetDryRun,
	// SetHealingEnabled, SetThreshold) that stand in for the file's, as
	// "key=value" with the configuration's keys, sorted. They last across
	// restarts, until a reload goes back to the file (docs/healingctl.md).
	Overrides []string
}

// UnitInfo is a monitored unit's last known state.
type UnitInfo struct {
	Name, ActiveState, SubState string
	// StoppedOnPurpose is when a stop job took it down; zero unless it
	// is down because of one. StopJob is that job's type where known.
	StoppedOnPurpose time.Time
	StopJob          string
}

// Resource is one series' latest reading against its threshold.
type Resource struct {
	detect.Reading
	Threshold float64 // 0 = no threshold (off)
	Severity  issue.Severity
}

// Status returns the current status.
func (e *Engine) Status() *Status { return e.status.Load() }

// Issues returns the active issues, worst first.
func (e *Engine) Issues() []issue.Record { return e.status.Load().Issues }

// Issue returns one active issue.
func (e *Engine) Issue(id string) (issue.Record, bool) {
	for _, r := range e.status.Load().Issues {
		if r.ID == id {
			return r, true
		}
	}
	return issue.Record{}, false
}

// publishStatus rebuilds the status and publishes StatusChanged when any
// part of it changed. Callers must not hold mu.
func (e *Engine) publishStatus() {
	e.statusMu.Lock()
	e.mu.Lock()
	st := &Status{
		Version:        e.o.Version,
		Mode:           e.o.Mode,
		Hostname:       e.hostname(),
		ConfigPath:     e.o.ConfigPath,
		DryRun:         e.heal.DryRun(),
		HealingEnabled: e.enabled,
		LastCheck:      e.lastCheck,
		Started:        e.start,
		Interval:       e.cfg.Monitoring.Interval.D(),
		Systemd:        e.o.Units != nil,
		SampleError:    e.sampleErr,
	}
	now := time.Now()
	st.Built = now
	st.Silences = e.silencesLocked(now)
	for _, s := range st.Silences {
		if s.ActiveAt(now) {
			st.ActiveSilences++
		}
	}
	for _, rec := range e.issues {
		st.Issues = append(st.Issues, *rec)
		st.Health = max(st.Health, rec.Severity)
	}
	sortIssues(st.Issues)
	st.ActiveIssues = len(st.Issues)
	st.Overrides = e.overridesLocked()
	st.Probes = e.probesLocked()
	th := e.thresholdsLocked()
	for _, r := range e.snap.Readings {
		res := Resource{Reading: r, Threshold: th[r.Kind]}
		if rec, ok := e.issues[r.ID]; ok {
			res.Severity = rec.Severity
		}
		st.Resources = append(st.Resources, res)
	}
	st.MonitoredUnits, st.Units = e.unitsStatusLocked(e.status.Load())
	// Sent under e.mu, in the order decided: an IssueResolved decided
	// after (a reload, an operator's action on another goroutine) is sent
	// after it, never before. publish does not block.
	e.publish(e.unsaidLocked()...)
	e.mu.Unlock()
	st.Breakers = e.heal.Breakers()
	st.Throttles = e.heal.Throttles()
	if e.o.Predictor != nil {
		st.Forecasts = e.o.Predictor.Forecasts()
		st.Accuracy = e.o.Predictor.Accuracy()
	}
	if r := e.o.Recorder; r != nil {
		r.State(st.DryRun, st.HealingEnabled, st.Interval, st.Issues, st.Breakers)
	}
	old := e.status.Swap(st)
	e.statusMu.Unlock()
	if old == nil || changed(old, st) {
		e.publish(Event{Type: StatusChanged})
	}
}

// unitsStatusLocked returns the monitored units and their states, sorted
// by name. The status is rebuilt at every check and on every event, and
// with a thousand units building these lists was most of what the daemon
// allocated (make bench's heap profile, docs/performance.md): when nothing
// in them changed, the previous status's lists, which no one modifies,
// are returned again.
func (e *Engine) unitsStatusLocked(old *Status) ([]string, []UnitInfo) {
	names := e.sortedUnitsLocked()
	info := func(name string) UnitInfo {
		u := e.units[name]
		info := UnitInfo{Name: name, ActiveState: "unknown"}
		if u.known {
			info.ActiveState, info.SubState = u.active, u.sub
		}
		if u.stopRequested {
			info.StoppedOnPurpose, info.StopJob = u.stoppedAt, u.stopJob
			if info.StoppedOnPurpose.IsZero() {
				info.StoppedOnPurpose = e.start // stopped before a daemon restart that lost the time
			}
		}
		return info
	}
	if old != nil && len(old.Units) == len(names) && slices.Equal(old.MonitoredUnits, names) {
		same := true
		for i, name := range names {
			a, b := old.Units[i], info(name)
			if a.Name != b.Name || a.ActiveState != b.ActiveState || a.SubState != b.SubState ||
				!a.StoppedOnPurpose.Equal(b.StoppedOnPurpose) || a.StopJob != b.StopJob {
				same = false
				break
			}
		}
		if same {
			return old.MonitoredUnits, old.Units
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	units := make([]UnitInfo, len(names))
	for i, name := range names {
		units[i] = info(name)
	}
	return slices.Clone(names), units
}

// sortedUnitsLocked returns e.units' names, sorted, kept between calls;
// the caller must not modify it.
func (e *Engine) sortedUnitsLocked() []string {
	if e.names == nil || len(e.names) != len(e.units) {
		e.names = slices.Sorted(maps.Keys(e.units))
	}
	return e.names
}

// overridesLocked lists the run-time overrides for Status.Overrides.
func (e *Engine) overridesLocked() []string {
	var out []string
	if v := e.over.DryRun; v != nil && !e.o.ForceDryRun {
		out = append(out, fmt.Sprintf("healing.dry_run=%t", *v))
	}
	if v := e.over.HealingEnabled; v != nil {
		out = append(out, fmt.Sprintf("healing.enabled=%t", *v))
	}
	for k, v := range e.over.Thresholds {
		key := string(k)
		if k == issue.Load {
			key = "load_average"
		}
		out = append(out, fmt.Sprintf("thresholds.%s=%g", key, v))
	}
	slices.Sort(out)
	return out
}

// changed reports whether the parts of the status that D-Bus properties
// mirror differ.
func changed(a, b *Status) bool {
	return a.Health != b.Health || a.DryRun != b.DryRun || a.HealingEnabled != b.HealingEnabled ||
		a.ActiveIssues != b.ActiveIssues || !a.LastCheck.Equal(b.LastCheck) ||
		!slices.Equal(a.MonitoredUnits, b.MonitoredUnits) || a.Version != b.Version || a.ActiveSilences != b.ActiveSilences ||
		!slices.Equal(a.Overrides, b.Overrides) // not a property, but the dashboards show it
}

// EventType says what an Event reports.
type EventType int

const (
	IssueDetected EventType = iota
	IssueChanged
	IssueResolved
	HealingFailed
	PredictionAlert
	ActionDone
	StatusChanged
	ConfigChanged
)

func (t EventType) String() string {
	return [...]string{"IssueDetected", "IssueChanged", "IssueResolved", "HealingFailed",
		"PredictionAlert", "ActionDone", "StatusChanged", "ConfigChanged"}[t]
}

// Event is published to subscribers as things happen.
type Event struct {
	Type     EventType
	Issue    issue.Record     // IssueDetected, IssueChanged, IssueResolved, HealingFailed
	Result   heal.Result      // HealingFailed, ActionDone
	Forecast predict.Forecast // PredictionAlert
}

type subscribers struct {
	mu    sync.Mutex
	chans map[chan Event]bool // true while that subscriber is losing events
}

// Subscribe returns a channel of events and a function that unsubscribes.
// A subscriber that falls more than buf events behind loses events; the
// daemon logs that once per burst.
func (e *Engine) Subscribe(buf int) (<-chan Event, func()) {
	ch := make(chan Event, buf)
	e.subs.mu.Lock()
	if e.subs.chans == nil {
		e.subs.chans = map[chan Event]bool{}
	}
	e.subs.chans[ch] = false
	e.subs.mu.Unlock()
	return ch, func() {
		e.subs.mu.Lock()
		if _, ok := e.subs.chans[ch]; ok {
			delete(e.subs.chans, ch)
			close(ch)
		}
		e.subs.mu.Unlock()
	}
}

// publish sends evs to every subscriber without blocking (a slow one
// loses events). Issue events are published under e.mu, where they are
// decided, so that clients see them in that order: an IssueChanged never
// after the same issue's IssueResolved (the notifier relies on it).
// subs.mu is taken last, after e.mu and statusMu.
func (e *Engine) publish(evs ...Event) {
	if len(evs) == 0 {
		return
	}
	e.subs.mu.Lock()
	defer e.subs.mu.Unlock()
	for ch, losing := range e.subs.chans {
		for _, ev := range evs {
			select {
			case ch <- ev:
				losing = false
			default:
				if !losing {
					e.log.Warn("a subscriber is too slow; dropping events", "event", ev.Type.String())
				}
				losing = true
			}
		}
		e.subs.chans[ch] = losing
	}
}
