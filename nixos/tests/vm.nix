# The flake's VM test (checks.<system>.vm): pkgs.testers.runNixOSTest boots
# nixos/example-configuration.nix with the module and checks what a NixOS
# user relies on. It needs KVM and a nixpkgs to build, so it runs with
# `nix flake check` or `nix build .#checks.x86_64-linux.vm`, not in go test.
{ self }:

{
  name = "luminous-healing";

  nodes.machine =
    { lib, pkgs, ... }:
    {
      imports = [
        self.nixosModules.default
        ../example-configuration.nix
      ];

      services.luminous-healing = {
        # A unit systemd leaves dead, so that only the daemon brings it back.
        services.monitored = [ "victim" ];
        monitoring.interval = 5;
      };
      systemd.services.victim = {
        wantedBy = [ "multi-user.target" ];
        serviceConfig = {
          ExecStart = "${pkgs.coreutils}/bin/sleep infinity";
          Restart = "no";
        };
      };

      users.users.alice = {
        isNormalUser = true;
        extraGroups = [ "wheel" ];
      };
      users.users.bob.isNormalUser = true;

      services.grafana.settings.security = {
        secret_key = lib.mkForce "vm-test-only";
        admin_user = "admin";
        admin_password = "vm-test-only";
      };
      environment.systemPackages = [ pkgs.curl ];
      virtualisation.memorySize = 2048;
    };

  # A machine that boots through systemd-boot from its own disk, so that
  # /boot is real: the nix cleanup (cleanup.nix, docs/cleanup.md) runs the
  # real switch-to-configuration there.
  nodes.bootloader =
    { ... }:
    {
      imports = [ self.nixosModules.default ];
      services.luminous-healing = {
        enable = true;
        cleanup.nix = {
          keepGenerations = 2;
          keepDays = 0;
        };
      };
      virtualisation.useBootLoader = true;
      virtualisation.useEFIBoot = true;
      boot.loader.systemd-boot.enable = true;
      boot.loader.efi.canTouchEfiVariables = true;
      virtualisation.memorySize = 1024;
    };

  testScript = ''
    import json
    import re

    def invocation(unit):
        return machine.succeed(f"systemctl show -P InvocationID {unit}").strip()

    machine.wait_for_unit("luminous-healing.service")
    machine.wait_for_unit("victim.service")

    with subtest("the daemon runs sandboxed, with no capabilities"):
        pid = machine.succeed("systemctl show -P MainPID luminous-healing").strip()
        machine.succeed(f"grep -E '^CapEff:\\s+0+$' /proc/{pid}/status")
        out = machine.succeed("systemd-analyze security --no-pager luminous-healing.service")
        score = float(re.search(r"Overall exposure level for luminous-healing.service: ([0-9.]+)", out).group(1))
        print(f"systemd-analyze security luminous-healing.service: {score}")
        assert score <= 2.0, f"exposure {score}, want at most 2.0"

    with subtest("the config file is the module's, and the daemon accepts it"):
        machine.succeed("luminous-healingd --check-config --config /etc/luminous-healing/config.toml | grep -F 'victim.service'")

    with subtest("journalctl -x explains the daemon's messages"):
        machine.wait_for_unit("luminous-healing-journal-catalog.service")
        machine.succeed("journalctl --list-catalog | grep -F '5f4098c190db426fb8045a4507861c3a luminous-healing: '")

    with subtest("any user reads the status"):
        machine.succeed("su -l bob -c 'healingctl --no-ask-password status'")

    with subtest("an admin (wheel) restarts a monitored unit without a password"):
        before = invocation("victim")
        machine.succeed("su -l alice -c 'healingctl --no-ask-password restart victim'")
        machine.wait_until_succeeds(f"test \"$(systemctl show -P InvocationID victim)\" != {before}")
        machine.succeed("systemctl is-active victim")

    with subtest("a normal user may not, and hears so (exit 4)"):
        before = invocation("victim")
        rc, out = machine.execute("su -l bob -c 'healingctl --no-ask-password restart victim' 2>&1")
        assert rc == 4, f"healingctl restart as bob exited {rc}: {out}"
        assert invocation("victim") == before, "bob's restart happened anyway"

    with subtest("a killed monitored unit is healed"):
        before = invocation("victim")
        machine.succeed("systemctl kill --signal=KILL victim")
        machine.wait_until_succeeds(f"test \"$(systemctl show -P InvocationID victim)\" != {before}", timeout=60)
        machine.wait_until_succeeds("systemctl is-active victim", timeout=60)
        machine.succeed("journalctl -u luminous-healing -o cat | grep -F victim.service")

    with subtest("Prometheus scrapes the daemon, Grafana reads Prometheus"):
        machine.wait_for_open_port(9955)
        machine.succeed("curl -sf http://127.0.0.1:9955/metrics | grep -q '^healing_build_info'")
        machine.succeed("curl -sf http://127.0.0.1:8080/ >/dev/null")
        machine.wait_for_unit("prometheus.service")
        machine.wait_until_succeeds(
            "curl -sf 'http://127.0.0.1:9090/api/v1/query?query=up%7Bjob%3D%22luminous-healing%22%7D' | grep -F '\"1\"]'",
            timeout=120,
        )
        machine.wait_for_unit("grafana.service")
        machine.wait_for_open_port(3000)
        machine.wait_until_succeeds(
            "curl -sf -u admin:vm-test-only 'http://127.0.0.1:3000/api/datasources/proxy/uid/prometheus/api/v1/query?query=healing_build_info' | grep -F healing_build_info",
            timeout=120,
        )
    with subtest("nix cleanup: old generations go, the booted one stays, and /boot loses their entries"):
        bootloader.wait_for_unit("multi-user.target")
        toplevel = bootloader.succeed("readlink -f /run/current-system").strip()
        # Five more generations of the same system, as five rebuilds would make.
        for _ in range(5):
            bootloader.succeed(f"nix-env -p /nix/var/nix/profiles/system --set {toplevel}")
        bootloader.succeed("/nix/var/nix/profiles/system/bin/switch-to-configuration boot")
        gens = sorted(int(l.split("-")[1]) for l in bootloader.succeed("ls /nix/var/nix/profiles | grep -E '^system-[0-9]+-link$'").split())
        assert len(gens) == 6, f"generations before: {gens}"
        bootloader.succeed(f"test -e /boot/loader/entries/nixos-generation-{gens[1]}.conf")

        dry = bootloader.succeed("luminous-healingd nix-cleanup --dry-run --json")
        would = [g["number"] for g in json.loads(dry)["profiles"][0]["deleted"]]
        # The booted and running system is every generation's: the newest
        # of them keeps it.
        keep = gens[-2:]
        assert would == [g for g in gens if g not in keep], f"dry-run would delete {would}; keep {keep}"
        assert len(gens) == 6, "dry-run changed the profile"

        # The daemon's cleanup action starts the unit and reads its result.
        out = bootloader.succeed("healingctl --no-ask-password --json cleanup")
        print(out)
        assert "deleted system generations" in out, out
        left = sorted(int(l.split("-")[1]) for l in bootloader.succeed("ls /nix/var/nix/profiles | grep -E '^system-[0-9]+-link$'").split())
        assert left == keep, f"generations left {left}; want {keep}"
        entries = bootloader.succeed("ls /boot/loader/entries").split()
        for g in gens:
            present = f"nixos-generation-{g}.conf" in entries
            assert present == (g in keep), f"entry of generation {g} present={present}: {entries}"
        bootloader.succeed("ls /boot/EFI/nixos/*.efi")
        result = json.loads(bootloader.succeed("cat /run/luminous-healing-nix-cleanup/result.json"))
        assert result["boot"]["ran"], result
        for g in keep:
            bootloader.succeed(f"nix-env -p /nix/var/nix/profiles/system --switch-generation {g}")
            bootloader.succeed("nix-store --verify-path $(readlink -f /nix/var/nix/profiles/system)")
  '';
}
