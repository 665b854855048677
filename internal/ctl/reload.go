package ctl

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/luminous-healing/luminous-healing/internal/client"
)

func reloadCommand() *cli.Command {
	return &cli.Command{
		Name:  "reload",
		Usage: "re-read the configuration file; a bad file changes nothing (polkit: org.luminous.healing.develop)",
		Action: func(c *cli.Context) error {
			if _, err := args(c); err != nil {
				return err
			}
			e := newEnv(c)
			return e.act(c, func(ctx context.Context, cl *client.Client) error {
				if err := cl.Reload(ctx); err != nil {
					return err
				}
				if !e.json {
					fmt.Fprintln(e.stdout, "configuration reloaded; settings changed with 'healingctl set' are dropped")
				}
				return nil
			})
		},
	}
}
