package engine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/systemd"
)

// verdict is what a unit's state means for its issue.
type verdict int

const (
	keep  verdict = iota // a transition systemd is handling: change nothing
	clear                // healthy, or stopped on purpose
	open                 // failed, or inactive though it should run
)

// judge decides what a monitored unit's state means. Units that systemd
// restarts by itself pass through activating/auto-restart while it retries
// and are left alone then; they become an issue only once systemd has given
// up and marked them failed.
func judge(u heal.UnitStatus, stopRequested bool) (verdict, issue.Severity, string) {
	switch u.ActiveState {
	case "failed":
		if stopRequested {
			return clear, issue.OK, "" // its stop failed: still stopped on purpose
		}
		why := u.Result
		if why == "" {
			why = "failed"
		}
		return open, issue.Critical, fmt.Sprintf("%s failed (%s)", u.Name, why)
	case "active", "reloading":
		return clear, issue.OK, ""
	case "inactive":
		if stopRequested {
			return clear, issue.OK, ""
		}
		switch u.UnitFileState {
		case "enabled", "enabled-runtime":
			return open, issue.Warning, fmt.Sprintf("%s is inactive but enabled", u.Name)
		}
		if u.LoadState == "not-found" {
			return open, issue.Warning, fmt.Sprintf("%s is monitored but does not exist", u.Name)
		}
		return clear, issue.OK, ""
	}
	return keep, issue.OK, ""
}

// inactiveGrace is how long a unit must stay inactive, with no stop job
// seen, before it counts as stopped unexpectedly. The poll at each check
// can read a unit inactive before the event that says a stop job took it
// down has been handled; failures, the urgent case, are handled at once.
const inactiveGrace = 3 * time.Second

// eventReadGap is the least time between two read-backs of one unit on its
// events (see unitEvent): at most five reads a second of a flapping unit,
// so the daemon stays out of systemd's way.
const eventReadGap = 200 * time.Millisecond

// pendingStops hands over the stop-job events the watcher could not queue
// (systemd.Watcher).
type pendingStops interface {
	PendingStops() []systemd.Event
}

// unitEvent handles one event from the watcher.
func (e *Engine) unitEvent(ctx context.Context, ev systemd.Event) {
	if ev.Resync {
		// Stop jobs whose events were dropped for this Resync go first,
		// each read back, so the re-read knows them stopped on purpose.
		if ps, ok := e.o.Watcher.(pendingStops); ok {
			for _, s := range ps.PendingStops() {
				e.unitEvent(ctx, s)
			}
		}
		e.sweepUnits(ctx, true)
		e.publishStatus()
		return
	}
	e.mu.Lock()
	st, ok := e.units[ev.Unit]
	if !ok {
		e.mu.Unlock()
		return
	}
	st.see(ev.ActiveState, ev.SubState, time.Now())
	busy := e.busyLocked(ev.Unit)
	if now := time.Now(); !busy && ev.ActiveState != "failed" && !ev.StopJob && now.Sub(st.lastRead) < eventReadGap {
		// A unit systemd restarts a hundred times a second sends
		// hundreds of events: it is read back at most every
		// eventReadGap, its latest state after the gap (retryDue).
		// Failures and stop jobs are handled at once.
		if at, ok := e.recheck[ev.Unit]; !ok || at.After(st.lastRead.Add(eventReadGap)) {
			e.recheck[ev.Unit] = st.lastRead.Add(eventReadGap)
		}
		e.mu.Unlock()
		return
	} else if !busy {
		st.lastRead = now
	}
	e.mu.Unlock()
	if busy {
		// Our own action is moving it; its result settles the issue. A
		// stop job is never ours, though: an administrator stopped the
		// unit while we restarted it, and it stays stopped.
		if ev.StopJob && ev.Job == "stop" {
			if u, err := e.readUnit(ctx, ev.Unit); err == nil && u.ActiveState == ev.ActiveState {
				e.stoppedOnPurpose(ev, true)
			}
		}
		return
	}
	// An event says when to look, never what to conclude: the unit's state
	// is read back from systemd before an issue is opened or cleared or a
	// breaker re-armed, so a signal that slipped past the watcher's sender
	// check (or a stale one) cannot resolve an issue or start a restart.
	// The read also brings Result and the unit file state.
	u, err := e.readUnit(ctx, ev.Unit)
	if err != nil {
		e.log.Debug("could not read back a unit after its event; the next check looks again", "unit", ev.Unit, "err", err)
		return
	}
	if ev.StopJob && u.ActiveState == ev.ActiveState {
		e.stoppedOnPurpose(ev, false)
	}
	e.applyUnit(u)
	e.publishStatus()
}

// see records a unit's state, and when it became active: a probe's
// start-up grace counts from then. Active at the first look, it has been
// for a while as far as the daemon knows.
func (st *unitState) see(active, sub string, now time.Time) {
	if active == "active" && st.active != "active" && st.known {
		st.activeSince = now
	}
	st.active, st.sub, st.known = active, sub, true
}

// stoppedOnPurpose remembers that a stop job took a unit down: an
// administrator's decision. Our own restarts are busy and get here only
// with duringAction, for a job known to be a stop (unitEvent).
func (e *Engine) stoppedOnPurpose(ev systemd.Event, duringAction bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	st, ok := e.units[ev.Unit]
	if !ok || st.stopRequested || (!duringAction && e.busyLocked(ev.Unit)) {
		return
	}
	e.stoppedLocked(ev.Unit, st, ev.Time, ev.Job)
}

// stoppedLocked records that a stop job (of type job, "" when unknown) took
// unit down at at, or is about to.
func (e *Engine) stoppedLocked(unit string, st *unitState, at time.Time, job string) {
	st.stopRequested, st.stoppedAt, st.stopJob = true, at, job
	e.stateChanged()
	e.o.Audit.Record(audit.Entry{Event: audit.StoppedOnPurpose, Target: unit, Issue: issue.ID(issue.Unit, unit),
		Outcome: "stopped", CallerUID: audit.Daemon, Message: stoppedLine(unit, st)})
}

// stoppedLine says when a unit was stopped on purpose and by what job.
func stoppedLine(unit string, st *unitState) string {
	how := "a stop job"
	if st.stopJob != "" && st.stopJob != "stop" {
		how = "a " + st.stopJob + " job"
	}
	return fmt.Sprintf("%s stopped on purpose at %s (by %s); healing resumes when it is started again",
		unit, st.stoppedAt.Local().Format("2006-01-02 15:04:05"), how)
}

func (e *Engine) busyLocked(unit string) bool {
	return e.inflight[issue.ID(issue.Unit, unit)] || e.inflight[issue.ID(issue.Probe, unit)] || e.heal.Busy(unit)
}

func (e *Engine) readUnit(ctx context.Context, name string) (heal.UnitStatus, error) {
	if e.o.Units == nil {
		return heal.UnitStatus{}, heal.ErrUnavailable
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return e.o.Units.Unit(ctx, name)
}

// pollUnits reads every monitored unit in full, where systemd cannot read
// their states in one call. The caller publishes the status once it is
// done.
func (e *Engine) pollUnits(ctx context.Context) {
	if e.o.Units == nil {
		return
	}
	for _, name := range e.Monitored() {
		e.pollUnit(ctx, name)
	}
	e.mu.Lock()
	e.lastSweep = time.Now()
	e.mu.Unlock()
}

// unitLister reads many units' load, active and sub states in one call
// (systemd.Manager's ListUnitsByNames).
type unitLister interface {
	States(ctx context.Context, names []string) ([]heal.UnitStatus, error)
}

// sweepEvery is how often the safety net reads the monitored units' states
// when no signal asked for it: every check at the default 60 s interval,
// every 60th at 1 s. The units' changes come as signals within
// milliseconds; this only catches one that was missed.
func (e *Engine) sweepEvery() time.Duration {
	return max(e.cfg.Monitoring.Interval.D(), time.Minute)
}

// sweepUnits is the safety net for a missed signal, and the re-read after
// a resync (systemd came back, reloaded, or the watch set changed): one
// batched call for every monitored unit's state, whatever their number,
// then a full read only of the units that are not simply running as last
// seen — a state that differs from the one the signals left, one with an
// issue open, a given-up breaker or a stop on purpose to re-arm, one that
// is down and not read since the last resync (its unit file state, enabled
// or not, decides, and only a daemon-reload changes that). A running unit
// seen for the first time (at start) is taken as it is. A unit that does
// not exist, or is masked, and is not running comes back in the same call
// as not-found or masked, which is all there is to know of it: it is
// judged from that, never read alone, however many there are and for as
// long as they stay so. Without a batched read it reads every unit.
func (e *Engine) sweepUnits(ctx context.Context, resync bool) {
	l, ok := e.o.Units.(unitLister)
	if !ok {
		e.pollUnits(ctx)
		return
	}
	names := e.Monitored()
	if len(names) == 0 {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	states, err := l.States(rctx, names)
	cancel()
	if err != nil {
		e.log.Debug("could not read the monitored units' states; the next sweep tries again", "err", err)
		return
	}
	// One entry per name, in order, is what systemd answers; an alias
	// comes back under its unit's name. Only another answer is looked up
	// by name, rather than build a map of every unit's state at every
	// sweep to look each up once.
	var byName map[string]heal.UnitStatus
	if len(states) != len(names) {
		byName = make(map[string]heal.UnitStatus, len(states))
		for _, s := range states {
			byName[s.Name] = s
		}
	}
	var read, baseline []string
	var batched []heal.UnitStatus
	now := time.Now()
	e.mu.Lock()
	e.lastSweep = now
	for i, name := range names {
		st, ok := e.units[name]
		if !ok {
			continue
		}
		var s heal.UnitStatus
		if byName == nil {
			s, ok = states[i], true
		} else {
			s, ok = byName[name]
		}
		id := issue.ID(issue.Unit, name)
		_, open := e.issues[id]
		// A unit whose restarts-by-systemd were counted and not yet said
		// is read once its window ends, so the summary (flood.go) is
		// written even when it has settled and runs.
		summary := st.spell.counted > 0 && now.Sub(st.spell.start) >= restartWindow
		switch {
		case !ok || summary:
			read = append(read, name)
		case s.ActiveState == "inactive" && (s.LoadState == "not-found" || s.LoadState == "masked"):
			// Neither can have started, been enabled or have a result.
			if !e.busyLocked(name) {
				s.Name = name
				batched = append(batched, s)
			}
		case open || st.stopRequested || e.heal.GivenUp(id):
			read = append(read, name)
		case s.ActiveState != "active":
			if resync || !st.known || s.ActiveState != st.active || s.SubState != st.sub || s.LoadState != st.load {
				read = append(read, name)
			}
		case !st.known:
			// Running, first seen: nothing to decide. Only its restart
			// count is read, as the baseline its restarts by systemd
			// are counted from (readBaselines).
			st.active, st.sub, st.load, st.known = s.ActiveState, s.SubState, s.LoadState, true
			baseline = append(baseline, name)
		case s.SubState != st.sub || s.LoadState != st.load:
			read = append(read, name)
		}
	}
	e.mu.Unlock()
	for _, u := range batched {
		e.applyUnit(u)
	}
	for _, name := range read {
		e.pollUnit(ctx, name)
	}
	if rc, ok := e.o.Units.(restartCounter); ok && len(baseline) > 0 {
		e.goHelper(func() { e.readBaselines(ctx, rc, baseline) })
	}
}

// restartCounter reads one unit's NRestarts alone (systemd.Manager): one
// small property, where a full read is two GetAll of a few hundred.
type restartCounter interface {
	NRestarts(ctx context.Context, name string) (uint32, bool, error)
}

// readBaselines reads the restart counts of running units first seen in a
// batched read, off Run's loop: a unit's first event, if it comes first,
// takes its own baseline, and systemd counts a restart only after the
// event of the failure that caused it.
func (e *Engine) readBaselines(ctx context.Context, rc restartCounter, names []string) {
	for _, name := range names {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		n, ok, err := rc.NRestarts(rctx, name)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			continue
		}
		e.mu.Lock()
		if st := e.units[name]; st != nil && ok && !st.haveRestarts {
			st.nRestarts, st.haveRestarts = n, true
		}
		e.mu.Unlock()
	}
}

func (e *Engine) pollUnit(ctx context.Context, name string) {
	e.mu.Lock()
	busy := e.busyLocked(name)
	e.mu.Unlock()
	if busy {
		return
	}
	u, err := e.readUnit(ctx, name)
	if err != nil {
		e.log.Debug("could not read a monitored unit", "unit", name, "err", err)
		return
	}
	e.applyUnit(u)
}

// applyUnit opens, updates or clears a unit's issue from its state, and
// heals it right away: unit failures are event-driven end to end.
func (e *Engine) applyUnit(u heal.UnitStatus) {
	id := issue.ID(issue.Unit, u.Name)
	var pub []Event
	now := time.Now()
	e.mu.Lock()
	st, ok := e.units[u.Name]
	if !ok {
		e.mu.Unlock()
		return
	}
	wasKnown := st.known
	st.see(u.ActiveState, u.SubState, now)
	st.load = u.LoadState
	switch {
	case u.ActiveState != "inactive":
		st.downSince = time.Time{}
	case st.downSince.IsZero() && wasKnown:
		st.downSince = now
	case st.downSince.IsZero():
		// Found down at start-up: no stop job is on its way that we
		// would see, so no grace.
		st.downSince = now.Add(-inactiveGrace)
	}
	running := u.ActiveState == "active" || u.ActiveState == "activating" || u.ActiveState == "reloading"
	// A start killed within milliseconds is read back failed, after both
	// its events: the daemon never reads it running. Another run than the
	// one stopped (its InvocationID, which systemd changes on every start
	// and keeps once the unit is down) says it was started again all the
	// same.
	rerun := u.InvocationID != "" && st.stopInvocation != "" && u.InvocationID != st.stopInvocation
	if st.stopRequested && (running || rerun) {
		// Started again, by anyone: monitoring re-arms by itself.
		st.stopRequested, st.stoppedAt, st.stopJob, st.stopInvocation = false, time.Time{}, "", ""
		e.stateChanged()
		e.o.Audit.Record(audit.Entry{Event: audit.StoppedOnPurpose, Target: u.Name, Issue: id, Outcome: "re-armed",
			CallerUID: audit.Daemon, Message: fmt.Sprintf("%s was started again; healing re-armed", u.Name)})
	}
	if st.stopRequested && st.stopInvocation == "" && (u.ActiveState == "inactive" || u.ActiveState == "failed") {
		// The run the stop took down, read back on its event (or at the
		// first look after the daemon started again).
		st.stopInvocation = u.InvocationID
	}
	restarts := st.restartsLocked(u)
	v, sev, msg := judge(u, st.stopRequested)
	if v == open && u.ActiveState == "inactive" && now.Sub(st.downSince) < inactiveGrace {
		// Not yet: the stop job that explains it may still be on its way.
		e.recheck[u.Name] = st.downSince.Add(inactiveGrace)
		v = keep
	}
	rec := e.issues[id]
	var tail *causeRead
	switch v {
	case open:
		cause := unitCause(u)
		if rec == nil {
			rec = &issue.Record{ID: id, Kind: issue.Unit, Subject: u.Name, Severity: sev, Since: now, State: issue.Open, Message: msg, Cause: cause}
			pub = append(pub, e.openLocked(rec)...)
			tail = e.causeReadLocked(rec, st, u, cause)
		} else {
			if cause != "" && !strings.HasPrefix(rec.Cause, cause) {
				rec.Cause = cause
				tail = e.causeReadLocked(rec, st, u, cause)
			}
			if rec.State == issue.Healed {
				pub = append(pub, e.relapseLocked(rec)...) // it came back right after a restart
			}
			if rec.Severity != sev || rec.Message != msg {
				rec.Severity, rec.Message = sev, msg
				pub = append(pub, e.changedLocked(rec))
			}
		}
		if _, held := e.retry[id]; !held {
			// One held back (backoff, the global limit) is retried
			// by retryDue, with the others, worst first.
			e.justRead = &u
			e.maybeHealLocked(rec)
			e.justRead = nil
		}
	case clear:
		if rec != nil {
			why := u.Name + " is " + u.ActiveState
			if st.stopRequested && (u.ActiveState == "inactive" || u.ActiveState == "failed") {
				why = stoppedLine(u.Name, st)
			}
			pub = append(pub, e.resolveLocked(rec, why))
		}
		if u.ActiveState == "active" && e.heal.GivenUp(id) {
			// It recovered without us: re-arm the breaker.
			e.heal.ResetBreaker(id)
			e.o.Audit.Record(audit.Entry{Event: audit.BreakerReset, Issue: id, Target: u.Name, Outcome: "recovered",
				CallerUID: audit.Daemon, Message: fmt.Sprintf("%s recovered by itself; healing re-armed", u.Name)})
			e.stateChanged()
		}
	}
	e.recordRestartsLocked(st, u, id, restarts, now)
	e.publish(pub...) // under e.mu, in the order decided (publishStatus)
	e.mu.Unlock()
	if r := e.o.Recorder; r != nil && restarts > 0 {
		r.RestartedBySystemd(u.Name, restarts)
	}
	if tail != nil {
		e.goHelper(func() { e.readCause(*tail) })
	}
}

// maxRestartRecords bounds the history records of one look at a unit:
// after a long gap (a daemon stopped for a day) the metric counts every
// restart, the history the latest few.
const maxRestartRecords = 20

// restartsLocked returns how many times systemd restarted the unit by
// itself since the last look. systemd's NRestarts counts only its own
// restarts (Restart=) and goes back to zero when a job starts the unit —
// an administrator's start or restart, or ours — so a smaller count means
// that many since such a start. The invocation id is not used: it changes
// on every start, whoever asked. The first look only takes the baseline.
func (st *unitState) restartsLocked(u heal.UnitStatus) int {
	if !u.HasNRestarts {
		return 0
	}
	n := 0
	switch {
	case !st.haveRestarts:
	case u.NRestarts >= st.nRestarts:
		n = int(u.NRestarts - st.nRestarts)
	default:
		n = int(u.NRestarts)
	}
	st.nRestarts, st.haveRestarts = u.NRestarts, true
	return n
}

func orUnknown(s string) string {
	if s == "" {
		return "?"
	}
	return s
}
