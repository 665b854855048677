# Evaluates nixos/modules/luminous-healing.nix with nixpkgs' lib alone — no
# nixpkgs, no NixOS, nothing built — for nixos/module_test.go:
#
#   nix-instantiate --eval --strict --json nixos/tests/eval.nix \
#     --arg lib 'import /path/to/nixpkgs/lib' --arg configuration '{ services.luminous-healing.enable = true; }'
#
# The handful of NixOS options the module sets are declared here, loosely;
# `pkgs` is a stand-in whose derivations are attribute sets with a name and
# an outPath. With `what = "options"` it prints the module's options for the
# table in docs/nixos.md instead.
{
  lib,
  configuration ? { },
  what ? "config",
}:

let
  fakePackage = name: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/eval-${name}";
  };

  # What pkgs.formats.toml accepts: TOML values, and attribute sets of them.
  tomlValue =
    let
      value =
        lib.types.oneOf [
          lib.types.bool
          lib.types.int
          lib.types.float
          lib.types.str
          lib.types.path
          (lib.types.attrsOf value)
          (lib.types.listOf value)
        ]
        // {
          description = "TOML value";
        };
    in
    value;

  pkgs = {
    luminous-healing = fakePackage "luminous-healing-0.1.0";
    coreutils = fakePackage "coreutils";
    curl = fakePackage "curl";
    formats.toml = { }: {
      type = lib.types.attrsOf tomlValue;
      generate = name: value: fakePackage name // { inherit value; };
    };
    runCommand = name: env: script: fakePackage name // { inherit env script; };
    writeTextDir = path: text: fakePackage (baseNameOf path) // { inherit path text; };
    stdenv = {
      buildPlatform.canExecute = _: true;
      hostPlatform = { };
    };
  };

  # The NixOS options the module sets, declared as loosely as will do.
  nixos =
    { lib, ... }:
    let
      inherit (lib) mkOption types;
      any = default: mkOption {
        type = types.anything;
        inherit default;
      };
      attrs = mkOption {
        type = types.attrsOf types.anything;
        default = { };
      };
      list = mkOption {
        type = types.listOf types.anything;
        default = [ ];
      };
    in
    {
      options = {
        assertions = list;
        warnings = list;
        environment.etc = attrs;
        environment.systemPackages = list;
        services.dbus.packages = list;
        security.polkit.enable = any false;
        security.polkit.extraConfig = mkOption {
          type = types.lines;
          default = "";
        };
        networking.firewall.allowedTCPPorts = mkOption {
          type = types.listOf types.port;
          default = [ ];
        };
        networking.nftables.enable = any false;
        networking.firewall.extraCommands = mkOption {
          type = types.lines;
          default = "";
        };
        systemd.package = any (fakePackage "systemd");
        nix.package = any (fakePackage "nix");
        systemd.services = attrs;
        systemd.tmpfiles.rules = list;
        systemd.user.services = attrs;
        # As NixOS declares them: a submodule, so that one option of a user
        # may depend on another, and a normal user's group defaults to users.
        users.users = mkOption {
          default = { };
          type = types.attrsOf (
            types.submodule (
              { config, ... }:
              {
                freeformType = types.attrsOf types.anything;
                options = {
                  isNormalUser = any false;
                  isSystemUser = any false;
                  group = mkOption {
                    type = types.str;
                    default = "";
                  };
                  description = mkOption {
                    type = types.str;
                    default = "";
                  };
                };
                config = lib.mkIf config.isNormalUser { group = lib.mkDefault "users"; };
              }
            )
          );
        };
        users.groups = attrs;
      };
    };

  eval = lib.evalModules {
    modules = [
      nixos
      ../modules/luminous-healing.nix
      configuration
    ];
    specialArgs = { inherit pkgs; };
  };
  c = eval.config;

  text = v: if builtins.isAttrs v && v ? _type then v.text else v;
  options = map (o: {
    inherit (o) name type description;
    default = if o ? default then text o.default else null;
    example = if o ? example then text o.example else null;
  }) (lib.filter (o: o.visible && !o.internal) (lib.optionAttrSetToDocList eval.options.services.luminous-healing));
in
if what == "options" then
  options
else
  {
    failedAssertions = map (a: a.message) (lib.filter (a: !a.assertion) c.assertions);
    settings = c.services.luminous-healing.settings;
    configFile = c.environment.etc."luminous-healing/config.toml".source or null;
    service = c.systemd.services.luminous-healing or null;
    vacuum = c.systemd.services.luminous-healing-journal-vacuum or null;
    nixCleanup = c.systemd.services.luminous-healing-nix-cleanup or null;
    journalCatalog = c.systemd.services.luminous-healing-journal-catalog or null;
    tmpfiles = c.systemd.tmpfiles.rules;
    notifier = c.systemd.user.services.luminous-healing-notifier or null;
    polkit = {
      inherit (c.security.polkit) enable extraConfig;
    };
    firewall = c.networking.firewall.allowedTCPPorts;
    firewallCommands = c.networking.firewall.extraCommands;
    dbusPackages = map (p: {
      inherit (p) name;
      text = p.text or null;
    }) c.services.dbus.packages;
    systemPackages = map (p: {
      inherit (p) name;
      script = p.script or null;
    }) c.environment.systemPackages;
    users = builtins.attrNames c.users.users;
    groups = builtins.attrNames c.users.groups;
    userAttrs = c.users.users;
    # Declared only by configurations that stub them (the example's tests).
    prometheus = c.services.prometheus or null;
    grafana = c.services.grafana or null;
  }
