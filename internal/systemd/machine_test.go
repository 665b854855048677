package systemd

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/luminous-healing/luminous-healing/internal/heal"
)

func TestMachineReadsTheRootAndTheGroupsOutsideServices(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, data string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("cgroup.procs", "")
	write("cpu.stat", "usage_usec 9000\nuser_usec 1\n")
	write("system.slice/web.service/cpu.stat", "usage_usec 100\n")
	write("system.slice/run-r1.scope/cpu.stat", "usage_usec 200\n")
	write("system.slice/system-getty.slice/getty@tty1.service/cpu.stat", "usage_usec 1\n")
	write("user.slice/user-1000.slice/cpu.stat", "usage_usec 3000\n")
	write("user.slice/user-1000.slice/memory.current", "4096\n")
	write("init.scope/cpu.stat", "usage_usec 50\n")
	m := &Manager{cgroups: dir}
	got, err := m.Machine(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got.CPUBusyNSec != 9000e3 {
		t.Errorf("CPUBusyNSec = %d; want the root's 9000 µs", got.CPUBusyNSec)
	}
	want := []heal.Usage{
		{Unit: "init.scope", CPUUsageNSec: 50e3, MemoryCurrent: heal.Unset},
		{Unit: "run-r1.scope", CPUUsageNSec: 200e3, MemoryCurrent: heal.Unset},
		{Unit: "user-1000.slice", CPUUsageNSec: 3000e3, MemoryCurrent: 4096},
	}
	slices.SortFunc(got.Groups, func(a, b heal.Usage) int {
		if a.Unit < b.Unit {
			return -1
		}
		return 1
	})
	if !slices.Equal(got.Groups, want) {
		t.Errorf("groups = %+v; want %+v (services and slices of services left out)", got.Groups, want)
	}
}

func TestProcStatBusy(t *testing.T) {
	p := filepath.Join(t.TempDir(), "stat")
	// user nice system idle iowait irq softirq steal guest guest_nice
	os.WriteFile(p, []byte("cpu  100 2 30 5000 40 1 2 3 50 0\ncpu0 1 1 1 1 1 1 1 1 1 1\n"), 0o644)
	got, ok := procStatBusy(p)
	if want := uint64(100+2+30+1+2+3) * 1e7; !ok || got != want {
		t.Errorf("procStatBusy = %d, %v; want %d (idle, iowait and guest left out)", got, ok, want)
	}
}
