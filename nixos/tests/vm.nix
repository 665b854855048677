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

  testScript = ''
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
  '';
}
