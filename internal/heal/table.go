package heal

import (
	"maps"

	"github.com/luminous-healing/luminous-healing/internal/issue"
)

// defaultTable maps each issue kind to the action that heals it. config's
// [actions] section overrides entries.
var defaultTable = map[issue.Kind]issue.Action{
	issue.CPU:      issue.Throttle,
	issue.Memory:   issue.Throttle,
	issue.Disk:     issue.Cleanup,
	issue.Load:     issue.None, // a high load has many causes; watch it, act on cpu and pressure
	issue.Pressure: issue.Throttle,
	issue.Unit:     issue.Restart,
	issue.Probe:    issue.Restart, // a unit that no longer answers; per probe: action
}

// Table is the issue-kind → action mapping in force.
type Table map[issue.Kind]issue.Action

// NewTable returns the default table with overrides applied.
func NewTable(overrides map[issue.Kind]issue.Action) Table {
	t := maps.Clone(defaultTable)
	maps.Copy(t, overrides)
	return t
}

// For returns the action for an issue. Pressure on io has no generic
// action: throttling CPU or memory does not relieve a disk.
func (t Table) For(rec issue.Record) issue.Action {
	a, ok := t[rec.Kind]
	if !ok {
		return issue.None
	}
	if a == issue.Throttle && rec.Kind == issue.Pressure && rec.Subject == "io" {
		return issue.None
	}
	return a
}
