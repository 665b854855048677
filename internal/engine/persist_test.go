package engine_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/detect"
	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/predict"
	"github.com/luminous-healing/luminous-healing/internal/state"
	"github.com/luminous-healing/luminous-healing/internal/systemd"
)

// writeCounter counts the state directory's writes per file. A real disk
// cannot be made full or slow where the unit tests run (no loop devices,
// no dm-delay), so the directory's write function is replaced; the
// end-to-end suite fills a real tmpfs.
type writeCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func countWrites(t *testing.T, dir *state.Dir, then func(path string) error) *writeCounter {
	t.Helper()
	c := &writeCounter{n: map[string]int{}}
	dir.SetWriteFile(func(path string, data []byte, perm os.FileMode) error {
		c.mu.Lock()
		c.n[filepath.Base(path)]++
		c.mu.Unlock()
		if then != nil {
			if err := then(path); err != nil {
				return err
			}
		}
		return state.WriteFile(path, data, perm)
	})
	return c
}

func (c *writeCounter) get(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[name]
}

func (c *writeCounter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.n {
		n += v
	}
	return n
}

func openDir(t *testing.T) *state.Dir {
	t.Helper()
	dir, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// within fails the test when f does not return within d. It failed before
// the writer: state was written with fsync under the engine's lock.
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not complete within %s while a state write was stuck", what, d)
	}
}

func TestAStalledStateWriteHoldsUpNeitherChecksNorReadsNorTheWatchdog(t *testing.T) {
	dir := openDir(t)
	stall := make(chan struct{})
	var started atomic.Int32
	countWrites(t, dir, func(string) error {
		started.Add(1)
		<-stall // a disk that does not answer
		return nil
	})
	h := start(t, setup{dir: dir, units: []heal.UnitStatus{active("web.service")},
		cfg: func(c *config.Config) { c.Monitoring.Interval = config.Duration(20 * time.Millisecond) }})
	t.Cleanup(func() { close(stall) }) // runs before the harness stops

	// An operator's stop is persisted: the write starts and hangs.
	stopOnPurpose(h, "web.service")
	deadline := time.Now().Add(5 * time.Second)
	for started.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no state write started after an operator's stop")
		}
		time.Sleep(5 * time.Millisecond)
	}

	before := h.eng.Status().LastCheck
	within(t, 3*time.Second, "reading the monitored units, switching dry-run and healing, and two checks", func() {
		h.eng.Monitored()
		h.eng.SetDryRun(engine.Caller{UID: 0, Name: ":1.5"}, true)
		h.eng.SetHealingEnabled(engine.Caller{UID: 0, Name: ":1.5"}, false)
		for !h.eng.Status().LastCheck.After(before.Add(30 * time.Millisecond)) {
			time.Sleep(5 * time.Millisecond)
		}
	})
	within(t, 3*time.Second, "the watchdog's liveness check", func() {
		if !h.eng.Alive(context.Background(), time.Second) {
			t.Error("Alive = false while a state write was stuck; want true: the watchdog would kill the daemon")
		}
	})
	if n := started.Load(); n != 1 {
		t.Errorf("writes started = %d while one was stuck; want 1: one writer, the rest coalesced behind it", n)
	}
}

func TestAFullStateDiskIsSaidOnceAndTheStateSavedWhenSpaceIsBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := openDir(t)
		var full atomic.Bool
		full.Store(true)
		countWrites(t, dir, func(string) error {
			if full.Load() {
				return &os.PathError{Op: "write", Path: dir.Path(), Err: syscall.ENOSPC}
			}
			return nil
		})
		var logs lockedBuffer
		h := start(t, setup{dir: dir, log: slog.New(slog.NewTextHandler(&logs, nil)),
			units: []heal.UnitStatus{active("web.service"), active("db.service")},
			cfg: func(c *config.Config) {
				c.Monitoring.Interval = config.Duration(time.Second)
				c.Services.Monitored = []string{"web.service", "db.service"}
			}})
		synctest.Wait()
		// Settings change and units fail while the disk is full: each
		// changes the state; healing goes on.
		for i := range 6 {
			h.eng.SetDryRun(engine.Caller{UID: 0}, i%2 == 0)
			time.Sleep(time.Second)
		}
		h.unit("web.service", "failed", "failed")
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := h.countCalls("RestartUnit web.service"); got != 1 {
			t.Errorf("restarts of web.service on a full state disk = %d; want 1", got)
		}
		if got := strings.Count(logs.String(), "state could not be saved"); got != 1 {
			t.Errorf("warnings about the full disk = %d; want 1\n%s", got, logs.String())
		}

		full.Store(false)
		stopOnPurpose(h, "db.service")
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if got := strings.Count(logs.String(), "state saved again"); got != 1 {
			t.Errorf("notes that the state is saved again = %d; want 1\n%s", got, logs.String())
		}
		data, err := os.ReadFile(filepath.Join(dir.Path(), "state.json"))
		if err != nil || !bytes.Contains(data, []byte(`"db.service"`)) || !bytes.Contains(data, []byte(`"DryRun":false`)) {
			t.Errorf("state.json once space is back = %s (%v); want the last dry-run setting and db.service's stop", data, err)
		}
	})
}

func TestNothingIsWrittenWhileNothingChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := openDir(t)
		writes := countWrites(t, dir, nil)
		h := start(t, setup{dir: dir, units: []heal.UnitStatus{active("web.service")},
			cfg: func(c *config.Config) { c.Monitoring.Interval = config.Duration(time.Second) }})
		h.sampler.Set(detect.Reading{ID: "memory", Kind: issue.Memory, Value: 20})
		time.Sleep(10 * time.Minute) // 600 checks
		synctest.Wait()
		if n := writes.total(); n != 0 {
			t.Errorf("writes over 600 checks with nothing changed = %d (%v); want 0", n, writes.n)
		}

		// A burst of changes is one write; setting a value back to what
		// is on disk is none.
		stopOnPurpose(h, "web.service")
		for _, on := range []bool{true, false, true} {
			h.eng.SetDryRun(engine.Caller{UID: 0}, on)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := writes.get("state.json"); n != 1 {
			t.Errorf("writes of state.json after a burst of four changes = %d; want 1", n)
		}
		h.eng.SetDryRun(engine.Caller{UID: 0}, false)
		h.eng.SetDryRun(engine.Caller{UID: 0}, true)
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := writes.get("state.json"); n != 1 {
			t.Errorf("writes of state.json after a change undone = %d; want still 1", n)
		}
	})
}

func TestThePredictionHistoryIsNotRewrittenAtEveryCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := openDir(t)
		writes := countWrites(t, dir, nil)
		cfg := config.Default()
		cfg.Monitoring.Interval = config.Duration(time.Second)
		pred, err := predict.New(predict.SettingsFrom(cfg.Predictive), dir)
		if err != nil {
			t.Fatal(err)
		}
		s := &fakeSampler{}
		eng, err := engine.New(engine.Options{Config: cfg, State: dir, Predictor: pred,
			Healer: heal.New(nil, heal.SettingsFrom(cfg, ""), nil), Audit: audit.New(audit.Options{}),
			NewSampler: func(*config.Config) (engine.Sampler, error) { return s, nil }})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { eng.Run(ctx); close(done) }()
		start := time.Now()
		for time.Since(start) < 10*time.Minute {
			s.Set(detect.Reading{ID: "disk:/", Kind: issue.Disk, Subject: "/", Value: 40 + time.Since(start).Minutes()})
			time.Sleep(time.Second)
		}
		cancel()
		<-done
		n := writes.get("prediction.json")
		t.Logf("prediction.json written %d times in 600 checks", n)
		if n == 0 || n > 12 {
			t.Errorf("writes of the prediction history over 600 checks in 10 minutes = %d; want one a minute and one at stop", n)
		}
	})
}

// stopOnPurpose is an administrator's systemctl stop, as the watcher
// reports it: persisted state.
func stopOnPurpose(h *harness, unit string) {
	h.sd.Set(unit, "inactive", "dead")
	h.watcher.C <- systemd.Event{Unit: unit, ActiveState: "inactive", SubState: "dead", StopJob: true, Job: "stop", Time: time.Now()}
}

// lockedBuffer is a log sink the engine's goroutines write concurrently.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
