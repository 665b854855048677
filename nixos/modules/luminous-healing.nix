# services.luminous-healing — the NixOS module (SPEC §9).
#
# The typed options keep the seed system's names, types and defaults; each
# one feeds a key of /etc/luminous-healing/config.toml through `settings`,
# where every other key of the daemon's configuration can be set too. The
# unit carries the same hardening as the one `make install` ships
# (cmd/luminous-healingd/luminous-healing.service); a test compares them.
{
  config,
  lib,
  options,
  pkgs,
  ...
}:

let
  inherit (lib)
    concatMapStringsSep
    concatStringsSep
    filter
    hasPrefix
    hasSuffix
    literalExpression
    mkDefault
    mkEnableOption
    mkIf
    mkOption
    optional
    optionalAttrs
    optionals
    types
    ;

  cfg = config.services.luminous-healing;
  opt = options.services.luminous-healing;
  settingsFormat = pkgs.formats.toml { };

  # The package, with the polkit actions naming a non-root daemon user as
  # their owner: polkit lets only root or an action's owner ask about other
  # users' processes and pass details, which the daemon does for every call.
  package =
    if cfg.user == "root" then
      cfg.package
    else
      pkgs.runCommand "${cfg.package.name}-owned-by-${cfg.user}" { } ''
        cp -rs --no-preserve=mode ${cfg.package} $out
        policy=share/polkit-1/actions/org.luminous.healing.policy
        if [ -e "$out/$policy" ]; then
          rm "$out/$policy"
          sed 's|</action>|  <annotate key="org.freedesktop.policykit.owner">unix-user:${cfg.user}</annotate>\n  </action>|' \
            ${cfg.package}/$policy > "$out/$policy"
        fi
      '';

  # The journal's message catalog (make install-data puts it in the package).
  catalog = "${package}/lib/systemd/catalog/luminous-healing.catalog";
  catalogLink = "/usr/local/lib/systemd/catalog/luminous-healing.catalog";

  # Unit names as the daemon and systemctl read them: "nginx" is
  # "nginx.service".
  unitTypes = [
    "service"
    "socket"
    "target"
    "device"
    "mount"
    "automount"
    "swap"
    "timer"
    "path"
    "slice"
    "scope"
  ];
  normalizeUnit = name: if lib.any (t: hasSuffix ".${t}" name) unitTypes then name else "${name}.service";
  unitChars = "[a-zA-Z0-9:_.\\\\-]+";
  validUnit =
    name:
    let
      n = normalizeUnit name;
    in
    lib.stringLength n <= 255
    && builtins.match "${unitChars}(@${unitChars})?\\.(${concatStringsSep "|" unitTypes})" n != null;

  # Durations: integer seconds (the seed's form) or a Go duration string.
  durationPattern = "([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+";
  durationType =
    types.either types.ints.positive (types.strMatching durationPattern)
    // {
      description = "positive integer (seconds) or Go duration string";
    };
  renderDuration = d: if builtins.isInt d then "${toString d}s" else d;

  # A Go duration string in milliseconds, as a float.
  unitMillis = {
    ns = 1.0e-6;
    us = 1.0e-3;
    "µs" = 1.0e-3;
    ms = 1.0;
    s = 1000.0;
    m = 60000.0;
    h = 3600000.0;
  };
  durationMillis =
    d:
    lib.foldl' (sum: part: sum + builtins.fromJSON (builtins.elemAt part 0) * unitMillis.${builtins.elemAt part 2}) 0.0 (
      filter builtins.isList (builtins.split "([0-9]+(\\.[0-9]+)?)(ns|us|µs|ms|s|m|h)" d)
    );
  # The daemon refuses an interval outside these bounds
  # (internal/config: monitoring.interval); the type does too, so that a
  # build without the config check (a cross build) cannot ship one.
  intervalType =
    types.either (types.ints.between 1 86400) (
      types.addCheck (types.strMatching durationPattern) (
        d:
        let
          ms = durationMillis d;
        in
        ms >= 100 && ms <= 86400000
      )
    )
    // {
      description = "integer seconds between 1 and 86400, or Go duration string between 100ms and 24h";
    };

  percent =
    types.addCheck types.number (x: x > 0 && x <= 100)
    // {
      description = "number above 0 and at most 100";
    };

  # host and port → "host:port", "[::1]:port" for IPv6, ":port" for every
  # address.
  joinAddress = host: port: if lib.hasInfix ":" host then "[${host}]:${toString port}" else "${host}:${toString port}";

  # "host:port" → host and port, for IPv6 "[::1]:9955" too.
  splitAddress =
    addr:
    let
      m = builtins.match "\\[?([^]]*)]?:([0-9]+)" addr;
    in
    if addr == "" || m == null then
      null
    else
      {
        host = builtins.elemAt m 0;
        port = lib.toInt (builtins.elemAt m 1);
      };
  isLoopback = host: host == "localhost" || host == "::1" || hasPrefix "127." host;

  # A size systemd reads (bytes, or K, M, G, T), in MiB; null where it is
  # not one.
  sizeMiB =
    v:
    let
      m = builtins.match "([0-9]+)([KMGT]?)" v;
      n = lib.toInt (builtins.elemAt m 0);
      scale = {
        "" = 1.0 / 1048576;
        K = 1.0 / 1024;
        M = 1.0;
        G = 1024.0;
        T = 1048576.0;
      };
    in
    if m == null then null else n * scale.${builtins.elemAt m 1};

  s = cfg.settings;
  listen = splitAddress (s.monitoring.listen or "");
  dashboardListen = splitAddress (s.monitoring.dashboard_listen or "");
  listeners = filter (l: l != null) [
    listen
    dashboardListen
  ];
  # Only loopback may connect (IPAddressDeny) unless a listener is on
  # another address.
  loopbackOnly = lib.all (l: isLoopback l.host) listeners;

  monitoredUnits = map normalizeUnit (s.services.monitored or [ ]);
  # The daemon's built-in cleanup list, where cleanup_units is left out,
  # and the per-mount lists; units that do not exist are skipped by the
  # daemon. The nix cleanup unit is ./nix-cleanup.nix's.
  cleanupUnits = map normalizeUnit (
    s.healing.cleanup_units or (
      [
        "systemd-tmpfiles-clean.service"
        "luminous-healing-journal-vacuum.service"
      ]
      ++ optional cfg.cleanup.nix.enable "luminous-healing-nix-cleanup.service"
      ++ [ "nix-gc.service" ]
    )
    ++ lib.concatLists (lib.attrValues (s.healing.mount_cleanup_units or { }))
  );

  # The typed options and the config.toml keys they set, in one list: the
  # settings take their defaults from it, and a typed option and `settings`
  # may not both set one key. value is what the option writes there; get,
  # where present, reads back from the key's value the part the option sets
  # (a port, a host) or its normal form. An option that sets only a part of
  # a key (part) leaves writing the key to the settings below.
  sets = option: key: {
    inherit option key;
    value = lib.getAttrFromPath (lib.splitString "." option) cfg;
  };
  part = get: {
    inherit get;
    part = true;
  };
  typedKeys = [
    (sets "thresholds.cpu" "thresholds.cpu")
    (sets "thresholds.memory" "thresholds.memory")
    (sets "thresholds.disk" "thresholds.disk")
    (sets "thresholds.loadAverage" "thresholds.load_average")
    (sets "healing.enabled" "healing.enabled")
    (sets "healing.dryRun" "healing.dry_run")
    (sets "monitoring.interval" "monitoring.interval" // { value = renderDuration cfg.monitoring.interval; })
    (sets "monitoring.enableMetrics" "monitoring.metrics")
    (sets "monitoring.metricsPort" "monitoring.listen" // part (v: (splitAddress v).port or null))
    (sets "listenAddress" "monitoring.listen" // part (v: (splitAddress v).host or null))
    (sets "monitoring.enableDashboard" "monitoring.dashboard")
    (sets "monitoring.dashboardPort" "monitoring.dashboard_listen" // part (v: (splitAddress v).port or cfg.monitoring.dashboardPort))
    (sets "predictive.enabled" "predictive.enabled")
    (sets "predictive.historySize" "predictive.history_size")
    (
      sets "services.monitored" "services.monitored"
      // {
        value = map normalizeUnit cfg.services.monitored;
        get = map normalizeUnit;
      }
    )
  ];
  conflicts = filter (
    k:
    let
      path = lib.splitString "." k.key;
      set = (lib.getAttrFromPath (lib.splitString "." k.option) opt).highestPrio < 1500;
      inSettings = lib.hasAttrByPath path s;
      got = (k.get or (v: v)) (lib.getAttrFromPath path s);
    in
    set && inSettings && got != k.value
  ) typedKeys;

  rawConfigFile = settingsFormat.generate "luminous-healing.toml" cfg.settings;
  # The daemon checks the file at build time: a bad key fails the build
  # with the daemon's own message instead of the service at boot.
  configFile =
    if cfg.checkConfig then
      pkgs.runCommand "luminous-healing-config.toml"
        {
          nativeBuildInputs = [ cfg.package ];
          preferLocalBuild = true;
        }
        ''
          luminous-healingd --check-config --config ${rawConfigFile} >/dev/null
          cp ${rawConfigFile} $out
        ''
    else
      rawConfigFile;

  # Lets a non-root daemon own its bus name; root may by the shipped policy.
  userBusPolicy = pkgs.writeTextDir "share/dbus-1/system.d/org.luminous.Healing.user.conf" ''
    <!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
     "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
    <!-- services.luminous-healing.user = "${cfg.user}" -->
    <busconfig>
      <policy user="${cfg.user}">
        <allow own="org.luminous.Healing"/>
        <allow send_destination="org.luminous.Healing"/>
      </policy>
    </busconfig>
  '';

  jsList = l: "[ " + concatMapStringsSep ", " builtins.toJSON l + " ]";
  adminRule = ''
    // services.luminous-healing.polkit.adminGroup: members of "${cfg.polkit.adminGroup}"
    // may heal (org.luminous.healing.heal) without a password.
    polkit.addRule(function (action, subject) {
      if (action.id == "org.luminous.healing.heal" && subject.isInGroup(${builtins.toJSON cfg.polkit.adminGroup})) {
        return polkit.Result.YES;
      }
    });
  '';
  userRule = ''
    // services.luminous-healing.user = "${cfg.user}": the daemon may start,
    // restart, reset and limit exactly its monitored and cleanup units.
    polkit.addRule(function (action, subject) {
      if (action.id == "org.freedesktop.systemd1.manage-units" && subject.user == ${builtins.toJSON cfg.user}) {
        var units = ${jsList (lib.unique (monitoredUnits ++ cleanupUnits))};
        var verbs = [ "start", "restart", "reset-failed", "set-property" ];
        if (units.indexOf(action.lookup("unit")) >= 0 && verbs.indexOf(action.lookup("verb")) >= 0) {
          return polkit.Result.YES;
        }
        // Units whose health probe heals them with a reload.
        var reloaded = ${jsList (map normalizeUnit (lib.attrNames (lib.filterAttrs (_: p: p.action == "reload") cfg.probes)))};
        if (reloaded.indexOf(action.lookup("unit")) >= 0 && action.lookup("verb") == "reload") {
          return polkit.Result.YES;
        }
      }
    });
  '';

  # The shipped unit's hardening; see the comments there for what is left
  # open and why.
  hardening = {
    CapabilityBoundingSet = "";
    AmbientCapabilities = "";
    NoNewPrivileges = true;
    ProtectSystem = "strict";
    ProtectHome = "read-only";
    PrivateTmp = true;
    PrivateDevices = true;
    PrivateIPC = true;
    DevicePolicy = "closed";
    ProtectKernelTunables = true;
    ProtectKernelModules = true;
    ProtectKernelLogs = true;
    ProtectControlGroups = true;
    ProtectClock = true;
    ProtectHostname = true;
    ProtectProc = "invisible";
    RestrictAddressFamilies = "AF_UNIX AF_INET AF_INET6";
    RestrictNamespaces = true;
    RestrictRealtime = true;
    RestrictSUIDSGID = true;
    LockPersonality = true;
    MemoryDenyWriteExecute = true;
    SystemCallArchitectures = "native";
    SystemCallFilter = [
      "@system-service"
      "~@privileged @resources"
    ];
    SystemCallErrorNumber = "EPERM";
    RemoveIPC = true;
    KeyringMode = "private";
    UMask = "0077";
  }
  # Only loopback may talk to the listener, unless it listens elsewhere.
  // optionalAttrs loopbackOnly {
    IPAddressDeny = "any";
    IPAddressAllow = "localhost";
  };
in
{
  imports = [ ./nix-cleanup.nix ];

  options.services.luminous-healing = {
    enable = mkEnableOption "luminous-healing, the self-healing daemon";

    package = lib.mkPackageOption pkgs "luminous-healing" { };

    thresholds = {
      cpu = mkOption {
        type = percent;
        default = 80;
        description = "Busy percentage of all CPUs over the last interval above which a `cpu` issue opens.";
      };
      memory = mkOption {
        type = percent;
        default = 85;
        description = "Used memory percentage, 100·(1 − MemAvailable/MemTotal), above which a `memory` issue opens.";
      };
      disk = mkOption {
        type = percent;
        default = 90;
        description = "Used percentage (bytes or inodes) of a watched mount above which a `disk` issue opens.";
      };
      loadAverage = mkOption {
        type = types.addCheck types.number (x: x > 0 && x <= 10000) // {
          description = "number above 0 and at most 10000";
        };
        default = 3.0;
        defaultText = literalExpression "3.0";
        description = "1-minute load average above which a `load` issue opens.";
      };
    };

    healing = {
      enabled = mkOption {
        type = types.bool;
        default = true;
        description = "Whether the daemon heals what it finds. Off, it still detects, predicts and reports.";
      };
      dryRun = mkOption {
        type = types.bool;
        default = false;
        description = "Plan and record every action as `planned` without executing it.";
      };
    };

    monitoring = {
      interval = mkOption {
        type = intervalType;
        default = 60;
        example = "15s";
        description = "How often resources are sampled: integer seconds, or a Go duration string such as `\"90s\"`. Unit failures are seen at once regardless.";
      };
      enableMetrics = mkOption {
        type = types.bool;
        default = true;
        description = "Serve Prometheus metrics at `/metrics` on the listener.";
      };
      metricsPort = mkOption {
        type = types.port;
        default = 9955;
        description = ''
          Port of the daemon's HTTP listener: `/metrics`, `/healthz`, the read-only `/api/v1/`, and the
          dashboard unless it has a port of its own, on {option}`services.luminous-healing.listenAddress`.

          The seed system's default was 9090. That is Prometheus's own port, so a machine that also ran
          Prometheus had two services fighting over it; the default is now 9955. Set 9090 here only if
          nothing else uses it.
        '';
      };
      enableDashboard = mkOption {
        type = types.bool;
        default = false;
        description = "Serve the read-only web dashboard.";
      };
      dashboardPort = mkOption {
        type = types.port;
        default = 8080;
        description = ''
          Port of the web dashboard, when {option}`services.luminous-healing.monitoring.enableDashboard`
          is set. The daemon opens a second listener for it (`monitoring.dashboard_listen`) on
          {option}`services.luminous-healing.listenAddress`; the same port as `metricsPort` serves
          everything on one listener.
        '';
      };
    };

    predictive = {
      enabled = mkOption {
        type = types.bool;
        default = true;
        description = "Predict threshold crossings from each resource's trend, and clean up disks before they fill.";
      };
      historySize = mkOption {
        type = types.ints.between 10 100000;
        default = 100;
        description = "Samples kept per resource series for prediction (persisted in /var/lib/luminous-healing).";
      };
    };

    services.monitored = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [
        "nginx"
        "postgresql"
      ];
      description = "systemd units the daemon watches and restarts when they fail; a name without a suffix is a `.service`.";
    };

    maintenanceWindows = mkOption {
      type = types.listOf (
        types.submodule {
          options = {
            when = mkOption {
              type = types.str;
              example = "Sun 02:00..04:00";
              description = ''
                When the window recurs: `[WEEKDAYS ]HH:MM[:SS]..HH:MM[:SS][ UTC]`, a subset of systemd's
                calendar syntax with a time range (weekday lists and ranges such as `Mon..Fri` or `Sat,Sun`; an
                end at or before the start runs past midnight). Local time unless it ends in ` UTC`.
              '';
            };
            scope = mkOption {
              type = types.str;
              default = "all";
              example = "unit:postgresql";
              description = "What the window covers: `all`, `unit:NAME`, `issue:ID` or `kind:KIND`.";
            };
            effect = mkOption {
              type = types.enum [
                "pause"
                "notify-only"
              ];
              default = "pause";
              description = "`pause`: no automatic healing and no desktop notifications; `notify-only`: no automatic healing, people still notified.";
            };
            reason = mkOption {
              type = types.nullOr types.str;
              default = null;
              example = "weekly backup";
              description = "Why, for the record; `null` says `maintenance window «when»`.";
            };
          };
        }
      );
      default = [ ];
      example = literalExpression ''
        [ { when = "Sun 02:00..04:00"; scope = "unit:postgresql"; reason = "weekly backup"; } ]
      '';
      description = ''
        Recurring maintenance windows (`[[maintenance]]` in config.toml): within its scope a window pauses
        automatic healing while it is on; issues are still detected, recorded and exported, marked with it.
        One-off silences are added at run time with `healingctl silence add`. Setting `settings.maintenance`
        replaces this list.
      '';
    };

    probes = mkOption {
      type = types.attrsOf (
        types.submodule {
          options = {
            type = mkOption {
              type = types.enum [
                "http"
                "tcp"
                "unix"
                "command"
              ];
              description = "What the probe does: an HTTP(S) request, a TCP or UNIX socket connect, or a command in a sandboxed transient unit.";
            };
            url = mkOption {
              type = types.nullOr types.str;
              default = null;
              example = "http://127.0.0.1/healthz";
              description = "http: the `http://` or `https://` URL.";
            };
            method = mkOption {
              type = types.nullOr (types.enum [ "GET" "HEAD" "POST" "OPTIONS" ]);
              default = null;
              description = "http: the method; `null` is GET.";
            };
            status = mkOption {
              type = types.nullOr (types.ints.between 100 599);
              default = null;
              description = "http: the status expected; `null` is 200.";
            };
            bodyContains = mkOption {
              type = types.nullOr types.str;
              default = null;
              description = "http: a substring the body must contain.";
            };
            bodyRegexp = mkOption {
              type = types.nullOr types.str;
              default = null;
              description = "http: a regular expression (Go syntax) the body must match.";
            };
            tlsVerify = mkOption {
              type = types.bool;
              default = true;
              description = "http: verify the server's certificate.";
            };
            followRedirectsOffHost = mkOption {
              type = types.bool;
              default = false;
              description = "http: follow a redirect to another host (by default it fails the probe).";
            };
            address = mkOption {
              type = types.nullOr types.str;
              default = null;
              example = "127.0.0.1:5432";
              description = "tcp: `host:port` to connect to.";
            };
            path = mkOption {
              type = types.nullOr types.str;
              default = null;
              description = "unix: the socket's absolute path.";
            };
            command = mkOption {
              type = types.nullOr (types.listOf types.str);
              default = null;
              example = [ "/run/current-system/sw/bin/pg_isready" "-q" ];
              description = "command: argv, the first element an absolute path; exit status 0 is healthy.";
            };
            user = mkOption {
              type = types.nullOr types.str;
              default = null;
              description = "command: the user it runs as; `null` is a dynamic user. Never root.";
            };
            interval = mkOption {
              type = types.nullOr intervalType;
              default = null;
              description = "How often: integer seconds or a Go duration; `null` is 30s.";
            };
            timeout = mkOption {
              type = types.nullOr intervalType;
              default = null;
              description = "One probe's limit, at most the interval; `null` is 5s.";
            };
            grace = mkOption {
              type = types.nullOr (types.either types.ints.unsigned types.str);
              default = null;
              description = "Failures this soon after the unit started do not count; `null` is 30s.";
            };
            failures = mkOption {
              type = types.nullOr (types.ints.between 1 1000);
              default = null;
              description = "Consecutive failures that open the issue `probe:UNIT`; `null` is 3.";
            };
            action = mkOption {
              type = types.enum [
                "restart"
                "reload"
                "none"
              ];
              default = "restart";
              description = "What heals the issue: `restart`, `reload` (systemd's ReloadUnit, for a unit with `ExecReload=`), or `none` to watch only.";
            };
          };
        }
      );
      default = { };
      example = literalExpression ''
        {
          nginx = { type = "http"; url = "http://127.0.0.1/healthz"; bodyContains = "ok"; interval = "10s"; };
          postgresql = { type = "tcp"; address = "127.0.0.1:5432"; };
        }
      '';
      description = ''
        Health probes (`[[probe]]` in config.toml, docs/probes.md), by unit: a monitored unit that is active
        but fails its probe `failures` times in a row becomes the issue `probe:UNIT` and is healed like any
        other issue. Each unit must be in `services.monitored`. Setting `settings.probe` replaces this.
      '';
    };

    listenAddress = mkOption {
      type =
        # One colon is "host:port"; an IPv6 address has more.
        types.addCheck (types.strMatching "[^][ /]*") (v: builtins.length (lib.splitString ":" v) != 2)
        // {
          description = "IP address or host name without a port; empty for every address";
        };
      default = if cfg.openFirewall then "" else "127.0.0.1";
      defaultText = literalExpression ''if config.services.luminous-healing.openFirewall then "" else "127.0.0.1"'';
      example = "10.0.0.1";
      description = ''
        Address of the HTTP listener (its port is {option}`services.luminous-healing.monitoring.metricsPort`);
        `""` listens on every address. Only loopback may connect to a loopback listener (the unit's
        `IPAddressDeny=any`, `IPAddressAllow=localhost`); on any other address the unit lets everyone
        connect and the firewall decides. Nothing on the listener changes anything, but it shows the
        machine's state and unit names to whoever can reach it.
      '';
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Open the listener's ports (metrics, and the dashboard's when it has its own) in the firewall, to
        everyone or to what {option}`services.luminous-healing.firewallFilter` lets through. The listener
        address is {option}`services.luminous-healing.listenAddress`, which defaults to every address
        when this is set, as the seed system did.
      '';
    };

    firewallFilter = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "-i eth1 -p tcp -m tcp --dport 9955";
      description = ''
        With {option}`services.luminous-healing.openFirewall`, the iptables filter that may connect instead
        of everyone: the module adds `ip46tables -A nixos-fw «filter» -m comment --comment luminous-healing
        -j nixos-fw-accept` to `networking.firewall.extraCommands`, as nixpkgs' Prometheus exporters do.
        `null` opens the ports to everyone (`networking.firewall.allowedTCPPorts`). Not with nftables.
      '';
    };

    resources = {
      memoryMax = mkOption {
        type =
          types.nullOr (
            types.addCheck types.str (v: sizeMiB v != null && sizeMiB v >= 32)
            // {
              description = "size of at least 32M (bytes, or with K, M, G, T)";
            }
          );
        default = "256M";
        description = ''
          The unit's `MemoryMax=`: a leak is killed and restarted (`Restart=on-failure`) instead of pressing
          on the machine it is meant to heal. The daemon's resident size is about 18 MiB steady and 19 MiB under
          load, 13 MiB of it the binary's shared pages (docs/performance.md), so the default never starves it;
          below 32M is refused. `null` sets no limit.
        '';
      };
      cpuQuota = mkOption {
        type =
          types.nullOr (
            types.addCheck (types.strMatching "[0-9]+%") (v: lib.toInt (lib.removeSuffix "%" v) >= 10)
            // {
              description = "percentage of one CPU, at least 10%";
            }
          );
        default = null;
        example = "50%";
        description = ''
          The unit's `CPUQuota=`. None by default: a quota would slow detection and healing exactly when the
          machine is busiest, and the daemon uses well under 1 % of a core. Below 10% is refused.
        '';
      };
    };

    user = mkOption {
      type = types.str;
      default = "root";
      description = ''
        User the daemon runs as. It keeps no capabilities either way: it acts only by asking systemd over
        D-Bus. Root is allowed everything by polkit; for any other user the module adds a polkit rule that
        lets it start, restart, reset and limit exactly the monitored and cleanup units, a bus policy that
        lets it own `org.luminous.Healing`, and makes it the owner of the polkit actions so it may check
        its callers. A user other than root is created as a system user in
        {option}`services.luminous-healing.group`, unless the configuration declares it itself. Throttling a unit that is neither monitored nor a cleanup unit is then refused by systemd.
      '';
    };

    group = mkOption {
      type = types.str;
      default = if cfg.user == "root" then "root" else cfg.user;
      defaultText = literalExpression ''if user == "root" then "root" else user'';
      description = "Group the daemon runs as. A group other than root is created (`users.groups`) where nothing else declares it.";
    };

    polkit.adminGroup = mkOption {
      type = types.nullOr types.str;
      default = "wheel";
      description = ''
        Members of this group may use healingctl's service-mode commands (heal, restart, cleanup, throttle,
        release, reset, silence: polkit action `org.luminous.healing.heal`) without a password. Development-mode
        commands still ask for an administrator's password. `null` adds no rule.
      '';
    };

    notifier.enable = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Run `healingctl watch --notify` in every graphical session (a systemd user unit bound to
        `graphical-session.target`), turning the daemon's signals into desktop notifications.
      '';
    };

    checkConfig = mkOption {
      type = types.bool;
      default = pkgs.stdenv.buildPlatform.canExecute pkgs.stdenv.hostPlatform;
      defaultText = literalExpression "pkgs.stdenv.buildPlatform.canExecute pkgs.stdenv.hostPlatform";
      description = ''
        Check the generated config.toml with `luminous-healingd --check-config` when the system is built,
        so that a bad key or value fails the build with the daemon's message rather than the service at
        boot. Needs the package to run on the build machine.
      '';
    };

    settings = mkOption {
      type = settingsFormat.type;
      default = { };
      example = literalExpression ''
        {
          thresholds.pressure = 40;
          healing.cleanup_units = [ "systemd-tmpfiles-clean.service" "nix-gc.service" ];
          monitoring.mounts = [ "/" "/nix" "/var" ];
          actions.load = "throttle";
        }
      '';
      description = ''
        The daemon's configuration, written to /etc/luminous-healing/config.toml. Every key with its
        default is in the package's `etc/luminous-healing/config.toml`. The typed options above set their
        keys here; set any other key directly. A key set both here and through its typed option to
        different values is an error. The daemon reloads on `nixos-rebuild switch` when only this file changed.
      '';
    };
  };

  config = mkIf cfg.enable {
    assertions = [
      {
        assertion = cfg.user == "root" || lib.all (p: p.type != "command") (lib.attrValues cfg.probes);
        message = "services.luminous-healing.probes has command probes, but the daemon runs as ${cfg.user}: command probes start transient units, which a user other than root may only be allowed to do by being allowed to run anything as anyone. Run the daemon as root, or use http, tcp or unix probes.";
      }
      {
        assertion = lib.all (u: builtins.elem (normalizeUnit u) (map normalizeUnit cfg.services.monitored)) (lib.attrNames cfg.probes);
        message = "services.luminous-healing.probes names units that are not in services.monitored: ${
          concatStringsSep ", " (lib.filter (u: !(builtins.elem (normalizeUnit u) (map normalizeUnit cfg.services.monitored))) (lib.attrNames cfg.probes))
        }; the daemon probes only the units it monitors.";
      }
      {
        assertion = conflicts == [ ];
        message = concatMapStringsSep "\n" (
          k:
          "services.luminous-healing.${k.option} and services.luminous-healing.settings.${k.key} both set ${k.key} in config.toml, to different values; keep one of them."
        ) conflicts;
      }
      {
        assertion = lib.all validUnit (monitoredUnits ++ (s.services.protected or [ ]));
        message = "services.luminous-healing: not a unit name systemd accepts: ${
          concatStringsSep ", " (filter (u: !validUnit u) (monitoredUnits ++ (s.services.protected or [ ])))
        } (letters, digits and :-_.\\@ only; templates need an instance, e.g. getty@tty1).";
      }
      {
        assertion = !(lib.elem "luminous-healing.service" monitoredUnits);
        message = "services.luminous-healing.services.monitored lists luminous-healing itself; the daemon never acts on itself (systemd restarts it: Restart=on-failure).";
      }
      {
        assertion = !cfg.openFirewall || !loopbackOnly;
        message = "services.luminous-healing.openFirewall opens the firewall, but the daemon listens on loopback only (listenAddress, settings.monitoring.listen); remove one of the two.";
      }
      {
        assertion = cfg.firewallFilter == null || cfg.openFirewall;
        message = "services.luminous-healing.firewallFilter is set, but openFirewall is not; the filter is used only to open the firewall.";
      }
      {
        assertion = cfg.firewallFilter == null || !(config.networking.nftables.enable or false);
        message = "services.luminous-healing.firewallFilter is an iptables filter, but networking.nftables.enable is set; open the port with networking.firewall.extraInputRules instead.";
      }
    ];

    services.luminous-healing.settings = lib.mkMerge (
      map (k: lib.setAttrByPath (lib.splitString "." k.key) (mkDefault k.value)) (
        filter (k: !(k.part or false)) typedKeys
      )
      ++ [
        {
          # The listeners, put together from their typed parts, and the
          # typed lists.
          monitoring = {
            listen = mkDefault (joinAddress cfg.listenAddress cfg.monitoring.metricsPort);
          }
          // optionalAttrs (cfg.monitoring.enableDashboard && cfg.monitoring.dashboardPort != cfg.monitoring.metricsPort) {
            dashboard_listen = mkDefault (joinAddress cfg.listenAddress cfg.monitoring.dashboardPort);
          };
          probe = mkIf (cfg.probes != { }) (
            mkDefault (
              lib.mapAttrsToList (
                unit: p:
                lib.filterAttrs (_: v: v != null) {
                  unit = normalizeUnit unit;
                  inherit (p) type url method status address path command user failures action;
                  body_contains = p.bodyContains;
                  body_regexp = p.bodyRegexp;
                  interval = if p.interval == null then null else renderDuration p.interval;
                  timeout = if p.timeout == null then null else renderDuration p.timeout;
                  grace = if p.grace == null then null else renderDuration p.grace;
                }
                // lib.optionalAttrs (p.type == "http") {
                  tls_verify = p.tlsVerify;
                  follow_redirects_off_host = p.followRedirectsOffHost;
                }
              ) cfg.probes
            )
          );
          maintenance = mkIf (cfg.maintenanceWindows != [ ]) (
            mkDefault (
              map (
                w:
                {
                  inherit (w) when scope effect;
                }
                // lib.optionalAttrs (w.reason != null) { inherit (w) reason; }
              ) cfg.maintenanceWindows
            )
          );
        }
      ]
    );

    environment.etc."luminous-healing/config.toml".source = configFile;

    # healingctl, its completions, and the polkit actions.
    environment.systemPackages = [ package ];

    services.dbus.packages = [ package ] ++ optional (cfg.user != "root") userBusPolicy;

    security.polkit.enable = true;
    security.polkit.extraConfig = concatStringsSep "\n" (
      optional (cfg.polkit.adminGroup != null) adminRule ++ optional (cfg.user != "root") userRule
    );

    networking.firewall.allowedTCPPorts = optionals (cfg.openFirewall && cfg.firewallFilter == null) (
      lib.unique (map (l: l.port) listeners)
    );
    networking.firewall.extraCommands = mkIf (cfg.openFirewall && cfg.firewallFilter != null) ''
      ip46tables -A nixos-fw ${cfg.firewallFilter} -m comment --comment luminous-healing -j nixos-fw-accept
    '';

    systemd.services.luminous-healing = {
      description = "luminous-healing self-healing daemon";
      documentation = [
        "man:luminous-healingd(8)"
        "man:luminous-healing.toml(5)"
        "man:healingctl(1)"
      ];
      # D-Bus activation asks systemd for this name
      # (dbus/org.luminous.Healing.service); NixOS ignores [Install] Alias=.
      aliases = [ "dbus-org.luminous.Healing.service" ];
      wantedBy = [ "multi-user.target" ];
      requires = [ "dbus.socket" ];
      after = [
        "dbus.socket"
        "polkit.service"
      ];
      # A changed config.toml is reloaded (SIGHUP), not restarted.
      reloadTriggers = [ configFile ];
      serviceConfig = {
        Type = "notify";
        NotifyAccess = "main";
        BusName = "org.luminous.Healing";
        ExecStart = "${package}/bin/luminous-healingd --config /etc/luminous-healing/config.toml";
        ExecReload = "${pkgs.coreutils}/bin/kill -HUP $MAINPID";
        Restart = "on-failure";
        RestartSec = "2s";
        WatchdogSec = "30s";
        TimeoutStopSec = "10s";
        # It heals memory pressure, so it must not be what the pressure
        # takes away: the kernel's OOM killer and systemd-oomd pick
        # something else first, and reclaim leaves its working set (about
        # 8 MiB) alone. As in the project's luminous-healing.service.
        OOMScoreAdjust = -900;
        ManagedOOMPreference = "avoid";
        MemoryMin = "16M";
        MemoryLow = "32M";
        StateDirectory = "luminous-healing";
        StateDirectoryMode = "0700";
        User = cfg.user;
        Group = cfg.group;
      }
      // optionalAttrs (cfg.resources.memoryMax != null) { MemoryMax = cfg.resources.memoryMax; }
      // optionalAttrs (cfg.resources.cpuQuota != null) { CPUQuota = cfg.resources.cpuQuota; }
      // hardening;
    };

    # The cleanup action's journal vacuum; the shipped unit's /bin/journalctl
    # does not exist here.
    systemd.services.luminous-healing-journal-vacuum = {
      description = "Shrink the journal to free disk space (luminous-healing cleanup)";
      documentation = [ "man:journalctl(1)" ];
      unitConfig.ConditionPathExists = "/var/log/journal";
      serviceConfig = {
        Type = "oneshot";
        ExecStart = "${config.systemd.package}/bin/journalctl --vacuum-size=500M --vacuum-time=4weeks";
      };
    };

    # journalctl -x: NixOS's journalctl reads catalogs from its own package
    # and from /usr/local/lib/systemd/catalog only (nixpkgs' systemd points
    # /usr/lib/systemd/catalog at itself; no option collects packages'
    # catalogs). So the package's catalog is linked there, where
    # `journalctl --update-catalog` finds it, and a oneshot rebuilds the
    # database at boot and on every switch that changes the package. It
    # makes the link itself first (tmpfiles' own run may come later on a
    # switch) and removes it when stopped: a link left to a collected store
    # path would make every later --update-catalog fail.
    systemd.tmpfiles.rules = [ "L+ ${catalogLink} - - - - ${catalog}" ];
    systemd.services.luminous-healing-journal-catalog = {
      description = "Add luminous-healing's messages to the journal catalog (journalctl -x)";
      documentation = [ "man:journalctl(1)" ];
      wantedBy = [ "multi-user.target" ];
      after = [ "systemd-tmpfiles-setup.service" ];
      restartTriggers = [ catalog ];
      serviceConfig = {
        Type = "oneshot";
        RemainAfterExit = true;
        ExecStartPre = "${config.systemd.package}/bin/systemd-tmpfiles --create --prefix=${catalogLink}";
        ExecStart = "${config.systemd.package}/bin/journalctl --update-catalog";
        ExecStop = "${pkgs.coreutils}/bin/rm -f ${catalogLink}";
      };
    };

    # The user unit make install ships (cmd/healingctl/luminous-healing-notifier.service;
    # cmd/healingctl checks that they agree). No XDG autostart entry: NixOS
    # starts graphical-session.target in every graphical session.
    systemd.user.services.luminous-healing-notifier = mkIf cfg.notifier.enable {
      description = "luminous-healing desktop notifications";
      wantedBy = [ "graphical-session.target" ];
      partOf = [ "graphical-session.target" ];
      after = [ "graphical-session.target" ];
      serviceConfig = {
        ExecStart = "${package}/bin/healingctl watch --notify";
        Restart = "on-failure";
        RestartSec = "10s";
      };
    };

    # A user or group that does not exist fails the unit at boot ("Failed to
    # determine user credentials"): create them. What the configuration
    # declares itself wins, even its mkDefaults (a normal user's group
    # "users"): these are weaker than mkDefault, stronger than the options'
    # own defaults.
    users.users = optionalAttrs (cfg.user != "root") {
      ${cfg.user} = lib.mapAttrs (_: lib.mkOverride 1100) {
        isSystemUser = !(config.users.users.${cfg.user}.isNormalUser or false);
        group = cfg.group;
        description = "luminous-healing daemon";
      };
    };
    users.groups = optionalAttrs (cfg.group != "root") { ${cfg.group} = { }; };
  };
}
