package engine

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/issue"
)

// Journal reads a unit's last journal lines (systemd.Journal): at most a
// few, each one line, cleaned of control characters.
type Journal interface {
	Tail(ctx context.Context, unit, invocation string) ([]string, error)
}

// unitCause is what systemd says of a failed unit's last run, one line:
// "exit-code: exited with status 1, restarted 2 times by systemd". Empty
// when systemd says nothing beyond "failed".
func unitCause(u heal.UnitStatus) string {
	if u.ActiveState != "failed" {
		return ""
	}
	var parts []string
	switch u.ExecMainCode {
	case 1: // CLD_EXITED
		parts = append(parts, fmt.Sprintf("exited with status %d", u.ExecMainStatus))
	case 2, 3: // CLD_KILLED, CLD_DUMPED
		name := unix.SignalName(syscall.Signal(u.ExecMainStatus))
		if name == "" {
			name = "signal " + strconv.Itoa(int(u.ExecMainStatus))
		}
		s := "killed by " + name
		if u.ExecMainCode == 3 {
			s += " (core dumped)"
		}
		parts = append(parts, s)
	}
	if u.NRestarts > 0 {
		parts = append(parts, fmt.Sprintf("restarted %d times by systemd", u.NRestarts))
	}
	cause := strings.Join(parts, ", ")
	if u.Result != "" && u.Result != "success" {
		if cause == "" {
			return u.Result
		}
		return u.Result + ": " + cause
	}
	return cause
}

// causeRead is a journal read to add to an issue's cause.
type causeRead struct {
	id, unit, invocation, cause string
	since                       time.Time
}

// causeReadLocked plans reading the unit's last journal lines for its
// issue, at most one read per unit at a time.
func (e *Engine) causeReadLocked(rec *issue.Record, st *unitState, u heal.UnitStatus, cause string) *causeRead {
	if e.o.Journal == nil || u.ActiveState != "failed" || st.readingCause {
		return nil
	}
	st.readingCause = true
	return &causeRead{id: rec.ID, unit: u.Name, invocation: u.InvocationID, cause: cause, since: rec.Since}
}

// readCause reads the journal outside every lock — the restart does not
// wait for it — and adds the lines to the issue's cause if the issue is
// still the one it was read for.
func (e *Engine) readCause(r causeRead) {
	e.mu.Lock()
	ctx := e.ctx
	e.mu.Unlock()
	if ctx == nil {
		ctx = context.Background()
	}
	lines, err := e.o.Journal.Tail(ctx, r.unit, r.invocation)
	if err != nil {
		e.log.Debug("could not read a failed unit's journal", "unit", r.unit, "err", err)
	}
	var pub []Event
	e.mu.Lock()
	if st := e.units[r.unit]; st != nil {
		st.readingCause = false
	}
	rec := e.issues[r.id]
	if len(lines) > 0 && rec != nil && rec.Since.Equal(r.since) {
		rec.Cause = withLines(r.cause, lines)
		pub = append(pub, e.changedLocked(rec))
	}
	e.publish(pub...) // under e.mu, in the order decided (publishStatus)
	e.mu.Unlock()
	if len(pub) > 0 {
		e.publishStatus()
	}
}

// withLines appends a unit's last journal lines to its cause.
func withLines(cause string, lines []string) string {
	s := "last log lines: " + strings.Join(lines, " | ")
	if cause == "" {
		return s
	}
	return cause + "; " + s
}
