package ctl

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/ctl/show"
)

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show health, mode, each resource against its threshold, the monitored units, issues, predictions, breakers and throttles",
		Action: reads(nil, func(ctx context.Context, e *env, cl *client.Client, _ []string) error {
			st, err := cl.Status(ctx)
			if err != nil {
				return err
			}
			if e.json {
				return printJSON(e.stdout, st)
			}
			printStatus(e.stdout, st, show.Colorful(e.stdout))
			return nil
		}),
	}
}

func printStatus(w io.Writer, st client.Status, color bool) {
	host := st.Hostname
	if host == "" {
		host = "this machine"
	}
	fmt.Fprintf(w, "luminous-healingd %s on %s (%s mode)\n", st.Version, host, st.Mode)
	issues := fmt.Sprintf("%d active issue", st.ActiveIssues)
	if st.ActiveIssues != 1 {
		issues += "s"
	}
	fmt.Fprintf(w, "  Health:   %s, %s\n", show.Sev(color, st.Health, "● "+st.Health), issues)
	mode := "healing on"
	switch {
	case !st.HealingEnabled:
		mode = "healing OFF: issues are watched, nothing is healed automatically"
	case st.DryRun:
		mode = "healing on, dry-run: actions are planned and recorded, none is executed"
	}
	fmt.Fprintf(w, "  Mode:     %s\n", mode)
	if st.Systemd {
		fmt.Fprintf(w, "  Systemd:  reachable; %d unit(s) monitored\n", len(st.MonitoredUnits))
	} else {
		fmt.Fprintf(w, "  Systemd:  not reachable; watching resources only, no unit is watched or healed\n")
	}
	fmt.Fprintf(w, "  Checked:  %s (every %s)\n", ago(st.LastCheck), show.Duration(st.Interval))
	if st.ActiveSilences > 0 {
		fmt.Fprintf(w, "  Silenced: %s\n", show.Sev(color, "warning", fmt.Sprintf("%d silence(s) in force: healing paused within their scope", st.ActiveSilences)))
	}
	if st.SampleError != "" {
		fmt.Fprintf(w, "  Sampling: %s\n", show.Sev(color, "warning", st.SampleError))
	}
	if len(st.Overrides) > 0 {
		fmt.Fprintf(w, "  Override: %s\n", show.Sev(color, "warning", show.Overrides(st)))
	}

	if len(st.Resources) > 0 {
		fmt.Fprintln(w)
		t := newTable(w, "RESOURCE", "VALUE", "THRESHOLD", "STATE")
		for _, r := range st.Resources {
			t.row(r.ID, show.Value(r.Kind, r.Value), show.Threshold(r.Kind, r.Threshold), show.Sev(color, r.Severity, r.Severity))
		}
		t.flush()
	}
	if len(st.Units) > 0 {
		fmt.Fprintln(w)
		t := newTable(w, "UNIT", "STATE")
		for _, u := range st.Units {
			t.row(u.Name, show.Sev(color, show.UnitSeverity(u.ActiveState), show.UnitState(u)))
		}
		t.flush()
	}
	if len(st.Probes) > 0 {
		fmt.Fprintln(w)
		printProbes(w, st.Probes, color)
	}
	fmt.Fprintln(w)
	if len(st.Issues) == 0 {
		fmt.Fprintln(w, "No active issues.")
	} else {
		printIssues(w, st.Issues, color)
	}
	if len(st.Predictions) > 0 {
		fmt.Fprintln(w)
		printPredictions(w, st.Predictions)
	}
	if len(st.Breakers) > 0 {
		fmt.Fprintln(w)
		t := newTable(w, "BREAKER", "FAILURES", "NEXT ATTEMPT")
		for _, b := range st.Breakers {
			next := in(b.NextAttempt)
			if b.GivenUp {
				next = show.Sev(color, "critical", "given up: healingctl reset "+b.Issue)
			} else if b.NextAttempt.IsZero() {
				next = "allowed now"
			}
			t.row(b.Issue, fmt.Sprint(b.Failures), next)
		}
		t.flush()
	}
	if len(st.Silences) > 0 {
		fmt.Fprintln(w)
		printSilences(w, st.Silences, clock())
	}
	if len(st.Throttles) > 0 {
		fmt.Fprintln(w)
		t := newTable(w, "THROTTLED", "SINCE", "LIMITS", "BECAUSE OF")
		for _, th := range st.Throttles {
			t.row(th.Unit, ago(th.Since), show.ThrottleLimits(th), show.OrDash(strings.Join(th.Issues, ",")))
		}
		t.flush()
	}
}
