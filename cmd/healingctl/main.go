// Command healingctl controls luminous-healingd over D-Bus; the command
// line is internal/ctl (docs/healingctl.md).
package main

import (
	"os"

	"github.com/luminous-healing/luminous-healing/internal/ctl"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

func main() { os.Exit(ctl.Run(version, os.Args, os.Stdout, os.Stderr)) }
