package engine_test

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/heal"
)

// A stop lets an automatic action in flight finish and records it; one
// that outlives the stop's bound is recorded with its outcome unknown.
// Both failed before: Run returned at once, and the action's goroutine,
// which nobody waited for, lost its audit record.
func TestAStopRecordsTheActionsInFlight(t *testing.T) {
	for _, tc := range []struct {
		name    string
		takes   time.Duration
		outcome string
		event   audit.Event
		within  time.Duration
	}{
		{"a restart that ends within the bound is recorded as it ended", 2 * time.Second, "succeeded", audit.ActionSucceeded, 3 * time.Second},
		{"a restart that outlives the bound is recorded as unknown", time.Hour, "unknown", audit.ActionFailed, 6 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := start(t, setup{units: []heal.UnitStatus{active("web.service")}})
				// The fake job ignores the context as a hung systemd
				// job would; the test lets it go at its end.
				release := make(chan struct{})
				defer func() { close(release); synctest.Wait() }()
				h.sd.OnRestart = func(string) {
					select {
					case <-time.After(tc.takes):
					case <-release:
					}
				}
				synctest.Wait()
				h.unit("web.service", "failed", "failed")
				time.Sleep(time.Second) // the restart job is running
				t0 := time.Now()
				h.stop()
				<-h.done
				if took := time.Since(t0); took > tc.within {
					t.Errorf("the stop took %s; want at most %s", took, tc.within)
				}
				var got []audit.Entry
				for _, e := range h.audit.History(0) {
					if e.Target == "web.service" && (e.Event == audit.ActionSucceeded || e.Event == audit.ActionFailed) {
						got = append(got, e)
					}
				}
				if len(got) != 1 || got[0].Event != tc.event || got[0].Outcome != tc.outcome {
					t.Fatalf("records of the restart after the stop = %+v; want one, %s (%s)", got, tc.event, tc.outcome)
				}
				if tc.outcome == "unknown" && !strings.Contains(got[0].Message, "outcome unknown") {
					t.Errorf("message %q; want it to say the outcome is unknown", got[0].Message)
				}
			})
		})
	}
}
