package engine

import (
	"context"
	"slices"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/predict"
)

// ReloadOp checks a call to re-read the configuration file, in development
// mode. The file is read when it runs: what it holds then is what counts.
func (e *Engine) ReloadOp() (*Op[bool], error) {
	return checked(context.Background(), e, func(context.Context) (*Op[bool], error) {
		return &Op[bool]{Tier: TierDevelop, Action: "reload",
			act: func(ctx context.Context, c Caller) (bool, error) { return true, e.reload(ctx, c) }}, nil
	})
}

// Reload checks and runs ReloadOp at once.
func (e *Engine) Reload(ctx context.Context, c Caller) error {
	op, err := e.ReloadOp()
	_, err = runNow(ctx, c, op, err)
	return err
}

// reload re-reads the configuration file. A bad file changes nothing and
// the error says why. Runtime overrides are dropped: the file is the truth.
func (e *Engine) reload(ctx context.Context, c Caller) error {
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
	e.publish(pub...) // under e.mu, in the order decided (publishStatus)
	e.mu.Unlock()
	select {
	case e.kick <- struct{}{}:
	default:
	}
	e.settingChanged(c, "configuration", "reloaded")
	e.publish(Event{Type: ConfigChanged})
	return nil
}
