// Package systemd is the daemon's adapter to systemd's D-Bus API: a Manager
// that implements heal.Systemd with go-systemd's context calls, and a
// Watcher that turns systemd's signals about the monitored units into
// events within milliseconds of a state change.
//
// It imports heal for the types of the interface it implements; the engine
// and cmd/luminous-healingd use it.
package systemd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"

	"github.com/luminous-healing/luminous-healing/internal/heal"
)

// Manager calls systemd's manager over a private system bus connection.
type Manager struct {
	conn    *sd.Conn
	jobs    *jobs
	jobConn *dbus.Conn
	cgroups string // cgroup file system root, for units whose accounting is off
}

// Dial connects to systemd on the bus at address ("" = the system bus).
// The connection lives until ctx ends or Close is called.
func Dial(ctx context.Context, address string) (*Manager, error) {
	dial := func() (*dbus.Conn, error) {
		if address == "" {
			return dbus.ConnectSystemBus(dbus.WithContext(ctx))
		}
		return dbus.Connect(address, dbus.WithContext(ctx))
	}
	c, err := sd.NewConnection(dial)
	if err != nil {
		return nil, fmt.Errorf("connect to systemd: %w", err)
	}
	m := &Manager{conn: c, cgroups: "/sys/fs/cgroup"}
	// A bus without systemd on it is no use: find out now, not at the
	// first failure.
	if _, err := c.GetManagerProperty("Version"); err != nil {
		c.Close()
		return nil, fmt.Errorf("systemd is not on the bus: %w", err)
	}
	// Jobs are started and their results read on a connection of our own,
	// so only systemd's JobRemoved counts (see jobs).
	jc, err := dial()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("connect to systemd: %w", err)
	}
	if m.jobs, err = newJobs(ctx, jc, jobCheckEvery); err != nil {
		jc.Close()
		c.Close()
		return nil, err
	}
	m.jobConn = jc
	return m, nil
}

// Close closes the connections.
func (m *Manager) Close() {
	m.conn.Close()
	m.jobConn.Close()
}

// Refused returns how many job results were dropped because systemd did not
// send them.
func (m *Manager) Refused() uint64 { return m.jobs.refused.Load() }

// Connected reports whether the bus connection is alive.
func (m *Manager) Connected() bool { return m.conn.Connected() }

// Unit implements heal.Systemd.
func (m *Manager) Unit(ctx context.Context, name string) (heal.UnitStatus, error) {
	typ := unitType(name)
	// The unit's and its type's properties are asked for at once: one
	// round trip through the bus instead of two, on the way from a
	// failure's signal to its restart (docs/performance.md). A unit that
	// turns out not loaded drops the second answer.
	type typed struct {
		p   map[string]any
		err error
	}
	var second chan typed
	if hasCgroup(typ) {
		second = make(chan typed, 1)
		go func() {
			tp, err := m.conn.GetUnitTypePropertiesContext(ctx, name, typ)
			second <- typed{tp, err}
		}()
	}
	p, err := m.conn.GetUnitPropertiesContext(ctx, name)
	if err != nil {
		return heal.UnitStatus{}, err
	}
	u := heal.UnitStatus{
		Name:          name,
		ID:            str(p["Id"]),
		LoadState:     state(str(p["LoadState"])),
		ActiveState:   state(str(p["ActiveState"])),
		SubState:      state(str(p["SubState"])),
		UnitFileState: state(str(p["UnitFileState"])),
		CanReload:     p["CanReload"] == true,
		CPUWeight:     heal.Unset,
		MemoryHigh:    heal.Unset,
		MemoryCurrent: heal.Unset,
		CPUUsageNSec:  heal.Unset,
		InvocationID:  invocationID(p["InvocationID"]),
	}
	if u.LoadState != "loaded" || second == nil {
		return u, nil
	}
	t := <-second
	tp, err := t.p, t.err
	if err != nil {
		return heal.UnitStatus{}, err
	}
	u.Result = str(tp["Result"])
	u.Restart = str(tp["Restart"])
	if n, ok := tp["NRestarts"].(uint32); ok {
		u.NRestarts, u.HasNRestarts = n, true
	}
	u.CPUWeight = u64(tp["CPUWeight"])
	u.MemoryHigh = u64(tp["MemoryHigh"])
	u.MemoryCurrent = u64(tp["MemoryCurrent"])
	u.CPUUsageNSec = u64(tp["CPUUsageNSec"])
	u.RuntimeDirectory, _ = tp["RuntimeDirectory"].([]string)
	u.ExecMainCode, _ = tp["ExecMainCode"].(int32)
	u.ExecMainStatus, _ = tp["ExecMainStatus"].(int32)
	if u.MemoryCurrent == heal.Unset || u.CPUUsageNSec == heal.Unset {
		m.fromCgroup(str(tp["ControlGroup"]), &u.CPUUsageNSec, &u.MemoryCurrent)
	}
	return u, nil
}

// States reads many units' load, active and sub states in one call,
// systemd's ListUnitsByNames: one entry per valid name, in order, a unit
// that does not exist as not-found and a masked one as masked, loading
// none of their other properties. The engine's safety net uses it to look
// at every monitored unit at a cost that does not grow with their number
// in calls (internal/engine, sweepUnits).
func (m *Manager) States(ctx context.Context, names []string) ([]heal.UnitStatus, error) {
	us, err := m.conn.ListUnitsByNamesContext(ctx, names)
	if err != nil {
		return nil, fmt.Errorf("list units by names: %w", err)
	}
	out := make([]heal.UnitStatus, len(us))
	for i, u := range us {
		out[i] = heal.UnitStatus{Name: u.Name, ID: u.Name, LoadState: state(u.LoadState), ActiveState: state(u.ActiveState), SubState: state(u.SubState)}
	}
	return out, nil
}

// NRestarts reads a service's restart count alone; ok is false for a unit
// that is not a service.
func (m *Manager) NRestarts(ctx context.Context, name string) (uint32, bool, error) {
	if unitType(name) != "Service" {
		return 0, false, nil
	}
	p, err := m.conn.GetUnitTypePropertyContext(ctx, name, "Service", "NRestarts")
	if err != nil {
		return 0, false, err
	}
	n, ok := p.Value.Value().(uint32)
	return n, ok, nil
}

// invocationID renders the unit's InvocationID (16 bytes) as the hex string
// systemd gives a service in $INVOCATION_ID; "" when it has none.
func invocationID(v any) string {
	b, ok := v.([]byte)
	if !ok || len(b) == 0 {
		return ""
	}
	return hex.EncodeToString(b)
}

// ResetFailed implements heal.Systemd.
func (m *Manager) ResetFailed(ctx context.Context, name string) error {
	return m.conn.ResetFailedUnitContext(ctx, name)
}

// The daemon's jobs are queued in mode "fail", never "replace": "replace"
// cancels a conflicting job already queued, and the stop an administrator
// sent between our ResetFailedUnit and RestartUnit (or during a shutdown,
// an isolate) would be undone by our restart. systemd refuses ours instead
// (TransactionIsDestructive), which is heal.ErrStopQueued.

// Restart implements heal.Systemd.
func (m *Manager) Restart(ctx context.Context, name string, ch chan<- string) error {
	return m.stopWins(ctx, name, m.jobs.start(ctx, "RestartUnit", name, "fail", ch))
}

// Reload implements heal.Systemd.
func (m *Manager) Reload(ctx context.Context, name string, ch chan<- string) error {
	return m.stopWins(ctx, name, m.jobs.start(ctx, "ReloadUnit", name, "fail", ch))
}

// Start implements heal.Systemd.
func (m *Manager) Start(ctx context.Context, name string, ch chan<- string) error {
	return m.stopWins(ctx, name, m.jobs.start(ctx, "StartUnit", name, "fail", ch))
}

// stopWins marks systemd's refusal of a job on name that conflicts with one
// queued (TransactionIsDestructive) as heal.ErrStopQueued when name's own
// queued job is a stop. systemd refuses just as well when the conflicting
// stop is queued for a unit name Requires= (pulled into our transaction):
// then nobody stopped name, and the refusal is heal.ErrNeedStopping, which
// is retried. A job that cannot be read leaves the refusal a stop: the
// stop wins when in doubt.
func (m *Manager) stopWins(ctx context.Context, name string, err error) error {
	var de dbus.Error
	if !errors.As(err, &de) || de.Name != "org.freedesktop.systemd1.TransactionIsDestructive" {
		return err
	}
	if typ, jerr := m.queuedJob(ctx, name); jerr == nil && typ != "stop" {
		return fmt.Errorf("%w: %s has no stop job of its own (its job: %q): %v", heal.ErrNeedStopping, name, typ, err)
	}
	return fmt.Errorf("%w: %v", heal.ErrStopQueued, err)
}

// queuedJob is the type of the job queued for name ("stop", "start", …),
// or "" when none is: the unit's Job property, then that job's JobType.
func (m *Manager) queuedJob(ctx context.Context, name string) (string, error) {
	p, err := m.conn.GetUnitPropertyContext(ctx, name, "Job")
	if err != nil {
		return "", err
	}
	job, ok := p.Value.Value().([]any)
	if !ok || len(job) != 2 {
		return "", fmt.Errorf("the Job property of %s is %s, not (id, path)", name, p.Value)
	}
	id, _ := job[0].(uint32)
	path, _ := job[1].(dbus.ObjectPath)
	if id == 0 || !path.IsValid() {
		return "", nil
	}
	var typ dbus.Variant
	err = m.jobConn.Object("org.freedesktop.systemd1", path).
		CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, "org.freedesktop.systemd1.Job", "JobType").Store(&typ)
	if err != nil {
		return "", fmt.Errorf("read job %d of %s: %w", id, name, err)
	}
	s, ok := typ.Value().(string)
	if !ok {
		return "", fmt.Errorf("job %d of %s has a JobType of %s", id, name, typ)
	}
	return s, nil
}

// SetProperties implements heal.Systemd; the properties are set at run time
// only, so a reboot or daemon-reload of the unit file keeps nothing.
func (m *Manager) SetProperties(ctx context.Context, name string, props ...heal.Property) error {
	ps := make([]sd.Property, len(props))
	for i, p := range props {
		ps[i] = sd.Property{Name: p.Name, Value: dbus.MakeVariant(p.Value)}
	}
	return m.conn.SetUnitPropertiesContext(ctx, name, true, ps...)
}

// Services implements heal.Systemd: every active service with its CPU and
// memory use from systemd's accounting, or from its cgroup where
// accounting is off.
func (m *Manager) Services(ctx context.Context) ([]heal.Usage, error) {
	units, err := m.conn.ListUnitsByPatternsContext(ctx, []string{"active"}, []string{"*.service"})
	if err != nil {
		return nil, err
	}
	out := make([]heal.Usage, 0, len(units))
	for _, u := range units {
		usage := heal.Usage{Unit: u.Name, CPUUsageNSec: heal.Unset, MemoryCurrent: heal.Unset}
		obj := u.Path
		var cg string
		for _, p := range []struct {
			name string
			dst  any
		}{
			{"CPUUsageNSec", &usage.CPUUsageNSec},
			{"MemoryCurrent", &usage.MemoryCurrent},
			{"ControlGroup", &cg},
		} {
			v, err := m.conn.GetUnitTypePropertyContext(ctx, u.Name, "Service", p.name)
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				continue // the unit went away between the list and the read
			}
			if err := v.Value.Store(p.dst); err != nil {
				return nil, fmt.Errorf("%s.%s: %w", obj, p.name, err)
			}
		}
		if usage.CPUUsageNSec == heal.Unset || usage.MemoryCurrent == heal.Unset {
			m.fromCgroup(cg, &usage.CPUUsageNSec, &usage.MemoryCurrent)
		}
		out = append(out, usage)
	}
	return out, nil
}

// fromCgroup fills CPU and memory use from the cgroup file system where
// systemd's accounting did not: cgroup v2 (cpu.stat, memory.current, also
// under unified/ on a hybrid system, where cpu.stat is kept even without
// the cpu controller) or the v1 cpuacct and memory controllers.
func (m *Manager) fromCgroup(cg string, cpu, mem *uint64) {
	if cg == "" || strings.Contains(cg, "..") {
		return
	}
	if *cpu == heal.Unset {
		if v, ok := cpuStatUsage(filepath.Join(m.cgroups, cg, "cpu.stat")); ok {
			*cpu = v * 1000
		} else if v, ok := cpuStatUsage(filepath.Join(m.cgroups, "unified", cg, "cpu.stat")); ok {
			*cpu = v * 1000
		} else if v, ok := readUint(filepath.Join(m.cgroups, "cpuacct", cg, "cpuacct.usage")); ok {
			*cpu = v
		}
	}
	if *mem == heal.Unset {
		if v, ok := readUint(filepath.Join(m.cgroups, cg, "memory.current")); ok {
			*mem = v
		} else if v, ok := readUint(filepath.Join(m.cgroups, "memory", cg, "memory.usage_in_bytes")); ok {
			*mem = v
		}
	}
}

func cpuStatUsage(path string) (uint64, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "usage_usec "); ok {
			n, err := strconv.ParseUint(v, 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

func readUint(path string) (uint64, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	return n, err == nil
}

func unitType(name string) string {
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return ""
	}
	t := name[i+1:]
	return strings.ToUpper(t[:1]) + t[1:]
}

func hasCgroup(typ string) bool {
	switch typ {
	case "Service", "Scope", "Slice", "Socket", "Mount", "Swap":
		return true
	}
	return false
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func u64(v any) uint64 {
	if n, ok := v.(uint64); ok {
		return n
	}
	return heal.Unset
}

// SelfUnit returns the systemd unit this process runs in, from
// /proc/self/cgroup, or "" outside a service.
func SelfUnit() string {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return ""
	}
	return unitFromCgroup(string(data))
}

func unitFromCgroup(data string) string {
	for line := range strings.SplitSeq(data, "\n") {
		// "0::/system.slice/x.service" (v2) or "1:name=systemd:/system.slice/x.service" (v1).
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || (parts[0] != "0" && parts[1] != "name=systemd") {
			continue
		}
		segs := strings.Split(parts[2], "/")
		slices.Reverse(segs)
		for _, seg := range segs {
			if strings.HasSuffix(seg, ".service") || strings.HasSuffix(seg, ".scope") {
				return seg
			}
		}
	}
	return ""
}

// IsUnavailable reports whether err means systemd or the bus is gone, as
// opposed to systemd refusing a request.
func IsUnavailable(err error) bool {
	var de dbus.Error
	if errors.As(err, &de) {
		switch de.Name {
		case "org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NoReply",
			"org.freedesktop.DBus.Error.Disconnected", "org.freedesktop.DBus.Error.NameHasNoOwner":
			return true
		}
		return false
	}
	return errors.Is(err, dbus.ErrClosed)
}
