package testbed

import (
	"errors"
	"os"
	"os/exec"
	"testing"
)

// NeedTool returns the path of a host tool a test needs (chromium,
// promtool, tmux, …). Where it is missing the test skips loudly, except
// under CI (CI=true), which must have it: .ci/run installs pkg, the Debian
// package named.
func NeedTool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing but CI must run this test: .ci/run installs Debian's %s package", name, pkg)
	}
	t.Skipf("SKIPPED, NOT PASSED: %s is not installed (apt-get install %s): %v", name, pkg, errors.Unwrap(err))
	return ""
}
