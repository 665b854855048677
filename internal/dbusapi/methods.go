package dbusapi

import (
	"context"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/silence"
	"github.com/luminous-healing/luminous-healing/internal/unit"
	"github.com/luminous-healing/luminous-healing/internal/wire"
)

// api holds exactly the methods of org.luminous.Healing1; godbus exports
// every exported method of it. Each privileged method follows the same
// steps, in this order: validate the arguments (InvalidArgument or
// NotFound, nothing asked, nothing changed); short-circuit a no-op; rate
// limit and authorize (authorize, which audits the decision); act; reply.
type api struct{ s *Server }

// GetStatus returns the summary: the properties and how the daemon runs.
// Open to everyone, and cheap enough to poll.
func (a *api) GetStatus() (map[string]dbus.Variant, *dbus.Error) {
	return a.s.snapshot().status, nil
}

// ListResources returns each series' latest reading against its
// threshold. Open to everyone.
func (a *api) ListResources() ([]map[string]dbus.Variant, *dbus.Error) {
	return a.s.snapshot().resources, nil
}

// ListUnits returns the monitored units' last known states. Open to
// everyone.
func (a *api) ListUnits() ([]map[string]dbus.Variant, *dbus.Error) {
	return a.s.snapshot().units, nil
}

// ListIssues returns the active issues, worst first. Open to everyone.
func (a *api) ListIssues() ([]map[string]dbus.Variant, *dbus.Error) {
	return a.s.snapshot().issues, nil
}

// GetPredictions returns the current forecasts. Open to everyone.
func (a *api) GetPredictions() ([]map[string]dbus.Variant, *dbus.Error) {
	return a.s.snapshot().preds, nil
}

// ListBreakers returns the restart breakers that hold healing back or
// remember failures. Open to everyone.
func (a *api) ListBreakers() ([]map[string]dbus.Variant, *dbus.Error) {
	return a.s.snapshot().breakers, nil
}

// ListThrottles returns the units the daemon has put limits on. Open to
// everyone.
func (a *api) ListThrottles() ([]map[string]dbus.Variant, *dbus.Error) {
	return a.s.snapshot().throttles, nil
}

// GetHistory returns up to limit audit records, newest first; 0 means all
// that are kept. Open to everyone.
func (a *api) GetHistory(limit uint32) ([]map[string]dbus.Variant, *dbus.Error) {
	if limit > client.MaxHistory {
		return nil, invalid("limit: at most %d, got %d (0 means all)", client.MaxHistory, limit)
	}
	entries := a.s.o.Audit.History(int(limit))
	out := make([]map[string]dbus.Variant, len(entries))
	for i, e := range entries {
		out[i] = wire.History(e).Map()
	}
	return out, nil
}

// ListSilences returns the operator's silences and the configured
// maintenance windows' current or next occurrences. Open to everyone.
func (a *api) ListSilences() ([]map[string]dbus.Variant, *dbus.Error) {
	return a.s.snapshot().silences, nil
}

// AddSilence pauses automatic healing within a scope until the silence
// expires. Polkit: org.luminous.healing.heal.
func (a *api) AddSilence(msg dbus.Message, sender dbus.Sender, m map[string]dbus.Variant) (map[string]dbus.Variant, *dbus.Error) {
	req, derr := silenceRequest(m)
	if derr != nil {
		return nil, derr
	}
	s, err := a.s.o.Engine.ValidateSilence(req, time.Now())
	if err != nil {
		return nil, a.s.replyErr("AddSilence", err)
	}
	p := privileged{method: "AddSilence", action: client.ActionHeal, what: "silence", scope: string(s.Scope)}
	if u, ok := strings.CutPrefix(string(s.Scope), "unit:"); ok {
		p.unit = u
	} else if id, ok := strings.CutPrefix(string(s.Scope), "issue:"); ok {
		p.issue = id
	}
	var out silence.Silence
	derr = a.s.setting(msg, sender, p, func(c engine.Caller) error {
		var err error
		out, err = a.s.o.Engine.AddSilence(c, req)
		return err
	})
	if derr != nil {
		return nil, derr
	}
	return wire.Silence(out, time.Now()).Map(), nil
}

// RemoveSilence ends an operator's silence before its expiry. Polkit:
// org.luminous.healing.heal.
func (a *api) RemoveSilence(msg dbus.Message, sender dbus.Sender, id string) *dbus.Error {
	if err := checkID("id", id); err != nil {
		return err
	}
	// One snapshot: the list may change between two reads (a silence
	// expires), and an index into the first must not pick, or run past,
	// the second.
	all := a.s.o.Engine.Silences()
	i := slices.IndexFunc(all, func(s silence.Silence) bool { return s.ID == id })
	if i < 0 {
		return newError(client.ErrorNotFound, "no silence %s; `healingctl silence list` lists them", unit.Quote(id))
	}
	s := all[i]
	if s.Window != "" {
		return invalid("%s is a maintenance window from the configuration; change the configuration and reload", unit.Quote(id))
	}
	p := privileged{method: "RemoveSilence", action: client.ActionHeal, what: "unsilence", scope: string(s.Scope)}
	if u, ok := strings.CutPrefix(string(s.Scope), "unit:"); ok {
		p.unit = u
	}
	return a.s.setting(msg, sender, p, func(c engine.Caller) error {
		return a.s.o.Engine.RemoveSilence(c, id)
	})
}

// silenceRequest decodes AddSilence's a{sv}: known keys with exact types
// only.
func silenceRequest(m map[string]dbus.Variant) (engine.SilenceRequest, *dbus.Error) {
	var req engine.SilenceRequest
	for k, v := range m {
		want, ok := client.SilenceKeys[k]
		if !ok {
			return req, invalid("silence: unknown key %s (want scope, effect, reason, until, for_usec)", unit.Quote(k))
		}
		if got := v.Signature().String(); got != want {
			return req, invalid("silence: %s must have type %s, got %s", k, want, unit.Quote(got))
		}
		if s, ok := v.Value().(string); ok && len(s) > client.MaxStringLen {
			return req, invalid("silence: %s is %d bytes long, at most %d allowed", k, len(s), client.MaxStringLen)
		}
	}
	req.Scope, _ = m["scope"].Value().(string)
	req.Effect, _ = m["effect"].Value().(string)
	req.Reason, _ = m["reason"].Value().(string)
	if u, ok := m["until"].Value().(uint64); ok {
		if u == 0 || u > uint64(math.MaxInt64/1000) {
			return req, invalid("silence: until must be µs since the epoch, got %d", u)
		}
		req.Until = time.UnixMicro(int64(u))
	}
	if u, ok := m["for_usec"].Value().(uint64); ok {
		if u == 0 || u > uint64(math.MaxInt64/1000) {
			return req, invalid("silence: for_usec must be a positive duration in µs, got %d", u)
		}
		req.For = time.Duration(u) * time.Microsecond
	}
	return req, nil
}

// Heal runs an active issue's action now. Polkit: org.luminous.healing.heal.
func (a *api) Heal(msg dbus.Message, sender dbus.Sender, issueID string) (map[string]dbus.Variant, *dbus.Error) {
	if err := checkID("issue_id", issueID); err != nil {
		return nil, err
	}
	rec, ok := a.s.o.Engine.Issue(issueID)
	if !ok {
		return nil, newError(client.ErrorNotFound, "no active issue %s; `healingctl issues` lists them", unit.Quote(issueID))
	}
	p := privileged{method: "Heal", action: client.ActionHeal, what: string(rec.Action), issue: rec.ID}
	if rec.Kind == issue.Unit || rec.Kind == issue.Probe {
		p.unit = rec.Subject
	}
	return a.s.act(msg, sender, p, func(ctx context.Context, c engine.Caller) (heal.Result, error) {
		return a.s.o.Engine.Heal(ctx, c, rec.ID)
	})
}

// RestartUnit restarts a unit. Polkit: org.luminous.healing.heal for a
// monitored unit, org.luminous.healing.develop for any other.
func (a *api) RestartUnit(msg dbus.Message, sender dbus.Sender, name string) (map[string]dbus.Variant, *dbus.Error) {
	u, err := unit.Normalize(name)
	if err != nil {
		return nil, invalid("unit: %v", err)
	}
	u = a.s.o.Engine.CanonicalUnit(a.s.ctx, u)
	p := privileged{method: "RestartUnit", action: client.ActionDevelop, what: "restart", unit: u}
	if a.s.o.Engine.IsMonitored(u) {
		p.action = client.ActionHeal
	}
	return a.s.act(msg, sender, p, func(ctx context.Context, c engine.Caller) (heal.Result, error) {
		return a.s.o.Engine.RestartUnit(ctx, c, u)
	})
}

// Cleanup starts the cleanup units now. Polkit: org.luminous.healing.heal.
func (a *api) Cleanup(msg dbus.Message, sender dbus.Sender) (map[string]dbus.Variant, *dbus.Error) {
	p := privileged{method: "Cleanup", action: client.ActionHeal, what: "cleanup"}
	return a.s.act(msg, sender, p, a.s.o.Engine.Cleanup)
}

// Throttle puts runtime CPU and memory limits on a unit. Polkit:
// org.luminous.healing.heal.
func (a *api) Throttle(msg dbus.Message, sender dbus.Sender, name string) (map[string]dbus.Variant, *dbus.Error) {
	u, err := unit.Normalize(name)
	if err != nil {
		return nil, invalid("unit: %v", err)
	}
	u = a.s.o.Engine.CanonicalUnit(a.s.ctx, u)
	p := privileged{method: "Throttle", action: client.ActionHeal, what: "throttle", unit: u}
	return a.s.act(msg, sender, p, func(ctx context.Context, c engine.Caller) (heal.Result, error) {
		return a.s.o.Engine.Throttle(ctx, c, u)
	})
}

// Release lifts the daemon's limits from a unit. Polkit:
// org.luminous.healing.heal.
func (a *api) Release(msg dbus.Message, sender dbus.Sender, name string) (map[string]dbus.Variant, *dbus.Error) {
	u, err := unit.Normalize(name)
	if err != nil {
		return nil, invalid("unit: %v", err)
	}
	u = a.s.o.Engine.CanonicalUnit(a.s.ctx, u)
	p := privileged{method: "Release", action: client.ActionHeal, what: "release", unit: u}
	return a.s.act(msg, sender, p, func(ctx context.Context, c engine.Caller) (heal.Result, error) {
		return a.s.o.Engine.Release(ctx, c, u)
	})
}

// ResetBreaker re-arms healing of an issue. Polkit: org.luminous.healing.heal.
func (a *api) ResetBreaker(msg dbus.Message, sender dbus.Sender, issueID string) *dbus.Error {
	if err := checkID("issue_id", issueID); err != nil {
		return err
	}
	st := a.s.o.Engine.Status()
	rec, open := a.s.o.Engine.Issue(issueID)
	known := open || slices.ContainsFunc(st.Breakers, func(b heal.BreakerState) bool { return b.IssueID == issueID })
	if !known {
		return newError(client.ErrorNotFound, "no breaker or active issue %s; `healingctl status` lists the breakers", unit.Quote(issueID))
	}
	p := privileged{method: "ResetBreaker", action: client.ActionHeal, what: "reset", issue: issueID}
	if open && (rec.Kind == issue.Unit || rec.Kind == issue.Probe) {
		p.unit = rec.Subject
	} else if u, ok := strings.CutPrefix(issueID, issue.ID(issue.Unit, "")); ok && unit.IsValid(u) {
		p.unit = u
	}
	return a.s.setting(msg, sender, p, func(c engine.Caller) error {
		return a.s.o.Engine.ResetBreaker(a.s.ctx, c, issueID)
	})
}

// SetDryRun switches dry-run. Polkit: org.luminous.healing.develop.
func (a *api) SetDryRun(msg dbus.Message, sender dbus.Sender, on bool) *dbus.Error {
	st := a.s.o.Engine.Status()
	if st.DryRun == on {
		return nil // nothing to change, so nothing to authorize
	}
	if err := a.s.o.Engine.ValidateDryRun(on); err != nil {
		return a.s.replyErr("SetDryRun", err)
	}
	p := privileged{method: "SetDryRun", action: client.ActionDevelop, what: "set-dry-run"}
	return a.s.setting(msg, sender, p, func(c engine.Caller) error {
		_, err := a.s.o.Engine.SetDryRun(c, on)
		return err
	})
}

// SetHealingEnabled switches automatic healing. Polkit:
// org.luminous.healing.develop.
func (a *api) SetHealingEnabled(msg dbus.Message, sender dbus.Sender, on bool) *dbus.Error {
	if a.s.o.Engine.Status().HealingEnabled == on {
		return nil
	}
	p := privileged{method: "SetHealingEnabled", action: client.ActionDevelop, what: "set-healing"}
	return a.s.setting(msg, sender, p, func(c engine.Caller) error {
		_, err := a.s.o.Engine.SetHealingEnabled(c, on)
		return err
	})
}

// SetThreshold changes a kind's threshold until the next reload. Polkit:
// org.luminous.healing.develop.
func (a *api) SetThreshold(msg dbus.Message, sender dbus.Sender, kind string, value float64) *dbus.Error {
	k, err := engine.ThresholdKind(kind)
	if err != nil {
		return invalid("kind: %v", err)
	}
	if err := engine.CheckThreshold(k, value); err != nil {
		return invalid("value: %v", err)
	}
	p := privileged{method: "SetThreshold", action: client.ActionDevelop, what: "set-threshold"}
	return a.s.setting(msg, sender, p, func(c engine.Caller) error {
		_, err := a.s.o.Engine.SetThreshold(c, string(k), value)
		return err
	})
}

// Reload re-reads the configuration file. Polkit: org.luminous.healing.develop.
func (a *api) Reload(msg dbus.Message, sender dbus.Sender) *dbus.Error {
	p := privileged{method: "Reload", action: client.ActionDevelop, what: "reload"}
	return a.s.setting(msg, sender, p, func(c engine.Caller) error {
		return a.s.o.Engine.Reload(a.s.ctx, c)
	})
}

// InjectIssue opens a synthetic issue. Polkit: org.luminous.healing.develop.
func (a *api) InjectIssue(msg dbus.Message, sender dbus.Sender, m map[string]dbus.Variant) (map[string]dbus.Variant, *dbus.Error) {
	in, derr := injection(m)
	if derr != nil {
		return nil, derr
	}
	rec, err := a.s.o.Engine.ValidateInjection(in)
	if err != nil {
		return nil, a.s.replyErr("InjectIssue", err)
	}
	p := privileged{method: "InjectIssue", action: client.ActionDevelop, what: "inject", issue: rec.ID}
	if rec.Kind == issue.Unit || rec.Kind == issue.Probe {
		p.unit = rec.Subject
	}
	var out issue.Record
	derr = a.s.setting(msg, sender, p, func(c engine.Caller) error {
		var err error
		out, err = a.s.o.Engine.InjectIssue(a.s.ctx, c, in)
		return err
	})
	if derr != nil {
		return nil, derr
	}
	return wire.Issue(out).Map(), nil
}

// injection decodes InjectIssue's a{sv}: known keys with exact types only.
func injection(m map[string]dbus.Variant) (engine.Injection, *dbus.Error) {
	var in engine.Injection
	for k, v := range m {
		want, ok := client.InjectionKeys[k]
		if !ok {
			return in, invalid("issue: unknown key %s (want kind, subject, severity, value, threshold, message)", unit.Quote(k))
		}
		if got := v.Signature().String(); got != want {
			return in, invalid("issue: %s must have type %s, got %s", k, want, unit.Quote(got))
		}
		if s, ok := v.Value().(string); ok {
			if len(s) > client.MaxStringLen {
				return in, invalid("issue: %s is %d bytes long, at most %d allowed", k, len(s), client.MaxStringLen)
			}
			// Caller text is data: it reaches polkit's prompt, the
			// history, the journal and terminals, so no control
			// characters, refused before polkit is asked.
			if unit.HasControl(s) {
				return in, invalid("issue: %s contains control characters", k)
			}
		}
	}
	kind, ok := m["kind"].Value().(string)
	if !ok {
		return in, invalid("issue: kind is required (cpu, memory, disk, load, pressure or unit)")
	}
	in.Kind = issue.Kind(kind)
	in.Subject, _ = m["subject"].Value().(string)
	in.Value, _ = m["value"].Value().(float64)
	in.Threshold, _ = m["threshold"].Value().(float64)
	in.Message, _ = m["message"].Value().(string)
	if sev, ok := m["severity"].Value().(string); ok {
		s, err := issue.ParseSeverity(sev)
		if err != nil || s == issue.OK {
			return in, invalid("issue: severity must be warning or critical, got %s", unit.Quote(sev))
		}
		in.Severity = s
	}
	return in, nil
}

// checkID validates an issue id's form; whether it exists is a NotFound.
func checkID(arg, id string) *dbus.Error {
	switch {
	case id == "":
		return invalid("%s: empty; `healingctl issues` lists the ids", arg)
	case len(id) > client.MaxStringLen:
		return invalid("%s: %d bytes long, at most %d allowed", arg, len(id), client.MaxStringLen)
	case unit.HasControl(id):
		return invalid("%s: contains control characters", arg)
	}
	return nil
}

// act runs an authorized action and replies with its result.
func (s *Server) act(msg dbus.Message, sender dbus.Sender, p privileged, do func(context.Context, engine.Caller) (heal.Result, error)) (map[string]dbus.Variant, *dbus.Error) {
	var res heal.Result
	derr := s.setting(msg, sender, p, func(c engine.Caller) error {
		var err error
		res, err = do(s.ctx, c)
		return err
	})
	if derr != nil {
		return nil, derr
	}
	return wire.Result(res).Map(), nil
}

// setting runs fn once the call is authorized, with bounded concurrency.
// The slot is taken after authorization: a password prompt nobody answers
// must not hold one for minutes and lock administrators out. Checks still
// waiting on polkit are bounded by the per-caller rate limit.
func (s *Server) setting(msg dbus.Message, sender dbus.Sender, p privileged, fn func(engine.Caller) error) *dbus.Error {
	c, derr := s.authorize(s.ctx, msg, sender, p)
	if derr != nil {
		return derr
	}
	release, derr := s.acquire()
	if derr != nil {
		return derr
	}
	defer release()
	return s.replyErr(p.method, fn(engine.Caller{UID: c.uid, Name: c.name}))
}

// acquire takes a slot for a privileged call, waiting at most BusyWait.
func (s *Server) acquire() (func(), *dbus.Error) {
	select {
	case s.sem <- struct{}{}:
		return func() { <-s.sem }, nil
	default:
	}
	t := time.NewTimer(s.o.BusyWait)
	defer t.Stop()
	select {
	case s.sem <- struct{}{}:
		return func() { <-s.sem }, nil
	case <-t.C:
		return nil, newError(client.ErrorRateLimited, "the daemon is busy with %d privileged calls; try again in a moment", cap(s.sem))
	case <-s.ctx.Done():
		return nil, newError(client.ErrorUnavailable, "the daemon is stopping")
	}
}
