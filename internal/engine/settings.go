package engine

import (
	"context"
	"fmt"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/unit"
)

// The settings an operator changes at run time, in development mode:
// dry-run, automatic healing and the thresholds. A runtime setting lasts
// until the next reload (the file is the truth) and is kept across a
// restart (persist.go). Each …Op reports a setting already at the value
// asked for as a no-op, which needs no authorization; Run returns whether
// anything changed.

// SetDryRunOp checks a call to switch dry-run: never off in the try-it
// mode.
func (e *Engine) SetDryRunOp(on bool) (*Op[bool], error) {
	if e.o.ForceDryRun && !on {
		return nil, errorf(InvalidArgument, "the try-it mode only plans; run the system service to act")
	}
	return e.settingOp("set-dry-run", func() bool { return e.heal.DryRun() == on }, func(c Caller) bool { return e.setDryRun(c, on) })
}

// settingOp is a development-mode op that sets a value: a no-op while
// same reports the value in force is the one asked for.
func (e *Engine) settingOp(action string, same func() bool, set func(Caller) bool) (*Op[bool], error) {
	return checked(context.Background(), e, func(context.Context) (*Op[bool], error) {
		return &Op[bool]{Tier: TierDevelop, Action: action, NoOp: same(),
			act: func(_ context.Context, c Caller) (bool, error) { return set(c), nil }}, nil
	})
}

// SetDryRun checks and runs SetDryRunOp at once; it reports whether
// anything changed.
func (e *Engine) SetDryRun(c Caller, on bool) (bool, error) {
	op, err := e.SetDryRunOp(on)
	return runNow(context.Background(), c, op, err)
}

func (e *Engine) setDryRun(c Caller, on bool) bool {
	e.mu.Lock()
	if e.heal.DryRun() == on {
		e.mu.Unlock()
		return false
	}
	e.over.DryRun = &on
	e.heal.SetDryRun(on)
	e.reconsiderLocked()
	e.stateChanged()
	e.mu.Unlock()
	e.settingChanged(c, "dry-run", onOff(on))
	return true
}

// SetHealingEnabledOp checks a call to switch automatic healing.
func (e *Engine) SetHealingEnabledOp(on bool) (*Op[bool], error) {
	return e.settingOp("set-healing", func() bool { return e.HealingEnabled() == on }, func(c Caller) bool { return e.setHealingEnabled(c, on) })
}

// SetHealingEnabled checks and runs SetHealingEnabledOp at once; it
// reports whether anything changed.
func (e *Engine) SetHealingEnabled(c Caller, on bool) (bool, error) {
	op, err := e.SetHealingEnabledOp(on)
	return runNow(context.Background(), c, op, err)
}

func (e *Engine) setHealingEnabled(c Caller, on bool) bool {
	e.mu.Lock()
	if e.enabled == on {
		e.mu.Unlock()
		return false
	}
	e.enabled = on
	e.over.HealingEnabled = &on
	e.reconsiderLocked()
	e.stateChanged()
	e.mu.Unlock()
	e.settingChanged(c, "healing", onOff(on))
	return true
}

// HealingEnabled reports whether automatic healing is on.
func (e *Engine) HealingEnabled() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.enabled
}

// reconsiderLocked sends back through healing what a setting held back,
// after any change of dry-run, healing or the configuration: with healing
// on, issues only watched; with dry-run off too, issues and forecasts whose
// action was only planned. A condition that still holds acts now (a
// forecast at the next check, where it is evaluated again); one that
// cleared has already ended its issue or foresight.
func (e *Engine) reconsiderLocked() {
	if !e.enabled {
		return
	}
	dry := e.heal.DryRun()
	for _, rec := range e.issues {
		if rec.State == issue.Watching || (!dry && rec.State == issue.Planned) {
			rec.State = issue.Open
			e.maybeHealLocked(rec)
		}
	}
	if !dry {
		for _, w := range e.foreseen {
			if w.planned {
				w.done, w.planned = false, false
			}
		}
	}
}

// SetThresholdOp checks a call to change a kind's threshold until the
// next reload.
func (e *Engine) SetThresholdOp(kindName string, v float64) (*Op[bool], error) {
	kind, err := thresholdKind(kindName)
	if err != nil {
		return nil, errorf(InvalidArgument, "kind: %v", err)
	}
	if err := checkThreshold(kind, v); err != nil {
		return nil, errorf(InvalidArgument, "value: %v", err)
	}
	same := func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.thresholdsLocked()[kind] == v
	}
	return e.settingOp("set-threshold", same, func(c Caller) bool { return e.setThreshold(c, kind, v) })
}

// SetThreshold checks and runs SetThresholdOp at once; it reports whether
// anything changed.
func (e *Engine) SetThreshold(c Caller, kindName string, v float64) (bool, error) {
	op, err := e.SetThresholdOp(kindName, v)
	return runNow(context.Background(), c, op, err)
}

func (e *Engine) setThreshold(c Caller, kind issue.Kind, v float64) bool {
	e.mu.Lock()
	if e.thresholdsLocked()[kind] == v {
		e.mu.Unlock()
		return false
	}
	if e.over.Thresholds == nil {
		e.over.Thresholds = map[issue.Kind]float64{}
	}
	e.over.Thresholds[kind] = v
	e.applyConfigLocked()
	e.stateChanged()
	e.mu.Unlock()
	e.settingChanged(c, "threshold "+string(kind), fmt.Sprint(v))
	return true
}

// thresholdKind parses the kind argument of SetThreshold.
func thresholdKind(s string) (issue.Kind, error) {
	switch s {
	case "cpu", "memory", "disk", "load", "pressure":
		return issue.Kind(s), nil
	case "load_average":
		return issue.Load, nil
	}
	return "", fmt.Errorf("no threshold %s (want cpu, memory, disk, load or pressure)", unit.Quote(s))
}

// checkThreshold validates a threshold value for a kind, at a call and
// when a saved override is restored.
func checkThreshold(kind issue.Kind, v float64) error {
	switch kind {
	case issue.Load:
		return config.CheckLoadThreshold("load", v)
	case issue.Pressure:
		return config.CheckThreshold("pressure", v, true)
	}
	return config.CheckThreshold(string(kind), v, false)
}

func (e *Engine) settingChanged(c Caller, what, value string) {
	e.o.Audit.Record(audit.Entry{Event: audit.SettingChanged, Action: what, Outcome: value, CallerUID: c.UID, Caller: c.Name,
		Message: fmt.Sprintf("%s set to %s by uid %d", what, value, c.UID)})
	e.publishStatus()
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
