package ctl

import (
	"context"
	"fmt"
	"math"
	"strconv"

	"github.com/urfave/cli/v2"

	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/ctl/show"
)

func setCommand() *cli.Command {
	return &cli.Command{
		Name:  "set",
		Usage: "change a setting until the next reload, restarts included; status shows it (polkit: org.luminous.healing.develop)",
		// Without a setting, or with one that does not exist: a usage
		// error, not the help text and exit 0.
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return show.Usagef("set needs a setting: dry-run on|off, healing on|off or threshold KIND VALUE")
			}
			return show.Usagef("no setting %s: there are dry-run, healing and threshold", strconv.Quote(client.Printable(c.Args().First())))
		},
		Subcommands: []*cli.Command{
			{
				Name: "dry-run", Usage: "plan and record actions instead of executing them", ArgsUsage: "on|off",
				Action: func(c *cli.Context) error {
					return setSwitch(c, "dry-run", (*client.Client).SetDryRun)
				},
				BashComplete: completeOnOff,
			},
			{
				Name: "healing", Usage: "heal automatically, or only watch", ArgsUsage: "on|off",
				Action: func(c *cli.Context) error {
					return setSwitch(c, "healing", (*client.Client).SetHealingEnabled)
				},
				BashComplete: completeOnOff,
			},
			{
				Name: "threshold", Usage: "set a threshold: cpu, memory, disk (percent), load, pressure (percent, 0 = off)",
				ArgsUsage: "KIND VALUE",
				Action: func(c *cli.Context) error {
					a, err := args(c, "kind", "value")
					if err != nil {
						return err
					}
					v, err := strconv.ParseFloat(a[1], 64)
					if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
						return show.Usagef("threshold value %q is not a number", a[1])
					}
					e := newEnv(c)
					return e.act(c, func(ctx context.Context, cl *client.Client) error {
						return e.done(cl.SetThreshold(ctx, a[0], v), "%s threshold set to %g until the next reload", a[0], v)
					})
				},
				BashComplete: func(c *cli.Context) {
					if c.NArg() == 0 {
						fmt.Fprintln(c.App.Writer, "cpu\nmemory\ndisk\nload\npressure")
					}
				},
			},
		},
	}
}

func setSwitch(c *cli.Context, name string, set func(*client.Client, context.Context, bool) error) error {
	a, err := args(c, "on|off")
	if err != nil {
		return err
	}
	var on bool
	switch a[0] {
	case "on", "yes", "true", "1":
		on = true
	case "off", "no", "false", "0":
	default:
		return show.Usagef("set %s takes on or off, not %q", name, a[0])
	}
	e := newEnv(c)
	return e.act(c, func(ctx context.Context, cl *client.Client) error {
		return e.done(set(cl, ctx, on), "%s is %s", name, show.OnOff(on))
	})
}

func completeOnOff(c *cli.Context) {
	if c.NArg() == 0 {
		fmt.Fprintln(c.App.Writer, "on\noff")
	}
}
