package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/unit"
)

// The operator's actions: what a person asks the daemon to do now. Each
// …Op checks the call and returns it for a transport to authorize and
// Run; the method of the same name without Op checks and runs at once,
// for callers that need no authorization. Every error is an *Error whose
// message is meant for the caller.

// HealOp checks a call to run an active issue's action now. The op names
// the action that would run and its unit, so polkit is asked about the
// act itself, and Run refuses if that action changed meanwhile: an
// operator's Heal never does more than polkit was asked about. It
// bypasses the breaker's backoff (a person asked) but not dry-run or the
// safety rules.
func (e *Engine) HealOp(id string) (*Op[heal.Result], error) {
	return checked(context.Background(), e, func(context.Context) (*Op[heal.Result], error) {
		if err := checkID("issue id", id); err != nil {
			return nil, err
		}
		e.mu.Lock()
		p, ok := e.issues[id]
		var rec issue.Record
		if ok {
			rec = *p
		}
		busy := e.inflight[id]
		_, monitored := e.units[rec.Subject]
		act := e.heal.ActionFor(rec)
		if rec.Kind == issue.Probe {
			act = e.probeActionLocked(&rec, act)
		}
		e.mu.Unlock()
		onUnit := rec.Kind == issue.Unit || rec.Kind == issue.Probe
		switch {
		case !ok:
			return nil, errorf(NotFound, "no active issue %q; `healingctl issues` lists them", id)
		case act == issue.None:
			return nil, errorf(ActionFailed, "no action heals %s issues; see [actions] in the configuration", rec.Kind)
		case onUnit && !monitored:
			return nil, errorf(InvalidArgument, "%s is not monitored; use `healingctl restart %s`", rec.Subject, rec.Subject)
		case busy:
			return nil, errorf(ActionFailed, "%s is being healed right now", id)
		}
		req := heal.Request{Action: act, Issue: rec, Operator: true}
		if act == issue.Restart || act == issue.Reload {
			req.Target = rec.Subject
		}
		op := &Op[heal.Result]{Tier: TierHeal, Action: string(act), Issue: id, act: e.operation(id, req)}
		if onUnit {
			op.Unit = rec.Subject
		}
		return op, nil
	})
}

// Heal checks and runs HealOp at once.
func (e *Engine) Heal(ctx context.Context, c Caller, id string) (heal.Result, error) {
	op, err := e.HealOp(id)
	return runNow(ctx, c, op, err)
}

// RestartUnitOp checks a call to restart a unit: service mode for a
// monitored unit, development mode for any other. Run refuses if the unit
// was dropped from monitoring (or added) while polkit was asking.
func (e *Engine) RestartUnitOp(ctx context.Context, name string) (*Op[heal.Result], error) {
	var known string
	return checked(ctx, e, func(ctx context.Context) (*Op[heal.Result], error) {
		u, err := e.unitArg(ctx, name, &known)
		if err != nil {
			return nil, err
		}
		id := issue.ID(issue.Unit, u)
		req := heal.Request{Action: issue.Restart, Target: u, Operator: true}
		tier := TierDevelop
		e.mu.Lock()
		if e.units[u] != nil {
			tier = TierHeal
		}
		if rec, ok := e.issues[id]; ok {
			req.Issue = *rec
		}
		e.mu.Unlock()
		return &Op[heal.Result]{Tier: tier, Action: "restart", Unit: u, act: e.operation(id, req)}, nil
	})
}

// RestartUnit checks and runs RestartUnitOp at once.
func (e *Engine) RestartUnit(ctx context.Context, c Caller, name string) (heal.Result, error) {
	op, err := e.RestartUnitOp(ctx, name)
	return runNow(ctx, c, op, err)
}

// CleanupOp checks a call to start the cleanup units now.
func (e *Engine) CleanupOp() (*Op[heal.Result], error) {
	return checked(context.Background(), e, func(context.Context) (*Op[heal.Result], error) {
		return &Op[heal.Result]{Tier: TierHeal, Action: "cleanup",
			act: e.operation("", heal.Request{Action: issue.Cleanup, Operator: true})}, nil
	})
}

// Cleanup checks and runs CleanupOp at once.
func (e *Engine) Cleanup(ctx context.Context, c Caller) (heal.Result, error) {
	op, err := e.CleanupOp()
	return runNow(ctx, c, op, err)
}

// ThrottleOp checks a call to limit a unit's CPU and memory now.
func (e *Engine) ThrottleOp(ctx context.Context, name string) (*Op[heal.Result], error) {
	return e.unitOp(ctx, name, issue.Throttle)
}

// Throttle checks and runs ThrottleOp at once.
func (e *Engine) Throttle(ctx context.Context, c Caller, name string) (heal.Result, error) {
	op, err := e.ThrottleOp(ctx, name)
	return runNow(ctx, c, op, err)
}

// ReleaseOp checks a call to lift the daemon's limits from a unit.
func (e *Engine) ReleaseOp(ctx context.Context, name string) (*Op[heal.Result], error) {
	return e.unitOp(ctx, name, heal.Release)
}

// Release checks and runs ReleaseOp at once.
func (e *Engine) Release(ctx context.Context, c Caller, name string) (heal.Result, error) {
	op, err := e.ReleaseOp(ctx, name)
	return runNow(ctx, c, op, err)
}

// unitOp checks a service-mode action on a unit the caller names.
func (e *Engine) unitOp(ctx context.Context, name string, act issue.Action) (*Op[heal.Result], error) {
	var known string
	return checked(ctx, e, func(ctx context.Context) (*Op[heal.Result], error) {
		u, err := e.unitArg(ctx, name, &known)
		if err != nil {
			return nil, err
		}
		return &Op[heal.Result]{Tier: TierHeal, Action: string(act), Unit: u,
			act: e.operation("", heal.Request{Action: act, Target: u, Operator: true})}, nil
	})
}

// operation runs req for an operator and records its end like any action.
func (e *Engine) operation(id string, req heal.Request) func(context.Context, Caller) (heal.Result, error) {
	return func(ctx context.Context, c Caller) (heal.Result, error) {
		res := e.heal.Do(ctx, req)
		e.finished(id, res, c)
		return res, resultErr(res)
	}
}

// ResetBreakerOp checks a call to re-arm healing of an issue that was
// given up or is backing off; Run heals it again if it is still open.
func (e *Engine) ResetBreakerOp(id string) (*Op[bool], error) {
	return checked(context.Background(), e, func(context.Context) (*Op[bool], error) {
		if err := checkID("issue id", id); err != nil {
			return nil, err
		}
		e.mu.Lock()
		var rec issue.Record
		if p, ok := e.issues[id]; ok {
			rec = *p
		}
		e.mu.Unlock()
		held := slices.ContainsFunc(e.heal.Breakers(), func(b heal.BreakerState) bool { return b.IssueID == id })
		if rec.ID == "" && !held {
			return nil, errorf(NotFound, "no breaker or active issue %q; `healingctl status` lists the breakers", id)
		}
		op := &Op[bool]{Tier: TierHeal, Action: "reset", Issue: id, Unit: issueUnit(rec, id),
			act: func(_ context.Context, c Caller) (bool, error) { return true, e.resetBreaker(c, id) }}
		return op, nil
	})
}

// ResetBreaker checks and runs ResetBreakerOp at once.
func (e *Engine) ResetBreaker(ctx context.Context, c Caller, id string) error {
	op, err := e.ResetBreakerOp(id)
	_, err = runNow(ctx, c, op, err)
	return err
}

// issueUnit is the unit an issue is about, whether it is open (rec) or
// only its breaker remembers it (its id), or "".
func issueUnit(rec issue.Record, id string) string {
	if rec.Kind == issue.Unit || rec.Kind == issue.Probe {
		return rec.Subject
	}
	if u, ok := strings.CutPrefix(id, issue.ID(issue.Unit, "")); ok && unit.IsValid(u) {
		return u
	}
	return ""
}

func (e *Engine) resetBreaker(c Caller, id string) error {
	had := e.heal.ResetBreaker(id)
	e.mu.Lock()
	rec, open := e.issues[id]
	if !had && !open {
		e.mu.Unlock()
		return errorf(NotFound, "no breaker or active issue %q", id)
	}
	delete(e.retry, id)
	if open && (rec.State == issue.GivenUp || rec.State == issue.Waiting || rec.State == issue.Failed) {
		rec.State = issue.Open
		rec.Attempts = 0
		e.maybeHealLocked(rec)
	}
	e.stateChanged()
	e.mu.Unlock()
	e.o.Audit.Record(audit.Entry{Event: audit.BreakerReset, Issue: id, Outcome: "reset", CallerUID: c.UID, Caller: c.Name,
		Message: fmt.Sprintf("breaker for %s reset by uid %d", id, c.UID)})
	e.publishStatus()
	return nil
}
