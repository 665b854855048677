package engine_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/engine/enginetest"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/heal/healtest"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/state"
	"github.com/luminous-healing/luminous-healing/internal/systemd"
)

// fakeSampler is the machine whose readings a test sets.
type fakeSampler = enginetest.Sampler

type harness struct {
	t       *testing.T
	eng     *engine.Engine
	sd      *healtest.Systemd
	sampler *enginetest.Sampler
	watcher *enginetest.Watcher
	audit   *audit.Log
	events  <-chan engine.Event
	stop    context.CancelFunc
	done    <-chan struct{}
	dir     *state.Dir
}

type setup struct {
	cfg        func(*config.Config)
	configPath string // read instead of the defaults when set
	units      []heal.UnitStatus
	dir        *state.Dir
	log        *slog.Logger
	journal    engine.Journal
	recorder   engine.Recorder
}

// start runs an engine on fakes. Call it inside a synctest bubble.
func start(t *testing.T, s setup) *harness {
	t.Helper()
	cfg := enginetest.Config(time.Minute)
	if s.configPath != "" {
		var err error
		if cfg, err = config.Load(s.configPath); err != nil {
			t.Fatal(err)
		}
	}
	if s.cfg != nil {
		s.cfg(cfg)
	}
	e := enginetest.New(t, enginetest.Setup{
		Config: cfg, Units: s.units, Self: "luminous-healing.service", WatcherBuffer: 16,
		Heal: func(hs *heal.Settings) { hs.CPUSampleGap = 10 * time.Millisecond },
		Options: func(o *engine.Options) {
			o.ConfigPath, o.State, o.Log, o.Journal = s.configPath, s.dir, s.log, s.journal
			if s.recorder != nil {
				o.Recorder = s.recorder
			}
		},
	})
	h := &harness{t: t, eng: e.Engine, sd: e.Systemd, sampler: e.Sampler, watcher: e.Watcher, audit: e.Audit, dir: s.dir}
	h.events, _ = h.eng.Subscribe(256)
	ctx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	h.done = e.Start(ctx)
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
	h.watcher.C <- systemd.Event{Unit: name, ActiveState: active, SubState: sub, Time: time.Now()}
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
