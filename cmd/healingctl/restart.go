package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/luminous-healing/luminous-healing/internal/client"
)

func restartCommand() *cli.Command {
	return &cli.Command{
		Name: "restart",
		Usage: "restart a unit: a monitored one needs org.luminous.healing.heal, " +
			"any other org.luminous.healing.develop",
		ArgsUsage: "UNIT",
		Action: func(c *cli.Context) error {
			a, err := args(c, "unit")
			if err != nil {
				return err
			}
			e := newEnv(c)
			return e.act(c, func(ctx context.Context, cl *client.Client) error {
				r, err := cl.RestartUnit(ctx, a[0])
				if err != nil {
					return err
				}
				return printResult(e, r)
			})
		},
		BashComplete: completeUnits,
	}
}

// completeUnits offers the monitored units.
func completeUnits(c *cli.Context) {
	if c.NArg() > 0 {
		return
	}
	e := newEnv(c)
	_ = e.read(c, func(ctx context.Context, cl *client.Client) error {
		st, err := cl.Status(ctx)
		for _, u := range st.MonitoredUnits {
			e.stdout.Write([]byte(u + "\n"))
		}
		return err
	})
}
