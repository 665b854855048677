package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/luminous-healing/luminous-healing/internal/client"
)

func releaseCommand() *cli.Command {
	return &cli.Command{
		Name:      "release",
		Usage:     "lift the limits the daemon put on a unit (polkit: org.luminous.healing.heal)",
		ArgsUsage: "UNIT",
		Action: func(c *cli.Context) error {
			a, err := args(c, "unit")
			if err != nil {
				return err
			}
			e := newEnv(c)
			return e.act(c, func(ctx context.Context, cl *client.Client) error {
				r, err := cl.Release(ctx, a[0])
				if err != nil {
					return err
				}
				return printResult(e, r)
			})
		},
		BashComplete: completeThrottled,
	}
}

// completeThrottled offers the throttled units.
func completeThrottled(c *cli.Context) {
	if c.NArg() > 0 {
		return
	}
	e := newEnv(c)
	_ = e.read(c, func(ctx context.Context, cl *client.Client) error {
		st, err := cl.Status(ctx)
		for _, t := range st.Throttles {
			e.stdout.Write([]byte(t.Unit + "\n"))
		}
		return err
	})
}
