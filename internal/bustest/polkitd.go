package bustest

import (
	"os"
	"os/exec"
	"testing"
)

// polkitdPaths are where distributions install polkitd, which is not on PATH.
var polkitdPaths = []string{
	"/usr/lib/polkit-1/polkitd", // Debian, Ubuntu, Fedora, Arch
	"/usr/libexec/polkitd",      // older RPM layouts
}

// StartPolkitd starts the real polkitd on b and waits until it owns
// org.freedesktop.PolicyKit1. polkitd only talks to "the system bus", so it
// finds b through DBUS_SYSTEM_BUS_ADDRESS. It reads the host's actions
// (/usr/share/polkit-1/actions) and rules (/etc/polkit-1/rules.d,
// /usr/share/polkit-1/rules.d), and switches to its own user, which is why
// Start puts the bus socket where every user can reach it.
//
// The test is skipped when polkitd is not installed or the test does not run
// as root (polkitd must start as root to switch users).
func StartPolkitd(t testing.TB, b *Bus) {
	t.Helper()
	path := ""
	for _, p := range polkitdPaths {
		if _, err := os.Stat(p); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Skip("bustest: polkitd is not installed (Debian: apt install polkitd); skipping test against the real polkit")
	}
	if os.Geteuid() != 0 {
		t.Skip("bustest: polkitd needs root to start; skipping test against the real polkit")
	}
	cmd := exec.Command(path, "--no-debug")
	cmd.Env = append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS="+b.Address)
	proc := startProcess(t, "polkitd", cmd)
	if err := waitForName(b.Conn(t), AuthorityName, proc); err != nil {
		t.Fatalf("bustest: %v\n%s", err, proc.log())
	}
}
