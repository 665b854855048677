package systemd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"
)

// RunProbeCommand runs a command probe's argv as a transient oneshot
// service (probe.CommandRunner): as user, or a dynamic user when user is
// "", never as root; sandboxed (no new privileges, no capabilities, the
// file system read-only but for a private /tmp, no devices, home and
// kernel settings out of reach); stopped by systemd after timeout. It
// returns the command's exit status.
//
// The service is Type=oneshot, whose start job ends when the command
// exits: "done" is exit status 0; "failed" leaves the unit failed, so
// its ExecMainStatus is read before it is reset and garbage-collected.
// A oneshot's run is bounded by TimeoutStartSec= (RuntimeMaxSec= does not
// apply to it), so that is where the timeout goes; RuntimeMaxSec= is set
// too, as a second bound.
func (m *Manager) RunProbeCommand(ctx context.Context, unit string, argv []string, user string, timeout time.Duration) (int, error) {
	if len(argv) == 0 {
		return 0, errors.New("no command")
	}
	if user == "root" || user == "0" {
		return 0, errors.New("command probes never run as root")
	}
	name := probeUnitName(unit)
	usec := uint64(timeout / time.Microsecond)
	props := []property{
		{"Description", dbus.MakeVariant("luminous-healing probe of " + unit)},
		{"Type", dbus.MakeVariant("oneshot")},
		{"ExecStart", dbus.MakeVariant([]execStart{{Path: argv[0], Args: argv, Uncleanly: false}})},
		{"TimeoutStartUSec", dbus.MakeVariant(usec)},
		{"RuntimeMaxUSec", dbus.MakeVariant(usec)},
		{"NoNewPrivileges", dbus.MakeVariant(true)},
		{"ProtectSystem", dbus.MakeVariant("strict")},
		{"ProtectHome", dbus.MakeVariant("read-only")},
		{"PrivateTmp", dbus.MakeVariant(true)},
		{"PrivateDevices", dbus.MakeVariant(true)},
		{"ProtectKernelTunables", dbus.MakeVariant(true)},
		{"ProtectKernelModules", dbus.MakeVariant(true)},
		{"ProtectControlGroups", dbus.MakeVariant(true)},
		{"RestrictSUIDSGID", dbus.MakeVariant(true)},
		{"CapabilityBoundingSet", dbus.MakeVariant(uint64(0))},
		{"StandardOutput", dbus.MakeVariant("null")},
	}
	if user == "" {
		props = append(props, property{"DynamicUser", dbus.MakeVariant(true)})
	} else {
		props = append(props, property{"User", dbus.MakeVariant(user)})
	}
	ch := make(chan string, 1)
	if err := m.jobs.startTransient(ctx, name, props, ch); err != nil {
		return 0, fmt.Errorf("systemd refused the probe's transient unit: %w", err)
	}
	var result string
	select {
	case result = <-ch:
	case <-ctx.Done():
		// Stopped, not left running: the probe's time is up.
		stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		m.conn.StopUnitContext(stop, name, "replace", nil)
		m.conn.ResetFailedUnitContext(stop, name)
		return 0, fmt.Errorf("%s: %w", name, ctx.Err())
	}
	switch result {
	case "done":
		return 0, nil
	case "failed", "timeout":
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		defer m.conn.ResetFailedUnitContext(rctx, name)
		if result == "timeout" {
			return 0, fmt.Errorf("still running after %s; systemd stopped it", timeout)
		}
		v, err := m.conn.GetUnitTypePropertyContext(rctx, name, "Service", "ExecMainStatus")
		if err != nil {
			return 0, fmt.Errorf("the probe failed, and its exit status could not be read: %w", err)
		}
		code, _ := v.Value.Value().(int32)
		res, _ := m.conn.GetUnitTypePropertyContext(rctx, name, "Service", "Result")
		if r, _ := res.Value.Value().(string); r != "" && r != "exit-code" {
			return 0, fmt.Errorf("the probe's unit ended with %s (status %d)", r, code)
		}
		return int(code), nil
	}
	return 0, fmt.Errorf("the probe's start job ended %q", result)
}

// probeUnitName is a fresh transient unit name for a probe of unit:
// lh-probe-nginx-1a2b3c4d.service.
func probeUnitName(unit string) string {
	b := make([]byte, 4)
	rand.Read(b)
	base := strings.TrimSuffix(unit, ".service")
	base = strings.NewReplacer("@", "_", "\\", "_").Replace(base)
	if len(base) > 200 {
		base = base[:200]
	}
	return "lh-probe-" + base + "-" + hex.EncodeToString(b) + ".service"
}

// property is one (sv) of StartTransientUnit's properties.
type property struct {
	Name  string
	Value dbus.Variant
}

// execStart is one a(sasb) entry of ExecStart: path, argv, ignore failure.
type execStart struct {
	Path      string
	Args      []string
	Uncleanly bool
}

// startTransient calls StartTransientUnit(name, "fail", props, []) and
// arranges for the job's result to be sent on ch, from systemd only.
func (j *jobs) startTransient(ctx context.Context, name string, props []property, ch chan<- string) error {
	aux := []struct {
		Name  string
		Props []property
	}{}
	return j.call(ctx, ch, "StartTransientUnit", name, "fail", props, aux)
}
