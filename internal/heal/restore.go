package heal

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/unit"
)

// What comes back from the state directory passes the rules a live action
// keeps: a damaged or hand-edited state.json must not, say, make the daemon
// "release" a throttle on system.slice by setting its MemoryHigh to a
// kilobyte, nor hold healing of a unit off for a year.

// restoreSkew is how far in the future a restored time may be: the clock
// may have been set back a little since it was saved.
const restoreSkew = 10 * time.Minute

// maxWeight is systemd's highest CPUWeight.
const maxWeight = 10000

// maxRestoredIssues bounds the issues one restored throttle may name.
const maxRestoredIssues = 32

// restoreEach puts into m each record that passes check (at one time, now)
// and is the first for its key (check gives both); each one refused is an
// error that says which (what names the kind of record) and why.
func restoreEach[R, V any](m map[string]*V, rs []R, what string, check func(r R, now time.Time) (string, error), keep func(R) *V) []error {
	now := time.Now()
	var refused []error
	for _, r := range rs {
		key, err := check(r, now)
		if err == nil && m[key] != nil {
			err = fmt.Errorf("a second %s for %s", what, key)
		}
		if err != nil {
			refused = append(refused, fmt.Errorf("%s of %s: %w", what, unit.Quote(key), err))
			continue
		}
		m[key] = keep(r)
	}
	return refused
}

// checkThrottle reports why t must not be restored, or nil. The healer's
// lock is held. It judges the record's form alone: one on a unit the
// policy now keeps from throttles (throttleBarred) is still restored, to
// be released (RestoreThrottles).
func (h *Healer) checkThrottle(t Throttled, now time.Time) error {
	switch {
	case !unit.IsValid(t.Unit):
		return fmt.Errorf("%s is not a unit name", unit.Quote(t.Unit))
	case t.CPUWeight == 0 && t.MemoryHigh == 0:
		return fmt.Errorf("it throttles nothing")
	case t.CPUWeight > maxWeight, t.PrevCPUWeight != Unset && (t.PrevCPUWeight < 1 || t.PrevCPUWeight > maxWeight):
		return fmt.Errorf("CPU weight %d (before: %d) is outside systemd's 1..%d", t.CPUWeight, t.PrevCPUWeight, maxWeight)
	case t.MemoryHigh != 0 && t.MemoryHigh < minMemoryHigh, t.PrevMemoryHigh != Unset && t.PrevMemoryHigh < minMemoryHigh:
		return fmt.Errorf("MemoryHigh %d (before: %d) is below the %d a throttle keeps", t.MemoryHigh, t.PrevMemoryHigh, uint64(minMemoryHigh))
	case t.Since.IsZero() || t.Since.After(now.Add(restoreSkew)):
		return fmt.Errorf("its start %s is not a time it can have started", t.Since.Format(time.RFC3339))
	case len(t.Issues) > maxRestoredIssues:
		return fmt.Errorf("it names %d issues, more than %d", len(t.Issues), maxRestoredIssues)
	}
	for _, id := range t.Issues {
		if err := checkIssueID(id); err != nil {
			return err
		}
	}
	return nil
}

// throttleBarred reports why the policy never throttles name, or nil: a
// slice or scope, the daemon itself, a protected unit. The healer's lock
// is held.
func (h *Healer) throttleBarred(name string) error {
	switch {
	case isGroup(name):
		return fmt.Errorf("%s is a slice or a scope, never throttled", name)
	case name == h.s.Self:
		return fmt.Errorf("%s is the daemon itself", name)
	case slices.Contains(h.s.Protected, name):
		return fmt.Errorf("%s is protected and is never throttled", name)
	}
	return nil
}

// checkBreaker reports why r must not be restored, or nil. The healer's
// lock is held.
func (h *Healer) checkBreaker(r BreakerRecord, now time.Time) error {
	p := h.s.Breaker
	if err := checkIssueID(r.IssueID); err != nil {
		return err
	}
	if n := len(r.Failures); n > max(p.MaxAttempts, 1) {
		return fmt.Errorf("%d failures, more than the %d after which healing gives up", n, max(p.MaxAttempts, 1))
	}
	late := now.Add(restoreSkew)
	for _, f := range r.Failures {
		if f.IsZero() || f.After(late) {
			return fmt.Errorf("a failure at %s is not a time it can have happened", f.Format(time.RFC3339))
		}
	}
	if r.LastSuccess.After(late) {
		return fmt.Errorf("its last success at %s is in the future", r.LastSuccess.Format(time.RFC3339))
	}
	if r.Next.After(late.Add(max(p.BackoffMax, p.Backoff))) {
		return fmt.Errorf("its next attempt at %s is further off than the longest backoff (%s)", r.Next.Format(time.RFC3339), p.BackoffMax)
	}
	return nil
}

// checkIssueID reports why id cannot be an issue's id: empty, too long,
// with control characters, or a unit issue whose subject is no unit.
func checkIssueID(id string) error {
	switch {
	case id == "" || len(id) > 512:
		return fmt.Errorf("issue id %s is empty or too long", unit.Quote(id))
	case unit.HasControl(id):
		return fmt.Errorf("issue id %s has control characters", unit.Quote(id))
	}
	for _, prefix := range []string{"unit:", "probe:"} {
		if s, ok := strings.CutPrefix(id, prefix); ok && !unit.IsValid(s) {
			return fmt.Errorf("issue id %s does not name a unit", unit.Quote(id))
		}
	}
	return nil
}
