package config

import (
	"fmt"
	"path/filepath"
	"slices"
)

// Cleanup configures the cleanup units the package ships.
type Cleanup struct {
	Nix NixCleanup `toml:"nix"`
}

// NixCleanup is the retention policy of luminous-healing-nix-cleanup.service
// (`luminous-healingd nix-cleanup`), which reads it from this file. The
// daemon reads it too, to say in dry-run which generations would go.
type NixCleanup struct {
	// KeepGenerations newest system generations are always kept.
	KeepGenerations int `toml:"keep_generations"`
	// KeepDays: generations younger than this many days are kept; 0 turns
	// the rule off.
	KeepDays int `toml:"keep_days"`
	// Optimise runs nix-store --optimise after collecting garbage.
	Optimise bool `toml:"optimise"`
	// Boot installs the bootloader again so that /boot loses the deleted
	// generations' kernels and initrds.
	Boot bool `toml:"boot"`
	// Profiles are further profiles (e.g. users') the same policy applies
	// to; the system profile is always included.
	Profiles []string `toml:"profiles"`
}

func (c *Config) validateCleanup() error {
	n := &c.Cleanup.Nix
	if n.KeepGenerations < 1 || n.KeepGenerations > 100000 {
		return keyErr("cleanup.nix.keep_generations", "must be between 1 and 100000, got %d (the newest generation is always kept)", n.KeepGenerations)
	}
	if n.KeepDays < 0 || n.KeepDays > 36500 {
		return keyErr("cleanup.nix.keep_days", "must be between 0 (off) and 36500, got %d", n.KeepDays)
	}
	if len(n.Profiles) == 0 {
		n.Profiles = nil // "profiles = []" is the default, not a different setting
	}
	for i, p := range n.Profiles {
		if !filepath.IsAbs(p) || filepath.Clean(p) != p {
			return keyErr(fmt.Sprintf("cleanup.nix.profiles[%d]", i), "must be a clean absolute path, got %q", p)
		}
	}
	h := &c.Healing
	if h.MountCleanupUnits != nil {
		mounts := make([]string, 0, len(h.MountCleanupUnits))
		for m := range h.MountCleanupUnits {
			mounts = append(mounts, m)
		}
		slices.Sort(mounts)
		for _, m := range mounts {
			key := fmt.Sprintf("healing.mount_cleanup_units.%q", m)
			if !filepath.IsAbs(m) || filepath.Clean(m) != m {
				return keyErr(key, "must be keyed by a clean absolute mount point, got %q", m)
			}
			if len(h.MountCleanupUnits[m]) == 0 {
				return keyErr(key, "names no unit; leave the mount out to use healing.cleanup_units")
			}
			units, err := normalizeUnits(key, h.MountCleanupUnits[m])
			if err != nil {
				return err
			}
			h.MountCleanupUnits[m] = units
		}
	}
	return nil
}
