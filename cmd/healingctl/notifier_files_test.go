package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// iniFile reads a unit or desktop file: "Section.Key" → its values.
func iniFile(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: not a key=value line: %q", path, line)
			}
			out[section+"."+k] = append(out[section+"."+k], v)
		}
	}
	return out
}

// make install puts the notifier where every desktop starts it at login:
// the user unit, enabled through graphical-session.target.wants, and the
// XDG autostart entry that systemd-managed sessions skip.
func TestMakeInstallStartsTheNotifierAtLogin(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed: skipping the install test")
	}
	dest := t.TempDir()
	cmd := exec.Command("make", "-s", "install-data", "DESTDIR="+dest, "PREFIX=/usr", "SYSCONFDIR=/etc")
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install-data: %v\n%s", err, out)
	}
	unitPath := filepath.Join(dest, "usr/lib/systemd/user/luminous-healing-notifier.service")
	unit := iniFile(t, unitPath)
	for k, want := range map[string]string{
		"Service.ExecStart": "/usr/bin/healingctl watch --notify", "Service.Restart": "on-failure",
		"Unit.PartOf": "graphical-session.target", "Install.WantedBy": "graphical-session.target",
	} {
		if got := unit[k]; !slices.Equal(got, []string{want}) {
			t.Errorf("the user unit's %s = %q; want %q", k, got, want)
		}
	}
	link := filepath.Join(dest, "usr/lib/systemd/user/graphical-session.target.wants/luminous-healing-notifier.service")
	if target, err := os.Readlink(link); err != nil || target != "../luminous-healing-notifier.service" {
		t.Errorf("graphical-session.target.wants link: %q, %v; want ../luminous-healing-notifier.service", target, err)
	}
	desktop := iniFile(t, filepath.Join(dest, "etc/xdg/autostart/luminous-healing-notifier.desktop"))
	for k, want := range map[string]string{
		"Desktop Entry.Exec": "/usr/bin/healingctl watch --notify", "Desktop Entry.Type": "Application",
		"Desktop Entry.X-systemd-skip": "true", "Desktop Entry.X-GNOME-HiddenUnderSystemd": "true",
	} {
		if got := desktop[k]; !slices.Equal(got, []string{want}) {
			t.Errorf("the autostart entry's %s = %q; want %q", k, got, want)
		}
	}

	// Where systemd --user runs the autostart entries
	// (systemd-xdg-autostart-generator: Plasma, GNOME under systemd), it
	// skips this one, as the user unit runs there; without the skip it
	// would make a second notifier of it.
	if gen := "/usr/lib/systemd/user-generators/systemd-xdg-autostart-generator"; fileExists(gen) {
		generate := func(xdg string) []string {
			out := t.TempDir()
			cmd := exec.Command(gen, out, out, out)
			cmd.Env = append(os.Environ(), "XDG_CONFIG_DIRS="+xdg, "XDG_CONFIG_HOME="+filepath.Join(t.TempDir(), "none"))
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", gen, err, b)
			}
			units, _ := filepath.Glob(filepath.Join(out, "app-*.service"))
			return units
		}
		// The entry as installed, and without X-systemd-skip; both without
		// TryExec and running /bin/true, as /usr/bin/healingctl is not
		// installed here and the generator skips an entry whose program is
		// missing.
		installed, _ := os.ReadFile(filepath.Join(dest, "etc/xdg/autostart/luminous-healing-notifier.desktop"))
		entry := func(text string) string {
			dir := filepath.Join(t.TempDir(), "xdg")
			if err := os.MkdirAll(filepath.Join(dir, "autostart"), 0o755); err != nil {
				t.Fatal(err)
			}
			text = regexp.MustCompile(`(?m)^TryExec=.*\n`).ReplaceAllString(text, "")
			text = strings.ReplaceAll(text, "/usr/bin/healingctl", "/bin/true")
			if err := os.WriteFile(filepath.Join(dir, "autostart/luminous-healing-notifier.desktop"), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			return dir
		}
		if units := generate(entry(string(installed))); len(units) != 0 {
			t.Errorf("systemd-xdg-autostart-generator made %q of the autostart entry; want it skipped", units)
		}
		if units := generate(entry(strings.ReplaceAll(string(installed), "X-systemd-skip=true\n", ""))); len(units) != 1 {
			t.Errorf("without X-systemd-skip the generator made %q; want one unit (else this check proves nothing)", units)
		}
	} else {
		t.Log("systemd-xdg-autostart-generator is not installed: its skipping the entry is not checked")
	}

	// systemd's own reading of the unit, with a binary that exists.
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Log("systemd-analyze is not installed: the unit is not verified by systemd")
		return
	}
	bin := filepath.Join(t.TempDir(), "healingctl")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	b, _ := os.ReadFile(unitPath)
	check := filepath.Join(t.TempDir(), "luminous-healing-notifier.service")
	if err := os.WriteFile(check, []byte(strings.ReplaceAll(string(b), "/usr/bin/healingctl", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	runtime := t.TempDir()
	verify := exec.Command("systemd-analyze", "--user", "verify", check)
	verify.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+runtime)
	out, err := verify.CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Errorf("systemd-analyze --user verify: %v\n%s", err, out)
	}
}

// The NixOS module's notifier unit is the shipped one: same command, same
// binding to the graphical session, same restarts.
func TestTheNixOSNotifierIsTheShippedUnit(t *testing.T) {
	nix, err := os.ReadFile("../../nixos/modules/luminous-healing.nix")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`systemd\.user\.services\.luminous-healing-notifier = [^{]*\{([\s\S]*?)\n    \};`).FindSubmatch(nix)
	if m == nil {
		t.Fatal("found no systemd.user.services.luminous-healing-notifier in the module")
	}
	block := string(m[1])
	shipped := iniFile(t, "luminous-healing-notifier.service")
	checks := map[string]string{
		`wantedBy = [ "` + shipped["Install.WantedBy"][0] + `" ];`:                                               "WantedBy",
		`partOf = [ "` + shipped["Unit.PartOf"][0] + `" ];`:                                                      "PartOf",
		`after = [ "` + shipped["Unit.After"][0] + `" ];`:                                                        "After",
		`Restart = "` + shipped["Service.Restart"][0] + `";`:                                                     "Restart",
		`RestartSec = "` + shipped["Service.RestartSec"][0] + `";`:                                               "RestartSec",
		`ExecStart = "${package}/bin/` + strings.TrimPrefix(shipped["Service.ExecStart"][0], "@BINDIR@/") + `";`: "ExecStart",
	}
	for want, key := range checks {
		if !strings.Contains(block, want) {
			t.Errorf("the module's notifier lacks %s as shipped: %s\nits block:%s", key, want, block)
		}
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
