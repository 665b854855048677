package metrics_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/luminous-healing/luminous-healing/internal/metrics"
	"github.com/luminous-healing/luminous-healing/internal/testbed"
)

// The Grafana dashboard and the alerting rules ship in docs/ for the NixOS
// module and for anyone's Prometheus; these tests keep them true to the
// metrics the daemon exports.
const (
	rulesFile     = "../../docs/prometheus/luminous-healing.rules.yml"
	rulesTestFile = "../../docs/prometheus/luminous-healing.rules.test.yml"
	grafanaFile   = "../../docs/grafana/luminous-healing.json"
	metricsDoc    = "../../docs/metrics.md"
)

// exported returns every series name a scrape can hold: the families, and
// for histograms their _bucket, _sum and _count series.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	r := metrics.New(metrics.Options{Version: "dev"})
	busy(r)
	mfs, err := gatherer(t, r).Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, mf := range mfs {
		out[mf.GetName()] = true
		if mf.GetType() == dto.MetricType_HISTOGRAM {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				out[mf.GetName()+s] = true
			}
		}
	}
	return out
}

var metricName = regexp.MustCompile(`\b(?:healing|process|go)_[a-z0-9_]+\b`)

func checkNames(t *testing.T, where, text string, have map[string]bool) {
	t.Helper()
	for _, name := range metricName.FindAllString(text, -1) {
		if !have[name] {
			t.Errorf("%s uses %s, which the daemon does not export", where, name)
		}
	}
}

func TestAlertRulesUseOnlyExportedMetrics(t *testing.T) {
	data, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	have := exported(t)
	for i, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, "expr:") || strings.HasPrefix(strings.TrimSpace(line), "time()") {
			checkNames(t, fmt.Sprintf("%s:%d", rulesFile, i+1), line, have)
		}
	}
}

func TestAlertRulesPassPromtool(t *testing.T) {
	promtool := testbed.NeedTool(t, "promtool", "prometheus")
	for _, args := range [][]string{{"check", "rules", filepath.Base(rulesFile)}, {"test", "rules", filepath.Base(rulesTestFile)}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = filepath.Dir(rulesFile)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// grafanaExprs returns every query of the dashboard, by panel title.
func grafanaExprs(t *testing.T) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(grafanaFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Title  string `json:"title"`
		Panels []struct {
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("%s: %v", grafanaFile, err)
	}
	if dash.UID != "luminous-healing" || dash.Title == "" {
		t.Errorf("uid %q, title %q: want the fixed uid luminous-healing and a title", dash.UID, dash.Title)
	}
	out := map[string][]string{}
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			out[p.Title] = append(out[p.Title], tg.Expr)
		}
	}
	return out
}

func TestGrafanaDashboardUsesOnlyExportedMetrics(t *testing.T) {
	have := exported(t)
	for title, exprs := range grafanaExprs(t) {
		for _, e := range exprs {
			checkNames(t, fmt.Sprintf("panel %q", title), e, have)
		}
	}
}

// TestGrafanaQueriesParse has promtool parse every query of the dashboard,
// written as recording rules with Grafana's variables filled in.
func TestGrafanaQueriesParse(t *testing.T) {
	promtool := testbed.NeedTool(t, "promtool", "prometheus")
	var b strings.Builder
	b.WriteString("groups:\n  - name: grafana\n    rules:\n")
	fill := strings.NewReplacer("$instance", ".*", "$__rate_interval", "5m")
	titles := slices.Sorted(func(yield func(string) bool) {
		for k := range grafanaExprs(t) {
			if !yield(k) {
				return
			}
		}
	})
	exprs := grafanaExprs(t)
	n := 0
	for _, title := range titles {
		for _, e := range exprs[title] {
			n++
			q, _ := json.Marshal(fill.Replace(e)) // a JSON string is a YAML string
			fmt.Fprintf(&b, "      - record: grafana:query_%d\n        expr: %s\n", n, q)
		}
	}
	f := filepath.Join(t.TempDir(), "grafana.rules.yml")
	if err := os.WriteFile(f, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", f).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules on the dashboard's %d queries: %v\n%s", n, err, out)
	}
}

// TestMetricsAreDocumented keeps docs/metrics.md listing every metric the
// daemon exports itself.
func TestMetricsAreDocumented(t *testing.T) {
	doc, err := os.ReadFile(metricsDoc)
	if err != nil {
		t.Fatal(err)
	}
	for name := range exported(t) {
		if !strings.HasPrefix(name, "healing_") || strings.HasSuffix(name, "_bucket") ||
			strings.HasSuffix(name, "_sum") || strings.HasSuffix(name, "_count") {
			continue
		}
		if !strings.Contains(string(doc), "`"+name+"`") {
			t.Errorf("docs/metrics.md does not document %s", name)
		}
	}
}
