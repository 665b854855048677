package main

import (
	"os/exec"
	"strings"
	"testing"
)

// healingctl must reach the daemon through internal/client only: linking
// the engine, systemd or heal into a client would be a layering bug and a
// bigger binary. Its own packages are the command line (internal/ctl and
// below it), the wire contract and the text escaping the contract uses.
func TestHealingctlDoesNotLinkTheDaemon(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	const module = "github.com/luminous-healing/luminous-healing/"
	for _, p := range strings.Fields(string(out)) {
		if !strings.HasPrefix(p, module) {
			continue
		}
		switch own := strings.TrimPrefix(p, module); {
		case own == "cmd/healingctl", own == "internal/client", own == "internal/printable",
			own == "internal/ctl", strings.HasPrefix(own, "internal/ctl/"):
		default:
			t.Errorf("healingctl links %s; it may use internal/client, internal/printable and internal/ctl only", p)
		}
	}
}
