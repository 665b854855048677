package ctl

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/ctl/show"
)

func probeCommand() *cli.Command {
	return &cli.Command{
		Name: "probe",
		Usage: "run a unit's health probe now and print the result; it counts towards no issue " +
			"(polkit: org.luminous.healing.heal; exit 1 when the probe fails)",
		ArgsUsage:    "UNIT",
		BashComplete: completeUnits,
		Action: acts([]string{"unit"}, func(ctx context.Context, e *env, cl *client.Client, a []string) error {
			r, err := cl.RunProbe(ctx, a[0])
			if err != nil {
				return err
			}
			if err := e.answer(r, describeProbe(r)); err != nil {
				return err
			}
			if !r.OK {
				return errProbeFailed
			}
			return nil
		}),
	}
}

var errProbeFailed = errors.New("the probe failed")

// describeProbe is a probe's run in one line: "probe lh-web.service (http):
// ok — status 200 OK (2.1ms)".
func describeProbe(r client.ProbeResult) string {
	outcome := "ok"
	if !r.OK {
		outcome = "FAILED"
	}
	return fmt.Sprintf("probe %s (%s): %s — %s (%s)", r.Unit, r.Type, outcome, r.Detail, show.Duration(r.Duration))
}

// printProbes is status's table of the health probes.
func printProbes(w io.Writer, ps []client.Probe, color bool) {
	t := newTable(w, "PROBE", "TARGET", "EVERY", "LAST", "FAILING")
	for _, p := range ps {
		sev, last := show.ProbeLast(p, clock())
		last = show.Sev(color, sev, last)
		failing := fmt.Sprintf("%d/%d", p.Failing, p.Failures)
		if p.Action == "none" {
			failing += " (watch only)"
		}
		t.row(p.Unit, p.Target, show.Duration(p.Interval), last, failing)
	}
	t.flush()
}
