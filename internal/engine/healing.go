package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/issue"
)

// maybeHealLocked starts the automatic action for an issue that needs one.
// Issues already healed, planned, given up or only watched wait for their
// signal to clear (or for settings to change); the rest heal now, unless
// the breaker asked to wait.
func (e *Engine) maybeHealLocked(rec *issue.Record) {
	switch rec.State {
	case issue.Open, issue.Failed, issue.Waiting, issue.Silenced:
	default:
		return
	}
	if e.inflight[rec.ID] || e.stopping {
		return
	}
	if at, ok := e.retry[rec.ID]; ok && time.Now().Before(at) {
		return
	}
	delete(e.retry, rec.ID)
	act := e.heal.ActionFor(*rec)
	if rec.Kind == issue.Probe {
		act = e.probeActionLocked(rec, act)
	}
	rec.Action = act
	switch {
	case !e.enabled:
		rec.State = issue.Watching
		return
	case act == issue.None:
		rec.State = issue.Watching
		return
	case (rec.Kind == issue.Unit || rec.Kind == issue.Probe) && e.units[rec.Subject] == nil:
		rec.State = issue.Watching // not monitored: never touched
		return
	case e.heal.GivenUp(rec.ID):
		rec.State = issue.GivenUp
		return
	}
	if s, ok := e.silenceForLocked(*rec, time.Now()); ok {
		// Paused, not forgotten: it heals once the silence ends.
		rec.State, rec.Silence, rec.SilenceEffect = issue.Silenced, s.ID, string(s.Effect)
		return
	}
	if rec.State == issue.Silenced {
		rec.State = issue.Open
	}
	if free, wait := e.heal.LimitFree(); !e.heal.DryRun() && free-int(e.admitting.Load()) <= 0 {
		// The global limit would refuse it: it waits for the next free
		// slot, which goes to the worst issue then due (retryDue), not
		// to whichever goroutine reaches the limit first.
		rec.State = issue.Waiting
		e.retry[rec.ID] = time.Now().Add(max(wait, 10*time.Millisecond))
		msg := fmt.Sprintf("the limit of %d actions per minute is reached; %s waits for a free slot", e.cfg.Healing.MaxActionsPerMinute, rec.ID)
		if e.refused[rec.ID] != msg {
			e.refused[rec.ID] = msg
			e.o.Audit.Record(audit.Entry{Event: audit.ActionRefused, Action: string(act), Target: unitTarget(rec), Issue: rec.ID,
				Outcome: string(heal.Refused), Message: msg, CallerUID: audit.Daemon})
		}
		return
	}
	req := heal.Request{Action: act, Issue: *rec}
	if act == issue.Restart || act == issue.Reload {
		req.Target = rec.Subject
	}
	if u := e.justRead; act == issue.Restart && u != nil && u.Name == req.Target {
		// Read back from systemd a moment ago, on this unit's event.
		read := *u
		req.Unit = &read
	}
	rec.State = issue.Healing
	e.launchLocked(rec.ID, req)
}

// launchLocked runs an automatic action in its own goroutine; its result
// comes back to Run through e.results. Run owns these goroutines: at stop
// it waits for them, bounded (settleActions), and one that outlives Run
// drops its result, which the stop has recorded as unknown.
func (e *Engine) launchLocked(id string, req heal.Request) {
	if e.stopping {
		return
	}
	e.inflight[id] = true
	e.running[id] = req
	ctx, quit := e.ctx, e.quit
	// Actions launched together reach the global limit in the order they
	// were launched — worst issue first — each waiting for the one before
	// to pass it. Their plans (reading the units) run at the same time; the
	// wait is for the slowest of them, bounded by the action timeout that
	// bounds every plan.
	prev, next := e.turn, make(chan struct{})
	e.turn = next
	e.admitting.Add(1)
	passed := sync.OnceFunc(func() {
		e.admitting.Add(-1)
		close(next)
	})
	req.Turn = func() func() {
		if prev != nil {
			select {
			case <-prev:
			case <-ctx.Done():
			}
		}
		return passed
	}
	go func() {
		defer passed()
		res := e.heal.Do(ctx, req)
		select {
		case e.results <- done{id: id, res: res}:
		case <-quit:
		}
	}()
}

// goHelper runs f, a short read (a failed unit's journal, the running
// units' restart counts), in a goroutine that Run's stop waits for. An
// operator call's poll calls it too, on the D-Bus handler's goroutine: the
// Add is made under e.mu, and not at all once the stop has set stopping
// (before it waits), so that no Add races the stop's Wait and no read
// outlives the stop.
func (e *Engine) goHelper(f func()) {
	e.mu.Lock()
	if e.stopping {
		e.mu.Unlock()
		return
	}
	e.helpers.Add(1)
	e.mu.Unlock()
	go func() {
		defer e.helpers.Done()
		f()
	}()
}

// waitHelpers waits for the goroutines goHelper started, which end with
// Run's or the actions' context, for at most a second.
func (e *Engine) waitHelpers() {
	done := make(chan struct{})
	go func() {
		e.helpers.Wait()
		close(done)
	}()
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		e.log.Warn("a read from systemd or the journal outlived the stop; not waiting for it")
	}
}

// reconsiderPlanned sends an issue whose plan came back after dry-run went
// off through healing again. It runs after finished has let go of e.mu.
func (e *Engine) reconsiderPlanned(id string) {
	e.mu.Lock()
	if rec, ok := e.issues[id]; ok && rec.State == issue.Open {
		e.maybeHealLocked(rec)
	}
	e.mu.Unlock()
}

// stopActions bounds how long a stop waits for automatic actions in
// flight: a restart job usually settles in well under it, and it leaves the
// last write and the exit inside the unit's TimeoutStopSec=10s.
const stopActions = 5 * time.Second

// settleActions is Run's stop: no new automatic action starts; the ones in
// flight are waited for, up to stopActions, and their results recorded as
// usual. What is still running then is recorded with the outcome unknown
// and cancelled.
func (e *Engine) settleActions(cancel context.CancelFunc) {
	e.mu.Lock()
	e.stopping = true
	n := len(e.running)
	e.mu.Unlock()
	if n == 0 {
		return
	}
	t := time.NewTimer(stopActions)
	defer t.Stop()
	for n > 0 {
		select {
		case d := <-e.results:
			e.finished(d.id, d.res, Auto)
		case <-t.C:
			e.mu.Lock()
			left := maps.Clone(e.running)
			e.running = map[string]heal.Request{}
			e.inflight = map[string]bool{}
			e.mu.Unlock()
			for _, id := range slices.Sorted(maps.Keys(left)) {
				req := left[id]
				what := string(req.Action)
				if req.Target != "" {
					what += " of " + req.Target
				}
				e.o.Audit.Record(audit.Entry{Event: audit.ActionFailed, Action: string(req.Action), Target: req.Target,
					Issue: req.Issue.ID, Outcome: "unknown", CallerUID: audit.Daemon, DryRun: e.heal.DryRun(),
					Message: fmt.Sprintf("%s: outcome unknown: still running %s after the daemon was told to stop; its next start reads the state again",
						what, stopActions)})
			}
			cancel()
			return
		}
		e.mu.Lock()
		n = len(e.running)
		e.mu.Unlock()
	}
}

// releaseAsync lifts a throttle whose pressure has cleared.
func (e *Engine) releaseAsync(unit string) {
	e.mu.Lock()
	e.launchLocked("release:"+unit, heal.Request{Action: heal.Release, Target: unit})
	e.mu.Unlock()
}

// limitedRetry is when to try an action the global limit or a busy target
// held back: when the limit frees a slot (every issue it held back is then
// due at once, and retryDue takes them critical first), else in 10 s.
func limitedRetry(res heal.Result) time.Duration {
	if errors.Is(res.Err, heal.ErrLimited) && res.RetryIn > 0 {
		return res.RetryIn
	}
	return 10 * time.Second
}

// retryDue heals the issues whose backoff has passed, worst first, then
// oldest first — the order the global limit lets them through — and
// re-reads the units whose grace period ended.
func (e *Engine) retryDue(ctx context.Context) {
	now := time.Now()
	var units []string
	e.mu.Lock()
	pub := e.resilenceLocked(now)
	var due []issue.Record
	for id, at := range e.retry {
		if now.Before(at) {
			continue
		}
		delete(e.retry, id)
		if rec, ok := e.issues[id]; ok {
			due = append(due, *rec)
		}
	}
	sortIssues(due)
	for _, r := range due {
		if rec, ok := e.issues[r.ID]; ok {
			e.maybeHealLocked(rec)
		}
	}
	for u, at := range e.recheck {
		if !now.Before(at) {
			delete(e.recheck, u)
			units = append(units, u)
		}
	}
	e.publish(pub...) // under e.mu, in the order decided (publishStatus)
	e.mu.Unlock()
	for _, u := range units {
		e.pollUnit(ctx, u)
	}
	e.publishStatus()
}

// finished records an action's result and moves its issue on.
func (e *Engine) finished(id string, res heal.Result, c Caller) {
	var pub []Event
	e.mu.Lock()
	ctx := e.ctx // Run sets it under mu, and operator calls get here from their own goroutines
	if c == Auto {
		delete(e.inflight, id)
		delete(e.running, id)
	}
	rec := e.issues[id]
	quiet := false
	if rec != nil {
		prev := rec.State
		switch res.Outcome {
		case heal.Succeeded:
			rec.State = issue.Healed
			if rec.Kind == issue.Probe {
				e.probeHealedLocked(rec.Subject)
			}
			if rec.Kind != issue.Unit {
				rec.Cause = "" // it was in a service after all
			}
			e.healed[id] = time.Now()
			e.lastHealed[id] = e.healed[id]
		case heal.Planned:
			rec.State = issue.Planned
			if c == Auto && !e.heal.DryRun() {
				// Planned under a dry-run that went off while it ran:
				// reconsiderLocked has been and gone, so act now.
				rec.State = issue.Open
				defer e.reconsiderPlanned(rec.ID)
			}
		case heal.Failed:
			rec.State = issue.Failed
			if e.heal.GivenUp(id) {
				rec.State = issue.GivenUp
				e.breakerOpenedLocked(rec) // HealingFailed goes out below
			} else if res.RetryIn > 0 {
				e.retry[id] = time.Now().Add(res.RetryIn)
			}
		case heal.Refused:
			switch {
			case errors.Is(res.Err, heal.ErrBackoff):
				rec.State = issue.Waiting
				e.retry[id] = time.Now().Add(res.RetryIn)
			case errors.Is(res.Err, heal.ErrGivenUp):
				rec.State = issue.GivenUp
			case errors.Is(res.Err, heal.ErrElsewhere):
				// No service causes the load: say where it is, and look
				// again next interval, as it may move into one.
				rec.State = issue.Waiting
				e.retry[id] = time.Now().Add(e.cfg.Monitoring.Interval.D())
				moved := where(rec.Cause) != where(res.Message)
				rec.Cause = res.Message
				if moved {
					pub = append(pub, e.changedLocked(rec))
				}
			case errors.Is(res.Err, heal.ErrStopQueued):
				// systemd refused our restart for a stop queued before
				// it (an administrator's, between our ResetFailedUnit
				// and RestartUnit): the stop wins, nothing retries, and
				// the unit's read-back below settles the issue. (A stop
				// queued only for a unit this one Requires= is
				// heal.ErrNeedStopping, retried below: nobody stopped
				// this one.)
				rec.State = issue.Watching
				if st := e.units[rec.Subject]; rec.Kind == issue.Unit && st != nil && !st.stopRequested {
					e.stoppedLocked(rec.Subject, st, time.Now(), "stop")
				}
			case errors.Is(res.Err, heal.ErrLimited), errors.Is(res.Err, heal.ErrBusy), errors.Is(res.Err, heal.ErrNeedStopping):
				rec.State = issue.Waiting
				e.retry[id] = time.Now().Add(limitedRetry(res))
			default:
				rec.State = issue.Watching
			}
			// A refusal that changes nothing is not news: do not flood
			// the journal with one per retry.
			quiet = c == Auto && prev == rec.State
		}
		rec.Attempts = e.attemptsLocked(id)
		if res.Outcome == heal.Failed {
			pub = append(pub, Event{Type: HealingFailed, Issue: *rec, Result: res})
		}
	} else if w := e.foreseen[id]; w != nil && c == Auto {
		e.foreseenDoneLocked(w, res)
		if res.Outcome == heal.Failed {
			pub = append(pub, Event{Type: HealingFailed, Issue: issue.Record{ID: id, Kind: issue.Disk, State: issue.Failed}, Result: res})
		}
	} else if res.Outcome == heal.Failed && c == Auto {
		pub = append(pub, Event{Type: HealingFailed, Issue: issue.Record{ID: id, State: issue.Failed}, Result: res})
	}
	if c == Auto {
		// The same refusal again is not news: preventive and release
		// actions have no issue to carry their state, and an issue's
		// state reads "healing" while its retry runs, so the message is
		// what tells. (Fifty issues the global limit holds back would
		// otherwise log a line per issue per slot it frees.)
		same := res.Outcome == heal.Refused && e.refused[id] == res.Message
		quiet = quiet || same
		if res.Outcome == heal.Refused {
			e.refused[id] = res.Message
		} else {
			delete(e.refused, id)
		}
	}
	if res.Action == issue.Cleanup && res.Outcome == heal.Succeeded && res.FreedBytes > 0 && e.o.Predictor != nil {
		// The disks' trends restart after the cleanup, and what was
		// forecast before it can no longer be scored.
		e.o.Predictor.Intervened(issue.Disk, res.Started.Add(res.Duration))
	}
	if !quiet {
		e.o.Audit.Record(entryFor(res, c))
	}
	if res.Outcome != heal.Planned && res.Outcome != heal.Refused {
		e.stateChanged()
	}
	e.publish(pub...) // under e.mu, in the order decided (publishStatus)
	e.mu.Unlock()
	if r := e.o.Recorder; r != nil && !quiet {
		r.ActionDone(res)
	}
	e.publish(Event{Type: ActionDone, Result: res})
	// A restart settles by the unit's state, which our own action's
	// events were not allowed to change while it ran.
	if rec != nil && (rec.Kind == issue.Unit || rec.Kind == issue.Probe) && res.Outcome != heal.Planned {
		e.pollUnit(ctx, rec.Subject)
	}
	e.publishStatus()
}

// where is a cause's first clause, "CPU load is in user-1000.slice, not a
// service", without the figures that change at every look.
func where(cause string) string {
	w, _, _ := strings.Cut(cause, ":")
	return w
}

func (e *Engine) attemptsLocked(id string) int {
	for _, b := range e.heal.Breakers() {
		if b.IssueID == id {
			return b.Failures
		}
	}
	return 0
}

// entryFor turns an action's result into its audit entry.
func entryFor(res heal.Result, c Caller) audit.Entry {
	ev := map[heal.Outcome]audit.Event{
		heal.Succeeded: audit.ActionSucceeded, heal.Failed: audit.ActionFailed,
		heal.Planned: audit.ActionPlanned, heal.Refused: audit.ActionRefused,
	}[res.Outcome]
	target := res.Target
	if res.Action == issue.Cleanup && len(res.Units) > 0 {
		target = fmt.Sprint(res.Units)
	}
	return audit.Entry{
		Event: ev, Action: string(res.Action), Target: target, Issue: res.IssueID,
		Outcome: string(res.Outcome), Message: res.Message, CallerUID: c.UID, Caller: c.Name,
		DryRun: res.DryRun, Duration: res.Duration, FreedBytes: res.FreedBytes, FreedByMount: res.FreedByMount,
	}
}

// sortIssues orders issues worst first, then oldest first.
func sortIssues(recs []issue.Record) {
	slices.SortFunc(recs, func(a, b issue.Record) int {
		if a.Severity != b.Severity {
			return int(b.Severity - a.Severity)
		}
		if c := a.Since.Compare(b.Since); c != 0 {
			return c
		}
		if a.ID < b.ID {
			return -1
		}
		return 1
	})
}
