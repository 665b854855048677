package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/luminous-healing/luminous-healing/internal/client"
)

func throttleCommand() *cli.Command {
	return &cli.Command{
		Name:      "throttle",
		Usage:     "lower a unit's CPUWeight and MemoryHigh until released (polkit: org.luminous.healing.heal)",
		ArgsUsage: "UNIT",
		Action: func(c *cli.Context) error {
			a, err := args(c, "unit")
			if err != nil {
				return err
			}
			e := newEnv(c)
			return e.act(c, func(ctx context.Context, cl *client.Client) error {
				r, err := cl.Throttle(ctx, a[0])
				if err != nil {
					return err
				}
				return printResult(e, r)
			})
		},
	}
}
