// Package nixos holds no Go code: its tests check the NixOS module, the
// flake and every .nix file of the repository from `go test ./...`.
//
// What they need, and what they do without it:
//   - nix-instantiate (Debian's nix-bin; .ci/run installs it) for parsing every
//     .nix file and for evaluating the module; without it they skip.
//   - nixpkgs' lib, at $NIXPKGS_LIB (a nixpkgs checkout, or its lib/
//     directory), for evaluating the module with lib.evalModules; without it
//     those tests skip, and say so on stderr and in the CI report.
//   - the Go module cache (or the module proxy) for the flake's vendorHash.
package nixos

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/luminous-healing/luminous-healing/internal/testbed"
)

// repoRoot is the repository this package sits in.
const repoRoot = ".."

// nixInstantiate returns the path of nix-instantiate, or skips the test.
func nixInstantiate(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("nix-instantiate")
	if err != nil {
		skipLoudly(t, "nix-instantiate is not installed (apt-get install nix-bin)")
	}
	return p
}

// nixCommand is exec.Command for a nix tool, with a Nix state of its own in
// a temporary directory: Debian's nix-bin sets up /nix/var/nix (profiles,
// the store's database) on first use, which an ordinary user may not create
// and which these tests have no business touching as root either. Nothing
// is built, so an empty store in the same directory is all they need.
func nixCommand(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = nixEnv(t.TempDir())
	return cmd
}

// nixEnv is the environment with every directory nix writes to under dir.
func nixEnv(dir string) []string {
	return append(os.Environ(),
		"HOME="+dir,
		"XDG_CACHE_HOME="+filepath.Join(dir, "cache"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_DATA_HOME="+filepath.Join(dir, "data"),
		"NIX_STATE_DIR="+filepath.Join(dir, "state"),
		"NIX_LOG_DIR="+filepath.Join(dir, "log"),
		"NIX_STORE_DIR="+filepath.Join(dir, "store"),
		"NIX_CONF_DIR="+filepath.Join(dir, "etc"),
		"NIX_USER_CONF_FILES="+filepath.Join(dir, "nix.conf"),
		// Root's default build-users-group is nixbld, which Debian does not
		// create; nix warns about it on every call otherwise.
		"NIX_CONFIG=build-users-group =",
		"NIX_REMOTE=",
		"NIX_PATH=",
	)
}

// An ordinary user runs the nix tests too (the README's test command is for
// everyone), where Debian's nix-bin would otherwise try to create
// /nix/var/nix/profiles/per-user and fail. As root this runs nix as nobody.
func TestNixRunsForAnOrdinaryUser(t *testing.T) {
	nix := nixInstantiate(t)
	flake, err := os.ReadFile(filepath.Join(repoRoot, "flake.nix"))
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "nixos-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cmd := exec.Command(nix, "--parse", "-E", string(flake))
	cmd.Dir = dir
	if os.Geteuid() == 0 {
		const nobody = 65534
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		home := filepath.Join(dir, "home")
		if err := os.Mkdir(home, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(home, nobody, nobody); err != nil {
			t.Fatal(err)
		}
		dir = home
		cmd.Dir = home
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	}
	cmd.Env = nixEnv(dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nix-instantiate --parse as uid %d: %v\n%s", uidOf(cmd), err, out)
	}
}

func uidOf(cmd *exec.Cmd) int {
	if cmd.SysProcAttr != nil && cmd.SysProcAttr.Credential != nil {
		return int(cmd.SysProcAttr.Credential.Uid)
	}
	return os.Geteuid()
}

// nixpkgsLib returns the directory of nixpkgs' lib from $NIXPKGS_LIB, or
// skips the test.
func nixpkgsLib(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("NIXPKGS_LIB")
	if dir == "" {
		skipLoudly(t, "NIXPKGS_LIB is not set; point it at a nixpkgs checkout (or its lib/) to evaluate the NixOS module")
	}
	for _, d := range []string{filepath.Join(dir, "lib"), dir} {
		if _, err := os.Stat(filepath.Join(d, "modules.nix")); err == nil {
			abs, err := filepath.Abs(d)
			if err != nil {
				t.Fatal(err)
			}
			return abs
		}
	}
	t.Fatalf("NIXPKGS_LIB=%s holds neither lib/modules.nix nor modules.nix; want a nixpkgs checkout or its lib/", dir)
	return ""
}

var skipped sync.Map

// skipLoudly skips t and says so where it is seen even when the package
// passes: on stderr, and in the report .ci/run prints at the end.
func skipLoudly(t *testing.T, why string) {
	t.Helper()
	msg := "SKIPPED " + t.Name() + ": " + why
	if _, dup := skipped.LoadOrStore(why, true); !dup {
		// Said once for every test the same reason skips; naming only the
		// first would read as if the others had run.
		testbed.Announce("nixos: SKIPPED, NOT PASSED, every test that needs it: " + why)
		if path := os.Getenv("LUMINOUS_E2E_REPORT"); path != "" {
			if f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
				fmt.Fprintf(f, "%-60s %s\n", "nixos", "SKIPPED: "+why)
				f.Close()
			}
		}
	}
	t.Skip(msg)
}

// Every .nix file parses, so a syntax error cannot reach a NixOS user even
// where nothing evaluates it.
func TestEveryNixFileParses(t *testing.T) {
	nix := nixInstantiate(t)
	var files []string
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "vendor" || d.Name() == "out" || d.Name() == "result") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".nix") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"flake.nix", "nixos/modules/luminous-healing.nix"} {
		found := false
		for _, f := range files {
			if filepath.ToSlash(f) == repoRoot+"/"+want {
				found = true
			}
		}
		if !found {
			t.Errorf("%s is missing; found %q", want, files)
		}
	}
	for _, f := range files {
		t.Run(strings.TrimPrefix(filepath.ToSlash(f), repoRoot+"/"), func(t *testing.T) {
			var stderr bytes.Buffer
			cmd := nixCommand(t, nix, "--parse", f)
			cmd.Stdout, cmd.Stderr = nil, &stderr
			if err := cmd.Run(); err != nil {
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					t.Fatalf("nix-instantiate --parse %s: %s", f, strings.TrimSpace(stderr.String()))
				}
				t.Fatal(err)
			}
		})
	}
}
