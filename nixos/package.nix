# The luminous-healing package: both binaries, and everything `make install`
# ships besides them (units, D-Bus policy and activation file, polkit
# actions, the example rules, shell completions, the commented default
# config under $out/etc). Used by the flake's packages.default and overlay:
#
#   pkgs.callPackage ./nixos/package.nix { }
{
  lib,
  buildGo126Module,
  stdenv,
  version ? "0.1.0-dev",
  src ? lib.cleanSource ../.,
}:

buildGo126Module {
  pname = "luminous-healing";
  inherit version src;

  # The hash of `go mod vendor`'s output. nixos/flake_test.go recomputes it
  # on every go test run and fails, printing the new value, when go.mod or
  # the imports change without it.
  vendorHash = "sha256-LtVkTXj0gvcVJ+0DOZqnBhi3yyDd6qKT1XnNWCgaA6Q=";

  env.CGO_ENABLED = 0;
  # urfave/cli without its man-page and markdown writers, which the binaries
  # never call: their markdown library keeps half a MiB of tables on the
  # heap from start-up (docs/performance.md). The Makefile builds the same.
  tags = [ "urfave_cli_no_docs" ];
  ldflags = [
    "-s"
    "-w"
    "-X main.version=${version}"
  ];

  # The suite needs root, systemd as PID 1, D-Bus and polkitd; CI runs it,
  # and the flake's VM test checks the installed result.
  doCheck = false;

  # The XDG autostart entry stays out of $out/etc/xdg: NixOS links that
  # into /etc/xdg/autostart for every package in systemPackages, which would
  # start the notifier without notifier.enable. NixOS starts
  # graphical-session.target in every X session, so the module's user unit
  # is enough there.
  postInstall = ''
    make install-data PREFIX=$out SBINDIR=$out/bin SYSCONFDIR=$out/etc \
      AUTOSTARTDIR=$out/share/luminous-healing/autostart
  ''
  + lib.optionalString (stdenv.buildPlatform.canExecute stdenv.hostPlatform) ''
    make install-completion PREFIX=$out HEALINGCTL=$out/bin/healingctl
  '';

  meta = {
    description = "Self-healing daemon for Linux: watches resources and systemd units, heals through systemd";
    homepage = "https://github.com/luminous-healing/luminous-healing";
    mainProgram = "healingctl";
    platforms = lib.platforms.linux;
  };
}
