# Evaluates flake.nix's outputs with nixpkgs' lib and a stand-in nixpkgs
# whose builders return their arguments, for nixos/flake_test.go: the
# outputs have the shape the flake promises, without building anything.
{ lib }:

let
  system = "x86_64-linux";
  fakePackage = name: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/eval-${name}";
  };
  pkgs = {
    inherit lib;
    stdenv = {
      hostPlatform.system = system;
      buildPlatform.canExecute = _: true;
    };
    buildGo126Module = args: fakePackage "${args.pname}-${args.version}" // { inherit args; };
    callPackage = f: args: import f ({ inherit lib; inherit (pkgs) buildGo126Module stdenv; } // args);
    mkShell = args: fakePackage "shell" // { inherit args; };
    testers.runNixOSTest = test: fakePackage "vm-test-${test.name}" // { inherit test; };
  }
  // lib.genAttrs [ "go_1_26" "gopls" "go-tools" "gnumake" "dbus" "polkit" "nix" ] fakePackage;
  nixpkgs = {
    inherit lib;
    outPath = "/nix/store/eval-nixpkgs";
    legacyPackages.${system} = pkgs;
    legacyPackages.aarch64-linux = pkgs;
  };
  flake = import ../../flake.nix;
  self = flake.outputs {
    self = self // {
      outPath = toString ../..;
      shortRev = "abcdef0";
    };
    inherit nixpkgs;
  };
  module = self.nixosModules.default {
    inherit lib pkgs;
  };
  package = self.packages.${system}.default;
  overlaid = self.overlays.default pkgs pkgs;
in
{
  inherit (flake) description;
  inputs = builtins.attrNames flake.inputs;
  systems = builtins.attrNames self.packages;
  package = {
    inherit (package) name;
    inherit (package.args) pname version vendorHash ldflags doCheck postInstall;
    mainProgram = package.args.meta.mainProgram;
  };
  overlay = overlaid.luminous-healing.name;
  moduleImports = map toString module.imports;
  modulePackage = module.services.luminous-healing.package.content.name;
  devShell = map (p: p.name) self.devShells.${system}.default.args.packages;
  devShellNixpkgsLib = self.devShells.${system}.default.args.NIXPKGS_LIB;
  checks = builtins.attrNames self.checks.${system};
  vmTest = {
    inherit (self.checks.${system}.vm.test) name;
    nodes = builtins.attrNames self.checks.${system}.vm.test.nodes;
    script = self.checks.${system}.vm.test.testScript;
  };
}
