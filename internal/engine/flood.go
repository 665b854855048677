package engine

import (
	"fmt"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/heal"
)

// A unit that systemd restarts a hundred times a second (Restart=always,
// RestartSec=10ms) must not flood the journal or push every other record
// out of the history. In each restartWindow the first restartBurst
// restarts systemd did by itself are recorded one by one; the rest are
// counted and said in one record when the window has ended, at the next
// look at the unit (the safety net's sweep reads a unit with such a record
// due, running or not). The metric counts every restart.
const (
	restartBurst  = 3
	restartWindow = time.Minute
)

// restartSpell is one unit's restarts-by-systemd records in the current
// window.
type restartSpell struct {
	start    time.Time // when the window began; zero: none open
	recorded int       // records written in it
	counted  int       // restarts counted and not yet said
	last     uint32    // NRestarts at the last one counted
}

// recordRestartsLocked writes the records for restarts restarts that
// systemd did by itself to u, as seen at now, within the bound.
func (e *Engine) recordRestartsLocked(st *unitState, u heal.UnitStatus, id string, restarts int, now time.Time) {
	sp := &st.spell
	if !sp.start.IsZero() && now.Sub(sp.start) >= restartWindow {
		if sp.counted > 0 {
			e.o.Audit.Record(audit.Entry{Event: audit.RestartedBySystemd, Target: u.Name, Issue: id, Outcome: "restarted",
				CallerUID: audit.Daemon, Message: fmt.Sprintf("%s restarted %d more times by systemd itself since %s (Restart=%s, NRestarts=%d), not recorded one by one; the daemon did not act",
					u.Name, sp.counted, sp.start.Format(time.TimeOnly), orUnknown(u.Restart), int(sp.last))})
		}
		*sp = restartSpell{}
	}
	for i := range min(restarts, maxRestartRecords) {
		n := int(u.NRestarts) - restarts + 1 + i
		if sp.start.IsZero() {
			sp.start = now
		}
		if sp.recorded >= restartBurst {
			sp.counted += restarts - i
			sp.last = u.NRestarts
			return
		}
		sp.recorded++
		e.o.Audit.Record(audit.Entry{Event: audit.RestartedBySystemd, Target: u.Name, Issue: id, Outcome: "restarted",
			CallerUID: audit.Daemon, Message: fmt.Sprintf("%s restarted by systemd itself (Restart=%s, NRestarts=%d); the daemon did not act",
				u.Name, orUnknown(u.Restart), n)})
	}
}
