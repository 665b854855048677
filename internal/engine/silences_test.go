package engine_test

import (
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/state"
)

func twoUnits(c *config.Config) { c.Services.Monitored = []string{"web.service", "db.service"} }

// restarts counts the restarts of one unit systemd was asked for.
func (h *harness) restarts(unit string) int { return h.countCalls("RestartUnit " + unit) }

func TestASilencePausesHealingInItsScopeUntilItExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, setup{cfg: twoUnits, units: []heal.UnitStatus{active("web.service"), active("db.service")}})
		synctest.Wait()
		alice := engine.Caller{UID: 1000, Name: ":1.42"}
		s, err := h.eng.AddSilence(alice, engine.SilenceRequest{Scope: "unit:web", Reason: "upgrading web", For: 10*time.Minute + 30*time.Second})
		if err != nil {
			t.Fatal(err)
		}
		h.unit("web.service", "failed", "failed")
		h.unit("db.service", "failed", "failed")
		synctest.Wait()
		if h.restarts("web.service") != 0 || h.restarts("db.service") != 1 {
			t.Fatalf("calls = %q; want db restarted and web left alone", h.sd.Calls())
		}
		rec, ok := h.issue("unit:web.service")
		if !ok || rec.State != issue.Silenced || rec.Silence != s.ID || rec.SilenceEffect != "pause" {
			t.Errorf("web's issue = %+v; want it open, silenced by %s", rec, s.ID)
		}
		if got := h.eng.Status().ActiveSilences; got != 1 {
			t.Errorf("ActiveSilences = %d; want 1", got)
		}
		time.Sleep(10*time.Minute + 30*time.Second - time.Millisecond)
		synctest.Wait()
		if n := h.restarts("web.service"); n != 0 {
			t.Fatalf("web restarted %d times a moment before its silence ends; want 0", n)
		}
		// At its expiry, not at the next check (every minute here).
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		if h.restarts("web.service") != 1 {
			t.Errorf("web restarted %d times once the silence expired; want 1, at once", h.restarts("web.service"))
		}
		ended := h.history(audit.SilenceEnded)
		if len(ended) != 1 || ended[0].Outcome != "expired" {
			t.Errorf("silence-ended records = %+v; want one, expired", ended)
		}
		added := h.history(audit.SilenceAdded)
		if len(added) != 1 || added[0].CallerUID != 1000 || !strings.Contains(added[0].Message, "upgrading web") {
			t.Errorf("silence-added records = %+v; want alice's, with the reason", added)
		}
	})
}

func TestAWindowFromTheConfigurationPausesHealingWhileItIsOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The bubble's clock starts at midnight UTC, 2000-01-01.
		h := start(t, setup{cfg: func(c *config.Config) {
			twoUnits(c)
			c.Maintenance = []config.Maintenance{{When: "00:00..00:10:30 UTC", Scope: "kind:unit", Effect: "notify-only", Reason: "nightly"}}
		}, units: []heal.UnitStatus{active("web.service")}})
		synctest.Wait()
		h.unit("web.service", "failed", "failed")
		synctest.Wait()
		if n := h.restarts("web.service"); n != 0 {
			t.Fatalf("%d restarts in the window; want 0", n)
		}
		if rec, _ := h.issue("unit:web.service"); rec.Silence != "window-1" || rec.SilenceEffect != "notify-only" {
			t.Errorf("issue = %+v; want it marked with window-1, notify-only", rec)
		}
		time.Sleep(10*time.Minute + 30*time.Second - time.Millisecond)
		synctest.Wait()
		if n := h.restarts("web.service"); n != 0 {
			t.Fatalf("%d restarts a moment before the window ends; want 0", n)
		}
		time.Sleep(2 * time.Millisecond) // at its end, not at the next check
		synctest.Wait()
		if n := h.restarts("web.service"); n != 1 {
			t.Errorf("%d restarts after the window; want 1", n)
		}
	})
}

func TestSilencesSurviveARestartAndBadOnesAreRefused(t *testing.T) {
	dir, err := state.Open(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	synctest.Test(t, func(t *testing.T) {
		h := start(t, setup{dir: dir})
		synctest.Wait()
		root := engine.Caller{UID: 0, Name: ":1.7"}
		for _, bad := range []engine.SilenceRequest{
			{Scope: "unit:web", Reason: "x"}, // no expiry
			{Scope: "unit:web", Reason: "x", For: time.Hour, Until: time.Now().Add(time.Hour)}, // both
			{Scope: "unit:web", Reason: "", For: time.Hour},                                    // no reason
			{Scope: "host:web", Reason: "x", For: time.Hour},                                   // bad scope
			{Scope: "all", Reason: "x", Effect: "mute", For: time.Hour},                        // bad effect
			{Scope: "all", Reason: "x", Until: time.Now().Add(-time.Minute)},                   // past
			{Scope: "all", Reason: "x", For: 100 * 24 * time.Hour},                             // too long
			{Scope: "all", Reason: "a\x1b[2Jb", For: time.Hour},                                // control characters
		} {
			if _, err := h.eng.AddSilence(root, bad); err == nil {
				t.Errorf("AddSilence(%+v) accepted it", bad)
			}
		}
		if n := len(h.eng.Silences()); n != 0 {
			t.Fatalf("%d silences after bad requests; want none", n)
		}
		s, err := h.eng.AddSilence(root, engine.SilenceRequest{Scope: "kind:disk", Reason: "resizing", Until: time.Now().Add(2 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		h.close()
		again := start(t, setup{dir: dir})
		synctest.Wait()
		got := again.eng.Silences()
		if len(got) != 1 || got[0].ID != s.ID || got[0].Scope != "kind:disk" || !got[0].Expires.Equal(s.Expires) || got[0].Author != s.Author {
			t.Errorf("silences after a restart = %+v; want %+v", got, s)
		}
		if err := again.eng.RemoveSilence(root, s.ID); err != nil {
			t.Fatal(err)
		}
		if err := again.eng.RemoveSilence(root, s.ID); err == nil {
			t.Error("removing it twice succeeded")
		}
	})
}

func TestSavedSilencesAreValidatedOneByOneWhenTheDaemonStarts(t *testing.T) {
	root := filepath.Join(t.TempDir(), "state")
	dir, err := state.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	synctest.Test(t, func(t *testing.T) {
		now := time.Now()
		good := map[string]any{"ID": "silence-good", "Scope": "unit:web.service", "Effect": "pause", "Reason": "upgrade",
			"Author": "alice (uid 1000)", "AuthorUID": 1000, "Created": now, "Starts": now, "Expires": now.Add(time.Hour)}
		bad := func(k string, v any) map[string]any {
			m := map[string]any{}
			for kk, vv := range good {
				m[kk] = vv
			}
			m["ID"], m[k] = "silence-bad-"+k, v
			return m
		}
		saved := map[string]any{"Silences": []any{
			good,
			bad("Scope", "host:web"),
			bad("Effect", "mute"),
			bad("Reason", "a\x1b[2Jb"),
			bad("Expires", time.Time{}),
			good, // a duplicate id
		}}
		if err := dir.Save("silences.json", saved); err != nil {
			t.Fatal(err)
		}
		h := start(t, setup{dir: dir})
		synctest.Wait()
		got := h.eng.Silences()
		if len(got) != 1 || got[0].ID != "silence-good" {
			t.Errorf("silences loaded = %+v; want silence-good alone", got)
		}
	})
}
