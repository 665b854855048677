package dbusapi

import (
	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/predict"
)

// The engine's types become the wire records of internal/client here, so
// the keys are decided in one place (the client's encoders).

func issueRecord(r issue.Record) client.Issue {
	return client.Issue{
		ID: r.ID, Kind: string(r.Kind), Subject: r.Subject, Severity: r.Severity.String(), Value: r.Value,
		Threshold: r.Threshold, Since: r.Since, Action: string(r.Action), State: string(r.State),
		Message: r.Message, Synthetic: r.Synthetic, Attempts: uint32(max(r.Attempts, 0)),
	}
}

func predictionRecord(f predict.Forecast) client.Prediction {
	return client.Prediction{
		Series: f.Series, Kind: string(f.Kind), Subject: f.Subject, Value: f.Value, Threshold: f.Threshold,
		TrendPerHour: f.TrendPerHour, TimeToThreshold: f.TimeToThreshold, Confidence: f.Confidence,
		Samples: uint32(max(f.Samples, 0)), ETA: f.ETA(),
	}
}

func resultRecord(r heal.Result) client.ActionResult {
	return client.ActionResult{
		Action: string(r.Action), Target: r.Target, Issue: r.IssueID, Outcome: string(r.Outcome),
		Message: r.Message, DryRun: r.DryRun, Duration: r.Duration, FreedBytes: r.FreedBytes,
		Units: r.Units, Applied: r.Applied, Escalated: r.Escalated,
	}
}

func failureRecord(ev engine.Event) client.Failure {
	return client.Failure{ActionResult: resultRecord(ev.Result), State: string(ev.Issue.State),
		Severity: ev.Issue.Severity.String(), Attempts: uint32(max(ev.Issue.Attempts, 0))}
}

func historyRecord(e audit.Entry) client.HistoryEntry {
	return client.HistoryEntry{
		Time: e.Time, Event: string(e.Event), Action: e.Action, Target: e.Target, Issue: e.Issue,
		Outcome: e.Outcome, Message: e.Message, CallerUID: e.CallerUID, Caller: e.Caller, DryRun: e.DryRun,
		Duration: e.Duration, FreedBytes: e.FreedBytes,
	}
}

func statusRecord(st *engine.Status) client.Status {
	s := client.Status{Summary: client.Summary{
		Version: st.Version, Health: st.Health.String(), DryRun: st.DryRun, HealingEnabled: st.HealingEnabled,
		ActiveIssues: uint32(max(st.ActiveIssues, 0)), LastCheck: st.LastCheck, MonitoredUnits: st.MonitoredUnits,
		Mode: st.Mode, Hostname: st.Hostname, ConfigPath: st.ConfigPath, Started: st.Started,
		Interval: st.Interval, Systemd: st.Systemd, SampleError: st.SampleError,
	}}
	for _, r := range st.Resources {
		s.Resources = append(s.Resources, client.Resource{ID: r.ID, Kind: string(r.Kind), Subject: r.Subject,
			Value: r.Value, Threshold: r.Threshold, Severity: r.Severity.String()})
	}
	for _, u := range st.Units {
		s.Units = append(s.Units, client.UnitState{Name: u.Name, ActiveState: u.ActiveState, SubState: u.SubState})
	}
	for _, r := range st.Issues {
		s.Issues = append(s.Issues, issueRecord(r))
	}
	for _, f := range st.Forecasts {
		s.Predictions = append(s.Predictions, predictionRecord(f))
	}
	for _, b := range st.Breakers {
		s.Breakers = append(s.Breakers, client.Breaker{Issue: b.IssueID, Failures: uint32(max(b.Failures, 0)),
			NextAttempt: b.NextAttempt, GivenUp: b.GivenUp})
	}
	for _, t := range st.Throttles {
		s.Throttles = append(s.Throttles, client.Throttle{Unit: t.Unit, Since: t.Since, Issues: t.Issues,
			CPUWeight: t.CPUWeight, MemoryHigh: t.MemoryHigh})
	}
	return s
}
