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
