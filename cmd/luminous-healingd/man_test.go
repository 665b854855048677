package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/manpage"
)

var update = flag.Bool("update", false, "rewrite the generated files: the man pages in docs/man and the Layout table of docs/developers.md")

// luminous-healingd(8) is --help's text (the app's usage, description,
// flags and commands) with the sections --help has no room for.
func daemonPage() *manpage.Page {
	return manpage.FromApp(newApp(), "8", "System Administration",
		[]string{
			manpage.B("luminous-healingd") + " [" + manpage.I("OPTIONS") + "]",
			manpage.B("luminous-healingd --user"),
			manpage.B("luminous-healingd --check-config") + " [" + manpage.B("--config") + " " + manpage.I("FILE") + "]",
			manpage.B("luminous-healingd nix-cleanup") + " [" + manpage.I("OPTIONS") + "]",
		}, nil,
		manpage.Section{Title: "Signals", Items: []manpage.Item{
			{Term: manpage.B("SIGHUP"), Text: "Read the configuration file again (systemctl reload luminous-healing, healingctl reload). A bad file keeps the running configuration and the reason is logged."},
			{Term: manpage.B("SIGTERM") + ", " + manpage.B("SIGINT"), Text: "Write the state and stop."},
		}},
		manpage.Section{Title: "The administrator first", Text: "The daemon never undoes what a person did. A monitored unit that a stop job took down (systemctl stop, isolate, mask --now, a conflicting unit, shutdown) is not restarted until it is started again; a silence (healingctl silence add) or a maintenance window ([[maintenance]] in luminous-healing.toml(5)) pauses automatic healing within its scope until it ends; restarts systemd did by itself (Restart=) are recorded in the history and counted in healing_unit_restarts_by_systemd_total. Issues are still detected and recorded throughout."},
		manpage.Section{Title: "Exit status", Items: []manpage.Item{
			{Term: manpage.B("0"), Text: "Stopped as asked; with --check-config, the configuration is valid."},
			{Term: manpage.B("1"), Text: "A runtime failure; systemd restarts the service (Restart=on-failure)."},
			{Term: manpage.B("2"), Text: "Bad flags or a bad configuration file; the message names the key."},
		}},
		manpage.Section{Title: "Files", Items: []manpage.Item{
			{Term: manpage.I(config.DefaultPath), Text: "The configuration, luminous-healing.toml(5)."},
			{Term: manpage.I("/var/lib/luminous-healing/"), Text: "State: resource history for prediction, breakers, overrides, units stopped on purpose, silences (StateDirectory=)."},
			{Term: manpage.I("luminous-healing.service"), Text: "The systemd unit; journalctl -u luminous-healing shows the daemon's log, and journalctl -x explains each event through the message catalog."},
			{Term: manpage.I("/usr/share/dbus-1/system.d/org.luminous.Healing.conf"), Text: "The bus policy: the daemon owns org.luminous.Healing; everyone may call it, polkit decides the privileged methods."},
			{Term: manpage.I("/usr/share/polkit-1/actions/org.luminous.healing.policy"), Text: "The polkit actions org.luminous.healing.heal and org.luminous.healing.develop."},
		}},
		manpage.Section{Title: "See also", Text: "healingctl(1), luminous-healing.toml(5), systemd.service(5), journalctl(1), polkit(8), busctl(1); the documentation in /usr/share/doc/luminous-healing/."},
	)
}

// luminous-healing.toml(5) is the commented default configuration, the
// file make install puts in /etc and --help's configuration refers to.
func configPage() *manpage.Page {
	intro, tables := manpage.ConfigFile(config.DefaultTOML)
	return &manpage.Page{
		Name: "luminous-healing.toml", Section: "5", Manual: "File Formats",
		Summary:  "configuration of luminous-healingd",
		Synopsis: []string{manpage.I(config.DefaultPath)},
		Sections: []manpage.Section{
			{Title: "Description", Text: intro},
			{Title: "Options", Text: "Each table, each key with its default and what it does.", Sub: tables},
			{Title: "Example", Text: "Watch two services, heal nothing for now, look every 15 seconds:\n\n" +
				"   [healing]\n   dry_run = true\n\n   [monitoring]\n   interval = \"15s\"\n\n   [services]\n   monitored = [\"nginx\", \"postgresql\"]\n\n" +
				"then check and load it:\n\n   luminous-healingd --check-config --config " + config.DefaultPath + "\n   systemctl reload luminous-healing"},
			{Title: "See also", Text: "luminous-healingd(8), healingctl(1); on NixOS the module's options (services.luminous-healing) write this file."},
		},
	}
}

func TestManPagesAreCurrent(t *testing.T) {
	checkManPage(t, daemonPage(), "go test ./cmd/luminous-healingd -run TestManPages -update")
	checkManPage(t, configPage(), "go test ./cmd/luminous-healingd -run TestManPages -update")
}

// checkManPage compares page with the committed docs/man file, or rewrites
// it under -update.
func checkManPage(t *testing.T, page *manpage.Page, regenerate string) {
	t.Helper()
	path := filepath.Join("..", "..", "docs", "man", page.Name+"."+page.Section)
	got := page.Roff()
	want, err := os.ReadFile(path)
	if *update {
		if !bytes.Equal(got, want) {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("docs/man/%s.%s is not what --help and the sources say now; regenerate it with\n\t%s", page.Name, page.Section, regenerate)
	}
}

// Every unit we ship points at documentation that is there offline: our
// man pages (the daemon's unit named a web address that did not exist).
func TestTheUnitsPointAtTheManPages(t *testing.T) {
	units, _ := filepath.Glob("*.service")
	more, _ := filepath.Glob("../healingctl/*.service")
	units = append(units, more...)
	if len(units) < 2 {
		t.Fatalf("found only %q", units)
	}
	ours := regexp.MustCompile(`^man:((?:luminous-healing|healingctl)[a-z.-]*)\(([0-9])\)$`)
	for _, path := range units {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			v, ok := strings.CutPrefix(line, "Documentation=")
			if !ok {
				continue
			}
			for _, doc := range strings.Fields(v) {
				if !strings.HasPrefix(doc, "man:") {
					t.Errorf("%s: Documentation=%s; want man pages, which are there without a network", path, doc)
					continue
				}
				if m := ours.FindStringSubmatch(doc); m != nil {
					if _, err := os.Stat(filepath.Join("..", "..", "docs", "man", m[1]+"."+m[2])); err != nil {
						t.Errorf("%s: Documentation=%s, but docs/man has no %s.%s", path, doc, m[1], m[2])
					}
				}
			}
		}
	}
	unit, err := os.ReadFile("luminous-healing.service")
	if err != nil {
		t.Fatal(err)
	}
	if want := "Documentation=man:luminous-healingd(8) man:luminous-healing.toml(5) man:healingctl(1)\n"; !strings.Contains(string(unit), want) {
		t.Errorf("luminous-healing.service lacks %q", want)
	}
}
