# luminous-healing — build, test and install.
#
#   make                build bin/luminous-healingd and bin/healingctl (Go $(GOVERSION) or later)
#   make test           the whole test suite (the README's command)
#   make fuzz           every fuzz target for FUZZTIME (1m) each
#   make security-report  the hostile-input tests, as a table of what was tried and refused
#   make bench          the Go micro-benchmarks, then (as root) the daemon side by side with monit
#                       and node_exporter on a throwaway systemd; out/bench.md and out/bench.json
#                       (docs/performance.md). BENCH_WINDOW (60s), BENCH_TRIALS (20), BENCH_N.
#   make install        install what make built, for systemd distributions; honours
#                       PREFIX and DESTDIR. It never builds: sudo's PATH has no Go.

PREFIX     ?= /usr/local
DESTDIR    ?=
SYSCONFDIR ?= /etc
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
UNITDIR    ?= $(PREFIX)/lib/systemd/system
USERUNITDIR ?= $(PREFIX)/lib/systemd/user
AUTOSTARTDIR ?= $(SYSCONFDIR)/xdg/autostart
DATADIR    ?= $(PREFIX)/share
DOCDIR     ?= $(DATADIR)/doc/luminous-healing
MANDIR     ?= $(DATADIR)/man
CATALOGDIR ?= $(PREFIX)/lib/systemd/catalog

GO      ?= go
# Where make puts the binaries and install takes them from.
BIN     ?= bin
GOVERSION := $(shell sed -n 's/^go \([0-9]*\.[0-9]*\).*/\1/p' go.mod)
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0-dev)
# urfave_cli_no_docs: urfave/cli without its man-page writer, which the
# binaries never call and whose markdown tables sit on the heap from
# start-up (docs/performance.md).
# CGO_ENABLED=0: a static binary, as nixos/package.nix builds it. With cgo
# the daemon maps the C library and its loader, about 1.2 MiB more resident
# memory and their start-up (docs/performance.md); it uses no C code. Users
# are named from /etc/passwd and hosts resolved by Go's own resolver.
GOFLAGS_BUILD = -trimpath -tags urfave_cli_no_docs -ldflags "-s -w -X main.version=$(VERSION)"

.PHONY: all build test install install-bin install-data install-completion uninstall clean

all: build

build:
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $(BIN)/ ./cmd/...

test:
	$(GO) test -count=1 -timeout 20m ./...

# install is three steps so that packagers who build the binaries their own
# way (the flake's buildGoModule) can run the last two alone:
#   make install-data install-completion PREFIX=$out HEALINGCTL=$out/bin/healingctl
# It depends on no build step: `make` as yourself, then `sudo make install`,
# where sudo's PATH has no Go.
install: install-bin install-data install-completion

BUILT_FIRST = echo "$$f is missing: run make first (as yourself, with Go $(GOVERSION) or later), then sudo make install" >&2; exit 1

install-bin:
	@for f in $(BIN)/luminous-healingd $(BIN)/healingctl; do [ -x $$f ] || { $(BUILT_FIRST); }; done
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR)
	install -m 0755 $(BIN)/luminous-healingd $(DESTDIR)$(SBINDIR)/luminous-healingd
	install -m 0755 $(BIN)/healingctl $(DESTDIR)$(BINDIR)/healingctl

install-data:
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)
	sed 's|@SBINDIR@|$(SBINDIR)|g' cmd/luminous-healingd/luminous-healing.service > $(DESTDIR)$(UNITDIR)/luminous-healing.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/luminous-healing.service
	install -m 0644 cmd/luminous-healingd/luminous-healing-journal-vacuum.service $(DESTDIR)$(UNITDIR)/
	sed 's|@SBINDIR@|$(SBINDIR)|g' cmd/luminous-healingd/luminous-healing-nix-cleanup.service > $(DESTDIR)$(UNITDIR)/luminous-healing-nix-cleanup.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/luminous-healing-nix-cleanup.service
	@# The desktop notifier, at every graphical login: a systemd user unit,
	@# enabled for everyone by its graphical-session.target.wants link, and
	@# an XDG autostart entry for desktops that do not start that target
	@# (which the systemd ones skip). docs/desktop.md.
	install -d $(DESTDIR)$(USERUNITDIR)/graphical-session.target.wants $(DESTDIR)$(AUTOSTARTDIR)
	sed 's|@BINDIR@|$(BINDIR)|g' cmd/healingctl/luminous-healing-notifier.service > $(DESTDIR)$(USERUNITDIR)/luminous-healing-notifier.service
	chmod 0644 $(DESTDIR)$(USERUNITDIR)/luminous-healing-notifier.service
	ln -sf ../luminous-healing-notifier.service $(DESTDIR)$(USERUNITDIR)/graphical-session.target.wants/luminous-healing-notifier.service
	sed 's|@BINDIR@|$(BINDIR)|g' cmd/healingctl/luminous-healing-notifier.desktop > $(DESTDIR)$(AUTOSTARTDIR)/luminous-healing-notifier.desktop
	chmod 0644 $(DESTDIR)$(AUTOSTARTDIR)/luminous-healing-notifier.desktop
	@for f in dbus/org.luminous.Healing.conf; do [ -f $$f ] || continue; \
		install -d $(DESTDIR)$(DATADIR)/dbus-1/system.d; install -m 0644 $$f $(DESTDIR)$(DATADIR)/dbus-1/system.d/; done
	@for f in dbus/org.luminous.Healing.service; do [ -f $$f ] || continue; \
		install -d $(DESTDIR)$(DATADIR)/dbus-1/system-services; install -m 0644 $$f $(DESTDIR)$(DATADIR)/dbus-1/system-services/; done
	@for f in dbus/org.luminous.Healing1.xml; do [ -f $$f ] || continue; \
		install -d $(DESTDIR)$(DATADIR)/dbus-1/interfaces; install -m 0644 $$f $(DESTDIR)$(DATADIR)/dbus-1/interfaces/; done
	@for f in polkit/org.luminous.healing.policy; do [ -f $$f ] || continue; \
		install -d $(DESTDIR)$(DATADIR)/polkit-1/actions; install -m 0644 $$f $(DESTDIR)$(DATADIR)/polkit-1/actions/; done
	@for f in polkit/*.rules; do [ -f $$f ] || continue; install -m 0644 $$f $(DESTDIR)$(DOCDIR)/; done
	@# The Grafana dashboard and Prometheus alert rules, where the NixOS
	@# example (nixos/example-configuration.nix) and docs point provisioning.
	@for f in docs/grafana/*.json; do [ -f $$f ] || continue; \
		install -d $(DESTDIR)$(DATADIR)/luminous-healing/grafana; install -m 0644 $$f $(DESTDIR)$(DATADIR)/luminous-healing/grafana/; done
	@for f in docs/prometheus/*.rules.yml; do [ -f $$f ] || continue; \
		install -d $(DESTDIR)$(DATADIR)/luminous-healing/prometheus; install -m 0644 $$f $(DESTDIR)$(DATADIR)/luminous-healing/prometheus/; done
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/
	@# The journal's message catalog, so that journalctl -x explains each
	@# MESSAGE_ID; the database is rebuilt where the files are installed for
	@# real (a package's trigger does it for a DESTDIR install).
	install -d $(DESTDIR)$(CATALOGDIR)
	install -m 0644 internal/audit/luminous-healing.catalog $(DESTDIR)$(CATALOGDIR)/
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v journalctl >/dev/null; then journalctl --update-catalog || true; fi
	@# The man pages, generated from --help and the default configuration
	@# (docs/man/README.md).
	@for f in docs/man/*.[0-9]; do [ -f $$f ] || continue; s=$${f##*.}; \
		install -d $(DESTDIR)$(MANDIR)/man$$s; install -m 0644 $$f $(DESTDIR)$(MANDIR)/man$$s/; done
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/luminous-healing
	@# Never overwrite an administrator's configuration.
	[ -e $(DESTDIR)$(SYSCONFDIR)/luminous-healing/config.toml ] || \
		install -m 0644 internal/config/default.toml $(DESTDIR)$(SYSCONFDIR)/luminous-healing/config.toml

# The completions are printed by healingctl itself.
HEALINGCTL ?= $(BIN)/healingctl
install-completion:
	@f=$(HEALINGCTL); [ -x $$f ] || { $(BUILT_FIRST); }
	install -d $(DESTDIR)$(DATADIR)/bash-completion/completions $(DESTDIR)$(DATADIR)/zsh/site-functions $(DESTDIR)$(DATADIR)/fish/vendor_completions.d
	$(HEALINGCTL) completion bash > $(DESTDIR)$(DATADIR)/bash-completion/completions/healingctl
	$(HEALINGCTL) completion zsh > $(DESTDIR)$(DATADIR)/zsh/site-functions/_healingctl
	$(HEALINGCTL) completion fish > $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/healingctl.fish

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/luminous-healingd $(DESTDIR)$(BINDIR)/healingctl \
		$(DESTDIR)$(UNITDIR)/luminous-healing.service $(DESTDIR)$(UNITDIR)/luminous-healing-journal-vacuum.service \
		$(DESTDIR)$(UNITDIR)/luminous-healing-nix-cleanup.service \
		$(DESTDIR)$(USERUNITDIR)/luminous-healing-notifier.service \
		$(DESTDIR)$(USERUNITDIR)/graphical-session.target.wants/luminous-healing-notifier.service \
		$(DESTDIR)$(AUTOSTARTDIR)/luminous-healing-notifier.desktop \
		$(DESTDIR)$(DATADIR)/dbus-1/system.d/org.luminous.Healing.conf \
		$(DESTDIR)$(DATADIR)/dbus-1/system-services/org.luminous.Healing.service \
		$(DESTDIR)$(DATADIR)/dbus-1/interfaces/org.luminous.Healing1.xml \
		$(DESTDIR)$(DATADIR)/polkit-1/actions/org.luminous.healing.policy \
		$(DESTDIR)$(DATADIR)/bash-completion/completions/healingctl \
		$(DESTDIR)$(DATADIR)/zsh/site-functions/_healingctl \
		$(DESTDIR)$(DATADIR)/fish/vendor_completions.d/healingctl.fish \
		$(DESTDIR)$(MANDIR)/man1/healingctl.1 $(DESTDIR)$(MANDIR)/man5/luminous-healing.toml.5 \
		$(DESTDIR)$(MANDIR)/man8/luminous-healingd.8 $(DESTDIR)$(CATALOGDIR)/luminous-healing.catalog
	rm -rf $(DESTDIR)$(DOCDIR) $(DESTDIR)$(DATADIR)/luminous-healing
	@echo "kept $(SYSCONFDIR)/luminous-healing/config.toml and /var/lib/luminous-healing"

clean:
	rm -rf bin

# make fuzz: every fuzz target of the module, one after the other, for
# FUZZTIME each (go test -fuzz runs one target at a time). The seed corpora
# (f.Add and testdata/fuzz) also run in every plain go test.
# FUZZTIME is a duration, or a count of inputs such as 300x.
FUZZTIME ?= 1m
.PHONY: fuzz security-report
fuzz:
	@set -e; for f in $$(grep -l '^func Fuzz' $$(find internal cmd -name '*_test.go')); do \
		for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
			echo "== $$t ($$(dirname $$f), $(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) ./$$(dirname $$f); \
		done; \
	done

# make security-report: runs the tests that try hostile input (forged
# signals, floods, bad arguments, hostile files and HTTP requests) and
# prints what each tried and the test's verdict. As root it includes the
# end-to-end scenarios on a real systemd and system bus.
SECURITY_TESTS = Forged|FromSystemd|Unconfirm|CheckedAgainstSystemd|BadArguments|Budget|Flood|RateLimited|RootIsNot|Alias|Resolve|Escalat|Restored|RegularFiles|NonLoopback|EveryEventStream|ControlCharacter|Hostile
security-report:
	@rm -f out/security-report.txt; mkdir -p out
	@LUMINOUS_SECURITY_REPORT=$(CURDIR)/out/security-report.txt LUMINOUS_E2E_REPORT=$(CURDIR)/out/e2e-report.txt \
		$(GO) test -count=1 -run '$(SECURITY_TESTS)' ./internal/... ./cmd/... >out/security-tests.log 2>&1 \
		|| { tail -40 out/security-tests.log; echo "security-report: some tests failed (out/security-tests.log); the table says which" >&2; }
	@[ -s out/security-report.txt ] || { echo "security-report: no test recorded anything" >&2; exit 1; }
	@sort -t '	' -k1,1 -k2,2 out/security-report.txt | awk -F '\t' ' \
		{ printf "%-14s %6d  %-100.100s %s\n", $$1, $$3, $$2, $$4; \
		  cases[$$1]++; tries[$$1] += $$3; if ($$4 != "refused, nothing changed") bad[$$1]++; total++; if ($$4 ~ /FAILED/) failed++ } \
		BEGIN { printf "%-14s %6s  %-100s %s\n", "KIND", "TRIED", "WHAT", "VERDICT" } \
		END { print ""; for (k in cases) printf "%-14s %3d cases, %5d tries: %s\n", k, cases[k], tries[k], \
			(bad[k] ? bad[k] " not refused or skipped" : "all refused, nothing changed"); \
			if (failed) exit 1 }'

# make bench: the micro-benchmarks (out/bench-go.txt), then TestBench, the
# side-by-side run on the throwaway systemd (root only; it takes minutes,
# so it is not part of go test ./...). docs/performance.md.
BENCH_WINDOW ?= 60s
BENCH_TRIALS ?= 20
BENCH_N      ?= 1,100,400,1000
.PHONY: bench
bench:
	@mkdir -p out
	$(GO) test -run '^$$' -bench . -benchmem ./internal/... >out/bench-go.txt 2>&1 || { tail -30 out/bench-go.txt; exit 1; }
	grep -E '^(Benchmark|ok|FAIL)' out/bench-go.txt
	LUMINOUS_BENCH=1 LUMINOUS_BENCH_WINDOW=$(BENCH_WINDOW) LUMINOUS_BENCH_TRIALS=$(BENCH_TRIALS) LUMINOUS_BENCH_N=$(BENCH_N) \
		$(GO) test -count=1 -timeout 60m -run '^TestBench$$' -v ./internal/e2e/ >out/bench-e2e.txt 2>&1 || { tail -50 out/bench-e2e.txt; exit 1; }
	cat out/bench.md
