package engine

import (
	"context"
	"fmt"
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

// inactiveGrace is how long a unit that went inactive is given before it
// counts as stopped unexpectedly.
const inactiveGrace = 3 * time.Second

// unitEvent handles one event from the watcher.
func (e *Engine) unitEvent(ctx context.Context, ev systemd.Event) {
	if ev.Resync {
		e.pollUnits(ctx)
		e.publishStatus()
		return
	}
	e.mu.Lock()
	st, ok := e.units[ev.Unit]
	if !ok {
		e.mu.Unlock()
		return
	}
	if ev.Stopping {
		st.stopRequested = true
		e.saveLocked()
		e.mu.Unlock()
		return
	}
	st.active, st.sub, st.known = ev.ActiveState, ev.SubState, true
	busy := e.busyLocked(ev.Unit)
	if ev.ActiveState == "inactive" && !busy {
		// A stop job's type is read after its JobNew signal, so an
		// operator's stop can reach us just after the unit went
		// inactive. Look again after a grace period; failures, the
		// urgent case, are handled at once.
		e.recheck[ev.Unit] = time.Now().Add(inactiveGrace)
	}
	e.mu.Unlock()
	if busy || ev.ActiveState == "inactive" {
		return // our own action is moving it; its result settles the issue
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
	e.applyUnit(u)
	e.publishStatus()
}

func (e *Engine) busyLocked(unit string) bool {
	return e.inflight[issue.ID(issue.Unit, unit)] || e.heal.Busy(unit)
}

func (e *Engine) readUnit(ctx context.Context, name string) (heal.UnitStatus, error) {
	if e.o.Units == nil {
		return heal.UnitStatus{}, heal.ErrUnavailable
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return e.o.Units.Unit(ctx, name)
}

// pollUnits reads every monitored unit: at start, after a resync and at
// every check, as the safety net for a missed signal. The caller publishes
// the status once it is done.
func (e *Engine) pollUnits(ctx context.Context) {
	if e.o.Units == nil {
		return
	}
	for _, name := range e.Monitored() {
		e.pollUnit(ctx, name)
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
	v, sev, msg := judge(u, e.stopRequested(u.Name))
	id := issue.ID(issue.Unit, u.Name)
	var pub []Event
	e.mu.Lock()
	st, ok := e.units[u.Name]
	if !ok {
		e.mu.Unlock()
		return
	}
	st.active, st.sub, st.known = u.ActiveState, u.SubState, true
	if u.ActiveState == "active" && st.stopRequested {
		st.stopRequested = false
		e.saveLocked()
	}
	rec := e.issues[id]
	switch v {
	case open:
		if rec == nil {
			rec = &issue.Record{ID: id, Kind: issue.Unit, Subject: u.Name, Severity: sev, Since: time.Now(), State: issue.Open, Message: msg}
			pub = append(pub, e.openLocked(rec)...)
		} else {
			if rec.State == issue.Healed {
				pub = append(pub, e.relapseLocked(rec)...) // it came back right after a restart
			}
			if rec.Severity != sev || rec.Message != msg {
				rec.Severity, rec.Message = sev, msg
				pub = append(pub, Event{Type: IssueChanged, Issue: *rec})
			}
		}
		e.maybeHealLocked(rec)
	case clear:
		if rec != nil {
			pub = append(pub, e.resolveLocked(rec, u.Name+" is "+u.ActiveState))
		}
		if u.ActiveState == "active" && e.heal.GivenUp(id) {
			// It recovered without us: re-arm the breaker.
			e.heal.ResetBreaker(id)
			e.o.Audit.Record(audit.Entry{Event: audit.BreakerReset, Issue: id, Target: u.Name, Outcome: "recovered",
				CallerUID: audit.Daemon, Message: fmt.Sprintf("%s recovered by itself; healing re-armed", u.Name)})
			e.saveLocked()
		}
	}
	e.mu.Unlock()
	e.publish(pub...)
}

func (e *Engine) stopRequested(unit string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	st, ok := e.units[unit]
	return ok && st.stopRequested
}
