package ctl

import (
	"context"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/ctl/show"
)

// The commands that act on the system through the daemon: heal, restart,
// cleanup, throttle, release and reset. Each is one privileged call.

func healCommand() *cli.Command {
	return actionCommand("heal", "run the action of an active issue now (polkit: org.luminous.healing.heal)",
		"issue", (*client.Client).Heal, completeIssues)
}

func restartCommand() *cli.Command {
	return actionCommand("restart", "restart a unit: a monitored one needs org.luminous.healing.heal, "+
		"any other org.luminous.healing.develop", "unit", (*client.Client).RestartUnit, completeUnits)
}

func cleanupCommand() *cli.Command {
	cleanup := func(cl *client.Client, ctx context.Context, _ string) (client.ActionResult, error) {
		return cl.Cleanup(ctx)
	}
	return actionCommand("cleanup", "start the cleanup units now and report the space freed (polkit: org.luminous.healing.heal)",
		"", cleanup, nil)
}

func throttleCommand() *cli.Command {
	return actionCommand("throttle", "lower a unit's CPUWeight and MemoryHigh until released (polkit: org.luminous.healing.heal)",
		"unit", (*client.Client).Throttle, nil)
}

func releaseCommand() *cli.Command {
	return actionCommand("release", "lift the limits the daemon put on a unit (polkit: org.luminous.healing.heal)",
		"unit", (*client.Client).Release, completeThrottled)
}

func resetCommand() *cli.Command {
	return &cli.Command{
		Name:      "reset",
		Usage:     "re-arm healing of an issue that was given up or backs off (polkit: org.luminous.healing.heal)",
		ArgsUsage: "ISSUE",
		Action: acts([]string{"issue"}, func(ctx context.Context, e *env, cl *client.Client, a []string) error {
			return e.done(cl.ResetBreaker(ctx, a[0]), "%s: breaker reset; healing is armed again", a[0])
		}),
		BashComplete: completeIssues,
	}
}

// actionCommand is a command that runs one action, on the one target
// named by arg (an issue or a unit; "" for none), and prints its result:
// heal, restart, cleanup, throttle and release differ only in the call
// they make and what completes their argument.
func actionCommand(name, usage, arg string, call func(*client.Client, context.Context, string) (client.ActionResult, error),
	complete cli.BashCompleteFunc) *cli.Command {
	var names []string
	if arg != "" {
		names = []string{arg}
	}
	return &cli.Command{
		Name:      name,
		Usage:     usage,
		ArgsUsage: strings.ToUpper(arg),
		Action: acts(names, func(ctx context.Context, e *env, cl *client.Client, a []string) error {
			target := ""
			if len(a) > 0 {
				target = a[0]
			}
			r, err := call(cl, ctx, target)
			if err != nil {
				return err
			}
			return e.answer(r, show.Result(r))
		}),
		BashComplete: complete,
	}
}
