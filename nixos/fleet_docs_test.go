package nixos

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
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
	if got := unitValues(ev.Service.ServiceConfig["IPAddressAllow"]); !slices.Equal(got, []string{"localhost", "10.0.0.5"}) {
		t.Errorf("IPAddressAllow = %q; want localhost and the monitoring host", got)
	}
	if got := unitValues(ev.Service.ServiceConfig["IPAddressDeny"]); !slices.Equal(got, []string{"any"}) {
		t.Errorf("IPAddressDeny = %q; want any", got)
	}
	if len(ev.Firewall) != 0 || !strings.Contains(ev.FirewallCommands, "-s 10.0.0.5 -p tcp -m tcp --dport 9955") {
		t.Errorf("firewall: ports %v, commands %q; want only the monitoring host let in", ev.Firewall, ev.FirewallCommands)
	}
}

// The monitoring host of docs/fleet.md evaluates (nixpkgs' Prometheus
// module stubbed loosely, as for the example) and scrapes every host of its
// list in the job the rules expect.
func TestTheFleetMonitoringHostFromTheDocsEvaluates(t *testing.T) {
	ev := mustEvaluate(t, "{ lib, ... }: { imports = [ ("+fleetBlock(t, "monitor.nix")+") ]; "+stubs+" }")
	var targets []string
	for _, sc := range ev.Prometheus.ScrapeConfigs {
		if sc.JobName != "luminous-healing" {
			t.Errorf("scrape job %q; want luminous-healing, the name the rules expect", sc.JobName)
		}
		for _, st := range sc.StaticConfigs {
			targets = append(targets, st.Targets...)
		}
	}
	slices.Sort(targets)
	want := []string{"db-1.example.org:9955", "web-1.example.org:9955", "web-2.example.org:9955", "web-3.example.org:9955"}
	if !slices.Equal(targets, want) {
		t.Errorf("targets %q; want %q", targets, want)
	}
}

// Both of docs/fleet.md's Nix blocks parse, where nixpkgs' lib is not at
// hand to evaluate them (CI).
func TestTheFleetNixBlocksParse(t *testing.T) {
	nix := nixInstantiate(t)
	for _, name := range []string{"member.nix", "monitor.nix"} {
		cmd := nixCommand(t, nix, "--parse", "-E", fleetBlock(t, name))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("nix-instantiate --parse docs/fleet.md's %s: %v\n%s", name, err, out)
		}
	}
}
