package ctl

import (
	"github.com/urfave/cli/v2"

	"github.com/luminous-healing/luminous-healing/internal/client"
)

func healCommand() *cli.Command {
	cmd := actionCommand("heal", "run the action of an active issue now (polkit: org.luminous.healing.heal)",
		"issue", (*client.Client).Heal)
	cmd.BashComplete = completeIssues
	return cmd
}
