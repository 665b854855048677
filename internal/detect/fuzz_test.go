package detect

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// The /proc files are the kernel's, but the parsers are the daemon's edge to
// them: whatever a file holds (a new kernel's format, a container's fake
// /proc, a truncated read), a parser returns a finite, non-negative value or
// a one-line error that quotes the file safely — never a panic.

func seedFiles(f *testing.F, name string) {
	f.Helper()
	for _, dir := range []string{"debian", "nixos", "nopsi", "malformed"} {
		matches, _ := filepath.Glob(filepath.Join("testdata", dir, "proc", name))
		for _, m := range matches {
			if data, err := os.ReadFile(m); err == nil {
				f.Add(data)
			}
		}
	}
	f.Add([]byte{})
	f.Add([]byte("\x00\xff\n\n"))
}

func checkParsed(t *testing.T, v float64, err error) {
	t.Helper()
	if err != nil {
		msg := err.Error()
		if strings.Contains(msg, "\n") || !utf8.ValidString(msg) || strings.ContainsRune(msg, 0x1b) {
			t.Fatalf("error is not one safe line: %q", msg)
		}
		return
	}
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		t.Fatalf("parsed %v; want a finite, non-negative value", v)
	}
}

func FuzzParseMeminfo(f *testing.F) {
	seedFiles(f, "meminfo")
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := parseMeminfo("/proc/meminfo", data)
		checkParsed(t, v, err)
		if err == nil && v > 100 {
			t.Fatalf("memory used %v%%; want at most 100", v)
		}
	})
}

func FuzzParseLoadavg(f *testing.F) {
	seedFiles(f, "loadavg")
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := parseLoadavg("/proc/loadavg", data)
		checkParsed(t, v, err)
	})
}

func FuzzParseCPUStat(f *testing.F) {
	seedFiles(f, "stat")
	f.Fuzz(func(t *testing.T, data []byte) {
		busy, total, err := parseCPUStat("/proc/stat", data)
		checkParsed(t, 0, err)
		if err == nil && busy > total {
			t.Fatalf("busy %d > total %d", busy, total)
		}
	})
}

func FuzzParsePressure(f *testing.F) {
	seedFiles(f, "pressure/*")
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := parsePressure("/proc/pressure/cpu", data)
		checkParsed(t, v, err)
	})
}
