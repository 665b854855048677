package engine

import (
	"context"
	"math"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/detect"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/heal/healtest"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/predict"
)

// fillingDisk is a fake sampler: one mount, / unless set, filling at rate
// points an hour from 50 %; a cleanup takes freed points off.
type fillingDisk struct {
	mount   string
	mu      sync.Mutex
	rate    float64
	start   time.Time
	offset  float64 // points freed so far
	highest float64
}

const diskBytes = 1 << 30

func (d *fillingDisk) value(now time.Time) float64 {
	return 50 + d.rate*now.Sub(d.start).Hours() - d.offset
}

func (d *fillingDisk) Sample(ctx context.Context, snap *detect.Snapshot) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	snap.Time = time.Now()
	v := d.value(snap.Time)
	d.highest = max(d.highest, v)
	snap.Readings = append(snap.Readings[:0], detect.Reading{ID: "disk:" + d.where(), Kind: issue.Disk, Subject: d.where(), Value: v})
	return nil
}

func (d *fillingDisk) where() string {
	if d.mount == "" {
		return "/"
	}
	return d.mount
}

func (d *fillingDisk) Mounts() []string { return []string{d.where()} }
func (d *fillingDisk) Close() error     { return nil }

func (d *fillingDisk) free(ctx context.Context) (map[string]uint64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return map[string]uint64{d.where(): uint64((100 - d.value(time.Now())) / 100 * diskBytes)}, nil
}

func (d *fillingDisk) clean(points float64) {
	d.mu.Lock()
	d.offset += points
	d.mu.Unlock()
}

// rig is an engine on a filling disk and a fake systemd, run under a fake
// clock, with every event it publishes.
type rig struct {
	e    *Engine
	disk *fillingDisk
	sd   *healtest.Systemd

	mu     sync.Mutex
	events []Event
}

const cleaner = "test-clean.service"

func newRig(t *testing.T, cfg *config.Config, frees float64) *rig {
	t.Helper()
	disk := &fillingDisk{rate: 12, start: time.Now()}
	sd := healtest.New(heal.UnitStatus{Name: cleaner, ActiveState: "inactive"})
	sd.OnStart = func(string) { disk.clean(frees) }
	cfg.Healing.CleanupUnits = []string{cleaner}
	cfg.Monitoring.Mounts = []string{"/"}
	pred, err := predict.New(predict.SettingsFrom(cfg.Predictive), nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Options{
		Config:     cfg,
		NewSampler: func(*config.Config) (Sampler, error) { return disk, nil },
		Healer:     heal.New(sd, heal.SettingsFrom(cfg, "luminous-healing.service"), disk.free),
		Audit:      audit.New(audit.Options{}),
		Predictor:  pred,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{e: e, disk: disk, sd: sd}
	ch, unsub := e.Subscribe(64)
	t.Cleanup(unsub)
	go func() {
		for ev := range ch {
			r.mu.Lock()
			r.events = append(r.events, ev)
			r.mu.Unlock()
		}
	}()
	return r
}

// runFor runs the engine for d of fake time.
func (r *rig) runFor(t *testing.T, d time.Duration) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- r.e.Run(ctx) }()
	time.Sleep(d)
	synctest.Wait()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	synctest.Wait()
}

// seen returns the events of one type, in order.
func (r *rig) seen(ty EventType) []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Event
	for _, ev := range r.events {
		if ev.Type == ty {
			out = append(out, ev)
		}
	}
	return out
}

func (r *rig) cleanups(outcome heal.Outcome) int {
	n := 0
	for _, ev := range r.seen(ActionDone) {
		if ev.Result.Action == issue.Cleanup && ev.Result.Outcome == outcome {
			n++
		}
	}
	return n
}

// plannedBeforeTheIssue counts the cleanups planned before any issue opened.
func (r *rig) plannedBeforeTheIssue() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ev := range r.events {
		if ev.Type == IssueDetected {
			break
		}
		if ev.Type == ActionDone && ev.Result.Action == issue.Cleanup && ev.Result.Outcome == heal.Planned {
			n++
		}
	}
	return n
}

// audited counts the history's entries of one event for one action.
func (r *rig) audited(ev audit.Event, action string) int {
	n := 0
	for _, e := range r.e.o.Audit.History(0) {
		if e.Event == ev && e.Action == action {
			n++
		}
	}
	return n
}

func (r *rig) starts() int {
	n := 0
	for _, c := range r.sd.Calls() {
		if c == "StartUnit "+cleaner+" fail" {
			n++
		}
	}
	return n
}

func TestPreventiveCleanup(t *testing.T) {
	t.Run("a filling disk is cleaned before it crosses, after one alert", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// 12 points an hour from 50 %: 90 % in 3 h 20 min. Each
			// cleanup frees 40 points; over 10 h the disk would pass
			// 100 % twice without them.
			r := newRig(t, config.Default(), 40)
			r.runFor(t, 10*time.Hour)

			if r.disk.highest >= 90 {
				t.Errorf("the disk reached %.1f %%; want it cleaned before 90 %%", r.disk.highest)
			}
			alerts, started := r.seen(PredictionAlert), r.starts()
			if started < 2 || len(alerts) != started {
				t.Errorf("%d alerts and %d cleanups; want one alert per cleanup, at least two of each", len(alerts), started)
			}
			if len(alerts) > 0 {
				f := alerts[0].Forecast
				if f.Series != "disk:/" || f.TimeToThreshold > 6*time.Hour || f.Confidence < 0.8 {
					t.Errorf("first alert %+v; want disk:/ within the horizon with confidence ≥ 0.8", f)
				}
				// 12 points/h is right; the time is the rest to 90 %.
				if math.Abs(f.TrendPerHour-12) > 1.5 {
					t.Errorf("trend %.2f/h; want about 12/h", f.TrendPerHour)
				}
			}
			for _, ev := range r.seen(IssueDetected) {
				t.Errorf("issue %s opened; want the disk kept below its threshold", ev.Issue.ID)
			}
			if a := r.e.Status().Accuracy; a.Voided < 2 || a.Scored != 0 {
				t.Errorf("accuracy %+v; want every recorded forecast voided by its cleanup, none scored", a)
			}
		})
	})

	t.Run("in dry-run the cleanup is planned once and the forecast is scored when the disk fills", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			cfg := config.Default()
			cfg.Healing.DryRun = true
			r := newRig(t, cfg, 40)
			r.runFor(t, 4*time.Hour)

			if n := r.starts(); n != 0 {
				t.Errorf("%d cleanup units started in dry-run; want none", n)
			}
			if n := r.plannedBeforeTheIssue(); n != 1 {
				t.Errorf("%d cleanups planned before the disk crossed; want exactly one for the one prediction", n)
			}
			if n := len(r.seen(PredictionAlert)); n != 1 {
				t.Errorf("%d alerts; want 1", n)
			}
			opened := r.seen(IssueDetected)
			if len(opened) != 1 || opened[0].Issue.ID != "disk:/" {
				t.Errorf("issues opened: %v; want disk:/ once it crossed", opened)
			}
			a := r.e.Status().Accuracy
			if a.Scored != 1 || a.Correct != 1 {
				t.Errorf("accuracy %+v; want the forecast scored correct when the disk crossed at 3 h 20 min", a)
			}
			if ratio, ok := a.Ratio(); !ok || ratio != 1 {
				t.Errorf("Ratio() = %v, %v; want 1, true", ratio, ok)
			}
		})
	})

	// A forecast made in dry-run still holds when dry-run goes off or
	// healing comes back: its cleanup runs then, before the disk crosses.
	// These failed before: the plan marked the forecast done for good, and
	// only the reactive cleanup ran once the disk had crossed.
	for _, tc := range []struct {
		name   string
		toggle func(e *Engine)
	}{
		{"a cleanup planned in dry-run runs once dry-run goes off", func(e *Engine) {
			e.SetDryRun(Caller{UID: 0}, false)
		}},
		{"a cleanup planned in dry-run runs once healing comes back on with dry-run off", func(e *Engine) {
			e.SetHealingEnabled(Caller{UID: 0}, false)
			e.SetDryRun(Caller{UID: 0}, false)
			time.Sleep(10 * time.Minute)
			e.SetHealingEnabled(Caller{UID: 0}, true)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := config.Default()
				cfg.Healing.DryRun = true
				r := newRig(t, cfg, 40)
				var toggled time.Duration
				go func() {
					t0 := time.Now()
					for r.plannedBeforeTheIssue() == 0 {
						time.Sleep(time.Minute)
					}
					toggled = time.Since(t0)
					tc.toggle(r.e)
				}()
				r.runFor(t, 4*time.Hour)

				if toggled == 0 || toggled > 3*time.Hour {
					t.Fatalf("planned at %s; want a plan well before the crossing at 3 h 20 min", toggled)
				}
				if n := r.starts(); n == 0 {
					t.Errorf("no cleanup ran after dry-run went off at %s; want the planned one to run", toggled)
				}
				if r.disk.highest >= 90 {
					t.Errorf("the disk reached %.1f %%; want it cleaned before 90 %%", r.disk.highest)
				}
				for _, ev := range r.seen(IssueDetected) {
					t.Errorf("issue %s opened; want the forecast acted on before the disk crossed", ev.Issue.ID)
				}
			})
		})
	}

	t.Run("a given-up breaker keeps the cleanup from running, and says so once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := newRig(t, config.Default(), 40)
			r.e.heal.ImportBreakers([]heal.BreakerRecord{{IssueID: "disk:/", GivenUp: true}})
			r.runFor(t, 2*time.Hour)

			if n := r.starts(); n != 0 {
				t.Errorf("%d cleanups started; want none", n)
			}
			if n := r.cleanups(heal.Refused); n != 1 {
				t.Errorf("%d refusals; want one: a given-up breaker is not retried", n)
			}
			if n := len(r.seen(PredictionAlert)); n != 1 {
				t.Errorf("%d alerts; want 1", n)
			}
		})
	})

	t.Run("with healing off the disk is only alerted on", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			cfg := config.Default()
			cfg.Healing.Enabled = false
			r := newRig(t, cfg, 40)
			r.runFor(t, 2*time.Hour)

			if n := r.starts() + r.cleanups(heal.Planned) + r.cleanups(heal.Refused); n != 0 {
				t.Errorf("%d cleanup attempts; want none", n)
			}
			if n := len(r.seen(PredictionAlert)); n != 1 {
				t.Errorf("%d alerts; want 1", n)
			}
		})
	})

	t.Run("the global action limit holds a preventive cleanup back until it allows it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			cfg := config.Default()
			cfg.Healing.MaxActionsPerMinute = 1
			r := newRig(t, cfg, 40)
			r.sd.Units["other.service"] = &heal.UnitStatus{Name: "other.service", LoadState: "loaded", ActiveState: "active",
				CPUWeight: heal.Unset, MemoryHigh: heal.Unset}
			// Someone uses the one action a minute allows, every minute,
			// half-way between two checks.
			stop := make(chan struct{})
			go func() {
				time.Sleep(30 * time.Second)
				r.e.RestartUnit(t.Context(), Caller{UID: 1000}, "other.service")
				tick := time.NewTicker(time.Minute)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						r.e.RestartUnit(t.Context(), Caller{UID: 1000}, "other.service")
					}
				}
			}()
			r.runFor(t, 20*time.Minute)
			close(stop)
			if n := r.starts(); n != 0 {
				t.Errorf("%d cleanups ran past the limit; want none", n)
			}
			if n := r.audited(audit.ActionRefused, "cleanup"); n != 1 {
				t.Errorf("%d refusals in the history; want the repeated refusal recorded once", n)
			}
			if n := r.cleanups(heal.Refused); n < 2 {
				t.Errorf("%d refused attempts; want the cleanup retried while the limit holds", n)
			}
		})
	})
}

// A forecast for /boot runs /boot's own cleanup units, not the global list:
// on NixOS nothing but the nix cleanup frees /boot.
func TestPreventiveCleanupOfAMountRunsItsOwnUnits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const bootCleaner = "boot-clean.service"
		cfg := config.Default()
		cfg.Healing.MountCleanupUnits = map[string][]string{"/boot": {bootCleaner}}
		disk := &fillingDisk{mount: "/boot", rate: 12, start: time.Now()}
		sd := healtest.New(heal.UnitStatus{Name: cleaner}, heal.UnitStatus{Name: bootCleaner})
		sd.OnStart = func(u string) {
			if u == bootCleaner {
				disk.clean(40)
			}
		}
		cfg.Healing.CleanupUnits = []string{cleaner}
		cfg.Monitoring.Mounts = []string{"/boot"}
		pred, err := predict.New(predict.SettingsFrom(cfg.Predictive), nil)
		if err != nil {
			t.Fatal(err)
		}
		e, err := New(Options{
			Config:     cfg,
			NewSampler: func(*config.Config) (Sampler, error) { return disk, nil },
			Healer:     heal.New(sd, heal.SettingsFrom(cfg, "luminous-healing.service"), disk.free),
			Audit:      audit.New(audit.Options{}),
			Predictor:  pred,
		})
		if err != nil {
			t.Fatal(err)
		}
		r := &rig{e: e, disk: disk, sd: sd}
		r.runFor(t, 5*time.Hour)
		calls := sd.Calls()
		if len(calls) == 0 || slices.ContainsFunc(calls, func(c string) bool { return c != "StartUnit "+bootCleaner+" fail" }) {
			t.Errorf("calls %q; want only %s started", calls, bootCleaner)
		}
		if disk.highest >= 90 {
			t.Errorf("/boot reached %.1f %%; want it cleaned before 90 %%", disk.highest)
		}
	})
}
