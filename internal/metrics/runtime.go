package metrics

import (
	"bytes"
	"os"
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The go_ and process_ families, under the names Prometheus's Go client
// gives them, which dashboards (docs/grafana) and fleet alerts query:
// go_goroutines, go_memstats_heap_inuse_bytes, process_resident_memory_bytes,
// process_cpu_seconds_total, process_start_time_seconds among them. They
// are read when scraped and cost nothing between scrapes.

// goFamilies writes the Go runtime's figures, in name order.
func writeGo(b *bytes.Buffer) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	gc := debug.GCStats{PauseQuantiles: make([]time.Duration, 5)}
	debug.ReadGCStats(&gc)
	rt := []rtmetrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
	rtmetrics.Read(rt)
	threads, _ := runtime.ThreadCreateProfile(nil)

	header(b, "go_gc_duration_seconds", "Pause (stop-the-world) time of the garbage collections since start, as a summary.", "summary")
	for i, q := range []string{"0", "0.25", "0.5", "0.75", "1"} {
		b.WriteString(`go_gc_duration_seconds{quantile="` + q + `"} `)
		writeFloat(b, gc.PauseQuantiles[i].Seconds())
		b.WriteByte('\n')
	}
	line(b, "go_gc_duration_seconds_sum", gc.PauseTotal.Seconds())
	line(b, "go_gc_duration_seconds_count", float64(gc.NumGC))
	one(b, "go_gc_gogc_percent", "The garbage collector's GOGC setting (the daemon sets 50 unless GOGC is in its environment).", gaugeKind, sampleValue(rt[0]))
	one(b, "go_gc_gomemlimit_bytes", "The Go runtime's soft memory limit (GOMEMLIMIT).", gaugeKind, sampleValue(rt[1]))
	one(b, "go_goroutines", "Goroutines that exist now.", gaugeKind, float64(runtime.NumGoroutine()))
	header(b, "go_info", "The Go version the daemon was built with, as a label.", "gauge")
	b.WriteString(`go_info{version="` + runtime.Version() + "\"} 1\n")
	for _, m := range []struct {
		name, help string
		kind       kind
		v          float64
	}{
		{"go_memstats_alloc_bytes", "Heap bytes allocated and in use.", gaugeKind, float64(ms.HeapAlloc)},
		{"go_memstats_alloc_bytes_total", "Heap bytes allocated since start, freed or not.", counterKind, float64(ms.TotalAlloc)},
		{"go_memstats_buck_hash_sys_bytes", "Bytes of the profiling bucket hash table.", gaugeKind, float64(ms.BuckHashSys)},
		{"go_memstats_frees_total", "Heap objects freed since start.", counterKind, float64(ms.Frees)},
		{"go_memstats_gc_sys_bytes", "Bytes of the garbage collector's metadata.", gaugeKind, float64(ms.GCSys)},
		{"go_memstats_heap_alloc_bytes", "Heap bytes allocated and in use (as go_memstats_alloc_bytes).", gaugeKind, float64(ms.HeapAlloc)},
		{"go_memstats_heap_idle_bytes", "Heap bytes in spans with no object.", gaugeKind, float64(ms.HeapIdle)},
		{"go_memstats_heap_inuse_bytes", "Heap bytes in spans with at least one object.", gaugeKind, float64(ms.HeapInuse)},
		{"go_memstats_heap_objects", "Heap objects allocated and in use.", gaugeKind, float64(ms.HeapObjects)},
		{"go_memstats_heap_released_bytes", "Heap bytes returned to the operating system.", gaugeKind, float64(ms.HeapReleased)},
		{"go_memstats_heap_sys_bytes", "Heap bytes obtained from the operating system.", gaugeKind, float64(ms.HeapSys)},
		{"go_memstats_last_gc_time_seconds", "When the last garbage collection ended, in seconds since the epoch.", gaugeKind, float64(ms.LastGC) / 1e9},
		{"go_memstats_mallocs_total", "Heap objects allocated since start.", counterKind, float64(ms.Mallocs)},
		{"go_memstats_mcache_inuse_bytes", "Bytes of mcache structures in use.", gaugeKind, float64(ms.MCacheInuse)},
		{"go_memstats_mcache_sys_bytes", "Bytes of mcache structures obtained from the operating system.", gaugeKind, float64(ms.MCacheSys)},
		{"go_memstats_mspan_inuse_bytes", "Bytes of mspan structures in use.", gaugeKind, float64(ms.MSpanInuse)},
		{"go_memstats_mspan_sys_bytes", "Bytes of mspan structures obtained from the operating system.", gaugeKind, float64(ms.MSpanSys)},
		{"go_memstats_next_gc_bytes", "Heap size at which the next garbage collection starts.", gaugeKind, float64(ms.NextGC)},
		{"go_memstats_other_sys_bytes", "Bytes of other runtime allocations.", gaugeKind, float64(ms.OtherSys)},
		{"go_memstats_stack_inuse_bytes", "Bytes of goroutine stacks in use.", gaugeKind, float64(ms.StackInuse)},
		{"go_memstats_stack_sys_bytes", "Bytes of stacks obtained from the operating system.", gaugeKind, float64(ms.StackSys)},
		{"go_memstats_sys_bytes", "Bytes obtained from the operating system in all.", gaugeKind, float64(ms.Sys)},
	} {
		one(b, m.name, m.help, m.kind, m.v)
	}
	one(b, "go_sched_gomaxprocs_threads", "GOMAXPROCS: the threads that may run Go code at once.", gaugeKind, float64(runtime.GOMAXPROCS(0)))
	one(b, "go_threads", "Operating system threads the runtime created.", gaugeKind, float64(threads))
}

func sampleValue(s rtmetrics.Sample) float64 {
	switch s.Value.Kind() {
	case rtmetrics.KindUint64:
		return float64(s.Value.Uint64())
	case rtmetrics.KindFloat64:
		return s.Value.Float64()
	}
	return 0
}

// startTime is the process's start, in seconds since the epoch, from
// /proc (its start in clock ticks after boot, and the boot time); 0 when
// unreadable.
func startTime() float64 {
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 20 {
		return 0
	}
	ticks, err := strconv.ParseFloat(fields[19], 64) // starttime, field 22 of stat
	if err != nil {
		return 0
	}
	all, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	for l := range strings.Lines(string(all)) {
		if v, ok := strings.CutPrefix(l, "btime "); ok {
			boot, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0
			}
			return boot + ticks/100 // USER_HZ is 100 on Linux
		}
	}
	return 0
}

// writeProcess writes the process's figures, in name order; one that
// cannot be read is left out.
func writeProcess(b *bytes.Buffer, started float64) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		one(b, "process_cpu_seconds_total", "User and system CPU time the process used, in seconds.", counterKind, cpu.Seconds())
	}
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		one(b, "process_max_fds", "The process's limit of open file descriptors.", gaugeKind, float64(lim.Cur))
	}
	if rx, tx, ok := netDev(); ok {
		one(b, "process_network_receive_bytes_total", "Bytes received over the network namespace's interfaces.", counterKind, rx)
		one(b, "process_network_transmit_bytes_total", "Bytes sent over the network namespace's interfaces.", counterKind, tx)
	}
	if d, err := os.Open("/proc/self/fd"); err == nil {
		names, err := d.Readdirnames(-1)
		d.Close()
		if err == nil {
			one(b, "process_open_fds", "File descriptors the process has open.", gaugeKind, float64(len(names)))
		}
	}
	statm, err := os.ReadFile("/proc/self/statm")
	var size, resident float64
	if err == nil {
		f := strings.Fields(string(statm))
		if len(f) >= 2 {
			size, _ = strconv.ParseFloat(f[0], 64)
			resident, _ = strconv.ParseFloat(f[1], 64)
			page := float64(os.Getpagesize())
			one(b, "process_resident_memory_bytes", "Resident memory of the process (VmRSS), in bytes.", gaugeKind, resident*page)
		}
	}
	if started > 0 {
		one(b, "process_start_time_seconds", "When the process started, in seconds since the epoch.", gaugeKind, started)
	}
	if err == nil && size > 0 {
		one(b, "process_virtual_memory_bytes", "Virtual memory size of the process, in bytes.", gaugeKind, size*float64(os.Getpagesize()))
	}
	if syscall.Getrlimit(syscall.RLIMIT_AS, &lim) == nil {
		one(b, "process_virtual_memory_max_bytes", "The process's limit of virtual memory, in bytes.", gaugeKind, float64(lim.Cur))
	}
}

// netDev sums the bytes received and sent over the interfaces of the
// process's network namespace (/proc/self/net/dev).
func netDev() (rx, tx float64, ok bool) {
	data, err := os.ReadFile("/proc/self/net/dev")
	if err != nil {
		return 0, 0, false
	}
	for l := range strings.Lines(string(data)) {
		_, counters, found := strings.Cut(l, ":")
		if !found {
			continue
		}
		f := strings.Fields(counters)
		if len(f) < 9 {
			continue
		}
		r, err1 := strconv.ParseFloat(f[0], 64)
		t, err2 := strconv.ParseFloat(f[8], 64)
		if err1 == nil && err2 == nil {
			rx += r
			tx += t
		}
	}
	return rx, tx, true
}

// header writes a family's HELP and TYPE lines.
func header(b *bytes.Buffer, name, help, typ string) {
	b.WriteString("# HELP " + name + " ")
	writeEscaped(b, help, false)
	b.WriteString("\n# TYPE " + name + " " + typ + "\n")
}

// line writes one sample without labels.
func line(b *bytes.Buffer, name string, v float64) {
	b.WriteString(name)
	b.WriteByte(' ')
	writeFloat(b, v)
	b.WriteByte('\n')
}

// one writes a family of one sample without labels.
func one(b *bytes.Buffer, name, help string, k kind, v float64) {
	header(b, name, help, string(k))
	line(b, name, v)
}
