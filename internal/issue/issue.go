// Package issue defines the issue record and the small vocabulary shared by
// detection, healing, the engine and every transport (D-Bus, HTTP, metrics).
//
// It is a leaf: it imports nothing from this module, and anything may import it.
package issue

import (
	"fmt"
	"slices"
	"time"
)

// Kind is what an issue is about. The values are part of the product
// contract: they appear in issue ids, D-Bus records, config keys and metrics.
type Kind string

const (
	CPU      Kind = "cpu"
	Memory   Kind = "memory"
	Disk     Kind = "disk"
	Load     Kind = "load"
	Pressure Kind = "pressure"
	Unit     Kind = "unit"
	// Probe: a monitored unit is active but its health probe fails
	// (internal/probe); the subject is the unit.
	Probe Kind = "probe"
)

// Kinds lists every kind, in the order they are shown to people.
var Kinds = []Kind{CPU, Memory, Disk, Load, Pressure, Unit, Probe}

// ParseKind accepts a kind's exact name.
func ParseKind(s string) (Kind, error) {
	return parseName(s, Kinds, "issue kind", "one of cpu, memory, disk, load, pressure, unit, probe")
}

// parseName finds s in a list of names, or says what it is not and which
// names it wants (in the order people read, which is not always the list's).
func parseName[T ~string](s string, names []T, what, want string) (T, error) {
	if i := slices.Index(names, T(s)); i >= 0 {
		return names[i], nil
	}
	return "", fmt.Errorf("unknown %s %q (want %s)", what, s, want)
}

// Severity orders how bad an issue is. The zero value is OK.
type Severity int

const (
	OK Severity = iota
	Warning
	Critical
)

func (s Severity) String() string {
	switch s {
	case Warning:
		return "warning"
	case Critical:
		return "critical"
	default:
		return "ok"
	}
}

// ParseSeverity is the inverse of Severity.String.
func ParseSeverity(s string) (Severity, error) {
	switch s {
	case "ok":
		return OK, nil
	case "warning":
		return Warning, nil
	case "critical":
		return Critical, nil
	}
	return OK, fmt.Errorf("unknown severity %q (want ok, warning or critical)", s)
}

// Action is one of the three generic healing actions, or None.
type Action string

const (
	None     Action = "none"
	Restart  Action = "restart"
	Cleanup  Action = "cleanup"
	Throttle Action = "throttle"
)

// Reload asks a unit to reload (systemd's ReloadUnit): what a health
// probe may ask for instead of a restart, for a unit that supports it
// (CanReload). It is not in Actions: [actions] and callers cannot name it.
const Reload Action = "reload"

// Actions lists the actions a config file or caller may name.
var Actions = []Action{None, Restart, Cleanup, Throttle}

// ParseAction accepts an action's exact name.
func ParseAction(s string) (Action, error) {
	return parseName(s, Actions, "action", "restart, cleanup, throttle or none")
}

// State is where an issue stands in the healing pipeline.
type State string

const (
	// Open: detected, nothing done yet.
	Open State = "open"
	// Healing: an action is running for it.
	Healing State = "healing"
	// Planned: dry-run recorded the action instead of running it.
	Planned State = "planned"
	// Waiting: the last action did not help; the breaker holds the next
	// attempt back until its backoff has passed.
	Waiting State = "waiting"
	// Healed: the action succeeded; the issue is kept until the signal
	// clears so a relapse is seen as the same issue.
	Healed State = "healed"
	// Failed: the last action failed; it will be retried after backoff.
	Failed State = "failed"
	// GivenUp: the breaker is open; only an operator reset or the target
	// recovering by itself re-arms it.
	GivenUp State = "given-up"
	// Watching: no action applies (the table maps the kind to none,
	// healing is disabled, or the target is protected).
	Watching State = "watching"
	// Silenced: detected, but a silence or maintenance window pauses its
	// healing; it heals once the silence ends, if it is still there.
	Silenced State = "silenced"
	// Resolved: the signal cleared. Only ever seen in IssueResolved and history.
	Resolved State = "resolved"
)

// Record is an issue as the daemon reports it. Ids are stable: "cpu",
// "memory", "load", "disk:/nix", "inodes:/nix", "pressure:io",
// "unit:nginx.service".
type Record struct {
	ID        string
	Kind      Kind
	Subject   string // the mount, unit or pressure resource; the kind for cpu, memory, load
	Severity  Severity
	Value     float64 // percent, except load average; 0 for units
	Threshold float64
	Since     time.Time
	Action    Action // the action planned for it
	State     State
	Message   string // one human line: what is wrong
	Synthetic bool   // injected through InjectIssue
	Attempts  int    // healing attempts on this target within the breaker window
	// Silence is the id of the silence or maintenance window that covers
	// the issue, "" when none does; SilenceEffect is its effect (pause or
	// notify-only). A silenced issue is detected, recorded and exported as
	// any other; only its automatic healing waits.
	Silence       string
	SilenceEffect string
	// Cause says why, as far as the daemon knows: for a unit, what systemd
	// reports of its failure and its last journal lines; for CPU or memory
	// that no service causes, where the load is. Empty when unknown.
	Cause string
}

// ID builds an issue id from a kind and a subject, the one place the id
// format is decided.
func ID(kind Kind, subject string) string {
	switch kind {
	case CPU, Memory, Load:
		return string(kind)
	}
	return string(kind) + ":" + subject
}

// InodesID is the id of a mount's inode issue; it has kind Disk.
func InodesID(mount string) string { return "inodes:" + mount }
