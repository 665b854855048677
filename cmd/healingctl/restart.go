package main

import (
	"context"

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

// completeUnits offers the monitored units.
func completeUnits(c *cli.Context) {
	if c.NArg() > 0 {
		return
	}
	e := newEnv(c)
	_ = e.read(c, func(ctx context.Context, cl *client.Client) error {
		st, err := cl.Summary(ctx)
		for _, u := range st.MonitoredUnits {
			e.stdout.Write([]byte(u + "\n"))
		}
		return err
	})
}
