package nixos

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"hash"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var vendorHashLine = regexp.MustCompile(`(?m)^\s*vendorHash = "([^"]*)";`)

// buildGoModule fetches the dependencies with `go mod vendor` in a
// fixed-output derivation whose hash is the package's vendorHash: the
// sha256 of the vendor directory's NAR serialisation. Recomputing it here
// keeps the flake buildable whenever go.mod or the imports change — and
// tells whoever changed them the new value.
func TestPackageVendorHashIsCurrent(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	pkg, err := os.ReadFile("package.nix")
	if err != nil {
		t.Fatal(err)
	}
	m := vendorHashLine.FindSubmatch(pkg)
	if m == nil {
		t.Fatal(`nixos/package.nix has no line vendorHash = "…";`)
	}
	vendor := filepath.Join(t.TempDir(), "vendor")
	cmd := exec.Command(goBin, "mod", "vendor", "-o", vendor)
	cmd.Dir = repoRoot
	// As buildGoModule runs it: modules from go.mod, never a vendor dir.
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go mod vendor: %v\n%s", err, out)
	}
	got, err := narHash(vendor)
	if err != nil {
		t.Fatal(err)
	}
	if want := string(m[1]); got != want {
		t.Errorf("nixos/package.nix has vendorHash = %q, but the vendored dependencies hash to %q; set\n\tvendorHash = %q;", want, got, got)
	}
}

// The NAR hash computed here is the one Nix computes.
func TestNARHashAgreesWithNixHash(t *testing.T) {
	nixHash, err := exec.LookPath("nix-hash")
	if err != nil {
		skipLoudly(t, "nix-hash is not installed (apt-get install nix-bin)")
	}
	dir := filepath.Join(t.TempDir(), "tree")
	for name, body := range map[string]string{
		"a.txt": "hello\n", "b/c.go": "package c\n", "b/d/empty": "", "Z": "upper case sorts first\n",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "run.sh"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a.txt", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "emptydir"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := nixCommand(t, nixHash, "--type", "sha256", dir).Output()
	if err != nil {
		t.Fatalf("nix-hash: %v", err)
	}
	sum, err := hex.DecodeString(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("nix-hash printed %q: %v", out, err)
	}
	want := "sha256-" + base64.StdEncoding.EncodeToString(sum)
	got, err := narHash(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("narHash = %s; nix-hash says %s", got, want)
	}
}

// narHash returns the SRI sha256 of path's NAR serialisation (Nix's
// archive format: regular files with their executable bit, symlinks, and
// directories with entries sorted by name).
func narHash(path string) (string, error) {
	h := sha256.New()
	nar := &narWriter{w: h}
	nar.str("nix-archive-1")
	if err := nar.node(path); err != nil {
		return "", err
	}
	return "sha256-" + base64.StdEncoding.EncodeToString(h.Sum(nil)), nil
}

type narWriter struct{ w hash.Hash }

func (n *narWriter) str(s string) { n.bytes([]byte(s)) }

func (n *narWriter) bytes(b []byte) {
	var size [8]byte
	binary.LittleEndian.PutUint64(size[:], uint64(len(b)))
	n.w.Write(size[:])
	n.w.Write(b)
	n.w.Write(make([]byte, (8-len(b)%8)%8))
}

func (n *narWriter) node(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	n.str("(")
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		target, err := os.Readlink(path)
		if err != nil {
			return err
		}
		n.str("type")
		n.str("symlink")
		n.str("target")
		n.str(target)
	case fi.IsDir():
		n.str("type")
		n.str("directory")
		entries, err := os.ReadDir(path)
		if err != nil {
			return err
		}
		names := make([]string, len(entries))
		for i, e := range entries {
			names[i] = e.Name()
		}
		slices.Sort(names) // bytewise, as Nix sorts
		for _, name := range names {
			n.str("entry")
			n.str("(")
			n.str("name")
			n.str(name)
			n.str("node")
			if err := n.node(filepath.Join(path, name)); err != nil {
				return err
			}
			n.str(")")
		}
	default:
		n.str("type")
		n.str("regular")
		if fi.Mode()&0o111 != 0 {
			n.str("executable")
			n.str("")
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		var buf bytes.Buffer
		if _, err := io.Copy(&buf, f); err != nil {
			return err
		}
		n.str("contents")
		n.bytes(buf.Bytes())
	}
	n.str(")")
	return nil
}

// The flake's outputs have the shape it promises, evaluated with a
// stand-in nixpkgs (nixos/tests/flake-eval.nix): nothing is built here.
func TestTheFlakesOutputsHaveTheirShape(t *testing.T) {
	nix := nixInstantiate(t)
	lib := nixpkgsLib(t)
	// Only stdout is JSON: nix may warn on stderr even when it succeeds.
	cmd := nixCommand(t, nix, "--eval", "--strict", "--json", "tests/flake-eval.nix", "--arg", "lib", "import "+lib)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("evaluate flake.nix: %v\n%s", err, stderr.String())
	}
	var f struct {
		Systems, Checks, DevShell, ModuleImports []string
		Package                                  struct {
			Name, VendorHash, MainProgram, PostInstall string
			Ldflags                                    []string
		}
		Overlay, ModulePackage, DevShellNixpkgsLib string
		VMTest                                     struct {
			Name   string
			Nodes  []string
			Script string
		}
	}
	if err := json.Unmarshal(out, &f); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	pkg, _ := os.ReadFile("package.nix")
	m := vendorHashLine.FindSubmatch(pkg)
	checks := []struct {
		what      string
		got, want any
	}{
		{"systems", f.Systems, []string{"aarch64-linux", "x86_64-linux"}},
		{"packages.default", f.Package.Name, "luminous-healing-0.1.0-abcdef0"},
		{"its vendorHash", f.Package.VendorHash, string(m[1])},
		{"its version in the binaries", slices.Contains(f.Package.Ldflags, "-X main.version=0.1.0-abcdef0"), true},
		{"its data files from make", strings.Contains(f.Package.PostInstall, "make install-data"), true},
		{"meta.mainProgram", f.Package.MainProgram, "healingctl"},
		{"overlays.default adds pkgs.luminous-healing", f.Overlay, "luminous-healing-0.1.0-abcdef0"},
		{"nixosModules.default imports the module", len(f.ModuleImports) == 1 && strings.HasSuffix(f.ModuleImports[0], "/nixos/modules/luminous-healing.nix"), true},
		{"nixosModules.default's package is the flake's", f.ModulePackage, "luminous-healing-0.1.0-abcdef0"},
		{"devShells.default has Go 1.26 and nix", slices.Contains(f.DevShell, "go_1_26") && slices.Contains(f.DevShell, "nix"), true},
		{"devShells.default sets NIXPKGS_LIB", f.DevShellNixpkgsLib, "/nix/store/eval-nixpkgs/lib"},
		{"checks", f.Checks, []string{"package", "vm"}},
		{"checks.vm is the VM test", f.VMTest.Name + " " + strings.Join(f.VMTest.Nodes, ","), "luminous-healing bootloader,machine"},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %v; want %v", c.what, c.got, c.want)
		}
	}
	for _, step := range []string{"healingctl --no-ask-password restart victim", "rc == 4", "systemctl kill --signal=KILL victim", "systemd-analyze security", "nix-cleanup --dry-run", "healingctl --no-ask-password --json cleanup"} {
		if !strings.Contains(f.VMTest.Script, step) {
			t.Errorf("the VM test's script lacks %q", step)
		}
	}
}
