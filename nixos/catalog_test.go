package nixos

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/luminous-healing/luminous-healing/internal/audit"
)

// NixOS's journalctl looks for catalogs in its own package and in
// /usr/local/lib/systemd/catalog only: nixpkgs' systemd replaces
// /usr/lib/systemd/catalog with its store path, and NixOS has no option that
// gathers packages' catalogs. Debian's journalctl, which this test runs,
// also reads /usr/lib/systemd/catalog, so the directory is checked here by
// name.
const nixosCatalogDir = "/usr/local/lib/systemd/catalog/"

// journalctl -x explains the daemon's messages on NixOS: the module links
// the package's catalog where NixOS's journalctl looks, and a oneshot runs
// journalctl --update-catalog at boot and when the package changes. The
// package is laid out by the same make install-data as nixos/package.nix,
// the link is made by the real systemd-tmpfiles from the module's rule, and
// the real journalctl rebuilds and lists the database, all under a
// throwaway --root.
func TestJournalctlOnNixOSExplainsTheDaemonsMessages(t *testing.T) {
	var tools []string
	for _, name := range []string{"make", "systemd-tmpfiles", "journalctl"} {
		p, err := exec.LookPath(name)
		if err != nil {
			skipLoudly(t, name+" is not installed (apt-get install make systemd)")
		}
		tools = append(tools, p)
	}
	makeBin, tmpfiles, journalctl := tools[0], tools[1], tools[2]

	for _, tt := range []struct{ name, options string }{
		{"the daemon as root", ""},
		{"the daemon as its own user", `user = "healing";`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ev := mustEvaluate(t, enabled(tt.options))
			// The package the daemon runs from, as the store path the rule names.
			pkg, _, ok := strings.Cut(ev.Service.ServiceConfig["ExecStart"].(string), "/bin/luminous-healingd ")
			if !ok {
				t.Fatalf("the daemon's ExecStart %v names no luminous-healingd", ev.Service.ServiceConfig["ExecStart"])
			}
			link, target := catalogRule(t, ev.Tmpfiles)
			if link != nixosCatalogDir+"luminous-healing.catalog" {
				t.Errorf("the catalog is linked at %s; want it in %s, the directory NixOS's journalctl reads besides its own package", link, nixosCatalogDir)
			}
			if want := pkg + "/lib/systemd/catalog/luminous-healing.catalog"; target != want {
				t.Errorf("the link points at %s; want %s, the catalog of the package the daemon runs from", target, want)
			}

			u := ev.JournalCatalog
			if u == nil {
				t.Fatal("no luminous-healing-journal-catalog unit: nothing runs journalctl --update-catalog, so journalctl -x never sees the catalog")
			}
			if u.ServiceConfig["Type"] != "oneshot" || u.ServiceConfig["RemainAfterExit"] != true || !slices.Contains(u.WantedBy, "multi-user.target") {
				t.Errorf("the catalog unit: Type %v, RemainAfterExit %v, wantedBy %q; want a oneshot that stays active, wanted by multi-user.target",
					u.ServiceConfig["Type"], u.ServiceConfig["RemainAfterExit"], u.WantedBy)
			}
			if !slices.Contains(u.After, "systemd-tmpfiles-setup.service") {
				t.Errorf("the catalog unit runs after %q; want it after systemd-tmpfiles-setup.service, which makes the link at boot", u.After)
			}
			if !slices.Contains(u.RestartTriggers, target) {
				t.Errorf("restartTriggers %q; want the catalog, so that a switch to a new package rebuilds the database", u.RestartTriggers)
			}
			pre := command(t, u, "ExecStartPre", "/nix/store/eval-systemd/bin/systemd-tmpfiles", "--create", "--prefix="+link)
			update := command(t, u, "ExecStart", "/nix/store/eval-systemd/bin/journalctl", "--update-catalog")
			stop := command(t, u, "ExecStop", "/nix/store/eval-coreutils/bin/rm", "-f", link)
			if t.Failed() {
				return
			}

			// The system, under root: the package as the Nix build lays it out.
			root := t.TempDir()
			out, err := exec.Command(makeBin, "-s", "-C", "..", "install-data", "DESTDIR="+root, "PREFIX="+pkg,
				"SBINDIR="+pkg+"/bin", "SYSCONFDIR="+pkg+"/etc", "AUTOSTARTDIR="+pkg+"/share/luminous-healing/autostart").CombinedOutput()
			if err != nil {
				t.Fatalf("make install-data, as nixos/package.nix runs it: %v\n%s", err, out)
			}
			// The module's rules, where NixOS writes systemd.tmpfiles.rules.
			if err := os.MkdirAll(filepath.Join(root, "etc/tmpfiles.d"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, "etc/tmpfiles.d/00-nixos.conf"), []byte(strings.Join(ev.Tmpfiles, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			run := func(name string, argv []string) {
				t.Helper()
				if out, err := exec.Command(name, append([]string{"--root=" + root}, argv...)...).CombinedOutput(); err != nil {
					t.Fatalf("%s %q: %v\n%s", name, argv, err, out)
				}
			}
			run(tmpfiles, pre)
			got, err := os.Readlink(filepath.Join(root, link))
			if err != nil {
				t.Fatalf("the unit's systemd-tmpfiles made no link: %v", err)
			}
			if got != target {
				t.Fatalf("the link points at %s; want %s", got, target)
			}
			// journalctl --root follows the absolute link outside the root;
			// on the machine it resolves to the package. The same link,
			// relative, resolves to it inside the root.
			rel, err := filepath.Rel(filepath.Dir(filepath.Join(root, link)), filepath.Join(root, target))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(filepath.Join(root, link)); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(rel, filepath.Join(root, link)); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(root, link)); err != nil {
				t.Fatalf("the link points at nothing the package has: %v", err)
			}

			run(journalctl, update)
			list, err := exec.Command(journalctl, "--root="+root, "--list-catalog").Output()
			if err != nil {
				t.Fatalf("journalctl --list-catalog: %v", err)
			}
			for ev, id := range audit.MessageIDs {
				if !strings.Contains(string(list), id+" luminous-healing: ") {
					t.Errorf("journalctl --list-catalog lacks %s (%s):\n%s", id, ev, list)
				}
			}

			// Stopped (the module turned off, or shutdown) and the package
			// collected: the link is gone with it, and --update-catalog,
			// which fails on a link to nothing, still works.
			if _, err := os.Lstat(filepath.Join(root, stop[1])); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command("rm", stop[0], filepath.Join(root, stop[1])).CombinedOutput(); err != nil {
				t.Fatalf("the unit's ExecStop: %v\n%s", err, out)
			}
			if err := os.RemoveAll(filepath.Join(root, pkg)); err != nil {
				t.Fatal(err)
			}
			run(journalctl, update)
		})
	}
}

// catalogRule returns the path and target of the tmpfiles rule that links
// the catalog, failing the test when there is none.
func catalogRule(t *testing.T, rules []string) (path, target string) {
	t.Helper()
	for _, r := range rules {
		f := strings.Fields(r)
		if len(f) == 7 && strings.HasPrefix(f[0], "L") && strings.HasSuffix(f[1], ".catalog") {
			return f[1], f[6]
		}
	}
	t.Fatalf("no tmpfiles rule links a catalog (rules %q): journalctl --update-catalog reads no catalog of this package", rules)
	return "", ""
}

// command checks that the unit's key runs bin with args, and returns args.
func command(t *testing.T, u *unit, key, bin string, args ...string) []string {
	t.Helper()
	s, _ := u.ServiceConfig[key].(string)
	if got := strings.Fields(s); !slices.Equal(got, append([]string{bin}, args...)) {
		t.Errorf("the catalog unit's %s is %q; want %s %s", key, s, bin, strings.Join(args, " "))
	}
	return args
}
