package engine_test

import (
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/heal"
)

// Many units failing at once are healed as the global action limit allows,
// critical (failed) before warning (inactive though enabled), each in the
// order it went wrong. Before, the issues the limit held back were retried
// each on a 10 s timer of its own and in map order, so a warning could take
// a slot before a critical failure.
func TestUnitsHeldBackByTheGlobalLimitAreHealedCriticalFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var units []heal.UnitStatus
		var names []string
		for i := range 6 {
			n := fmt.Sprintf("c%d.service", i)
			if i >= 3 {
				n = fmt.Sprintf("w%d.service", i)
			}
			units = append(units, active(n))
			names = append(names, n)
		}
		h := start(t, setup{units: units, cfg: func(c *config.Config) {
			c.Services.Monitored = names
			c.Healing.MaxActionsPerMinute = 2
			c.Monitoring.Interval = config.Duration(time.Second)
		}})
		synctest.Wait()
		// The warnings first: they wait out their grace, and then every
		// slot they could take must still go to the failures.
		for _, n := range names[3:] {
			h.unit(n, "inactive", "dead")
		}
		time.Sleep(10 * time.Millisecond)
		for _, n := range names[:3] {
			h.unit(n, "failed", "failed")
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(3 * time.Minute)
		synctest.Wait()
		var order []string
		for _, c := range h.sd.Calls() {
			if f := strings.Fields(c); len(f) >= 2 && (f[0] == "RestartUnit" || f[0] == "StartUnit") {
				order = append(order, strings.TrimSuffix(f[1], ".service"))
			}
		}
		want := []string{"c0", "c1", "c2", "w3", "w4", "w5"}
		if strings.Join(order, " ") != strings.Join(want, " ") {
			t.Errorf("healed in the order %q; want %q: critical first, each in the order it went wrong", order, want)
		}
	})
}
