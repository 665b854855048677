package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/luminous-healing/luminous-healing/internal/client"
)

func healCommand() *cli.Command {
	cmd := actionCommand("heal", "run the action of an active issue now (polkit: org.luminous.healing.heal)",
		"issue", (*client.Client).Heal)
	cmd.BashComplete = completeIssues
	return cmd
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
