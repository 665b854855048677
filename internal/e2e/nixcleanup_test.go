package e2e

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/nixclean/nixtest"
	"github.com/luminous-healing/luminous-healing/internal/testbed"
)

// A Nix store that fills its disk is healed by the package's own
// luminous-healing-nix-cleanup.service, started by the daemon through real
// systemd: old generations go, the kept ones (newest two, and the booted
// one) still roll back, /boot loses the deleted ones' entries, and what was
// freed reaches the journal, the history and the metrics per mount through
// the unit's result file. The store is a private one on a tmpfs of its own
// (internal/nixclean/nixtest), with the stand-in switch-to-configuration;
// the unit's paths point there through a drop-in.
func TestAFullNixStoreIsHealedByTheNixCleanupKeepingTheRollbacks(t *testing.T) {
	if _, err := exec.LookPath("nix-build"); err != nil {
		t.Skipf("nix-build is not installed (Debian: apt-get install nix-bin): %v", err)
	}
	const mount = "/srv/lhnix"
	l := nixtest.At(mount)
	// The expression and nix.conf live outside the tmpfs, written at boot.
	l.Conf, l.Expr = "/etc/lhnix", "/etc/lhnix/expr"
	run := filepath.Join(mount, "run")
	var env strings.Builder
	for _, kv := range l.Env() {
		fmt.Fprintf(&env, "Environment=%q\n", kv)
	}
	dropIn := "[Unit]\nConditionPathExists=\nConditionPathExists=" + l.Profile + "\n\n[Service]\nExecStart=\n" +
		"ExecStart=/usr/sbin/luminous-healingd nix-cleanup --config /etc/luminous-healing/config.toml" +
		" --system-profile " + l.Profile + " --current-system " + run + "/current-system" +
		" --booted-system " + run + "/booted-system --boot-dir " + l.Boot + "\n" + env.String()
	m := bootInstalled(t, boot{
		config: `
[monitoring]
interval = "1s"
mounts = ["` + mount + `"]
[thresholds]
disk = 60.0
[predictive]
enabled = false
[healing]
mount_cleanup_units = { "` + mount + `" = ["luminous-healing-nix-cleanup.service"] }
[cleanup.nix]
keep_generations = 2
keep_days = 0
`,
		units: map[string]testbed.File{
			// A 16 MiB file system of its own for the store.
			"srv-lhnix.mount": {Data: []byte("[Mount]\nWhat=tmpfs\nWhere=" + mount + "\nType=tmpfs\nOptions=size=16m,mode=0755\n"), Mode: 0o644},
			"luminous-healing-nix-cleanup.service.d/private-store.conf": {Data: []byte(dropIn), Mode: 0o644},
		},
		files: map[string]testbed.File{
			l.Conf + "/nix.conf":                {Data: []byte(nixtest.NixConf), Mode: 0o644},
			l.Expr + "/system.nix":              {Data: []byte(nixtest.SystemsNix), Mode: 0o644},
			l.Expr + "/switch-to-configuration": {Data: []byte(nixtest.StandInSwitch), Mode: 0o755},
		},
		start:         []string{"srv-lhnix.mount"},
		noStartDaemon: true,
	})

	// Six generations, 0.5 MiB of payload times their number: about 11 MiB
	// with the kernels, initrds and /boot's copies.
	t0 := time.Now()
	m.MustRun(t, "mkdir", "-p", l.Boot, run, filepath.Dir(l.Profile))
	nix := func(argv ...string) string {
		return m.MustRun(t, append(append([]string{"env"}, l.Env()...), argv...)...)
	}
	expr := fmt.Sprintf("map (n: import %s/system.nix { inherit n; payload = 512; }) [ 1 2 3 4 5 6 ]", l.Expr)
	outs := strings.Fields(nix("nix-build", "--no-out-link", "-E", expr))
	if len(outs) != 6 {
		t.Fatalf("nix-build printed %q; want six systems", outs)
	}
	for _, out := range outs {
		nix("nix-env", "-p", l.Profile, "--set", out)
	}
	nix(l.Profile+"/bin/switch-to-configuration", "boot")
	m.MustRun(t, "ln", "-sfn", outs[5], run+"/current-system")
	m.MustRun(t, "ln", "-sfn", outs[2], run+"/booted-system")
	built := time.Since(t0)
	df := strings.Fields(m.MustRun(t, "df", "--output=pcent", mount))
	t.Logf("built 6 generations in %s; %s is %s full", built.Round(time.Millisecond), mount, df[len(df)-1])

	t1 := time.Now()
	m.MustRun(t, "systemctl", "start", "luminous-healing.service")
	var done []testbed.JournalEntry
	m.waitFor(40*time.Second, "a cleanup that succeeded", func() bool {
		done = m.journal("luminous-healing.service", t1, func(e testbed.JournalEntry) bool {
			return e.Field("MESSAGE_ID") == audit.MessageIDs[audit.ActionSucceeded] && e.Field("HEALING_ACTION") == "cleanup"
		})
		return len(done) > 0
	})
	healed := time.Since(t1)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := m.run("journalctl", "-u", "luminous-healing-nix-cleanup.service", "--no-pager", "-o", "cat")
			t.Logf("luminous-healing-nix-cleanup.service's log:\n%s", out)
		}
	})

	t.Run("exactly the kept generations remain, and each still rolls back", func(t *testing.T) {
		links := strings.Fields(m.MustRun(t, "sh", "-c", "cd "+filepath.Dir(l.Profile)+" && ls -d system-*-link"))
		if want := []string{"system-3-link", "system-5-link", "system-6-link"}; !slices.Equal(links, want) {
			t.Errorf("generations left %q; want %q (booted 3, newest 5 and 6)", links, want)
		}
		for _, n := range []string{"3", "5", "6"} {
			nix("nix-env", "-p", l.Profile, "--switch-generation", n)
			nix("nix-store", "--verify-path", outs[mustAtoi(t, n)-1])
		}
		for _, n := range []int{1, 2, 4} {
			if _, err := m.run("test", "-e", outs[n-1]); err == nil {
				t.Errorf("generation %d's system %s is still in the store", n, outs[n-1])
			}
		}
		entries := strings.Fields(m.MustRun(t, "ls", l.Boot+"/loader/entries"))
		if want := []string{"nixos-generation-3.conf", "nixos-generation-5.conf", "nixos-generation-6.conf"}; !slices.Equal(entries, want) {
			t.Errorf("/boot entries %q; want %q", entries, want)
		}
	})

	byMount := done[0].Field("HEALING_FREED_BY_MOUNT")
	freed, _ := strconv.ParseUint(strings.TrimPrefix(byMount, mount+"="), 10, 64)
	t.Run("what was freed is reported per mount, from the unit's result file", func(t *testing.T) {
		// Generations 1, 2 and 4 held 3.5 MiB of payload of their own.
		if !strings.HasPrefix(byMount, mount+"=") || freed < 3584<<10 {
			t.Errorf("HEALING_FREED_BY_MOUNT = %q; want at least 3.5 MiB on %s", byMount, mount)
		}
		msg := done[0].Field("MESSAGE")
		if !strings.Contains(msg, "deleted system generations 1 (") || !strings.Contains(msg, ", 4 (") {
			t.Errorf("message %q; want the unit's summary naming generations 1, 2 and 4", msg)
		}
		var result struct {
			InvocationID string            `json:"invocation_id"`
			FreedBytes   map[string]uint64 `json:"freed_bytes"`
		}
		raw := m.MustRun(t, "cat", "/run/luminous-healing-nix-cleanup/result.json")
		if err := json.Unmarshal([]byte(raw), &result); err != nil {
			t.Fatalf("result.json: %v\n%s", err, raw)
		}
		// systemd forgets a finished oneshot's InvocationID; its journal keeps it.
		ids := strings.Fields(m.MustRun(t, "journalctl", "-u", "luminous-healing-nix-cleanup.service", "-F", "_SYSTEMD_INVOCATION_ID"))
		if result.InvocationID == "" || !slices.Contains(ids, result.InvocationID) {
			t.Errorf("result.json's invocation %q; want the unit's run, one of %q", result.InvocationID, ids)
		}
		metrics := m.MustRun(t, "curl", "-sSf", "http://127.0.0.1:9955/metrics")
		if got := metricValue(metrics, `healing_cleanup_freed_bytes_total{mount="`+mount+`"}`); got != float64(freed) {
			t.Errorf("healing_cleanup_freed_bytes_total{mount=%q} = %v; want %d:\n%s", mount, got, freed, grepLines(metrics, "freed"))
		}
	})
	m.waitFor(15*time.Second, "the disk issue to resolve", func() bool {
		return len(m.journal("luminous-healing.service", t1, field("MESSAGE_ID", audit.MessageIDs[audit.IssueResolved]))) > 0
	})
	report(t, "built 6 generations in %s; healed in %s: freed %.1f MiB on %s, kept generations 3 (booted), 5, 6",
		built.Round(time.Millisecond), healed.Round(time.Millisecond), float64(freed)/(1<<20), mount)
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
