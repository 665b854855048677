package metrics_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/luminous-healing/luminous-healing/internal/testbed"
)

const fleetDoc = "../../docs/fleet.md"

// fleetBlock returns the code block that follows `<!-- fleet: name -->` in
// docs/fleet.md.
func fleetBlock(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(fleetDoc)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)<!-- fleet: " + regexp.QuoteMeta(name) + " -->\n```[a-z]*\n(.*?)```")
	m := re.FindStringSubmatch(string(data))
	if m == nil {
		t.Fatalf("%s has no block marked <!-- fleet: %s -->", fleetDoc, name)
	}
	return m[1]
}

// TestTheFleetScrapeConfigurationPassesPromtool has promtool check the
// Prometheus configuration docs/fleet.md shows, with its target file and
// the shipped rules where it expects them.
func TestTheFleetScrapeConfigurationPassesPromtool(t *testing.T) {
	promtool := testbed.NeedTool(t, "promtool", "prometheus")
	dir := t.TempDir()
	conf := strings.ReplaceAll(fleetBlock(t, "prometheus.yml"), "/etc/prometheus/", dir+"/")
	if !strings.Contains(conf, "job_name: luminous-healing") || !strings.Contains(conf, "file_sd_configs") {
		t.Errorf("the fleet configuration must scrape the job luminous-healing through file_sd_configs:\n%s", conf)
	}
	rules, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	targets := filepath.Join(dir, "targets", "luminous-healing")
	if err := os.MkdirAll(targets, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		filepath.Join(dir, "prometheus.yml"):             conf,
		filepath.Join(dir, "luminous-healing.rules.yml"): string(rules),
		filepath.Join(targets, "fra1.yml"):               fleetBlock(t, "targets.yml"),
	} {
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(promtool, "check", "config", filepath.Join(dir, "prometheus.yml")).CombinedOutput()
	if err != nil {
		t.Errorf("promtool check config on docs/fleet.md's configuration: %v\n%s", err, out)
	}
	// promtool reads the target files too: a broken one must fail.
	if err := os.WriteFile(filepath.Join(targets, "broken.yml"), []byte("- targets: [\"no port here: at all\"]\n  labels: 7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "config", filepath.Join(dir, "prometheus.yml")).CombinedOutput(); err == nil {
		t.Errorf("promtool check config passed with a broken target file; this test would not see one in the docs\n%s", out)
	}
}

// TestTheFleetRunbookNamesEveryAlert keeps docs/fleet.md's table of what to
// do about each alert as long as the rules file.
func TestTheFleetRunbookNamesEveryAlert(t *testing.T) {
	rules, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(fleetDoc)
	if err != nil {
		t.Fatal(err)
	}
	names := regexp.MustCompile(`(?m)^\s*- alert: (\S+)`).FindAllStringSubmatch(string(rules), -1)
	if len(names) == 0 {
		t.Fatalf("no alert in %s", rulesFile)
	}
	for _, n := range names {
		if !strings.Contains(string(doc), "\n| `"+n[1]+"` (") {
			t.Errorf("docs/fleet.md's runbook has no row for %s", n[1])
		}
	}
}
