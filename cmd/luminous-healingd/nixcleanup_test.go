package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/nixclean"
)

// What `luminous-healingd nix-cleanup` prints, whole, for a run and a
// dry-run (testdata/*.golden; go test -update rewrites them).
func TestNixCleanupReportReadsWell(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 11, d, 9, 30, 0, 0, time.UTC) }
	rep := func(dry bool) *nixclean.Report {
		r := &nixclean.Report{
			DryRun: dry,
			Profiles: []nixclean.ProfileReport{{
				Profile: "/nix/var/nix/profiles/system", Current: 12,
				Kept: []nixclean.GenReport{
					{Number: 6, Date: day(6), Why: []string{"booted"}},
					{Number: 11, Date: day(20), Why: []string{"newest 2", "younger than 14 days"}},
					{Number: 12, Date: day(28), Why: []string{"current", "running", "newest 2", "younger than 14 days"}},
				},
				Deleted: []nixclean.GenReport{{Number: 5, Date: day(2)}, {Number: 7, Date: day(9)}},
			}},
			StorePaths: 152, StoreBytes: 1288490188,
			Boot:       &nixclean.BootReport{Dir: "/boot", Ran: !dry, Removed: []string{"EFI/nixos/5qv…-linux-6.6-bzImage.efi", "loader/entries/nixos-generation-5.conf"}, FreedBytes: 12 << 20},
			FreedBytes: map[string]uint64{"/": 1288490188, "/boot": 12 << 20},
		}
		r.Summary = map[bool]string{true: "would delete system generations 5 (2026-11-02), 7 (2026-11-09); 152 store paths (1.2 GiB); /boot: 2 files (12.0 MiB)",
			false: "deleted system generations 5 (2026-11-02), 7 (2026-11-09); 152 store paths (1.2 GiB); /boot: 2 files (12.0 MiB)"}[dry]
		return r
	}
	for _, tc := range []struct {
		name string
		dry  bool
	}{{"nix-cleanup.golden", false}, {"nix-cleanup-dry-run.golden", true}} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			printReport(&b, rep(tc.dry))
			path := filepath.Join("testdata", tc.name)
			if *update {
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test ./cmd/luminous-healingd -run TestNixCleanupReport -update writes it)", err)
			}
			if b.String() != string(want) {
				t.Errorf("got:\n%s\nwant (%s):\n%s", b.String(), path, want)
			}
		})
	}
}

func TestNixCleanupCommandLine(t *testing.T) {
	bin := daemonBin(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("[cleanup.nix]\nkeep_generations = 0\n"), 0o644)
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{"keeping no generation is a usage error", []string{"--keep-generations", "0"}, 2, "at least 1"},
		{"negative days are a usage error", []string{"--keep-days", "-3"}, 2, "--keep-days"},
		{"a relative profile is a usage error", []string{"--profile", "alice"}, 2, "--profile"},
		{"a bad policy in the file is a usage error naming the key", []string{"--config", bad}, 2, "cleanup.nix.keep_generations"},
		{"a stray argument is a usage error", []string{"now"}, 2, "unexpected argument"},
		{"a missing named configuration is a usage error naming it", []string{"--config", filepath.Join(dir, "none.toml"), "--system-profile", filepath.Join(dir, "nope"), "--dry-run"}, 2, "none.toml"},
		{"without a system profile or config nothing is cleaned", []string{"--system-profile", filepath.Join(dir, "nope"), "--dry-run", "--boot=false"}, 0, "no profile to clean"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, append([]string{"nix-cleanup"}, tc.args...)...)
			// No Nix at all: a run that reached the store would fail.
			cmd.Env = append(os.Environ(), "PATH="+dir)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.wantCode || !strings.Contains(out.String(), tc.wantOut) {
				t.Errorf("exit %d, output:\n%s\nwant exit %d mentioning %q", code, out.String(), tc.wantCode, tc.wantOut)
			}
		})
	}
}
