package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const repoRoot = "../.."

// fakeBinaries writes stand-ins for the two binaries `make` builds: the
// install steps only copy them and ask healingctl for its completions.
func fakeBinaries(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, script := range map[string]string{
		"luminous-healingd": "#!/bin/sh\nexit 0\n",
		"healingctl":        "#!/bin/sh\necho \"# healingctl $1 $2\"\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func makeInstall(t *testing.T, args ...string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed: skipping the install test")
	}
	// GO names no program: sudo's PATH has no Go, and install must not need it.
	cmd := exec.Command("make", append([]string{"-s", "install", "GO=/nonexistent/go", "PREFIX=/usr"}, args...)...)
	cmd.Dir = repoRoot
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// `make` then `sudo make install`: install copies what make built and
// never builds, so it works on sudo's PATH, where Go usually is not.
func TestMakeInstallDoesNotBuild(t *testing.T) {
	dest := t.TempDir()
	out, err := makeInstall(t, "DESTDIR="+dest, "BIN="+fakeBinaries(t))
	if err != nil {
		t.Fatalf("make install with the binaries built and no Go: %v\n%s", err, out)
	}
	for _, f := range []string{"usr/sbin/luminous-healingd", "usr/bin/healingctl", "usr/share/bash-completion/completions/healingctl",
		"usr/share/man/man1/healingctl.1", "usr/share/man/man5/luminous-healing.toml.5", "usr/share/man/man8/luminous-healingd.8",
		"usr/lib/systemd/catalog/luminous-healing.catalog"} {
		if _, err := os.Stat(filepath.Join(dest, f)); err != nil {
			t.Errorf("make install left out %s: %v", f, err)
		}
	}
}

// Without `make` first, install says what to do instead of failing inside
// a go command.
func TestMakeInstallWithoutBuiltBinariesSaysRunMakeFirst(t *testing.T) {
	out, err := makeInstall(t, "DESTDIR="+t.TempDir(), "BIN="+filepath.Join(t.TempDir(), "bin"))
	if err == nil {
		t.Fatalf("make install without binaries succeeded:\n%s", out)
	}
	for _, want := range []string{"healingd is missing", "run make first", "then sudo make install"} {
		if !strings.Contains(out, want) {
			t.Errorf("make install without binaries said:\n%s\nwant it to say %q", out, want)
		}
	}
	if strings.Contains(out, "/nonexistent/go") {
		t.Errorf("make install tried to build:\n%s", out)
	}
}

// The README names the Go that go.mod needs: a distribution's own may be
// older (Debian 12 has 1.19).
func TestTheREADMENamesTheGoVersion(t *testing.T) {
	mod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "Go " + string(m[1]); !strings.Contains(string(readme), want) {
		t.Errorf("README.md does not name %q, the version go.mod needs", want)
	}
}
