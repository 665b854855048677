package engine

import (
	"context"
	"errors"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/unit"
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

// load reads a state file into v and reports whether there is anything to
// restore: not without a state directory, not before the first save, and
// not from a file that cannot be read, which is said once as unreadable
// (a constant log message) because the daemon starts without it rather
// than not at all.
func (e *Engine) load(file string, v any, unreadable string) bool {
	if e.o.State == nil {
		return false
	}
	err := e.o.State.Load(file, v)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return false
	case err != nil:
		e.log.Warn(unreadable, "err", err)
		return false
	}
	return true
}

// restore loads the persisted state. A corrupt file is reported and
// replaced; the daemon starts fresh rather than not at all.
func (e *Engine) restore() {
	var rs runtimeState
	if !e.load(stateFile, &rs, "saved state could not be read; starting fresh") {
		return
	}
	e.over = rs.Overrides
	// What comes back from disk passes the checks a live call does: a
	// hand-edited or damaged file must not set memory = 1e9.
	for k, v := range e.over.Thresholds {
		if _, err := thresholdKind(string(k)); err != nil {
			e.log.Warn("saved state: dropping a threshold override", "kind", string(k), "err", err)
			delete(e.over.Thresholds, k)
		} else if err := checkThreshold(k, v); err != nil {
			e.log.Warn("saved state: dropping a threshold override", "kind", string(k), "value", v, "err", err)
			delete(e.over.Thresholds, k)
		}
	}
	rs.Stopped = slices.DeleteFunc(rs.Stopped, func(u string) bool { return !unit.IsValid(u) })
	for _, u := range rs.Stopped {
		e.units[u] = &unitState{stopRequested: true, stoppedAt: rs.StoppedAt[u]}
		e.names = nil
	}
	barred, refused := e.heal.RestoreThrottles(rs.Throttles)
	for _, err := range slices.Concat(refused, e.heal.ImportBreakers(rs.Breakers)) {
		e.log.Warn("saved state: dropping a record that cannot be restored; the rest is kept", "err", err)
	}
	for _, b := range barred {
		e.log.Warn("saved state: a throttle the policy no longer allows is released at start, putting back the unit's previous values",
			"unit", b.Unit, "reason", b.Why)
		e.releaseAtStart = append(e.releaseAtStart, b.Unit)
	}
}

// stateChanged tells the writer that the persisted state may have changed.
// It never touches the disk and never blocks, so it is called with e.mu
// held, from the check path and unit events alike: the writer takes its
// snapshot later, under the lock for only as long as copying takes, and
// writes outside it — and only when the bytes changed.
func (e *Engine) stateChanged() {
	if e.w != nil {
		e.w.Changed(stateFile)
	}
}

// snapshotState is the persisted state's content, for the writer. It owns
// no memory the engine changes afterwards.
func (e *Engine) snapshotState() any {
	e.mu.Lock()
	defer e.mu.Unlock()
	rs := runtimeState{Overrides: e.over, Throttles: e.heal.Throttles(), Breakers: e.heal.ExportBreakers()}
	if e.over.Thresholds != nil {
		rs.Overrides.Thresholds = maps.Clone(e.over.Thresholds)
	}
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
	return rs
}

// stateEvery is the least time between two writes of state.json: a burst
// of changes (fifty units failing at once) makes one write, not fifty.
const stateEvery = 200 * time.Millisecond

// stopWrite bounds how long a stop waits for the last write: a disk that
// does not answer must not keep systemd's stop job past TimeoutStopSec.
// Every file is written atomically, so a write cut short leaves the
// previous file whole.
const stopWrite = 2 * time.Second

// runWriter runs the writer until stop is closed, then gives it stopWrite
// to write what is still due; done is closed when it has.
func (e *Engine) runWriter(ctx context.Context) (stop func()) {
	if e.w == nil {
		return func() {}
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.w.Run(wctx)
	}()
	return func() {
		cancel()
		t := time.NewTimer(stopWrite)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			e.log.Warn("state not saved at stop: the state directory did not answer; the files on disk are the last ones written whole",
				"waited", stopWrite)
		}
	}
}
