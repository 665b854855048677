package metrics_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/luminous-healing/luminous-healing/internal/metrics"
)

// gatherer scrapes the recorder's /metrics and parses the text with
// Prometheus's own parser: every test of the metrics' values goes through
// the format the daemon writes by hand (expo.go), so a line Prometheus
// could not read fails them. Prometheus's client is linked into the tests
// only, for its parser, its comparisons and its linter.
func gatherer(t testing.TB, r *metrics.Recorder) prometheus.Gatherer {
	t.Helper()
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		p := expfmt.NewTextParser(model.LegacyValidation)
		byName, err := p.TextToMetricFamilies(strings.NewReader(scrape(t, r.Handler())))
		if err != nil {
			return nil, err
		}
		out := make([]*dto.MetricFamily, 0, len(byName))
		for _, mf := range byName {
			out = append(out, mf)
		}
		return out, nil
	})
}

// count is the number of series of one family in a scrape.
func count(t testing.TB, r *metrics.Recorder, name string) int {
	t.Helper()
	mfs, err := gatherer(t, r).Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return len(mf.GetMetric())
		}
	}
	return 0
}
