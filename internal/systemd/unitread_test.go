package systemd

import (
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/luminous-healing/luminous-healing/internal/bustest"
)

// unitProps stands in for systemd's properties of one unit: each GetAll
// waits (up to a bound) until the other interface's GetAll has arrived
// too, and records how many were in flight at once.
type unitProps struct {
	mu       sync.Mutex
	inflight int
	most     int
	both     chan struct{}
	once     sync.Once
}

func (p *unitProps) GetAll(iface string) (map[string]dbus.Variant, *dbus.Error) {
	p.mu.Lock()
	p.inflight++
	p.most = max(p.most, p.inflight)
	if p.inflight == 2 {
		p.once.Do(func() { close(p.both) })
	}
	p.mu.Unlock()
	select {
	case <-p.both:
	case <-time.After(2 * time.Second):
	}
	p.mu.Lock()
	p.inflight--
	p.mu.Unlock()
	if iface == unitIface {
		return map[string]dbus.Variant{
			"Id": dbus.MakeVariant("web.service"), "LoadState": dbus.MakeVariant("loaded"),
			"ActiveState": dbus.MakeVariant("failed"), "SubState": dbus.MakeVariant("failed"),
			"UnitFileState": dbus.MakeVariant("enabled"),
		}, nil
	}
	return map[string]dbus.Variant{
		"Result": dbus.MakeVariant("signal"), "NRestarts": dbus.MakeVariant(uint32(2)),
		"ExecMainCode": dbus.MakeVariant(int32(2)), "ExecMainStatus": dbus.MakeVariant(int32(9)),
	}, nil
}

// A unit is read with its two GetAll (the unit's properties, its type's)
// in flight at once: one round trip through the bus, not two, between a
// failure's signal and the restart that heals it (docs/performance.md). On
// a private dbus-daemon with a stand-in for systemd. It failed before: the
// second GetAll was sent once the first had been answered.
func TestAUnitIsReadInOneRoundTrip(t *testing.T) {
	b := bustest.Start(t)
	sysd := startFakeSystemd(t, b)
	props := &unitProps{both: make(chan struct{})}
	if err := sysd.Export(props, UnitPath("web.service"), propsIface); err != nil {
		t.Fatal(err)
	}
	m, err := Dial(t.Context(), b.Address)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	u, err := m.Unit(t.Context(), "web.service")
	if err != nil {
		t.Fatal(err)
	}
	if u.ActiveState != "failed" || u.Result != "signal" || u.NRestarts != 2 || u.ExecMainStatus != 9 {
		t.Errorf("read %+v; want the unit's and its service's properties", u)
	}
	// The bus's goroutine wrote most; the reply's round trip through
	// the socket is no happens-before the race detector can see.
	props.mu.Lock()
	most := props.most
	props.mu.Unlock()
	if most != 2 {
		t.Errorf("at most %d GetAll in flight at once; want 2 (the unit's and its type's together)", most)
	}
}
