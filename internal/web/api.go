package web

import (
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/predict"
)

// The JSON records below use the D-Bus API's snake_case keys (docs/dbus.md),
// with times as RFC 3339 strings instead of µs since the epoch and
// durations as integer µs (keys ending in _usec). docs/http.md lists them.

type statusJSON struct {
	Version        string           `json:"version"`
	Mode           string           `json:"mode"`
	Hostname       string           `json:"hostname"`
	ConfigPath     string           `json:"config_path"`
	Health         string           `json:"health"`
	DryRun         bool             `json:"dry_run"`
	HealingEnabled bool             `json:"healing_enabled"`
	ActiveIssues   int              `json:"active_issues"`
	LastCheck      *time.Time       `json:"last_check"` // null before the first check
	Started        time.Time        `json:"started"`
	IntervalUsec   int64            `json:"interval_usec"`
	Systemd        bool             `json:"systemd"`
	MonitoredUnits []string         `json:"monitored_units"`
	Units          []unitJSON       `json:"units"`
	Resources      []resourceJSON   `json:"resources"`
	Issues         []issueJSON      `json:"issues"`
	Predictions    []predictionJSON `json:"predictions"`
	Breakers       []breakerJSON    `json:"breakers"`
	Throttles      []throttleJSON   `json:"throttles"`
	SampleError    string           `json:"sample_error,omitempty"`
}

type unitJSON struct {
	Name        string `json:"name"`
	ActiveState string `json:"active_state"`
	SubState    string `json:"sub_state"`
}

type resourceJSON struct {
	ID        string   `json:"id"`
	Kind      string   `json:"kind"`
	Subject   string   `json:"subject"`
	Value     float64  `json:"value"`
	Threshold *float64 `json:"threshold"` // null when off
	Severity  string   `json:"severity"`
	Unit      string   `json:"unit"` // "%", or "" for the load average
}

type issueJSON struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	Subject   string    `json:"subject"`
	Severity  string    `json:"severity"`
	Value     float64   `json:"value"`
	Threshold float64   `json:"threshold"`
	Since     time.Time `json:"since"`
	Action    string    `json:"action"`
	State     string    `json:"state"`
	Message   string    `json:"message"`
	Synthetic bool      `json:"synthetic"`
	Attempts  int       `json:"attempts"`
}

type predictionJSON struct {
	Series              string    `json:"series"`
	Kind                string    `json:"kind"`
	Subject             string    `json:"subject"`
	Value               float64   `json:"value"`
	Threshold           float64   `json:"threshold"`
	TrendPerHour        float64   `json:"trend_per_hour"`
	TimeToThresholdUsec int64     `json:"time_to_threshold_usec"`
	Confidence          float64   `json:"confidence"`
	Samples             int       `json:"samples"`
	ETA                 time.Time `json:"eta"`
}

type breakerJSON struct {
	Issue       string     `json:"issue"`
	Failures    int        `json:"failures"`
	NextAttempt *time.Time `json:"next_attempt"` // null when an attempt may run now
	GivenUp     bool       `json:"given_up"`
}

type throttleJSON struct {
	Unit       string    `json:"unit"`
	Since      time.Time `json:"since"`
	Issues     []string  `json:"issues"`
	CPUWeight  uint64    `json:"cpu_weight"`  // 0 when not changed
	MemoryHigh uint64    `json:"memory_high"` // bytes; 0 when not changed
}

type historyJSON struct {
	Time         time.Time `json:"time"`
	Event        string    `json:"event"`
	Action       string    `json:"action"`
	Target       string    `json:"target"`
	Issue        string    `json:"issue"`
	Outcome      string    `json:"outcome"`
	Message      string    `json:"message"`
	CallerUID    int64     `json:"caller_uid"`
	Caller       string    `json:"caller"`
	DryRun       bool      `json:"dry_run"`
	DurationUsec int64     `json:"duration_usec"`
	FreedBytes   uint64    `json:"freed_bytes"`
}

func statusOf(st *engine.Status) statusJSON {
	out := statusJSON{
		Version: st.Version, Mode: st.Mode, Hostname: st.Hostname, ConfigPath: st.ConfigPath,
		Health: st.Health.String(), DryRun: st.DryRun, HealingEnabled: st.HealingEnabled,
		ActiveIssues: st.ActiveIssues, Started: st.Started, IntervalUsec: st.Interval.Microseconds(),
		Systemd: st.Systemd, MonitoredUnits: nonNil(st.MonitoredUnits), SampleError: st.SampleError,
		Units:       make([]unitJSON, 0, len(st.Units)),
		Resources:   make([]resourceJSON, 0, len(st.Resources)),
		Issues:      issuesOf(st.Issues),
		Predictions: predictionsOf(st.Forecasts),
		Breakers:    make([]breakerJSON, 0, len(st.Breakers)),
		Throttles:   make([]throttleJSON, 0, len(st.Throttles)),
	}
	out.LastCheck = timePtr(st.LastCheck)
	for _, u := range st.Units {
		out.Units = append(out.Units, unitJSON{Name: u.Name, ActiveState: u.ActiveState, SubState: u.SubState})
	}
	for _, r := range st.Resources {
		out.Resources = append(out.Resources, resourceOf(r))
	}
	for _, b := range st.Breakers {
		out.Breakers = append(out.Breakers, breakerOf(b))
	}
	for _, t := range st.Throttles {
		out.Throttles = append(out.Throttles, throttleJSON{Unit: t.Unit, Since: t.Since, Issues: nonNil(t.Issues),
			CPUWeight: t.CPUWeight, MemoryHigh: t.MemoryHigh})
	}
	return out
}

func resourceOf(r engine.Resource) resourceJSON {
	out := resourceJSON{ID: r.ID, Kind: string(r.Kind), Subject: r.Subject, Value: r.Value,
		Severity: r.Severity.String(), Unit: "%"}
	if r.Kind == issue.Load {
		out.Unit = ""
	}
	if r.Threshold > 0 {
		th := r.Threshold
		out.Threshold = &th
	}
	return out
}

func breakerOf(b heal.BreakerState) breakerJSON {
	return breakerJSON{Issue: b.IssueID, Failures: b.Failures, NextAttempt: timePtr(b.NextAttempt), GivenUp: b.GivenUp}
}

func issuesOf(recs []issue.Record) []issueJSON {
	out := make([]issueJSON, 0, len(recs))
	for _, r := range recs {
		out = append(out, issueJSON{
			ID: r.ID, Kind: string(r.Kind), Subject: r.Subject, Severity: r.Severity.String(),
			Value: r.Value, Threshold: r.Threshold, Since: r.Since, Action: string(r.Action),
			State: string(r.State), Message: r.Message, Synthetic: r.Synthetic, Attempts: r.Attempts,
		})
	}
	return out
}

func predictionsOf(fs []predict.Forecast) []predictionJSON {
	out := make([]predictionJSON, 0, len(fs))
	for _, f := range fs {
		out = append(out, predictionJSON{
			Series: f.Series, Kind: string(f.Kind), Subject: f.Subject, Value: f.Value, Threshold: f.Threshold,
			TrendPerHour: f.TrendPerHour, TimeToThresholdUsec: f.TimeToThreshold.Microseconds(),
			Confidence: f.Confidence, Samples: f.Samples, ETA: f.ETA(),
		})
	}
	return out
}

func historyOf(es []audit.Entry) []historyJSON {
	out := make([]historyJSON, 0, len(es))
	for _, e := range es {
		out = append(out, historyJSON{
			Time: e.Time, Event: string(e.Event), Action: e.Action, Target: e.Target, Issue: e.Issue,
			Outcome: e.Outcome, Message: e.Message, CallerUID: e.CallerUID, Caller: e.Caller,
			DryRun: e.DryRun, DurationUsec: e.Duration.Microseconds(), FreedBytes: e.FreedBytes,
		})
	}
	return out
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// nonNil makes an absent list encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
