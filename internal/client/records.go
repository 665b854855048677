package client

import "time"

// The records below travel as a{sv}, and as the HTTP API's JSON objects.
// Each field's `dbus` tag is its key, the one place the key is written:
// Encode, Decode and JSON (codec.go) read the tags. Keys are snake_case;
// times are t (µs since the epoch, 0 for none) and durations t in µs with
// a _usec suffix.

// Issue is an active (or, in IssueResolved, just resolved) issue.
type Issue struct {
	ID        string    `dbus:"id"`
	Kind      string    `dbus:"kind"`      // cpu, memory, disk, load, pressure, unit, probe
	Subject   string    `dbus:"subject"`   // the mount, unit or pressure resource; the kind otherwise
	Severity  string    `dbus:"severity"`  // warning or critical
	Value     float64   `dbus:"value"`     // percent, except load average; 0 for units
	Threshold float64   `dbus:"threshold"` //
	Since     time.Time `dbus:"since"`     // t
	Action    string    `dbus:"action"`    // restart, cleanup, throttle or none
	State     string    `dbus:"state"`     // open, healing, planned, waiting, healed, failed, given-up, watching, silenced, resolved
	Message   string    `dbus:"message"`   // one human line
	Synthetic bool      `dbus:"synthetic"` // injected with InjectIssue
	Attempts  uint32    `dbus:"attempts"`  // failed healing attempts within the breaker's window
	Cause     string    `dbus:"cause"`     // why, as far as the daemon knows; "" when unknown
	// Silenced is the id of the silence or maintenance window covering
	// the issue, "" when none; SilenceEffect is its effect.
	Silenced      string `dbus:"silenced"`
	SilenceEffect string `dbus:"silence_effect"` // pause or notify-only; "" when not silenced
}

// HistoryEntry is one audit record: an action, an authorization decision,
// an issue opening or closing, a setting changed.
type HistoryEntry struct {
	Time       time.Time     `dbus:"time"`
	Event      string        `dbus:"event"`   // issue-detected, action-succeeded, call-denied, …
	Action     string        `dbus:"action"`  // restart, cleanup, throttle, release; the D-Bus method for calls
	Target     string        `dbus:"target"`  // a unit, or empty
	Issue      string        `dbus:"issue"`   //
	Outcome    string        `dbus:"outcome"` // succeeded, failed, planned, refused, allowed, denied, …
	Message    string        `dbus:"message"`
	CallerUID  int64         `dbus:"caller_uid"` // x: -1 for the daemon's own decisions
	Caller     string        `dbus:"caller"`     // the caller's unique bus name
	DryRun     bool          `dbus:"dry_run"`
	Duration   time.Duration `dbus:"duration_usec"` // t
	FreedBytes uint64        `dbus:"freed_bytes"`   // t
	// FreedByMount is a cleanup's bytes freed per mount point.
	FreedByMount map[string]uint64 `dbus:"freed_by_mount"` // a{st}
}

// Prediction is a forecast that a series will cross its threshold.
type Prediction struct {
	Series          string        `dbus:"series"` // the series id, which is also the issue id it would open
	Kind            string        `dbus:"kind"`
	Subject         string        `dbus:"subject"`
	Value           float64       `dbus:"value"`          // the latest value
	Threshold       float64       `dbus:"threshold"`      // what it is predicted to cross
	TrendPerHour    float64       `dbus:"trend_per_hour"` // points per hour
	TimeToThreshold time.Duration `dbus:"time_to_threshold_usec"`
	Confidence      float64       `dbus:"confidence"` // 0–1
	Samples         uint32        `dbus:"samples"`
	ETA             time.Time     `dbus:"eta"` // when it is predicted to cross
}

// ActionResult is what an action did: the reply of Heal, RestartUnit,
// Cleanup, Throttle and Release, and the ActionCompleted signal.
type ActionResult struct {
	Action     string        `dbus:"action"` // restart, cleanup, throttle, release
	Target     string        `dbus:"target"` // the unit acted on, or empty
	Issue      string        `dbus:"issue"`  // the issue healed, or empty
	Outcome    string        `dbus:"outcome"`
	Message    string        `dbus:"message"` // one human line
	DryRun     bool          `dbus:"dry_run"`
	Duration   time.Duration `dbus:"duration_usec"`
	FreedBytes uint64        `dbus:"freed_bytes"` // cleanup
	// FreedByMount is what cleanup freed per mount point (a{st}).
	FreedByMount map[string]uint64 `dbus:"freed_by_mount"`
	Units        []string          `dbus:"units"`     // cleanup: the units started; throttle: the unit chosen
	Applied      map[string]uint64 `dbus:"applied"`   // a{st}: throttle/release, the limits systemd reports afterwards
	Escalated    bool              `dbus:"escalated"` // throttle restarted a monitored unit instead
}

// Failure is the HealingFailed signal: a failed action, with the state its
// issue is left in.
type Failure struct {
	ActionResult
	State    string `dbus:"state"`    // failed, or given-up once the breaker opened
	Severity string `dbus:"severity"` // the issue's
	Attempts uint32 `dbus:"attempts"` // failed attempts within the breaker's window
	Cause    string `dbus:"cause"`    // the issue's cause, as in Issue; "" when unknown
}

// Silence is an operator's silence or a maintenance window's current or
// next occurrence: ListSilences's records and AddSilence's reply.
type Silence struct {
	ID        string    `dbus:"id"`     // silence-…, or window-N for a configured window
	Scope     string    `dbus:"scope"`  // all, unit:NAME, issue:ID or kind:KIND
	Effect    string    `dbus:"effect"` // pause or notify-only
	Reason    string    `dbus:"reason"`
	Author    string    `dbus:"author"`     // "alice (uid 1000)"; "configuration" for a window
	AuthorUID int64     `dbus:"author_uid"` // x: -1 for a window
	Created   time.Time `dbus:"created"`    // 0 for a window
	Starts    time.Time `dbus:"starts"`     // a window's current or next start
	Expires   time.Time `dbus:"expires"`    // every silence ends by itself
	Window    string    `dbus:"window"`     // a window's calendar expression, e.g. "Sun 02:00..04:00"
	Active    bool      `dbus:"active"`     // in force now
}

// SilenceRequest is AddSilence's argument. Scope and Reason are required,
// and exactly one of Until and For.
type SilenceRequest struct {
	Scope  string        `dbus:"scope"`
	Effect string        `dbus:"effect,omitempty"` // pause (default) or notify-only
	Reason string        `dbus:"reason"`
	Until  time.Time     `dbus:"until,omitempty"`    // t
	For    time.Duration `dbus:"for_usec,omitempty"` // t
}

// SilenceKeys are the keys AddSilence accepts and their D-Bus types; the
// daemon rejects any other key and any other type.
var SilenceKeys = Keys[SilenceRequest]()

// Injection is InjectIssue's argument: a synthetic issue that runs the whole
// pipeline. Only kind is required.
type Injection struct {
	Kind      string  `dbus:"kind"`                // cpu, memory, disk, load, pressure, unit, probe
	Subject   string  `dbus:"subject,omitempty"`   // unit: a unit name; disk: a mount path; pressure: cpu, memory or io
	Severity  string  `dbus:"severity,omitempty"`  // warning (default) or critical
	Value     float64 `dbus:"value,omitempty"`     // d
	Threshold float64 `dbus:"threshold,omitempty"` // d
	Message   string  `dbus:"message,omitempty"`   // one line, at most 500 bytes
}

// InjectionKeys are the keys InjectIssue accepts and their D-Bus types; the
// daemon rejects any other key and any other type.
var InjectionKeys = Keys[Injection]()
