// Package wire turns the engine's state into the records of
// internal/client: the one form both the D-Bus API (internal/dbusapi) and
// the HTTP API (internal/web) serve. Each key is decided in one place, the
// record's struct tag in internal/client, whose codec encodes it for both.
package wire

import (
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/predict"
	"github.com/luminous-healing/luminous-healing/internal/silence"
)

// Issue is an issue record.
func Issue(r issue.Record) client.Issue {
	return client.Issue{
		ID: r.ID, Kind: string(r.Kind), Subject: r.Subject, Severity: r.Severity.String(), Value: r.Value,
		Threshold: r.Threshold, Since: r.Since, Action: string(r.Action), State: string(r.State),
		Message: r.Message, Synthetic: r.Synthetic, Attempts: uint32(max(r.Attempts, 0)), Cause: r.Cause,
		Silenced: r.Silence, SilenceEffect: r.SilenceEffect,
	}
}

// Silence is a silence or maintenance window occurrence, active at now.
func Silence(s silence.Silence, now time.Time) client.Silence {
	return client.Silence{
		ID: s.ID, Scope: string(s.Scope), Effect: string(s.Effect), Reason: s.Reason, Author: s.Author,
		AuthorUID: s.AuthorUID, Created: s.Created, Starts: s.Starts, Expires: s.Expires, Window: s.Window,
		Active: s.ActiveAt(now),
	}
}

// Prediction is a forecast record.
func Prediction(f predict.Forecast) client.Prediction {
	return client.Prediction{
		Series: f.Series, Kind: string(f.Kind), Subject: f.Subject, Value: f.Value, Threshold: f.Threshold,
		TrendPerHour: f.TrendPerHour, TimeToThreshold: f.TimeToThreshold, Confidence: f.Confidence,
		Samples: uint32(max(f.Samples, 0)), ETA: f.ETA(),
	}
}

// Result is what an action did.
func Result(r heal.Result) client.ActionResult {
	return client.ActionResult{
		Action: string(r.Action), Target: r.Target, Issue: r.IssueID, Outcome: string(r.Outcome),
		Message: r.Message, DryRun: r.DryRun, Duration: r.Duration, FreedBytes: r.FreedBytes, FreedByMount: r.FreedByMount,
		Units: r.Units, Applied: r.Applied, Escalated: r.Escalated,
	}
}

// Failure is a HealingFailed record: the action's result and its issue.
func Failure(ev engine.Event) client.Failure {
	return client.Failure{ActionResult: Result(ev.Result), State: string(ev.Issue.State),
		Severity: ev.Issue.Severity.String(), Attempts: uint32(max(ev.Issue.Attempts, 0)), Cause: ev.Issue.Cause}
}

// History is an audit record.
func History(e audit.Entry) client.HistoryEntry {
	return client.HistoryEntry{
		Time: e.Time, Event: string(e.Event), Action: e.Action, Target: e.Target, Issue: e.Issue,
		Outcome: e.Outcome, Message: e.Message, CallerUID: e.CallerUID, Caller: e.Caller, DryRun: e.DryRun,
		Duration: e.Duration, FreedBytes: e.FreedBytes, FreedByMount: e.FreedByMount,
	}
}

// Summary is the status without its lists: what the D-Bus properties
// mirror, built at every check without the monitored units' records.
func Summary(st *engine.Status) client.Summary {
	return client.Summary{
		Version: st.Version, Health: st.Health.String(), DryRun: st.DryRun, HealingEnabled: st.HealingEnabled,
		ActiveIssues: uint32(max(st.ActiveIssues, 0)), LastCheck: st.LastCheck, MonitoredUnits: st.MonitoredUnits,
		Mode: st.Mode, Hostname: st.Hostname, ConfigPath: st.ConfigPath, Started: st.Started,
		Interval: st.Interval, Systemd: st.Systemd, SampleError: st.SampleError,
		ActiveSilences: uint32(max(st.ActiveSilences, 0)), Overrides: st.Overrides,
	}
}

// Status is the whole status: the summary and every list.
func Status(st *engine.Status) client.Status {
	s := client.Status{Summary: Summary(st)}
	for _, r := range st.Resources {
		s.Resources = append(s.Resources, client.Resource{ID: r.ID, Kind: string(r.Kind), Subject: r.Subject,
			Value: r.Value, Threshold: r.Threshold, Severity: r.Severity.String()})
	}
	for _, u := range st.Units {
		s.Units = append(s.Units, client.UnitState{Name: u.Name, ActiveState: u.ActiveState, SubState: u.SubState,
			StoppedOnPurpose: u.StoppedOnPurpose, StopJob: u.StopJob})
	}
	for _, r := range st.Issues {
		s.Issues = append(s.Issues, Issue(r))
	}
	for _, f := range st.Forecasts {
		s.Predictions = append(s.Predictions, Prediction(f))
	}
	for _, b := range st.Breakers {
		s.Breakers = append(s.Breakers, client.Breaker{Issue: b.IssueID, Failures: uint32(max(b.Failures, 0)),
			NextAttempt: b.NextAttempt, GivenUp: b.GivenUp})
	}
	for _, x := range st.Silences {
		s.Silences = append(s.Silences, Silence(x, st.Built))
	}
	for _, t := range st.Throttles {
		s.Throttles = append(s.Throttles, client.Throttle{Unit: t.Unit, Since: t.Since, Issues: t.Issues,
			CPUWeight: t.CPUWeight, MemoryHigh: t.MemoryHigh})
	}
	for _, p := range st.Probes {
		s.Probes = append(s.Probes, Probe(p))
	}
	return s
}

// Probe is a health probe's record (ListProbes, status.probes).
func Probe(p engine.ProbeInfo) client.Probe {
	return client.Probe{Unit: p.Unit, Type: string(p.Type), Target: p.Target, Interval: p.Interval, Timeout: p.Timeout,
		Grace: p.Grace, Failures: uint32(max(p.Failures, 0)), Action: p.Action, Failing: uint32(max(p.Consecutive, 0)),
		LastAt: p.Last.At, LastDuration: p.Last.Duration, LastOK: p.Last.OK, LastDetail: p.Last.Detail}
}
