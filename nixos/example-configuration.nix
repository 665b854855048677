# luminous-healing on NixOS, watched by Prometheus and graphed by Grafana.
#
# Import this next to your configuration.nix — with the flake's
# nixosModules.default (or the module file) imported too — or copy what you
# need. The flake's VM test boots exactly this file.
#
#   daemon      127.0.0.1:9955   /metrics, /healthz, /api/v1/  (monitoring.metricsPort)
#   dashboard   127.0.0.1:8080   the daemon's own live page    (monitoring.dashboardPort)
#   Prometheus  127.0.0.1:9090   scrapes the daemon            (services.prometheus.port)
#   Grafana     127.0.0.1:3000   reads Prometheus, not the daemon
#
# The seed system's example pointed Grafana's data source at the daemon's
# port. Grafana's Prometheus data source must point at Prometheus's own
# port; only Prometheus talks to the daemon.
{ config, lib, ... }:

let
  healing = config.services.luminous-healing;
in
{
  services.luminous-healing = {
    enable = true;
    services.monitored = [ "nginx" ];
    thresholds.disk = 85;
    monitoring.enableDashboard = true;
  };

  services.nginx.enable = true;

  services.prometheus = {
    enable = true;
    listenAddress = "127.0.0.1";
    # The alerting rules the package ships (docs/grafana.md); they expect
    # the job name below.
    ruleFiles = [ "${healing.package}/share/luminous-healing/prometheus/luminous-healing.rules.yml" ];
    scrapeConfigs = [
      {
        job_name = "luminous-healing";
        scrape_interval = "30s";
        static_configs = [ { targets = [ "127.0.0.1:${toString healing.monitoring.metricsPort}" ]; } ];
      }
    ];
  };

  services.grafana = {
    enable = true;
    settings = {
      server = {
        http_addr = "127.0.0.1";
        http_port = 3000;
      };
      # Grafana has no default key since NixOS 26.05. Make one once:
      #   install -d -o grafana /var/lib/grafana
      #   head -c 32 /dev/urandom | base64 | install -o grafana -m 0400 /dev/stdin /var/lib/grafana/secret-key
      security.secret_key = lib.mkDefault "$__file{/var/lib/grafana/secret-key}";
    };
    provision = {
      enable = true;
      datasources.settings.datasources = [
        {
          name = "Prometheus";
          uid = "prometheus";
          type = "prometheus";
          # Prometheus, not the daemon: Grafana queries PromQL.
          url = "http://127.0.0.1:${toString config.services.prometheus.port}";
          isDefault = true;
        }
      ];
      # The dashboard the package ships.
      dashboards.settings.providers = [
        {
          name = "luminous-healing";
          options.path = "${healing.package}/share/luminous-healing/grafana";
        }
      ];
    };
  };
}
