package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/luminous-healing/luminous-healing/internal/client"
)

func healCommand() *cli.Command {
	return &cli.Command{
		Name:      "heal",
		Usage:     "run the action of an active issue now (polkit: org.luminous.healing.heal)",
		ArgsUsage: "ISSUE",
		Action: func(c *cli.Context) error {
			a, err := args(c, "issue")
			if err != nil {
				return err
			}
			e := newEnv(c)
			return e.act(c, func(ctx context.Context, cl *client.Client) error {
				r, err := cl.Heal(ctx, a[0])
				if err != nil {
					return err
				}
				return printResult(e, r)
			})
		},
		BashComplete: completeIssues,
	}
}

// completeIssues offers the active issue ids.
func completeIssues(c *cli.Context) {
	if c.NArg() > 0 {
		return
	}
	e := newEnv(c)
	_ = e.read(c, func(ctx context.Context, cl *client.Client) error {
		is, err := cl.Issues(ctx)
		for _, i := range is {
			e.stdout.Write([]byte(i.ID + "\n"))
		}
		return err
	})
}
