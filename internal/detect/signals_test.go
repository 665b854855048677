package detect

import (
	"bufio"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// machine copies testdata/<name>/proc into a fresh directory, so a test may
// rewrite a file in place between passes, and returns that proc root.
func machine(t *testing.T, name string) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "proc")
	if err := os.CopyFS(root, os.DirFS(filepath.Join("testdata", name, "proc"))); err != nil {
		t.Fatal(err)
	}
	return root
}

// rewrite replaces a file's content in place: the sampler keeps its /proc
// files open, as it would the real ones.
func rewrite(t *testing.T, path, from string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// fixtureStatfs answers statfs from testdata/<name>/statfs, a line per mount
// with the raw statfs(2) fields, through the same conversion as the real
// one. Other paths do not exist.
func fixtureStatfs(t *testing.T, name string) func(string) (Mount, error) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name, "statfs"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fixed := map[string]unix.Statfs_t{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if len(fields) != 7 {
			t.Fatalf("statfs fixture line %q: want 7 fields", sc.Text())
		}
		var n [6]uint64
		for i := range n {
			if n[i], err = strconv.ParseUint(fields[i+1], 10, 64); err != nil {
				t.Fatal(err)
			}
		}
		fixed[fields[0]] = unix.Statfs_t{Frsize: int64(n[0]), Bsize: int64(n[0]), Blocks: n[1], Bfree: n[2], Bavail: n[3], Files: n[4], Ffree: n[5]}
	}
	return func(path string) (Mount, error) {
		st, ok := fixed[path]
		if !ok {
			return Mount{}, &os.PathError{Op: "statfs", Path: path, Err: unix.ENOENT}
		}
		return mountFromStatfs(path, &st), nil
	}
}

// value is a reading as the tests state it.
type value struct {
	id    string
	value float64
}

func readings(snap *Snapshot) []value {
	var out []value
	for _, r := range snap.Readings {
		out = append(out, value{r.ID, r.Value})
	}
	return out
}

func sameReadings(got, want []value) bool {
	return slices.EqualFunc(got, want, func(a, b value) bool {
		return a.id == b.id && math.Abs(a.value-b.value) < 1e-9
	})
}

func TestSampleOnEachMachine(t *testing.T) {
	tests := []struct {
		name    string
		machine string
		first   []value // the first pass: no cpu, it has no previous counters
		cpu     float64
		mounts  []Mount
	}{
		{
			name:    "a plain Debian box watches / only and reads PSI",
			machine: "debian",
			first: []value{
				{"disk:/", 90}, {"inodes:/", 25},
				{"load", 0.52},
				{"memory", 75},
				{"pressure:cpu", 1.23}, {"pressure:memory", 0}, {"pressure:io", 4.56},
			},
			cpu: 25,
			mounts: []Mount{
				{Path: "/", TotalBytes: 10500000 * 4096, FreeBytes: 1000000 * 4096, UsedBytes: 9000000 * 4096, TotalInodes: 655360, FreeInodes: 491520},
			},
		},
		{
			name:    "a NixOS box watches /, /nix and /boot and skips inodes where the filesystem has none",
			machine: "nixos",
			first: []value{
				{"disk:/", 25}, {"inodes:/", 10},
				{"disk:/nix", 80},
				{"disk:/boot", 75},
				{"load", 3.75},
				{"memory", 87.5},
				{"pressure:cpu", 12.5}, {"pressure:memory", 30}, {"pressure:io", 7.25},
			},
			cpu: 76,
			mounts: []Mount{
				{Path: "/", TotalBytes: 1050000 * 4096, FreeBytes: 750000 * 4096, UsedBytes: 250000 * 4096, TotalInodes: 100000, FreeInodes: 90000},
				{Path: "/nix", TotalBytes: 101000000 * 4096, FreeBytes: 20000000 * 4096, UsedBytes: 80000000 * 4096},
				{Path: "/boot", TotalBytes: 131072 * 4096, FreeBytes: 32768 * 4096, UsedBytes: 98304 * 4096},
			},
		},
		{
			name:    "a box without /proc/pressure gives no pressure readings and no error",
			machine: "nopsi",
			first: []value{
				{"disk:/", 25}, {"inodes:/", 5},
				{"disk:/boot", 90}, {"inodes:/boot", 5},
				{"load", 0},
				{"memory", 25},
			},
			cpu: 30,
			mounts: []Mount{
				{Path: "/", TotalBytes: 5250000 * 4096, FreeBytes: 3750000 * 4096, UsedBytes: 1250000 * 4096, TotalInodes: 1000000, FreeInodes: 950000},
				{Path: "/boot", TotalBytes: 210000 * 1024, FreeBytes: 20000 * 1024, UsedBytes: 180000 * 1024, TotalInodes: 64000, FreeInodes: 60800},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proc := machine(t, tt.machine)
			s, err := NewSampler(Options{ProcRoot: proc, Statfs: fixtureStatfs(t, tt.machine)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })

			var snap Snapshot
			if err := s.Sample(t.Context(), &snap); err != nil {
				t.Fatalf("first pass: %v", err)
			}
			if got := readings(&snap); !sameReadings(got, tt.first) {
				t.Errorf("first pass readings:\ngot  %v\nwant %v", got, tt.first)
			}
			if !slices.Equal(snap.Mounts, tt.mounts) {
				t.Errorf("mounts:\ngot  %+v\nwant %+v", snap.Mounts, tt.mounts)
			}
			if snap.Time.IsZero() {
				t.Error("got a zero snapshot time; want the time of the pass")
			}

			rewrite(t, filepath.Join(proc, "stat"), filepath.Join("testdata", tt.machine, "stat.next"))
			if err := s.Sample(t.Context(), &snap); err != nil {
				t.Fatalf("second pass: %v", err)
			}
			wantSecond := append([]value{{"cpu", tt.cpu}}, tt.first...)
			if got := readings(&snap); !sameReadings(got, wantSecond) {
				t.Errorf("second pass readings:\ngot  %v\nwant %v", got, wantSecond)
			}
		})
	}
}

func TestSampleMalformedFiles(t *testing.T) {
	s, err := NewSampler(Options{ProcRoot: machine(t, "malformed"), Mounts: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var snap Snapshot
	err = s.Sample(t.Context(), &snap)

	t.Run("each broken file is named in its own error", func(t *testing.T) {
		var got []string
		for _, se := range SignalErrors(err) {
			got = append(got, se.Signal+": "+se.Err.Error())
		}
		wantParts := [][2]string{
			{"cpu", "bad counter"},
			{"load", "bad 1-minute load average"},
			{"memory", "no MemAvailable line"},
			{"pressure", "pressure/cpu: bad avg10"},
			{"pressure", `pressure/memory: first line is not the "some" line`},
		}
		if len(got) != len(wantParts) {
			t.Fatalf("got %d errors %q; want %d", len(got), got, len(wantParts))
		}
		for i, w := range wantParts {
			if !strings.HasPrefix(got[i], w[0]+": ") || !strings.Contains(got[i], w[1]) {
				t.Errorf("error %d: got %q; want one from %s mentioning %q", i, got[i], w[0], w[1])
			}
		}
	})
	t.Run("the files that parse still give readings", func(t *testing.T) {
		want := []value{{"pressure:io", 2}}
		if got := readings(&snap); !sameReadings(got, want) {
			t.Errorf("got %v; want %v", got, want)
		}
	})
}

func TestDiskMountThatVanished(t *testing.T) {
	gone := filepath.Join(t.TempDir(), "gone")
	tests := []struct {
		name      string
		mounts    []string
		statfs    func(string) (Mount, error)
		wantIDs   []string
		wantMount string
	}{
		{
			name:      "a missing mount among good ones is reported and the others are still measured",
			mounts:    []string{"/", "/data", "/boot"},
			statfs:    fixtureStatfs(t, "nopsi"),
			wantIDs:   []string{"disk:/", "inodes:/", "disk:/boot", "inodes:/boot"},
			wantMount: "/data",
		},
		{
			name:      "the real statfs names the path that does not exist",
			mounts:    []string{gone},
			wantMount: gone,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSampler(Options{ProcRoot: machine(t, "nopsi"), Mounts: tt.mounts, Statfs: tt.statfs})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			var snap Snapshot
			err = s.Sample(t.Context(), &snap)
			ses := SignalErrors(err)
			if len(ses) != 1 || ses[0].Signal != "disk" || ses[0].Mount != tt.wantMount || !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("got error %v; want one disk error for %s that is fs.ErrNotExist", err, tt.wantMount)
			}
			if !strings.Contains(err.Error(), "sample disk "+tt.wantMount+": ") {
				t.Errorf("got message %q; want it to start with the signal and mount", err)
			}
			var got []string
			for _, r := range snap.Readings {
				if r.Kind == "disk" {
					got = append(got, r.ID)
				}
			}
			if !slices.Equal(got, tt.wantIDs) {
				t.Errorf("got disk readings %q; want %q", got, tt.wantIDs)
			}
			if len(snap.Mounts) != len(tt.mounts)-1 {
				t.Errorf("got %d mounts; want %d", len(snap.Mounts), len(tt.mounts)-1)
			}
		})
	}
}

func TestCPUCounters(t *testing.T) {
	line := func(s string) string { return "cpu  " + s + "\ncpu0 1 1 1 1\n" }
	tests := []struct {
		name   string
		passes []string
		want   []float64 // the cpu reading after each pass; NaN for none
	}{
		{
			name:   "the first pass gives no reading",
			passes: []string{line("100 0 100 800 0 0 0 0 0 0")},
			want:   []float64{math.NaN()},
		},
		{
			name:   "guest time is not counted twice and iowait is idle",
			passes: []string{line("100 0 0 100 0 0 0 0 0 0"), line("200 0 0 100 100 0 0 0 100 0")},
			want:   []float64{math.NaN(), 50},
		},
		{
			name:   "steal, irq and softirq are busy",
			passes: []string{line("0 0 0 0 0 0 0 0 0 0"), line("0 0 0 70 0 10 10 10 0 0")},
			want:   []float64{math.NaN(), 30},
		},
		{
			name:   "a kernel with four counters still works",
			passes: []string{line("10 10 10 10"), line("20 20 20 40")},
			want:   []float64{math.NaN(), 50},
		},
		{
			name:   "counters that went backwards skip one pass and restart from there",
			passes: []string{line("1000 0 0 1000"), line("500 0 0 1100"), line("600 0 0 1400")},
			want:   []float64{math.NaN(), math.NaN(), 25},
		},
		{
			name:   "no tick between passes gives no reading",
			passes: []string{line("10 0 0 10"), line("10 0 0 10")},
			want:   []float64{math.NaN(), math.NaN()},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proc := machine(t, "nopsi")
			stat := filepath.Join(proc, "stat")
			s, err := NewSampler(Options{ProcRoot: proc, Mounts: []string{}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			var snap Snapshot
			for i, p := range tt.passes {
				if err := os.WriteFile(stat, []byte(p), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := s.Sample(t.Context(), &snap); err != nil {
					t.Fatal(err)
				}
				r, ok := snap.Get("cpu")
				switch {
				case math.IsNaN(tt.want[i]) && ok:
					t.Errorf("pass %d: got cpu %v; want no reading", i+1, r.Value)
				case !math.IsNaN(tt.want[i]) && !ok:
					t.Errorf("pass %d: got no cpu reading; want %v", i+1, tt.want[i])
				case ok && math.Abs(r.Value-tt.want[i]) > 1e-9:
					t.Errorf("pass %d: got cpu %v; want %v", i+1, r.Value, tt.want[i])
				}
			}
		})
	}
}

func TestParsers(t *testing.T) {
	tests := []struct {
		name    string
		parse   func(string, []byte) (float64, error)
		in      string
		want    float64
		wantErr string
	}{
		{"meminfo: used share from MemAvailable", parseMeminfo, "MemTotal: 1000 kB\nMemFree: 1 kB\nMemAvailable: 250 kB\n", 75, ""},
		{"meminfo: a cut-off last line is not read as a number", parseMeminfo, "MemTotal: 1000 kB\nMemAvailable: 25", 0, "no MemAvailable"},
		{"meminfo: no MemTotal is an error", parseMeminfo, "MemAvailable: 250 kB\n", 0, "no MemTotal"},
		{"meminfo: MemTotal of 0 is an error", parseMeminfo, "MemTotal: 0 kB\nMemAvailable: 0 kB\n", 0, "MemTotal is 0"},
		{"meminfo: more available than total counts as none used", parseMeminfo, "MemTotal: 100 kB\nMemAvailable: 120 kB\n", 0, ""},
		{"meminfo: a bad number is an error", parseMeminfo, "MemTotal: 1x0 kB\nMemAvailable: 1 kB\n", 0, "bad value"},
		{"loadavg: the first field", parseLoadavg, "12.34 1.00 0.50 1/2 3\n", 12.34, ""},
		{"loadavg: an empty file is an error", parseLoadavg, "", 0, "no complete line"},
		{"loadavg: a negative load is an error", parseLoadavg, "-1.0 0 0 1/2 3\n", 0, "bad 1-minute"},
		{"pressure: avg10 of the some line", parsePressure, "some avg10=99.99 avg60=0 avg300=0 total=1\n", 99.99, ""},
		{"pressure: above 100 is an error", parsePressure, "some avg10=100.01 avg60=0 avg300=0 total=1\n", 0, "bad avg10"},
		{"pressure: Inf is an error", parsePressure, "some avg10=Inf avg60=0 avg300=0 total=1\n", 0, "bad avg10"},
		{"pressure: a missing avg10 is an error", parsePressure, "some avg60=1.00 avg300=0 total=1\n", 0, "no avg10"},
		{"pressure: a cut-off line is an error", parsePressure, "some avg10=1.0", 0, "no complete first line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.parse("f", []byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, error %v; want an error mentioning %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || math.Abs(got-tt.want) > 1e-9 {
				t.Fatalf("got %v, error %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestParseCPUStat(t *testing.T) {
	tests := []struct {
		name        string
		in          string
		busy, total uint64
		wantErr     string
	}{
		{"ten counters", "cpu  1 2 3 4 5 6 7 8 9 10\n", 1 + 2 + 3 + 6 + 7 + 8, 1 + 2 + 3 + 4 + 5 + 6 + 7 + 8, ""},
		{"a per-CPU line first is an error", "cpu0 1 2 3 4\n", 0, 0, `not the aggregate "cpu" line`},
		{"three counters are too few", "cpu  1 2 3\n", 0, 0, "fewer than 4"},
		{"an overflowing counter is an error", "cpu  99999999999999999999 0 0 0\n", 0, 0, "bad counter"},
		{"no newline is an error", "cpu  1 2 3 4", 0, 0, "no complete first line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			busy, total, err := parseCPUStat("stat", []byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v; want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || busy != tt.busy || total != tt.total {
				t.Fatalf("got busy %d total %d error %v; want busy %d total %d", busy, total, err, tt.busy, tt.total)
			}
		})
	}
}

func TestDefaultMounts(t *testing.T) {
	tests := []struct {
		name    string
		machine string
		want    []string
		wantErr string
	}{
		{"a plain Debian box has only / (not /boot/efi)", "debian", []string{"/"}, ""},
		{"a NixOS box adds /nix and /boot (not the /nix/store bind mount)", "nixos", []string{"/", "/nix", "/boot"}, ""},
		{"an Ubuntu box with a separate /boot adds it", "nopsi", []string{"/", "/boot"}, ""},
		{"a malformed mountinfo names the file and the line", "malformed", nil, "invalid mountinfo line in file testdata/malformed/proc/self/mountinfo"},
		{"a missing mountinfo is an error", "does-not-exist", nil, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DefaultMounts(filepath.Join("testdata", tt.machine, "proc"))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %q, error %v; want an error mentioning %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, error %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestNewSampler(t *testing.T) {
	noStat := machine(t, "nopsi")
	if err := os.Remove(filepath.Join(noStat, "stat")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		opts       Options
		wantMounts []string
		wantErr    string
	}{
		{"nil mounts resolve to the default", Options{ProcRoot: "testdata/nixos/proc"}, []string{"/", "/nix", "/boot"}, ""},
		{"listed mounts are kept as given", Options{ProcRoot: "testdata/nixos/proc", Mounts: []string{"/srv", "/"}}, []string{"/srv", "/"}, ""},
		{"an empty list watches no mount", Options{ProcRoot: "testdata/nixos/proc", Mounts: []string{}}, []string{}, ""},
		{"a relative mount is refused", Options{ProcRoot: "testdata/nixos/proc", Mounts: []string{"srv"}}, nil, `mount "srv": must be a clean absolute path`},
		{"an unclean mount is refused", Options{ProcRoot: "testdata/nixos/proc", Mounts: []string{"/srv/"}}, nil, "clean absolute path"},
		{"a mount listed twice is refused", Options{ProcRoot: "testdata/nixos/proc", Mounts: []string{"/", "/"}}, nil, "listed twice"},
		{"a missing proc root is refused", Options{ProcRoot: "testdata/nowhere"}, nil, "proc root"},
		{"a proc root without stat names the signal", Options{ProcRoot: noStat, Mounts: []string{"/"}}, nil, "cpu: open " + filepath.Join(noStat, "stat")},
		{"a broken mountinfo is refused when mounts default", Options{ProcRoot: "testdata/malformed/proc"}, nil, "default mounts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSampler(tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v; want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if got := s.Mounts(); !slices.Equal(got, tt.wantMounts) {
				t.Errorf("got mounts %q; want %q", got, tt.wantMounts)
			}
		})
	}
}

func TestSampleReusesTheSnapshot(t *testing.T) {
	s, err := NewSampler(Options{ProcRoot: machine(t, "nixos"), Statfs: fixtureStatfs(t, "nixos")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var snap Snapshot
	for range 2 {
		if err := s.Sample(t.Context(), &snap); err != nil {
			t.Fatal(err)
		}
	}
	r, m := &snap.Readings[0], &snap.Mounts[0]
	n := len(snap.Readings)
	if err := s.Sample(t.Context(), &snap); err != nil {
		t.Fatal(err)
	}
	if len(snap.Readings) != n || &snap.Readings[0] != r || &snap.Mounts[0] != m {
		t.Errorf("got %d readings in new arrays; want the same %d in the same arrays", len(snap.Readings), n)
	}
}

// TestThisMachine runs the sampler on the real /proc: the files it keeps
// open must show fresh values on every pass.
func TestThisMachine(t *testing.T) {
	if _, err := os.Stat("/proc/stat"); err != nil {
		t.Skip("no /proc here")
	}
	s, err := NewSampler(Options{Mounts: []string{"/"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var snap Snapshot
	if err := s.Sample(t.Context(), &snap); err != nil {
		t.Fatal(err)
	}
	var cpu *cpuShare
	for _, c := range s.collectors {
		if c, ok := c.(*valueSignal); ok && c.kind == "cpu" {
			cpu = c.value.(*cpuShare)
		}
	}
	first := cpu.total
	// Spin for a few scheduler ticks so the counters move.
	for end := time.Now().Add(60 * time.Millisecond); time.Now().Before(end); {
	}
	if err := s.Sample(t.Context(), &snap); err != nil {
		t.Fatal(err)
	}
	if got := cpu.total; got <= first {
		t.Fatalf("got cpu ticks %d after %d; want the kept-open /proc/stat to show new counters", got, first)
	}
	for _, id := range []string{"cpu", "memory", "disk:/"} {
		r, ok := snap.Get(id)
		if !ok || !(r.Value >= 0 && r.Value <= 100) {
			t.Errorf("got %s %+v (present %v); want a percentage", id, r, ok)
		}
	}
	if r, ok := snap.Get("load"); !ok || r.Value < 0 {
		t.Errorf("got load %+v (present %v); want a load average", r, ok)
	}
}
