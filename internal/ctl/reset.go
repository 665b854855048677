package ctl

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/luminous-healing/luminous-healing/internal/client"
)

func resetCommand() *cli.Command {
	return &cli.Command{
		Name:      "reset",
		Usage:     "re-arm healing of an issue that was given up or backs off (polkit: org.luminous.healing.heal)",
		ArgsUsage: "ISSUE",
		Action: func(c *cli.Context) error {
			a, err := args(c, "issue")
			if err != nil {
				return err
			}
			e := newEnv(c)
			return e.act(c, func(ctx context.Context, cl *client.Client) error {
				if err := cl.ResetBreaker(ctx, a[0]); err != nil {
					return err
				}
				if !e.json {
					fmt.Fprintf(e.stdout, "%s: breaker reset; healing is armed again\n", a[0])
				}
				return nil
			})
		},
		BashComplete: completeIssues,
	}
}
