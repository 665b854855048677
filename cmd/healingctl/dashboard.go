package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// dashboardCommand holds the command's place: the terminal UI is built on
// internal/client separately.
func dashboardCommand() *cli.Command {
	return &cli.Command{
		Name:  "dashboard",
		Usage: "live terminal dashboard (not built yet: use 'healingctl watch' and 'healingctl status')",
		Action: func(c *cli.Context) error {
			return errors.New("the dashboard comes with the terminal UI work and is not in this build yet;\n" +
				"'healingctl status' and 'healingctl watch' show the same things meanwhile")
		},
	}
}
