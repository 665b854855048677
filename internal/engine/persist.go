package engine

import (
	"errors"
	"os"
	"slices"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/issue"
)

// overrides are the settings changed at run time over D-Bus. They are kept
// in the state directory so that a crash or restart does not, say, re-enable
// healing an operator switched off; Reload drops them: the file is the truth
// again.
type overrides struct {
	DryRun         *bool                  `json:",omitempty"`
	HealingEnabled *bool                  `json:",omitempty"`
	Thresholds     map[issue.Kind]float64 `json:",omitempty"`
}

// runtimeState is what the engine persists besides the history (audit) and
// the series (predict).
type runtimeState struct {
	Overrides overrides
	Throttles []heal.Throttled
	Breakers  []heal.BreakerRecord
	// Stopped are monitored units an operator stopped: they stay stopped
	// across a daemon restart until they are started again.
	Stopped []string `json:",omitempty"`
	// StoppedAt is when each of them was stopped, for the record.
	StoppedAt map[string]time.Time `json:",omitempty"`
}

const stateFile = "state.json"

// restore loads the persisted state. A corrupt file is reported and
// replaced; the daemon starts fresh rather than not at all.
func (e *Engine) restore() {
	if e.o.State == nil {
		return
	}
	var rs runtimeState
	err := e.o.State.Load(stateFile, &rs)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return
	case err != nil:
		e.log.Warn("saved state could not be read; starting fresh", "err", err)
		return
	}
	e.over = rs.Overrides
	for _, u := range rs.Stopped {
		e.units[u] = &unitState{stopRequested: true, stoppedAt: rs.StoppedAt[u]}
	}
	e.heal.RestoreThrottles(rs.Throttles)
	e.heal.ImportBreakers(rs.Breakers)
}

// saveLocked persists the state; the caller holds e.mu.
func (e *Engine) saveLocked() {
	if e.o.State == nil {
		return
	}
	rs := runtimeState{Overrides: e.over, Throttles: e.heal.Throttles(), Breakers: e.heal.ExportBreakers()}
	for name, u := range e.units {
		if u.stopRequested {
			rs.Stopped = append(rs.Stopped, name)
			if !u.stoppedAt.IsZero() {
				if rs.StoppedAt == nil {
					rs.StoppedAt = map[string]time.Time{}
				}
				rs.StoppedAt[name] = u.stoppedAt
			}
		}
	}
	slices.Sort(rs.Stopped)
	if err := e.o.State.Save(stateFile, rs); err != nil {
		e.log.Warn("could not save state", "err", err)
	}
}

func (e *Engine) save() {
	e.mu.Lock()
	e.saveLocked()
	e.mu.Unlock()
	if e.o.Predictor != nil {
		if err := e.o.Predictor.Save(); err != nil {
			e.log.Warn("could not save the series history", "err", err)
		}
	}
	if err := e.o.Audit.Flush(); err != nil {
		e.log.Warn("could not save the history", "err", err)
	}
}
