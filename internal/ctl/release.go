package ctl

import (
	"github.com/urfave/cli/v2"

	"github.com/luminous-healing/luminous-healing/internal/client"
)

func releaseCommand() *cli.Command {
	cmd := actionCommand("release", "lift the limits the daemon put on a unit (polkit: org.luminous.healing.heal)",
		"unit", (*client.Client).Release)
	cmd.BashComplete = completeThrottled
	return cmd
}
