package detect

import (
	"testing"

	"github.com/luminous-healing/luminous-healing/internal/issue"
)

// BenchmarkSample is one real pass over this machine's /proc with "/" as
// the only mount. Target: at most 50 µs on the 2-core development machine
// (docs/dependencies.md has the figures behind reading /proc by hand).
// The readings metric counts the last pass's series: passes this close
// together fall within one clock tick, so the cpu collector reads and
// parses /proc/stat but gives no reading, and the count is one short.
func BenchmarkSample(b *testing.B) {
	s, err := NewSampler(Options{Mounts: []string{"/"}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var snap Snapshot
	ctx := b.Context()
	if err := s.Sample(ctx, &snap); err != nil { // primes the cpu counters
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Sample(ctx, &snap); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(snap.Readings)), "readings")
}

// BenchmarkEvaluate runs the rules over a fixed snapshot of 11 readings,
// some above their thresholds. Target: at most 1 µs and no allocation.
func BenchmarkEvaluate(b *testing.B) {
	snap := &Snapshot{Readings: []Reading{
		{ID: "cpu", Kind: issue.CPU, Subject: "cpu", Value: 85},
		{ID: "memory", Kind: issue.Memory, Subject: "memory", Value: 60},
		{ID: "load", Kind: issue.Load, Subject: "load", Value: 7},
		{ID: "disk:/", Kind: issue.Disk, Subject: "/", Value: 91},
		{ID: "inodes:/", Kind: issue.Disk, Subject: "/", Value: 12},
		{ID: "disk:/nix", Kind: issue.Disk, Subject: "/nix", Value: 97},
		{ID: "disk:/boot", Kind: issue.Disk, Subject: "/boot", Value: 40},
		{ID: "inodes:/boot", Kind: issue.Disk, Subject: "/boot", Value: 1},
		{ID: "pressure:cpu", Kind: issue.Pressure, Subject: "cpu", Value: 12},
		{ID: "pressure:memory", Kind: issue.Pressure, Subject: "memory", Value: 3},
		{ID: "pressure:io", Kind: issue.Pressure, Subject: "io", Value: 25},
	}}
	s := defaults()
	s.Thresholds[issue.Pressure] = 20
	e := NewEvaluator(s)
	out := make([]Change, 0, len(snap.Readings))
	b.ReportAllocs()
	for b.Loop() {
		out = e.Evaluate(snap, out[:0])
	}
}
