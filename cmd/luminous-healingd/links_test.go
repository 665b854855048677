package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The daemon's binary is mapped whole at every start and counted in its
// resident memory (docs/performance.md): what it links is part of its
// footprint. These are what it must not link: Prometheus's client and its
// protobuf data model (the daemon writes the text format itself,
// internal/metrics/expo.go; 2.4 MB), the terminal and HTML template
// libraries of the client and the dashboard's tooling, and urfave/cli's
// markdown writer (built out with -tags urfave_cli_no_docs). It failed
// before internal/metrics wrote the format by hand.
func TestTheDaemonLinksNoHeavyLibraries(t *testing.T) {
	out, err := exec.Command("go", "list", "-tags", "urfave_cli_no_docs", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	banned := []string{
		"github.com/prometheus/", "google.golang.org/protobuf/",
		"html/template", "github.com/russross/blackfriday", "github.com/cpuguy83/go-md2man",
		"github.com/charmbracelet/", "github.com/gdamore/", "github.com/rivo/",
		"github.com/luminous-healing/luminous-healing/internal/ctl",
	}
	for _, p := range strings.Fields(string(out)) {
		for _, b := range banned {
			if strings.HasPrefix(p, b) {
				t.Errorf("the daemon links %s", p)
			}
		}
	}
}
