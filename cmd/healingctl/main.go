// Command healingctl controls luminous-healingd over D-Bus: status, issues,
// predictions and history for everyone; healing and settings for those
// polkit allows. See docs/healingctl.md.
//
// It talks to the daemon only through internal/client and never links the
// daemon's packages (TestHealingctlDoesNotLinkTheDaemon).
package main

import "os"

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}
