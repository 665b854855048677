package heal

import (
	"context"
	"errors"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/issue"
)

func init() { register(issue.Restart, restart{}) }

// restart heals a failed or stopped unit: ResetFailedUnit when the unit is
// failed (systemd refuses to start a unit that hit its start limit until
// then), RestartUnit("fail"), wait for the job, then verify the unit is
// active.
type restart struct{}

// settle bounds how long a restarted unit may stay "activating" before the
// restart counts as failed.
const settle = 10 * time.Second

func (restart) plan(ctx context.Context, e *env, req Request) (step, error) {
	name := req.Target
	st, u, err := e.unitStep(ctx, "restart", name, req.Unit)
	if err != nil || u == nil {
		return st, err
	}
	reset := u.ActiveState == "failed"
	if reset {
		st.describe = "reset-failed and restart " + name
	}
	st.run = func(ctx context.Context, res *Result) {
		sd := e.sd()
		if reset {
			if err := sd.ResetFailed(ctx, name); err != nil {
				res.fail("could not reset the failed state of %s: %v", name, err)
				return
			}
		}
		u, ok := jobThenActive(ctx, sd, res, name, "restart", "restarted", sd.Restart)
		if !ok {
			return
		}
		res.succeed("%s is active again (%s)", name, u.SubState)
	}
	return st, nil
}

// jobThenActive runs a unit job (start is sd.Restart or sd.Reload), waits for
// its result and verifies the unit is active afterwards; verb and done name
// the job in res's text. It reports false after recording the failure.
func jobThenActive(ctx context.Context, sd Systemd, res *Result, name, verb, done string,
	start func(context.Context, string, chan<- string) error) (UnitStatus, bool) {
	ch := make(chan string, 1)
	if err := start(ctx, name, ch); errors.Is(err, ErrStopQueued) {
		res.refuse(ErrStopQueued, "%s is being stopped (a stop job is queued): stopped on purpose, not %s", name, done)
		return UnitStatus{}, false
	} else if errors.Is(err, ErrNeedStopping) {
		res.refuse(ErrNeedStopping, "%s needs a unit that is being stopped (its stop job is queued): not %s now, tried again later", name, done)
		return UnitStatus{}, false
	} else if err != nil {
		res.fail("systemd refused to %s %s: %v", verb, name, err)
		return UnitStatus{}, false
	}
	result, err := waitJob(ctx, ch)
	if err != nil {
		res.fail("%s of %s did not finish: %v", verb, name, err)
		return UnitStatus{}, false
	}
	if result != "done" && result != JobUnknown {
		res.fail("systemd's %s job for %s ended %q", verb, name, result)
		return UnitStatus{}, false
	}
	u, err := waitActive(ctx, sd, name)
	if err != nil {
		res.fail("%s %s but could not verify it: %v", done, name, err)
		return UnitStatus{}, false
	}
	if u.ActiveState != "active" {
		res.fail("%s %s but it is %s (%s, result %s)", done, name, u.ActiveState, u.SubState, u.Result)
		return UnitStatus{}, false
	}
	return u, true
}

// waitActive polls until the unit leaves "activating"/"reloading", or the
// settle time or ctx runs out.
func waitActive(ctx context.Context, sd Systemd, name string) (UnitStatus, error) {
	deadline := time.Now().Add(settle)
	delay := 20 * time.Millisecond
	for {
		u, err := sd.Unit(ctx, name)
		if err != nil {
			return u, err
		}
		if u.ActiveState != "activating" && u.ActiveState != "reloading" || time.Now().After(deadline) {
			return u, nil
		}
		select {
		case <-ctx.Done():
			return u, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 500*time.Millisecond)
	}
}
