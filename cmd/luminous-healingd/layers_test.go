package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The daemon's layers, bottom first. This list is the one source of the
// rule: TestLayers holds every package's imports to it, and the table in
// docs/developers.md is rendered from it (`go test ./cmd/luminous-healingd
// -run TestLayers -update` rewrites the table). A new package fails the
// test until it has a row here.
//
// The test lives in cmd/luminous-healingd, beside the daemon that links
// every layer, so that the narrow test run of anyone who lands work on the
// daemon (./cmd/...) runs it too.
var layers = []layer{
	{name: "printable", pkgs: []string{"internal/printable"},
		owns: "which characters are unsafe on a terminal, in a notification or a log, and their escapes; for the daemon and the client alike"},
	{name: "vocabulary", pkgs: []string{"internal/issue", "internal/unit"},
		owns:   "the shared vocabulary: issue records, kinds, severities, actions; systemd unit names",
		mayUse: []string{"printable"}},
	{name: "probe", pkgs: []string{"internal/probe"},
		owns: "health probes of a monitored unit (HTTP(S), TCP, UNIX socket, a command in a sandboxed unit), consecutive failures, the start-up grace"},
	{name: "silence", pkgs: []string{"internal/silence"},
		owns:   "silences and maintenance windows: scopes, effects, validation, the calendar subset windows are written in",
		mayUse: []string{"vocabulary"}},
	{name: "config", pkgs: []string{"internal/config"},
		owns:   "the one validated configuration struct and the TOML file",
		mayUse: []string{"printable", "vocabulary", "probe", "silence"}},
	{name: "state", pkgs: []string{"internal/state"},
		owns: "atomic state files in the StateDirectory"},
	{name: "detect", pkgs: []string{"internal/detect"},
		owns:   "sampling (one file per signal) and hysteresis rules",
		mayUse: []string{"vocabulary"}},
	{name: "nixclean", pkgs: []string{"internal/nixclean"},
		owns: "the NixOS cleanup: generations' retention policy, garbage collection, /boot through the bootloader (`luminous-healingd nix-cleanup`)"},
	{name: "heal", pkgs: []string{"internal/heal"},
		owns:   "the three actions (one file per action), breaker, limits, protected units",
		mayUse: []string{"vocabulary", "config", "nixclean"}},
	{name: "predict", pkgs: []string{"internal/predict"},
		owns:   "series history, trend model, forecasts, accuracy",
		mayUse: []string{"vocabulary", "config", "state", "detect"}},
	{name: "adapters", pkgs: []string{"internal/systemd", "internal/polkit", "internal/audit", "internal/metrics"},
		owns:   "adapters to systemd, polkit, the journal, Prometheus; they do not import each other",
		mayUse: []string{"vocabulary", "probe", "silence", "config", "state", "detect", "nixclean", "heal", "predict"}},
	{name: "engine", pkgs: []string{"internal/engine"},
		owns:   "the daemon's core: checks, unit events, probes, the healing pipeline, operator calls, status",
		mayUse: []string{"vocabulary", "probe", "silence", "config", "state", "detect", "nixclean", "heal", "predict", "adapters"}},
	{name: "client", pkgs: []string{"internal/client"},
		owns:   "the D-Bus wire contract and typed client: every record's one definition and its codec, for healingctl, both transports and tests; godbus and printable only (a test fails if healingctl links more)",
		mayUse: []string{"printable"}},
	{name: "wire", pkgs: []string{"internal/wire"},
		owns:   "the engine's state as `internal/client`'s records, which both transports serve",
		mayUse: []string{"vocabulary", "probe", "silence", "config", "state", "detect", "nixclean", "heal", "predict", "adapters", "engine", "client"}},
	{name: "interface", pkgs: []string{"dbus"},
		owns: "the interface XML (`dbus/embed.go`), embedded so the daemon exports the file it installs"},
	{name: "transports", pkgs: []string{"internal/dbusapi", "internal/web"},
		owns:   "transports: D-Bus (authorization happens here) and HTTP (read-only); they do not import each other",
		mayUse: []string{"vocabulary", "probe", "silence", "config", "state", "detect", "nixclean", "heal", "predict", "adapters", "engine", "client", "wire", "interface"}},
	{name: "ctl/show", pkgs: []string{"internal/ctl/show"},
		owns:   "how healingctl shows things to a person, for its commands and its dashboard alike: the one style file (severity colours), the words for records, what it says about an error and its exit status",
		mayUse: []string{"client"}},
	{name: "ctl/dashboard", pkgs: []string{"internal/ctl/dashboard"},
		owns:   "`healingctl dashboard`: the board, its full-screen Bubble Tea model and the feed of signals that keeps it current, the plain-text snapshot",
		mayUse: []string{"client", "ctl/show"}},
	{name: "ctl", pkgs: []string{"internal/ctl"},
		owns:   "healingctl's command line: one file per command (or family of commands), its tables and --json, `watch --notify`",
		mayUse: []string{"client", "ctl/show", "ctl/dashboard"}},
	{name: "commands", pkgs: []string{"cmd/luminous-healingd", "cmd/healingctl"},
		owns:   "wiring and command lines; only these wire things together (healingctl links internal/client and internal/ctl only, TestHealingctlDoesNotLinkTheDaemon)",
		mayUse: []string{"vocabulary", "probe", "silence", "config", "state", "detect", "nixclean", "heal", "predict", "adapters", "engine", "client", "wire", "interface", "transports", "ctl/show", "ctl/dashboard", "ctl"}},
	// Test kits import the layers they stand in front of and each other;
	// no layer above may import them, so nothing of theirs reaches the
	// daemon. Only tests do.
	{name: "test kits", pkgs: []string{"internal/testbed", "internal/bustest", "internal/securitytest", "internal/heal/healtest", "internal/engine/enginetest", "internal/dbusapi/apitest", "internal/nixclean/nixtest", "internal/predict/synth", "internal/manpage", "internal/ctl/ctltest"},
		owns:   "for tests only: a throwaway systemd, a private bus with a fake polkit, the rows of `make security-report`, a fake systemd manager, the engine on fakes of systemd, the machine and its signals, the D-Bus server on that engine and a private bus, a private Nix store, synthetic resource series, man pages from a urfave/cli app and the commented default configuration (the tests that generate `docs/man`), healingctl's golden files and the daemon of recorded records they run against",
		mayUse: []string{"vocabulary", "probe", "silence", "config", "state", "detect", "nixclean", "heal", "predict", "adapters", "engine", "client", "wire", "interface", "transports", "test kits"}},
	{name: "suites", pkgs: []string{"internal/e2e", "nixos"},
		owns:     "the end-to-end suite on a real systemd, the NixOS module's evaluation tests",
		testOnly: true},
}

const module = "github.com/luminous-healing/luminous-healing"

type layer struct {
	name   string
	pkgs   []string // import paths below the module
	owns   string
	mayUse []string // names of layers earlier in the list; none: nothing of ours
	// testOnly packages have no code but tests, which import anything.
	testOnly bool
}

// TestLayers fails when a package imports a package of its own layer or
// of a layer above it, when a package has no layer, or when the table in
// docs/developers.md is not the one rendered from layers. Only the
// packages' own (non-test) files count: a package's tests may import the
// test kits and the layers above it.
func TestLayers(t *testing.T) {
	layerOf, rank := checkLayerList(t)
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v: %s", err, stderr.String())
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(strings.TrimPrefix(fields[0], module), "/")
		own, ok := layerOf[pkg]
		if !ok {
			t.Errorf("package %s has no layer: give it a row in layers (cmd/luminous-healingd/layers_test.go) and run go test ./cmd/luminous-healingd -run TestLayers -update to redraw docs/developers.md", pkg)
			continue
		}
		for _, imp := range fields[1:] {
			if imp != module && !strings.HasPrefix(imp, module+"/") {
				continue
			}
			dep := strings.TrimPrefix(strings.TrimPrefix(imp, module), "/")
			depLayer, ok := layerOf[dep]
			if !ok {
				continue // reported on its own line
			}
			if !slices.Contains(layers[rank[own]].mayUse, depLayer) {
				rule := "may import only " + mayUseText(layers[rank[own]])
				if len(layers[rank[own]].mayUse) == 0 {
					rule = "may import nothing of ours"
				}
				t.Errorf("%s (layer %q) imports %s (layer %q): layer %q %s (docs/developers.md, Layout)",
					pkg, own, dep, depLayer, own, rule)
			}
		}
	}
	checkDeveloperDocs(t)
}

// checkLayerList checks the list itself: every package in one layer, and
// a layer may use only layers below it (a test kit also its own).
func checkLayerList(t *testing.T) (layerOf map[string]string, rank map[string]int) {
	t.Helper()
	layerOf, rank = map[string]string{}, map[string]int{}
	for i, l := range layers {
		if _, dup := rank[l.name]; dup {
			t.Fatalf("layer %q is listed twice", l.name)
		}
		rank[l.name] = i
		for _, p := range l.pkgs {
			if other, dup := layerOf[p]; dup {
				t.Fatalf("package %s is in layers %q and %q", p, other, l.name)
			}
			layerOf[p] = l.name
		}
		for _, u := range l.mayUse {
			r, ok := rank[u]
			if !ok {
				t.Fatalf("layer %q may use %q, which is not a layer below it", l.name, u)
			}
			if r == i && l.name != "test kits" {
				t.Fatalf("layer %q may use itself; only the test kits do", l.name)
			}
		}
	}
	return layerOf, rank
}

func mayUseText(l layer) string {
	if l.testOnly {
		return "nothing: tests only, which import anything"
	}
	if len(l.mayUse) == 0 {
		return "nothing of ours"
	}
	return strings.Join(l.mayUse, ", ")
}

// layerTable is the Layout table of docs/developers.md.
func layerTable() string {
	var b strings.Builder
	b.WriteString("| layer | packages | what it owns | may import (layers) |\n|---|---|---|---|\n")
	for _, l := range layers {
		pkgs := make([]string, len(l.pkgs))
		for i, p := range l.pkgs {
			pkgs[i] = "`" + p + "`"
		}
		b.WriteString("| " + l.name + " | " + strings.Join(pkgs, ", ") + " | " + l.owns + " | " + mayUseText(l) + " |\n")
	}
	return b.String()
}

// checkDeveloperDocs compares the first table after "## Layout" in
// docs/developers.md with layerTable, or rewrites it under -update.
func checkDeveloperDocs(t *testing.T) {
	t.Helper()
	path := filepath.Join("..", "..", "docs", "developers.md")
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(doc), "\n")
	start := slices.Index(lines, "## Layout\n")
	if start < 0 {
		t.Fatalf("%s has no \"## Layout\" section", path)
	}
	for start < len(lines) && !strings.HasPrefix(lines[start], "|") {
		start++
	}
	end := start
	for end < len(lines) && strings.HasPrefix(lines[end], "|") {
		end++
	}
	got, want := strings.Join(lines[start:end], ""), layerTable()
	if got == want {
		return
	}
	if *update {
		var b strings.Builder
		b.WriteString(strings.Join(lines[:start], ""))
		b.WriteString(want)
		b.WriteString(strings.Join(lines[end:], ""))
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("the Layout table of docs/developers.md is not the one drawn from layers in layers_test.go; run go test ./cmd/luminous-healingd -run TestLayers -update\n got:\n%s\nwant:\n%s", got, want)
}
