package dashboard

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/ctl/ctltest"
)

// TestGoldenDashboardScreen is the full-screen dashboard's layout (its
// colours left out) on the busy fixture, as the tests' terminal shows it.
func TestGoldenDashboardScreen(t *testing.T) {
	ctltest.SetLocal(t)
	f := ctltest.Busy()
	m := newDashboard(t.Context(), func() {}, (&healCalls{}).heal, asking{})
	m.now = func() time.Time { return ctltest.Now }
	// Two checks, for a sparkline of two readings.
	before := f.Status
	before.LastCheck = before.LastCheck.Add(-time.Minute)
	before.Resources = slices.Clone(before.Resources)
	for i := range before.Resources {
		before.Resources[i].Value /= 2
	}
	m.Update(snapshotMsg{status: before, history: f.History, at: ctltest.Now.Add(-time.Minute)})
	m.Update(snapshotMsg{status: f.Status, history: f.History, at: ctltest.Now})
	m.Update(signalMsg{ev: ctltest.Events()[0], at: ctltest.Now.Add(-3 * time.Second)})
	m.width, m.height = 150, 70
	ctltest.Golden(t, "dashboard-screen", []byte(plainScreen(m)))
	press(m, "down", "h")
	ctltest.Golden(t, "dashboard-screen-confirm", []byte(plainScreen(m)))
}

func TestTheDashboardShowsTheCause(t *testing.T) {
	m := newTestDashboard(&healCalls{}, asking{})
	now := m.now()
	st := someStatus(now)
	st.Issues[0].Cause = "exit-code: exited with status 1\x1b[2J"
	m.Update(snapshotMsg{status: st, at: now})
	s := plainScreen(m)
	if !strings.Contains(s, "web.service failed — because: exit-code: exited") {
		t.Errorf("the dashboard does not say why the issue's unit failed:\n%s", s)
	}
	if strings.ContainsRune(s, 0x1b) {
		t.Errorf("the plain dashboard carries an escape character from a cause")
	}
}
