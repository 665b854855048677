package ctl

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/luminous-healing/luminous-healing/internal/client"
)

func reloadCommand() *cli.Command {
	return &cli.Command{
		Name:  "reload",
		Usage: "re-read the configuration file; a bad file changes nothing (polkit: org.luminous.healing.develop)",
		Action: acts(nil, func(ctx context.Context, e *env, cl *client.Client, _ []string) error {
			return e.done(cl.Reload(ctx), "configuration reloaded; settings changed with 'healingctl set' are dropped")
		}),
	}
}
