package nixos

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/config"
)

// D-Bus activation asks systemd for the unit the activation file names, and
// NixOS ignores [Install] Alias=: the alias must be the module's, or after
// `systemctl stop luminous-healing` no call can start the daemon again.
func TestBusActivationFindsTheUnit(t *testing.T) {
	activation, err := os.ReadFile("../dbus/org.luminous.Healing.service")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^SystemdService=(\S+)$`).FindSubmatch(activation)
	if m == nil {
		t.Fatal("dbus/org.luminous.Healing.service names no SystemdService=")
	}
	ev := mustEvaluate(t, enabled(""))
	if !slices.Contains(ev.Service.Aliases, string(m[1])) {
		t.Errorf("the unit's aliases are %q; want %s, the name the bus asks systemd to start", ev.Service.Aliases, m[1])
	}
}

// The daemon refuses an interval outside 100ms..24h; so does the option's
// type, so that a cross build (no config check) cannot ship one.
func TestTheIntervalHasTheDaemonsBounds(t *testing.T) {
	for _, v := range []string{`"100ms"`, `"24h"`, `"1h30m"`, `"1.5s"`, `1`, `86400`} {
		t.Run("accepts "+v, func(t *testing.T) {
			mustEvaluate(t, enabled(`monitoring.interval = `+v+`;`))
		})
	}
	for _, v := range []string{`"0s"`, `"48h"`, `"50ms"`, `"24h1s"`, `86401`, `0`} {
		t.Run("refuses "+v, func(t *testing.T) {
			ev, err := evaluate(t, enabled(`monitoring.interval = `+v+`;`))
			if err == nil {
				t.Fatalf("evaluated (failed assertions %q); want the option's type to refuse it", ev.FailedAssertions)
			}
			if !strings.Contains(err.Error(), "services.luminous-healing.monitoring.interval") || !strings.Contains(err.Error(), "between 100ms and 24h") {
				t.Errorf("message %q; want it to name the option and its bounds", err)
			}
		})
	}
}

// Where the daemon listens, whether the firewall opens, and for whom are
// three decisions, as in nixpkgs' exporters (listenAddress, port,
// openFirewall, firewallFilter).
func TestListenAddressFirewallAndFilterAreSeparate(t *testing.T) {
	tests := []struct {
		name, options string
		listen        string
		deny          bool // IPAddressDeny=any, only loopback may connect
		ports         []int
		commands      []string
	}{
		{"the default is loopback, closed", ``, "127.0.0.1:9955", true, nil, nil},
		{"an address of the machine without opening the firewall", `listenAddress = "10.0.0.1";`, "10.0.0.1:9955", false, nil, nil},
		{"settings.monitoring.listen off loopback is accepted", `settings.monitoring.listen = "10.0.0.1:9955";`, "10.0.0.1:9955", false, nil, nil},
		{"IPv6 loopback", `listenAddress = "::1";`, "[::1]:9955", true, nil, nil},
		{"IPv6 address", `listenAddress = "fd00::1"; monitoring.metricsPort = 9100;`, "[fd00::1]:9100", false, nil, nil},
		{"openFirewall alone listens everywhere, as the seed did", `openFirewall = true;`, ":9955", false, []int{9955}, nil},
		{"openFirewall on one address", `openFirewall = true; listenAddress = "10.0.0.1";`, "10.0.0.1:9955", false, []int{9955}, nil},
		{"a firewall filter instead of an open port", `openFirewall = true; firewallFilter = "-i eth1 -p tcp -m tcp --dport 9955";`, ":9955", false, nil,
			[]string{"ip46tables -A nixos-fw -i eth1 -p tcp -m tcp --dport 9955 -m comment --comment luminous-healing -j nixos-fw-accept"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := mustEvaluate(t, enabled(tt.options))
			if got := daemonConfig(t, ev.Settings).Monitoring.Listen; got != tt.listen {
				t.Errorf("listen = %q; want %q", got, tt.listen)
			}
			_, deny := ev.Service.ServiceConfig["IPAddressDeny"]
			if deny != tt.deny {
				t.Errorf("IPAddressDeny set %v; want %v", deny, tt.deny)
			}
			if !slices.Equal(ev.Firewall, tt.ports) {
				t.Errorf("allowedTCPPorts %v; want %v", ev.Firewall, tt.ports)
			}
			var commands []string
			for _, l := range strings.Split(ev.FirewallCommands, "\n") {
				if l = strings.TrimSpace(l); l != "" {
					commands = append(commands, l)
				}
			}
			if !slices.Equal(commands, tt.commands) {
				t.Errorf("firewall extraCommands %q; want %q", commands, tt.commands)
			}
		})
	}
	for _, tt := range []struct{ name, options, want string }{
		{"a filter without openFirewall", `firewallFilter = "-i eth1 -p tcp --dport 9955";`, "firewallFilter"},
		{"a filter under nftables", `openFirewall = true; firewallFilter = "-i eth1 -p tcp --dport 9955"; }; networking.nftables.enable = true; dummy = {`, "nftables"},
		{"an address with a port", `listenAddress = "10.0.0.1:9955";`, "services.luminous-healing.listenAddress"},
		{"listenAddress and settings at odds", `listenAddress = "10.0.0.1"; settings.monitoring.listen = "10.0.0.2:9955";`, "listenAddress"},
	} {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			// The options may close services.luminous-healing to set others.
			msg := refusal(t, "{ lib, ... }: { options.dummy = lib.mkOption { default = { }; }; config = { services.luminous-healing = { enable = true; "+tt.options+" }; }; }")
			if !strings.Contains(msg, tt.want) {
				t.Errorf("message %q; want it to name %q", msg, tt.want)
			}
		})
	}
}

// A user and group other than root are created, or the unit fails at boot
// with "Failed to determine user credentials". An administrator's own
// declaration of that user wins.
func TestTheDaemonsUserAndGroupExist(t *testing.T) {
	tests := []struct {
		name, options string
		users, groups []string
		system        map[string]bool
		group         map[string]string
	}{
		{"root creates nothing", ``, nil, nil, nil, nil},
		{"the seed's example user", `user = "healing";`, []string{"healing"}, []string{"healing"},
			map[string]bool{"healing": true}, map[string]string{"healing": "healing"}},
		{"a user and group of the administrator's naming", `user = "svc"; group = "monitoring";`, []string{"svc"}, []string{"monitoring"},
			map[string]bool{"svc": true}, map[string]string{"svc": "monitoring"}},
		{"a user the administrator declared stays theirs", `user = "alice"; }; users.users.alice = { isNormalUser = true; }; dummy = {`,
			[]string{"alice"}, []string{"alice"}, map[string]bool{"alice": false}, map[string]string{"alice": "users"}},
		{"a system user the administrator declared keeps its group", `user = "mon"; group = "mon"; }; users.users.mon = { isSystemUser = true; group = "adm"; }; dummy = {`,
			[]string{"mon"}, []string{"mon"}, map[string]bool{"mon": true}, map[string]string{"mon": "adm"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The options may close services.luminous-healing to set others.
			ev := mustEvaluate(t, "{ lib, ... }: { options.dummy = lib.mkOption { default = { }; }; config = { services.luminous-healing = { enable = true; "+tt.options+" }; }; }")
			if !slices.Equal(ev.Users, tt.users) || !slices.Equal(ev.Groups, tt.groups) {
				t.Errorf("users %q, groups %q; want %q and %q", ev.Users, ev.Groups, tt.users, tt.groups)
			}
			for name, want := range tt.system {
				u := ev.UserAttrs[name]
				if got, _ := u["isSystemUser"].(bool); got != want {
					t.Errorf("users.users.%s.isSystemUser = %v; want %v", name, u["isSystemUser"], want)
				}
				if got := u["group"]; got != tt.group[name] {
					t.Errorf("users.users.%s.group = %v; want %v", name, got, tt.group[name])
				}
			}
		})
	}
}

// The unit's memory and CPU limits are options; their defaults bound a leak
// without ever starving the daemon, and values that would starve it are
// refused.
func TestResourceLimitsAreOptions(t *testing.T) {
	tests := []struct {
		name, options string
		want          map[string]any // nil: unset
	}{
		{"the defaults", ``, map[string]any{"MemoryMax": "256M", "CPUQuota": nil}},
		{"set", `resources = { memoryMax = "512M"; cpuQuota = "50%"; };`, map[string]any{"MemoryMax": "512M", "CPUQuota": "50%"}},
		{"lifted", `resources.memoryMax = null;`, map[string]any{"MemoryMax": nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := mustEvaluate(t, enabled(tt.options)).Service.ServiceConfig
			for k, want := range tt.want {
				got, ok := sc[k]
				if want == nil && ok || want != nil && got != want {
					t.Errorf("serviceConfig.%s = %v (set %v); want %v", k, got, ok, want)
				}
			}
		})
	}
	for _, v := range []string{`memoryMax = "8M"`, `memoryMax = "lots"`, `cpuQuota = "1%"`, `cpuQuota = "50"`} {
		t.Run("refuses "+v, func(t *testing.T) {
			if _, err := evaluate(t, enabled(`resources.`+v+`;`)); err == nil || !strings.Contains(err.Error(), "services.luminous-healing.resources.") {
				t.Errorf("err = %v; want the option's type to refuse it", err)
			}
		})
	}
}

// Maintenance windows from the module reach config.toml as [[maintenance]]
// tables the daemon accepts.
func TestMaintenanceWindowsBecomeTheDaemonsWindows(t *testing.T) {
	ev := mustEvaluate(t, enabled(`maintenanceWindows = [
		{ when = "Sun 02:00..04:00"; scope = "unit:postgresql"; reason = "weekly backup"; }
		{ when = "Mon..Fri 22:00..06:00 UTC"; effect = "notify-only"; }
	];`))
	got := daemonConfig(t, ev.Settings).Maintenance
	want := []config.Maintenance{
		{When: "Sun 02:00..04:00", Scope: "unit:postgresql.service", Effect: "pause", Reason: "weekly backup"},
		{When: "Mon..Fri 22:00..06:00 UTC", Scope: "all", Effect: "notify-only", Reason: "maintenance window Mon..Fri 22:00..06:00 UTC"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("maintenance = %+v; want %+v", got, want)
	}
	if none := mustEvaluate(t, enabled("")); none.Settings["maintenance"] != nil {
		t.Errorf("maintenance = %v without windows; want the key left out", none.Settings["maintenance"])
	}
	if _, err := evaluate(t, enabled(`maintenanceWindows = [ { when = "Sun 02:00..04:00"; effect = "mute"; } ];`)); err == nil {
		t.Error("an unknown effect evaluated; want the option's type to refuse it")
	}
}

// The unit's Documentation= names the man pages the package installs, as
// the shipped unit does, not a web address.
func TestTheUnitPointsAtTheManPages(t *testing.T) {
	ev := mustEvaluate(t, enabled(""))
	want := []string{"man:luminous-healingd(8)", "man:luminous-healing.toml(5)", "man:healingctl(1)"}
	if !slices.Equal(ev.Service.Documentation, want) {
		t.Errorf("documentation = %q; want %q", ev.Service.Documentation, want)
	}
}

// Probes from the module reach config.toml as [[probe]] tables the daemon
// accepts, with its defaults where the module leaves a key out; a probe of
// a unit that is not monitored fails an assertion naming it.
func TestProbesBecomeTheDaemonsProbes(t *testing.T) {
	ev := mustEvaluate(t, enabled(`services.monitored = [ "nginx" "postgresql" ];
		probes = {
			nginx = { type = "http"; url = "https://127.0.0.1/healthz"; bodyContains = "ok"; interval = "10s"; timeout = 2; failures = 2; tlsVerify = false; };
			postgresql = { type = "tcp"; address = "127.0.0.1:5432"; action = "none"; };
		};`))
	got := daemonConfig(t, ev.Settings).Probes
	if len(got) != 2 {
		t.Fatalf("probes = %+v; want two", got)
	}
	h, p := got[0].Spec, got[1].Spec
	if h.Unit != "nginx.service" || h.Type != "http" || h.URL != "https://127.0.0.1/healthz" || h.BodyContains != "ok" ||
		h.Interval != 10*time.Second || h.Timeout != 2*time.Second || h.Failures != 2 || h.TLSVerify || h.Action != "restart" {
		t.Errorf("nginx probe = %+v", h)
	}
	if p.Unit != "postgresql.service" || p.Type != "tcp" || p.Address != "127.0.0.1:5432" || p.Action != "none" ||
		p.Interval != 30*time.Second || p.Failures != 3 || !p.TLSVerify {
		t.Errorf("postgresql probe = %+v", p)
	}
	if none := mustEvaluate(t, enabled("")); none.Settings["probe"] != nil {
		t.Errorf("probe = %v without probes; want the key left out", none.Settings["probe"])
	}
	ev, err := evaluate(t, enabled(`probes.redis = { type = "tcp"; address = "127.0.0.1:6379"; };`))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(ev.FailedAssertions, func(s string) bool { return strings.Contains(s, "redis") && strings.Contains(s, "services.monitored") }) {
		t.Errorf("failed assertions %q; want one naming redis and services.monitored", ev.FailedAssertions)
	}
	if _, err := evaluate(t, enabled(`services.monitored = [ "nginx" ]; probes.nginx = { type = "ftp"; };`)); err == nil {
		t.Error("an unknown probe type evaluated; want the option's type to refuse it")
	}
}

// A daemon that is not root may reload exactly the units whose probe says
// reload, and has no command probes: starting transient units would let
// it run anything as anyone.
func TestProbesWithADaemonThatIsNotRoot(t *testing.T) {
	ev := mustEvaluate(t, enabled(`user = "healing"; services.monitored = [ "nginx" "app" ];
		probes.nginx = { type = "http"; url = "http://127.0.0.1/"; action = "reload"; };`))
	if !strings.Contains(ev.Polkit.ExtraConfig, `var reloaded = [ "nginx.service" ]`) {
		t.Errorf("polkit rule lacks the reloaded units:\n%s", ev.Polkit.ExtraConfig)
	}
	ev, err := evaluate(t, enabled(`user = "healing"; services.monitored = [ "app" ];
		probes.app = { type = "command"; command = [ "/bin/true" ]; };`))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(ev.FailedAssertions, func(s string) bool { return strings.Contains(s, "command probes") }) {
		t.Errorf("failed assertions %q; want one about command probes", ev.FailedAssertions)
	}
}
