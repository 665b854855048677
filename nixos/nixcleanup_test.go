package nixos

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/luminous-healing/luminous-healing/internal/config"
)

// services.luminous-healing.cleanup.nix (nixos/modules/nix-cleanup.nix).
func TestNixCleanupOptions(t *testing.T) {
	tests := []struct {
		name    string
		options string
		check   func(*testing.T, *evaluation)
	}{
		{"on by default with the default policy, run by the package's daemon binary", ``, func(t *testing.T, ev *evaluation) {
			c := daemonConfig(t, ev.Settings)
			want := config.NixCleanup{KeepGenerations: 5, KeepDays: 14, Boot: true}
			if !reflect.DeepEqual(c.Cleanup.Nix, want) {
				t.Errorf("cleanup.nix = %+v; want %+v", c.Cleanup.Nix, want)
			}
			u := ev.NixCleanup
			if u == nil {
				t.Fatal("no luminous-healing-nix-cleanup service")
			}
			for k, want := range map[string]any{
				"Type":                     "oneshot",
				"ExecStart":                "/nix/store/eval-luminous-healing-0.1.0/bin/luminous-healingd nix-cleanup --config /etc/luminous-healing/config.toml",
				"RuntimeDirectory":         "luminous-healing-nix-cleanup",
				"RuntimeDirectoryMode":     "0755",
				"RuntimeDirectoryPreserve": true,
			} {
				if got := u.ServiceConfig[k]; got != want {
					t.Errorf("%s = %v; want %v", k, got, want)
				}
			}
			if got := u.UnitConfig["ConditionPathExists"]; got != "/nix/var/nix/profiles/system" {
				t.Errorf("ConditionPathExists = %v; want the system profile", got)
			}
			if !slices.Contains(u.Path, "/nix/store/eval-nix") {
				t.Errorf("path %q lacks nix (nix-env, nix-store)", u.Path)
			}
			if ev.Service.Environment["NIX_REMOTE"] != "daemon" || !slices.Contains(ev.Service.Path, "/nix/store/eval-nix") {
				t.Errorf("the daemon's environment %v, path %q; want NIX_REMOTE=daemon and nix, for dry-run's estimate", ev.Service.Environment, ev.Service.Path)
			}
		}},
		{"each option reaches config.toml", `cleanup.nix = { keepGenerations = 3; keepDays = 0; optimise = true; boot = false; profiles = [ "/nix/var/nix/profiles/per-user/alice/profile" ]; };`, func(t *testing.T, ev *evaluation) {
			c := daemonConfig(t, ev.Settings)
			want := config.NixCleanup{KeepGenerations: 3, Optimise: true, Profiles: []string{"/nix/var/nix/profiles/per-user/alice/profile"}}
			if !reflect.DeepEqual(c.Cleanup.Nix, want) {
				t.Errorf("cleanup.nix = %+v; want %+v", c.Cleanup.Nix, want)
			}
		}},
		{"off, there is no unit and the daemon's environment is its own", `cleanup.nix.enable = false; user = "luminous-healing"; group = "luminous-healing";`, func(t *testing.T, ev *evaluation) {
			if ev.NixCleanup != nil {
				t.Errorf("luminous-healing-nix-cleanup exists although cleanup.nix.enable = false")
			}
			if _, ok := ev.Service.Environment["NIX_REMOTE"]; ok {
				t.Errorf("NIX_REMOTE set although the nix cleanup is off")
			}
			if strings.Contains(ev.Polkit.ExtraConfig, "luminous-healing-nix-cleanup") {
				t.Errorf("the user's polkit rule names the nix cleanup unit, which is off:\n%s", ev.Polkit.ExtraConfig)
			}
		}},
		{"a non-root daemon may start the per-mount units", `user = "luminous-healing"; group = "luminous-healing"; settings.healing.mount_cleanup_units."/boot" = [ "boot-prune" ];`, func(t *testing.T, ev *evaluation) {
			for _, u := range []string{`"luminous-healing-nix-cleanup.service"`, `"boot-prune.service"`} {
				if !strings.Contains(ev.Polkit.ExtraConfig, u) {
					t.Errorf("the user's polkit rule lacks %s:\n%s", u, ev.Polkit.ExtraConfig)
				}
			}
			c := daemonConfig(t, ev.Settings)
			if got := c.Healing.MountCleanupUnits["/boot"]; !slices.Equal(got, []string{"boot-prune.service"}) {
				t.Errorf("mount_cleanup_units /boot = %q; want boot-prune.service", got)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, mustEvaluate(t, enabled(tt.options)))
		})
	}
}

func TestNixCleanupRejectsAPolicyThatKeepsNothing(t *testing.T) {
	for _, options := range []string{`cleanup.nix.keepGenerations = 0;`, `cleanup.nix.keepDays = -1;`, `cleanup.nix.profiles = [ "relative" ];`} {
		if ev, err := evaluate(t, enabled(options)); err == nil && len(ev.FailedAssertions) == 0 {
			t.Errorf("%s evaluated; want a type error", options)
		}
	}
}

// The VM test's bootloader machine, which runs the real
// switch-to-configuration, evaluates against the module.
func TestTheVMTestsBootloaderMachineEvaluates(t *testing.T) {
	ev := mustEvaluate(t, `{ lib, ... }: {
		imports = [ (import ./tests/vm.nix { self.nixosModules.default = ./modules/luminous-healing.nix; }).nodes.bootloader ];
		options.boot = lib.mkOption { type = lib.types.anything; default = { }; };
		`+stubs+` }`)
	c := daemonConfig(t, ev.Settings)
	if want := (config.NixCleanup{KeepGenerations: 2, Boot: true}); !reflect.DeepEqual(c.Cleanup.Nix, want) {
		t.Errorf("cleanup.nix = %+v; want %+v", c.Cleanup.Nix, want)
	}
	if ev.NixCleanup == nil {
		t.Errorf("the bootloader machine has no luminous-healing-nix-cleanup unit")
	}
}
