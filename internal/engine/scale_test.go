package engine_test

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/systemd"
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

// Monitored units that do not exist, are masked, or are removed and added
// back are judged from the safety net's batched read (ListUnitsByNames
// gives not-found and masked), never read one by one, and a unit that sits
// down, unchanged, is read again only after a resync (a daemon-reload may
// have enabled it). On a fake systemd that counts reads. It failed before:
// every unit not running was read in full at every batched read, 30 reads
// a minute here, and each read of a unit that does not exist has systemd
// load it.
func TestAbsentMaskedAndDownUnitsAreNotReadOneByOne(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const each = 10
		var names []string
		var units []heal.UnitStatus
		for i := range 100 {
			u := active(fmt.Sprintf("svc%03d.service", i))
			units, names = append(units, u), append(names, u.Name)
		}
		for i := range each {
			names = append(names, fmt.Sprintf("ghost%02d.service", i)) // not installed
			masked := heal.UnitStatus{Name: fmt.Sprintf("masked%02d.service", i), LoadState: "masked",
				ActiveState: "inactive", SubState: "dead", UnitFileState: "masked"}
			idle := heal.UnitStatus{Name: fmt.Sprintf("idle%02d.service", i),
				ActiveState: "inactive", SubState: "dead", UnitFileState: "disabled"}
			units, names = append(units, masked, idle), append(names, masked.Name, idle.Name)
		}
		h := start(t, setup{units: units, cfg: func(c *config.Config) {
			c.Monitoring.Interval = config.Duration(time.Second)
			c.Services.Monitored = names
			// Healing off: an attempt to restart a unit that does not
			// exist reads it, once, which is not the watching counted here.
			c.Healing.Enabled = false
		}})
		reads := func() int {
			synctest.Wait()
			n, _ := h.sd.Reads()
			return n
		}
		time.Sleep(500 * time.Millisecond)
		// At start only the idle units are read, once: whether they are
		// enabled decides.
		if got := reads(); got != each {
			t.Errorf("%d full reads at start-up; want %d (the idle units only)", got, each)
		}
		if rec, ok := h.issue(issue.ID(issue.Unit, "ghost00.service")); !ok || rec.Severity != issue.Warning {
			t.Errorf("no warning for a monitored unit that does not exist: %+v", rec)
		}
		if rec, ok := h.issue(issue.ID(issue.Unit, "masked00.service")); ok {
			t.Errorf("an issue for a masked unit: %+v", rec)
		}

		r0 := reads()
		time.Sleep(3 * time.Minute) // three batched reads
		if got := reads() - r0; got != 0 {
			t.Errorf("%d full reads in three minutes of unchanged units; want none", got)
		}

		// Removed (its unit file deleted, a daemon-reload): its Reloading
		// signal asks for a resync (as systemd coming back on the bus
		// does), which is one batched read, and that says not-found.
		r0 = reads()
		_, b0 := h.sd.Reads()
		h.sd.Remove("svc000.service")
		h.watcher.C <- systemd.Event{Resync: true, Time: time.Now()}
		synctest.Wait()
		if _, b := h.sd.Reads(); b-b0 != 1 {
			t.Errorf("%d batched reads on a resync; want 1", b-b0)
		}
		time.Sleep(5 * time.Second) // past the grace a stop job has to explain a unit down
		if rec, ok := h.issue(issue.ID(issue.Unit, "svc000.service")); !ok || rec.Message != "svc000.service is monitored but does not exist" {
			t.Errorf("the removed unit's issue = %+v, %t; want that it does not exist", rec, ok)
		}
		// The idle units are read again after a resync; the removed one
		// once, after the grace; the others not at all.
		if got := reads() - r0; got > each+1 {
			t.Errorf("%d full reads for one unit removed; want at most %d", got, each+1)
		}

		// Added back, running.
		r0 = reads()
		h.sd.Put(active("svc000.service"))
		h.watcher.C <- systemd.Event{Resync: true, Time: time.Now()}
		synctest.Wait()
		if rec, ok := h.issue(issue.ID(issue.Unit, "svc000.service")); ok {
			t.Errorf("the unit added back still has its issue: %+v", rec)
		}
		if got := reads() - r0; got > each+1 {
			t.Errorf("%d full reads for one unit added back; want at most %d", got, each+1)
		}

		// A unit that did not exist appears and starts: its signal
		// comes (the watcher follows its path before it exists).
		h.sd.Put(active("ghost00.service"))
		h.unit("ghost00.service", "active", "running")
		synctest.Wait()
		if rec, ok := h.issue(issue.ID(issue.Unit, "ghost00.service")); ok {
			t.Errorf("the unit that appeared still has its issue: %+v", rec)
		}
	})
}
