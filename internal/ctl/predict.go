package ctl

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/ctl/show"
)

func predictCommand() *cli.Command {
	return &cli.Command{
		Name:   "predict",
		Usage:  "show the resources predicted to cross their thresholds",
		Action: lists((*client.Client).Predictions, "No resource is predicted to cross its threshold.", printPredictions),
	}
}

func printPredictions(w io.Writer, ps []client.Prediction) {
	t := newTable(w, "PREDICTED", "NOW", "THRESHOLD", "TREND", "REACHED", "CONFIDENCE")
	for _, p := range ps {
		t.row(p.Series, show.Value(p.Kind, p.Value), show.Threshold(p.Kind, p.Threshold),
			fmt.Sprintf("%+.2f/h", p.TrendPerHour), in(p.ETA), fmt.Sprintf("%.0f%%", 100*p.Confidence))
	}
	t.flush()
}
