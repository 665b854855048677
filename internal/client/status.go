package client

import "time"

// Summary is GetStatus's reply: the properties and how the daemon runs.
// It is small on purpose, so that polling it is cheap; the lists are
// methods of their own.
type Summary struct {
	// The properties, under their field names (Properties).
	Version        string    `dbus:"version,property"`
	Health         string    `dbus:"health,property"` // ok, warning or critical
	DryRun         bool      `dbus:"dry_run,property"`
	HealingEnabled bool      `dbus:"healing_enabled,property"`
	ActiveIssues   uint32    `dbus:"active_issues,property"`
	LastCheck      time.Time `dbus:"last_check,property"`
	MonitoredUnits []string  `dbus:"monitored_units,property"`
	ActiveSilences uint32    `dbus:"active_silences,property"` // silences and maintenance windows in force

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
