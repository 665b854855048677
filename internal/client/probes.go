package client

import (
	"context"
	"time"

	"github.com/godbus/dbus/v5"
)

// Probe is one health probe of a monitored unit (ListProbes;
// docs/probes.md) with its last result.
type Probe struct {
	Unit     string        `dbus:"unit"`
	Type     string        `dbus:"type"`   // http, tcp, unix or command
	Target   string        `dbus:"target"` // "GET http://127.0.0.1/healthz → 200", "tcp 127.0.0.1:5432"
	Interval time.Duration `dbus:"interval_usec"`
	Timeout  time.Duration `dbus:"timeout_usec"`
	Grace    time.Duration `dbus:"grace_usec"`
	Failures uint32        `dbus:"failures"`    // consecutive failures that open probe:UNIT
	Action   string        `dbus:"action"`      // restart or none
	Failing  uint32        `dbus:"consecutive"` // consecutive failures now
	// The last run; zero before the first.
	LastAt       time.Time     `dbus:"last_at"`
	LastDuration time.Duration `dbus:"last_duration_usec"`
	LastOK       bool          `dbus:"last_ok"`
	LastDetail   string        `dbus:"last_detail"`
}

// Last is the probe's last run as a ProbeResult.
func (p Probe) Last() ProbeResult {
	return ProbeResult{Unit: p.Unit, Type: p.Type, At: p.LastAt, Duration: p.LastDuration, OK: p.LastOK, Detail: p.LastDetail}
}

// ProbeResult is one run of a probe: the last one in a Probe, or
// RunProbe's reply.
type ProbeResult struct {
	Unit     string        `dbus:"unit"`
	Type     string        `dbus:"type"`
	At       time.Time     `dbus:"at"`
	Duration time.Duration `dbus:"duration_usec"`
	OK       bool          `dbus:"ok"`
	Detail   string        `dbus:"detail"` // "status 200 OK", "timed out after 2s (…)", "exit status 1"
}

// Map encodes p as a{sv}.
func (p Probe) Map() map[string]dbus.Variant {
	return map[string]dbus.Variant{
		"unit": v(p.Unit), "type": v(p.Type), "target": v(p.Target), "interval_usec": dur(p.Interval),
		"timeout_usec": dur(p.Timeout), "grace_usec": dur(p.Grace), "failures": v(p.Failures), "action": v(p.Action),
		"consecutive": v(p.Failing), "last_at": usec(p.LastAt), "last_duration_usec": dur(p.LastDuration),
		"last_ok": v(p.LastOK), "last_detail": v(p.LastDetail),
	}
}

// DecodeProbe decodes a Probe record.
func DecodeProbe(m map[string]dbus.Variant) Probe {
	return Probe{
		Unit: str(m, "unit"), Type: str(m, "type"), Target: str(m, "target"), Interval: durOf(m, "interval_usec"),
		Timeout: durOf(m, "timeout_usec"), Grace: durOf(m, "grace_usec"), Failures: u32(m, "failures"),
		Action: str(m, "action"), Failing: u32(m, "consecutive"), LastAt: tim(m, "last_at"),
		LastDuration: durOf(m, "last_duration_usec"), LastOK: boolean(m, "last_ok"), LastDetail: str(m, "last_detail"),
	}
}

// Map encodes r as a{sv}.
func (r ProbeResult) Map() map[string]dbus.Variant {
	return map[string]dbus.Variant{
		"unit": v(r.Unit), "type": v(r.Type), "at": usec(r.At), "duration_usec": dur(r.Duration),
		"ok": v(r.OK), "detail": v(r.Detail),
	}
}

// DecodeProbeResult decodes a ProbeResult record.
func DecodeProbeResult(m map[string]dbus.Variant) ProbeResult {
	return ProbeResult{Unit: str(m, "unit"), Type: str(m, "type"), At: tim(m, "at"), Duration: durOf(m, "duration_usec"),
		OK: boolean(m, "ok"), Detail: str(m, "detail")}
}

// Probes returns the health probes, by unit.
func (c *Client) Probes(ctx context.Context) ([]Probe, error) {
	return list(ctx, c, MethodListProbes, DecodeProbe)
}

// RunProbe runs a unit's probe now and returns its result; it counts
// towards no issue. Polkit: org.luminous.healing.heal.
func (c *Client) RunProbe(ctx context.Context, unit string) (ProbeResult, error) {
	var m map[string]dbus.Variant
	if err := c.call(ctx, MethodRunProbe, true, &m, unit); err != nil {
		return ProbeResult{}, err
	}
	return DecodeProbeResult(m), nil
}
