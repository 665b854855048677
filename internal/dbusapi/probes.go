package dbusapi

import (
	"github.com/godbus/dbus/v5"

	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/probe"
	"github.com/luminous-healing/luminous-healing/internal/wire"
)

// ListProbes returns the health probes with their last results, by unit.
// Open to everyone, like every list.
func (a *api) ListProbes() ([]map[string]dbus.Variant, *dbus.Error) {
	ps := a.s.o.Engine.Status().Probes
	out := make([]map[string]dbus.Variant, len(ps))
	for i, p := range ps {
		out[i] = client.Encode(wire.Probe(p))
	}
	return out, nil
}

// RunProbe runs a unit's probe now and returns its result; the result
// counts towards no issue. Polkit: org.luminous.healing.heal, the tier of
// healing: reading the result is harmless, but running it is not only a
// read — it opens connections as root and a command probe starts a
// transient unit — so it is not open to every local user (docs/dbus.md).
func (a *api) RunProbe(msg dbus.Message, sender dbus.Sender, name string) (map[string]dbus.Variant, *dbus.Error) {
	op, err := a.s.o.Engine.RunProbeOp(name)
	return record(a.s, msg, sender, op, err, func(r probe.Result) map[string]dbus.Variant { return client.Encode(probeResult(r)) })
}

func probeResult(r probe.Result) client.ProbeResult {
	return client.ProbeResult{Unit: r.Unit, Type: string(r.Type), At: r.At, Duration: r.Duration, OK: r.OK, Detail: r.Detail}
}
