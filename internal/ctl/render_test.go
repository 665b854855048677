package ctl

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/client"
)

func TestStatusShowsWhatAPersonWantsFirst(t *testing.T) {
	now := time.Now()
	st := client.Status{
		Summary: client.Summary{Version: "1.2.3", Hostname: "web1", Mode: "system", Health: "critical", ActiveIssues: 2,
			HealingEnabled: true, DryRun: true, Systemd: true, LastCheck: now.Add(-12 * time.Second), Interval: time.Minute,
			MonitoredUnits: []string{"nginx.service", "postgresql.service"}},
		Resources: []client.Resource{
			{ID: "cpu", Kind: "cpu", Value: 12.34, Threshold: 80, Severity: "ok"},
			{ID: "load", Kind: "load", Value: 0.52, Threshold: 3, Severity: "ok"},
			{ID: "disk:/", Kind: "disk", Value: 93.1, Threshold: 90, Severity: "warning"},
			{ID: "pressure:io", Kind: "pressure", Value: 1.5, Severity: "ok"},
		},
		Units: []client.UnitState{{Name: "nginx.service", ActiveState: "active", SubState: "running"}, {Name: "postgresql.service", ActiveState: "failed", SubState: "failed"}},
		Issues: []client.Issue{
			{ID: "unit:postgresql.service", Severity: "critical", State: "given-up", Action: "restart", Since: now.Add(-5 * time.Minute), Message: "postgresql.service failed (exit-code)"},
			{ID: "disk:/", Severity: "warning", State: "planned", Action: "cleanup", Since: now.Add(-2 * time.Minute), Message: "/ 93.1% full (threshold 90%)"},
		},
		Predictions: []client.Prediction{{Series: "disk:/nix", Kind: "disk", Value: 71, Threshold: 90, TrendPerHour: 2.5, ETA: now.Add(3*time.Hour + 10*time.Minute), Confidence: 0.92}},
		Breakers:    []client.Breaker{{Issue: "unit:postgresql.service", Failures: 5, GivenUp: true}},
		Throttles:   []client.Throttle{{Unit: "batch.service", Since: now.Add(-time.Hour), CPUWeight: 20, Issues: []string{"cpu"}}},
	}
	var b bytes.Buffer
	printStatus(&b, st, false)
	out := b.String()
	t.Logf("\n%s", out)
	for _, want := range []string{
		"luminous-healingd 1.2.3 on web1 (system mode)",
		"● critical, 2 active issues",
		"dry-run: actions are planned and recorded, none is executed",
		"Checked:  12s ago (every 1m)",
		"disk:/", "93.1%", "90%", "warning",
		"load", "0.52",
		"pressure:io", "off",
		"postgresql.service  failed (failed)",
		"unit:postgresql.service", "given-up",
		"disk:/nix", "in 3h", "92%",
		"given up: healingctl reset unit:postgresql.service",
		"batch.service", "CPUWeight=20",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q", want)
		}
	}
}

func TestStatusShowsSilencesAndUnitsStoppedOnPurpose(t *testing.T) {
	now := time.Now()
	stopped := time.Date(2026, 12, 2, 5, 3, 21, 0, time.Local)
	st := client.Status{
		Summary: client.Summary{Version: "1.2.3", Hostname: "web1", Mode: "system", Health: "critical", ActiveIssues: 1,
			HealingEnabled: true, Systemd: true, LastCheck: now, Interval: time.Minute, ActiveSilences: 1},
		Units: []client.UnitState{
			{Name: "nginx.service", ActiveState: "inactive", SubState: "dead", StoppedOnPurpose: stopped, StopJob: "stop"},
			{Name: "api.service", ActiveState: "failed", SubState: "failed"},
		},
		Issues: []client.Issue{{ID: "unit:api.service", Severity: "critical", State: "silenced", Action: "restart", Since: now,
			Message: "api.service failed (signal)", Silenced: "silence-1a2b3c4d", SilenceEffect: "pause"}},
		Silences: []client.Silence{
			{ID: "silence-1a2b3c4d", Scope: "unit:api.service", Effect: "pause", Reason: "upgrading api", Author: "alice (uid 1000)",
				Created: now, Starts: now, Expires: now.Add(2*time.Hour + 30*time.Second), Active: true},
			{ID: "window-1", Scope: "all", Effect: "notify-only", Reason: "weekly backup", Author: "configuration", AuthorUID: -1,
				Starts: now.Add(24 * time.Hour), Expires: now.Add(26 * time.Hour), Window: "Sun 02:00..04:00"},
		},
	}
	var b bytes.Buffer
	printStatus(&b, st, false)
	out := b.String()
	t.Logf("\n%s", out)
	for _, want := range []string{
		"Silenced: 1 silence(s) in force: healing paused within their scope",
		"nginx.service  inactive (dead), stopped on purpose at 2026-12-02 05:03:21; not healed until started again",
		"unit:api.service", "silenced", "api.service failed (signal) [silenced by silence-1a2b3c4d]",
		"SILENCE", "silence-1a2b3c4d  unit:api.service", "pause", "(in 2h", "alice (uid 1000)", "upgrading api",
		"window-1", "Sun 02:00..04:00: next", "configuration", "weekly backup",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q", want)
		}
	}
}
