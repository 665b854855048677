package ctl

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/ctl/show"
)

func injectCommand() *cli.Command {
	return &cli.Command{
		Name: "inject",
		Usage: "open a synthetic issue that runs the whole pipeline, to test a configuration " +
			"(polkit: org.luminous.healing.develop)",
		ArgsUsage: "[--severity S --value V --threshold T --message M] KIND [SUBJECT]",
		Description: "KIND is cpu, memory, disk, load, pressure or unit. SUBJECT is the unit for unit, the mount for\n" +
			"disk, and cpu, memory or io for pressure. Signals, audit records and the action (or its plan in\n" +
			"dry-run) follow as for a real issue; the issue ends once its action has run.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "severity", Value: "warning", Usage: "warning or critical"},
			&cli.Float64Flag{Name: "value", Usage: "the reading to report"},
			&cli.Float64Flag{Name: "threshold", Usage: "the threshold to report", DefaultText: "the threshold in force for KIND"},
			&cli.StringFlag{Name: "message", Usage: "one line describing it"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 || c.NArg() > 2 {
				return show.Usagef("inject needs KIND and, for unit, disk and pressure, a SUBJECT; put flags before them")
			}
			in := client.Injection{Kind: c.Args().Get(0), Subject: c.Args().Get(1), Severity: c.String("severity"),
				Value: c.Float64("value"), Threshold: c.Float64("threshold"), Message: c.String("message")}
			e := newEnv(c)
			return e.act(c, func(ctx context.Context, cl *client.Client) error {
				rec, err := cl.InjectIssue(ctx, in)
				if err != nil {
					return err
				}
				return e.answer(rec, fmt.Sprintf("injected %s (%s): %s; its action: %s", rec.ID, rec.Severity, rec.State, rec.Action))
			})
		},
	}
}
