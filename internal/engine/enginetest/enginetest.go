// Package enginetest runs a real engine on fakes of systemd (heal/healtest),
// of the machine's readings and of systemd's signals: the setup that the
// engine's own tests, internal/web's and internal/dbusapi/apitest share.
// The fakes stand in for what a test cannot run: a machine whose load the
// test decides, and a systemd whose units it sets.
//
// Only _test.go files and other test kits may import it: it depends on
// package testing.
package enginetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/detect"
	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/heal/healtest"
	"github.com/luminous-healing/luminous-healing/internal/systemd"
)

// Sampler is a machine that reports the readings a test sets. Its zero
// value reports none, on one mount, /.
type Sampler struct {
	mu       sync.Mutex
	readings []detect.Reading
}

// Set replaces the readings every later sample reports.
func (s *Sampler) Set(rs ...detect.Reading) {
	s.mu.Lock()
	s.readings = rs
	s.mu.Unlock()
}

func (s *Sampler) Sample(ctx context.Context, snap *detect.Snapshot) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap.Time = time.Now()
	snap.Readings = append(snap.Readings[:0], s.readings...)
	return nil
}

func (s *Sampler) Mounts() []string { return []string{"/"} }
func (s *Sampler) Close() error     { return nil }

// Watcher stands in for systemd's signals: a test sends the events on C.
type Watcher struct {
	C chan systemd.Event
}

// NewWatcher returns a Watcher whose channel holds buffer events.
func NewWatcher(buffer int) *Watcher { return &Watcher{C: make(chan systemd.Event, buffer)} }

func (w *Watcher) Watch(ctx context.Context, units []string) error { return nil }
func (w *Watcher) Events() <-chan systemd.Event                    { return w.C }

// Config is the configuration the kits start from: config.Default with
// checks every interval, web.service monitored and cleanup by
// systemd-tmpfiles-clean.service.
func Config(interval time.Duration) *config.Config {
	cfg := config.Default()
	cfg.Monitoring.Interval = config.Duration(interval)
	cfg.Services.Monitored = []string{"web.service"}
	cfg.Healing.CleanupUnits = []string{"systemd-tmpfiles-clean.service"}
	return cfg
}

// Setup varies an Engine.
type Setup struct {
	// Config is the engine's configuration; nil: Config(time.Minute).
	Config *config.Config
	// Units are fake systemd's units.
	Units []heal.UnitStatus
	// Self is the daemon's own unit, as heal.SettingsFrom takes it.
	Self string
	// Heal changes the healer's settings.
	Heal func(*heal.Settings)
	// FreeBytes is heal.New's free-space reader; nil: heal's default.
	FreeBytes func(context.Context) (map[string]uint64, error)
	// Sampler replaces the fake Sampler (Engine.Sampler is then nil).
	Sampler engine.Sampler
	// Readings are the fake Sampler's first readings.
	Readings []detect.Reading
	// Watcher is the fake signals' buffer, in events.
	WatcherBuffer int
	// Options changes the engine's options last (Mode, State, Predictor,
	// no Watcher...).
	Options func(*engine.Options)
}

// Engine is an engine built on fakes, not running yet.
type Engine struct {
	*engine.Engine
	Systemd *healtest.Systemd
	Audit   *audit.Log
	Sampler *Sampler // nil when Setup.Sampler replaced it
	Watcher *Watcher
}

// New builds an Engine; a failure ends the test.
func New(t testing.TB, s Setup) *Engine {
	t.Helper()
	cfg := s.Config
	if cfg == nil {
		cfg = Config(time.Minute)
	}
	e := &Engine{Systemd: healtest.New(s.Units...), Audit: audit.New(audit.Options{}), Watcher: NewWatcher(s.WatcherBuffer)}
	hs := heal.SettingsFrom(cfg, s.Self)
	if s.Heal != nil {
		s.Heal(&hs)
	}
	sampler := s.Sampler
	if sampler == nil {
		e.Sampler = &Sampler{readings: s.Readings}
		sampler = e.Sampler
	}
	o := engine.Options{
		Version: "test", Config: cfg, Healer: heal.New(e.Systemd, hs, s.FreeBytes),
		Units: e.Systemd, Watcher: e.Watcher, Audit: e.Audit,
		NewSampler: func(*config.Config) (engine.Sampler, error) { return sampler, nil },
	}
	if s.Options != nil {
		s.Options(&o)
	}
	eng, err := engine.New(o)
	if err != nil {
		t.Fatal(err)
	}
	e.Engine = eng
	return e
}

// Start runs the engine until ctx ends; the channel closes when Run has
// returned.
func (e *Engine) Start(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		e.Run(ctx)
		close(done)
	}()
	return done
}
