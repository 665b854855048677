package heal

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// fakeSystemd is a hand-written stand-in for systemd's manager: units with
// states, and a log of every call. Real systemd is exercised by the
// end-to-end suite (internal/e2e); here the rules around the calls are tested.
type fakeSystemd struct {
	mu    sync.Mutex
	units map[string]*UnitStatus
	calls []string
	// jobResult overrides a unit's restart/start job result ("failed", …).
	jobResult map[string]string
	// afterRestart is the ActiveState a unit lands in after a restart job;
	// "active" by default.
	afterRestart map[string]string
	// usage feeds Services; each call advances CPU by cpuRate per unit.
	usage   []Usage
	cpuRate map[string]uint64
	// hook runs inside Start, e.g. to free disk space.
	onStart func(unit string)
	down    bool
}

func newFake(units ...UnitStatus) *fakeSystemd {
	f := &fakeSystemd{units: map[string]*UnitStatus{}, jobResult: map[string]string{}, afterRestart: map[string]string{}, cpuRate: map[string]uint64{}}
	for _, u := range units {
		u := u
		if u.LoadState == "" {
			u.LoadState = "loaded"
		}
		if u.CPUWeight == 0 {
			u.CPUWeight = Unset
		}
		if u.MemoryHigh == 0 {
			u.MemoryHigh = Unset
		}
		f.units[u.Name] = &u
	}
	return f
}

func (f *fakeSystemd) log(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeSystemd) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeSystemd) Unit(ctx context.Context, name string) (UnitStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return UnitStatus{}, errors.New("connection closed")
	}
	u, ok := f.units[name]
	if !ok {
		return UnitStatus{Name: name, LoadState: "not-found", ActiveState: "inactive", CPUWeight: Unset, MemoryHigh: Unset}, nil
	}
	return *u, nil
}

func (f *fakeSystemd) ResetFailed(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log("ResetFailedUnit %s", name)
	if u := f.units[name]; u != nil && u.ActiveState == "failed" {
		u.ActiveState = "inactive"
	}
	return nil
}

func (f *fakeSystemd) Restart(ctx context.Context, name string, ch chan<- string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log("RestartUnit %s replace", name)
	u := f.units[name]
	if u.ActiveState == "failed" && u.Result == "start-limit-hit" {
		return errors.New("start request repeated too quickly")
	}
	res := f.jobResult[name]
	if res == "" {
		res = "done"
	}
	state := f.afterRestart[name]
	if state == "" {
		state = "active"
	}
	if res != "done" {
		state = "failed"
	}
	u.ActiveState = state
	ch <- res
	return nil
}

func (f *fakeSystemd) Start(ctx context.Context, name string, ch chan<- string) error {
	f.mu.Lock()
	f.log("StartUnit %s replace", name)
	hook := f.onStart
	res := f.jobResult[name]
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

func (f *fakeSystemd) SetProperties(ctx context.Context, name string, props ...Property) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.units[name]
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

func (f *fakeSystemd) Services(ctx context.Context) ([]Usage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := slices.Clone(f.usage)
	for i := range f.usage {
		f.usage[i].CPUUsageNSec += f.cpuRate[f.usage[i].Unit]
	}
	return out, nil
}
