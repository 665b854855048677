package heal

import "time"

// BreakerPolicy shapes every breaker.
type BreakerPolicy struct {
	Backoff     time.Duration // wait after the first failed attempt; doubles
	BackoffMax  time.Duration
	MaxAttempts int           // failed attempts within Window before giving up
	Window      time.Duration // failures older than this are forgotten
	// Stable is how long a successful action must hold to count as a
	// success; zero means Window.
	Stable time.Duration
}

func (p BreakerPolicy) stable() time.Duration {
	if p.Stable <= 0 {
		return p.Window
	}
	return p.Stable
}

// Breaker guards automatic healing of one issue. An attempt counts as failed
// when the action fails, or when the issue comes back within the stability
// period after the action succeeded (a unit that crashes again right after
// its restart was not healed). Each failure pushes the next attempt out by
// an exponentially growing backoff; MaxAttempts failures within the window
// open the breaker for good: the issue is given up until an operator resets
// it or the target recovers by itself.
//
// A success that held for the stability period is confirmed: the failures
// before it are forgotten, and the next time the issue comes back it is a
// new incident, healed at once — as systemd's Restart=on-failure restarts a
// service that crashes now and then, forever. The engine still records
// every return and every action, so nothing is hidden.
type Breaker struct {
	failures    []time.Time
	lastSuccess time.Time
	next        time.Time
	givenUp     bool
}

// BreakerState is a breaker as reported over D-Bus and in metrics.
type BreakerState struct {
	IssueID     string
	Failures    int
	NextAttempt time.Time // zero when an attempt is allowed now
	GivenUp     bool
}

// Allow reports whether an automatic attempt may run at now, and if not,
// how long to wait (0 when given up).
func (b *Breaker) Allow(now time.Time) (ok bool, wait time.Duration) {
	if b.givenUp {
		return false, 0
	}
	if now.Before(b.next) {
		return false, b.next.Sub(now)
	}
	return true, 0
}

// Succeeded records an attempt that worked.
func (b *Breaker) Succeeded(now time.Time) {
	b.lastSuccess = now
}

// Failed records a failed attempt and returns true when this failure gave
// the issue up.
func (b *Breaker) Failed(p BreakerPolicy, now time.Time) (gaveUp bool) {
	b.prune(p, now)
	b.failures = append(b.failures, now)
	n := len(b.failures)
	if n >= p.MaxAttempts {
		b.givenUp = true
		return true
	}
	b.next = now.Add(backoff(p, n))
	return false
}

// Reopened records that the issue came back; a relapse within the
// stability period after a success counts as a failure of that success, a
// later one starts afresh. It returns true when this gave the issue up.
func (b *Breaker) Reopened(p BreakerPolicy, now time.Time) (gaveUp bool) {
	b.prune(p, now)
	if b.lastSuccess.IsZero() {
		return false
	}
	b.lastSuccess = time.Time{}
	return b.Failed(p, now)
}

// Reset re-arms the breaker.
func (b *Breaker) Reset() { *b = Breaker{} }

// Idle reports whether the breaker holds nothing worth keeping.
func (b *Breaker) Idle(p BreakerPolicy, now time.Time) bool {
	b.prune(p, now)
	return !b.givenUp && len(b.failures) == 0 && !now.Before(b.next) && b.lastSuccess.IsZero()
}

// State reports the breaker for id.
func (b *Breaker) State(id string, p BreakerPolicy, now time.Time) BreakerState {
	b.prune(p, now)
	s := BreakerState{IssueID: id, Failures: len(b.failures), GivenUp: b.givenUp}
	if !b.givenUp && now.Before(b.next) {
		s.NextAttempt = b.next
	}
	return s
}

func (b *Breaker) prune(p BreakerPolicy, now time.Time) {
	if b.givenUp {
		return // only a reset or recovery forgets a given-up issue
	}
	if !b.lastSuccess.IsZero() && now.Sub(b.lastSuccess) >= p.stable() {
		// The last success held: what failed before it is history.
		b.failures, b.next, b.lastSuccess = nil, time.Time{}, time.Time{}
		return
	}
	i := 0
	for i < len(b.failures) && now.Sub(b.failures[i]) > p.Window {
		i++
	}
	b.failures = b.failures[i:]
}

// backoff is Backoff·2^(n−1), capped at BackoffMax.
func backoff(p BreakerPolicy, n int) time.Duration {
	d := p.Backoff
	for i := 1; i < n; i++ {
		d *= 2
		if d >= p.BackoffMax {
			return p.BackoffMax
		}
	}
	return min(d, p.BackoffMax)
}

// limiter allows at most n events in any window.
type limiter struct {
	n      int
	window time.Duration
	times  []time.Time
}

// allow records an event at now if the limit permits it.
func (l *limiter) allow(now time.Time) bool {
	i := 0
	for i < len(l.times) && now.Sub(l.times[i]) >= l.window {
		i++
	}
	l.times = l.times[i:]
	if len(l.times) >= l.n {
		return false
	}
	l.times = append(l.times, now)
	return true
}

// BreakerRecord is a breaker as persisted in the state directory, so a
// daemon restart does not re-arm a given-up issue.
type BreakerRecord struct {
	IssueID     string
	Failures    []time.Time
	LastSuccess time.Time
	Next        time.Time
	GivenUp     bool
}

// ExportBreakers returns every breaker worth keeping.
func (h *Healer) ExportBreakers() []BreakerRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	var out []BreakerRecord
	for id, b := range h.breakers {
		if b.Idle(h.s.Breaker, now) {
			continue
		}
		out = append(out, BreakerRecord{IssueID: id, Failures: b.failures, LastSuccess: b.lastSuccess, Next: b.next, GivenUp: b.givenUp})
	}
	return out
}

// ImportBreakers restores persisted breakers. A record that cannot be a
// breaker's (restore.go), or a second one for the same issue, is not
// restored: the errors say which and why.
func (h *Healer) ImportBreakers(rs []BreakerRecord) []error {
	h.mu.Lock()
	defer h.mu.Unlock()
	check := func(r BreakerRecord, now time.Time) (string, error) { return r.IssueID, h.checkBreaker(r, now) }
	return restoreEach(h.breakers, rs, "breaker", check, func(r BreakerRecord) *Breaker {
		return &Breaker{failures: r.Failures, lastSuccess: r.LastSuccess, next: r.Next, givenUp: r.GivenUp}
	})
}
