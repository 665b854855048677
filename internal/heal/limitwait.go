package heal

import "time"

// wait is how long from now until the limiter permits an event again: 0
// when it does now. The engine retries every issue the limit held back at
// that moment, in its own order (critical first), rather than each on a
// timer of its own that could let a later, lesser issue take the slot.
func (l *limiter) wait(now time.Time) time.Duration {
	i := 0
	for i < len(l.times) && now.Sub(l.times[i]) >= l.window {
		i++
	}
	live := l.times[i:]
	if len(live) < l.n {
		return 0
	}
	return l.window - now.Sub(live[len(live)-l.n])
}

// free is how many events the limiter permits now.
func (l *limiter) free(now time.Time) int {
	n := 0
	for _, t := range l.times {
		if now.Sub(t) < l.window {
			n++
		}
	}
	return max(l.n-n, 0)
}

// LimitFree reports how many actions the global limit lets through now
// and, when it lets none, how long until it frees a slot. The engine asks
// before it launches what the limit held back, so that the slots go to
// the worst issues first rather than to whichever goroutine gets there.
func (h *Healer) LimitFree() (free int, wait time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	return h.limit.free(now), h.limit.wait(now)
}
