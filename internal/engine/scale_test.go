package engine_test

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/issue"
)

// What the monitored units cost systemd and the bus must not grow with
// their number: their changes come as signals, and the safety net reads
// all their states in one batched call at a bounded period, not at every
// check. On a fake systemd that counts reads. It failed before: every
// check read every unit (N reads a check; on systemd two GetAll each).
func TestChecksCostTheSameForOneOrManyUnits(t *testing.T) {
	const checks = 180 // interval 1 s: three minutes
	for _, n := range []int{1, 400} {
		t.Run(fmt.Sprintf("%d units", n), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var names []string
				var units []heal.UnitStatus
				for i := range n {
					name := fmt.Sprintf("svc%03d.service", i)
					names = append(names, name)
					units = append(units, active(name))
				}
				h := start(t, setup{units: units, cfg: func(c *config.Config) {
					c.Monitoring.Interval = config.Duration(time.Second)
					c.Services.Monitored = names
				}})
				time.Sleep(500 * time.Millisecond)
				synctest.Wait()
				reads0, batches0 := h.sd.Reads()
				if reads0 != 0 {
					t.Errorf("%d full unit reads at start-up of %d running units; want none (one batched read)", reads0, n)
				}
				time.Sleep(checks * time.Second)
				synctest.Wait()
				reads, batches := h.sd.Reads()
				reads, batches = reads-reads0, batches-batches0
				t.Logf("%d units, %d checks: %d unit reads, %d batched reads", n, checks, reads, batches)
				if reads != 0 {
					t.Errorf("%d unit reads in %d checks of %d healthy units; want none (their changes come as signals)", reads, checks, n)
				}
				if want := checks/60 + 1; batches > want {
					t.Errorf("%d batched reads in %d checks; want at most %d (one a minute)", batches, checks, want)
				}

				// The safety net still catches a failure whose signal
				// was missed: within a minute, and heals it.
				h.sd.Set(names[n-1], "failed", "failed")
				time.Sleep(61 * time.Second)
				synctest.Wait()
				if h.countCalls("RestartUnit "+names[n-1]) == 0 {
					if _, ok := h.issue(issue.ID(issue.Unit, names[n-1])); !ok {
						t.Errorf("a failure with no signal was not seen by the safety net within a minute")
					}
				}
			})
		})
	}
}

// The status rebuilt at every check reuses the monitored units' lists
// when none of them changed: with a thousand units, building them anew was
// most of what the daemon allocated. It failed before: new lists at every
// check.
func TestTheStatusKeepsTheUnitListsWhenNothingChanged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, setup{units: []heal.UnitStatus{active("web.service")}, cfg: func(c *config.Config) {
			c.Monitoring.Interval = config.Duration(time.Second)
		}})
		synctest.Wait()
		s1 := h.eng.Status()
		time.Sleep(3 * time.Second)
		synctest.Wait()
		s2 := h.eng.Status()
		if s1 == s2 || !s2.LastCheck.After(s1.LastCheck) {
			t.Fatalf("no check between the two statuses")
		}
		if len(s2.Units) != 1 || &s1.Units[0] != &s2.Units[0] || &s1.MonitoredUnits[0] != &s2.MonitoredUnits[0] {
			t.Errorf("the unit lists were built anew though no unit changed")
		}
		h.unit("web.service", "failed", "failed")
		synctest.Wait()
		if s3 := h.eng.Status(); &s3.Units[0] == &s2.Units[0] {
			t.Errorf("the unit list was kept though the unit failed")
		}
	})
}
