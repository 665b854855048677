package ctl

import (
	"github.com/urfave/cli/v2"

	"github.com/luminous-healing/luminous-healing/internal/client"
)

func throttleCommand() *cli.Command {
	return actionCommand("throttle", "lower a unit's CPUWeight and MemoryHigh until released (polkit: org.luminous.healing.heal)",
		"unit", (*client.Client).Throttle)
}
