// Command luminous-healingd is the self-healing daemon. It runs as root under
// systemd (luminous-healing.service) and owns org.luminous.Healing on the
// system bus; with --user it runs as anyone on the session bus, reading the
// real machine and planning instead of acting.
package main

import "os"

func main() {
	os.Exit(run(os.Args))
}
