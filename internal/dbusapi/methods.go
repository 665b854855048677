package dbusapi

import (
	"maps"
	"math"
	"reflect"
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

// api holds the methods of org.luminous.Healing1 but the lists, which
// read the status snapshot alone (lists); Server.handlers exports both.
// Each privileged method takes
// the same steps (call): decode its arguments; have the engine check the
// call, which returns an op or InvalidArgument/NotFound (nothing asked,
// nothing changed); short-circuit a no-op; rate limit and authorize
// (authorize, which audits the decision); run the op, which checks again
// what may have changed while polkit was asking; reply.
type api struct{ s *Server }

// lists are the read methods that return one list of the status
// snapshot. Open to everyone, and cheap: the snapshot is built once per
// status.
var lists = map[string]func(*snapshot) []map[string]dbus.Variant{
	"ListResources":  func(c *snapshot) []map[string]dbus.Variant { return c.resources },
	"ListUnits":      func(c *snapshot) []map[string]dbus.Variant { return c.units },
	"ListIssues":     func(c *snapshot) []map[string]dbus.Variant { return c.issues },
	"GetPredictions": func(c *snapshot) []map[string]dbus.Variant { return c.preds },
	"ListBreakers":   func(c *snapshot) []map[string]dbus.Variant { return c.breakers },
	"ListThrottles":  func(c *snapshot) []map[string]dbus.Variant { return c.throttles },
	"ListSilences":   func(c *snapshot) []map[string]dbus.Variant { return c.silences },
}

// handlers returns every method of org.luminous.Healing1 by name: api's
// and the lists.
func (s *Server) handlers() map[string]any {
	m := map[string]any{}
	v := reflect.ValueOf(&api{s})
	for i := range v.NumMethod() {
		m[v.Type().Method(i).Name] = v.Method(i).Interface()
	}
	for name, list := range lists {
		m[name] = func() ([]map[string]dbus.Variant, *dbus.Error) { return list(s.snapshot()), nil }
	}
	return m
}

// GetStatus returns the summary: the properties and how the daemon runs.
// Open to everyone, and cheap enough to poll.
func (a *api) GetStatus() (map[string]dbus.Variant, *dbus.Error) {
	return a.s.snapshot().status, nil
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
		out[i] = client.Encode(wire.History(e))
	}
	return out, nil
}

// AddSilence pauses automatic healing within a scope until the silence
// expires. Polkit: org.luminous.healing.heal.
func (a *api) AddSilence(msg dbus.Message, sender dbus.Sender, m map[string]dbus.Variant) (map[string]dbus.Variant, *dbus.Error) {
	op, err := decoded(m, silenceRequest, a.s.o.Engine.AddSilenceOp)
	return record(a.s, msg, sender, op, err, silenceRecord)
}

// RemoveSilence ends an operator's silence before its expiry. Polkit:
// org.luminous.healing.heal.
func (a *api) RemoveSilence(msg dbus.Message, sender dbus.Sender, id string) *dbus.Error {
	op, err := a.s.o.Engine.RemoveSilenceOp(id)
	return setting(a.s, msg, sender, op, err)
}

// silenceRequest decodes AddSilence's a{sv}: known keys with exact types
// only.
func silenceRequest(m map[string]dbus.Variant) (engine.SilenceRequest, *dbus.Error) {
	var req engine.SilenceRequest
	if derr := checkKeys("silence", m, client.SilenceKeys); derr != nil {
		return req, derr
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
	op, err := a.s.o.Engine.HealOp(issueID)
	return record(a.s, msg, sender, op, err, actionResult)
}

// RestartUnit restarts a unit. Polkit: org.luminous.healing.heal for a
// monitored unit, org.luminous.healing.develop for any other.
func (a *api) RestartUnit(msg dbus.Message, sender dbus.Sender, name string) (map[string]dbus.Variant, *dbus.Error) {
	op, err := a.s.o.Engine.RestartUnitOp(a.s.ctx, name)
	return record(a.s, msg, sender, op, err, actionResult)
}

// Cleanup starts the cleanup units now. Polkit: org.luminous.healing.heal.
func (a *api) Cleanup(msg dbus.Message, sender dbus.Sender) (map[string]dbus.Variant, *dbus.Error) {
	op, err := a.s.o.Engine.CleanupOp()
	return record(a.s, msg, sender, op, err, actionResult)
}

// Throttle puts runtime CPU and memory limits on a unit. Polkit:
// org.luminous.healing.heal.
func (a *api) Throttle(msg dbus.Message, sender dbus.Sender, name string) (map[string]dbus.Variant, *dbus.Error) {
	op, err := a.s.o.Engine.ThrottleOp(a.s.ctx, name)
	return record(a.s, msg, sender, op, err, actionResult)
}

// Release lifts the daemon's limits from a unit. Polkit:
// org.luminous.healing.heal.
func (a *api) Release(msg dbus.Message, sender dbus.Sender, name string) (map[string]dbus.Variant, *dbus.Error) {
	op, err := a.s.o.Engine.ReleaseOp(a.s.ctx, name)
	return record(a.s, msg, sender, op, err, actionResult)
}

// ResetBreaker re-arms healing of an issue. Polkit: org.luminous.healing.heal.
func (a *api) ResetBreaker(msg dbus.Message, sender dbus.Sender, issueID string) *dbus.Error {
	op, err := a.s.o.Engine.ResetBreakerOp(issueID)
	return setting(a.s, msg, sender, op, err)
}

// SetDryRun switches dry-run. Polkit: org.luminous.healing.develop.
func (a *api) SetDryRun(msg dbus.Message, sender dbus.Sender, on bool) *dbus.Error {
	op, err := a.s.o.Engine.SetDryRunOp(on)
	return setting(a.s, msg, sender, op, err)
}

// SetHealingEnabled switches automatic healing. Polkit:
// org.luminous.healing.develop.
func (a *api) SetHealingEnabled(msg dbus.Message, sender dbus.Sender, on bool) *dbus.Error {
	op, err := a.s.o.Engine.SetHealingEnabledOp(on)
	return setting(a.s, msg, sender, op, err)
}

// SetThreshold changes a kind's threshold until the next reload. Polkit:
// org.luminous.healing.develop.
func (a *api) SetThreshold(msg dbus.Message, sender dbus.Sender, kind string, value float64) *dbus.Error {
	op, err := a.s.o.Engine.SetThresholdOp(kind, value)
	return setting(a.s, msg, sender, op, err)
}

// Reload re-reads the configuration file. Polkit: org.luminous.healing.develop.
func (a *api) Reload(msg dbus.Message, sender dbus.Sender) *dbus.Error {
	op, err := a.s.o.Engine.ReloadOp()
	return setting(a.s, msg, sender, op, err)
}

// InjectIssue opens a synthetic issue. Polkit: org.luminous.healing.develop.
func (a *api) InjectIssue(msg dbus.Message, sender dbus.Sender, m map[string]dbus.Variant) (map[string]dbus.Variant, *dbus.Error) {
	op, err := decoded(m, injection, a.s.o.Engine.InjectIssueOp)
	return record(a.s, msg, sender, op, err, issueRecord)
}

// injection decodes InjectIssue's a{sv}: known keys with exact types only.
// What the values may hold (control characters among them) is the
// engine's to check, in InjectIssueOp.
func injection(m map[string]dbus.Variant) (engine.Injection, *dbus.Error) {
	var in engine.Injection
	if derr := checkKeys("issue", m, client.InjectionKeys); derr != nil {
		return in, derr
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

// decoded has the engine check an a{sv} argument once decode has
// accepted it; decode's refusal is the call's error.
func decoded[R, T any](m map[string]dbus.Variant, decode func(map[string]dbus.Variant) (R, *dbus.Error), check func(R) (*engine.Op[T], error)) (*engine.Op[T], error) {
	r, derr := decode(m)
	if derr != nil {
		return nil, derr
	}
	return check(r)
}

// checkKeys accepts an a{sv} argument (arg) that holds only keys of want,
// each with the type want gives it, and strings no longer than the
// contract allows.
func checkKeys(arg string, m map[string]dbus.Variant, want map[string]string) *dbus.Error {
	for k, v := range m {
		typ, ok := want[k]
		if !ok {
			return invalid("%s: unknown key %s (want %s)", arg, unit.Quote(k), strings.Join(slices.Sorted(maps.Keys(want)), ", "))
		}
		if got := v.Signature().String(); got != typ {
			return invalid("%s: %s must have type %s, got %s", arg, k, typ, unit.Quote(got))
		}
		if s, ok := v.Value().(string); ok && len(s) > client.MaxStringLen {
			return invalid("%s: %s is %d bytes long, at most %d allowed", arg, k, len(s), client.MaxStringLen)
		}
	}
	return nil
}

// actionResult, silenceRecord and issueRecord are the records the
// privileged methods reply with.
func actionResult(r heal.Result) map[string]dbus.Variant { return client.Encode(wire.Result(r)) }

func silenceRecord(s silence.Silence) map[string]dbus.Variant {
	return client.Encode(wire.Silence(s, time.Now()))
}

func issueRecord(r issue.Record) map[string]dbus.Variant { return client.Encode(wire.Issue(r)) }

// record authorizes and runs a checked op (call) and replies with its
// result in enc's form.
func record[T any](s *Server, msg dbus.Message, sender dbus.Sender, op *engine.Op[T], err error, enc func(T) map[string]dbus.Variant) (map[string]dbus.Variant, *dbus.Error) {
	res, derr := call(s, msg, sender, op, err)
	if derr != nil {
		return nil, derr
	}
	return enc(res), nil
}

// setting authorizes and runs a checked op (call) whose reply is empty.
func setting[T any](s *Server, msg dbus.Message, sender dbus.Sender, op *engine.Op[T], err error) *dbus.Error {
	_, derr := call(s, msg, sender, op, err)
	return derr
}

// call authorizes the op the engine checked (or replies with the error it
// found) and runs it: a no-op at once, asking nobody; any other once
// polkit said yes, with bounded concurrency. The slot is taken after
// authorization: a password prompt nobody answers must not hold one for
// minutes and lock administrators out. Checks still waiting on polkit are
// bounded by the per-caller rate limit.
func call[T any](s *Server, msg dbus.Message, sender dbus.Sender, op *engine.Op[T], err error) (T, *dbus.Error) {
	var zero T
	method := member(msg)
	if err != nil {
		return zero, s.replyErr(method, err)
	}
	if op.NoOp {
		return zero, nil
	}
	p := privileged{method: method, action: tierActions[op.Tier], details: op.Details(), unit: op.Unit, issue: op.Issue, scope: op.Scope}
	c, derr := s.authorize(s.ctx, msg, sender, p)
	if derr != nil {
		return zero, derr
	}
	release, derr := s.acquire()
	if derr != nil {
		return zero, derr
	}
	defer release()
	res, err := op.Run(s.ctx, engine.Caller{UID: c.uid, Name: c.name})
	return res, s.replyErr(method, err)
}

// tierActions are the polkit actions of the engine's tiers.
var tierActions = map[engine.Tier]string{engine.TierHeal: client.ActionHeal, engine.TierDevelop: client.ActionDevelop}

// member is the method a call names, for the audit and the journal.
func member(msg dbus.Message) string {
	m, _ := msg.Headers[dbus.FieldMember].Value().(string)
	return m
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
