package heal_test

import (
	"context"
	"errors"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/heal/healtest"
	"github.com/luminous-healing/luminous-healing/internal/issue"
)

func testSettings() heal.Settings {
	c := config.Default()
	c.Services.Monitored = []string{"web.service", "leaky.service"}
	s := heal.SettingsFrom(c, "luminous-healing.service")
	s.CPUSampleGap = 10 * time.Millisecond
	return s
}

func unitIssue(name string) issue.Record {
	return issue.Record{ID: issue.ID(issue.Unit, name), Kind: issue.Unit, Subject: name, Severity: issue.Critical}
}

func TestRestart(t *testing.T) {
	tests := []struct {
		name        string
		unit        heal.UnitStatus
		jobResult   string
		landsIn     string
		wantOutcome heal.Outcome
		wantErr     error
		wantCalls   []string
	}{
		{
			name:        "a failed unit is reset, restarted and verified active",
			unit:        heal.UnitStatus{Name: "web.service", ActiveState: "failed", Result: "signal"},
			wantOutcome: heal.Succeeded,
			wantCalls:   []string{"ResetFailedUnit web.service", "RestartUnit web.service fail"},
		},
		{
			name:        "an inactive unit is restarted without a reset",
			unit:        heal.UnitStatus{Name: "web.service", ActiveState: "inactive"},
			wantOutcome: heal.Succeeded,
			wantCalls:   []string{"RestartUnit web.service fail"},
		},
		{
			name:        "a unit that hit its start limit is reset first, so the restart works",
			unit:        heal.UnitStatus{Name: "web.service", ActiveState: "failed", Result: "start-limit-hit"},
			wantOutcome: heal.Succeeded,
			wantCalls:   []string{"ResetFailedUnit web.service", "RestartUnit web.service fail"},
		},
		{
			name:        "a failed job is a failed action",
			unit:        heal.UnitStatus{Name: "web.service", ActiveState: "failed"},
			jobResult:   "failed",
			wantOutcome: heal.Failed,
			wantErr:     heal.ErrFailed,
			wantCalls:   []string{"ResetFailedUnit web.service", "RestartUnit web.service fail"},
		},
		{
			name:        "a unit that is not active after its job is a failed action",
			unit:        heal.UnitStatus{Name: "web.service", ActiveState: "failed"},
			landsIn:     "failed",
			wantOutcome: heal.Failed,
			wantErr:     heal.ErrFailed,
			wantCalls:   []string{"ResetFailedUnit web.service", "RestartUnit web.service fail"},
		},
		{
			name:        "a job that ended unseen is judged by the unit: active is a success",
			unit:        heal.UnitStatus{Name: "web.service", ActiveState: "failed"},
			jobResult:   heal.JobUnknown,
			wantOutcome: heal.Succeeded,
			wantCalls:   []string{"ResetFailedUnit web.service", "RestartUnit web.service fail"},
		},
		{
			name:        "a job that ended unseen is judged by the unit: failed is a failure",
			unit:        heal.UnitStatus{Name: "web.service", ActiveState: "failed"},
			jobResult:   heal.JobUnknown,
			landsIn:     "failed",
			wantOutcome: heal.Failed,
			wantErr:     heal.ErrFailed,
			wantCalls:   []string{"ResetFailedUnit web.service", "RestartUnit web.service fail"},
		},
		{
			name:        "a unit that does not exist is refused untouched",
			unit:        heal.UnitStatus{Name: "other.service", ActiveState: "active"},
			wantOutcome: heal.Refused,
			wantErr:     heal.ErrNotFound,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := healtest.New(tt.unit)
			if tt.jobResult != "" {
				f.JobResult["web.service"] = tt.jobResult
			}
			if tt.landsIn != "" {
				f.AfterRestart["web.service"] = tt.landsIn
			}
			h := heal.New(f, testSettings(), nil)
			res := h.Do(t.Context(), heal.Request{Action: issue.Restart, Target: "web.service", Issue: unitIssue("web.service")})
			if res.Outcome != tt.wantOutcome {
				t.Errorf("outcome = %s (%s); want %s", res.Outcome, res.Message, tt.wantOutcome)
			}
			if res.Duration <= 0 {
				t.Errorf("duration = %s; want the time the action took", res.Duration)
			}
			if tt.wantErr != nil && !errors.Is(res.Err, tt.wantErr) {
				t.Errorf("err = %v; want %v", res.Err, tt.wantErr)
			}
			if got := f.Calls(); !reflect.DeepEqual(got, tt.wantCalls) && !(len(got) == 0 && len(tt.wantCalls) == 0) {
				t.Errorf("calls = %q; want %q", got, tt.wantCalls)
			}
		})
	}
}

func TestDryRunPlansAndChangesNothing(t *testing.T) {
	f := healtest.New(
		heal.UnitStatus{Name: "web.service", ActiveState: "failed"},
		heal.UnitStatus{Name: "systemd-tmpfiles-clean.service"},
		heal.UnitStatus{Name: "hog.service", ActiveState: "active", MemoryCurrent: 1 << 30},
	)
	f.Usage = []heal.Usage{{Unit: "hog.service", MemoryCurrent: 1 << 30, CPUUsageNSec: 0}}
	h := heal.New(f, testSettings(), nil)
	h.SetDryRun(true)
	for _, req := range []heal.Request{
		{Action: issue.Restart, Target: "web.service", Issue: unitIssue("web.service")},
		{Action: issue.Cleanup, Issue: issue.Record{ID: "disk:/", Kind: issue.Disk, Subject: "/"}},
		{Action: issue.Throttle, Issue: issue.Record{ID: "memory", Kind: issue.Memory, Severity: issue.Warning}},
	} {
		res := h.Do(t.Context(), req)
		if res.Outcome != heal.Planned || !res.DryRun {
			t.Errorf("%s: outcome = %s (%s); want planned", req.Action, res.Outcome, res.Message)
		}
		if !strings.HasPrefix(res.Message, "dry-run: would ") {
			t.Errorf("%s: message = %q; want it to say what would have been done", req.Action, res.Message)
		}
	}
	if calls := f.Calls(); len(calls) != 0 {
		t.Errorf("dry-run made calls %q; want none", calls)
	}
}

func TestTheDaemonNeverActsOnItself(t *testing.T) {
	f := healtest.New(heal.UnitStatus{Name: "luminous-healing.service", ActiveState: "failed"})
	h := heal.New(f, testSettings(), nil)
	for _, a := range []issue.Action{issue.Restart, issue.Throttle} {
		res := h.Do(t.Context(), heal.Request{Action: a, Target: "luminous-healing.service", Operator: true})
		if res.Outcome != heal.Refused {
			t.Errorf("%s on itself: outcome = %s; want refused", a, res.Outcome)
		}
	}
	if calls := f.Calls(); len(calls) != 0 {
		t.Errorf("calls = %q; want none", calls)
	}
}

func TestProtectedUnitsAreNeverThrottled(t *testing.T) {
	f := healtest.New(
		heal.UnitStatus{Name: "sshd.service", ActiveState: "active", MemoryCurrent: 8 << 30},
		heal.UnitStatus{Name: "db.service", ActiveState: "active", MemoryCurrent: 2 << 30},
	)
	f.Usage = []heal.Usage{{Unit: "sshd.service", MemoryCurrent: 8 << 30}, {Unit: "db.service", MemoryCurrent: 2 << 30}}
	s := testSettings()
	s.Protected = append(s.Protected, "db.service")
	h := heal.New(f, s, nil)

	res := h.Do(t.Context(), heal.Request{Action: issue.Throttle, Target: "sshd.service", Operator: true})
	if res.Outcome != heal.Refused || !errors.Is(res.Err, heal.ErrProtected) {
		t.Errorf("operator throttle of sshd: %s %v; want refused as protected", res.Outcome, res.Err)
	}
	res = h.Do(t.Context(), heal.Request{Action: issue.Throttle, Issue: issue.Record{ID: "memory", Kind: issue.Memory, Severity: issue.Warning}})
	if res.Outcome != heal.Refused || !errors.Is(res.Err, heal.ErrElsewhere) || !strings.Contains(res.Message, "sshd.service, which is protected") {
		t.Errorf("automatic throttle with only protected consumers: %s %v (%s); want refused, saying the load is in protected sshd.service", res.Outcome, res.Err, res.Message)
	}
	if calls := f.Calls(); len(calls) != 0 {
		t.Errorf("calls = %q; want none", calls)
	}
}

func TestThrottleAndRelease(t *testing.T) {
	f := healtest.New(
		heal.UnitStatus{Name: "hog.service", ActiveState: "active", MemoryCurrent: 1000 << 20},
		heal.UnitStatus{Name: "small.service", ActiveState: "active", MemoryCurrent: 10 << 20},
		heal.UnitStatus{Name: "dbus.service", ActiveState: "active", MemoryCurrent: 4000 << 20},
	)
	f.Usage = []heal.Usage{
		{Unit: "hog.service", MemoryCurrent: 1000 << 20},
		{Unit: "small.service", MemoryCurrent: 10 << 20},
		{Unit: "dbus.service", MemoryCurrent: 4000 << 20},
	}
	f.CPURate = map[string]uint64{"hog.service": 900e6, "small.service": 10e6, "dbus.service": 5000e6}
	h := heal.New(f, testSettings(), nil)
	mem := issue.Record{ID: "memory", Kind: issue.Memory, Severity: issue.Warning}

	res := h.Do(t.Context(), heal.Request{Action: issue.Throttle, Issue: mem})
	if res.Outcome != heal.Succeeded || res.Target != "hog.service" {
		t.Fatalf("throttle: %s on %q (%s); want succeeded on hog.service, the top unprotected consumer", res.Outcome, res.Target, res.Message)
	}
	wantHigh := uint64(900<<20) &^ 4095
	if res.Applied["MemoryHigh"] != wantHigh {
		t.Errorf("MemoryHigh = %d; want %d (90%% of current use)", res.Applied["MemoryHigh"], wantHigh)
	}
	if _, ok := res.Applied["CPUWeight"]; ok {
		t.Errorf("a memory issue changed CPUWeight; want only MemoryHigh")
	}
	if !strings.HasSuffix(res.Message, "(using 1000.0 MiB)") {
		t.Errorf("memory throttle message %q; want it to end with the use it was picked for, (using 1000.0 MiB)", res.Message)
	}

	cpu := issue.Record{ID: "cpu", Kind: issue.CPU, Severity: issue.Warning}
	res = h.Do(t.Context(), heal.Request{Action: issue.Throttle, Issue: cpu})
	if res.Outcome != heal.Succeeded || res.Target != "hog.service" || res.Applied["CPUWeight"] != 20 {
		t.Fatalf("cpu throttle: %s on %q applied %v (%s); want CPUWeight=20 on hog.service", res.Outcome, res.Target, res.Applied, res.Message)
	}
	if !regexp.MustCompile(`\(using [1-9][0-9]*% CPU, 1000\.0 MiB\)$`).MatchString(res.Message) {
		t.Errorf("cpu throttle message %q; want the CPU it was picked for, then its memory", res.Message)
	}

	held := h.Throttles() // a status already published holds this copy
	want := slices.Clone(held[0].Issues)
	if free := h.Cleared("memory"); len(free) != 0 {
		t.Errorf("after memory cleared, units to release = %q; want none while cpu still holds hog.service", free)
	}
	if !slices.Equal(held[0].Issues, want) {
		t.Errorf("a copy from Throttles changed to %q when an issue cleared; want %q", held[0].Issues, want)
	}
	free := h.Cleared("cpu")
	if !reflect.DeepEqual(free, []string{"hog.service"}) {
		t.Fatalf("after cpu cleared, units to release = %q; want [hog.service]", free)
	}
	res = h.Do(t.Context(), heal.Request{Action: heal.Release, Target: "hog.service"})
	if res.Outcome != heal.Succeeded {
		t.Fatalf("release: %s (%s)", res.Outcome, res.Message)
	}
	u, _ := f.Unit(t.Context(), "hog.service")
	if u.CPUWeight != heal.Unset || u.MemoryHigh != heal.Unset {
		t.Errorf("after release CPUWeight=%d MemoryHigh=%d; want both back to unset", u.CPUWeight, u.MemoryHigh)
	}
	if len(h.Throttles()) != 0 {
		t.Errorf("throttles after release = %+v; want none", h.Throttles())
	}
	res = h.Do(t.Context(), heal.Request{Action: heal.Release, Target: "hog.service"})
	if !errors.Is(res.Err, heal.ErrNotFound) {
		t.Errorf("second release: %v; want not found", res.Err)
	}
}

func TestCriticalMemoryOnAMonitoredUnitRestartsIt(t *testing.T) {
	f := healtest.New(heal.UnitStatus{Name: "leaky.service", ActiveState: "active", MemoryCurrent: 6 << 30})
	f.Usage = []heal.Usage{{Unit: "leaky.service", MemoryCurrent: 6 << 30}}
	h := heal.New(f, testSettings(), nil)
	res := h.Do(t.Context(), heal.Request{Action: issue.Throttle, Issue: issue.Record{ID: "memory", Kind: issue.Memory, Severity: issue.Critical}})
	if res.Outcome != heal.Succeeded || res.Action != issue.Restart || !res.Escalated {
		t.Fatalf("got %s %s escalated=%v (%s); want a succeeded restart", res.Outcome, res.Action, res.Escalated, res.Message)
	}
	if calls := f.Calls(); !reflect.DeepEqual(calls, []string{"RestartUnit leaky.service fail"}) {
		t.Errorf("calls = %q; want one restart", calls)
	}
}

func TestCleanup(t *testing.T) {
	t.Run("starts the existing default units in order and reports bytes freed", func(t *testing.T) {
		f := healtest.New(heal.UnitStatus{Name: "systemd-tmpfiles-clean.service"}, heal.UnitStatus{Name: "nix-gc.service"})
		free := map[string]uint64{"/": 100, "/nix": 1000}
		var mu sync.Mutex
		f.OnStart = func(u string) {
			mu.Lock()
			defer mu.Unlock()
			if u == "nix-gc.service" {
				free["/nix"] += 5000
			} else {
				free["/"] += 300
			}
		}
		h := heal.New(f, testSettings(), func(context.Context) (map[string]uint64, error) {
			mu.Lock()
			defer mu.Unlock()
			return map[string]uint64{"/": free["/"], "/nix": free["/nix"]}, nil
		})
		res := h.Do(t.Context(), heal.Request{Action: issue.Cleanup, Issue: issue.Record{ID: "disk:/", Kind: issue.Disk}})
		if res.Outcome != heal.Succeeded || res.FreedBytes != 5300 {
			t.Errorf("got %s freed %d (%s); want succeeded, 5300 bytes", res.Outcome, res.FreedBytes, res.Message)
		}
		want := []string{"StartUnit systemd-tmpfiles-clean.service fail", "StartUnit nix-gc.service fail"}
		if calls := f.Calls(); !reflect.DeepEqual(calls, want) {
			t.Errorf("calls = %q; want %q", calls, want)
		}
	})
	t.Run("a failed cleanup job fails the action and says which", func(t *testing.T) {
		f := healtest.New(heal.UnitStatus{Name: "a.service"}, heal.UnitStatus{Name: "b.service"})
		f.JobResult["a.service"] = "failed"
		s := testSettings()
		s.CleanupUnits = []string{"a.service", "b.service"}
		h := heal.New(f, s, nil)
		res := h.Do(t.Context(), heal.Request{Action: issue.Cleanup, Operator: true})
		if res.Outcome != heal.Failed || !strings.Contains(res.Message, "a.service") {
			t.Errorf("got %s (%s); want failed naming a.service", res.Outcome, res.Message)
		}
		if len(f.Calls()) != 2 {
			t.Errorf("calls = %q; want both units tried", f.Calls())
		}
	})
	t.Run("no cleanup unit on the machine is refused", func(t *testing.T) {
		h := heal.New(healtest.New(), testSettings(), nil)
		res := h.Do(t.Context(), heal.Request{Action: issue.Cleanup, Operator: true})
		if res.Outcome != heal.Refused || !errors.Is(res.Err, heal.ErrNoAction) {
			t.Errorf("got %s %v; want refused, no action", res.Outcome, res.Err)
		}
	})
}

func TestOneActionPerTarget(t *testing.T) {
	f := healtest.New(heal.UnitStatus{Name: "web.service", ActiveState: "failed"})
	block := make(chan struct{})
	started := make(chan struct{})
	h := heal.New(&slowRestart{Systemd: f, started: started, block: block}, testSettings(), nil)
	done := make(chan heal.Result)
	go func() {
		done <- h.Do(context.Background(), heal.Request{Action: issue.Restart, Target: "web.service", Operator: true})
	}()
	<-started
	res := h.Do(t.Context(), heal.Request{Action: issue.Restart, Target: "web.service", Operator: true})
	if res.Outcome != heal.Refused || !errors.Is(res.Err, heal.ErrBusy) {
		t.Errorf("second restart while the first runs: %s %v; want refused busy", res.Outcome, res.Err)
	}
	close(block)
	if first := <-done; first.Outcome != heal.Succeeded {
		t.Errorf("first restart: %s (%s)", first.Outcome, first.Message)
	}
}

type slowRestart struct {
	*healtest.Systemd
	started, block chan struct{}
}

func (s *slowRestart) Restart(ctx context.Context, name string, ch chan<- string) error {
	close(s.started)
	<-s.block
	return s.Systemd.Restart(ctx, name, ch)
}

func TestBreakerBacksOffAndGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := healtest.New(heal.UnitStatus{Name: "web.service", ActiveState: "failed"})
		f.JobResult["web.service"] = "failed"
		s := testSettings()
		s.Breaker = heal.BreakerPolicy{Backoff: 10 * time.Second, BackoffMax: 40 * time.Second, MaxAttempts: 4, Window: time.Hour}
		s.MaxPerMinute = 100
		h := heal.New(f, s, nil)
		req := heal.Request{Action: issue.Restart, Target: "web.service", Issue: unitIssue("web.service")}

		// Attempt 1 fails; the next is held back 10 s, then 20 s, then 40 s (capped).
		for i, wait := range []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second} {
			if res := h.Do(t.Context(), req); res.Outcome != heal.Failed {
				t.Fatalf("attempt %d: %s (%s); want failed", i+1, res.Outcome, res.Message)
			}
			time.Sleep(wait - time.Second)
			if res := h.Do(t.Context(), req); res.Outcome != heal.Refused || !errors.Is(res.Err, heal.ErrBackoff) {
				t.Fatalf("%s after attempt %d: %s %v; want refused by backoff", wait-time.Second, i+1, res.Outcome, res.Err)
			}
			time.Sleep(time.Second)
		}
		if res := h.Do(t.Context(), req); res.Outcome != heal.Failed {
			t.Fatalf("attempt 4: %s; want failed", res.Outcome)
		}
		time.Sleep(time.Hour)
		if res := h.Do(t.Context(), req); !errors.Is(res.Err, heal.ErrGivenUp) {
			t.Fatalf("after 4 failures: %s %v; want given up, even an hour later", res.Outcome, res.Err)
		}
		if !h.GivenUp(req.Issue.ID) {
			t.Errorf("GivenUp = false; want true")
		}
		if res := h.Do(t.Context(), heal.Request{Action: issue.Restart, Target: "web.service", Operator: true}); res.Outcome != heal.Failed {
			t.Errorf("an operator's restart of a given-up unit: %s; want it to run (and fail)", res.Outcome)
		}
		if !h.ResetBreaker(req.Issue.ID) {
			t.Errorf("ResetBreaker = false; want true")
		}
		if res := h.Do(t.Context(), req); res.Outcome != heal.Failed {
			t.Errorf("after reset: %s %v; want a new attempt", res.Outcome, res.Err)
		}
		if got := len(f.Calls()); got != 2*6 {
			t.Errorf("%d calls; want 12 (reset+restart for each of 6 attempts)", got)
		}
	})
}

func TestARelapseAfterSuccessCountsAsFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := healtest.New(heal.UnitStatus{Name: "web.service", ActiveState: "failed"})
		s := testSettings()
		s.Breaker = heal.BreakerPolicy{Backoff: time.Second, BackoffMax: time.Minute, MaxAttempts: 3, Window: 10 * time.Minute}
		h := heal.New(f, s, nil)
		req := heal.Request{Action: issue.Restart, Target: "web.service", Issue: unitIssue("web.service")}
		for i := range 3 {
			if res := h.Do(t.Context(), req); res.Outcome != heal.Succeeded {
				t.Fatalf("attempt %d: %s (%s)", i+1, res.Outcome, res.Message)
			}
			time.Sleep(5 * time.Second) // the unit crashes again soon after
			gaveUp := h.Reopened(req.Issue.ID)
			if gaveUp != (i == 2) {
				t.Fatalf("relapse %d: gave up = %v; want %v", i+1, gaveUp, i == 2)
			}
			time.Sleep(10 * time.Second)
		}
		if res := h.Do(t.Context(), req); !errors.Is(res.Err, heal.ErrGivenUp) {
			t.Errorf("after 3 relapses: %s %v; want given up", res.Outcome, res.Err)
		}
		st := h.Breakers()
		if len(st) != 1 || !st[0].GivenUp || st[0].Failures != 3 {
			t.Errorf("breakers = %+v; want one given up with 3 failures", st)
		}
	})
}

// A service with a slow leak that crashes every ten minutes is restarted at
// once every time, for hours, as systemd's Restart=on-failure would: each
// restart held for the stability period, so each crash starts afresh. Every
// crash still reaches the breaker (Reopened) and every restart is a result
// the engine records, so none is hidden.
func TestARestartThatHeldIsASuccessAndTheNextCrashStartsAfresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := healtest.New(heal.UnitStatus{Name: "web.service", ActiveState: "failed"})
		s := testSettings() // the configuration's defaults
		s.MaxPerMinute = 100
		h := heal.New(f, s, nil)
		req := heal.Request{Action: issue.Restart, Target: "web.service", Issue: unitIssue("web.service")}
		for i := range 12 {
			if res := h.Do(t.Context(), req); res.Outcome != heal.Succeeded {
				t.Fatalf("crash %d: the restart was %s (%s); want it to run at once and succeed", i+1, res.Outcome, res.Message)
			}
			time.Sleep(10 * time.Minute) // it ran for ten minutes, then crashed
			f.Set("web.service", "failed", "failed")
			if gaveUp := h.Reopened(req.Issue.ID); gaveUp {
				t.Fatalf("crash %d after a restart that held 10 minutes gave the issue up", i+1)
			}
		}
		for _, b := range h.Breakers() {
			if b.Failures != 0 || b.GivenUp || !b.NextAttempt.IsZero() {
				t.Errorf("breaker after 12 crashes 10 minutes apart = %+v; want no failures, no backoff", b)
			}
		}
		if got, want := len(f.Calls()), 2*12; got != want {
			t.Errorf("%d calls; want %d (reset+restart for each crash)", got, want)
		}
	})
}

// A unit that fails right after every start is still retried a bounded
// number of times and then given up, with the defaults.
func TestACrashLoopIsStillGivenUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := healtest.New(heal.UnitStatus{Name: "web.service", ActiveState: "failed"})
		s := testSettings()
		s.MaxPerMinute = 100
		h := heal.New(f, s, nil)
		req := heal.Request{Action: issue.Restart, Target: "web.service", Issue: unitIssue("web.service")}
		restarts, gaveUp := 0, false
		for range 50 {
			res := h.Do(t.Context(), req)
			switch {
			case res.Outcome == heal.Succeeded:
				restarts++
				time.Sleep(time.Second) // it fails a second after every start
				if h.Reopened(req.Issue.ID) {
					gaveUp = true
				}
			case errors.Is(res.Err, heal.ErrBackoff):
				time.Sleep(res.RetryIn)
			case errors.Is(res.Err, heal.ErrGivenUp):
				gaveUp = true
			default:
				t.Fatalf("restart %d: %s %v (%s)", restarts+1, res.Outcome, res.Err, res.Message)
			}
			if gaveUp {
				break
			}
		}
		if !gaveUp || restarts != s.Breaker.MaxAttempts {
			t.Errorf("a crash loop: %d restarts, given up = %v; want %d restarts, then given up", restarts, gaveUp, s.Breaker.MaxAttempts)
		}
	})
}

func TestGlobalActionLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var units []heal.UnitStatus
		for _, n := range []string{"a", "b", "c", "d"} {
			units = append(units, heal.UnitStatus{Name: n + ".service", ActiveState: "failed"})
		}
		f := healtest.New(units...)
		s := testSettings()
		s.MaxPerMinute = 3
		h := heal.New(f, s, nil)
		var outcomes []heal.Outcome
		for _, u := range units {
			outcomes = append(outcomes, h.Do(t.Context(), heal.Request{Action: issue.Restart, Target: u.Name, Issue: unitIssue(u.Name)}).Outcome)
		}
		if want := []heal.Outcome{heal.Succeeded, heal.Succeeded, heal.Succeeded, heal.Refused}; !reflect.DeepEqual(outcomes, want) {
			t.Errorf("outcomes = %v; want %v", outcomes, want)
		}
		time.Sleep(time.Minute)
		if res := h.Do(t.Context(), heal.Request{Action: issue.Restart, Target: "d.service", Issue: unitIssue("d.service")}); res.Outcome != heal.Succeeded {
			t.Errorf("a minute later: %s (%s); want succeeded", res.Outcome, res.Message)
		}
	})
}

func TestWithoutSystemdActionsAreUnavailableButPlansWork(t *testing.T) {
	h := heal.New(nil, testSettings(), nil)
	res := h.Do(t.Context(), heal.Request{Action: issue.Restart, Target: "web.service", Operator: true})
	if res.Outcome != heal.Refused || !errors.Is(res.Err, heal.ErrUnavailable) {
		t.Errorf("got %s %v; want refused as unavailable", res.Outcome, res.Err)
	}
	h.SetDryRun(true)
	res = h.Do(t.Context(), heal.Request{Action: issue.Restart, Target: "web.service", Operator: true})
	if res.Outcome != heal.Planned {
		t.Errorf("dry-run without systemd: %s (%s); want planned", res.Outcome, res.Message)
	}
}

func TestTable(t *testing.T) {
	tests := []struct {
		name      string
		overrides map[issue.Kind]issue.Action
		rec       issue.Record
		want      issue.Action
	}{
		{"a failed unit is restarted", nil, issue.Record{Kind: issue.Unit}, issue.Restart},
		{"a full disk is cleaned up", nil, issue.Record{Kind: issue.Disk}, issue.Cleanup},
		{"cpu is throttled", nil, issue.Record{Kind: issue.CPU}, issue.Throttle},
		{"memory is throttled", nil, issue.Record{Kind: issue.Memory}, issue.Throttle},
		{"load is only watched", nil, issue.Record{Kind: issue.Load}, issue.None},
		{"memory pressure is throttled", nil, issue.Record{Kind: issue.Pressure, Subject: "memory"}, issue.Throttle},
		{"io pressure has no generic action", nil, issue.Record{Kind: issue.Pressure, Subject: "io"}, issue.None},
		{"config can map load to throttle", map[issue.Kind]issue.Action{issue.Load: issue.Throttle}, issue.Record{Kind: issue.Load}, issue.Throttle},
		{"config can switch unit restarts off", map[issue.Kind]issue.Action{issue.Unit: issue.None}, issue.Record{Kind: issue.Unit}, issue.None},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := heal.NewTable(tt.overrides).For(tt.rec); got != tt.want {
				t.Errorf("For(%s) = %s; want %s", tt.rec.Kind, got, tt.want)
			}
		})
	}
}
