package ctl

import (
	"io"

	"github.com/urfave/cli/v2"

	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/ctl/show"
)

func issuesCommand() *cli.Command {
	return &cli.Command{
		Name:  "issues",
		Usage: "list the active issues, worst first",
		Action: lists((*client.Client).Issues, "No active issues.", func(w io.Writer, is []client.Issue) {
			printIssues(w, is, show.Colorful(w))
		}),
	}
}

func printIssues(w io.Writer, is []client.Issue, color bool) {
	t := newTable(w, "ISSUE", "SEVERITY", "STATE", "ACTION", "SINCE", "MESSAGE")
	for _, i := range is {
		t.row(i.ID, show.Sev(color, i.Severity, i.Severity), i.State, i.Action, ago(i.Since), show.IssueMessage(i))
	}
	t.flush()
}
