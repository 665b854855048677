package detect

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/shirou/gopsutil/v4/common"
	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/load"
	"github.com/shirou/gopsutil/v4/mem"
)

// The benchmarks in this file are the measurements behind reading /proc by
// hand instead of through gopsutil (docs/dependencies.md). They are kept so
// the decision can be checked again on another machine or a newer gopsutil.

// BenchmarkGopsutilPass is the pass BenchmarkSample takes, built on gopsutil
// the way the sampler would use it (root injected through its EnvMap), with
// PSI, which gopsutil does not read, read with os.ReadFile.
func BenchmarkGopsutilPass(b *testing.B) {
	ctx := context.WithValue(b.Context(), common.EnvKey, common.EnvMap{common.HostProcEnvKey: "/proc"})
	psi := []string{"/proc/pressure/cpu", "/proc/pressure/memory", "/proc/pressure/io"}
	if _, err := os.Stat(psi[0]); err != nil {
		psi = nil
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cpu.TimesWithContext(ctx, false); err != nil {
			b.Fatal(err)
		}
		if _, err := mem.VirtualMemoryWithContext(ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := load.AvgWithContext(ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := disk.UsageWithContext(ctx, "/"); err != nil {
			b.Fatal(err)
		}
		for _, p := range psi {
			if _, err := os.ReadFile(p); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkReadProc compares reopening a /proc file on every pass with
// keeping it open and reading it again from offset 0, as procFile does.
func BenchmarkReadProc(b *testing.B) {
	for _, name := range []string{"stat", "meminfo", "loadavg", "pressure/cpu"} {
		path := filepath.Join("/proc", name)
		if _, err := os.Stat(path); err != nil {
			continue
		}
		b.Run(name+"/ReadFile", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := os.ReadFile(path); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/kept-open", func(b *testing.B) {
			s := &Sampler{procRoot: "/proc"}
			defer s.Close()
			f, err := s.openProc(name, 4096)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.read(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
