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
	"testing"
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
		fmt.Fprintln(os.Stderr, "nixos: "+msg)
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
			cmd := exec.Command(nix, "--parse", f)
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
