package nixos

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fleetBlock returns the code block that follows `<!-- fleet: name -->` in
// docs/fleet.md.
func fleetBlock(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "docs", "fleet.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- fleet: " + regexp.QuoteMeta(name) + " -->\n```nix\n(.*?)```").FindStringSubmatch(string(data))
	if m == nil {
		t.Fatalf("docs/fleet.md has no nix block marked <!-- fleet: %s -->", name)
	}
	return m[1]
}

// The fleet member of docs/fleet.md evaluates with the module, listens on
// the address it names and opens the port to the monitoring host only.
func TestTheFleetMemberFromTheDocsEvaluates(t *testing.T) {
	ev := mustEvaluate(t, fleetBlock(t, "member.nix"))
	cfg := daemonConfig(t, ev.Settings)
	if got := cfg.Monitoring.Listen; got != "10.0.0.11:9955" {
		t.Errorf("listen = %q; want 10.0.0.11:9955", got)
	}
	if got := cfg.Monitoring.AllowedHosts; len(got) != 1 || got[0] != "web-1.example.org" {
		t.Errorf("allowed_hosts = %q; want the name Prometheus scrapes by", got)
	}
	if len(ev.Firewall) != 0 || !strings.Contains(ev.FirewallCommands, "-s 10.0.0.5 -p tcp -m tcp --dport 9955") {
		t.Errorf("firewall: ports %v, commands %q; want only the monitoring host let in", ev.Firewall, ev.FirewallCommands)
	}
}

// Both of docs/fleet.md's Nix blocks parse; the monitoring host's needs
// nixpkgs' Prometheus module, which only the VM test has, to evaluate.
func TestTheFleetNixBlocksParse(t *testing.T) {
	nix := nixInstantiate(t)
	for _, name := range []string{"member.nix", "monitor.nix"} {
		cmd := nixCommand(t, nix, "--parse", "-E", fleetBlock(t, name))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("nix-instantiate --parse docs/fleet.md's %s: %v\n%s", name, err, out)
		}
	}
}
