package nixos

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/luminous-healing/luminous-healing/internal/config"
)

// evaluation is what nixos/tests/eval.nix prints for a configuration.
type evaluation struct {
	FailedAssertions []string
	Settings         map[string]any
	ConfigFile       string
	Service          *unit
	Vacuum           *unit
	NixCleanup       *unit
	JournalCatalog   *unit
	Tmpfiles         []string
	Notifier         *unit
	Polkit           struct {
		Enable      bool
		ExtraConfig string
	}
	Firewall         []int
	FirewallCommands string
	DBusPackages     []struct {
		Name string
		Text string
	}
	SystemPackages []struct {
		Name   string
		Script string
	}
	Users, Groups []string
	UserAttrs     map[string]map[string]any
	Prometheus    struct {
		ScrapeConfigs []struct {
			JobName       string                       `json:"job_name"`
			StaticConfigs []struct{ Targets []string } `json:"static_configs"`
		}
	}
	Grafana struct {
		Provision struct {
			Datasources struct {
				Settings struct {
					Datasources []struct{ Name, Type, URL string }
				}
			}
		}
	}
}

type unit struct {
	Path                              []string
	Environment                       map[string]string
	Description                       string
	WantedBy, After, Requires, PartOf []string
	Aliases, Documentation            []string
	ReloadTriggers, RestartTriggers   []string
	ServiceConfig, UnitConfig         map[string]any
}

// evaluate evaluates the module with configuration, a Nix expression for a
// NixOS module. The error holds nix-instantiate's message.
func evaluate(t *testing.T, configuration string) (*evaluation, error) {
	t.Helper()
	out, err := evalNix(t, "--arg", "configuration", configuration)
	if err != nil {
		return nil, err
	}
	var ev evaluation
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&ev); err != nil {
		t.Fatalf("decode the evaluation: %v\n%s", err, out)
	}
	return &ev, nil
}

func evalNix(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	nix := nixInstantiate(t)
	lib := nixpkgsLib(t)
	argv := append([]string{"--eval", "--strict", "--json", "tests/eval.nix", "--arg", "lib", "import " + lib}, args...)
	cmd := nixCommand(t, nix, argv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%v: %s", err, stderr.String())
	}
	return stdout.Bytes(), nil
}

func mustEvaluate(t *testing.T, configuration string) *evaluation {
	t.Helper()
	ev, err := evaluate(t, configuration)
	if err != nil {
		t.Fatalf("evaluate %s: %v", configuration, err)
	}
	if len(ev.FailedAssertions) > 0 {
		t.Fatalf("evaluate %s: failed assertions:\n%s", configuration, strings.Join(ev.FailedAssertions, "\n"))
	}
	return ev
}

// refusal evaluates a configuration the module must refuse and returns what
// it said: the evaluation's error or its failed assertions.
func refusal(t *testing.T, configuration string) string {
	t.Helper()
	ev, err := evaluate(t, configuration)
	switch {
	case err != nil:
		return err.Error()
	case len(ev.FailedAssertions) > 0:
		return strings.Join(ev.FailedAssertions, "\n")
	}
	t.Fatalf("evaluated without complaint: %s", configuration)
	return ""
}

// daemonConfig renders the module's settings as TOML and parses them with
// the daemon's own parser: what the module writes, the daemon must accept.
func daemonConfig(t *testing.T, settings map[string]any) *config.Config {
	t.Helper()
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(tomlValues(settings)); err != nil {
		t.Fatalf("render settings: %v", err)
	}
	c, err := config.Parse(buf.Bytes())
	if err != nil {
		t.Fatalf("the daemon rejects the module's config.toml: %v\n%s", err, buf.String())
	}
	return c
}

// tomlValues turns JSON numbers back into TOML integers and floats.
func tomlValues(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			out[k] = tomlValues(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = tomlValues(x)
		}
		return out
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, _ := v.Float64()
		return f
	}
	return v
}

func enabled(options string) string {
	return "{ services.luminous-healing = { enable = true; " + options + " }; }"
}

func TestEnableAloneGivesTheSeedDefaults(t *testing.T) {
	ev := mustEvaluate(t, enabled(""))
	c := daemonConfig(t, ev.Settings)
	want, err := config.Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("the daemon reads the module's default config.toml as\n%+v\nwant its own defaults\n%+v", c, want)
	}
	if c.Monitoring.Listen != "127.0.0.1:9955" {
		t.Errorf("listen = %q; want 127.0.0.1:9955 (9090 is Prometheus's port)", c.Monitoring.Listen)
	}
	if ev.ConfigFile != "/nix/store/eval-luminous-healing-config.toml" {
		t.Errorf("/etc/luminous-healing/config.toml is %s; want the file checked by luminous-healingd --check-config", ev.ConfigFile)
	}
	sc := ev.Service.ServiceConfig
	for k, want := range map[string]any{
		"Type": "notify", "BusName": "org.luminous.Healing", "Restart": "on-failure", "WatchdogSec": "30s",
		"StateDirectory": "luminous-healing", "User": "root", "Group": "root",
		"ExecStart":     "/nix/store/eval-luminous-healing-0.1.0/bin/luminous-healingd --config /etc/luminous-healing/config.toml",
		"IPAddressDeny": "any", "IPAddressAllow": "localhost", "CapabilityBoundingSet": "",
		"OOMScoreAdjust": json.Number("-900"), "ManagedOOMPreference": "avoid", "MemoryMin": "16M", "MemoryLow": "32M",
	} {
		if sc[k] != want {
			t.Errorf("serviceConfig.%s = %v; want %v", k, sc[k], want)
		}
	}
	if !slices.Contains(ev.Service.WantedBy, "multi-user.target") || !slices.Contains(ev.Service.Requires, "dbus.socket") {
		t.Errorf("wantedBy %q, requires %q; want multi-user.target and dbus.socket", ev.Service.WantedBy, ev.Service.Requires)
	}
	if !slices.Equal(ev.Service.ReloadTriggers, []string{ev.ConfigFile}) {
		t.Errorf("reloadTriggers = %q; want the config file, so that a new one is reloaded, not restarted", ev.Service.ReloadTriggers)
	}
	if !strings.Contains(ev.Vacuum.ServiceConfig["ExecStart"].(string), "/nix/store/eval-systemd/bin/journalctl --vacuum-size=") {
		t.Errorf("the journal vacuum unit runs %v; want journalctl from config.systemd.package", ev.Vacuum.ServiceConfig["ExecStart"])
	}
	if !ev.Polkit.Enable || !strings.Contains(ev.Polkit.ExtraConfig, `subject.isInGroup("wheel")`) ||
		!strings.Contains(ev.Polkit.ExtraConfig, `"org.luminous.healing.heal"`) {
		t.Errorf("polkit enabled %v, rules:\n%s\nwant polkit on and wheel allowed org.luminous.healing.heal", ev.Polkit.Enable, ev.Polkit.ExtraConfig)
	}
	if strings.Contains(ev.Polkit.ExtraConfig, "manage-units") {
		t.Errorf("a root daemon got a systemd rule:\n%s", ev.Polkit.ExtraConfig)
	}
	if len(ev.Firewall) != 0 || ev.Notifier != nil || len(ev.Users) != 0 || len(ev.Groups) != 0 {
		t.Errorf("firewall %v, notifier %v, users %q, groups %q; want none of them", ev.Firewall, ev.Notifier, ev.Users, ev.Groups)
	}
	if len(ev.SystemPackages) != 1 || ev.SystemPackages[0].Name != "luminous-healing-0.1.0" ||
		len(ev.DBusPackages) != 1 || ev.DBusPackages[0].Name != "luminous-healing-0.1.0" {
		t.Errorf("systemPackages %+v, dbus packages %+v; want the package itself in both", ev.SystemPackages, ev.DBusPackages)
	}
}

func TestEverySeedOptionHasItsEffect(t *testing.T) {
	ev := mustEvaluate(t, enabled(`
		thresholds = { cpu = 70; memory = 75.5; disk = 95; loadAverage = 6; };
		healing = { enabled = false; dryRun = true; };
		monitoring = { interval = 30; enableMetrics = false; metricsPort = 9100; enableDashboard = true; dashboardPort = 8081; };
		predictive = { enabled = false; historySize = 500; };
		services.monitored = [ "nginx" "postgresql.service" "getty@tty1" ];
	`))
	c := daemonConfig(t, ev.Settings)
	checks := []struct {
		option    string
		got, want any
	}{
		{"thresholds.cpu", c.Thresholds.CPU, 70.0},
		{"thresholds.memory", c.Thresholds.Memory, 75.5},
		{"thresholds.disk", c.Thresholds.Disk, 95.0},
		{"thresholds.loadAverage", c.Thresholds.LoadAverage, 6.0},
		{"healing.enabled", c.Healing.Enabled, false},
		{"healing.dryRun", c.Healing.DryRun, true},
		{"monitoring.interval", c.Monitoring.Interval.D(), 30 * time.Second},
		{"monitoring.enableMetrics", c.Monitoring.Metrics, false},
		{"monitoring.metricsPort", c.Monitoring.Listen, "127.0.0.1:9100"},
		{"monitoring.enableDashboard", c.Monitoring.Dashboard, true},
		{"monitoring.dashboardPort", c.Monitoring.DashboardListen, "127.0.0.1:8081"},
		{"predictive.enabled", c.Predictive.Enabled, false},
		{"predictive.historySize", c.Predictive.HistorySize, 500},
		{"services.monitored", c.Services.Monitored, []string{"nginx.service", "postgresql.service", "getty@tty1.service"}},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s: the daemon reads %v; want %v", ch.option, ch.got, ch.want)
		}
	}
}

func TestOptionsBeyondTheSeed(t *testing.T) {
	tests := []struct {
		name, options string
		check         func(*testing.T, *evaluation)
	}{
		{"a duration string is passed through", `monitoring.interval = "90s";`, func(t *testing.T, ev *evaluation) {
			if got := daemonConfig(t, ev.Settings).Monitoring.Interval.D(); got != 90*time.Second {
				t.Errorf("interval = %v; want 90s", got)
			}
		}},
		{"the dashboard on the metrics port is one listener", `monitoring = { enableDashboard = true; dashboardPort = 9955; };`, func(t *testing.T, ev *evaluation) {
			c := daemonConfig(t, ev.Settings)
			if c.Monitoring.DashboardListen != "" || !c.Monitoring.Dashboard {
				t.Errorf("dashboard %v on %q; want it on the one listener", c.Monitoring.Dashboard, c.Monitoring.DashboardListen)
			}
		}},
		{"openFirewall listens everywhere, opens both ports and lifts the loopback rule", `openFirewall = true; monitoring = { enableDashboard = true; };`, func(t *testing.T, ev *evaluation) {
			c := daemonConfig(t, ev.Settings)
			if c.Monitoring.Listen != ":9955" || c.Monitoring.DashboardListen != ":8080" {
				t.Errorf("listen %q, dashboard_listen %q; want :9955 and :8080", c.Monitoring.Listen, c.Monitoring.DashboardListen)
			}
			if !slices.Equal(ev.Firewall, []int{9955, 8080}) {
				t.Errorf("firewall opens %v; want [9955 8080]", ev.Firewall)
			}
			if _, ok := ev.Service.ServiceConfig["IPAddressDeny"]; ok {
				t.Errorf("IPAddressDeny = %v with openFirewall; want it unset", ev.Service.ServiceConfig["IPAddressDeny"])
			}
		}},
		{"settings add keys the typed options lack", `settings = { thresholds.pressure = 40; monitoring.mounts = [ "/" "/var" ]; actions.load = "throttle"; healing.cleanup_units = [ "nix-gc" ]; };`, func(t *testing.T, ev *evaluation) {
			c := daemonConfig(t, ev.Settings)
			if c.Thresholds.Pressure != 40 || !slices.Equal(c.Monitoring.Mounts, []string{"/", "/var"}) || c.Actions["load"] != "throttle" || c.Thresholds.CPU != 80 {
				t.Errorf("pressure %v, mounts %q, actions %v, cpu %v; want 40, [/ /var], load=throttle, 80", c.Thresholds.Pressure, c.Monitoring.Mounts, c.Actions, c.Thresholds.CPU)
			}
		}},
		{"settings override a typed option left at its default", `settings.thresholds.cpu = 65;`, func(t *testing.T, ev *evaluation) {
			if got := daemonConfig(t, ev.Settings).Thresholds.CPU; got != 65 {
				t.Errorf("cpu = %v; want 65", got)
			}
		}},
		{"the same value set both ways is fine", `thresholds.cpu = 65; settings.thresholds.cpu = 65;`, func(t *testing.T, ev *evaluation) {
			if got := daemonConfig(t, ev.Settings).Thresholds.CPU; got != 65 {
				t.Errorf("cpu = %v; want 65", got)
			}
		}},
		{"adminGroup names the group allowed to heal", `polkit.adminGroup = "operators";`, func(t *testing.T, ev *evaluation) {
			if !strings.Contains(ev.Polkit.ExtraConfig, `subject.isInGroup("operators")`) || strings.Contains(ev.Polkit.ExtraConfig, "wheel") {
				t.Errorf("rules:\n%s\nwant operators, not wheel", ev.Polkit.ExtraConfig)
			}
		}},
		{"adminGroup null adds no rule", `polkit.adminGroup = null;`, func(t *testing.T, ev *evaluation) {
			if strings.Contains(ev.Polkit.ExtraConfig, "addRule") {
				t.Errorf("rules:\n%s\nwant none", ev.Polkit.ExtraConfig)
			}
		}},
		{"the notifier is a user unit of graphical sessions", `notifier.enable = true;`, func(t *testing.T, ev *evaluation) {
			if ev.Notifier == nil {
				t.Fatal("no luminous-healing-notifier user unit")
			}
			if got := ev.Notifier.ServiceConfig["ExecStart"]; got != "/nix/store/eval-luminous-healing-0.1.0/bin/healingctl watch --notify" {
				t.Errorf("ExecStart = %v; want healingctl watch --notify", got)
			}
			if !slices.Equal(ev.Notifier.WantedBy, []string{"graphical-session.target"}) || !slices.Equal(ev.Notifier.PartOf, []string{"graphical-session.target"}) {
				t.Errorf("wantedBy %q, partOf %q; want graphical-session.target", ev.Notifier.WantedBy, ev.Notifier.PartOf)
			}
		}},
		{"checkConfig off writes the file unchecked", `checkConfig = false;`, func(t *testing.T, ev *evaluation) {
			if ev.ConfigFile != "/nix/store/eval-luminous-healing.toml" {
				t.Errorf("config file %s; want the unchecked rendering", ev.ConfigFile)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, mustEvaluate(t, enabled(tt.options)))
		})
	}
}

func TestANonRootUserMayManageExactlyItsUnits(t *testing.T) {
	ev := mustEvaluate(t, enabled(`user = "luminous-healing"; group = "luminous-healing"; services.monitored = [ "nginx" ];`))
	rules := ev.Polkit.ExtraConfig
	for _, want := range []string{
		`action.id == "org.freedesktop.systemd1.manage-units" && subject.user == "luminous-healing"`,
		`var units = [ "nginx.service", "systemd-tmpfiles-clean.service", "luminous-healing-journal-vacuum.service", "luminous-healing-nix-cleanup.service", "nix-gc.service" ];`,
		`var verbs = [ "start", "restart", "reset-failed", "set-property" ];`,
	} {
		if !strings.Contains(rules, want) {
			t.Errorf("rules lack %s:\n%s", want, rules)
		}
	}
	if got := ev.Service.ServiceConfig["User"]; got != "luminous-healing" {
		t.Errorf("User = %v; want luminous-healing", got)
	}
	if !slices.Equal(ev.Users, []string{"luminous-healing"}) || !slices.Equal(ev.Groups, []string{"luminous-healing"}) {
		t.Errorf("users %q, groups %q; want luminous-healing created", ev.Users, ev.Groups)
	}
	var policy string
	for _, p := range ev.DBusPackages {
		policy += p.Text
	}
	if !strings.Contains(policy, `<policy user="luminous-healing">`) || !strings.Contains(policy, `<allow own="org.luminous.Healing"/>`) {
		t.Errorf("dbus packages %+v; want a policy letting luminous-healing own org.luminous.Healing", ev.DBusPackages)
	}
	pkg := ev.SystemPackages[0]
	if !strings.Contains(pkg.Script, `<annotate key="org.freedesktop.policykit.owner">unix-user:luminous-healing</annotate>`) {
		t.Errorf("package %s built by\n%s\nwant the polkit actions owned by luminous-healing", pkg.Name, pkg.Script)
	}
	if !strings.HasPrefix(ev.Service.ServiceConfig["ExecStart"].(string), "/nix/store/eval-"+pkg.Name+"/") {
		t.Errorf("ExecStart = %v; want the re-owned package %s", ev.Service.ServiceConfig["ExecStart"], pkg.Name)
	}

	cleanup := mustEvaluate(t, enabled(`user = "svc"; settings.healing.cleanup_units = [ "nix-gc" ];`))
	if !strings.Contains(cleanup.Polkit.ExtraConfig, `var units = [ "nix-gc.service" ];`) {
		t.Errorf("with cleanup_units set, rules:\n%s\nwant exactly nix-gc.service", cleanup.Polkit.ExtraConfig)
	}
	if !slices.Equal(cleanup.Users, []string{"svc"}) || !slices.Equal(cleanup.Groups, []string{"svc"}) {
		t.Errorf("users %q, groups %q for user = svc; want svc created (TestTheDaemonsUserAndGroupExist has the rest)", cleanup.Users, cleanup.Groups)
	}
}

func TestSettingsThatCannotWorkAreRefused(t *testing.T) {
	tests := []struct {
		name, options string
		want          []string // in the assertion's or the evaluation's message
	}{
		{"a key set both ways to different values", `thresholds.cpu = 75; settings.thresholds.cpu = 70;`,
			[]string{"services.luminous-healing.thresholds.cpu", "settings.thresholds.cpu", "keep one"}},
		{"a metrics port that settings contradict", `monitoring.metricsPort = 9100; settings.monitoring.listen = "127.0.0.1:9200";`,
			[]string{"monitoring.metricsPort", "settings.monitoring.listen"}},
		{"a unit name systemd refuses", `services.monitored = [ "ng inx" ];`, []string{"ng inx.service"}},
		{"a template without an instance", `services.monitored = [ "getty@" ];`, []string{"getty@.service"}},
		{"the daemon watching itself", `services.monitored = [ "luminous-healing" ];`, []string{"never acts on itself"}},
		{"an open firewall for a loopback listener", `openFirewall = true; settings.monitoring.listen = "127.0.0.1:9955";`, []string{"openFirewall", "loopback"}},
		{"a zero threshold", `thresholds.cpu = 0;`, []string{"services.luminous-healing.thresholds.cpu", "above 0 and at most 100"}},
		{"a threshold above 100", `thresholds.disk = 101;`, []string{"thresholds.disk"}},
		{"a tiny history", `predictive.historySize = 5;`, []string{"predictive.historySize"}},
		{"a duration the daemon cannot read", `monitoring.interval = "soon";`, []string{"monitoring.interval"}},
		{"a port out of range", `monitoring.metricsPort = 70000;`, []string{"monitoring.metricsPort"}},
	}
	for _, tt := range tests {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			msg := refusal(t, enabled(tt.options))
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q; want it to name %q", msg, w)
				}
			}
		})
	}
}

func TestDisabledSetsNothing(t *testing.T) {
	ev := mustEvaluate(t, "{ services.luminous-healing.thresholds.cpu = 50; }")
	if ev.Service != nil || ev.Polkit.ExtraConfig != "" || ev.Polkit.Enable || len(ev.SystemPackages) != 0 || ev.ConfigFile != "" {
		t.Errorf("with enable = false: service %v, polkit %+v, packages %+v, config %q; want nothing", ev.Service, ev.Polkit, ev.SystemPackages, ev.ConfigFile)
	}
}

// The module's unit carries exactly the hardening of the unit make install
// ships, so that the score measured on one holds for the other.
func TestTheModulesUnitHasTheShippedHardening(t *testing.T) {
	shipped := unitSettings(t, "../cmd/luminous-healingd/luminous-healing.service")
	ev := mustEvaluate(t, enabled(""))
	module := map[string][]string{}
	for k, v := range ev.Service.ServiceConfig {
		module[k] = unitValues(v)
	}
	// Not hardening: paths, and what only one of the two needs.
	for _, k := range []string{"ExecStart", "ExecReload", "User", "Group"} {
		delete(module, k)
	}
	delete(shipped, "ExecStart")
	delete(shipped, "ExecReload")
	delete(shipped, "ConfigurationDirectory") // /etc is NixOS's own
	for k, want := range shipped {
		if !slices.Equal(module[k], want) {
			t.Errorf("%s: the module sets %q; the shipped unit %q", k, module[k], want)
		}
	}
	for k, got := range module {
		if _, ok := shipped[k]; !ok {
			t.Errorf("%s=%q is set by the module only; add it to the shipped unit too", k, got)
		}
	}
}

// unitSettings reads the [Service] section of a unit file: key → values in
// order, booleans spelled true/false.
func unitSettings(t *testing.T, path string) map[string][]string {
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
			section = line
		case section == "[Service]":
			k, v, _ := strings.Cut(line, "=")
			switch v {
			case "yes":
				v = "true"
			case "no":
				v = "false"
			}
			out[k] = append(out[k], v)
		}
	}
	return out
}

func unitValues(v any) []string {
	switch v := v.(type) {
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, unitValues(x)...)
		}
		return out
	case bool:
		return []string{fmt.Sprint(v)}
	default:
		return []string{fmt.Sprint(v)}
	}
}

// stubs declares the options of other NixOS services that the example and
// the VM test set, loosely, with the defaults they read.
const stubs = `options.services = {
	nginx = lib.mkOption { type = lib.types.anything; default = { }; };
	prometheus = lib.mkOption {
		type = lib.types.submodule { freeformType = lib.types.attrsOf lib.types.anything; options.port = lib.mkOption { default = 9090; }; };
		default = { };
	};
	grafana = lib.mkOption { type = lib.types.anything; default = { }; };
};
options.virtualisation = lib.mkOption { type = lib.types.anything; default = { }; };`

// The seed's example pointed Grafana at the daemon's port. In ours Prometheus
// scrapes the daemon where it listens, and Grafana reads Prometheus.
func TestTheExampleWiresPrometheusAndGrafanaToTheRightPorts(t *testing.T) {
	ev := mustEvaluate(t, "{ lib, ... }: { imports = [ ./example-configuration.nix ]; "+stubs+" }")
	c := daemonConfig(t, ev.Settings)
	if len(ev.Prometheus.ScrapeConfigs) != 1 || len(ev.Prometheus.ScrapeConfigs[0].StaticConfigs) != 1 {
		t.Fatalf("scrape configs %+v; want one job with one target", ev.Prometheus.ScrapeConfigs)
	}
	if got := ev.Prometheus.ScrapeConfigs[0].StaticConfigs[0].Targets; !slices.Equal(got, []string{c.Monitoring.Listen}) {
		t.Errorf("Prometheus scrapes %q; want the daemon's listener %s", got, c.Monitoring.Listen)
	}
	ds := ev.Grafana.Provision.Datasources.Settings.Datasources
	if len(ds) != 1 || ds[0].Type != "prometheus" || ds[0].URL != "http://127.0.0.1:9090" {
		t.Errorf("Grafana's data sources %+v; want one of type prometheus at Prometheus's own port, http://127.0.0.1:9090", ds)
	}
	if c.Monitoring.DashboardListen != "127.0.0.1:8080" || !slices.Contains(c.Services.Monitored, "nginx.service") {
		t.Errorf("dashboard on %q, monitored %q; want 127.0.0.1:8080 and nginx", c.Monitoring.DashboardListen, c.Services.Monitored)
	}
}

// The VM test's machine cannot boot here; its configuration can still be
// evaluated against the module.
func TestTheVMTestsMachineEvaluates(t *testing.T) {
	ev := mustEvaluate(t, `{ lib, ... }: {
		imports = [ (import ./tests/vm.nix { self.nixosModules.default = ./modules/luminous-healing.nix; }).nodes.machine ];
		`+stubs+` }`)
	c := daemonConfig(t, ev.Settings)
	if !slices.Equal(c.Services.Monitored, []string{"nginx.service", "victim.service"}) || c.Monitoring.Interval.D() != 5*time.Second {
		t.Errorf("monitored %q every %v; want nginx and victim every 5s", c.Services.Monitored, c.Monitoring.Interval)
	}
	if !strings.Contains(ev.Polkit.ExtraConfig, `subject.isInGroup("wheel")`) {
		t.Errorf("rules:\n%s\nwant wheel (alice's group) allowed to heal", ev.Polkit.ExtraConfig)
	}
}
