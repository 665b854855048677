// Package heal owns the three generic healing actions — restart, cleanup and
// throttle — and the safety around them: the issue-kind → action table, the
// per-issue breaker with exponential backoff, the global action limit, the
// protected units, the one-action-per-target rule and dry-run.
//
// Every action goes through systemd's D-Bus API, reached through the small
// Systemd interface declared here and implemented by internal/systemd. Each
// action lives in its own file and registers itself in the actions table
// from init. heal imports only the shared leaf packages; the engine drives it.
package heal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/issue"
)

// JobUnknown is the job result sent when a job ended unseen: the unit's
// state, not the job, tells how it went.
const JobUnknown = "unknown"

// Systemd is what the actions need from systemd's manager.
type Systemd interface {
	// Unit returns the unit's current state and the properties the
	// actions read.
	Unit(ctx context.Context, name string) (UnitStatus, error)
	// ResetFailed calls Manager.ResetFailedUnit.
	ResetFailed(ctx context.Context, name string) error
	// Restart calls Manager.RestartUnit(name, "fail"); Start calls
	// Manager.StartUnit(name, "fail"): a stop job queued for the unit wins,
	// and the call returns ErrStopQueued; one queued only for a unit it
	// Requires= returns ErrNeedStopping. When the job finishes its result
	// ("done", "failed", "timeout", …) is sent on ch, which must be
	// buffered: the sender does not wait for a reader. JobUnknown is sent
	// when the job ended but its result cannot be known (its signal was
	// lost with the bus, or systemd restarted and forgot it).
	Restart(ctx context.Context, name string, ch chan<- string) error
	Start(ctx context.Context, name string, ch chan<- string) error
	// Reload calls Manager.ReloadUnit(name, "fail"), its job's result
	// sent on ch as Restart's.
	Reload(ctx context.Context, name string, ch chan<- string) error
	// SetProperties calls Manager.SetUnitProperties(name, runtime=true, props).
	SetProperties(ctx context.Context, name string, props ...Property) error
	// Services lists the loaded, active services with their cgroup
	// accounting, reading the unit's cgroup where systemd's accounting is off.
	Services(ctx context.Context) ([]Usage, error)
	// Machine reads the machine's total use and the cgroups outside system
	// services that carry load, so throttle can tell whose load it is.
	Machine(ctx context.Context) (Machine, error)
}

// Machine is the whole machine's use, which throttle measures a service's
// share against, and the cgroups that can hold load without being a
// system service: each user-UID.slice, init.scope, machine.slice, scopes.
// What no cgroup accounts for is the kernel's, or (in a container) other
// machines'.
type Machine struct {
	CPUBusyNSec uint64 // cumulative busy CPU time of all CPUs; Unset when unknown
	MemoryUsed  uint64 // bytes in use (MemTotal − MemAvailable); Unset when unknown
	Groups      []Usage
}

// UnitStatus is the part of a unit's state the actions and engine read.
type UnitStatus struct {
	Name string
	// ID is systemd's Id property: the unit's canonical name, which an
	// alias (a symlinked unit file, dbus-org.freedesktop.login1.service)
	// resolves to. "" when unknown.
	ID            string
	LoadState     string // loaded, not-found, masked, …
	ActiveState   string // active, failed, inactive, activating, …
	SubState      string // running, dead, auto-restart, …
	Result        string // service Result: success, exit-code, signal, start-limit-hit, …
	Restart       string // service Restart= setting: no, on-failure, always, …
	UnitFileState string // enabled, disabled, static, …
	CanReload     bool   // the unit has a reload (ExecReload=)
	// NRestarts is how often systemd restarted a service by itself
	// (Restart=) since it was last started by a job; HasNRestarts says
	// whether the unit has the counter (services only).
	NRestarts     uint32
	HasNRestarts  bool
	CPUWeight     uint64 // Unset when the unit has no CPUWeight
	MemoryHigh    uint64 // Unset (infinity) when the unit has no MemoryHigh
	MemoryCurrent uint64 // Unset when unknown
	CPUUsageNSec  uint64 // Unset when unknown
	// InvocationID is the unit's current run (hex), and RuntimeDirectory
	// its RuntimeDirectory= names under /run: a cleanup unit leaves its
	// result file there (docs/cleanup.md). The failed run's InvocationID
	// also finds the journal lines that tell why it failed.
	InvocationID     string
	RuntimeDirectory []string
	// What systemd knows of the last run, for the issue's cause.
	ExecMainCode   int32 // 1 exited, 2 killed, 3 dumped core; 0 unknown
	ExecMainStatus int32 // the exit status, or the signal number
}

// Unset is systemd's "[not set]" / infinity for the 64-bit properties.
const Unset = ^uint64(0)

// Usage is one service's resource use from cgroup accounting.
type Usage struct {
	Unit          string
	CPUUsageNSec  uint64 // cumulative; Unset when unknown
	MemoryCurrent uint64 // bytes; Unset when unknown
}

// Property is one unit property to set, e.g. {"CPUWeight", uint64(20)}.
type Property struct {
	Name  string
	Value any
}

// Outcome is how an action ended.
type Outcome string

const (
	Succeeded Outcome = "succeeded"
	Failed    Outcome = "failed"
	Planned   Outcome = "planned" // dry-run: recorded, not executed
	Refused   Outcome = "refused" // a safety rule stopped it before it ran
)

// Request asks for one action.
type Request struct {
	Action issue.Action
	// Target is the unit for restart, throttle and release; empty for
	// cleanup and for an automatic throttle, which picks the top consumer.
	Target string
	// Issue is what is being healed; zero for an operator's direct call.
	Issue issue.Record
	// Operator is true for calls a person made over D-Bus: they bypass the
	// breaker's backoff (a person asked for it now) but not dry-run, the
	// protected list or the one-action-per-target rule.
	Operator bool
	// Turn, when set, is called just before the action takes its place at
	// the one-action-per-target rule and the global limit, and what it
	// returns once it has (or the action ended before): the engine uses it
	// to let the actions it launched together through in the order it
	// launched them (critical first), though each runs in a goroutine.
	Turn func() (done func())
	// Unit is the restart target's state as the caller read it from
	// systemd just before asking (the engine's read-back of the unit's
	// event): the plan takes it instead of reading the unit again, a full
	// read being two GetAll round trips on the way to the restart. Nil:
	// the plan reads.
	Unit *UnitStatus
}

// Result is what an action did. It is recorded in the history and returned
// to D-Bus callers.
type Result struct {
	Action     issue.Action
	Target     string
	IssueID    string
	Outcome    Outcome
	Message    string // one human line
	Started    time.Time
	Duration   time.Duration
	DryRun     bool
	FreedBytes uint64 // cleanup: the sum of FreedByMount
	// FreedByMount is what cleanup freed per mount point.
	FreedByMount map[string]uint64
	Units        []string          // cleanup: the units started; throttle: the unit chosen
	Applied      map[string]uint64 // throttle/release: the properties as systemd reports them afterwards
	// Escalated is set when throttle restarted a monitored unit instead
	// (a critical memory issue whose top consumer is monitored).
	Escalated bool
	// RetryIn is how long the breaker holds the next attempt back, for
	// refusals by backoff and for failures.
	RetryIn time.Duration
	// Err says why it was refused or failed; it wraps one of the Err*
	// reasons of this package. Nil on success and for planned actions.
	Err error
}

// OK reports whether the action ran and worked.
func (r Result) OK() bool { return r.Outcome == Succeeded }

// ErrUnavailable is returned by actions when systemd cannot be reached.
var ErrUnavailable = errors.New("systemd is not available")

func (r *Result) fail(format string, args ...any) Result {
	r.Outcome = Failed
	r.Message = fmt.Sprintf(format, args...)
	return *r
}

func (r *Result) succeed(format string, args ...any) Result {
	r.Outcome = Succeeded
	r.Message = fmt.Sprintf(format, args...)
	return *r
}

// waitJob waits for a job result on ch, bounded by ctx.
func waitJob(ctx context.Context, ch <-chan string) (string, error) {
	select {
	case res := <-ch:
		return res, nil
	case <-ctx.Done():
		return "", fmt.Errorf("waiting for systemd's job: %w", ctx.Err())
	}
}
