package engine_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/issue"
)

// fakeJournal stands in for journalctl, which the engine tests cannot run
// against a journal of their own; the e2e suite reads the real one.
type fakeJournal struct {
	mu    sync.Mutex
	lines map[string][]string // by unit + " " + invocation
	asked []string
}

func (j *fakeJournal) Tail(ctx context.Context, unit, invocation string) ([]string, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.asked = append(j.asked, unit+" "+invocation)
	return j.lines[unit+" "+invocation], nil
}

func TestAUnitIssueSaysWhyItFailed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := &fakeJournal{lines: map[string][]string{
			"web.service 0123abcd": {"listening on :443", "bind() to :443 failed: address in use"},
		}}
		web := active("web.service")
		h := start(t, setup{units: []heal.UnitStatus{web}, journal: j})
		synctest.Wait()
		h.drain()

		// It failed with exit status 1 after systemd had restarted it twice;
		// our restart fails too, so the issue stays open to be read.
		h.sd.Units["web.service"].Result = "exit-code"
		h.sd.Units["web.service"].ExecMainCode = 1
		h.sd.Units["web.service"].ExecMainStatus = 1
		h.sd.Units["web.service"].NRestarts = 2
		h.sd.Units["web.service"].InvocationID = "0123abcd"
		h.sd.JobResult["web.service"] = "failed"
		h.unit("web.service", "failed", "failed")
		synctest.Wait()

		rec, ok := h.issue("unit:web.service")
		if !ok {
			t.Fatal("no issue for the failed unit")
		}
		for _, want := range []string{"exit-code", "exited with status 1", "restarted 2 times by systemd", "bind() to :443 failed: address in use"} {
			if !strings.Contains(rec.Cause, want) {
				t.Errorf("cause = %q; want it to say %q", rec.Cause, want)
			}
		}
		det := h.history(audit.IssueDetected)
		if len(det) == 0 || !strings.Contains(det[0].Message, "exited with status 1") {
			t.Errorf("issue-detected records = %+v; want the exit status in the history", det)
		}
	})
}

func TestACauseNamesTheSignal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, setup{units: []heal.UnitStatus{active("web.service")}})
		synctest.Wait()
		h.sd.Units["web.service"].Result = "signal"
		h.sd.Units["web.service"].ExecMainCode = 2
		h.sd.Units["web.service"].ExecMainStatus = 9
		h.sd.JobResult["web.service"] = "failed"
		h.unit("web.service", "failed", "failed")
		synctest.Wait()
		rec, _ := h.issue("unit:web.service")
		if !strings.Contains(rec.Cause, "killed by SIGKILL") {
			t.Errorf("cause = %q; want it to say killed by SIGKILL", rec.Cause)
		}
	})
}

// A unit that fails right after every start is given up with one
// HealingFailed that names it and carries its cause.
func TestACrashLoopIsGivenUpWithOneHealingFailedThatNamesIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, setup{
			cfg: func(c *config.Config) {
				c.Healing.Backoff = config.Duration(time.Second)
				c.Healing.MaxAttempts = 3
			},
			units: []heal.UnitStatus{active("web.service")},
		})
		synctest.Wait()
		h.drain()
		h.sd.Units["web.service"].Result = "exit-code"
		h.sd.Units["web.service"].ExecMainCode = 1
		h.sd.Units["web.service"].ExecMainStatus = 1
		var failures []engine.Event
		for range 10 {
			h.unit("web.service", "failed", "failed") // right after its start
			synctest.Wait()
			for {
				select {
				case ev := <-h.events:
					if ev.Type == engine.HealingFailed {
						failures = append(failures, ev)
					}
					continue
				default:
				}
				break
			}
			time.Sleep(5 * time.Second) // past any backoff
			synctest.Wait()
		}
		if n := h.countCalls("RestartUnit"); n != 3 {
			t.Errorf("%d restarts; want max_attempts, 3", n)
		}
		if len(failures) != 1 {
			t.Fatalf("%d HealingFailed; want one", len(failures))
		}
		f := failures[0]
		if f.Result.IssueID != "unit:web.service" || f.Result.Target != "web.service" || f.Result.Message == "" ||
			f.Issue.State != issue.GivenUp || !strings.Contains(f.Issue.Cause, "exited with status 1") || f.Issue.Attempts != 3 {
			t.Errorf("HealingFailed = %+v, issue %+v; want it to name unit:web.service, say it was given up after 3 attempts and why", f.Result, f.Issue)
		}
	})
}

// Every crash is an issue-detected record; one after a restart that held
// says so and is healed at once, one right after a restart says that
// attempt failed and is backed off.
func TestTheHistorySaysWhetherTheLastHealingHeld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, setup{
			cfg:   func(c *config.Config) { c.Healing.StableAfter = config.Duration(5 * time.Second) },
			units: []heal.UnitStatus{active("web.service")},
		})
		synctest.Wait()
		h.unit("web.service", "failed", "failed")
		synctest.Wait()
		time.Sleep(10 * time.Second) // it ran ten seconds, then crashed
		h.unit("web.service", "failed", "failed")
		synctest.Wait()
		if n := h.countCalls("RestartUnit"); n != 2 {
			t.Errorf("%d restarts; want the second crash, after a restart that held, healed at once", n)
		}
		time.Sleep(time.Second) // and again right after its restart
		h.unit("web.service", "failed", "failed")
		synctest.Wait()
		if n := h.countCalls("RestartUnit"); n != 2 {
			t.Errorf("%d restarts; want the third crash, a second after its restart, backed off", n)
		}
		det := h.history(audit.IssueDetected)
		if len(det) != 3 {
			t.Fatalf("%d issue-detected records; want one per crash, 3", len(det))
		}
		for i, want := range []string{"", "back 10s after its last healing, which held (stable_after 5s): a new incident, healed at once",
			"back 1s after its last healing, within stable_after (5s): that attempt failed"} {
			if want == "" && strings.Contains(det[i].Message, "back ") || !strings.Contains(det[i].Message, want) {
				t.Errorf("crash %d: %q; want it to say %q", i+1, det[i].Message, want)
			}
		}
	})
}
