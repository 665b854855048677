package ctl

import (
	"github.com/urfave/cli/v2"

	"github.com/luminous-healing/luminous-healing/internal/client"
)

func restartCommand() *cli.Command {
	cmd := actionCommand("restart", "restart a unit: a monitored one needs org.luminous.healing.heal, "+
		"any other org.luminous.healing.develop",
		"unit", (*client.Client).RestartUnit)
	cmd.BashComplete = completeUnits
	return cmd
}
