package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The daemon's binary is mapped whole at every start and counted in its
// resident memory (docs/performance.md): what it links is part of its
// footprint. Prometheus's client and what it pulls (client_model's
// protobuf data model, expfmt, procfs) are linked on purpose: the product
// contract fixes client_golang as the daemon's exposition library
// (docs/dependencies.md). These are what it must not link: the terminal
// and HTML template libraries of the client and the dashboard's tooling,
// and urfave/cli's man-page and markdown writers (built out with -tags
// urfave_cli_no_docs).
func TestTheDaemonLinksNoHeavyLibraries(t *testing.T) {
	out, err := exec.Command("go", "list", "-tags", "urfave_cli_no_docs", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	banned := []string{
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
