package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/issue"
)

func TestDefaultTOMLEqualsDefault(t *testing.T) {
	got, err := Parse(DefaultTOML)
	if err != nil {
		t.Fatalf("Parse(default.toml): %v", err)
	}
	want := Default()
	if err := want.validate(); err != nil {
		t.Fatalf("Default() does not validate: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("default.toml and Default() differ:\n got %+v\nwant %+v", got, want)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		toml  string
		check func(*testing.T, *Config)
	}{
		{"an empty file gives the defaults", "", func(t *testing.T, c *Config) {
			if c.Thresholds.CPU != 80 || c.Monitoring.Interval.D() != time.Minute {
				t.Errorf("got cpu %v interval %v; want 80 and 1m", c.Thresholds.CPU, c.Monitoring.Interval)
			}
		}},
		{"integer seconds are a duration", "[monitoring]\ninterval = 30", func(t *testing.T, c *Config) {
			if got := c.Monitoring.Interval.D(); got != 30*time.Second {
				t.Errorf("interval = %v; want 30s", got)
			}
		}},
		{"an integer threshold is accepted", "[thresholds]\ncpu = 70", func(t *testing.T, c *Config) {
			if c.Thresholds.CPU != 70 {
				t.Errorf("cpu = %v; want 70", c.Thresholds.CPU)
			}
		}},
		{"unit names are normalised and deduplicated", "[services]\nmonitored = [\"nginx\", \"nginx.service\", \"getty@tty1\"]", func(t *testing.T, c *Config) {
			want := []string{"nginx.service", "getty@tty1.service"}
			if !reflect.DeepEqual(c.Services.Monitored, want) {
				t.Errorf("monitored = %q; want %q", c.Services.Monitored, want)
			}
		}},
		{"the action table can be overridden", "[actions]\nload = \"throttle\"\nunit = \"none\"", func(t *testing.T, c *Config) {
			want := map[issue.Kind]issue.Action{issue.Load: issue.Throttle, issue.Unit: issue.None}
			if !reflect.DeepEqual(c.Actions, want) {
				t.Errorf("actions = %v; want %v", c.Actions, want)
			}
		}},
		{"cleanup units left out stay nil so the built-in list applies", "", func(t *testing.T, c *Config) {
			if c.Healing.CleanupUnits != nil {
				t.Errorf("cleanup_units = %q; want nil", c.Healing.CleanupUnits)
			}
		}},
		{"the dashboard can have a listener of its own", "[monitoring]\ndashboard = true\ndashboard_listen = \"127.0.0.1:8080\"", func(t *testing.T, c *Config) {
			if c.Monitoring.DashboardListen != "127.0.0.1:8080" || c.Monitoring.Listen != "127.0.0.1:9955" {
				t.Errorf("listen %q, dashboard_listen %q; want 127.0.0.1:9955 and 127.0.0.1:8080", c.Monitoring.Listen, c.Monitoring.DashboardListen)
			}
		}},
		{"a dashboard listener equal to listen is the same listener", "[monitoring]\ndashboard = true\ndashboard_listen = \"127.0.0.1:9955\"", func(t *testing.T, c *Config) {
			if c.Monitoring.DashboardListen != "" {
				t.Errorf("dashboard_listen = %q; want \"\" (served on listen)", c.Monitoring.DashboardListen)
			}
		}},
		{"per-mount cleanup units are normalised", "[healing.mount_cleanup_units]\n\"/boot\" = [\"luminous-healing-nix-cleanup\"]", func(t *testing.T, c *Config) {
			want := map[string][]string{"/boot": {"luminous-healing-nix-cleanup.service"}}
			if !reflect.DeepEqual(c.Healing.MountCleanupUnits, want) || c.Healing.CleanupUnits != nil {
				t.Errorf("mount_cleanup_units = %q, cleanup_units %q; want %q and nil", c.Healing.MountCleanupUnits, c.Healing.CleanupUnits, want)
			}
		}},
		{"the nix cleanup policy is read", "[cleanup.nix]\nkeep_generations = 3\nkeep_days = 0\noptimise = true\nboot = false\nprofiles = [\"/nix/var/nix/profiles/per-user/alice/profile\"]", func(t *testing.T, c *Config) {
			want := NixCleanup{KeepGenerations: 3, Optimise: true, Profiles: []string{"/nix/var/nix/profiles/per-user/alice/profile"}}
			if !reflect.DeepEqual(c.Cleanup.Nix, want) {
				t.Errorf("cleanup.nix = %+v; want %+v", c.Cleanup.Nix, want)
			}
		}},
		{"pressure 0 means off", "[thresholds]\npressure = 0", func(t *testing.T, c *Config) {
			if c.Thresholds.Pressure != 0 {
				t.Errorf("pressure = %v; want 0", c.Thresholds.Pressure)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.toml))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name, toml, wantKey string
	}{
		{"an unknown key", "[thresholds]\ncpuu = 80", "thresholds.cpuu"},
		{"an unknown section", "[thresold]\ncpu = 80", "thresold"},
		{"a string threshold", "[thresholds]\ncpu = \"high\"", "thresholds.cpu"},
		{"a threshold above 100", "[thresholds]\nmemory = 120", "thresholds.memory"},
		{"a zero disk threshold", "[thresholds]\ndisk = 0", "thresholds.disk"},
		{"a negative load threshold", "[thresholds]\nload_average = -1", "thresholds.load_average"},
		{"NaN", "[thresholds]\ncpu = nan", "thresholds.cpu"},
		{"a bad duration", "[monitoring]\ninterval = \"soon\"", "monitoring.interval"},
		{"a negative duration", "[monitoring]\ninterval = -5", "monitoring.interval"},
		{"a tiny interval", "[monitoring]\ninterval = \"1ms\"", "monitoring.interval"},
		{"a bad unit name", "[services]\nmonitored = [\"ng inx\"]", "services.monitored[0]"},
		{"a relative mount", "[monitoring]\nmounts = [\"var\"]", "monitoring.mounts[0]"},
		{"a bad listen address", "[monitoring]\nlisten = \"9955\"", "monitoring.listen"},
		{"a bad dashboard address", "[monitoring]\ndashboard = true\ndashboard_listen = \"8080\"", "monitoring.dashboard_listen"},
		{"a dashboard address with the dashboard off", "[monitoring]\ndashboard_listen = \"127.0.0.1:8080\"", "monitoring.dashboard_listen"},
		{"a bad action", "[actions]\ndisk = \"reboot\"", "actions.disk"},
		{"a bad kind in actions", "[actions]\nfan = \"restart\"", "actions.fan"},
		{"backoff_max below backoff", "[healing]\nbackoff = \"1m\"\nbackoff_max = \"10s\"", "healing.backoff_max"},
		{"a tiny history", "[predictive]\nhistory_size = 1", "predictive.history_size"},
		{"keeping no generation", "[cleanup.nix]\nkeep_generations = 0", "cleanup.nix.keep_generations"},
		{"negative days", "[cleanup.nix]\nkeep_days = -1", "cleanup.nix.keep_days"},
		{"a relative profile", "[cleanup.nix]\nprofiles = [\"profile\"]", "cleanup.nix.profiles[0]"},
		{"a relative mount in mount_cleanup_units", "[healing.mount_cleanup_units]\nboot = [\"x\"]", "healing.mount_cleanup_units"},
		{"a mount with no cleanup unit", "[healing.mount_cleanup_units]\n\"/boot\" = []", "healing.mount_cleanup_units"},
		{"a bad per-mount unit", "[healing.mount_cleanup_units]\n\"/boot\" = [\"a b\"]", "healing.mount_cleanup_units"},
		{"bad TOML", "[thresholds\ncpu = 1", "line"},
	}
	for _, tt := range tests {
		t.Run("rejects "+tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.toml))
			if err == nil {
				t.Fatalf("Parse = %+v; want an error", c)
			}
			if !strings.Contains(err.Error(), tt.wantKey) {
				t.Errorf("error %q; want it to name %q", err, tt.wantKey)
			}
			if strings.Count(err.Error(), "\n") > 0 {
				t.Errorf("error %q spans several lines; want one", err)
			}
		})
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte("[healing]\nenabled = \"yes\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "healing.enabled") {
		t.Errorf("Load error = %v; want it to name %s and healing.enabled", err, path)
	}
	_, err = Load(filepath.Join(t.TempDir(), "missing.toml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v; want an error wrapping os.ErrNotExist", err)
	}
}

func TestMaintenanceWindowsAreValidatedAndCanonical(t *testing.T) {
	c, err := Parse([]byte("[[maintenance]]\nwhen = \"Sun 02:00..04:00\"\nscope = \"unit:nginx\"\n\n[[maintenance]]\nwhen = \"Mon..Fri 22:00..06:00 UTC\"\neffect = \"notify-only\"\nreason = \"nightly batch\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Maintenance{
		{When: "Sun 02:00..04:00", Scope: "unit:nginx.service", Effect: "pause", Reason: "maintenance window Sun 02:00..04:00"},
		{When: "Mon..Fri 22:00..06:00 UTC", Scope: "all", Effect: "notify-only", Reason: "nightly batch"},
	}
	if !reflect.DeepEqual(c.Maintenance, want) {
		t.Errorf("maintenance = %+v; want %+v", c.Maintenance, want)
	}
	for body, key := range map[string]string{
		"when = \"Sun 02:00\"":                                "maintenance[0].when",
		"when = \"Sun 02:00..04:00\"\nscope = \"host:x\"":     "maintenance[0].scope",
		"when = \"Sun 02:00..04:00\"\neffect = \"mute\"":      "maintenance[0].effect",
		"when = \"Sun 02:00..04:00\"\nreason = \"a\\u001bb\"": "maintenance[0].reason",
	} {
		_, err := Parse([]byte("[[maintenance]]\n" + body + "\n"))
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%q: error %v; want one naming %s", body, err, key)
		}
	}
}
