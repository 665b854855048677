package systemd

import (
	"io"
	"log/slog"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/luminous-healing/luminous-healing/internal/bustest"
)

// The rule of docs/healing.md ("A unit stopped on purpose stays stopped"),
// on a real dbus-daemon with a stand-in for systemd that sends what
// systemd 252 sends, in its order: JobNew, the unit's PropertiesChanged,
// then JobRemoved.
func TestTheWatcherTellsAStopJobFromAUnitThatWentDownByItself(t *testing.T) {
	b := bustest.Start(t)
	sysd := startFakeSystemd(t, b)
	ctx := t.Context()
	w, err := NewWatcher(ctx, b.Address, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Watch(ctx, []string{"web.service"}); err != nil {
		t.Fatal(err)
	}
	<-w.Events() // the resync Watch asks for
	go w.Run(ctx)
	path := UnitPath("web.service")
	emit := func(member string, body ...any) {
		t.Helper()
		iface := managerIface
		p := managerPath
		if member == "PropertiesChanged" {
			iface, p = propsIface, path
		}
		if err := sysd.Emit(p, iface+"."+member, body...); err != nil {
			t.Fatal(err)
		}
	}
	next := func() Event {
		t.Helper()
		select {
		case ev := <-w.Events():
			return ev
		case <-time.After(5 * time.Second):
			t.Fatal("no event")
		}
		return Event{}
	}
	job := func(id uint32) dbus.ObjectPath {
		return dbus.ObjectPath("/org/freedesktop/systemd1/job/" + strconv.Itoa(int(id)))
	}

	cases := []struct {
		name  string
		steps func()
		want  []bool // StopJob of each event after the unit is active, in order
	}{
		{"systemctl stop: inactive within a job", func() {
			emit("JobNew", uint32(1), job(1), "web.service")
			emit("PropertiesChanged", propsChanged("deactivating")...)
			emit("PropertiesChanged", propsChanged("inactive")...)
			emit("JobRemoved", uint32(1), job(1), "web.service", "done")
		}, []bool{false, true}},
		{"a fast stop whose deactivating was never sent", func() {
			emit("JobNew", uint32(2), job(2), "web.service")
			emit("PropertiesChanged", propsChanged("inactive")...)
			emit("JobRemoved", uint32(2), job(2), "web.service", "done")
		}, []bool{true}},
		{"a stop that fails (ExecStop= failed, timed out) is still a stop", func() {
			emit("JobNew", uint32(6), job(6), "web.service")
			emit("PropertiesChanged", propsChanged("deactivating")...)
			emit("PropertiesChanged", propsChanged("failed")...)
			emit("JobRemoved", uint32(6), job(6), "web.service", "done")
		}, []bool{false, true}},
		{"a fast stop that ends failed, its deactivating never sent", func() {
			// systemctl stop while the main process had just exited 1
			// (a unit flapping under Restart=): active, then failed at
			// once. Seen in the e2e flapping scenario.
			emit("JobNew", uint32(8), job(8), "web.service")
			emit("PropertiesChanged", propsChanged("failed")...)
			emit("JobRemoved", uint32(8), job(8), "web.service", "done")
		}, []bool{true}},
		{"a crash while a reload job runs is not a stop", func() {
			emit("JobNew", uint32(7), job(7), "web.service")
			emit("PropertiesChanged", propsChanged("reloading")...)
			emit("PropertiesChanged", propsChanged("failed")...)
			emit("JobRemoved", uint32(7), job(7), "web.service", "failed")
		}, []bool{false, false}},
		{"a service that exits 0 by itself: no job", func() {
			emit("PropertiesChanged", propsChanged("inactive")...)
		}, []bool{false}},
		{"a start that ends inactive (a oneshot, a failed condition) is not a stop", func() {
			emit("JobNew", uint32(3), job(3), "web.service")
			emit("PropertiesChanged", propsChanged("activating")...)
			emit("PropertiesChanged", propsChanged("inactive")...)
			emit("JobRemoved", uint32(3), job(3), "web.service", "done")
		}, []bool{false, false}},
		{"a job of another unit does not count", func() {
			emit("JobNew", uint32(4), job(4), "other.service")
			emit("PropertiesChanged", propsChanged("inactive")...)
			emit("JobRemoved", uint32(4), job(4), "other.service", "done")
		}, []bool{false}},
		{"a job that ended before does not count", func() {
			emit("JobNew", uint32(5), job(5), "web.service")
			emit("JobRemoved", uint32(5), job(5), "web.service", "done")
			emit("PropertiesChanged", propsChanged("inactive")...)
		}, []bool{false}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			emit("PropertiesChanged", propsChanged("active")...)
			if ev := next(); ev.ActiveState != "active" {
				t.Fatalf("event %+v; want active", ev)
			}
			c.steps()
			var got []bool
			for range c.want {
				got = append(got, next().StopJob)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("StopJob of the events = %v; want %v", got, c.want)
			}
		})
	}
}
