package engine_test

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/detect"
	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/heal/healtest"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/state"
	"github.com/luminous-healing/luminous-healing/internal/systemd"
)

// fakeSampler returns the readings a test sets, as a machine would.
type fakeSampler struct {
	mu       sync.Mutex
	readings []detect.Reading
}

func (s *fakeSampler) set(rs ...detect.Reading) {
	s.mu.Lock()
	s.readings = rs
	s.mu.Unlock()
}

func (s *fakeSampler) Sample(ctx context.Context, snap *detect.Snapshot) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap.Time = time.Now()
	snap.Readings = append(snap.Readings[:0], s.readings...)
	return nil
}

func (s *fakeSampler) Mounts() []string { return []string{"/"} }
func (s *fakeSampler) Close() error     { return nil }

// fakeWatcher stands in for systemd's signals: tests send the events.
type fakeWatcher struct {
	ch chan systemd.Event
}

func (w *fakeWatcher) Watch(ctx context.Context, units []string) error { return nil }
func (w *fakeWatcher) Events() <-chan systemd.Event                    { return w.ch }

type harness struct {
	t       *testing.T
	eng     *engine.Engine
	sd      *healtest.Systemd
	sampler *fakeSampler
	watcher *fakeWatcher
	audit   *audit.Log
	events  <-chan engine.Event
	stop    context.CancelFunc
	done    chan struct{}
	dir     *state.Dir
}

type setup struct {
	cfg        func(*config.Config)
	configPath string // read instead of the defaults when set
	units      []heal.UnitStatus
	dir        *state.Dir
	log        *slog.Logger
	journal    engine.Journal
}

// start runs an engine on fakes. Call it inside a synctest bubble.
func start(t *testing.T, s setup) *harness {
	t.Helper()
	cfg := config.Default()
	cfg.Monitoring.Interval = config.Duration(time.Minute)
	cfg.Services.Monitored = []string{"web.service"}
	cfg.Healing.CleanupUnits = []string{"systemd-tmpfiles-clean.service"}
	if s.configPath != "" {
		var err error
		if cfg, err = config.Load(s.configPath); err != nil {
			t.Fatal(err)
		}
	}
	if s.cfg != nil {
		s.cfg(cfg)
	}
	h := &harness{t: t, sd: healtest.New(s.units...), sampler: &fakeSampler{}, watcher: &fakeWatcher{ch: make(chan systemd.Event, 16)}, dir: s.dir}
	hs := heal.SettingsFrom(cfg, "luminous-healing.service")
	hs.CPUSampleGap = 10 * time.Millisecond
	healer := heal.New(h.sd, hs, nil)
	h.audit = audit.New(audit.Options{})
	eng, err := engine.New(engine.Options{
		Version: "test", Config: cfg, ConfigPath: s.configPath, Healer: healer, Units: h.sd, Watcher: h.watcher, Audit: h.audit, State: s.dir, Log: s.log,
		Journal:    s.journal,
		NewSampler: func(*config.Config) (engine.Sampler, error) { return h.sampler, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	h.eng = eng
	h.events, _ = eng.Subscribe(256)
	ctx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	h.done = make(chan struct{})
	go func() {
		eng.Run(ctx)
		close(h.done)
	}()
	t.Cleanup(h.close)
	return h
}

func (h *harness) close() {
	h.stop()
	<-h.done
}

// unit sends a unit state change, as systemd's PropertiesChanged would.
func (h *harness) unit(name, active, sub string) {
	h.sd.Set(name, active, sub)
	h.watcher.ch <- systemd.Event{Unit: name, ActiveState: active, SubState: sub, Time: time.Now()}
}

// drain returns the event types published so far, StatusChanged and
// ActionDone left out.
func (h *harness) drain() []string {
	var out []string
	for {
		select {
		case ev := <-h.events:
			switch ev.Type {
			case engine.StatusChanged, engine.ActionDone:
				continue
			}
			out = append(out, ev.Type.String()+" "+ev.Issue.ID)
		default:
			return out
		}
	}
}

func (h *harness) history(ev audit.Event) []audit.Entry {
	var out []audit.Entry
	for _, e := range h.audit.History(0) {
		if e.Event == ev {
			out = append(out, e)
		}
	}
	slices.Reverse(out)
	return out
}

func (h *harness) issue(id string) (issue.Record, bool) { return h.eng.Issue(id) }

func (h *harness) countCalls(prefix string) int {
	n := 0
	for _, c := range h.sd.Calls() {
		if len(c) >= len(prefix) && c[:len(prefix)] == prefix {
			n++
		}
	}
	return n
}

func failed(name string) heal.UnitStatus {
	return heal.UnitStatus{Name: name, ActiveState: "failed", Result: "signal", UnitFileState: "enabled"}
}

func active(name string) heal.UnitStatus {
	return heal.UnitStatus{Name: name, ActiveState: "active", SubState: "running", UnitFileState: "enabled"}
}
