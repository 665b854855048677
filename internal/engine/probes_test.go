package engine_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/probe"
)

// probeConfig adds an HTTP probe of web.service on url, run every 100 ms,
// two failures in a row making the issue. These tests run on the real
// clock: the probe talks to a real server on loopback, which a synctest
// bubble's fake clock would not wait for.
func probeConfig(url, action string) func(*config.Config) {
	return func(c *config.Config) {
		c.Probes = []config.Probe{{Spec: probe.Spec{Unit: "web.service", Type: probe.HTTP, URL: url, Method: "GET", Status: 200,
			TLSVerify: true, Interval: 100 * time.Millisecond, Timeout: 80 * time.Millisecond, Failures: 2, Action: action}}}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A unit systemd calls active that answers 500 becomes the issue
// probe:web.service after two failures, is restarted through the healer,
// and the issue resolves once it answers again.
func TestProbeFailureRestartsTheUnit(t *testing.T) {
	var hp atomic.Pointer[harness]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := hp.Load(); h == nil || h.countCalls("RestartUnit web.service") == 0 {
			http.Error(w, "stuck", http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	h := start(t, setup{cfg: probeConfig(srv.URL+"/", "restart"), units: []heal.UnitStatus{active("web.service")}})
	hp.Store(h)
	waitFor(t, "the restart", func() bool { return h.countCalls("RestartUnit web.service") == 1 })
	waitFor(t, "the probe issue to resolve", func() bool { _, open := h.issue("probe:web.service"); return !open })
	var detected, resolved bool
	for _, ev := range h.drain() {
		detected = detected || ev == "IssueDetected probe:web.service"
		resolved = resolved || ev == "IssueResolved probe:web.service"
	}
	if !detected || !resolved {
		t.Fatalf("events: detected %v resolved %v", detected, resolved)
	}
	st := h.eng.Status()
	if len(st.Probes) != 1 || st.Probes[0].Unit != "web.service" || !st.Probes[0].Last.OK ||
		!strings.Contains(st.Probes[0].Target, srv.URL) {
		t.Fatalf("status probes: %+v", st.Probes)
	}
	if _, open := h.issue("unit:web.service"); open {
		t.Fatal("our own restart opened a unit issue")
	}
}

// action = "none" watches: the issue opens and nothing is restarted.
func TestProbeActionNoneOnlyWatches(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "stuck", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	h := start(t, setup{cfg: probeConfig(srv.URL+"/", "none"), units: []heal.UnitStatus{active("web.service")}})
	var rec issue.Record
	waitFor(t, "the probe issue", func() bool { var ok bool; rec, ok = h.issue("probe:web.service"); return ok })
	time.Sleep(300 * time.Millisecond)
	rec, _ = h.issue("probe:web.service")
	if rec.State != issue.Watching || rec.Action != issue.None || !strings.Contains(rec.Cause, "503") {
		t.Fatalf("issue %+v", rec)
	}
	if n := h.countCalls("RestartUnit"); n != 0 {
		t.Fatalf("%d restarts with action none", n)
	}
}

// A unit that is not active is not probed: its state is the unit issue's.
func TestProbeSkipsAnInactiveUnit(t *testing.T) {
	hits := make(chan struct{}, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits <- struct{}{} }))
	defer srv.Close()
	u := active("web.service")
	u.ActiveState, u.UnitFileState = "inactive", "disabled"
	h := start(t, setup{cfg: probeConfig(srv.URL+"/", "restart"), units: []heal.UnitStatus{u}})
	time.Sleep(400 * time.Millisecond)
	if len(hits) != 0 {
		t.Fatalf("an inactive unit was probed %d times", len(hits))
	}
	h.unit("web.service", "active", "running")
	waitFor(t, "a probe once active", func() bool { return len(hits) > 0 })
}

// action = "reload" reloads a unit that can (ReloadUnit, no restart); one
// that cannot is refused and left alone, not restarted instead.
func TestProbeActionReload(t *testing.T) {
	for _, can := range []bool{true, false} {
		t.Run(map[bool]string{true: "a unit that can reload", false: "a unit that cannot"}[can], func(t *testing.T) {
			var hp atomic.Pointer[harness]
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if h := hp.Load(); h == nil || h.countCalls("ReloadUnit web.service") == 0 {
					http.Error(w, "stale", http.StatusInternalServerError)
				}
			}))
			defer srv.Close()
			u := active("web.service")
			u.LoadState, u.CanReload = "loaded", can
			h := start(t, setup{cfg: probeConfig(srv.URL+"/", "reload"), units: []heal.UnitStatus{u}})
			hp.Store(h)
			if can {
				waitFor(t, "the reload", func() bool { return h.countCalls("ReloadUnit web.service") == 1 })
				waitFor(t, "the probe issue to resolve", func() bool { _, open := h.issue("probe:web.service"); return !open })
			} else {
				waitFor(t, "the refusal", func() bool {
					for _, e := range h.history(audit.ActionRefused) {
						if strings.Contains(e.Message, "cannot reload") {
							return true
						}
					}
					return false
				})
				if rec, _ := h.issue("probe:web.service"); rec.Action != issue.Reload {
					t.Errorf("issue %+v; want its action reload", rec)
				}
			}
			if n := h.countCalls("RestartUnit"); n != 0 {
				t.Errorf("%d restarts; a reload was asked for", n)
			}
		})
	}
}
