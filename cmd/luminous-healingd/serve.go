package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/dbusapi"
	"github.com/luminous-healing/luminous-healing/internal/detect"
	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/metrics"
	"github.com/luminous-healing/luminous-healing/internal/predict"
	"github.com/luminous-healing/luminous-healing/internal/probe"
	"github.com/luminous-healing/luminous-healing/internal/state"
	"github.com/luminous-healing/luminous-healing/internal/systemd"
	"github.com/luminous-healing/luminous-healing/internal/web"
)

// serve wires the daemon together and runs it until ctx ends.
func serve(ctx context.Context, o options, cfg *config.Config, log *slog.Logger) error {
	mode := "system"
	if o.user {
		mode = "user"
	}
	log = log.With("mode", mode)
	store, err := state.Open(o.stateDir)
	if err != nil {
		return err
	}
	if flag := os.Getenv(stallWritesEnv); flag != "" {
		store.SetWriteFile(stallWhile(flag))
	}

	// systemd on the system bus. Without it (a container, a dev box, this
	// try-it mode on a machine without systemd) the daemon warns once and
	// keeps watching resources.
	var mgr *systemd.Manager
	var watcher *systemd.Watcher
	{
		// godbus closes a connection when the context it was made with
		// ends. These outlive ctx until serve returns: at stop, the
		// actions in flight still need systemd to hear how their jobs
		// end (the engine waits for them, bounded).
		sysCtx, closeSystemd := context.WithCancel(context.WithoutCancel(ctx))
		defer closeSystemd()
		mgr, err = systemd.Dial(sysCtx, "")
		if err == nil {
			watcher, err = systemd.NewWatcher(sysCtx, "", log)
			if err != nil {
				mgr.Close()
				mgr = nil
			}
		}
		if err != nil {
			log.Warn("systemd is not reachable; watching resources only, units are neither watched nor healed", "err", err)
		}
	}
	var sd heal.Systemd
	var units engine.Units
	var uw engine.Watcher
	var journal engine.Journal
	// Command probes run as transient units of the system manager, as a
	// dynamic or configured user; a user's manager cannot switch users,
	// so try-it mode runs none (they fail, saying why).
	var probeRunner probe.CommandRunner
	if mgr != nil {
		sd, units, uw, journal = mgr, mgr, watcher, systemd.Journal{}
		defer mgr.Close()
		if mode == "system" {
			probeRunner = mgr
		}
	}

	// A mount that cannot be watched is the invoker's to fix (exit 2);
	// engine.New returns the error as it is.
	newSampler := func(c *config.Config) (engine.Sampler, error) {
		s, err := detect.NewSampler(detect.Options{Mounts: c.Monitoring.Mounts})
		if err != nil {
			return nil, usageError{err}
		}
		return s, nil
	}
	var eng *engine.Engine
	// Cleanup measures the mounts watched when it runs: a reload may
	// change them.
	freeBytes := func(context.Context) (map[string]uint64, error) { return freeSpace(eng.Mounts()) }

	self := systemd.SelfUnit()
	if mode == "system" && self == "" {
		self = "luminous-healing.service"
	}
	healer := heal.New(sd, heal.SettingsFrom(cfg, self), freeBytes)
	// One writer for every file in the state directory, run by the
	// engine: the disk never holds up detection, D-Bus or the watchdog.
	writer := state.NewWriter(store, log)
	auditLog := audit.New(audit.Options{Store: store, Writer: writer, Journal: mode == "system" && audit.JournalAvailable(), Logger: log})
	pred, err := predict.New(predict.SettingsFrom(cfg.Predictive), store)
	if err != nil {
		log.Warn("the saved prediction history could not be fully read; what could not is dropped", "err", err)
	}
	configPath := o.configPath
	recorder := metrics.New(metrics.Options{Version: version,
		Accuracy:     func() (float64, bool) { return pred.Accuracy().Ratio() },
		AuditDropped: auditLog.Dropped})
	eng, err = engine.New(engine.Options{
		Version: version, Mode: mode, ConfigPath: configPath, Config: cfg, Log: log,
		NewSampler: newSampler, Healer: healer, Units: units, Watcher: uw, Journal: journal,
		Audit: auditLog, State: store, Writer: writer, Predictor: pred, Recorder: recorder, ForceDryRun: o.user, Amend: o.amend,
		ProbeRunner: probeRunner,
	})
	if err != nil {
		return err
	}
	// The HTTP listener: /metrics, the dashboard, /api/v1, /healthz. It
	// follows reloads itself; --listen wins over the file on every reload
	// through o.amend.
	httpd := web.New(web.Options{Engine: eng, History: auditLog, Metrics: recorder.Handler(),
		ForceDashboard: o.user, Log: log.With("component", "http")})

	// The D-Bus API. Everything is exported before the name is taken.
	// Without a bus the daemon still watches and heals; it says so once.
	b, err := connectBus(ctx, o.user, log)
	if err != nil {
		log.Warn("no D-Bus API: healingctl, busctl and desktop tools cannot reach the daemon", "err", err)
	}
	defer b.close()
	var api *dbusapi.Server
	if b != nil {
		api, err = dbusapi.New(b.conn, dbusapi.Options{Engine: eng, Audit: auditLog, Authorizer: b.authz, Log: log})
		if err != nil {
			return err
		}
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// Every goroutine below is serve's: each ends when ctx does, and the
	// stop waits for all of them (bounded, see stopBound).
	var wg sync.WaitGroup
	run := func(f func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f()
		}()
	}
	errc := make(chan error, 4)
	run(func() { errc <- eng.Run(ctx) })
	if api != nil {
		run(func() {
			err := api.Serve(ctx)
			switch {
			case errors.Is(err, dbusapi.ErrBusLost) && ctx.Err() == nil:
				// Without the bus there is no API: exit non-zero so
				// systemd restarts the daemon.
				cancel(busLost{err})
			case err != nil && ctx.Err() == nil:
				errc <- err
			}
		})
	}
	run(func() { httpd.Run(ctx) })
	if watcher != nil {
		run(func() {
			if err := watcher.Run(ctx); err != nil {
				// Without the bus there is no D-Bus API and no unit
				// watching: exit non-zero so systemd restarts us.
				cancel(busLost{err})
			}
		})
	}

	// SIGHUP reloads, as `systemctl reload` expects.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	run(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := eng.Reload(ctx, engine.Caller{UID: 0, Name: "SIGHUP"}); err != nil {
					log.Error("reload failed; the running configuration is kept", "err", err)
				} else {
					log.Info("configuration reloaded")
				}
			}
		}
	})

	var ready <-chan struct{}
	if api != nil {
		ready = api.Ready()
	} else {
		now := make(chan struct{})
		close(now)
		ready = now
	}
	run(func() { notifySystemd(ctx, eng, ready, log) })
	if o.user {
		// The banner names the listener only once it is bound, or says
		// why it is not.
		lctx, lcancel := context.WithTimeout(ctx, 5*time.Second)
		addr, lerr := httpd.Listening(lctx)
		lcancel()
		printBanner(os.Stdout, o, cfg, eng, b, addr, lerr)
	}
	log.Info("started", "version", version, "config", describeConfig(configPath), "state", store.Path(),
		"interval", cfg.Monitoring.Interval.String(), "monitored", len(cfg.Services.Monitored), "systemd", mgr != nil, "dbus", api != nil)

	select {
	case err := <-errc:
		if err != nil {
			return err
		}
	case <-ctx.Done():
	}
	cause := context.Cause(ctx)
	cancel(nil)
	var lost busLost
	// The engine lets its actions in flight finish and writes its state a
	// last time, each bounded by itself (a hung job or a state disk that
	// does not answer cannot keep it); stopBound is only the backstop.
	stopped := make(chan struct{})
	go func() {
		wg.Wait()
		close(stopped)
	}()
	bound, cancelBound := context.WithTimeout(context.Background(), stopBound)
	defer cancelBound()
	select {
	case <-stopped:
	case <-bound.Done():
		log.Warn("not everything stopped in time; exiting anyway", "waited", stopBound)
	}
	// The last records (the actions the stop settled) reach the journal
	// within what is left of the same bound.
	if err := auditLog.Wait(bound); err != nil {
		log.Warn("the journal did not take the last audit records in time; the history has them", "err", err)
	}
	if errors.As(cause, &lost) {
		return fmt.Errorf("stopping: %w", lost.err)
	}
	log.Info("stopped")
	return nil
}

// stallWritesEnv names a test hook: while the file it gives exists, every
// state write waits, as on a device that does not answer. The end-to-end
// suite uses it because a real stall (a frozen file system on a loop
// device) cannot be made inside its machines; nothing else sets it.
const stallWritesEnv = "LUMINOUS_HEALING_TEST_STALL_WRITES"

func stallWhile(flag string) func(path string, data []byte, perm os.FileMode) error {
	return func(path string, data []byte, perm os.FileMode) error {
		for {
			if _, err := os.Stat(flag); err != nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		return state.WriteFile(path, data, perm)
	}
}

// stopBound is how long a stop waits for the daemon's goroutines: more
// than the engine's own bounds (5 s for actions in flight, 2 s for the
// last write), less than the unit's TimeoutStopSec=10s.
const stopBound = 8 * time.Second

// busLost is the cause of a stop because the bus connection died.
type busLost struct{ err error }

func (b busLost) Error() string { return b.err.Error() }

func describeConfig(path string) string {
	if path == "" {
		return "embedded default"
	}
	return path
}

// freeSpace reports the bytes free to unprivileged users on each mount.
func freeSpace(mounts []string) (map[string]uint64, error) {
	out := make(map[string]uint64, len(mounts))
	for _, m := range mounts {
		var st syscall.Statfs_t
		if err := syscall.Statfs(m, &st); err != nil {
			return nil, fmt.Errorf("statfs %s: %w", m, err)
		}
		out[m] = st.Bavail * uint64(st.Bsize)
	}
	return out, nil
}
