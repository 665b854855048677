package ctl

import (
	"context"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/luminous-healing/luminous-healing/internal/client"
)

// actionCommand is a command that runs one action on one named target —
// an issue or a unit — and prints its result: heal, restart, throttle and
// release differ only in the call they make.
func actionCommand(name, usage, arg string, call func(*client.Client, context.Context, string) (client.ActionResult, error)) *cli.Command {
	return &cli.Command{
		Name:      name,
		Usage:     usage,
		ArgsUsage: strings.ToUpper(arg),
		Action: func(c *cli.Context) error {
			a, err := args(c, arg)
			if err != nil {
				return err
			}
			e := newEnv(c)
			return e.act(c, func(ctx context.Context, cl *client.Client) error {
				r, err := call(cl, ctx, a[0])
				if err != nil {
					return err
				}
				return printResult(e, r)
			})
		},
	}
}
