package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/testbed"
)

// TestBench is `make bench`'s side-by-side run (docs/performance.md): the
// daemon, Debian's monit at a 1 s cycle watching the same things and
// prometheus-node-exporter, on one throwaway systemd; then the daemon
// watching N = 1, 100, 400 and 1000 units. It prints a markdown table and
// writes it with the machine, versions and commands to out/bench.json and
// out/bench.md. It takes minutes, so it runs only with LUMINOUS_BENCH=1;
// LUMINOUS_BENCH_WINDOW (default 60s) sets the steady window,
// LUMINOUS_BENCH_TRIALS (default 20) the kills per healer, and
// LUMINOUS_BENCH_N (default "1,100,400,1000") the scaling run's sizes, and
// LUMINOUS_BENCH_OUT the output files' name without extension.
// Its figures are reported, never asserted: a loaded machine makes wall
// clock figures noisy, so CPU is CPU time (utime+stime from /proc) and
// writes are bytes and files.
func TestBench(t *testing.T) {
	if os.Getenv("LUMINOUS_BENCH") != "1" {
		t.Skip("the side-by-side benchmark runs with LUMINOUS_BENCH=1 (make bench)")
	}
	window := envDuration("LUMINOUS_BENCH_WINDOW", 60*time.Second)
	trials := envInt("LUMINOUS_BENCH_TRIALS", 20)
	var sizes []int
	for _, s := range strings.Split(envOr("LUMINOUS_BENCH_N", "1,100,400,1000"), ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && n > 0 {
			sizes = append(sizes, n)
		}
	}
	res := &benchResult{Started: time.Now().UTC(), Window: window.String(), Trials: trials, Machine: hostFacts(),
		Commands: []string{"make bench", fmt.Sprintf("LUMINOUS_BENCH=1 LUMINOUS_BENCH_WINDOW=%s LUMINOUS_BENCH_TRIALS=%d LUMINOUS_BENCH_N=%s go test -count=1 -timeout 60m -run '^TestBench$' -v ./internal/e2e/",
			window, trials, envOr("LUMINOUS_BENCH_N", "1,100,400,1000"))}}
	t.Run("footprint", func(t *testing.T) { benchFootprint(t, window, trials, res) })
	// Each N from 400 up is also measured at the default 60 s interval,
	// over a longer window: a clock tick is 0.017 % of a minute, and the
	// target there (issue 20, at 400 units) is 0.02 % for the three
	// processes together.
	// LUMINOUS_BENCH_SLOW_WINDOW sets that window (default 5m; 0 skips it).
	slow := envDuration("LUMINOUS_BENCH_SLOW_WINDOW", 5*time.Minute)
	if os.Getenv("LUMINOUS_BENCH_SLOW_WINDOW") == "0" {
		slow = 0
	}
	for _, n := range sizes {
		sw := time.Duration(0)
		if n >= 400 {
			sw = slow
		}
		t.Run(fmt.Sprintf("N=%d", n), func(t *testing.T) { benchScaling(t, n, window, trials, sw, res) })
	}
	res.Finished = time.Now().UTC()
	md := res.markdown()
	fmt.Print(md)
	// LUMINOUS_BENCH_OUT names the files without their extension
	// (default out/bench), so that two partial runs keep both.
	base := os.Getenv("LUMINOUS_BENCH_OUT")
	if base == "" {
		base = filepath.Join(repoRoot(t), "out", "bench")
	}
	os.MkdirAll(filepath.Dir(base), 0o755)
	data, _ := json.MarshalIndent(res, "", "  ")
	if err := os.WriteFile(base+".json", append(data, '\n'), 0o644); err != nil {
		t.Error(err)
	}
	if err := os.WriteFile(base+".md", []byte(md), 0o644); err != nil {
		t.Error(err)
	}
}

type benchResult struct {
	Started, Finished time.Time
	Window            string
	Trials            int
	Machine           map[string]string
	Commands          []string
	// Footprint: one row per figure, one column per program.
	Footprint []benchRow
	Scaling   []scaleRow
	Slow      []scaleRow `json:",omitempty"` // N ≥ 400 at the default 60 s interval
	Notes     []string
}

type benchRow struct {
	Figure string
	Daemon string `json:"luminous_healingd"`
	Monit  string `json:"monit"`
	Node   string `json:"node_exporter"`
	Target string `json:"target"`
}

type scaleRow struct {
	Units            int     `json:"units"`
	Interval         string  `json:"interval"`
	Window           string  `json:"window"`
	DaemonCPU        float64 `json:"daemon_cpu_percent"`
	SystemdCPU       float64 `json:"systemd_cpu_percent"`
	DbusCPU          float64 `json:"dbus_daemon_cpu_percent"`
	DaemonRSSKiB     uint64  `json:"daemon_rss_kib"`
	DaemonAnonKiB    uint64  `json:"daemon_rss_anon_kib"` // median of 6 samples through the window
	DaemonAnonMaxKiB uint64  `json:"daemon_rss_anon_max_kib"`
	// Go's own account of that memory at the same moment (its /metrics):
	// the heap in use, the heap goal (the live heap after the last
	// collection times 1 + GOGC/100), free heap not returned to the
	// system yet, and goroutine stacks.
	GoHeapInuseKiB uint64  `json:"go_heap_inuse_kib"`
	GoHeapGoalKiB  uint64  `json:"go_heap_goal_kib"`
	GoHeapIdleKiB  uint64  `json:"go_heap_idle_unreleased_kib"`
	GoStackKiB     uint64  `json:"go_stack_kib"`
	HealP50Millis  float64 `json:"heal_p50_ms"`
	HealP95Millis  float64 `json:"heal_p95_ms"`
	// HealCPUMillis is the CPU time one heal costs the daemon, systemd
	// and dbus-daemon, over their steady rate.
	HealCPUMillis [3]float64 `json:"heal_cpu_ms"`
	HealTrials    int        `json:"heal_trials"`
	GCCycles      int        `json:"daemon_gc_cycles"`
}

func (r *benchResult) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n## Side by side (window %s, %d kills per healer)\n\n", r.Window, r.Trials)
	b.WriteString("| figure | luminous-healingd | monit | node_exporter | target |\n|---|---|---|---|---|\n")
	for _, row := range r.Footprint {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", row.Figure, row.Daemon, row.Monit, row.Node, row.Target)
	}
	r.scalingMarkdown(&b)
	b.WriteString("\nMachine: ")
	keys := make([]string, 0, len(r.Machine))
	for k := range r.Machine {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s; ", k, r.Machine[k])
	}
	b.WriteString("\n\nCommand: `" + r.Commands[1] + "`\n")
	for _, n := range r.Notes {
		b.WriteString("\n- " + n)
	}
	b.WriteString("\n")
	return b.String()
}

// scalingMarkdown writes the N-scaling tables: RSS per unit is the growth
// over the smallest N's row, per unit added.
func (r *benchResult) scalingMarkdown(b *strings.Builder) {
	if len(r.Scaling) == 0 {
		return
	}
	fmt.Fprintf(b, "\n## N monitored units, interval 1 s (window %s; share of one core)\n\n", r.Window)
	b.WriteString("| units | luminous-healingd | systemd (PID 1) | dbus-daemon | daemon RSS (anonymous, median) | anonymous RSS per unit over the first row | daemon GC cycles | heal p50, p95 | CPU per heal: daemon, systemd, dbus-daemon |\n|---|---|---|---|---|---|---|---|---|\n")
	first := r.Scaling[0]
	for _, s := range r.Scaling {
		per := "—"
		if s.Units > first.Units {
			per = fmt.Sprintf("%.2f KiB", (float64(s.DaemonAnonKiB)-float64(first.DaemonAnonKiB))/float64(s.Units-first.Units))
		}
		fmt.Fprintf(b, "| %d | %.2f %% | %.2f %% | %.2f %% | %.1f MiB (%.1f MiB) | %s | %d | %.1f ms, %.1f ms (%d) | %.1f, %.1f, %.1f ms |\n", s.Units, s.DaemonCPU, s.SystemdCPU, s.DbusCPU,
			float64(s.DaemonRSSKiB)/1024, float64(s.DaemonAnonKiB)/1024, per, s.GCCycles, s.HealP50Millis, s.HealP95Millis, s.HealTrials, s.HealCPUMillis[0], s.HealCPUMillis[1], s.HealCPUMillis[2])
	}
	b.WriteString("\nWhere the anonymous RSS goes, by the Go runtime's account at the window's end (KiB):\n\n| units | RssAnon median, max | heap in use | heap goal | free heap not yet returned | stacks |\n|---|---|---|---|---|---|\n")
	for _, s := range r.Scaling {
		fmt.Fprintf(b, "| %d | %d, %d | %d | %d | %d | %d |\n", s.Units, s.DaemonAnonKiB, s.DaemonAnonMaxKiB, s.GoHeapInuseKiB, s.GoHeapGoalKiB, s.GoHeapIdleKiB, s.GoStackKiB)
	}
	for _, s := range r.Slow {
		fmt.Fprintf(b, "\n%d units at interval %s (window %s): daemon %.3f %%, systemd %.3f %%, dbus-daemon %.3f %%, together %.3f %% of a core (one clock tick is %.4f %%)\n",
			s.Units, s.Interval, s.Window, s.DaemonCPU, s.SystemdCPU, s.DbusCPU, s.DaemonCPU+s.SystemdCPU+s.DbusCPU, cpuShare(1, mustDuration(s.Window)))
	}
}

func mustDuration(s string) time.Duration {
	d, _ := time.ParseDuration(s)
	return d
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil && d > 0 {
		return d
	}
	return def
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func firstLine(argv ...string) string {
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil && len(out) == 0 {
		return "?"
	}
	l, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return l
}

func hostFacts() map[string]string {
	model := "?"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for l := range strings.SplitSeq(string(data), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	load, _ := os.ReadFile("/proc/loadavg")
	return map[string]string{
		"cpu":           fmt.Sprintf("%d × %s", runtime.NumCPU(), model),
		"kernel":        firstLine("uname", "-r"),
		"load_at_start": strings.Join(strings.Fields(string(load))[:3], " "),
		"go":            runtime.Version(),
		"systemd":       firstLine("systemctl", "--version"),
		"monit":         firstLine("monit", "-V"),
		"node_exporter": firstLine("prometheus-node-exporter", "--version"),
		"dbus":          firstLine("dbus-daemon", "--version"),
		"commit":        firstLine("git", "-C", "../..", "describe", "--always", "--dirty"),
	}
}

// procFigures are one process's counters, read inside the machine.
type procFigures struct {
	ticks  uint64 // utime+stime, clock ticks (100 a second)
	rssKiB uint64
	// anonKiB is RssAnon: the heap, stacks and runtime, without the
	// binary's pages, which vary between boots by a MiB or more.
	anonKiB uint64
	wchar   uint64 // bytes passed to write(2) and the like: files, sockets, pipes
	wbytes  uint64 // bytes sent to storage (0 on the testbed's tmpfs)
}

func (m *machine) procFigures(pid string) procFigures {
	m.t.Helper()
	out, err := m.run("sh", "-c", "cat /proc/"+pid+"/stat; echo; cat /proc/"+pid+"/status /proc/"+pid+"/io")
	if err != nil {
		m.t.Fatalf("read /proc/%s: %v", pid, err)
	}
	var f procFigures
	stat, rest, _ := strings.Cut(out, "\n")
	if i := strings.LastIndexByte(stat, ')'); i > 0 {
		fs := strings.Fields(stat[i+2:])
		u, _ := strconv.ParseUint(fs[11], 10, 64)
		k, _ := strconv.ParseUint(fs[12], 10, 64)
		f.ticks = u + k
	}
	for l := range strings.SplitSeq(rest, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		fs := strings.Fields(v)
		if len(fs) == 0 {
			continue
		}
		n, _ := strconv.ParseUint(fs[0], 10, 64)
		switch k {
		case "VmRSS":
			f.rssKiB = n
		case "RssAnon":
			f.anonKiB = n
		case "wchar":
			f.wchar = n
		case "write_bytes":
			f.wbytes = n
		}
	}
	return f
}

// gcCycles is the daemon's count of garbage collections so far, from its
// own /metrics (go_gc_duration_seconds_count); -1 when unreadable.
func (m *machine) gcCycles() int {
	out, err := m.run("curl", "-s", "http://127.0.0.1:9955/metrics")
	if err != nil {
		return -1
	}
	for l := range strings.SplitSeq(out, "\n") {
		if v, ok := strings.CutPrefix(l, "go_gc_duration_seconds_count "); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return -1
}

// goMemory is the daemon's go_memstats_* gauges from its /metrics, in
// bytes; empty when unreadable.
func (m *machine) goMemory() map[string]uint64 {
	out := map[string]uint64{}
	text, err := m.run("curl", "-s", "http://127.0.0.1:9955/metrics")
	if err != nil {
		return out
	}
	for l := range strings.SplitSeq(text, "\n") {
		name, v, ok := strings.Cut(l, " ")
		if !ok || !strings.HasPrefix(name, "go_memstats_") {
			continue
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			out[name] = uint64(f)
		}
	}
	return out
}

func cpuShare(ticks uint64, d time.Duration) float64 { return float64(ticks) / d.Seconds() } // % of one core

func mib(kib uint64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }

// healTimes kills unit trials times, each once it is running again, and
// returns how long systemd's own journal says each took from the main
// process's death to the unit started again.
func (m *machine) healTimes(unit string, trials int, gap time.Duration) []time.Duration {
	m.t.Helper()
	t0 := time.Now()
	for range trials {
		pid := m.prop(unit, "MainPID")
		m.MustRun(m.t, "systemctl", "kill", "--signal=KILL", unit)
		m.waitFor(30*time.Second, unit+" running again", func() bool {
			p := m.prop(unit, "MainPID")
			return m.isActive(unit) && p != pid && p != "0"
		})
		time.Sleep(gap)
	}
	var out []time.Duration
	var died time.Time
	for _, e := range m.journal(unit, t0, messageHas("Main process exited", "Started ")) {
		ts := at(e)
		if s := e.Field("_SOURCE_REALTIME_TIMESTAMP"); s != "" {
			if us, err := strconv.ParseInt(s, 10, 64); err == nil {
				ts = time.UnixMicro(us)
			}
		}
		switch {
		case strings.Contains(e.Field("MESSAGE"), "Main process exited"):
			died = ts
		case !died.IsZero():
			out = append(out, ts.Sub(died))
			died = time.Time{}
		}
	}
	slices.Sort(out)
	return out
}

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[min(len(ds)-1, int(p*float64(len(ds))))]
}

func healCell(ds []time.Duration) string {
	if len(ds) == 0 {
		return "—"
	}
	return fmt.Sprintf("p50 %s, p95 %s (%d)", pct(ds, 0.5).Round(100*time.Microsecond), pct(ds, 0.95).Round(100*time.Microsecond), len(ds))
}

const benchThresholds = `
[thresholds]
cpu = 100.0
memory = 100.0
disk = 100.0
load_average = 1000.0
`

// benchMonitrc watches what the daemon's configuration does: the system's CPU,
// memory and load, the root file system, and one service, restarted when
// its process is gone, at a 1 s cycle.
const benchMonitrc = `set daemon 1
set log syslog
set statefile /var/lib/monit/state
set idfile /var/lib/monit/id
check system lhbench
  if cpu usage > 100% then alert
  if memory usage > 100% then alert
  if loadavg (1min) > 1000 then alert
check filesystem rootfs with path /
  if space usage > 100% then alert
check process lh-mon matching "sleep 1000002"
  start program = "/bin/systemctl start lh-mon.service"
  stop program = "/bin/systemctl stop lh-mon.service"
`

func benchFootprint(t *testing.T, window time.Duration, trials int, res *benchResult) {
	cfg := benchThresholds + `
[monitoring]
interval = "1s"
metrics = true
[healing]
max_attempts = 100
max_actions_per_minute = 1000
stable_after = "1s"
backoff = "100ms"
[predictive]
enabled = true
[services]
monitored = ["lh-web.service"]
`
	m := bootInstalled(t, boot{config: cfg,
		units: map[string]testbed.File{
			"lh-web.service": unitFile("/bin/sleep 1000001"),
			"lh-mon.service": unitFile("/bin/sleep 1000002"),
			// systemd's own Restart=on-failure at its default RestartSec (100 ms).
			"lh-sd.service": unitFile("/bin/sleep 1000003", "Restart=on-failure"),
		},
		files: map[string]testbed.File{"/etc/lh-monitrc": {Data: []byte(benchMonitrc), Mode: 0o600}},
		start: []string{"lh-web.service", "lh-mon.service", "lh-sd.service"}})
	m.Run(t.Context(), "systemctl", "stop", "monit.service")
	m.MustRun(t, "mkdir", "-p", "/var/lib/monit")
	m.MustRun(t, "systemd-run", "--unit=lh-monit", "--property=Type=simple", "/usr/bin/monit", "-I", "-c", "/etc/lh-monitrc")
	m.MustRun(t, "systemctl", "start", "prometheus-node-exporter.service")
	daemon := m.prop("luminous-healing.service", "MainPID")
	monit := m.prop("lh-monit.service", "MainPID")
	node := m.prop("prometheus-node-exporter.service", "MainPID")
	m.waitFor(10*time.Second, "every program running", func() bool {
		return m.isActive("lh-monit.service") && m.isActive("prometheus-node-exporter.service")
	})

	// Start to READY: Type=notify, so ActiveEnter is READY=1.
	ready := m.readyTimes("luminous-healing.service", 5)
	readyParts := benchReadyParts(t, m, 5)
	daemon = m.prop("luminous-healing.service", "MainPID")
	m.settle(daemon) // past start-up: the first samples, the first writes

	// Steady window: nothing changes.
	m.MustRun(t, "touch", "/run/lh-bench-mark")
	g0 := m.gcCycles()
	p0 := map[string]procFigures{"d": m.procFigures(daemon), "m": m.procFigures(monit), "n": m.procFigures(node)}
	time.Sleep(window)
	p1 := map[string]procFigures{"d": m.procFigures(daemon), "m": m.procFigures(monit), "n": m.procFigures(node)}
	g1 := m.gcCycles()
	changed := func(dir string) string {
		out, _ := m.run("sh", "-c", "find "+dir+" -type f -newer /run/lh-bench-mark 2>/dev/null | wc -l")
		return strings.TrimSpace(out)
	}
	dFiles, mFiles := changed("/var/lib/luminous-healing"), changed("/var/lib/monit")

	// /metrics and node_exporter's, keep-alive: curl reuses one
	// connection for every URL of one run.
	metricsP50 := func(url string, n int) (time.Duration, int) {
		args := []string{"curl", "-s", "-w", "%{time_total} %{size_download}\\n"}
		for range n {
			args = append(args, "-o", "/dev/null", url)
		}
		out, err := m.run(args...)
		if err != nil {
			t.Logf("curl %s: %v", url, err)
			return 0, 0
		}
		var ds []time.Duration
		size := 0
		for l := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
			var s float64
			fmt.Sscanf(l, "%g %d", &s, &size)
			ds = append(ds, time.Duration(s*float64(time.Second)))
		}
		slices.Sort(ds)
		return pct(ds[1:], 0.5), size // the first pays for the connection
	}
	dm, dsize := metricsP50("http://127.0.0.1:9955/metrics", 101)
	nm, nsize := metricsP50("http://127.0.0.1:9100/metrics", 101)

	// 400 concurrent healingctl status.
	var wg sync.WaitGroup
	fails := 0
	var mu sync.Mutex
	for range 400 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := m.Run(t.Context(), "healingctl", "status"); err != nil {
				mu.Lock()
				fails++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	afterLoad := m.procFigures(daemon)

	// Time to heal, 20 kills each.
	dh := m.healTimes("lh-web.service", trials, 1500*time.Millisecond)
	mh := m.healTimes("lh-mon.service", trials, 1500*time.Millisecond)
	// systemd's start limit (5 starts in 10 s) would end the unit's
	// restarts: a kill every 2.1 s stays under it.
	sh := m.healTimes("lh-sd.service", trials, 2100*time.Millisecond)

	d := func(k string) procFigures {
		return procFigures{ticks: p1[k].ticks - p0[k].ticks, rssKiB: p1[k].rssKiB, wchar: p1[k].wchar - p0[k].wchar, wbytes: p1[k].wbytes - p0[k].wbytes}
	}
	D, M, N := d("d"), d("m"), d("n")
	res.Footprint = []benchRow{
		{"RSS, steady", mib(D.rssKiB), mib(M.rssKiB), mib(N.rssKiB), "≤ 8 MiB"},
		{fmt.Sprintf("RSS after 400 concurrent `healingctl status` (%d failed)", fails), mib(afterLoad.rssKiB), "—", "—", "≤ 12 MiB"},
		{"CPU, share of one core (utime+stime over the window; a tick is " + fmt.Sprintf("%.3f %%", cpuShare(1, window)) + ")",
			fmt.Sprintf("%.3f %%", cpuShare(D.ticks, window)), fmt.Sprintf("%.3f %%", cpuShare(M.ticks, window)), fmt.Sprintf("%.3f %%", cpuShare(N.ticks, window)), "≤ 0.1 %"},
		{"garbage collections in the window (go_gc_duration_seconds_count)", fmt.Sprint(g1 - g0), "—", "—", "—"},
		{"state files modified in the window", dFiles + " files", mFiles + " files", "— (none kept)", "0"},
		{"bytes written (wchar: files, sockets, pipes) in the window", fmt.Sprint(D.wchar), fmt.Sprint(M.wchar), fmt.Sprint(N.wchar), "—"},
		{"time to heal a SIGKILLed unit (death → started, journal)", healCell(dh), healCell(mh), "— (systemd `Restart=on-failure`, RestartSec 100 ms: " + healCell(sh) + ")", "p50 ≤ 20 ms"},
		{"start to READY (5 restarts)", fmt.Sprintf("p50 %s", pct(ready, 0.5).Round(100*time.Microsecond)), "—", "—", "≤ 50 ms"},
		readyParts[0], readyParts[1],
		{"`/metrics` p50, keep-alive (100 requests)", fmt.Sprintf("%s (%d B)", dm.Round(10*time.Microsecond), dsize), "—", fmt.Sprintf("%s (%d B)", nm.Round(10*time.Microsecond), nsize), "≤ 1 ms"},
	}
	for _, row := range res.Footprint {
		report(t, "%s: daemon %s, monit %s, node_exporter %s", row.Figure, row.Daemon, row.Monit, row.Node)
	}
}

func benchScaling(t *testing.T, n int, window time.Duration, trials int, slow time.Duration, res *benchResult) {
	units := map[string]testbed.File{}
	var names, quoted []string
	for i := range n {
		name := fmt.Sprintf("lh-s%04d.service", i)
		units[name] = unitFile("/bin/sleep infinity")
		names = append(names, name)
		quoted = append(quoted, `"`+name+`"`)
	}
	// No action limit: the trials kill one unit every 1.5 s or so.
	// Metrics on: the Go runtime's account of its memory is read there.
	config := func(interval string) string {
		return benchThresholds + "[monitoring]\ninterval = \"" + interval + "\"\nmetrics = true\n[predictive]\nenabled = false\n" +
			"[healing]\nstable_after = \"1s\"\nmax_actions_per_minute = 1000\n" +
			"[services]\nmonitored = [" + strings.Join(quoted, ", ") + "]\n"
	}
	m := bootInstalled(t, boot{config: config("1s"), units: units, start: names})
	profile := os.Getenv("LUMINOUS_BENCH_PROFILE") == "1"
	if profile {
		// The daemon writes cpu.pprof at its stop and heap.pprof as the
		// stop is asked for (cmd/luminous-healingd/profile.go). A heap
		// sample every 512 bytes rather than every 512 KiB: what each
		// unit costs is below the default's resolution.
		m.MustRun(t, "systemctl", "set-environment", "LUMINOUS_HEALING_PROFILE_DIR=/var/lib/luminous-healing", "GODEBUG=memprofilerate=512")
		m.MustRun(t, "systemctl", "restart", "luminous-healing.service")
	}
	row := m.scaleWindow(n, "1s", window)
	// The CPU each heal costs the three processes, over the steady rate:
	// CPU time holds on a loaded machine, where the wall clock does not.
	daemon, bus := m.prop("luminous-healing.service", "MainPID"), m.prop("dbus.service", "MainPID")
	th := time.Now()
	d0, s0, b0 := m.procFigures(daemon), m.procFigures("1"), m.procFigures(bus)
	hs := m.healTimes(names[n-1], trials, 1500*time.Millisecond)
	d1, s1, b1 := m.procFigures(daemon), m.procFigures("1"), m.procFigures(bus)
	span := time.Since(th)
	perHeal := func(ticks uint64, steady float64) float64 { // ms of CPU
		if len(hs) == 0 {
			return 0
		}
		ms := float64(ticks)*10 - steady/100*float64(span.Milliseconds())
		return max(ms, 0) / float64(len(hs))
	}
	row.HealCPUMillis = [3]float64{perHeal(d1.ticks-d0.ticks, row.DaemonCPU), perHeal(s1.ticks-s0.ticks, row.SystemdCPU), perHeal(b1.ticks-b0.ticks, row.DbusCPU)}
	if testing.Verbose() {
		// What the daemon and systemd did, with timestamps, for the record.
		out, _ := m.run("journalctl", "--no-pager", "-o", "short-precise", "--since", fmt.Sprintf("@%d", th.Unix()), "-u", "luminous-healing.service", "-u", names[n-1])
		t.Logf("journal of the heals:\n%s", out)
	}
	row.HealTrials = len(hs)
	row.HealP50Millis = float64(pct(hs, 0.5).Microseconds()) / 1000
	row.HealP95Millis = float64(pct(hs, 0.95).Microseconds()) / 1000
	res.Scaling = append(res.Scaling, row)
	// The profiles cover the steady window and the heals; the heal
	// figures of a profiled run are the profiler's too.
	collect := func(name string) {
		m.MustRun(t, "systemctl", "stop", "luminous-healing.service")
		for _, f := range []string{"cpu.pprof", "heap.pprof"} {
			data, err := m.ReadFile("/var/lib/luminous-healing/" + f)
			if err != nil {
				t.Errorf("profile: %v", err)
				continue
			}
			out := filepath.Join(repoRoot(t), "out", fmt.Sprintf("profile-%s-%s", name, f))
			os.MkdirAll(filepath.Dir(out), 0o755)
			os.WriteFile(out, data, 0o644)
			t.Logf("profile: %s", out)
		}
	}
	if profile {
		collect(fmt.Sprintf("N%d", n))
		if slow <= 0 {
			m.MustRun(t, "systemctl", "unset-environment", "LUMINOUS_HEALING_PROFILE_DIR", "GODEBUG")
		}
		m.MustRun(t, "systemctl", "start", "luminous-healing.service")
	}
	report(t, "%d units: CPU daemon %.2f %%, systemd %.2f %%, dbus-daemon %.2f %%; daemon RSS %s (anonymous %s); heal p50 %.1f ms, p95 %.1f ms (%d), CPU per heal %.1f, %.1f, %.1f ms", n, row.DaemonCPU, row.SystemdCPU, row.DbusCPU, mib(row.DaemonRSSKiB), mib(row.DaemonAnonKiB), row.HealP50Millis, row.HealP95Millis, len(hs), row.HealCPUMillis[0], row.HealCPUMillis[1], row.HealCPUMillis[2])

	if slow <= 0 {
		return
	}
	if err := m.WriteFile("/etc/luminous-healing/config.toml", []byte(config("60s")), 0o644); err != nil {
		t.Fatal(err)
	}
	m.MustRun(t, "systemctl", "reload", "luminous-healing.service")
	s := m.scaleWindow(n, "60s", slow)
	res.Slow = append(res.Slow, s)
	if profile {
		// The 60 s window has profiles of its own.
		collect(fmt.Sprintf("N%d-60s", n))
		m.MustRun(t, "systemctl", "unset-environment", "LUMINOUS_HEALING_PROFILE_DIR", "GODEBUG")
		m.MustRun(t, "systemctl", "start", "luminous-healing.service")
	}
	report(t, "%d units at interval 60s over %s: CPU daemon %.3f %%, systemd %.3f %%, dbus-daemon %.3f %%, together %.3f %%", n, slow, s.DaemonCPU, s.SystemdCPU, s.DbusCPU, s.DaemonCPU+s.SystemdCPU+s.DbusCPU)
}

// scaleWindow measures the daemon, systemd and dbus-daemon over window,
// once the daemon has settled.
func (m *machine) scaleWindow(n int, interval string, window time.Duration) scaleRow {
	daemon := m.prop("luminous-healing.service", "MainPID")
	bus := m.prop("dbus.service", "MainPID")
	m.settle(daemon)
	g0 := m.gcCycles()
	d0, s0, b0 := m.procFigures(daemon), m.procFigures("1"), m.procFigures(bus)
	// The anonymous RSS moves with the collector and the batched read
	// once a minute: it is sampled through the window, and the median
	// reported.
	var anon []uint64
	const samples = 6
	for range samples {
		time.Sleep(window / samples)
		anon = append(anon, m.procFigures(daemon).anonKiB)
	}
	d1, s1, b1 := m.procFigures(daemon), m.procFigures("1"), m.procFigures(bus)
	g1 := m.gcCycles()
	ms := m.goMemory()
	slices.Sort(anon)
	return scaleRow{GoHeapInuseKiB: ms["go_memstats_heap_inuse_bytes"] / 1024, GoHeapGoalKiB: ms["go_memstats_next_gc_bytes"] / 1024,
		GoHeapIdleKiB: (ms["go_memstats_heap_idle_bytes"] - min(ms["go_memstats_heap_released_bytes"], ms["go_memstats_heap_idle_bytes"])) / 1024,
		GoStackKiB:    ms["go_memstats_stack_inuse_bytes"] / 1024,
		Units:         n, Interval: interval, Window: window.String(),
		DaemonCPU: cpuShare(d1.ticks-d0.ticks, window), SystemdCPU: cpuShare(s1.ticks-s0.ticks, window),
		DbusCPU: cpuShare(b1.ticks-b0.ticks, window), DaemonRSSKiB: d1.rssKiB, DaemonAnonKiB: anon[len(anon)/2], DaemonAnonMaxKiB: anon[len(anon)-1], GCCycles: g1 - g0}
}
