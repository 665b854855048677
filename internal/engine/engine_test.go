package engine_test

import (
	"errors"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/detect"
	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/securitytest"
	"github.com/luminous-healing/luminous-healing/internal/state"
	"github.com/luminous-healing/luminous-healing/internal/systemd"
)

func TestAFailedMonitoredUnitIsRestartedAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, setup{units: []heal.UnitStatus{active("web.service")}})
		synctest.Wait()
		h.drain()

		h.unit("web.service", "failed", "failed")
		synctest.Wait()

		want := []string{"ResetFailedUnit web.service", "RestartUnit web.service fail"}
		if got := h.sd.Calls(); !reflect.DeepEqual(got, want) {
			t.Fatalf("calls = %q; want %q, with no wait for the next poll", got, want)
		}
		// The issue opens, is announced healing, and resolves.
		if got, want := h.drain(), []string{"IssueDetected unit:web.service", "IssueChanged unit:web.service", "IssueResolved unit:web.service"}; !reflect.DeepEqual(got, want) {
			t.Errorf("events = %q; want %q", got, want)
		}
		ok := h.history(audit.ActionSucceeded)
		if len(ok) != 1 || ok[0].Target != "web.service" || ok[0].CallerUID != audit.Daemon {
			t.Errorf("history of successes = %+v; want one restart of web.service by the daemon", ok)
		}
		if h.eng.Status().ActiveIssues != 0 {
			t.Errorf("active issues = %d; want 0", h.eng.Status().ActiveIssues)
		}
	})
}

func TestAUnitThatIsNotMonitoredIsNeverTouched(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, setup{units: []heal.UnitStatus{active("web.service"), failed("other.service")}})
		h.watcher.C <- systemd.Event{Unit: "other.service", ActiveState: "failed", SubState: "failed"}
		time.Sleep(5 * time.Minute) // several checks and polls
		synctest.Wait()
		if calls := h.sd.Calls(); len(calls) != 0 {
			t.Errorf("calls = %q; want none", calls)
		}
		if _, ok := h.issue("unit:other.service"); ok {
			t.Errorf("an issue was opened for an unmonitored unit")
		}
	})
}

func TestDryRunPlansAndActsOnNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, setup{
			cfg:   func(c *config.Config) { c.Healing.DryRun = true },
			units: []heal.UnitStatus{active("web.service")},
		})
		h.unit("web.service", "failed", "failed")
		synctest.Wait()
		if calls := h.sd.Calls(); len(calls) != 0 {
			t.Errorf("calls = %q; want none in dry-run", calls)
		}
		rec, ok := h.issue("unit:web.service")
		if !ok || rec.State != issue.Planned || rec.Action != issue.Restart {
			t.Errorf("issue = %+v (open %v); want open, restart planned", rec, ok)
		}
		planned := h.history(audit.ActionPlanned)
		if len(planned) != 1 || !planned[0].DryRun {
			t.Errorf("planned entries = %+v; want one, marked dry-run", planned)
		}
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if n := len(h.history(audit.ActionPlanned)); n != 1 {
			t.Errorf("%d planned entries after ten minutes; want the plan recorded once", n)
		}
	})
}

func TestAnAlwaysFailingUnitIsRetriedWithBackoffThenLeftAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, setup{
			cfg: func(c *config.Config) {
				c.Healing.Backoff = config.Duration(10 * time.Second)
				c.Healing.BackoffMax = config.Duration(time.Minute)
				c.Healing.MaxAttempts = 3
			},
			units: []heal.UnitStatus{active("web.service")},
		})
		h.sd.AfterRestart["web.service"] = "failed"
		h.unit("web.service", "failed", "failed")
		synctest.Wait()
		if n := h.countCalls("RestartUnit"); n != 1 {
			t.Fatalf("%d restarts right after the failure; want 1", n)
		}
		time.Sleep(9 * time.Second)
		synctest.Wait()
		if n := h.countCalls("RestartUnit"); n != 1 {
			t.Fatalf("%d restarts 9 s later; want still 1 (backoff 10 s)", n)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if n := h.countCalls("RestartUnit"); n != 2 {
			t.Fatalf("%d restarts 11 s later; want 2", n)
		}
		time.Sleep(21 * time.Second) // the second backoff is 20 s
		synctest.Wait()
		if n := h.countCalls("RestartUnit"); n != 3 {
			t.Fatalf("%d restarts after the second backoff; want 3", n)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := h.countCalls("RestartUnit"); n != 3 {
			t.Errorf("%d restarts an hour later; want 3: the unit is left alone", n)
		}
		rec, _ := h.issue("unit:web.service")
		if rec.State != issue.GivenUp {
			t.Errorf("state = %s; want given-up", rec.State)
		}
		if len(h.history(audit.BreakerOpened)) != 1 {
			t.Errorf("no breaker-opened record in the history")
		}
		failedEvents := 0
		for _, ev := range h.drain() {
			if ev == "HealingFailed unit:web.service" {
				failedEvents++
			}
		}
		if failedEvents != 3 {
			t.Errorf("%d HealingFailed signals; want 3", failedEvents)
		}

		// An operator fixes and starts it: the breaker re-arms itself.
		h.unit("web.service", "active", "running")
		synctest.Wait()
		if _, open := h.issue("unit:web.service"); open {
			t.Errorf("the issue is still open after the unit recovered")
		}
		if len(h.history(audit.BreakerReset)) != 1 {
			t.Errorf("no breaker-reset record after the unit recovered by itself")
		}
		if len(h.eng.Status().Breakers) != 0 {
			t.Errorf("breakers = %+v; want none", h.eng.Status().Breakers)
		}
	})
}

func TestUnitsSystemdRestartsByItselfAreLeftToIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, setup{units: []heal.UnitStatus{active("web.service")}})
		h.unit("web.service", "activating", "auto-restart")
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if calls := h.sd.Calls(); len(calls) != 0 {
			t.Fatalf("calls while systemd retries = %q; want none", calls)
		}
		h.sd.Units["web.service"].Result = "start-limit-hit"
		h.unit("web.service", "failed", "failed")
		synctest.Wait()
		want := []string{"ResetFailedUnit web.service", "RestartUnit web.service fail"}
		if got := h.sd.Calls(); !reflect.DeepEqual(got, want) {
			t.Errorf("calls once systemd gave up = %q; want %q", got, want)
		}
	})
}

func TestAUnitStoppedOnPurposeStaysStopped(t *testing.T) {
	dir, err := state.Open(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	synctest.Test(t, func(t *testing.T) {
		h := start(t, setup{dir: dir, units: []heal.UnitStatus{active("web.service")}})
		synctest.Wait()
		// The poll may read it inactive before the watcher's event, which
		// says a stop job took it down, is handled.
		h.sd.Set("web.service", "inactive", "dead")
		time.Sleep(time.Second)
		h.watcher.C <- systemd.Event{Unit: "web.service", ActiveState: "inactive", SubState: "dead", StopJob: true, Job: "stop", Time: time.Now()}
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if calls := h.sd.Calls(); len(calls) != 0 {
			t.Errorf("calls = %q; want none for a unit an operator stopped", calls)
		}
		h.close()
		again := start(t, setup{dir: dir, units: []heal.UnitStatus{{Name: "web.service", ActiveState: "inactive", UnitFileState: "enabled"}}})
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if calls := again.sd.Calls(); len(calls) != 0 {
			t.Errorf("calls after a daemon restart = %q; want the operator's stop remembered", calls)
		}
	})
}

func TestAUnitThatStopsByItselfIsStartedAfterTheGracePeriod(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, setup{units: []heal.UnitStatus{active("web.service")}})
		synctest.Wait()
		h.unit("web.service", "inactive", "dead")
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if n := h.countCalls("RestartUnit"); n != 0 {
			t.Fatalf("%d restarts within the grace period; want 0", n)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if n := h.countCalls("RestartUnit"); n != 1 {
			t.Errorf("%d restarts after the grace period; want 1", n)
		}
	})
}

func TestAnEnabledUnitFoundInactiveIsStarted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, setup{units: []heal.UnitStatus{{Name: "web.service", ActiveState: "inactive", SubState: "dead", UnitFileState: "enabled"}}})
		synctest.Wait()
		if got := h.sd.Calls(); !reflect.DeepEqual(got, []string{"RestartUnit web.service fail"}) {
			t.Errorf("calls = %q; want a restart found by the start-up poll", got)
		}
	})
}

func disk(v float64) detect.Reading {
	return detect.Reading{ID: "disk:/", Kind: issue.Disk, Subject: "/", Value: v}
}

func TestAFullDiskIsCleanedUpAfterTheHysteresisAndClears(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, setup{units: []heal.UnitStatus{active("web.service"), {Name: "systemd-tmpfiles-clean.service"}}})
		h.sampler.Set(disk(95))
		time.Sleep(time.Minute + time.Second) // first check: one sample above
		synctest.Wait()
		if _, open := h.issue("disk:/"); open || h.countCalls("StartUnit") != 0 {
			t.Fatalf("an issue opened after one sample; want it to wait for two")
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		rec, open := h.issue("disk:/")
		if !open || rec.Severity != issue.Warning || rec.Action != issue.Cleanup {
			t.Fatalf("after two samples issue = %+v (open %v); want a warning with cleanup", rec, open)
		}
		if n := h.countCalls("StartUnit systemd-tmpfiles-clean.service"); n != 1 {
			t.Fatalf("cleanup unit started %d times; want 1", n)
		}
		h.sampler.Set(disk(87)) // below threshold but within the margin
		time.Sleep(time.Minute)
		synctest.Wait()
		if _, open := h.issue("disk:/"); !open {
			t.Fatalf("cleared at 87%%; want it to stay open until below 85%%")
		}
		h.sampler.Set(disk(70))
		time.Sleep(time.Minute)
		synctest.Wait()
		if _, open := h.issue("disk:/"); open {
			t.Errorf("still open at 70%%")
		}
		got := h.drain()
		// Open, healing, healed (waiting below the hysteresis), resolved.
		want := []string{"IssueDetected disk:/", "IssueChanged disk:/", "IssueChanged disk:/", "IssueResolved disk:/"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("events = %q; want %q", got, want)
		}
	})
}

func TestACleanupThatDoesNotHelpIsRetriedThenGivenUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, setup{
			cfg: func(c *config.Config) {
				c.Healing.MaxAttempts = 2
				c.Healing.Backoff = config.Duration(time.Minute)
			},
			units: []heal.UnitStatus{active("web.service"), {Name: "systemd-tmpfiles-clean.service"}},
		})
		h.sampler.Set(disk(99))
		time.Sleep(time.Hour)
		synctest.Wait()
		n := h.countCalls("StartUnit")
		if n != 2 {
			t.Errorf("cleanup ran %d times in an hour on a disk it cannot help; want 2 (max_attempts)", n)
		}
		if rec, _ := h.issue("disk:/"); rec.State != issue.GivenUp || rec.Severity != issue.Critical {
			t.Errorf("issue = %+v; want critical and given up", rec)
		}
	})
}

func TestMemoryPressureThrottlesTheTopConsumerAndReleasesIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hog := heal.UnitStatus{Name: "hog.service", ActiveState: "active", MemoryCurrent: 4 << 30}
		h := start(t, setup{units: []heal.UnitStatus{active("web.service"), hog}})
		h.sd.Usage = []heal.Usage{{Unit: "hog.service", MemoryCurrent: 4 << 30}, {Unit: "web.service", MemoryCurrent: 1 << 20}}
		h.sampler.Set(detect.Reading{ID: "memory", Kind: issue.Memory, Subject: "memory", Value: 90})
		time.Sleep(2*time.Minute + time.Second)
		synctest.Wait()
		if n := h.countCalls("SetUnitProperties hog.service runtime MemoryHigh"); n != 1 {
			t.Fatalf("calls = %q; want MemoryHigh set on hog.service", h.sd.Calls())
		}
		if th := h.eng.Status().Throttles; len(th) != 1 || th[0].Unit != "hog.service" {
			t.Errorf("throttles = %+v; want hog.service", th)
		}
		h.sampler.Set(detect.Reading{ID: "memory", Kind: issue.Memory, Subject: "memory", Value: 40})
		time.Sleep(time.Minute)
		synctest.Wait()
		if u := h.sd.Units["hog.service"]; u.MemoryHigh != heal.Unset {
			t.Errorf("MemoryHigh = %d after the pressure cleared; want it released", u.MemoryHigh)
		}
		if th := h.eng.Status().Throttles; len(th) != 0 {
			t.Errorf("throttles = %+v; want none", th)
		}
	})
}

func TestRuntimeSettingsSurviveARestartAndReloadDropsThem(t *testing.T) {
	dir, err := state.Open(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config.toml")
	os.WriteFile(path, []byte("[services]\nmonitored = [\"web\"]\n"), 0o644)
	synctest.Test(t, func(t *testing.T) {
		h := start(t, setup{dir: dir, configPath: path, units: []heal.UnitStatus{active("web.service")}})
		if changed, err := h.eng.SetHealingEnabled(engine.Caller{UID: 0}, false); !changed || err != nil {
			t.Fatalf("SetHealingEnabled(false) = %v, %v", changed, err)
		}
		if changed, _ := h.eng.SetHealingEnabled(engine.Caller{UID: 0}, false); changed {
			t.Errorf("a second SetHealingEnabled(false) reported a change")
		}
		if _, err := h.eng.SetThreshold(engine.Caller{UID: 0}, "disk", 70); err != nil {
			t.Fatal(err)
		}
		h.close()

		again := start(t, setup{dir: dir, configPath: path, units: []heal.UnitStatus{active("web.service")}})
		if again.eng.HealingEnabled() {
			t.Errorf("healing is enabled again after a restart; want the operator's off to stick")
		}
		again.unit("web.service", "failed", "failed")
		synctest.Wait()
		if calls := again.sd.Calls(); len(calls) != 0 {
			t.Errorf("calls with healing off = %q; want none", calls)
		}
		if rec, _ := again.issue("unit:web.service"); rec.State != issue.Watching {
			t.Errorf("state = %s; want watching", rec.State)
		}
		if err := again.eng.Reload(t.Context(), engine.Caller{UID: 0}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if !again.eng.HealingEnabled() {
			t.Errorf("healing still off after Reload; want the file's setting back")
		}
		if n := again.countCalls("RestartUnit"); n != 1 {
			t.Errorf("%d restarts after healing came back on; want the waiting issue healed", n)
		}
	})
}

func TestABadReloadKeepsTheRunningConfiguration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	os.WriteFile(path, []byte("[thresholds]\ncpu = 70\n"), 0o644)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	_ = cfg
	synctest.Test(t, func(t *testing.T) {
		eng := engineWithConfigPath(t, path)
		os.WriteFile(path, []byte("[thresholds]\ncpu = 170\n"), 0o644)
		err := eng.Reload(t.Context(), engine.Caller{UID: 0})
		var e *engine.Error
		if !errors.As(err, &e) || e.Code != engine.ActionFailed {
			t.Fatalf("Reload of a bad file = %v; want ActionFailed", err)
		}
		if got := eng.Config().Thresholds.CPU; got != 70 {
			t.Errorf("cpu threshold = %v after a bad reload; want 70 kept", got)
		}
	})
}

func engineWithConfigPath(t *testing.T, path string) *engine.Engine {
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeSampler{}
	eng, err := engine.New(engine.Options{Config: cfg, ConfigPath: path, Healer: heal.New(nil, heal.SettingsFrom(cfg, ""), nil),
		Audit: audit.New(audit.Options{}), NewSampler: func(*config.Config) (engine.Sampler, error) { return s, nil }})
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

func TestSetThresholdRejectsBadValuesAndChangesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, setup{})
		for _, tt := range []struct {
			kind string
			v    float64
		}{
			{"cpu", math.NaN()}, {"cpu", math.Inf(1)}, {"memory", -1}, {"disk", 101}, {"disk", 0},
			{"load", 0}, {"fan", 50}, {"pressure", 100.5},
		} {
			changed, err := h.eng.SetThreshold(engine.Caller{}, tt.kind, tt.v)
			var e *engine.Error
			if !errors.As(err, &e) || e.Code != engine.InvalidArgument || changed {
				t.Errorf("SetThreshold(%s, %v) = %v, %v; want InvalidArgument and no change", tt.kind, tt.v, changed, err)
			}
		}
		if got := h.eng.Config().Thresholds; got != config.Default().Thresholds {
			t.Errorf("thresholds = %+v; want the defaults untouched", got)
		}
		if n := len(h.history(audit.SettingChanged)); n != 0 {
			t.Errorf("%d setting changes recorded; want none", n)
		}
	})
}

func TestAnInjectedIssueRunsThePipelineAndEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, setup{units: []heal.UnitStatus{active("web.service")}})
		synctest.Wait()
		h.drain()
		rec, err := h.eng.InjectIssue(t.Context(), engine.Caller{UID: 0}, engine.Injection{Kind: issue.Unit, Subject: "web", Severity: issue.Critical})
		if err != nil {
			t.Fatal(err)
		}
		if rec.ID != "unit:web.service" || !rec.Synthetic {
			t.Errorf("record = %+v; want unit:web.service, synthetic", rec)
		}
		synctest.Wait()
		if n := h.countCalls("RestartUnit web.service"); n != 1 {
			t.Errorf("%d restarts; want the injected issue's action to run", n)
		}
		// The issue opens, is announced healing, and resolves.
		if got, want := h.drain(), []string{"IssueDetected unit:web.service", "IssueChanged unit:web.service", "IssueResolved unit:web.service"}; !reflect.DeepEqual(got, want) {
			t.Errorf("events = %q; want %q", got, want)
		}
		_, err = h.eng.InjectIssue(t.Context(), engine.Caller{}, engine.Injection{Kind: issue.Disk, Subject: "relative/path"})
		var e *engine.Error
		if !errors.As(err, &e) || e.Code != engine.InvalidArgument {
			t.Errorf("injecting a disk issue on a relative path = %v; want InvalidArgument", err)
		}
	})
}

func TestOperatorCallsMapFailuresToCodes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, setup{units: []heal.UnitStatus{active("web.service"), {Name: "sshd.service", ActiveState: "active"}}})
		tests := []struct {
			name string
			call func() error
			want engine.Code
		}{
			{"healing an unknown issue", func() error { _, err := h.eng.Heal(t.Context(), engine.Caller{}, "disk:/nope"); return err }, engine.NotFound},
			{"restarting a unit that does not exist", func() error { _, err := h.eng.RestartUnit(t.Context(), engine.Caller{}, "nope.service"); return err }, engine.NotFound},
			{"throttling a protected unit", func() error { _, err := h.eng.Throttle(t.Context(), engine.Caller{}, "sshd.service"); return err }, engine.InvalidArgument},
			{"releasing a unit never throttled", func() error { _, err := h.eng.Release(t.Context(), engine.Caller{}, "web.service"); return err }, engine.NotFound},
			{"resetting a breaker that does not exist", func() error { return h.eng.ResetBreaker(t.Context(), engine.Caller{}, "unit:x.service") }, engine.NotFound},
			{"restarting the daemon itself", func() error {
				_, err := h.eng.RestartUnit(t.Context(), engine.Caller{}, "luminous-healing.service")
				return err
			}, engine.InvalidArgument},
		}
		for _, tt := range tests {
			err := tt.call()
			var e *engine.Error
			if !errors.As(err, &e) || e.Code != tt.want {
				t.Errorf("%s: %v; want %s", tt.name, err, tt.want)
			}
		}
		if calls := h.sd.Calls(); len(calls) != 0 {
			t.Errorf("calls = %q; want none", calls)
		}
	})
}

func TestReloadKeepsTheCommandLinesOverrides(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	os.WriteFile(path, []byte("[monitoring]\ninterval = \"60s\"\n"), 0o644)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	amend := func(c *config.Config) { c.Monitoring.Interval = config.Duration(5 * time.Second) }
	amend(cfg)
	s := &fakeSampler{}
	eng, err := engine.New(engine.Options{Config: cfg, ConfigPath: path, Amend: amend,
		Healer: heal.New(nil, heal.SettingsFrom(cfg, ""), nil), Audit: audit.New(audit.Options{}),
		NewSampler: func(*config.Config) (engine.Sampler, error) { return s, nil }})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Reload(t.Context(), engine.Caller{}); err != nil {
		t.Fatal(err)
	}
	if got := eng.Config().Monitoring.Interval.D(); got != 5*time.Second {
		t.Errorf("interval after reload = %s; want the --interval override, 5s", got)
	}
}

// Turning the pressure threshold on needs no new sampler: a new one
// would reopen /proc and lose the CPU counters, so the next check would
// have no CPU reading. Only a change of mounts builds one.
func TestReloadBuildsASamplerOnlyForNewMounts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	os.WriteFile(path, []byte("[monitoring]\nmounts = [\"/\"]\n"), 0o644)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	built := 0
	eng, err := engine.New(engine.Options{Config: cfg, ConfigPath: path,
		Healer: heal.New(nil, heal.SettingsFrom(cfg, ""), nil), Audit: audit.New(audit.Options{}),
		NewSampler: func(*config.Config) (engine.Sampler, error) { built++; return &fakeSampler{}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		file  string
		built int
	}{
		{"[monitoring]\nmounts = [\"/\"]\n[thresholds]\npressure = 20.0\n", 1},
		{"[monitoring]\nmounts = [\"/\", \"/srv\"]\n[thresholds]\npressure = 20.0\n", 2},
	} {
		os.WriteFile(path, []byte(c.file), 0o644)
		if err := eng.Reload(t.Context(), engine.Caller{}); err != nil {
			t.Fatal(err)
		}
		if built != c.built {
			t.Errorf("after reloading %q: %d samplers built; want %d", c.file, built, c.built)
		}
	}
}

// A subscriber that falls behind is logged once per stretch of lost
// events, not once per event and not only the first time.
func TestASlowSubscriberIsLoggedOncePerBurst(t *testing.T) {
	var logs strings.Builder
	cfg := config.Default()
	eng, err := engine.New(engine.Options{Config: cfg, Healer: heal.New(nil, heal.SettingsFrom(cfg, ""), nil),
		Audit: audit.New(audit.Options{}), Log: slog.New(slog.NewTextHandler(&logs, nil)),
		NewSampler: func(*config.Config) (engine.Sampler, error) { return &fakeSampler{}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	events, stop := eng.Subscribe(1)
	defer stop()
	burst := func() {
		for i := range 6 { // each change is an audit record and a StatusChanged
			if _, err := eng.SetHealingEnabled(engine.Caller{}, i%2 == 1); err != nil {
				t.Fatal(err)
			}
		}
	}
	burst()
	for len(events) > 0 {
		<-events
	}
	burst()
	if n := strings.Count(logs.String(), "a subscriber is too slow"); n != 2 {
		t.Errorf("%d warnings over two bursts; want 2:\n%s", n, logs.String())
	}
}

func TestAUnitEventIsCheckedAgainstSystemdBeforeItClearsAnythingOrRearmsABreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, setup{
			cfg:   func(c *config.Config) { c.Healing.MaxAttempts = 1 },
			units: []heal.UnitStatus{active("web.service")},
		})
		h.sd.AfterRestart["web.service"] = "failed"
		h.unit("web.service", "failed", "failed")
		synctest.Wait()
		if rec, _ := h.issue("unit:web.service"); rec.State != issue.GivenUp {
			t.Fatalf("state = %s; want given-up after the one allowed attempt", rec.State)
		}
		restarts := h.countCalls("RestartUnit")

		// An event says the unit is active, but systemd says it is still
		// failed (a forged or stale signal): nothing is cleared or re-armed.
		securitytest.Tried(t, securitytest.Forged, "an event systemd does not confirm (active, for a given-up unit)", 1)
		h.watcher.C <- systemd.Event{Unit: "web.service", ActiveState: "active", SubState: "running", Time: time.Now()}
		synctest.Wait()
		if _, open := h.issue("unit:web.service"); !open {
			t.Errorf("the issue was resolved by an event systemd does not confirm")
		}
		if n := len(h.history(audit.BreakerReset)); n != 0 {
			t.Errorf("%d breaker-reset records; want 0: the breaker was re-armed on an unconfirmed event", n)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := h.countCalls("RestartUnit"); n != restarts {
			t.Errorf("%d restarts after the unconfirmed event; want %d", n, restarts)
		}
	})
}

func TestRestartsSystemdDidItselfAreRecordedNotActedOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		web := active("web.service")
		web.HasNRestarts, web.NRestarts = true, 4 // from before the daemon started: not counted
		h := start(t, setup{units: []heal.UnitStatus{web}})
		synctest.Wait()
		h.sd.Units["web.service"].NRestarts = 6
		h.unit("web.service", "active", "running")
		synctest.Wait()
		time.Sleep(time.Second)                 // events of one unit closer than 200 ms are read back once
		h.sd.Units["web.service"].NRestarts = 1 // an administrator restarted it, then systemd once more
		h.unit("web.service", "active", "running")
		synctest.Wait()
		var got []string
		for _, e := range h.audit.History(0) {
			if e.Event == audit.RestartedBySystemd {
				got = append(got, e.Message)
			}
		}
		if len(got) != 3 {
			t.Errorf("restarted-by-systemd records = %q; want 3", got)
		}
		if calls := h.sd.Calls(); len(calls) != 0 {
			t.Errorf("calls = %q; want none", calls)
		}
	})
}

func TestRestoredOverridesPassTheChecksALiveCallDoes(t *testing.T) {
	dir, err := state.Open(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	bad := `{"Overrides":{"Thresholds":{"memory":1e9,"gpu":50,"disk":-3,"cpu":70}},"Stopped":["a/b","../etc"]}`
	securitytest.Tried(t, securitytest.BadInput, "state.json with memory = 1e9, an unknown kind, a negative threshold and bad unit names", 5)
	if err := os.WriteFile(filepath.Join(dir.Path(), "state.json"), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	synctest.Test(t, func(t *testing.T) {
		h := start(t, setup{dir: dir, cfg: func(c *config.Config) { c.Monitoring.Interval = config.Duration(time.Second) }})
		h.sampler.Set(detect.Reading{ID: "memory", Kind: "memory", Subject: "memory", Value: 42},
			detect.Reading{ID: "cpu", Kind: "cpu", Subject: "cpu", Value: 10})
		time.Sleep(2 * time.Second)
		synctest.Wait()
		def := config.Default()
		seen := 0
		for _, r := range h.eng.Status().Resources {
			switch r.Kind {
			case "memory":
				seen++
				if r.Threshold != def.Thresholds.Memory {
					t.Errorf("memory threshold = %v; want the configured %v: 1e9 is refused live and on restore", r.Threshold, def.Thresholds.Memory)
				}
			case "cpu":
				seen++
				if r.Threshold != 70 {
					t.Errorf("cpu threshold = %v; want the saved, valid 70 kept", r.Threshold)
				}
			}
		}
		if seen != 2 {
			t.Fatalf("status has %d of the memory and cpu resources; want both", seen)
		}
		if _, err := h.eng.SetThreshold(engine.Caller{UID: 0}, "memory", 1e9); err == nil {
			t.Fatalf("SetThreshold(memory, 1e9) succeeded; the test's premise is wrong")
		}
	})
}

func TestAUnitWhoseStopFailedIsStillStoppedOnPurpose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, setup{units: []heal.UnitStatus{active("web.service")}})
		synctest.Wait()
		// systemctl stop; its ExecStop= fails and systemd marks it failed.
		h.sd.Set("web.service", "failed", "failed")
		h.sd.Units["web.service"].Result = "exit-code"
		h.watcher.C <- systemd.Event{Unit: "web.service", ActiveState: "failed", SubState: "failed", StopJob: true, Time: time.Now()}
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if calls := h.sd.Calls(); len(calls) != 0 {
			t.Errorf("calls = %q; want none for a unit whose stop failed", calls)
		}
		if _, open := h.issue("unit:web.service"); open {
			t.Error("an issue is open for a unit stopped on purpose")
		}
		// Started again, it is healed as any other.
		h.unit("web.service", "active", "running")
		synctest.Wait()
		h.sd.Units["web.service"].Result = "signal"
		h.unit("web.service", "failed", "failed")
		synctest.Wait()
		if n := h.countCalls("RestartUnit"); n != 1 {
			t.Errorf("%d restarts of a crash after it was started again; want 1", n)
		}
	})
}
