{
  description = "luminous-healing: a self-healing daemon for Linux, first class on NixOS";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
      version = "0.1.0-" + (self.shortRev or self.dirtyShortRev or "dirty");
      package = pkgs: pkgs.callPackage ./nixos/package.nix {
        inherit version;
        src = self;
      };
    in
    {
      packages = forAllSystems (pkgs: rec {
        luminous-healing = package pkgs;
        default = luminous-healing;
      });

      overlays.default = final: prev: { luminous-healing = package final; };

      # The module, with this flake's package as its default.
      nixosModules.luminous-healing =
        { lib, pkgs, ... }:
        {
          imports = [ ./nixos/modules/luminous-healing.nix ];
          services.luminous-healing.package = lib.mkDefault self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        };
      nixosModules.default = self.nixosModules.luminous-healing;

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          packages = with pkgs; [
            go_1_26
            gopls
            go-tools # staticcheck
            gnumake
            dbus # dbus-daemon for the private-bus tests
            polkit
            nix # nix-instantiate for ./nixos's tests
          ];
          # The module evaluation tests in ./nixos read nixpkgs' lib here.
          NIXPKGS_LIB = "${nixpkgs}/lib";
        };
      });

      checks = forAllSystems (pkgs: {
        package = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        # Boots a VM with the module: healingctl as an admin and as a normal
        # user, a killed monitored unit healed, Prometheus and Grafana wired.
        vm = pkgs.testers.runNixOSTest (import ./nixos/tests/vm.nix { inherit self; });
      });
    };
}
