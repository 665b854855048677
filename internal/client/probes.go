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

// Probes returns the health probes, by unit.
func (c *Client) Probes(ctx context.Context) ([]Probe, error) {
	return list[Probe](ctx, c, MethodListProbes)
}

// RunProbe runs a unit's probe now and returns its result; it counts
// towards no issue. Polkit: org.luminous.healing.heal.
func (c *Client) RunProbe(ctx context.Context, unit string) (ProbeResult, error) {
	var m map[string]dbus.Variant
	if err := c.call(ctx, MethodRunProbe, true, &m, unit); err != nil {
		return ProbeResult{}, err
	}
	return Decode[ProbeResult](m), nil
}
