package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/luminous-healing/luminous-healing/internal/client"
)

func releaseCommand() *cli.Command {
	cmd := actionCommand("release", "lift the limits the daemon put on a unit (polkit: org.luminous.healing.heal)",
		"unit", (*client.Client).Release)
	cmd.BashComplete = completeThrottled
	return cmd
}

// completeThrottled offers the throttled units.
func completeThrottled(c *cli.Context) {
	if c.NArg() > 0 {
		return
	}
	e := newEnv(c)
	_ = e.read(c, func(ctx context.Context, cl *client.Client) error {
		throttles, err := cl.Throttles(ctx)
		for _, t := range throttles {
			e.stdout.Write([]byte(t.Unit + "\n"))
		}
		return err
	})
}
