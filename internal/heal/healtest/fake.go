// Package healtest provides a hand-written stand-in for systemd's manager,
// implementing heal.Systemd, for the tests of heal and of the packages that
// drive it. Real systemd is exercised by the end-to-end suite (internal/e2e).
package healtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/luminous-healing/luminous-healing/internal/heal"
)

// Systemd is a fake systemd manager: units with states, and a log of every
// call. Set its exported fields before use; it is safe for concurrent use.
type Systemd struct {
	mu    sync.Mutex
	Units map[string]*heal.UnitStatus
	calls []string
	// JobResult overrides a unit's restart/start job result ("failed", …).
	JobResult map[string]string
	// AfterRestart is the ActiveState a unit lands in after a restart job;
	// "active" by default.
	AfterRestart map[string]string
	// Usage feeds Services; each call advances CPU by CPURate per unit.
	Usage   []heal.Usage
	CPURate map[string]uint64
	// Host feeds Machine, cgroup-like: its Groups (user-1000.slice,
	// init.scope, …) advance by CPURate like services, and CPUBusyNSec by
	// BusyRate, at each call. A zero Host is a machine whose totals are
	// unknown.
	Host     heal.Machine
	BusyRate uint64
	// OnStart runs inside Start, e.g. to free disk space.
	OnStart func(unit string)
	// OnRestart runs inside Restart before the job completes.
	OnRestart func(unit string)
	// StopQueued makes Restart refuse a unit as systemd does a job in
	// mode "fail" when a stop job is queued for it (heal.ErrStopQueued).
	StopQueued map[string]bool
	// NeedStopping makes Restart refuse a unit as systemd does a job in
	// mode "fail" when a unit it Requires= has a stop job queued and it
	// has none of its own (heal.ErrNeedStopping).
	NeedStopping map[string]bool
	// Down makes every read fail as if the bus were gone.
	Down bool
	// Aliases maps an alias to the unit it names, as a symlinked unit
	// file does: Unit(alias) reads the unit, with its canonical ID.
	Aliases map[string]string

	invocations int
	reads       int // Unit calls
	batches     int // States calls
}

// New returns a fake with the given units, loaded unless LoadState says
// otherwise, with no CPUWeight or MemoryHigh set.
func New(units ...heal.UnitStatus) *Systemd {
	f := &Systemd{Units: map[string]*heal.UnitStatus{}, JobResult: map[string]string{}, AfterRestart: map[string]string{}, CPURate: map[string]uint64{},
		Host: heal.Machine{CPUBusyNSec: heal.Unset, MemoryUsed: heal.Unset}}
	for _, u := range units {
		u := u
		if u.LoadState == "" {
			u.LoadState = "loaded"
		}
		if u.CPUWeight == 0 {
			u.CPUWeight = heal.Unset
		}
		if u.MemoryHigh == 0 {
			u.MemoryHigh = heal.Unset
		}
		f.Units[u.Name] = &u
	}
	return f
}

func (f *Systemd) log(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

// Calls returns the mutating calls made so far.
func (f *Systemd) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// SetNRestarts sets systemd's count of the restarts it did by itself.
func (f *Systemd) SetNRestarts(name string, n uint32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u := f.Units[name]; u != nil {
		u.NRestarts = n
	}
}

// Set changes a unit's state, as if it had failed or been started.
func (f *Systemd) Set(name, active, sub string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u := f.Units[name]; u != nil {
		u.ActiveState, u.SubState = active, sub
	}
}

// Remove takes a unit away, as deleting its unit file and a daemon-reload
// do: it reads as not-found from then on.
func (f *Systemd) Remove(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.Units, name)
}

// Put adds or replaces a unit while the fake is in use, loaded unless
// LoadState says otherwise.
func (f *Systemd) Put(u heal.UnitStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u.LoadState == "" {
		u.LoadState = "loaded"
	}
	f.Units[u.Name] = &u
}

// Reads returns how many times a unit was read (Unit) and how many batched
// reads of many units' states (States) were made: the calls that cost
// systemd and the bus work at every look.
func (f *Systemd) Reads() (unit, batched int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads, f.batches
}

// States reads many units' load, active and sub states in one call, as
// systemd's ListUnitsByNames does: one entry per name, in order, units that
// do not exist as not-found.
func (f *Systemd) States(ctx context.Context, names []string) ([]heal.UnitStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.batches++
	if f.Down {
		return nil, errors.New("connection closed")
	}
	out := make([]heal.UnitStatus, 0, len(names))
	for _, name := range names {
		id := name
		if canonical, ok := f.Aliases[name]; ok {
			id = canonical
		}
		u, ok := f.Units[id]
		if !ok {
			out = append(out, heal.UnitStatus{Name: id, ID: id, LoadState: "not-found", ActiveState: "inactive", SubState: "dead"})
			continue
		}
		out = append(out, heal.UnitStatus{Name: id, ID: id, LoadState: u.LoadState, ActiveState: u.ActiveState, SubState: u.SubState})
	}
	return out, nil
}

// NRestarts reads one unit's restart count alone.
func (f *Systemd) NRestarts(ctx context.Context, name string) (uint32, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Down {
		return 0, false, errors.New("connection closed")
	}
	if u, ok := f.Units[name]; ok {
		return u.NRestarts, u.HasNRestarts, nil
	}
	return 0, false, nil
}

// SetDown sets Down while the fake is in use.
func (f *Systemd) SetDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Down = down
}

// SetAliases replaces Aliases while the fake is in use (a daemon reading
// units meanwhile); Aliases itself may be set only before use.
func (f *Systemd) SetAliases(m map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Aliases = m
}

// Unit implements heal.Systemd.
func (f *Systemd) Unit(ctx context.Context, name string) (heal.UnitStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if f.Down {
		return heal.UnitStatus{}, errors.New("connection closed")
	}
	if canonical, ok := f.Aliases[name]; ok {
		name = canonical
	}
	u, ok := f.Units[name]
	if !ok {
		return heal.UnitStatus{Name: name, ID: name, LoadState: "not-found", ActiveState: "inactive", CPUWeight: heal.Unset, MemoryHigh: heal.Unset}, nil
	}
	out := *u
	out.ID = u.Name
	return out, nil
}

// ResetFailed implements heal.Systemd.
func (f *Systemd) ResetFailed(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log("ResetFailedUnit %s", name)
	if u := f.Units[name]; u != nil && u.ActiveState == "failed" {
		u.ActiveState = "inactive"
	}
	return nil
}

// SetOnRestart replaces OnRestart while the fake is in use.
func (f *Systemd) SetOnRestart(hook func(unit string)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.OnRestart = hook
}

// SetRefused makes Restart refuse unit while the fake is in use, as
// systemd does when a stop job is queued for it (StopQueued) or for a
// unit it Requires= (NeedStopping); false, false lets restarts through.
func (f *Systemd) SetRefused(unit string, stopQueued, needStopping bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.StopQueued == nil {
		f.StopQueued = map[string]bool{}
	}
	if f.NeedStopping == nil {
		f.NeedStopping = map[string]bool{}
	}
	f.StopQueued[unit], f.NeedStopping[unit] = stopQueued, needStopping
}

// SetJobResult sets a unit's job result while the fake is in use.
func (f *Systemd) SetJobResult(unit, result string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.JobResult[unit] = result
}

// Restart implements heal.Systemd.
func (f *Systemd) Restart(ctx context.Context, name string, ch chan<- string) error {
	f.mu.Lock()
	hook := f.OnRestart
	f.mu.Unlock()
	if hook != nil {
		hook(name)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log("RestartUnit %s fail", name)
	if f.StopQueued[name] {
		return fmt.Errorf("%w: transaction for %s/restart is destructive", heal.ErrStopQueued, name)
	}
	if f.NeedStopping[name] {
		return fmt.Errorf("%w: transaction for %s/restart is destructive", heal.ErrNeedStopping, name)
	}
	u := f.Units[name]
	if u.ActiveState == "failed" && u.Result == "start-limit-hit" {
		return errors.New("start request repeated too quickly")
	}
	res := f.JobResult[name]
	if res == "" {
		res = "done"
	}
	state := f.AfterRestart[name]
	if state == "" {
		state = "active"
	}
	if res != "done" && res != heal.JobUnknown {
		state = "failed"
	}
	u.ActiveState = state
	ch <- res
	return nil
}

// Reload implements heal.Systemd: systemd refuses a unit that cannot
// reload, as the real one does ("Job type reload is not applicable").
func (f *Systemd) Reload(ctx context.Context, name string, ch chan<- string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log("ReloadUnit %s fail", name)
	if u := f.Units[name]; u == nil || !u.CanReload {
		return errors.New("job type reload is not applicable for unit " + name)
	}
	res := f.JobResult[name]
	if res == "" {
		res = "done"
	}
	ch <- res
	return nil
}

// Start implements heal.Systemd.
func (f *Systemd) Start(ctx context.Context, name string, ch chan<- string) error {
	f.mu.Lock()
	f.log("StartUnit %s fail", name)
	hook := f.OnStart
	res := f.JobResult[name]
	if u := f.Units[name]; u != nil {
		// Every start is a new invocation, as in systemd.
		f.invocations++
		u.InvocationID = fmt.Sprintf("%032x", f.invocations)
	}
	f.mu.Unlock()
	if hook != nil {
		hook(name)
	}
	if res == "" {
		res = "done"
	}
	ch <- res
	return nil
}

// SetProperties implements heal.Systemd.
func (f *Systemd) SetProperties(ctx context.Context, name string, props ...heal.Property) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.Units[name]
	for _, p := range props {
		f.log("SetUnitProperties %s runtime %s=%v", name, p.Name, p.Value)
		switch p.Name {
		case "CPUWeight":
			u.CPUWeight = p.Value.(uint64)
		case "MemoryHigh":
			u.MemoryHigh = p.Value.(uint64)
		}
	}
	return nil
}

// Services implements heal.Systemd.
func (f *Systemd) Services(ctx context.Context) ([]heal.Usage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := slices.Clone(f.Usage)
	for i := range f.Usage {
		f.Usage[i].CPUUsageNSec += f.CPURate[f.Usage[i].Unit]
	}
	return out, nil
}

// Machine implements heal.Systemd.
func (f *Systemd) Machine(ctx context.Context) (heal.Machine, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Down {
		return heal.Machine{}, errors.New("connection closed")
	}
	out := f.Host
	out.Groups = slices.Clone(f.Host.Groups)
	for i := range f.Host.Groups {
		f.Host.Groups[i].CPUUsageNSec += f.CPURate[f.Host.Groups[i].Unit]
	}
	if f.Host.CPUBusyNSec != heal.Unset {
		f.Host.CPUBusyNSec += f.BusyRate
	}
	return out, nil
}
