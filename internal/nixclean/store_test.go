package nixclean

import (
	"bytes"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/nixclean/nixtest"
)

// These tests run the cleanup on a real Nix store (Debian's nix-bin) of
// their own: NIX_STORE_DIR, NIX_STATE_DIR and NIX_CONF_DIR point into
// t.TempDir, so they run as root and as an ordinary user alike and never
// touch the host's /nix. The "systems" are trivial derivations built with
// /bin/sh, without nixpkgs: a kernel and an initrd shared by several
// generations, and a payload of each generation's own.

// testStore is a private Nix store with a system profile, /run links and a
// /boot, all under one temporary directory.
type testStore struct {
	dir, store, profile, boot, current, booted string
	gens                                       map[int]string    // generation → store path
	items                                      map[string]string // "<n>/kernel" → its store item
}

func newTestStore(t *testing.T, generations int, age func(n int) time.Duration) *testStore {
	t.Helper()
	for _, tool := range []string{"nix-build", "nix-env", "nix-store"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (Debian: apt-get install nix-bin): %v", tool, err)
		}
	}
	dir := t.TempDir()
	// Store paths are read-only; make them removable for t.TempDir's own
	// cleanup, which runs after this one.
	t.Cleanup(func() {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
	})
	l := nixtest.At(dir)
	s := &testStore{
		dir:     dir,
		store:   l.Store,
		profile: l.Profile,
		boot:    l.Boot,
		current: filepath.Join(dir, "run", "current-system"),
		booted:  filepath.Join(dir, "run", "booted-system"),
		gens:    map[int]string{},
		items:   map[string]string{},
	}
	tmp := filepath.Join(dir, "tmp")
	for _, d := range []string{l.Conf, tmp, s.boot, filepath.Join(dir, "run"), l.Expr} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(l.Conf, "nix.conf"), nixtest.NixConf)
	writeFile(t, filepath.Join(l.Expr, "system.nix"), nixtest.SystemsNix)
	writeFile(t, filepath.Join(l.Expr, "switch-to-configuration"), nixtest.StandInSwitch)
	for _, kv := range l.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("TMPDIR", tmp)
	t.Setenv("HOME", dir)
	t.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "cache"))

	// One evaluation builds every generation; nix-env then adds them to the
	// profile in order, as successive nixos-rebuilds would.
	expr := fmt.Sprintf("map (n: import %s { inherit n; }) (builtins.genList (i: i + 1) %d)", filepath.Join(dir, "expr", "system.nix"), generations)
	outs := strings.Fields(s.run(t, "nix-build", "--no-out-link", "-E", expr))
	if len(outs) != generations {
		t.Fatalf("nix-build printed %d paths for %d generations: %v", len(outs), generations, outs)
	}
	now := time.Now()
	for i, out := range outs {
		n := i + 1
		s.run(t, "nix-env", "-p", s.profile, "--set", out)
		s.gens[n] = out
		for _, in := range bootInputs {
			p, err := filepath.EvalSymlinks(filepath.Join(out, in))
			if err != nil {
				t.Fatal(err)
			}
			s.items[fmt.Sprintf("%d/%s", n, in)] = filepath.Dir(p)
		}
		link := fmt.Sprintf("%s-%d-link", s.profile, n)
		stamp := now.Add(-age(n)).Unix()
		s.run(t, "touch", "-h", "-d", "@"+strconv.FormatInt(stamp, 10), link)
	}
	// Every nixos-rebuild installed the bootloader for its generation.
	s.run(t, s.profile+"/bin/switch-to-configuration", "boot")
	return s
}

func (s *testStore) run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out.String()
}

// pin points a /run link at generation n's system.
func (s *testStore) pin(t *testing.T, link string, n int) {
	t.Helper()
	os.Remove(link)
	if err := os.Symlink(s.gens[n], link); err != nil {
		t.Fatal(err)
	}
}

func (s *testStore) options() Options {
	return Options{
		Policy:        Policy{KeepGenerations: 2, KeepFor: 14 * 24 * time.Hour},
		SystemProfile: s.profile,
		CurrentSystem: s.current,
		BootedSystem:  s.booted,
		Boot:          true,
		BootDir:       s.boot,
	}
}

// item is the store item (hash-name) of generation n's kernel or initrd.
func (s *testStore) item(t *testing.T, n int, input string) string {
	t.Helper()
	p, ok := s.items[fmt.Sprintf("%d/%s", n, input)]
	if !ok {
		t.Fatalf("no generation %d", n)
	}
	return p
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func generationNumbers(t *testing.T, profile string) []int {
	t.Helper()
	gens, _, err := Generations(profile)
	if err != nil {
		t.Fatal(err)
	}
	var nums []int
	for _, g := range gens {
		nums = append(nums, g.Number)
	}
	return nums
}

func reportNumbers(gs []GenReport) []int {
	var nums []int
	for _, g := range gs {
		nums = append(nums, g.Number)
	}
	return nums
}

// du is the disk usage of a path in bytes, by coreutils' du: a measure of
// its own, not the one the cleanup computes.
func du(t *testing.T, path string) uint64 {
	t.Helper()
	out, err := exec.Command("du", "-s", "-B1", path).Output()
	if err != nil {
		t.Fatalf("du %s: %v", path, err)
	}
	n, err := strconv.ParseUint(strings.Fields(string(out))[0], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// ages: generation n is (13−n)·3 days old, so 12 is 3 days old and 1 is 36;
// with 14 days kept, 9–12 are young.
func ages(n int) time.Duration { return time.Duration(13-n) * 3 * 24 * time.Hour }

func TestCleanupKeepsThePolicysGenerationsAndFreesTheRest(t *testing.T) {
	start := time.Now()
	s := newTestStore(t, 12, ages)
	t.Logf("built a store with 12 generations in %s", time.Since(start).Round(time.Millisecond))
	s.pin(t, s.current, 4) // running an older generation (nixos-rebuild test)
	s.pin(t, s.booted, 6)

	bootBefore, err := scanBoot(s.boot)
	if err != nil {
		t.Fatal(err)
	}
	usage := map[string]uint64{}
	entries, _ := os.ReadDir(s.store)
	for _, e := range entries {
		if p := filepath.Join(s.store, e.Name()); e.Name() != ".links" {
			usage[p] = du(t, p)
		}
	}

	// Dry-run first: it says what would go and changes nothing.
	o := s.options()
	o.DryRun = true
	dry, err := Run(t.Context(), o)
	if err != nil {
		t.Fatalf("dry-run: %v", err)
	}
	wantDeleted, wantKept := []int{1, 2, 3, 5, 7, 8}, []int{4, 6, 9, 10, 11, 12}
	if got := reportNumbers(dry.Profiles[0].Deleted); !slices.Equal(got, wantDeleted) {
		t.Errorf("dry-run would delete %v; want %v", got, wantDeleted)
	}
	if got := generationNumbers(t, s.profile); len(got) != 12 {
		t.Fatalf("dry-run changed the profile: generations %v", got)
	}
	if after, _ := scanBoot(s.boot); !maps.Equal(after, bootBefore) {
		t.Fatalf("dry-run changed /boot")
	}
	if !strings.Contains(dry.Summary, "would delete system generations 1 (") || dry.StoreBytes == 0 {
		t.Errorf("dry-run summary %q, store bytes %d; want the generations and an estimate", dry.Summary, dry.StoreBytes)
	}

	start = time.Now()
	o.DryRun = false
	rep, err := Run(t.Context(), o)
	if err != nil {
		t.Fatalf("cleanup: %v\nreport: %+v", err, rep)
	}
	t.Logf("cleanup ran in %s: %s", time.Since(start).Round(time.Millisecond), rep.Summary)

	t.Run("exactly the policy's generations remain", func(t *testing.T) {
		if got := generationNumbers(t, s.profile); !slices.Equal(got, wantKept) {
			t.Errorf("generations left %v; want %v", got, wantKept)
		}
		if got := reportNumbers(rep.Profiles[0].Deleted); !slices.Equal(got, wantDeleted) {
			t.Errorf("report deleted %v; want %v", got, wantDeleted)
		}
		if got := reportNumbers(rep.Profiles[0].Kept); !slices.Equal(got, wantKept) {
			t.Errorf("report kept %v; want %v", got, wantKept)
		}
	})

	t.Run("the deleted generations' store paths are gone, the kept ones' are whole", func(t *testing.T) {
		for n, p := range s.gens {
			_, err := os.Lstat(p)
			if slices.Contains(wantDeleted, n) != os.IsNotExist(err) {
				t.Errorf("generation %d's system %s: stat error %v", n, p, err)
			}
		}
		kernelA := s.item(t, 1, "kernel")
		if _, err := os.Lstat(kernelA); !os.IsNotExist(err) {
			t.Errorf("kernel a, used only by deleted generations, is still there (%v)", err)
		}
		for _, n := range []int{4, 9} {
			if _, err := os.Stat(s.item(t, n, "kernel")); err != nil {
				t.Errorf("generation %d's kernel is gone: %v", n, err)
			}
		}
		if !slices.Equal(rep.DeadPaths, dry.DeadPaths) {
			t.Errorf("the run deleted %v\nthe dry-run said %v", rep.DeadPaths, dry.DeadPaths)
		}
	})

	t.Run("rollback to each kept generation still works", func(t *testing.T) {
		for _, n := range wantKept {
			s.run(t, "nix-env", "-p", s.profile, "--switch-generation", strconv.Itoa(n))
			if got, _ := os.Readlink(s.profile); got != fmt.Sprintf("system-%d-link", n) {
				t.Errorf("after --switch-generation %d the profile points to %s", n, got)
			}
			// Every path of the generation's closure is valid and present.
			for _, p := range strings.Fields(s.run(t, "nix-store", "-qR", s.profile)) {
				if _, err := os.Lstat(p); err != nil {
					t.Errorf("generation %d: %s is missing: %v", n, p, err)
				}
			}
			s.run(t, "nix-store", "--verify-path", s.gens[n])
		}
		s.run(t, "nix-env", "-p", s.profile, "--switch-generation", "12")
	})

	t.Run("bytes freed are what the deleted paths took", func(t *testing.T) {
		var want uint64
		for _, p := range rep.DeadPaths {
			want += usage[p]
		}
		if rep.StoreBytes != want || want == 0 {
			t.Errorf("store bytes freed %d; du says the deleted paths took %d", rep.StoreBytes, want)
		}
		var total uint64
		for _, b := range rep.FreedBytes {
			total += b
		}
		if total != rep.StoreBytes+rep.Boot.FreedBytes {
			t.Errorf("freed per mount %v adds up to %d; want store %d + boot %d", rep.FreedBytes, total, rep.StoreBytes, rep.Boot.FreedBytes)
		}
		if _, ok := rep.FreedBytes[MountOf(s.store)]; !ok {
			t.Errorf("freed per mount %v has no entry for the store's mount %s", rep.FreedBytes, MountOf(s.store))
		}
	})

	t.Run("/boot lost exactly the deleted generations' files", func(t *testing.T) {
		a := filepath.Base(s.item(t, 1, "kernel"))
		ai := filepath.Base(s.item(t, 1, "initrd"))
		want := []string{"EFI/nixos/" + ai + "-initrd.efi", "EFI/nixos/" + a + "-bzImage.efi"}
		for _, n := range wantDeleted {
			want = append(want, fmt.Sprintf("loader/entries/nixos-generation-%d.conf", n))
		}
		slices.Sort(want)
		if !slices.Equal(rep.Boot.Removed, want) {
			t.Errorf("removed from /boot %v; want %v", rep.Boot.Removed, want)
		}
		var freed uint64
		for _, f := range want {
			freed += bootBefore[f]
		}
		if rep.Boot.FreedBytes != freed {
			t.Errorf("boot freed %d; the removed files were %d bytes", rep.Boot.FreedBytes, freed)
		}
		if len(rep.Boot.Restored) != 0 {
			t.Errorf("restored %v; the bootloader removed nothing it should keep", rep.Boot.Restored)
		}
		if !slices.Equal(dry.Boot.Removed, want[:2]) {
			t.Errorf("dry-run said /boot would lose %v; want the kernel files %v", dry.Boot.Removed, want[:2])
		}
	})
}

func TestCleanupPutsBackTheBootedGenerationsFilesABrokenBootloaderRemoved(t *testing.T) {
	s := newTestStore(t, 6, func(n int) time.Duration { return time.Duration(7-n) * 30 * 24 * time.Hour })
	s.pin(t, s.current, 6)
	s.pin(t, s.booted, 2) // kernel a; the current one (6) has kernel b
	t.Setenv("LH_STANDIN_BUGGY", "1")
	o := s.options()
	o.KeepFor = 0
	rep, err := Run(t.Context(), o)
	if err != nil {
		t.Fatalf("cleanup: %v", err)
	}
	a := filepath.Base(s.item(t, 2, "kernel"))
	ai := filepath.Base(s.item(t, 2, "initrd"))
	want := []string{"EFI/nixos/" + a + "-bzImage.efi", "EFI/nixos/" + ai + "-initrd.efi"}
	slices.Sort(want)
	if !slices.Equal(rep.Boot.Restored, want) {
		t.Errorf("restored %v; want the booted generation's %v", rep.Boot.Restored, want)
	}
	for _, f := range want {
		if _, err := os.Stat(filepath.Join(s.boot, f)); err != nil {
			t.Errorf("the booted generation's %s is missing from /boot: %v", f, err)
		}
	}
	if got := generationNumbers(t, s.profile); !slices.Equal(got, []int{2, 5, 6}) {
		t.Errorf("generations left %v; want [2 5 6]", got)
	}
}

func TestCleanupLeavesBootAloneWhenTheBootloaderCannotFit(t *testing.T) {
	s := newTestStore(t, 4, func(n int) time.Duration { return time.Duration(5-n) * 30 * 24 * time.Hour })
	s.pin(t, s.current, 4)
	s.pin(t, s.booted, 4)
	// A kept generation's kernel is missing from /boot, and /boot is full.
	k := filepath.Base(s.item(t, 4, "kernel"))
	if err := os.Remove(filepath.Join(s.boot, "EFI", "nixos", k+"-bzImage.efi")); err != nil {
		t.Fatal(err)
	}
	before, _ := scanBoot(s.boot)
	o := s.options()
	o.KeepGenerations, o.KeepFor = 1, 0
	o.freeSpace = func(string) (uint64, error) { return 4096, nil }
	rep, err := Run(t.Context(), o)
	if err == nil || !strings.Contains(err.Error(), "installing the bootloader again needs") {
		t.Fatalf("cleanup error %v; want one saying the bootloader does not fit", err)
	}
	if after, _ := scanBoot(s.boot); !maps.Equal(after, before) || rep.Boot.Ran {
		t.Errorf("/boot changed (ran %v) although the bootloader could not fit", rep.Boot.Ran)
	}
	// The store was still cleaned: that never touches /boot.
	if got := generationNumbers(t, s.profile); !slices.Equal(got, []int{4}) {
		t.Errorf("generations left %v; want [4]", got)
	}
}

// A user's profile is cleaned with the same policy, only where configured,
// and a user who owns the profile's directory cannot make the root-run
// cleanup write where a planted link points (nix-env would create the
// target of <profile>.lock).
func TestCleanupOfAHostileUsersProfileNeverFollowsTheirLinks(t *testing.T) {
	s := newTestStore(t, 4, func(n int) time.Duration { return time.Duration(5-n) * 30 * 24 * time.Hour })
	dir := filepath.Join(s.dir, "state", "profiles", "per-user", "mallory")
	profile := filepath.Join(dir, "profile")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= 4; n++ {
		s.run(t, "nix-env", "-p", profile, "--set", s.gens[n])
	}
	rootOnly := filepath.Join(s.dir, "root-only")
	if err := os.Mkdir(rootOnly, 0o700); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(rootOnly, "created-by-the-cleanup")
	if err := os.Symlink(victim, profile+".lock"); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// mallory: an ordinary user who owns her profile's directory.
		s.run(t, "chown", "-R", "-h", "65534:65534", dir)
	} else {
		t.Log("not root: the profile is the test user's own; the cleanup's deletions are checked, not who ran them")
	}
	s.pin(t, s.current, 4)
	s.pin(t, s.booted, 4)
	o := s.options()
	o.KeepGenerations, o.KeepFor = 2, 0
	o.Profiles = []string{profile}
	rep, err := Run(t.Context(), o)
	if err != nil {
		t.Fatalf("cleanup: %v", err)
	}
	if got := generationNumbers(t, profile); !slices.Equal(got, []int{3, 4}) {
		t.Errorf("mallory's generations left %v; want [3 4]", got)
	}
	if got := reportNumbers(rep.Profiles[1].Deleted); !slices.Equal(got, []int{1, 2}) {
		t.Errorf("report deleted %v of mallory's; want [1 2]", got)
	}
	if _, err := os.Lstat(victim); err == nil {
		t.Errorf("the cleanup created %s, where mallory's profile.lock points", victim)
	}
	if got := generationNumbers(t, s.profile); !slices.Equal(got, []int{3, 4}) {
		t.Errorf("system generations left %v; want [3 4]", got)
	}
}

// With optimise on, identical files in the store end up hard-linked (every
// generation carries the same switch-to-configuration) and the bytes that
// gave back are reported.
func TestCleanupOptimisesTheStoreOnlyWhenAsked(t *testing.T) {
	s := newTestStore(t, 3, func(n int) time.Duration { return time.Duration(4-n) * time.Hour })
	s.pin(t, s.current, 3)
	s.pin(t, s.booted, 3)
	same := func() bool {
		a, err1 := os.Stat(filepath.Join(s.gens[1], "bin", "switch-to-configuration"))
		b, err2 := os.Stat(filepath.Join(s.gens[2], "bin", "switch-to-configuration"))
		return err1 == nil && err2 == nil && os.SameFile(a, b)
	}
	o := s.options()
	o.KeepGenerations, o.Boot = 10, false
	rep, err := Run(t.Context(), o)
	if err != nil {
		t.Fatalf("cleanup: %v", err)
	}
	if same() || rep.OptimisedBytes != 0 {
		t.Fatalf("without optimise the store was optimised (%d bytes)", rep.OptimisedBytes)
	}
	o.Optimise = true
	before := du(t, s.store)
	if rep, err = Run(t.Context(), o); err != nil {
		t.Fatalf("cleanup: %v", err)
	}
	if want := before - du(t, s.store); rep.OptimisedBytes != want {
		t.Errorf("optimising freed %d bytes; du says %d", rep.OptimisedBytes, want)
	}
	if !same() {
		t.Errorf("generations 1 and 2's identical switch-to-configuration are not hard-linked after optimising")
	}
	if rep.OptimisedBytes == 0 || rep.FreedBytes[MountOf(s.store)] < rep.OptimisedBytes {
		t.Errorf("optimising freed %d bytes, per mount %v; want it reported", rep.OptimisedBytes, rep.FreedBytes)
	}
	if got := generationNumbers(t, s.profile); len(got) != 3 {
		t.Errorf("generations left %v; want all three", got)
	}
}
