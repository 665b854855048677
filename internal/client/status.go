package client

import (
	"time"

	"github.com/godbus/dbus/v5"
)

// Summary is GetStatus's reply: the properties and how the daemon runs.
// It is small on purpose, so that polling it is cheap; the lists are
// methods of their own.
type Summary struct {
	// The properties.
	Version        string    `dbus:"version"`
	Health         string    `dbus:"health"` // ok, warning or critical
	DryRun         bool      `dbus:"dry_run"`
	HealingEnabled bool      `dbus:"healing_enabled"`
	ActiveIssues   uint32    `dbus:"active_issues"`
	LastCheck      time.Time `dbus:"last_check"`
	MonitoredUnits []string  `dbus:"monitored_units"`
	ActiveSilences uint32    `dbus:"active_silences"` // silences and maintenance windows in force

	Mode        string        `dbus:"mode"` // system, or user for the try-it mode
	Hostname    string        `dbus:"hostname"`
	ConfigPath  string        `dbus:"config_path"` // empty on the embedded default
	Started     time.Time     `dbus:"started"`
	Interval    time.Duration `dbus:"interval_usec"`
	Systemd     bool          `dbus:"systemd"`      // systemd reachable: units are watched and healed
	SampleError string        `dbus:"sample_error"` // why the last sampling failed, or empty
	// Overrides are the settings changed at run time that stand in for
	// the configuration file's, "key=value" with its keys
	// (healing.dry_run=true, thresholds.cpu=70): they last until a reload.
	Overrides []string `dbus:"overrides"`
}

// Status is everything `healingctl status` shows: GetStatus's summary and
// the lists of ListResources, ListUnits, ListIssues, GetPredictions,
// ListBreakers and ListThrottles. Client.Status reads them in one
// pipelined batch, so they may straddle a check: each list is whole, but
// a count in the summary can be one check older or newer than a list.
type Status struct {
	Summary

	Resources   []Resource   `dbus:"resources"`   // aa{sv}
	Units       []UnitState  `dbus:"units"`       // aa{sv}
	Issues      []Issue      `dbus:"issues"`      // aa{sv}, worst first
	Predictions []Prediction `dbus:"predictions"` // aa{sv}
	Breakers    []Breaker    `dbus:"breakers"`    // aa{sv}
	Throttles   []Throttle   `dbus:"throttles"`   // aa{sv}
	Silences    []Silence    `dbus:"silences"`    // aa{sv}, soonest end first
	Probes      []Probe      `dbus:"probes"`      // aa{sv}, by unit
}

// Resource is one series' latest reading against its threshold.
type Resource struct {
	ID        string  `dbus:"id"` // the series id: cpu, memory, load, disk:/, inodes:/, pressure:io
	Kind      string  `dbus:"kind"`
	Subject   string  `dbus:"subject"`
	Value     float64 `dbus:"value"`
	Threshold float64 `dbus:"threshold"` // 0: no threshold (off)
	Severity  string  `dbus:"severity"`  // ok, warning or critical
}

// UnitState is a monitored unit's last known state.
type UnitState struct {
	Name        string `dbus:"name"`
	ActiveState string `dbus:"active_state"` // active, failed, inactive, …; unknown before the first look
	SubState    string `dbus:"sub_state"`
	// StoppedOnPurpose is when a stop job took the unit down; the daemon
	// leaves it down until it is started again. Zero otherwise.
	StoppedOnPurpose time.Time `dbus:"stopped_on_purpose"`
	StopJob          string    `dbus:"stop_job"` // that job's type where known (stop, restart, …)
}

// Breaker is a restart breaker that holds healing back or remembers
// failures.
type Breaker struct {
	Issue       string    `dbus:"issue"`
	Failures    uint32    `dbus:"failures"`
	NextAttempt time.Time `dbus:"next_attempt"` // zero when an attempt is allowed now
	GivenUp     bool      `dbus:"given_up"`
}

// Throttle is a unit the daemon has put runtime limits on.
type Throttle struct {
	Unit       string    `dbus:"unit"`
	Since      time.Time `dbus:"since"`
	Issues     []string  `dbus:"issues"`      // the issues that caused it; empty for an operator's throttle
	CPUWeight  uint64    `dbus:"cpu_weight"`  // applied; 0 when not changed
	MemoryHigh uint64    `dbus:"memory_high"` // bytes applied; 0 when not changed
}

// Map encodes s as a{sv}: GetStatus's reply.
func (s Summary) Map() map[string]dbus.Variant {
	units := s.MonitoredUnits
	if units == nil {
		units = []string{}
	}
	return map[string]dbus.Variant{
		"version": v(s.Version), "health": v(s.Health), "dry_run": v(s.DryRun), "healing_enabled": v(s.HealingEnabled),
		"active_issues": v(s.ActiveIssues), "last_check": usec(s.LastCheck), "monitored_units": v(units),
		"mode": v(s.Mode), "hostname": v(s.Hostname), "config_path": v(s.ConfigPath), "started": usec(s.Started),
		"interval_usec": dur(s.Interval), "systemd": v(s.Systemd), "sample_error": v(s.SampleError),
		"active_silences": v(s.ActiveSilences), "overrides": v(orEmpty(s.Overrides)),
	}
}

func orEmpty(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// DecodeSummary decodes GetStatus's reply.
func DecodeSummary(m map[string]dbus.Variant) Summary {
	s := Summary{
		Version: str(m, "version"), Health: str(m, "health"), DryRun: boolean(m, "dry_run"),
		HealingEnabled: boolean(m, "healing_enabled"), ActiveIssues: u32(m, "active_issues"),
		LastCheck: tim(m, "last_check"), Mode: str(m, "mode"), Hostname: str(m, "hostname"),
		ConfigPath: str(m, "config_path"), Started: tim(m, "started"), Interval: durOf(m, "interval_usec"),
		Systemd: boolean(m, "systemd"), SampleError: str(m, "sample_error"), ActiveSilences: u32(m, "active_silences"),
	}
	s.MonitoredUnits, _ = m["monitored_units"].Value().([]string)
	if o, _ := m["overrides"].Value().([]string); len(o) > 0 {
		s.Overrides = o
	}
	return s
}

// Map encodes s as one a{sv}: the summary's keys and each list under
// its own key (resources, units, issues, predictions, breakers,
// throttles, silences, probes). It is `healingctl status --json`, not a D-Bus reply.
func (s Status) Map() map[string]dbus.Variant {
	m := s.Summary.Map()
	m["resources"] = v(Maps(s.Resources))
	m["units"] = v(Maps(s.Units))
	m["issues"] = v(Maps(s.Issues))
	m["predictions"] = v(Maps(s.Predictions))
	m["breakers"] = v(Maps(s.Breakers))
	m["throttles"] = v(Maps(s.Throttles))
	m["silences"] = v(Maps(s.Silences))
	m["probes"] = v(Maps(s.Probes))
	return m
}

// Map encodes r as a{sv}.
func (r Resource) Map() map[string]dbus.Variant {
	return map[string]dbus.Variant{"id": v(r.ID), "kind": v(r.Kind), "subject": v(r.Subject),
		"value": v(r.Value), "threshold": v(r.Threshold), "severity": v(r.Severity)}
}

// DecodeResource decodes a Resource record.
func DecodeResource(m map[string]dbus.Variant) Resource {
	return Resource{ID: str(m, "id"), Kind: str(m, "kind"), Subject: str(m, "subject"),
		Value: dbl(m, "value"), Threshold: dbl(m, "threshold"), Severity: str(m, "severity")}
}

// Map encodes u as a{sv}.
func (u UnitState) Map() map[string]dbus.Variant {
	return map[string]dbus.Variant{"name": v(u.Name), "active_state": v(u.ActiveState), "sub_state": v(u.SubState),
		"stopped_on_purpose": usec(u.StoppedOnPurpose), "stop_job": v(u.StopJob)}
}

// DecodeUnitState decodes a UnitState record.
func DecodeUnitState(m map[string]dbus.Variant) UnitState {
	return UnitState{Name: str(m, "name"), ActiveState: str(m, "active_state"), SubState: str(m, "sub_state"),
		StoppedOnPurpose: tim(m, "stopped_on_purpose"), StopJob: str(m, "stop_job")}
}

// Map encodes b as a{sv}.
func (b Breaker) Map() map[string]dbus.Variant {
	return map[string]dbus.Variant{"issue": v(b.Issue), "failures": v(b.Failures),
		"next_attempt": usec(b.NextAttempt), "given_up": v(b.GivenUp)}
}

// DecodeBreaker decodes a Breaker record.
func DecodeBreaker(m map[string]dbus.Variant) Breaker {
	return Breaker{Issue: str(m, "issue"), Failures: u32(m, "failures"), NextAttempt: tim(m, "next_attempt"), GivenUp: boolean(m, "given_up")}
}

// Map encodes t as a{sv}.
func (t Throttle) Map() map[string]dbus.Variant {
	issues := t.Issues
	if issues == nil {
		issues = []string{}
	}
	return map[string]dbus.Variant{"unit": v(t.Unit), "since": usec(t.Since), "issues": v(issues),
		"cpu_weight": v(t.CPUWeight), "memory_high": v(t.MemoryHigh)}
}

// DecodeThrottle decodes a Throttle record.
func DecodeThrottle(m map[string]dbus.Variant) Throttle {
	t := Throttle{Unit: str(m, "unit"), Since: tim(m, "since"), CPUWeight: u64(m, "cpu_weight"), MemoryHigh: u64(m, "memory_high")}
	t.Issues, _ = m["issues"].Value().([]string)
	return t
}

// Maps encodes records as aa{sv}, never nil.
func Maps[T interface {
	Map() map[string]dbus.Variant
}](xs []T) []map[string]dbus.Variant {
	out := make([]map[string]dbus.Variant, len(xs))
	for i, x := range xs {
		out[i] = x.Map()
	}
	return out
}

func decodeAll[T any](ms []map[string]dbus.Variant, dec func(map[string]dbus.Variant) T) []T {
	out := make([]T, len(ms))
	for i, m := range ms {
		out[i] = dec(m)
	}
	return out
}
