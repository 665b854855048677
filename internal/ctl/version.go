package ctl

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/luminous-healing/luminous-healing/internal/client"
)

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print healingctl's version and the daemon's",
		Action: func(c *cli.Context) error {
			if _, err := args(c); err != nil {
				return err
			}
			e := newEnv(c)
			daemon := ""
			err := e.read(c, func(ctx context.Context, cl *client.Client) error {
				st, err := cl.Summary(ctx)
				daemon = st.Version
				return err
			})
			if e.json {
				out := map[string]any{"healingctl": version}
				if err == nil {
					out["daemon"] = daemon
				}
				return printJSON(e.stdout, out)
			}
			fmt.Fprintf(e.stdout, "healingctl %s\n", version)
			if err != nil {
				daemon = "not reachable"
			}
			fmt.Fprintf(e.stdout, "luminous-healingd %s\n", daemon)
			return nil
		},
	}
}
