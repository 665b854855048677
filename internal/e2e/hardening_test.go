package e2e

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// maxExposure is the highest `systemd-analyze security` score the shipped
// unit may have (0 is best, 10 worst; systemd calls up to 2.0 "OK").
const maxExposure = 2.0

var exposureLine = regexp.MustCompile(`Overall exposure level for luminous-healing\.service: ([0-9.]+)`)

// The unit make install ships is sandboxed: it keeps no capabilities, and
// systemd-analyze security scores it at most maxExposure — while the daemon
// inside still reads /proc and works (the healing tests restart and throttle
// units through the same unit).
func TestTheInstalledUnitIsHardenedAndTheDaemonStillSamples(t *testing.T) {
	m := bootInstalled(t, boot{config: "[thresholds]\nmemory = 1\n[monitoring]\ninterval = \"1s\"\nfor = 1\n"})

	out := m.MustRun(t, "systemd-analyze", "security", "--no-pager", "luminous-healing.service")
	match := exposureLine.FindStringSubmatch(out)
	if match == nil {
		t.Fatalf("systemd-analyze security printed no overall exposure:\n%s", out)
	}
	score, err := strconv.ParseFloat(match[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	var open []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "✗") {
			open = append(open, strings.Join(strings.Fields(l)[1:2], ""))
		}
	}
	report(t, "systemd-analyze security luminous-healing.service = %.1f (at most %.1f); open: %s",
		score, maxExposure, strings.Join(open, " "))
	if score > maxExposure {
		t.Errorf("exposure %.1f; want at most %.1f:\n%s", score, maxExposure, out)
	}

	pid := m.prop("luminous-healing.service", "MainPID")
	status := m.MustRun(t, "cat", "/proc/"+pid+"/status")
	for _, field := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
		re := regexp.MustCompile(`(?m)^` + field + `:\s*([0-9a-f]+)$`)
		if mm := re.FindStringSubmatch(status); mm == nil || strings.Trim(mm[1], "0") != "" {
			t.Errorf("the daemon's %s is %v; want no capabilities at all", field, mm)
		}
	}

	// memory is above 1 % on any machine: an issue opens only if the
	// sandboxed daemon can read /proc/meminfo.
	m.waitFor(10*time.Second, "a memory issue read from /proc", func() bool {
		out, _, _ := m.Run(t.Context(), "journalctl", "--no-pager", "-o", "cat", "-u", "luminous-healing.service")
		return strings.Contains(out, "memory ")
	})
	if out, _, _ := m.Run(t.Context(), "journalctl", "--no-pager", "-o", "cat", "-u", "luminous-healing.service"); strings.Contains(out, "sampling failed") {
		t.Errorf("the sandboxed daemon could not sample:\n%s", out)
	}
}
