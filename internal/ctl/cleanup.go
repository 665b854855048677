package ctl

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/luminous-healing/luminous-healing/internal/client"
)

func cleanupCommand() *cli.Command {
	return &cli.Command{
		Name:  "cleanup",
		Usage: "start the cleanup units now and report the space freed (polkit: org.luminous.healing.heal)",
		Action: func(c *cli.Context) error {
			if _, err := args(c); err != nil {
				return err
			}
			e := newEnv(c)
			return e.act(c, func(ctx context.Context, cl *client.Client) error {
				r, err := cl.Cleanup(ctx)
				if err != nil {
					return err
				}
				return printResult(e, r)
			})
		},
	}
}
