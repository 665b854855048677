package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/detect"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/predict"
)

// sample takes one pass into e.snap; the caller holds e.mu.
func (e *Engine) sampleLocked(ctx context.Context) {
	err := e.sampler.Sample(ctx, &e.snap)
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if msg != e.sampleErr {
		if msg != "" {
			e.log.Warn("sampling failed; the other signals are still watched", "err", err)
		} else if e.sampleErr != "" {
			e.log.Info("sampling works again")
		}
		e.sampleErr = msg
	}
}

func (e *Engine) sample(ctx context.Context) {
	e.mu.Lock()
	e.sampleLocked(ctx)
	e.mu.Unlock()
}

// check is one monitoring pass: sample, evaluate, open and clear issues,
// predict, heal, and, every sweepEvery, read the units' states as a safety
// net for missed signals.
func (e *Engine) check(ctx context.Context) {
	t0 := time.Now()
	e.mu.Lock()
	e.sampleLocked(ctx)
	if e.snap.Time.IsZero() {
		e.snap.Time = t0
	}
	e.changes = e.eval.Evaluate(&e.snap, e.changes[:0])
	took := time.Since(t0)
	e.lastCheck = e.snap.Time

	th := e.thresholdsLocked()
	for _, r := range e.snap.Readings {
		if rec, ok := e.issues[r.ID]; ok && !rec.Synthetic {
			// The message names the reading and the threshold, which
			// `set threshold` may have changed: keep all three current.
			// A kind switched off (0) clears below, with its own change.
			rec.Value = r.Value
			if t := th[r.Kind]; t > 0 {
				rec.Threshold = t
			}
			rec.Message = describe(rec)
		}
	}
	var pub []Event
	var release []string
	for _, ch := range e.changes {
		rec, open := e.issues[ch.ID]
		switch {
		case ch.Severity == issue.OK && open && !rec.Synthetic:
			pub = append(pub, e.resolveLocked(rec, "back below threshold"))
			release = append(release, e.heal.Cleared(rec.ID)...)
		case ch.Severity > issue.OK && (!open || rec.Synthetic):
			rec = &issue.Record{ID: ch.ID, Kind: ch.Kind, Subject: ch.Subject, Severity: ch.Severity,
				Value: ch.Value, Threshold: ch.Threshold, Since: e.snap.Time, State: issue.Open}
			pub = append(pub, e.openLocked(rec)...)
		case ch.Severity > issue.OK:
			rec.Severity, rec.Threshold = ch.Severity, ch.Threshold
			rec.Message = describe(rec)
			pub = append(pub, e.changedLocked(rec))
		}
	}
	for _, rec := range e.issues {
		switch {
		case rec.Synthetic && (rec.State == issue.Healed || rec.State == issue.Planned || rec.State == issue.Watching):
			// An injected issue has no signal to clear it: it ends once
			// the pipeline has run for it.
			pub = append(pub, e.resolveLocked(rec, "synthetic issue done"))
			release = append(release, e.heal.Cleared(rec.ID)...)
		case rec.Kind != issue.Unit && rec.Kind != issue.Probe && rec.State == issue.Healed && e.snap.Time.Sub(e.healed[rec.ID]) >= e.stillOpenAfter():
			// The action worked but the signal is still over its
			// threshold: it did not heal. Let the breaker count it.
			pub = append(pub, e.relapseLocked(rec)...)
		}
	}
	pub = append(pub, e.resilenceLocked(t0)...)
	// Worst first, then oldest: the order the global limit lets them
	// through when it holds some back.
	order := make([]issue.Record, 0, len(e.issues))
	for _, rec := range e.issues {
		order = append(order, *rec)
	}
	sortIssues(order)
	for _, r := range order {
		e.maybeHealLocked(e.issues[r.ID])
	}
	readings := append([]detect.Reading(nil), e.snap.Readings...)
	snap := e.snap
	snap.Readings = readings
	predictive := e.cfg.Predictive
	e.publish(pub...) // under e.mu, in the order decided (publishStatus)
	e.mu.Unlock()

	if r := e.o.Recorder; r != nil {
		r.Checked(snap.Time, took, readings, th)
	}
	for _, u := range release {
		e.releaseAsync(u)
	}
	if e.o.Predictor != nil && predictive.Enabled {
		e.predict(ctx, &snap)
	} else if r := e.o.Recorder; r != nil {
		r.Forecasts(nil) // a reload may have turned prediction off
	}
	e.mu.Lock()
	sweep := time.Since(e.lastSweep) >= e.sweepEvery()
	e.mu.Unlock()
	if sweep {
		e.sweepUnits(ctx, false)
	}
	e.publishStatus()
}

// stillOpenAfter is how long a resource issue may stay over its threshold
// after a successful action before that action counts as not having helped:
// the hysteresis period plus one interval for the effect to show.
func (e *Engine) stillOpenAfter() time.Duration {
	return time.Duration(e.cfg.Monitoring.For+1) * e.cfg.Monitoring.Interval.D()
}

// openLocked registers a new issue and returns its IssueDetected event,
// followed by HealingFailed when its return gave healing up.
func (e *Engine) openLocked(rec *issue.Record) []Event {
	rec.Action = e.heal.ActionFor(*rec)
	if rec.Message == "" {
		rec.Message = describe(rec)
	}
	silenced := ""
	if s, ok := e.silenceForLocked(*rec, time.Now()); ok {
		rec.Silence, rec.SilenceEffect = s.ID, string(s.Effect)
		silenced = fmt.Sprintf(" (silenced by %s until %s: %s)", s.ID, s.Expires.Local().Format("2006-01-02 15:04:05"), s.Reason)
	}
	relapse := e.relapseNoteLocked(rec)
	gaveUp := e.heal.Reopened(rec.ID)
	if gaveUp {
		rec.State = issue.GivenUp
	}
	e.issues[rec.ID] = rec
	e.stateChanged() // the breaker may have counted a relapse
	line := rec.Message
	if rec.Cause != "" {
		line += ": " + rec.Cause
	}
	if relapse != "" {
		line += "; " + relapse
	}
	e.o.Audit.Record(audit.Entry{Event: audit.IssueDetected, Issue: rec.ID, Target: unitTarget(rec),
		Action: string(rec.Action), Outcome: rec.Severity.String(), Message: line + silenced, CallerUID: audit.Daemon})
	if r := e.o.Recorder; r != nil {
		r.IssueDetected(*rec)
	}
	e.said[rec.ID] = rec.State
	evs := []Event{{Type: IssueDetected, Issue: *rec}}
	if gaveUp {
		evs = append(evs, e.breakerOpenedLocked(rec))
	}
	return evs
}

// relapseNoteLocked says, for an issue that comes back after a successful
// action, how long that action held and what the breaker makes of it —
// every crash of a unit is an issue-detected record, and this says why one
// is healed at once and another backed off — and counts it.
func (e *Engine) relapseNoteLocked(rec *issue.Record) string {
	at, ok := e.lastHealed[rec.ID]
	if !ok {
		return ""
	}
	delete(e.lastHealed, rec.ID)
	stable := e.cfg.Healing.StableAfter.D()
	d := time.Since(at)
	held := d >= stable
	if r := e.o.Recorder; r != nil {
		r.Relapsed(rec.Kind, held)
	}
	if held {
		return fmt.Sprintf("back %s after its last healing, which held (stable_after %s): a new incident, healed at once", roundAge(d), stable)
	}
	return fmt.Sprintf("back %s after its last healing, within stable_after (%s): that attempt failed", roundAge(d), stable)
}

func roundAge(d time.Duration) time.Duration {
	if d >= time.Minute {
		return d.Round(time.Second)
	}
	return d.Round(10 * time.Millisecond)
}

// resolveLocked removes an issue and returns its IssueResolved event.
func (e *Engine) resolveLocked(rec *issue.Record, why string) Event {
	delete(e.issues, rec.ID)
	delete(e.said, rec.ID)
	delete(e.retry, rec.ID)
	delete(e.healed, rec.ID)
	delete(e.refused, rec.ID)
	out := *rec
	out.State = issue.Resolved
	e.o.Audit.Record(audit.Entry{Event: audit.IssueResolved, Issue: rec.ID, Target: unitTarget(rec),
		Outcome: "resolved", Message: fmt.Sprintf("%s resolved: %s", rec.ID, why), CallerUID: audit.Daemon})
	if r := e.o.Recorder; r != nil {
		r.IssueResolved(out, time.Since(rec.Since))
	}
	return Event{Type: IssueResolved, Issue: out}
}

// relapseLocked reopens an issue whose healing did not hold; it returns
// HealingFailed when that gave healing up.
func (e *Engine) relapseLocked(rec *issue.Record) []Event {
	defer e.stateChanged()
	if e.heal.Reopened(rec.ID) {
		rec.State = issue.GivenUp
		return []Event{e.breakerOpenedLocked(rec)}
	}
	rec.State = issue.Open
	return nil
}

// breakerOpenedLocked records that healing rec was given up and returns
// the HealingFailed event that says so.
func (e *Engine) breakerOpenedLocked(rec *issue.Record) Event {
	msg := fmt.Sprintf("healing %s given up after repeated failures; `healingctl reset %s` re-arms it", rec.ID, rec.ID)
	e.o.Audit.Record(audit.Entry{Event: audit.BreakerOpened, Issue: rec.ID, Target: unitTarget(rec),
		Outcome: "given-up", CallerUID: audit.Daemon, Message: msg})
	rec.Attempts = e.attemptsLocked(rec.ID)
	// A relapse gives up without an action of its own: the record still
	// names the issue, its target and why, for whoever is told.
	return Event{Type: HealingFailed, Issue: *rec, Result: heal.Result{Action: rec.Action, Target: unitTarget(rec),
		IssueID: rec.ID, Outcome: heal.Failed, Message: msg, Started: time.Now()}}
}

// foresight is a series predicted to cross its threshold within the
// horizon with enough confidence: one PredictionAlert when it starts, and
// for a disk one preventive cleanup, retried only when a safety rule held
// it back. It ends when the series no longer has such a forecast — after a
// cleanup that freed space, the trend restarts from the samples after it.
type foresight struct {
	done    bool      // the cleanup ran, was planned, or cannot run
	planned bool      // done by a plan only: dry-run going off runs it
	retry   time.Time // when a held-back cleanup may try again
}

// predict feeds the snapshot to the predictor, alerts on series newly
// predicted to cross within the horizon and runs cleanup before a disk does.
func (e *Engine) predict(ctx context.Context, snap *detect.Snapshot) {
	e.mu.Lock()
	th := e.thresholdsLocked()
	p := e.cfg.Predictive
	e.mu.Unlock()
	e.o.Predictor.Observe(snap, func(r detect.Reading) float64 { return th[r.Kind] })
	fs := e.o.Predictor.Forecasts()
	if r := e.o.Recorder; r != nil {
		r.Forecasts(fs)
	}

	var pub []Event
	now := time.Now()
	e.mu.Lock()
	seen := map[string]bool{}
	for _, f := range fs {
		if f.TimeToThreshold > p.Horizon.D() || f.Confidence < p.MinConfidence {
			continue
		}
		seen[f.Series] = true
		w := e.foreseen[f.Series]
		if w == nil {
			w = &foresight{}
			e.foreseen[f.Series] = w
			pub = append(pub, Event{Type: PredictionAlert, Forecast: f})
			e.o.Audit.Record(audit.Entry{Event: audit.PredictionAlert, Issue: f.Series, Outcome: "predicted",
				CallerUID: audit.Daemon, Message: forecastLine(f)})
			if f.Kind == issue.Disk {
				// Predicted to fill again soon after a cleanup that
				// worked: that cleanup did not hold, which the breaker
				// counts like a relapse.
				e.heal.Reopened(f.Series)
			}
		}
		if f.Kind != issue.Disk || w.done || now.Before(w.retry) || !e.enabled || e.inflight[f.Series] {
			continue
		}
		if _, open := e.issues[f.Series]; open {
			continue // the detector has it: it heals through the issue
		}
		if _, silenced := e.silenceForLocked(issue.Record{ID: f.Series, Kind: f.Kind, Subject: f.Subject}, now); silenced {
			continue // a silence pauses prevention too; the alert went out
		}
		rec := issue.Record{ID: f.Series, Kind: issue.Disk, Subject: f.Subject, Value: f.Value,
			Threshold: f.Threshold, Since: f.At, State: issue.Open, Severity: issue.Warning}
		if e.heal.ActionFor(rec) != issue.Cleanup {
			w.done = true // [actions] maps disk to something else
			continue
		}
		e.launchLocked(rec.ID, heal.Request{Action: issue.Cleanup, Issue: rec})
	}
	for s := range e.foreseen {
		if !seen[s] {
			delete(e.foreseen, s)
		}
	}
	e.publish(pub...) // under e.mu, in the order decided (publishStatus)
	e.mu.Unlock()
}

// foreseenDoneLocked moves a preventive cleanup's foresight on by its
// result.
func (e *Engine) foreseenDoneLocked(w *foresight, res heal.Result) {
	now := time.Now()
	switch res.Outcome {
	case heal.Succeeded, heal.Planned:
		// A plan that came back after dry-run went off is not done:
		// the next pass runs the cleanup.
		w.done = res.Outcome == heal.Succeeded || e.heal.DryRun()
		w.planned = res.Outcome == heal.Planned
	case heal.Failed:
		if res.RetryIn > 0 {
			w.retry = now.Add(res.RetryIn)
		} else {
			w.done = true // given up
		}
	case heal.Refused:
		switch {
		case errors.Is(res.Err, heal.ErrBackoff):
			w.retry = now.Add(res.RetryIn)
		case errors.Is(res.Err, heal.ErrLimited), errors.Is(res.Err, heal.ErrBusy), errors.Is(res.Err, heal.ErrNeedStopping):
			w.retry = now.Add(10 * time.Second)
		default:
			w.done = true // given up, or nothing to run
		}
	}
}

// forecastLine is a forecast for people and the journal, e.g.
// "disk:/ predicted to reach 90% in 2h35m: 71.2% now, rising 7.4%/h,
// confidence 93%, from 100 samples".
func forecastLine(f predict.Forecast) string {
	ttt := f.TimeToThreshold.Round(time.Minute)
	if f.TimeToThreshold < time.Hour {
		ttt = f.TimeToThreshold.Round(time.Second)
	}
	u := unitOf(f.Kind)
	return fmt.Sprintf("%s predicted to reach %g%s in %s: %.1f%s now, rising %.3g%s/h, confidence %.0f%%, from %d samples",
		f.Series, f.Threshold, u, ttt, f.Value, u, f.TrendPerHour, u, 100*f.Confidence, f.Samples)
}

func unitOf(k issue.Kind) string {
	if k == issue.Load {
		return ""
	}
	return "%"
}

// describe is an issue's one-line message.
func describe(rec *issue.Record) string {
	switch rec.Kind {
	case issue.CPU:
		return fmt.Sprintf("CPU %.1f%% busy (threshold %g%%)", rec.Value, rec.Threshold)
	case issue.Memory:
		return fmt.Sprintf("memory %.1f%% used (threshold %g%%)", rec.Value, rec.Threshold)
	case issue.Load:
		return fmt.Sprintf("load average %.2f (threshold %g)", rec.Value, rec.Threshold)
	case issue.Pressure:
		return fmt.Sprintf("%s pressure %.1f%% (threshold %g%%)", rec.Subject, rec.Value, rec.Threshold)
	case issue.Disk:
		what := "full"
		if strings.HasPrefix(rec.ID, issue.InodesID("")) {
			what = "of inodes used"
		}
		return fmt.Sprintf("%s %.1f%% %s (threshold %g%%)", rec.Subject, rec.Value, what, rec.Threshold)
	}
	return rec.ID
}

func unitTarget(rec *issue.Record) string {
	if rec.Kind == issue.Unit || rec.Kind == issue.Probe {
		return rec.Subject
	}
	return ""
}
