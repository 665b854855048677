package systemd

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/luminous-healing/luminous-healing/internal/bustest"
)

// These tests run the watcher on a private real dbus-daemon, with a
// connection owning org.freedesktop.systemd1 in systemd's place
// (fakeSystemd, forged_test.go): systemd itself cannot run there.

// runWatcher starts a watcher on b, run until the test ends.
func runWatcher(t *testing.T, b *bustest.Bus) *Watcher {
	t.Helper()
	w, err := NewWatcher(t.Context(), b.Address, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	go w.Run(t.Context())
	return w
}

// matchRules asks dbus-daemon (its Debug.Stats interface, which answers the
// bus's own user) how many match rules the connection named name has.
func matchRules(t *testing.T, conn *dbus.Conn, name string) uint32 {
	t.Helper()
	var stats map[string]dbus.Variant
	if err := conn.BusObject().Call("org.freedesktop.DBus.Debug.Stats.GetConnectionStats", 0, name).Store(&stats); err != nil {
		t.Skipf("dbus-daemon's statistics are not available here: %v", err)
	}
	n, ok := stats["MatchRules"].Value().(uint32)
	if !ok {
		t.Fatalf("no MatchRules in %v", stats)
	}
	return n
}

// TestWatcherSetsOneMatchWhateverTheNumberOfUnits: watching a thousand units
// costs the bus as many match rules as watching one. Before, the watcher
// added one rule per unit, a round trip each, one after the other, and
// dbus-daemon compared every PropertiesChanged systemd sent with each of
// them. Worse, dbus-daemon allows a connection 512 match rules by default
// (max_match_rules_per_connection, Debian's system bus too): past about
// 500 units Watch failed, the units after that got no signal, and a
// failure of one of them waited for the batched read, up to a minute (the
// 1000-unit bench run that once did not heal within 30 s). This test
// failed then: "not allowed to add more match rules".
func TestWatcherSetsOneMatchWhateverTheNumberOfUnits(t *testing.T) {
	b := bustest.Start(t)
	startFakeSystemd(t, b)
	ctx := t.Context()
	w := runWatcher(t, b)
	stats := b.Conn(t)
	rules := func(n int) uint32 {
		units := make([]string, n)
		for i := range units {
			units[i] = fmt.Sprintf("lh-%04d.service", i)
		}
		if err := w.Watch(ctx, units); err != nil {
			t.Fatal(err)
		}
		<-w.Events() // the Resync Watch asks for
		return matchRules(t, stats, w.conn.Names()[0])
	}
	one, many := rules(1), rules(1000)
	t.Logf("match rules: %d watching 1 unit, %d watching 1000", one, many)
	if many != one {
		t.Errorf("the watcher has %d match rules watching 1000 units, %d watching one; want the same", many, one)
	}
}

// TestWatcherFollowsTheWatchedUnitsOnly: the one match takes every unit's
// signals; only the watched units' become events, by their object path as
// systemd escapes it. A unit that does not exist yet is watched all the
// same (its path is known from its name), one no longer watched is
// dropped, and one watched again is followed again, all without a call to
// the bus per unit.
func TestWatcherFollowsTheWatchedUnitsOnly(t *testing.T) {
	b := bustest.Start(t)
	sysd := startFakeSystemd(t, b)
	ctx := t.Context()
	w := runWatcher(t, b)
	watch := func(units ...string) {
		t.Helper()
		if err := w.Watch(ctx, units); err != nil {
			t.Fatal(err)
		}
		if ev := <-w.Events(); !ev.Resync {
			t.Fatalf("event = %+v; want the Resync Watch asks for", ev)
		}
	}
	emit := func(unit, state string) {
		t.Helper()
		if err := sysd.Emit(UnitPath(unit), propsIface+".PropertiesChanged", propsChanged(state)...); err != nil {
			t.Fatal(err)
		}
	}
	// expect says which event comes next; a marker signal of a watched
	// unit, sent last, shows that nothing came between.
	expect := func(unit, state string) {
		t.Helper()
		select {
		case ev := <-w.Events():
			if ev.Unit != unit || ev.ActiveState != state {
				t.Fatalf("event = %+v; want %s %s", ev, unit, state)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no event for %s %s", unit, state)
		}
	}
	const (
		web    = "web-1.service"          // escaped: web_2d1_2eservice
		getty  = "getty@tty1.service"     // an instance
		mount  = "srv-data\\x2dold.mount" // a backslash in the name
		later  = "not-yet-there.service"  // does not exist when watched
		other  = "unwatched.service"      // never watched
		marker = "marker.service"
	)
	watch(web, getty, mount, later, marker)
	for _, u := range []string{web, getty, mount, later} {
		emit(other, "failed")
		emit(u, "failed")
		expect(u, "failed")
	}
	if got, want := w.Watched(), []string{getty, marker, later, mount, web}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Watched() = %v; want %v", got, want)
	}

	// web no longer watched: its signals are dropped.
	watch(getty, mount, later, marker)
	emit(web, "active")
	emit(marker, "active")
	expect(marker, "active")

	// Watched again: followed again, its last state from before forgotten
	// (a change to inactive from "" is taken as it comes).
	watch(web, getty, mount, later, marker)
	emit(web, "inactive")
	expect(web, "inactive")
}

// unitName undoes UnitPath for every kind of name, and takes no other path.
func TestUnitNameUndoesSystemdsEscaping(t *testing.T) {
	for _, u := range []string{"web.service", "web-1.service", "getty@tty1.service", "srv-data\\x2dold.mount",
		"1st.service", "a_b.service", "x", "dbus-org.freedesktop.login1.service"} {
		if got, ok := unitName(UnitPath(u)); !ok || got != u {
			t.Errorf("unitName(%s) = %q, %t; want %q", UnitPath(u), got, ok, u)
		}
	}
	for _, p := range []dbus.ObjectPath{"/org/freedesktop/systemd1", "/org/freedesktop/systemd1/unit",
		"/org/freedesktop/systemd1/unit/", "/org/freedesktop/systemd1/unit/a/b", "/org/freedesktop/systemd1/job/7",
		"/org/freedesktop/systemd1/unit/web_2", "/org/freedesktop/systemd1/unit/web_zz"} {
		if got, ok := unitName(p); ok {
			t.Errorf("unitName(%s) = %q; want none", p, got)
		}
	}
}
