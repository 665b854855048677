package heal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/heal/healtest"
	"github.com/luminous-healing/luminous-healing/internal/issue"
)

func diskIssue(mount string) issue.Record {
	return issue.Record{ID: "disk:" + mount, Kind: issue.Disk, Subject: mount, Severity: issue.Warning}
}

func TestCleanupUnitsAreChosenByMount(t *testing.T) {
	nixos := []heal.UnitStatus{{Name: "systemd-tmpfiles-clean.service"}, {Name: "luminous-healing-journal-vacuum.service"},
		{Name: heal.NixCleanupUnit}, {Name: "nix-gc.service"}}
	for _, tc := range []struct {
		name  string
		units []heal.UnitStatus
		conf  func(*heal.Settings)
		mount string
		want  []string
	}{
		{"on NixOS a full /boot gets only the nix cleanup", nixos, nil, "/boot", []string{heal.NixCleanupUnit}},
		{"on NixOS a full /nix gets the nix cleanup, then nix-gc", nixos, nil, "/nix", []string{heal.NixCleanupUnit, "nix-gc.service"}},
		{"on NixOS a full / gets every built-in unit", nixos, nil, "/",
			[]string{"systemd-tmpfiles-clean.service", "luminous-healing-journal-vacuum.service", heal.NixCleanupUnit, "nix-gc.service"}},
		{"without the nix unit a full /boot gets the general list", nixos[:2], nil, "/boot",
			[]string{"systemd-tmpfiles-clean.service", "luminous-healing-journal-vacuum.service"}},
		{"without a system profile the nix unit is left out", nixos, func(s *heal.Settings) { s.Nix.SystemProfile = "/nonexistent/system" }, "/boot",
			[]string{"systemd-tmpfiles-clean.service", "luminous-healing-journal-vacuum.service", "nix-gc.service"}},
		{"a configured global list still applies to every mount", nixos, func(s *heal.Settings) { s.CleanupUnits = []string{"mine.service"} }, "/boot",
			[]string{"mine.service"}},
		{"a mount's own list wins over the global one", nixos, func(s *heal.Settings) {
			s.CleanupUnits = []string{"mine.service"}
			s.MountCleanupUnits = map[string][]string{"/boot": {"boot-only.service"}}
		}, "/boot", []string{"boot-only.service"}},
		{"other mounts keep the global list", nixos, func(s *heal.Settings) {
			s.CleanupUnits = []string{"mine.service"}
			s.MountCleanupUnits = map[string][]string{"/boot": {"boot-only.service"}}
		}, "/var", []string{"mine.service"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := healtest.New(tc.units...)
			for _, u := range []string{"mine.service", "boot-only.service"} {
				f.Units[u] = &heal.UnitStatus{Name: u, LoadState: "loaded"}
			}
			s := testSettings()
			s.Nix.SystemProfile = "" // not this machine's
			if tc.conf != nil {
				tc.conf(&s)
			}
			res := heal.New(f, s, nil).Do(t.Context(), heal.Request{Action: issue.Cleanup, Issue: diskIssue(tc.mount)})
			if res.Outcome != heal.Succeeded || !reflect.DeepEqual(res.Units, tc.want) {
				t.Errorf("got %s, units %q (%s); want succeeded, %q", res.Outcome, res.Units, res.Message, tc.want)
			}
		})
	}
}

// A cleanup unit that says what it freed: the fake systemd "runs" it by
// writing its result file, as luminous-healingd nix-cleanup does.
func TestCleanupTakesWhatTheUnitSaysItFreed(t *testing.T) {
	run := t.TempDir()
	dir := "luminous-healing-nix-cleanup"
	if err := os.Mkdir(filepath.Join(run, dir), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(t *testing.T, invocation string, finished time.Time, dry ...bool) {
		t.Helper()
		data, _ := json.Marshal(map[string]any{
			"invocation_id": invocation, "finished": finished, "dry_run": len(dry) > 0 && dry[0],
			"freed_bytes": map[string]uint64{"/nix": 5 << 20, "/boot": 300 << 10, "relative": 1},
			"summary":     "deleted system generations 3 (2026-10-01)\n\x1b[31m",
		})
		if err := os.WriteFile(filepath.Join(run, dir, heal.ResultFile), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name    string
		result  func(t *testing.T, f *healtest.Systemd)
		want    map[string]uint64
		summary bool
	}{
		{"this run's file adds what statfs missed", func(t *testing.T, f *healtest.Systemd) {
			u, _ := f.Unit(t.Context(), heal.NixCleanupUnit)
			write(t, u.InvocationID, time.Now())
		}, map[string]uint64{"/nix": 5 << 20, "/boot": 300 << 10}, true},
		{"an earlier run's file is ignored", func(t *testing.T, f *healtest.Systemd) {
			write(t, fmt.Sprintf("%032x", 999), time.Now())
		}, map[string]uint64{"/nix": 1 << 20}, false},
		{"a dry-run's file, which freed nothing, is ignored", func(t *testing.T, f *healtest.Systemd) {
			u, _ := f.Unit(t.Context(), heal.NixCleanupUnit)
			write(t, u.InvocationID, time.Now(), true)
		}, map[string]uint64{"/nix": 1 << 20}, false},
		{"a file without an invocation counts only when written after the start", func(t *testing.T, f *healtest.Systemd) {
			write(t, "", time.Now().Add(-time.Hour))
		}, map[string]uint64{"/nix": 1 << 20}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := healtest.New(heal.UnitStatus{Name: heal.NixCleanupUnit, RuntimeDirectory: []string{dir}})
			free := map[string]uint64{"/": 1 << 30, "/nix": 1 << 30, "/boot": 1 << 20}
			f.OnStart = func(string) {
				free["/nix"] += 1 << 20 // statfs sees 1 MiB; something else wrote meanwhile
				tc.result(t, f)
			}
			s := testSettings()
			s.RuntimeRoot = run
			s.Nix.SystemProfile = ""
			h := heal.New(f, s, func(context.Context) (map[string]uint64, error) {
				return map[string]uint64{"/": free["/"], "/nix": free["/nix"], "/boot": free["/boot"]}, nil
			})
			res := h.Do(t.Context(), heal.Request{Action: issue.Cleanup, Issue: diskIssue("/nix")})
			var sum uint64
			for _, b := range tc.want {
				sum += b
			}
			if res.Outcome != heal.Succeeded || !reflect.DeepEqual(res.FreedByMount, tc.want) || res.FreedBytes != sum {
				t.Errorf("got %s, freed %d %v (%s); want succeeded, %d %v", res.Outcome, res.FreedBytes, res.FreedByMount, res.Message, sum, tc.want)
			}
			if got := strings.Contains(res.Message, "deleted system generations 3 (2026-10-01)"); got != tc.summary {
				t.Errorf("message %q carries the unit's summary: %v; want %v", res.Message, got, tc.summary)
			}
			if strings.ContainsAny(res.Message, "\n\x1b") {
				t.Errorf("message %q carries control characters from the result file", res.Message)
			}
		})
	}
}

func TestCleanupDryRunListsTheGenerationsThatWouldGo(t *testing.T) {
	dir := t.TempDir()
	profile := filepath.Join(dir, "system")
	now := time.Now()
	for n := 1; n <= 4; n++ {
		link := fmt.Sprintf("%s-%d-link", profile, n)
		if err := os.Symlink(fmt.Sprintf("/nix/store/x-%d", n), link); err != nil {
			t.Fatal(err)
		}
		touchLink(t, link, now.Add(-time.Duration(5-n)*30*24*time.Hour))
	}
	if err := os.Symlink("system-4-link", profile); err != nil {
		t.Fatal(err)
	}
	// No Nix on PATH: the daemon lists the generations from the profile
	// alone, and says it cannot tell the bytes.
	t.Setenv("PATH", dir)
	f := healtest.New(heal.UnitStatus{Name: heal.NixCleanupUnit})
	s := testSettings()
	s.Nix.SystemProfile = profile
	s.Nix.CurrentSystem, s.Nix.BootedSystem, s.Nix.BootDir = "", "", ""
	s.Nix.Policy.KeepGenerations, s.Nix.Policy.KeepFor = 2, 0
	h := heal.New(f, s, nil)
	h.SetDryRun(true)
	res := h.Do(t.Context(), heal.Request{Action: issue.Cleanup, Issue: diskIssue("/nix")})
	if res.Outcome != heal.Planned {
		t.Fatalf("got %s (%s); want planned", res.Outcome, res.Message)
	}
	for _, want := range []string{"would delete system generations 1 (", "2 (" + now.Add(-90*24*time.Hour).UTC().Format("2006-01-02") + ")", "bytes unknown"} {
		if !strings.Contains(res.Message, want) {
			t.Errorf("message %q; want it to say %q", res.Message, want)
		}
	}
	if strings.Contains(res.Message, "3 (") || len(f.Calls()) != 0 {
		t.Errorf("message %q, calls %q; want generation 3 kept and nothing started", res.Message, f.Calls())
	}
	if _, err := os.Lstat(profile + "-1-link"); err != nil {
		t.Errorf("dry-run deleted generation 1: %v", err)
	}
}

func touchLink(t *testing.T, link string, at time.Time) {
	t.Helper()
	if out, err := exec.Command("touch", "-h", "-d", "@"+fmt.Sprint(at.Unix()), link).CombinedOutput(); err != nil {
		t.Fatalf("touch -h %s: %v: %s", link, err, out)
	}
}
