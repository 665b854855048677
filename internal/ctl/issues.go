package ctl

import (
	"context"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/ctl/show"
)

func issuesCommand() *cli.Command {
	return &cli.Command{
		Name:  "issues",
		Usage: "list the active issues, worst first",
		Action: func(c *cli.Context) error {
			if _, err := args(c); err != nil {
				return err
			}
			e := newEnv(c)
			return e.read(c, func(ctx context.Context, cl *client.Client) error {
				is, err := cl.Issues(ctx)
				if err != nil {
					return err
				}
				switch {
				case e.json:
					return printJSON(e.stdout, records(is))
				case len(is) == 0:
					_, err := io.WriteString(e.stdout, "No active issues.\n")
					return err
				}
				printIssues(e.stdout, is, show.Colorful(e.stdout))
				return nil
			})
		},
	}
}

func printIssues(w io.Writer, is []client.Issue, color bool) {
	t := newTable(w, "ISSUE", "SEVERITY", "STATE", "ACTION", "SINCE", "MESSAGE")
	for _, i := range is {
		t.row(i.ID, show.Sev(color, i.Severity, i.Severity), i.State, i.Action, ago(i.Since), show.IssueMessage(i))
	}
	t.flush()
}
