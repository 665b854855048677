package heal

import (
	"testing"
	"time"
)

func TestBackoffDoublesToTheCap(t *testing.T) {
	p := BreakerPolicy{Backoff: 10 * time.Second, BackoffMax: 5 * time.Minute}
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 5 * time.Minute, 5 * time.Minute}
	for i, w := range want {
		if got := backoff(p, i+1); got != w {
			t.Errorf("backoff after %d failures = %s; want %s", i+1, got, w)
		}
	}
}
