package systemd

import (
	"fmt"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/luminous-healing/luminous-healing/internal/bustest"
)

// unitRow is one entry of ListUnitsByNames' answer, a(ssssssouso).
type unitRow struct {
	Name, Description, LoadState, ActiveState, SubState, Following string
	Path                                                           dbus.ObjectPath
	JobID                                                          uint32
	JobType                                                        string
	JobPath                                                        dbus.ObjectPath
}

// fakeLister answers ListUnitsByNames as systemd does for running units.
type fakeLister struct{}

func (fakeLister) ListUnitsByNames(names []string) ([]unitRow, *dbus.Error) {
	out := make([]unitRow, len(names))
	for i, n := range names {
		out[i] = unitRow{Name: n, Description: "luminous-healing test unit", LoadState: "loaded", ActiveState: "active",
			SubState: "running", Path: UnitPath(n), JobPath: "/"}
	}
	return out, nil
}

// BenchmarkStates is the safety net's batched read of 1000 units' states,
// once a minute (docs/performance.md): its CPU and allocation per call, on
// a real dbus-daemon with a stand-in for systemd.
func BenchmarkStates(b *testing.B) {
	bus := bustest.Start(b)
	conn := bus.Conn(b)
	claimSystemd(b, conn, struct {
		fakeSystemd
		fakeLister
	}{fakeSystemd{conn}, fakeLister{}})
	m, err := Dial(b.Context(), bus.Address)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(m.Close)
	names := make([]string, 1000)
	for i := range names {
		names[i] = fmt.Sprintf("lh-s%04d.service", i)
	}
	b.ReportAllocs()
	for b.Loop() {
		us, err := m.States(b.Context(), names)
		if err != nil || len(us) != len(names) {
			b.Fatalf("%d states, %v", len(us), err)
		}
	}
}
