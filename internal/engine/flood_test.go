package engine_test

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/heal"
)

// A unit systemd restarts a hundred times a second is recorded a few times
// and then summarised once a minute, not once per restart. Failed before:
// one record per restart (1000 in ten seconds).
func TestAUnitSystemdRestartsAHundredTimesASecondDoesNotFloodTheRecords(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := flapping(t, 1000) // ten seconds at 100 restarts a second
		synctest.Wait()
		time.Sleep(2 * time.Minute) // the window ends; checks look again
		synctest.Wait()
		var one, summaries int
		for _, e := range h.audit.History(0) {
			if e.Event != audit.RestartedBySystemd {
				continue
			}
			if strings.Contains(e.Message, "more times") {
				summaries++
				if !strings.Contains(e.Message, "restarted 997 more times") {
					t.Errorf("summary %q; want the 997 restarts not recorded one by one", e.Message)
				}
			} else {
				one++
			}
		}
		if one != 3 || summaries != 1 {
			t.Errorf("restarted-by-systemd records: %d one by one and %d summaries; want 3 and 1", one, summaries)
		}
		if calls := h.sd.Calls(); len(calls) != 0 {
			t.Errorf("calls = %q; want none: systemd is restarting it", calls)
		}
	})
}

// A flapping unit that settles and runs still gets the summary of the
// restarts that were counted, not recorded one by one, once the window
// ends. Failed before: the summary was written only at the next full read
// of the unit, and the batched safety net no longer reads a unit that is
// simply running, so a unit that settled never had its restarts said in
// the history (nor in the journal).
func TestTheRestartsOfAUnitThatSettledAreSummarisedWhenTheWindowEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := flapping(t, 100)                      // one second at 100 restarts a second
		h.unit("web.service", "active", "running") // it settles
		synctest.Wait()
		time.Sleep(3 * time.Minute) // the window ends; checks pass
		synctest.Wait()
		var one, summaries int
		for _, e := range h.audit.History(0) {
			if e.Event != audit.RestartedBySystemd {
				continue
			}
			if strings.Contains(e.Message, "more times") {
				summaries++
				if !strings.Contains(e.Message, "restarted 97 more times") {
					t.Errorf("summary %q; want the 97 restarts not recorded one by one", e.Message)
				}
			} else {
				one++
			}
		}
		if one != 3 || summaries != 1 {
			t.Errorf("restarted-by-systemd records: %d one by one and %d summaries; want 3 and 1", one, summaries)
		}
	})
}

// flapping starts the engine on a web.service that systemd then restarts n
// times, 100 a second, each restart counted in its NRestarts.
func flapping(t *testing.T, n int) *harness {
	web := active("web.service")
	web.HasNRestarts = true
	h := start(t, setup{units: []heal.UnitStatus{web}})
	synctest.Wait()
	for i := range n {
		h.sd.SetNRestarts("web.service", uint32(i+1))
		h.unit("web.service", "activating", "auto-restart")
		time.Sleep(10 * time.Millisecond)
	}
	return h
}
