package engine

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/predict"
	"github.com/luminous-healing/luminous-healing/internal/unit"
)

// The operator methods below are called by transports after they have
// validated the arguments' form and authorized the caller. Each returns an
// *Error whose message is meant for the caller.

// Heal runs the action for an active issue now, bypassing the breaker's
// backoff (a person asked) but not dry-run or the safety rules.
func (e *Engine) Heal(ctx context.Context, c Caller, id string) (heal.Result, error) {
	e.mu.Lock()
	p, ok := e.issues[id]
	var rec issue.Record
	if ok {
		rec = *p
	}
	busy := e.inflight[id]
	_, monitored := e.units[rec.Subject]
	e.mu.Unlock()
	if !ok {
		return heal.Result{}, errorf(NotFound, "no active issue %q; `healingctl issues` lists them", id)
	}
	act := e.heal.ActionFor(rec)
	if rec.Kind == issue.Probe {
		e.mu.Lock()
		act = e.probeActionLocked(&rec, act)
		e.mu.Unlock()
	}
	switch {
	case act == issue.None:
		return heal.Result{}, errorf(ActionFailed, "no action heals %s issues; see [actions] in the configuration", rec.Kind)
	case (rec.Kind == issue.Unit || rec.Kind == issue.Probe) && !monitored:
		return heal.Result{}, errorf(InvalidArgument, "%s is not monitored; use `healingctl restart %s`", rec.Subject, rec.Subject)
	case busy:
		return heal.Result{}, errorf(ActionFailed, "%s is being healed right now", id)
	}
	req := heal.Request{Action: act, Issue: rec, Operator: true}
	if act == issue.Restart || act == issue.Reload {
		req.Target = rec.Subject
	}
	return e.operate(ctx, c, id, req)
}

// RestartUnit restarts a unit (already normalised by the transport).
// Monitored units are service mode; any other unit is development mode,
// which the transport authorizes accordingly.
func (e *Engine) RestartUnit(ctx context.Context, c Caller, name string) (heal.Result, error) {
	id := issue.ID(issue.Unit, name)
	req := heal.Request{Action: issue.Restart, Target: name, Operator: true}
	if rec, ok := e.Issue(id); ok {
		req.Issue = rec
	}
	return e.operate(ctx, c, id, req)
}

// Cleanup runs the cleanup units now.
func (e *Engine) Cleanup(ctx context.Context, c Caller) (heal.Result, error) {
	return e.operate(ctx, c, "", heal.Request{Action: issue.Cleanup, Operator: true})
}

// Throttle limits a unit's CPU and memory now.
func (e *Engine) Throttle(ctx context.Context, c Caller, name string) (heal.Result, error) {
	return e.operate(ctx, c, "", heal.Request{Action: issue.Throttle, Target: name, Operator: true})
}

// Release lifts the daemon's limits from a unit.
func (e *Engine) Release(ctx context.Context, c Caller, name string) (heal.Result, error) {
	return e.operate(ctx, c, "", heal.Request{Action: heal.Release, Target: name, Operator: true})
}

func (e *Engine) operate(ctx context.Context, c Caller, id string, req heal.Request) (heal.Result, error) {
	res := e.heal.Do(ctx, req)
	e.finished(id, res, c)
	return res, resultErr(res)
}

// ResetBreaker re-arms healing for an issue that was given up or is
// backing off, and heals it again if it is still open.
func (e *Engine) ResetBreaker(ctx context.Context, c Caller, id string) error {
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

// ValidateDryRun says whether dry-run may be switched to on: never off
// in the try-it mode.
func (e *Engine) ValidateDryRun(on bool) error {
	if e.o.ForceDryRun && !on {
		return errorf(InvalidArgument, "the try-it mode only plans; run the system service to act")
	}
	return nil
}

// SetDryRun switches dry-run; it reports whether anything changed.
func (e *Engine) SetDryRun(c Caller, on bool) (bool, error) {
	if err := e.ValidateDryRun(on); err != nil {
		return false, err
	}
	if e.heal.DryRun() == on {
		return false, nil
	}
	e.mu.Lock()
	e.over.DryRun = &on
	e.heal.SetDryRun(on)
	e.reconsiderLocked()
	e.stateChanged()
	e.mu.Unlock()
	e.settingChanged(c, "dry-run", onOff(on))
	return true, nil
}

// SetHealingEnabled switches automatic healing; it reports whether
// anything changed.
func (e *Engine) SetHealingEnabled(c Caller, on bool) (bool, error) {
	e.mu.Lock()
	if e.enabled == on {
		e.mu.Unlock()
		return false, nil
	}
	e.enabled = on
	e.over.HealingEnabled = &on
	e.reconsiderLocked()
	e.stateChanged()
	e.mu.Unlock()
	e.settingChanged(c, "healing", onOff(on))
	return true, nil
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

// SetThreshold changes a kind's threshold until the next Reload; it
// reports whether anything changed.
func (e *Engine) SetThreshold(c Caller, kindName string, v float64) (bool, error) {
	kind, err := ThresholdKind(kindName)
	if err != nil {
		return false, &Error{Code: InvalidArgument, Msg: err.Error()}
	}
	if err := CheckThreshold(kind, v); err != nil {
		return false, &Error{Code: InvalidArgument, Msg: err.Error()}
	}
	e.mu.Lock()
	if e.thresholdsLocked()[kind] == v {
		e.mu.Unlock()
		return false, nil
	}
	if e.over.Thresholds == nil {
		e.over.Thresholds = map[issue.Kind]float64{}
	}
	e.over.Thresholds[kind] = v
	e.applyConfigLocked()
	e.stateChanged()
	e.mu.Unlock()
	e.settingChanged(c, "threshold "+string(kind), fmt.Sprint(v))
	return true, nil
}

// ThresholdKind parses the kind argument of SetThreshold.
func ThresholdKind(s string) (issue.Kind, error) {
	switch s {
	case "cpu", "memory", "disk", "load", "pressure":
		return issue.Kind(s), nil
	case "load_average":
		return issue.Load, nil
	}
	return "", fmt.Errorf("no threshold %s (want cpu, memory, disk, load or pressure)", unit.Quote(s))
}

// CheckThreshold validates a threshold value for a kind.
func CheckThreshold(kind issue.Kind, v float64) error {
	switch kind {
	case issue.Load:
		return config.CheckLoadThreshold("load", v)
	case issue.Pressure:
		return config.CheckThreshold("pressure", v, true)
	}
	return config.CheckThreshold(string(kind), v, false)
}

// Reload re-reads the configuration file. A bad file changes nothing and
// the error says why. Runtime overrides are dropped: the file is the truth.
func (e *Engine) Reload(ctx context.Context, c Caller) error {
	var cfg *config.Config
	var err error
	if e.o.ConfigPath != "" {
		cfg, err = config.Load(e.o.ConfigPath)
	} else {
		cfg, err = config.Parse(config.DefaultTOML)
	}
	if err != nil {
		e.o.Audit.Record(audit.Entry{Event: audit.SettingChanged, Action: "reload", Outcome: "failed",
			CallerUID: c.UID, Caller: c.Name, Message: "reload failed, running configuration kept: " + err.Error()})
		return errorf(ActionFailed, "%v; the running configuration is kept", err)
	}
	if e.o.Amend != nil {
		e.o.Amend(cfg)
	}
	e.mu.Lock()
	old := e.cfg
	var sampler Sampler
	if !slices.Equal(old.Monitoring.Mounts, cfg.Monitoring.Mounts) {
		s, err := e.o.NewSampler(cfg)
		if err != nil {
			e.mu.Unlock()
			return errorf(ActionFailed, "%v; the running configuration is kept", err)
		}
		sampler = s
	}
	e.cfg = cfg
	e.over = overrides{}
	if sampler != nil {
		e.sampler.Close()
		e.sampler = sampler
	}
	self := e.heal.Settings().Self
	e.heal.SetSettings(heal.SettingsFrom(cfg, self))
	if e.o.Predictor != nil {
		if err := e.o.Predictor.SetSettings(predict.SettingsFrom(cfg.Predictive)); err != nil {
			e.log.Warn("prediction settings not applied", "err", err)
		}
	}
	if !cfg.Predictive.Enabled {
		for s := range e.foreseen {
			delete(e.foreseen, s)
		}
	}
	e.applyConfigLocked()
	// Issues of mounts and units no longer watched end here.
	var pub []Event
	for _, rec := range e.issues {
		gone := rec.Kind == issue.Unit && e.units[rec.Subject] == nil && !rec.Synthetic
		gone = gone || rec.Kind == issue.Probe && e.probes[rec.Subject] == nil && !rec.Synthetic
		if rec.Kind == issue.Disk && !rec.Synthetic && !slices.Contains(e.sampler.Mounts(), rec.Subject) {
			gone = true
			e.eval.Forget(rec.ID)
		}
		if gone {
			pub = append(pub, e.resolveLocked(rec, "no longer watched"))
		}
	}
	e.reconsiderLocked()
	e.stateChanged()
	e.mu.Unlock()
	select {
	case e.kick <- struct{}{}:
	default:
	}
	e.publish(pub...)
	e.settingChanged(c, "configuration", "reloaded")
	e.publish(Event{Type: ConfigChanged})
	return nil
}

func (e *Engine) settingChanged(c Caller, what, value string) {
	e.o.Audit.Record(audit.Entry{Event: audit.SettingChanged, Action: what, Outcome: value, CallerUID: c.UID, Caller: c.Name,
		Message: fmt.Sprintf("%s set to %s by uid %d", what, value, c.UID)})
	e.publishStatus()
}

// HealingEnabled reports whether automatic healing is on.
func (e *Engine) HealingEnabled() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.enabled
}

// Injection is a synthetic issue for InjectIssue.
type Injection struct {
	Kind      issue.Kind
	Subject   string
	Severity  issue.Severity // OK means warning
	Value     float64
	Threshold float64
	Message   string
}

// InjectIssue opens a synthetic issue that runs the whole pipeline —
// signals, audit, the action (or its plan in dry-run) — for testing
// configurations and integrations. It ends once its action has run.
func (e *Engine) InjectIssue(ctx context.Context, c Caller, in Injection) (issue.Record, error) {
	rec, err := e.ValidateInjection(in)
	if err != nil {
		return issue.Record{}, err
	}
	e.mu.Lock()
	if _, ok := e.issues[rec.ID]; ok {
		e.mu.Unlock()
		return issue.Record{}, errorf(InvalidArgument, "issue %s is already open", rec.ID)
	}
	p := &rec
	evs := e.openLocked(p)
	e.maybeHealLocked(p)
	out := *p
	e.mu.Unlock()
	e.publish(evs...)
	e.o.Audit.Record(audit.Entry{Event: audit.SettingChanged, Action: "inject", Issue: rec.ID, Outcome: "injected",
		CallerUID: c.UID, Caller: c.Name, Message: fmt.Sprintf("synthetic issue %s injected by uid %d", rec.ID, c.UID)})
	e.publishStatus()
	return out, nil
}

// ValidateInjection checks an injection's values and builds its record.
func (e *Engine) ValidateInjection(in Injection) (issue.Record, error) {
	bad := func(format string, args ...any) (issue.Record, error) {
		return issue.Record{}, errorf(InvalidArgument, format, args...)
	}
	if _, err := issue.ParseKind(string(in.Kind)); err != nil {
		return bad("%v", err)
	}
	subject := string(in.Kind)
	switch in.Kind {
	case issue.Unit, issue.Probe:
		u, err := unit.Normalize(in.Subject)
		if err != nil {
			return bad("subject: %v", err)
		}
		subject = u
	case issue.Disk:
		if !filepath.IsAbs(in.Subject) || filepath.Clean(in.Subject) != in.Subject || len(in.Subject) > 4096 {
			return bad("subject: a disk issue needs a clean absolute mount path, got %s", unit.Quote(in.Subject))
		}
		subject = in.Subject
	case issue.Pressure:
		if in.Subject != "cpu" && in.Subject != "memory" && in.Subject != "io" {
			return bad("subject: pressure is cpu, memory or io, got %s", unit.Quote(in.Subject))
		}
		subject = in.Subject
	default:
		if in.Subject != "" && in.Subject != string(in.Kind) {
			return bad("subject: a %s issue has no subject", in.Kind)
		}
	}
	for name, v := range map[string]float64{"value": in.Value, "threshold": in.Threshold} {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 1e6 {
			return bad("%s must be a finite number between 0 and 1000000, got %v", name, v)
		}
	}
	if len(in.Message) > 500 || strings.ContainsAny(in.Message, "\n\r") {
		return bad("message must be one line of at most 500 characters")
	}
	sev := in.Severity
	if sev == issue.OK {
		sev = issue.Warning
	}
	threshold := in.Threshold
	if threshold == 0 && in.Kind != issue.Unit && in.Kind != issue.Probe {
		// Left out (0 is no threshold): report the one in force.
		e.mu.Lock()
		threshold = e.thresholdsLocked()[in.Kind]
		e.mu.Unlock()
	}
	rec := issue.Record{ID: issue.ID(in.Kind, subject), Kind: in.Kind, Subject: subject, Severity: sev,
		Value: in.Value, Threshold: threshold, Since: time.Now(), State: issue.Open, Synthetic: true, Message: in.Message}
	if rec.Message == "" {
		rec.Message = "synthetic: " + describe(&rec)
	}
	return rec, nil
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
