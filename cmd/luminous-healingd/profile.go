package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
)

// profileEnv names a directory where the daemon writes a CPU profile of its
// whole run (cpu.pprof) and a heap profile at its stop (heap.pprof), for
// docs/performance.md's figures: set it with `systemctl edit` (an
// Environment= line) or `systemctl set-environment`, only while measuring.
// It is an environment variable, not an option, because only whoever can
// change the service's environment (root) should turn it on.
const profileEnv = "LUMINOUS_HEALING_PROFILE_DIR"

// startProfiles starts the CPU profile where profileEnv asks for one and
// returns what writes both at the stop.
func startProfiles(log *slog.Logger) func() {
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
	return func() {
		pprof.StopCPUProfile()
		cpu.Close()
		heap, err := os.Create(filepath.Join(dir, "heap.pprof"))
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
}
