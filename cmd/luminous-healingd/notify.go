package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/engine"
)

// notifySystemd tells systemd the daemon is ready (Type=notify), feeds the
// watchdog while the engine's loop answers, and keeps STATUS= current for
// `systemctl status`. Outside systemd every call is a no-op.
func notifySystemd(ctx context.Context, eng *engine.Engine, ready <-chan struct{}, log *slog.Logger) {
	// Ready means the API answers: wait for the bus name when there is
	// a bus (if it cannot be had, the daemon exits instead).
	select {
	case <-ready:
	case <-ctx.Done():
		return
	}
	// STATUS= goes to systemd only when its text changes: the status
	// changes at every check (its LastCheck), the line does not, and each
	// datagram is work for PID 1 (docs/performance.md).
	sent := statusLine(eng.Status())
	if _, err := daemon.SdNotify(false, daemon.SdNotifyReady+"\n"+sent); err != nil {
		log.Warn("could not notify systemd", "err", err)
	}
	events, unsubscribe := eng.Subscribe(16)
	defer unsubscribe()
	var tick <-chan time.Time
	if wd, err := daemon.SdWatchdogEnabled(false); err == nil && wd > 0 {
		t := time.NewTicker(wd / 3)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			daemon.SdNotify(false, daemon.SdNotifyStopping)
			return
		case <-tick:
			if eng.Alive(ctx, 5*time.Second) {
				daemon.SdNotify(false, daemon.SdNotifyWatchdog)
			} else {
				log.Error("the engine's loop does not answer; letting the watchdog restart the daemon")
			}
		case ev, ok := <-events:
			if !ok {
				return
			}
			if ev.Type != engine.StatusChanged {
				continue
			}
			if line := statusLine(eng.Status()); line != sent {
				daemon.SdNotify(false, line)
				sent = line
			}
		}
	}
}

func statusLine(st *engine.Status) string {
	mode := "healing"
	switch {
	case st.DryRun:
		mode = "dry-run"
	case !st.HealingEnabled:
		mode = "healing off"
	}
	return fmt.Sprintf("STATUS=%s, %s; %d issue(s); %d unit(s) monitored", st.Health, mode, st.ActiveIssues, len(st.MonitoredUnits))
}

// printBanner tells a person trying the daemon what it is doing and where
// to look next.
func printBanner(w io.Writer, o options, cfg *config.Config, eng *engine.Engine, b *bus, listening string, notListening error) {
	st := eng.Status()
	fmt.Fprintf(w, "luminous-healingd %s — try-it mode: reading this machine, planning instead of acting.\n", version)
	fmt.Fprintf(w, "  config:   %s (every %s)\n", describeConfig(o.configPath), cfg.Monitoring.Interval)
	fmt.Fprintf(w, "  state:    %s\n", o.stateDir)
	if st.Systemd {
		fmt.Fprintf(w, "  systemd:  reachable; %d unit(s) monitored\n", len(st.MonitoredUnits))
	} else {
		fmt.Fprintf(w, "  systemd:  not reachable here; watching resources only\n")
	}
	switch {
	case notListening != nil:
		fmt.Fprintf(w, "  web:      NOT listening: %v\n", notListening)
	case listening != "":
		fmt.Fprintf(w, "  web:      http://%s/ (live dashboard; /metrics, /api/v1/status, /healthz)\n", listening)
	}
	ctl := "healingctl"
	if _, err := exec.LookPath("healingctl"); err != nil {
		ctl = "go run ./cmd/healingctl" // running from a checkout
	}
	switch {
	case b == nil:
		fmt.Fprintf(w, "  d-bus:    not available (see the warning below); healingctl cannot reach this daemon\n")
	case b.own != nil:
		fmt.Fprintf(w, "  d-bus:    on a session bus of its own; in another terminal run\n")
		fmt.Fprintf(w, "              export DBUS_SESSION_BUS_ADDRESS='%s'\n", b.address)
		fmt.Fprintf(w, "              %s --user status\n", ctl)
	default:
		fmt.Fprintf(w, "  d-bus:    %s on your session bus: %s --user status\n", client.BusName, ctl)
	}
	fmt.Fprintf(w, "  events:   printed below as they happen. Stop with Ctrl-C.\n\n")
}
