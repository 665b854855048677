# services.luminous-healing.cleanup.nix — the NixOS-aware cleanup
# (docs/cleanup.md), imported by ./luminous-healing.nix and kept in a file of
# its own. It wires luminous-healing-nix-cleanup.service, which the daemon's
# cleanup action starts for full (or filling) /nix and /boot, and / when the
# store lives there: old system generations beyond the retention policy go,
# the store's garbage is collected, and the bootloader is installed again so
# that /boot loses the deleted generations' kernels and initrds.
{
  config,
  lib,
  pkgs,
  ...
}:

let
  inherit (lib) mkDefault mkIf mkOption types;
  cfg = config.services.luminous-healing;
  nix = cfg.cleanup.nix;
in
{
  options.services.luminous-healing.cleanup.nix = {
    enable = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Let the cleanup action delete old system generations, collect the Nix store's garbage and prune
        /boot (luminous-healing-nix-cleanup.service) when /nix, /boot or the mount holding the store is
        full or predicted to fill. It never deletes the {option}`services.luminous-healing.cleanup.nix.keepGenerations` newest generations,
        those younger than {option}`services.luminous-healing.cleanup.nix.keepDays`, the profile's current one, nor the running and booted
        systems. Off, the unit does not exist and the cleanup action falls back to its other units.
      '';
    };
    keepGenerations = mkOption {
      type = types.ints.between 1 100000;
      default = 5;
      description = "The newest system generations that are always kept (at least 1).";
    };
    keepDays = mkOption {
      type = types.ints.between 0 36500;
      default = 14;
      description = "System generations younger than this many days are kept too; 0 turns this rule off.";
    };
    optimise = mkOption {
      type = types.bool;
      default = false;
      description = "Run `nix-store --optimise` after collecting garbage: slow, and frees only duplicates. `nix.settings.auto-optimise-store` does it as paths arrive instead.";
    };
    boot = mkOption {
      type = types.bool;
      default = true;
      description = ''
        After deleting generations, install the bootloader again with the system profile's
        `switch-to-configuration boot` (what `nixos-rebuild boot` runs), so that /boot loses the
        deleted generations' kernels and initrds. It runs only when it fits in /boot's free space, and
        puts back any file of the current or booted generation the bootloader removed.
      '';
    };
    profiles = mkOption {
      type = types.listOf (types.strMatching "/.*");
      default = [ ];
      example = [ "/nix/var/nix/profiles/per-user/alice/profile" ];
      description = "Further profiles (users') the same policy applies to. The system profile is always cleaned; no user profile is unless listed here.";
    };
  };

  config = mkIf cfg.enable {
    services.luminous-healing.settings.cleanup.nix = {
      keep_generations = mkDefault nix.keepGenerations;
      keep_days = mkDefault nix.keepDays;
      optimise = mkDefault nix.optimise;
      boot = mkDefault nix.boot;
      profiles = mkDefault nix.profiles;
    };

    systemd.services.luminous-healing-nix-cleanup = mkIf nix.enable {
      description = "Delete old NixOS generations, collect garbage, prune /boot (luminous-healing cleanup)";
      documentation = [ "man:luminous-healingd(8)" ];
      after = [ "nix-daemon.service" ];
      # nix-env and nix-store; switch-to-configuration brings its own.
      path = [
        config.nix.package
        pkgs.coreutils
      ];
      # A changed policy is read from the config file at the next start.
      unitConfig.ConditionPathExists = "/nix/var/nix/profiles/system";
      serviceConfig = {
        Type = "oneshot";
        ExecStart = "${cfg.package}/bin/luminous-healingd nix-cleanup --config /etc/luminous-healing/config.toml";
        # result.json: what it freed, per mount, for the daemon to read.
        RuntimeDirectory = "luminous-healing-nix-cleanup";
        RuntimeDirectoryMode = "0755";
        RuntimeDirectoryPreserve = true;
        Nice = 19;
        IOSchedulingClass = "idle";
      };
    };

    # The daemon's dry-run asks the store which paths would go, through
    # nix-daemon: its own sandbox leaves /nix read-only.
    systemd.services.luminous-healing = mkIf nix.enable {
      path = [ config.nix.package ];
      environment.NIX_REMOTE = "daemon";
    };
  };
}
