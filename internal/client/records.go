package client

import (
	"time"

	"github.com/godbus/dbus/v5"
)

// The records below travel as a{sv}. Keys are snake_case and match the
// JSON of the HTTP API; times are t (µs since the epoch, 0 for none) and
// durations t in µs with a _usec suffix. Decoding ignores unknown keys and
// leaves missing or mistyped ones zero, so a newer daemon's records still
// decode.

// Issue is an active (or, in IssueResolved, just resolved) issue.
type Issue struct {
	ID        string    `dbus:"id"`
	Kind      string    `dbus:"kind"`      // cpu, memory, disk, load, pressure, unit, probe
	Subject   string    `dbus:"subject"`   // the mount, unit or pressure resource; the kind otherwise
	Severity  string    `dbus:"severity"`  // warning or critical
	Value     float64   `dbus:"value"`     // percent, except load average; 0 for units
	Threshold float64   `dbus:"threshold"` //
	Since     time.Time `dbus:"since"`     // t
	Action    string    `dbus:"action"`    // restart, cleanup, throttle or none
	State     string    `dbus:"state"`     // open, healing, planned, waiting, healed, failed, given-up, watching, silenced, resolved
	Message   string    `dbus:"message"`   // one human line
	Synthetic bool      `dbus:"synthetic"` // injected with InjectIssue
	Attempts  uint32    `dbus:"attempts"`  // failed healing attempts within the breaker's window
	Cause     string    `dbus:"cause"`     // why, as far as the daemon knows; "" when unknown
	// Silenced is the id of the silence or maintenance window covering
	// the issue, "" when none; SilenceEffect is its effect.
	Silenced      string `dbus:"silenced"`
	SilenceEffect string `dbus:"silence_effect"` // pause or notify-only; "" when not silenced
}

// Map encodes i as a{sv}.
func (i Issue) Map() map[string]dbus.Variant {
	return map[string]dbus.Variant{
		"id": v(i.ID), "kind": v(i.Kind), "subject": v(i.Subject), "severity": v(i.Severity),
		"value": v(i.Value), "threshold": v(i.Threshold), "since": usec(i.Since), "action": v(i.Action),
		"state": v(i.State), "message": v(i.Message), "synthetic": v(i.Synthetic), "attempts": v(i.Attempts),
		"cause": v(i.Cause), "silenced": v(i.Silenced), "silence_effect": v(i.SilenceEffect),
	}
}

// DecodeIssue decodes an Issue record.
func DecodeIssue(m map[string]dbus.Variant) Issue {
	return Issue{
		ID: str(m, "id"), Kind: str(m, "kind"), Subject: str(m, "subject"), Severity: str(m, "severity"),
		Value: dbl(m, "value"), Threshold: dbl(m, "threshold"), Since: tim(m, "since"), Action: str(m, "action"),
		State: str(m, "state"), Message: str(m, "message"), Synthetic: boolean(m, "synthetic"), Attempts: u32(m, "attempts"),
		Cause: str(m, "cause"), Silenced: str(m, "silenced"), SilenceEffect: str(m, "silence_effect"),
	}
}

// HistoryEntry is one audit record: an action, an authorization decision,
// an issue opening or closing, a setting changed.
type HistoryEntry struct {
	Time       time.Time     `dbus:"time"`
	Event      string        `dbus:"event"`   // issue-detected, action-succeeded, call-denied, …
	Action     string        `dbus:"action"`  // restart, cleanup, throttle, release; the D-Bus method for calls
	Target     string        `dbus:"target"`  // a unit, or empty
	Issue      string        `dbus:"issue"`   //
	Outcome    string        `dbus:"outcome"` // succeeded, failed, planned, refused, allowed, denied, …
	Message    string        `dbus:"message"`
	CallerUID  int64         `dbus:"caller_uid"` // x: -1 for the daemon's own decisions
	Caller     string        `dbus:"caller"`     // the caller's unique bus name
	DryRun     bool          `dbus:"dry_run"`
	Duration   time.Duration `dbus:"duration_usec"` // t
	FreedBytes uint64        `dbus:"freed_bytes"`   // t
	// FreedByMount is a cleanup's bytes freed per mount point.
	FreedByMount map[string]uint64 `dbus:"freed_by_mount"` // a{st}
}

// Map encodes h as a{sv}.
func (h HistoryEntry) Map() map[string]dbus.Variant {
	return map[string]dbus.Variant{
		"time": usec(h.Time), "event": v(h.Event), "action": v(h.Action), "target": v(h.Target),
		"issue": v(h.Issue), "outcome": v(h.Outcome), "message": v(h.Message), "caller_uid": v(h.CallerUID),
		"caller": v(h.Caller), "dry_run": v(h.DryRun), "duration_usec": dur(h.Duration), "freed_bytes": v(h.FreedBytes),
		"freed_by_mount": v(byMount(h.FreedByMount)),
	}
}

// DecodeHistoryEntry decodes a HistoryEntry record.
func DecodeHistoryEntry(m map[string]dbus.Variant) HistoryEntry {
	return HistoryEntry{
		Time: tim(m, "time"), Event: str(m, "event"), Action: str(m, "action"), Target: str(m, "target"),
		Issue: str(m, "issue"), Outcome: str(m, "outcome"), Message: str(m, "message"), CallerUID: i64(m, "caller_uid"),
		Caller: str(m, "caller"), DryRun: boolean(m, "dry_run"), Duration: durOf(m, "duration_usec"), FreedBytes: u64(m, "freed_bytes"),
		FreedByMount: decodeByMount(m, "freed_by_mount"),
	}
}

// Prediction is a forecast that a series will cross its threshold.
type Prediction struct {
	Series          string        `dbus:"series"` // the series id, which is also the issue id it would open
	Kind            string        `dbus:"kind"`
	Subject         string        `dbus:"subject"`
	Value           float64       `dbus:"value"`          // the latest value
	Threshold       float64       `dbus:"threshold"`      // what it is predicted to cross
	TrendPerHour    float64       `dbus:"trend_per_hour"` // points per hour
	TimeToThreshold time.Duration `dbus:"time_to_threshold_usec"`
	Confidence      float64       `dbus:"confidence"` // 0–1
	Samples         uint32        `dbus:"samples"`
	ETA             time.Time     `dbus:"eta"` // when it is predicted to cross
}

// Map encodes p as a{sv}.
func (p Prediction) Map() map[string]dbus.Variant {
	return map[string]dbus.Variant{
		"series": v(p.Series), "kind": v(p.Kind), "subject": v(p.Subject), "value": v(p.Value),
		"threshold": v(p.Threshold), "trend_per_hour": v(p.TrendPerHour), "time_to_threshold_usec": dur(p.TimeToThreshold),
		"confidence": v(p.Confidence), "samples": v(p.Samples), "eta": usec(p.ETA),
	}
}

// DecodePrediction decodes a Prediction record.
func DecodePrediction(m map[string]dbus.Variant) Prediction {
	return Prediction{
		Series: str(m, "series"), Kind: str(m, "kind"), Subject: str(m, "subject"), Value: dbl(m, "value"),
		Threshold: dbl(m, "threshold"), TrendPerHour: dbl(m, "trend_per_hour"), TimeToThreshold: durOf(m, "time_to_threshold_usec"),
		Confidence: dbl(m, "confidence"), Samples: u32(m, "samples"), ETA: tim(m, "eta"),
	}
}

// ActionResult is what an action did: the reply of Heal, RestartUnit,
// Cleanup, Throttle and Release, and the ActionCompleted signal.
type ActionResult struct {
	Action     string        `dbus:"action"` // restart, cleanup, throttle, release
	Target     string        `dbus:"target"` // the unit acted on, or empty
	Issue      string        `dbus:"issue"`  // the issue healed, or empty
	Outcome    string        `dbus:"outcome"`
	Message    string        `dbus:"message"` // one human line
	DryRun     bool          `dbus:"dry_run"`
	Duration   time.Duration `dbus:"duration_usec"`
	FreedBytes uint64        `dbus:"freed_bytes"` // cleanup
	// FreedByMount is what cleanup freed per mount point (a{st}).
	FreedByMount map[string]uint64 `dbus:"freed_by_mount"`
	Units        []string          `dbus:"units"`     // cleanup: the units started; throttle: the unit chosen
	Applied      map[string]uint64 `dbus:"applied"`   // a{st}: throttle/release, the limits systemd reports afterwards
	Escalated    bool              `dbus:"escalated"` // throttle restarted a monitored unit instead
}

// Map encodes r as a{sv}.
func (r ActionResult) Map() map[string]dbus.Variant {
	units := r.Units
	if units == nil {
		units = []string{}
	}
	applied := r.Applied
	if applied == nil {
		applied = map[string]uint64{}
	}
	return map[string]dbus.Variant{
		"action": v(r.Action), "target": v(r.Target), "issue": v(r.Issue), "outcome": v(r.Outcome),
		"message": v(r.Message), "dry_run": v(r.DryRun), "duration_usec": dur(r.Duration), "freed_bytes": v(r.FreedBytes),
		"units": v(units), "applied": v(applied), "escalated": v(r.Escalated),
		"freed_by_mount": v(byMount(r.FreedByMount)),
	}
}

// DecodeActionResult decodes an ActionResult record.
func DecodeActionResult(m map[string]dbus.Variant) ActionResult {
	r := ActionResult{
		Action: str(m, "action"), Target: str(m, "target"), Issue: str(m, "issue"), Outcome: str(m, "outcome"),
		Message: str(m, "message"), DryRun: boolean(m, "dry_run"), Duration: durOf(m, "duration_usec"),
		FreedBytes: u64(m, "freed_bytes"), Escalated: boolean(m, "escalated"),
	}
	r.Units, _ = m["units"].Value().([]string)
	r.Applied, _ = m["applied"].Value().(map[string]uint64)
	r.FreedByMount = decodeByMount(m, "freed_by_mount")
	return r
}

// Failure is the HealingFailed signal: a failed action, with the state its
// issue is left in.
type Failure struct {
	ActionResult
	State    string `dbus:"state"`    // failed, or given-up once the breaker opened
	Severity string `dbus:"severity"` // the issue's
	Attempts uint32 `dbus:"attempts"` // failed attempts within the breaker's window
	Cause    string `dbus:"cause"`    // the issue's cause, as in Issue; "" when unknown
}

// Map encodes f as a{sv}: ActionResult's keys and its own.
func (f Failure) Map() map[string]dbus.Variant {
	m := f.ActionResult.Map()
	m["state"], m["severity"], m["attempts"], m["cause"] = v(f.State), v(f.Severity), v(f.Attempts), v(f.Cause)
	return m
}

// DecodeFailure decodes a Failure record.
func DecodeFailure(m map[string]dbus.Variant) Failure {
	return Failure{ActionResult: DecodeActionResult(m), State: str(m, "state"), Severity: str(m, "severity"), Attempts: u32(m, "attempts"), Cause: str(m, "cause")}
}

// Silence is an operator's silence or a maintenance window's current or
// next occurrence: ListSilences's records and AddSilence's reply.
type Silence struct {
	ID        string    `dbus:"id"`     // silence-…, or window-N for a configured window
	Scope     string    `dbus:"scope"`  // all, unit:NAME, issue:ID or kind:KIND
	Effect    string    `dbus:"effect"` // pause or notify-only
	Reason    string    `dbus:"reason"`
	Author    string    `dbus:"author"`     // "alice (uid 1000)"; "configuration" for a window
	AuthorUID int64     `dbus:"author_uid"` // x: -1 for a window
	Created   time.Time `dbus:"created"`    // 0 for a window
	Starts    time.Time `dbus:"starts"`     // a window's current or next start
	Expires   time.Time `dbus:"expires"`    // every silence ends by itself
	Window    string    `dbus:"window"`     // a window's calendar expression, e.g. "Sun 02:00..04:00"
	Active    bool      `dbus:"active"`     // in force now
}

// Map encodes s as a{sv}.
func (s Silence) Map() map[string]dbus.Variant {
	return map[string]dbus.Variant{
		"id": v(s.ID), "scope": v(s.Scope), "effect": v(s.Effect), "reason": v(s.Reason), "author": v(s.Author),
		"author_uid": v(s.AuthorUID), "created": usec(s.Created), "starts": usec(s.Starts), "expires": usec(s.Expires),
		"window": v(s.Window), "active": v(s.Active),
	}
}

// DecodeSilence decodes a Silence record.
func DecodeSilence(m map[string]dbus.Variant) Silence {
	return Silence{
		ID: str(m, "id"), Scope: str(m, "scope"), Effect: str(m, "effect"), Reason: str(m, "reason"), Author: str(m, "author"),
		AuthorUID: i64(m, "author_uid"), Created: tim(m, "created"), Starts: tim(m, "starts"), Expires: tim(m, "expires"),
		Window: str(m, "window"), Active: boolean(m, "active"),
	}
}

// SilenceRequest is AddSilence's argument. Scope and Reason are required,
// and exactly one of Until and For.
type SilenceRequest struct {
	Scope  string        `dbus:"scope"`
	Effect string        `dbus:"effect"` // pause (default) or notify-only
	Reason string        `dbus:"reason"`
	Until  time.Time     `dbus:"until"`    // t
	For    time.Duration `dbus:"for_usec"` // t
}

// Map encodes r as a{sv}, leaving out the empty fields.
func (r SilenceRequest) Map() map[string]dbus.Variant {
	m := map[string]dbus.Variant{"scope": v(r.Scope), "reason": v(r.Reason)}
	if r.Effect != "" {
		m["effect"] = v(r.Effect)
	}
	if !r.Until.IsZero() {
		m["until"] = usec(r.Until)
	}
	if r.For != 0 {
		m["for_usec"] = dur(r.For)
	}
	return m
}

// SilenceKeys are the keys AddSilence accepts and their D-Bus types; the
// daemon rejects any other key and any other type.
var SilenceKeys = map[string]string{"scope": "s", "effect": "s", "reason": "s", "until": "t", "for_usec": "t"}

// Injection is InjectIssue's argument: a synthetic issue that runs the whole
// pipeline. Only kind is required.
type Injection struct {
	Kind      string  `dbus:"kind"`      // cpu, memory, disk, load, pressure, unit, probe
	Subject   string  `dbus:"subject"`   // unit: a unit name; disk: a mount path; pressure: cpu, memory or io
	Severity  string  `dbus:"severity"`  // warning (default) or critical
	Value     float64 `dbus:"value"`     // d
	Threshold float64 `dbus:"threshold"` // d
	Message   string  `dbus:"message"`   // one line, at most 500 bytes
}

// Map encodes in as a{sv}, leaving out empty fields.
func (in Injection) Map() map[string]dbus.Variant {
	m := map[string]dbus.Variant{"kind": v(in.Kind)}
	if in.Subject != "" {
		m["subject"] = v(in.Subject)
	}
	if in.Severity != "" {
		m["severity"] = v(in.Severity)
	}
	if in.Value != 0 {
		m["value"] = v(in.Value)
	}
	if in.Threshold != 0 {
		m["threshold"] = v(in.Threshold)
	}
	if in.Message != "" {
		m["message"] = v(in.Message)
	}
	return m
}

// InjectionKeys are the keys InjectIssue accepts and their D-Bus types; the
// daemon rejects any other key and any other type.
var InjectionKeys = map[string]string{
	"kind": "s", "subject": "s", "severity": "s", "value": "d", "threshold": "d", "message": "s",
}

func v(x any) dbus.Variant { return dbus.MakeVariant(x) }

// usec encodes a time as µs since the epoch, 0 for the zero time.
func usec(t time.Time) dbus.Variant {
	if t.IsZero() || t.UnixMicro() < 0 {
		return v(uint64(0))
	}
	return v(uint64(t.UnixMicro()))
}

func dur(d time.Duration) dbus.Variant { return v(uint64(max(d, 0).Microseconds())) }

// str decodes a string made printable: see Printable.
func str(m map[string]dbus.Variant, k string) string {
	s, _ := m[k].Value().(string)
	return Printable(s)
}

func dbl(m map[string]dbus.Variant, k string) float64 { f, _ := m[k].Value().(float64); return f }

func boolean(m map[string]dbus.Variant, k string) bool { b, _ := m[k].Value().(bool); return b }

func u32(m map[string]dbus.Variant, k string) uint32 { u, _ := m[k].Value().(uint32); return u }

func u64(m map[string]dbus.Variant, k string) uint64 { u, _ := m[k].Value().(uint64); return u }

func i64(m map[string]dbus.Variant, k string) int64 { i, _ := m[k].Value().(int64); return i }

func tim(m map[string]dbus.Variant, k string) time.Time {
	u := u64(m, k)
	if u == 0 {
		return time.Time{}
	}
	return time.UnixMicro(int64(u))
}

func durOf(m map[string]dbus.Variant, k string) time.Duration {
	return time.Duration(u64(m, k)) * time.Microsecond
}

// byMount is a per-mount byte count as D-Bus carries it: never nil, so
// the signature is always a{st}.
func byMount(m map[string]uint64) map[string]uint64 {
	if m == nil {
		return map[string]uint64{}
	}
	return m
}

// decodeByMount reads an a{st} per-mount count; nil when absent or empty
// (an older daemon, or nothing freed).
func decodeByMount(m map[string]dbus.Variant, key string) map[string]uint64 {
	v, ok := m[key]
	if !ok {
		return nil
	}
	out, _ := v.Value().(map[string]uint64)
	if len(out) == 0 {
		return nil
	}
	return out
}
