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
