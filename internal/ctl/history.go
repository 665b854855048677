package ctl

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/ctl/show"
)

func historyCommand() *cli.Command {
	return &cli.Command{
		Name:  "history",
		Usage: "show what the daemon did and who asked, newest first",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "limit", Aliases: []string{"n"}, Value: 20, Usage: "show at most `N` entries (0: all that are kept)"},
		},
		Action: func(c *cli.Context) error {
			if _, err := args(c); err != nil {
				return err
			}
			limit := c.Int("limit")
			if limit < 0 || limit > client.MaxHistory {
				return show.Usagef("--limit: %d is not a count of entries: give 1 to %d, or 0 for all that are kept", limit, client.MaxHistory)
			}
			e := newEnv(c)
			return e.read(c, func(ctx context.Context, cl *client.Client) error {
				hs, err := cl.History(ctx, uint32(limit))
				if err != nil {
					return err
				}
				if e.json {
					return printJSON(e.stdout, records(hs))
				}
				if len(hs) == 0 {
					fmt.Fprintln(e.stdout, "No history yet.")
					return nil
				}
				t := newTable(e.stdout, "TIME", "EVENT", "OUTCOME", "BY", "MESSAGE")
				for _, h := range hs {
					by := "daemon"
					if h.CallerUID >= 0 {
						by = fmt.Sprintf("uid %d", h.CallerUID)
					}
					msg := h.Message
					if h.DryRun {
						msg += " [dry-run]"
					}
					t.row(h.Time.Local().Format("Jan 02 15:04:05"), h.Event, show.OrDash(h.Outcome), by, msg)
				}
				t.flush()
				return nil
			})
		},
	}
}
