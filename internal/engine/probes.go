package engine

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/probe"
	"github.com/luminous-healing/luminous-healing/internal/unit"
)

// maxProbes is how many probes run at once, whatever their number: a
// hundred units probed every second must not open a hundred connections
// together nor start a hundred transient units.
const maxProbes = 8

// ProbeRecorder receives every probe's result (internal/metrics). It is
// optional: a Recorder that also implements it gets the probes' figures.
type ProbeRecorder interface {
	ProbeDone(r probe.Result)
}

// probeState is one configured probe and what it has seen.
type probeState struct {
	spec probe.Spec
	tr   probe.Tracker
	runs int // probes run since the daemon started (or the probe was configured)
}

// ProbeInfo is one probe as the status shows it.
type ProbeInfo struct {
	Unit     string
	Type     probe.Type
	Target   string // "GET http://127.0.0.1:8080/ → 200", "tcp 127.0.0.1:5432"
	Interval time.Duration
	Timeout  time.Duration
	Grace    time.Duration
	Failures int    // consecutive failures that make an issue
	Action   string // restart or none
	// Consecutive failures now; Last is the last result (zero before the
	// first run).
	Consecutive int
	Last        probe.Result
}

// applyProbesLocked follows the configuration's probes: new ones start
// from nothing and kept ones keep their count. Reload resolves a removed
// probe's issue; Run restarts the probe goroutines after it.
func (e *Engine) applyProbesLocked() {
	next := map[string]*probeState{}
	for _, p := range e.cfg.Probes {
		ps := &probeState{spec: p.Spec}
		if old := e.probes[p.Spec.Unit]; old != nil && old.spec.Type == p.Spec.Type {
			ps.tr, ps.runs = old.tr, old.runs
		}
		next[p.Spec.Unit] = ps
	}
	e.probes = next
}

// startProbes runs every configured probe in a goroutine of its own until
// ctx ends or the returned stop is called; stop waits for them. A probe
// that is running when it is stopped is cancelled.
func (e *Engine) startProbes(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	e.mu.Lock()
	specs := make([]probe.Spec, 0, len(e.probes))
	for _, ps := range e.probes {
		specs = append(specs, ps.spec)
	}
	e.mu.Unlock()
	done := make(chan struct{}, len(specs))
	for _, s := range specs {
		go func() {
			defer func() { done <- struct{}{} }()
			e.probeLoop(ctx, s)
		}()
	}
	return func() {
		cancel()
		for range specs {
			<-done
		}
	}
}

// probeLoop runs one probe now and every interval after. It never holds
// the engine's lock while probing, and a check never waits for it.
func (e *Engine) probeLoop(ctx context.Context, s probe.Spec) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		started := time.Now()
		if e.probeDue(s.Unit) {
			if r, err := e.runProbe(ctx, s); err == nil {
				e.probeResult(s, r)
			}
		}
		t.Reset(max(s.Interval-time.Since(started), 0))
	}
}

// probeDue reports whether a probe should run now: only while its unit
// is active and no action of ours is moving it. A unit that is down is
// the unit issue's business, not the probe's.
func (e *Engine) probeDue(unit string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.units[unit]
	return st != nil && st.known && st.active == "active" && !e.busyLocked(unit)
}

// runProbe runs one probe when the global cap lets it, and records its
// figures.
func (e *Engine) runProbe(ctx context.Context, s probe.Spec) (probe.Result, error) {
	select {
	case e.probeSem <- struct{}{}:
	case <-ctx.Done():
		return probe.Result{}, ctx.Err()
	}
	r := probe.Run(ctx, s, e.o.ProbeRunner)
	<-e.probeSem
	if ctx.Err() != nil {
		return r, ctx.Err() // stopped, not failed
	}
	if pr, ok := e.o.Recorder.(ProbeRecorder); ok {
		pr.ProbeDone(r)
	}
	return r, nil
}

// probeResult counts a result and opens, updates or resolves the unit's
// probe issue; a failing probe is healed like every other issue.
func (e *Engine) probeResult(s probe.Spec, r probe.Result) {
	var pub []Event
	e.mu.Lock()
	ps, st := e.probes[s.Unit], e.units[s.Unit]
	if ps == nil || st == nil || ps.spec.Type != s.Type {
		e.mu.Unlock()
		return // removed by a reload meanwhile
	}
	if st.active != "active" || e.busyLocked(s.Unit) {
		e.mu.Unlock()
		return // it went down or is being restarted while probed
	}
	ps.runs++
	failing := ps.tr.Observe(r, s.Failures, probe.InGrace(r.At, st.activeSince, s.Grace))
	id := issue.ID(issue.Probe, s.Unit)
	rec := e.issues[id]
	switch {
	case failing:
		msg := fmt.Sprintf("%s does not answer its %s probe (%d failures in a row since %s)",
			s.Unit, s.Type, ps.tr.Consecutive, ps.tr.FirstFailed.Local().Format("15:04:05.000"))
		if rec == nil {
			rec = &issue.Record{ID: id, Kind: issue.Probe, Subject: s.Unit, Severity: issue.Critical,
				Since: time.Now(), State: issue.Open, Message: msg, Cause: r.Detail}
			pub = append(pub, e.openLocked(rec)...)
		} else {
			if rec.State == issue.Healed {
				pub = append(pub, e.relapseLocked(rec)...)
			}
			if rec.Cause != r.Detail {
				rec.Message, rec.Cause = msg, r.Detail
				pub = append(pub, e.changedLocked(rec))
			}
		}
		if _, held := e.retry[id]; !held {
			e.maybeHealLocked(rec)
		}
	case r.OK && rec != nil:
		pub = append(pub, e.resolveLocked(rec, fmt.Sprintf("%s answers its %s probe again: %s", s.Unit, s.Type, r.Detail)))
	}
	e.publish(pub...) // under e.mu, in the order decided (publishStatus)
	e.mu.Unlock()
	e.publishStatus()
}

// probeActionLocked is the action a probe issue takes: the table's
// (restart by default; [actions] probe = "none" turns every probe's off),
// unless the probe says none or reload.
func (e *Engine) probeActionLocked(rec *issue.Record, act issue.Action) issue.Action {
	ps := e.probes[rec.Subject]
	switch {
	case ps == nil || act == issue.None:
		return act
	case ps.spec.Action == probe.ActionNone:
		return issue.None
	case ps.spec.Action == probe.ActionReload:
		return issue.Reload
	}
	return act
}

// probeHealedLocked starts a probe's count again after an action on its
// unit: the failures before the restart are not the restarted server's.
func (e *Engine) probeHealedLocked(unit string) {
	if ps := e.probes[unit]; ps != nil {
		ps.tr.Consecutive, ps.tr.FirstFailed = 0, time.Time{}
	}
}

// probesLocked lists the probes for the status, by unit.
func (e *Engine) probesLocked() []ProbeInfo {
	out := make([]ProbeInfo, 0, len(e.probes))
	for _, ps := range e.probes {
		s := ps.spec
		out = append(out, ProbeInfo{Unit: s.Unit, Type: s.Type, Target: s.Target(), Interval: s.Interval, Timeout: s.Timeout,
			Grace: s.Grace, Failures: s.Failures, Action: s.Action, Consecutive: ps.tr.Consecutive, Last: ps.tr.Last})
	}
	slices.SortFunc(out, func(a, b ProbeInfo) int {
		if a.Unit < b.Unit {
			return -1
		}
		return 1
	})
	return out
}

// RunProbeOp checks a call to run a unit's probe once now, in service
// mode: reading a result is harmless, but running a probe opens
// connections as root and a command probe starts a transient unit. Run
// returns the result without counting it towards an issue (what
// healingctl probe UNIT prints); it waits for the global cap like every
// probe.
func (e *Engine) RunProbeOp(name string) (*Op[probe.Result], error) {
	return checked(context.Background(), e, func(context.Context) (*Op[probe.Result], error) {
		u, err := unit.Normalize(name)
		if err != nil {
			return nil, errorf(InvalidArgument, "unit: %v", err)
		}
		spec, err := e.probeOf(u)
		if err != nil {
			return nil, err
		}
		return &Op[probe.Result]{Tier: TierHeal, Action: "probe", Unit: u, act: func(ctx context.Context, _ Caller) (probe.Result, error) {
			// A probe is bounded by its timeout (at most its interval,
			// 24 h); the call by the bus's own timeout, and by the
			// daemon's stop.
			ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
			defer cancel()
			return e.runProbe(ctx, spec)
		}}, nil
	})
}

// probeOf returns the spec of a unit's probe.
func (e *Engine) probeOf(unit string) (probe.Spec, error) {
	e.mu.Lock()
	ps := e.probes[unit]
	e.mu.Unlock()
	if ps == nil {
		return probe.Spec{}, errorf(NotFound, "%s has no probe; [[probe]] in the configuration adds one (docs/probes.md)", unit)
	}
	return ps.spec, nil
}
