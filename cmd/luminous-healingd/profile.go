package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
)

// profileEnv names a directory where the daemon writes a CPU profile of its
// whole run (cpu.pprof) and a heap profile at its stop (heap.pprof), for
// docs/performance.md's figures: set it with `systemctl edit` (an
// Environment= line) or `systemctl set-environment`, only while measuring.
// It is an environment variable, not an option, because only whoever can
// change the service's environment (root) should turn it on.
const profileEnv = "LUMINOUS_HEALING_PROFILE_DIR"

// startProfiles starts the CPU profile where profileEnv asks for one, writes
// the heap profile as soon as ctx ends (the stop is asked for) and returns
// what ends the CPU profile once the daemon is done.
func startProfiles(ctx context.Context, log *slog.Logger) func() {
	dir := os.Getenv(profileEnv)
	if dir == "" {
		return func() {}
	}
	cpu, err := os.Create(filepath.Join(dir, "cpu.pprof"))
	if err != nil {
		log.Warn("cannot write profiles", "env", profileEnv, "err", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		log.Warn("cannot start the CPU profile", "err", err)
		cpu.Close()
		return func() {}
	}
	log.Info("profiling", "dir", dir)
	// The heap is taken when the stop is asked for, while the engine, the
	// watcher and the bus still hold what they hold at work: once they
	// have wound down, their per-unit state is garbage.
	heapDone := make(chan struct{})
	go func() {
		defer close(heapDone)
		<-ctx.Done()
		writeHeapProfile(filepath.Join(dir, "heap.pprof"), log)
	}()
	return func() {
		<-heapDone
		pprof.StopCPUProfile()
		cpu.Close()
	}
}

func writeHeapProfile(path string, log *slog.Logger) {
	heap, err := os.Create(path)
	if err != nil {
		log.Warn("cannot write the heap profile", "err", err)
		return
	}
	defer heap.Close()
	runtime.GC() // the live heap, not the last cycle's
	if err := pprof.WriteHeapProfile(heap); err != nil {
		log.Warn("cannot write the heap profile", "err", err)
	}
}

// The Go runtime's memory setting, unless the service's environment sets
// its own (GOGC=). The daemon's live heap is about 2 MiB; at the runtime's
// default GOGC=100 the heap may double before a collection, and a burst of
// clients leaves it at twice its steady size. GOGC=50 collects at half again
// the live heap: measured (docs/performance.md) 5.1 → 4.6 MiB anonymous
// memory steady and 10.3 → 8.9 MiB after 400 concurrent scrapes, at the
// same CPU time. No GOMEMLIMIT: with 400 monitored units and a throttle
// reading every service, a 10 MiB soft limit had the collector run without
// pause, 30–40 % of a core in make bench's profile.
const defaultGCPercent = 50

func tuneRuntime() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
}
