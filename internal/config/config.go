// Package config owns luminous-healingd's configuration: the one validated
// struct every other package receives, its defaults, and the TOML file format
// of /etc/luminous-healing/config.toml (SPEC §7).
//
// It imports only the shared leaf packages (issue, unit, silence); the
// daemon's main and the engine import it.
package config

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/silence"
	"github.com/luminous-healing/luminous-healing/internal/unit"
)

// DefaultPath is where the system daemon reads its configuration.
const DefaultPath = "/etc/luminous-healing/config.toml"

// DefaultTOML is the commented default configuration. make install copies it
// to DefaultPath, and the daemon's try-it mode runs on it.
//
//go:embed default.toml
var DefaultTOML []byte

// Config is the daemon's whole configuration.
type Config struct {
	Thresholds Thresholds `toml:"thresholds"`
	Healing    Healing    `toml:"healing"`
	Throttle   Throttle   `toml:"throttle"`
	Monitoring Monitoring `toml:"monitoring"`
	Predictive Predictive `toml:"predictive"`
	Services   Services   `toml:"services"`
	DBus       DBus       `toml:"dbus"`
	Cleanup    Cleanup    `toml:"cleanup"`
	// Maintenance are recurring windows that pause healing within their
	// scope ([[maintenance]] tables; docs/healing.md).
	Maintenance []Maintenance `toml:"maintenance"`
	// Probes check that monitored units still answer ([[probe]] tables;
	// docs/probes.md).
	Probes []Probe `toml:"probe"`
	// Actions overrides the issue-kind → action table, e.g. load = "throttle".
	Actions map[issue.Kind]issue.Action `toml:"-"`

	RawActions map[string]string `toml:"actions"`
}

// Thresholds are percentages, except LoadAverage. Pressure 0 means off.
type Thresholds struct {
	CPU         float64 `toml:"cpu"`
	Memory      float64 `toml:"memory"`
	Disk        float64 `toml:"disk"`
	LoadAverage float64 `toml:"load_average"`
	Pressure    float64 `toml:"pressure"`
}

// Healing controls whether and how actions run.
type Healing struct {
	Enabled bool `toml:"enabled"`
	DryRun  bool `toml:"dry_run"`
	// CleanupUnits are started in order by the cleanup action. Nil means
	// the built-in list, filtered to the units that exist on this machine.
	CleanupUnits []string `toml:"cleanup_units"`
	// MountCleanupUnits names the cleanup units for a disk issue (or a
	// prediction) on one mount, e.g. "/boot"; a mount not listed gets
	// CleanupUnits. Nil means the built-in choice (docs/cleanup.md).
	MountCleanupUnits map[string][]string `toml:"mount_cleanup_units"`
	// MaxActionsPerMinute is the global limit on executed actions.
	MaxActionsPerMinute int `toml:"max_actions_per_minute"`
	// Backoff is the breaker's first delay between attempts on one target;
	// it doubles after every failed attempt up to BackoffMax.
	Backoff    Duration `toml:"backoff"`
	BackoffMax Duration `toml:"backoff_max"`
	// MaxAttempts failed attempts within AttemptWindow give the issue up.
	MaxAttempts   int      `toml:"max_attempts"`
	AttemptWindow Duration `toml:"attempt_window"`
	// StableAfter is how long an action must hold before it counts as a
	// success: a relapse later than this is a new incident, healed at once
	// with the failures before it forgotten; a relapse sooner is a failed
	// attempt, which backs off and, MaxAttempts times, gives up.
	StableAfter Duration `toml:"stable_after"`
	// ActionTimeout bounds one action, including waiting for systemd's job.
	ActionTimeout Duration `toml:"action_timeout"`
}

// Throttle sets the runtime limits the throttle action applies.
type Throttle struct {
	// CPUWeight replaces the unit's CPUWeight (systemd's default is 100).
	CPUWeight uint64 `toml:"cpu_weight"`
	// MemoryHighPercent sets MemoryHigh to this share of the unit's
	// current memory use, so the kernel reclaims from it first.
	MemoryHighPercent float64 `toml:"memory_high_percent"`
	// MinShare is the share of the pressure, in percent, a service must
	// cause to be throttled: of the machine's busy CPU time and of one
	// core over the sample (CPU), or of the memory in use (memory). Load
	// that no service causes this much of is reported where it is, and
	// nothing is throttled.
	MinShare float64 `toml:"min_share"`
	// MinCPU is the percent of one core a service must use over the
	// sample to be throttled for CPU: a floor against noise.
	MinCPU float64 `toml:"min_cpu"`
}

// Monitoring controls sampling and the HTTP listener.
type Monitoring struct {
	Interval Duration `toml:"interval"`
	// Mounts to watch. Nil means / plus /nix and /boot where they are
	// separate mounts.
	Mounts    []string `toml:"mounts"`
	Metrics   bool     `toml:"metrics"`
	Listen    string   `toml:"listen"`
	Dashboard bool     `toml:"dashboard"`
	// DashboardListen, when set, serves the dashboard (and the JSON API it
	// reads) on a second listener of its own, so it can sit on another
	// port or address than /metrics — the seed system's dashboardPort.
	// Empty means the dashboard is served on Listen.
	DashboardListen string `toml:"dashboard_listen"`
	// AllowedHosts are the names, besides loopback names, the machine's
	// host name and the listener's own address, that a request's Host may
	// carry on a listener that is not bound to loopback (the names a
	// proxy or people use to reach it). Any other Host is refused, so a
	// web page cannot read the API through DNS rebinding.
	AllowedHosts []string `toml:"allowed_hosts"`
	// For is how many consecutive samples a value must stay above its
	// threshold before an issue opens.
	For int `toml:"for"`
	// Margin is how far below the threshold a value must fall before the
	// issue clears, in points; for the load average, in percent of its
	// threshold (docs/detection.md).
	Margin float64 `toml:"margin"`
}

// Predictive controls trend prediction and preventive cleanup.
type Predictive struct {
	Enabled     bool     `toml:"enabled"`
	HistorySize int      `toml:"history_size"`
	Horizon     Duration `toml:"horizon"`
	// MinConfidence (0–1) a forecast needs before it triggers anything.
	MinConfidence float64 `toml:"min_confidence"`
}

// Services names the units the daemon watches and the ones it never throttles.
type Services struct {
	Monitored []string `toml:"monitored"`
	Protected []string `toml:"protected"`
}

// Maintenance is one recurring maintenance window.
type Maintenance struct {
	// When is the window in the calendar subset of internal/silence,
	// e.g. "Sun 02:00..04:00".
	When   string `toml:"when"`
	Scope  string `toml:"scope"`  // all (default), unit:NAME, issue:ID, kind:KIND
	Effect string `toml:"effect"` // pause (default) or notify-only
	Reason string `toml:"reason"`
}

// DBus controls the per-caller rate limit on privileged calls.
type DBus struct {
	CallsPerWindow int      `toml:"calls_per_window"`
	Window         Duration `toml:"window"`
}

// Default returns the built-in configuration; it equals DefaultTOML.
func Default() *Config {
	return &Config{
		Thresholds: Thresholds{CPU: 80, Memory: 85, Disk: 90, LoadAverage: 3.0},
		Healing: Healing{
			Enabled:             true,
			MaxActionsPerMinute: 10,
			Backoff:             Duration(10 * time.Second),
			BackoffMax:          Duration(5 * time.Minute),
			MaxAttempts:         5,
			AttemptWindow:       Duration(time.Hour),
			StableAfter:         Duration(5 * time.Minute),
			ActionTimeout:       Duration(90 * time.Second),
		},
		Throttle:   Throttle{CPUWeight: 20, MemoryHighPercent: 90, MinShare: 25, MinCPU: 5},
		Monitoring: Monitoring{Interval: Duration(time.Minute), Metrics: true, Listen: "127.0.0.1:9955", For: 2, Margin: 5},
		Predictive: Predictive{Enabled: true, HistorySize: 100, Horizon: Duration(6 * time.Hour), MinConfidence: 0.8},
		DBus:       DBus{CallsPerWindow: 10, Window: Duration(5 * time.Minute)},
		Cleanup:    Cleanup{Nix: NixCleanup{KeepGenerations: 5, KeepDays: 14, Boot: true}},
		Actions:    map[issue.Kind]issue.Action{},
		RawActions: map[string]string{},
	}
}

// Load reads and validates the file at path over the defaults. Errors name
// the file, the line where known, and the key.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse decodes and validates TOML over the defaults.
func Parse(data []byte) (*Config, error) {
	c, err := parse(data)
	if err != nil {
		// The message quotes parts of the file (a key, a bad value, the
		// parser's view of a bad byte); it goes to logs, the Reload reply
		// and terminals, so its non-printable bytes are escaped.
		return nil, safeError{err}
	}
	return c, nil
}

func parse(data []byte) (*Config, error) {
	c := Default()
	md, err := toml.Decode(string(data), c)
	if err != nil {
		return nil, decodeError(err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("unknown key %s", strings.Join(keys, ", "))
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// decodeError turns the TOML library's error into one line naming the
// position and key.
func decodeError(err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		msg := pe.Message
		if pe.LastKey != "" {
			return fmt.Errorf("line %d: %s: %s", pe.Position.Line, pe.LastKey, msg)
		}
		return fmt.Errorf("line %d: %s", pe.Position.Line, msg)
	}
	return err
}

// KeyError names the key a bad value belongs to.
type KeyError struct {
	Key string
	Err error
}

func (e *KeyError) Error() string { return e.Key + ": " + e.Err.Error() }
func (e *KeyError) Unwrap() error { return e.Err }

func keyErr(key, format string, args ...any) error {
	return &KeyError{Key: key, Err: fmt.Errorf(format, args...)}
}

func (c *Config) validate() error {
	for _, p := range []struct {
		key string
		v   float64
	}{
		{"thresholds.cpu", c.Thresholds.CPU},
		{"thresholds.memory", c.Thresholds.Memory},
		{"thresholds.disk", c.Thresholds.Disk},
	} {
		if err := CheckThreshold(p.key, p.v, false); err != nil {
			return err
		}
	}
	if err := CheckThreshold("thresholds.pressure", c.Thresholds.Pressure, true); err != nil {
		return err
	}
	if err := CheckLoadThreshold("thresholds.load_average", c.Thresholds.LoadAverage); err != nil {
		return err
	}

	h := &c.Healing
	switch {
	case h.MaxActionsPerMinute < 1 || h.MaxActionsPerMinute > 1000:
		return keyErr("healing.max_actions_per_minute", "must be between 1 and 1000, got %d", h.MaxActionsPerMinute)
	case h.Backoff.D() < 10*time.Millisecond:
		return keyErr("healing.backoff", "must be at least 10ms, got %s", h.Backoff)
	case h.BackoffMax.D() < h.Backoff.D():
		return keyErr("healing.backoff_max", "must not be below healing.backoff (%s), got %s", h.Backoff, h.BackoffMax)
	case h.MaxAttempts < 1 || h.MaxAttempts > 100:
		return keyErr("healing.max_attempts", "must be between 1 and 100, got %d", h.MaxAttempts)
	case h.AttemptWindow.D() < time.Second:
		return keyErr("healing.attempt_window", "must be at least 1s, got %s", h.AttemptWindow)
	case h.StableAfter.D() < time.Second || h.StableAfter.D() > h.AttemptWindow.D():
		return keyErr("healing.stable_after", "must be between 1s and healing.attempt_window (%s), got %s", h.AttemptWindow, h.StableAfter)
	case h.ActionTimeout.D() < time.Second || h.ActionTimeout.D() > time.Hour:
		return keyErr("healing.action_timeout", "must be between 1s and 1h, got %s", h.ActionTimeout)
	}
	if h.CleanupUnits != nil {
		units, err := normalizeUnits("healing.cleanup_units", h.CleanupUnits)
		if err != nil {
			return err
		}
		h.CleanupUnits = units
	}
	if err := c.validateCleanup(); err != nil {
		return err
	}

	if c.Throttle.CPUWeight < 1 || c.Throttle.CPUWeight > 10000 {
		return keyErr("throttle.cpu_weight", "must be between 1 and 10000 (systemd's CPUWeight range), got %d", c.Throttle.CPUWeight)
	}
	if p := c.Throttle.MemoryHighPercent; !(p >= 10 && p <= 100) {
		return keyErr("throttle.memory_high_percent", "must be between 10 and 100, got %v", p)
	}
	if p := c.Throttle.MinShare; !(p >= 1 && p <= 100) {
		return keyErr("throttle.min_share", "must be between 1 and 100, got %v", p)
	}
	if p := c.Throttle.MinCPU; !(p >= 0 && p <= 100) {
		return keyErr("throttle.min_cpu", "must be between 0 and 100 (percent of one core), got %v", p)
	}

	m := &c.Monitoring
	if m.Interval.D() < 100*time.Millisecond || m.Interval.D() > 24*time.Hour {
		return keyErr("monitoring.interval", "must be between 100ms and 24h, got %s", m.Interval)
	}
	if m.Mounts != nil {
		if len(m.Mounts) == 0 {
			return keyErr("monitoring.mounts", "must name at least one mount point (leave it out for the default)")
		}
		seen := map[string]bool{}
		for i, mp := range m.Mounts {
			if !filepath.IsAbs(mp) || filepath.Clean(mp) != mp {
				return keyErr(fmt.Sprintf("monitoring.mounts[%d]", i), "must be a clean absolute path, got %q", mp)
			}
			if seen[mp] {
				return keyErr(fmt.Sprintf("monitoring.mounts[%d]", i), "%q is listed twice", mp)
			}
			seen[mp] = true
		}
	}
	if m.Listen != "" {
		if err := checkListen(m.Listen); err != nil {
			return keyErr("monitoring.listen", "%v", err)
		}
	}
	if m.DashboardListen != "" {
		if err := checkListen(m.DashboardListen); err != nil {
			return keyErr("monitoring.dashboard_listen", "%v", err)
		}
		if !m.Dashboard {
			return keyErr("monitoring.dashboard_listen", "is set but the dashboard is off; set monitoring.dashboard = true or remove it")
		}
		if m.DashboardListen == m.Listen {
			// One listener serves both; nothing to open twice.
			m.DashboardListen = ""
		}
	}
	for i, h := range m.AllowedHosts {
		if !validHostName(h) {
			return keyErr(fmt.Sprintf("monitoring.allowed_hosts[%d]", i), "must be a DNS name or an IP address without port, got %q", h)
		}
	}
	if m.For < 1 || m.For > 1000 {
		return keyErr("monitoring.for", "must be between 1 and 1000 samples, got %d", m.For)
	}
	if !(m.Margin >= 0 && m.Margin < 50) {
		return keyErr("monitoring.margin", "must be between 0 and 50 points, got %v", m.Margin)
	}

	p := &c.Predictive
	if p.HistorySize < 10 || p.HistorySize > 100000 {
		return keyErr("predictive.history_size", "must be between 10 and 100000, got %d", p.HistorySize)
	}
	if p.Horizon.D() < time.Minute || p.Horizon.D() > 90*24*time.Hour {
		return keyErr("predictive.horizon", "must be between 1m and 90 days, got %s", p.Horizon)
	}
	if !(p.MinConfidence >= 0 && p.MinConfidence <= 1) {
		return keyErr("predictive.min_confidence", "must be between 0 and 1, got %v", p.MinConfidence)
	}

	var err error
	if c.Services.Monitored, err = normalizeUnits("services.monitored", c.Services.Monitored); err != nil {
		return err
	}
	if c.Services.Protected, err = normalizeUnits("services.protected", c.Services.Protected); err != nil {
		return err
	}

	if c.DBus.CallsPerWindow < 1 || c.DBus.CallsPerWindow > 100000 {
		return keyErr("dbus.calls_per_window", "must be between 1 and 100000, got %d", c.DBus.CallsPerWindow)
	}
	if c.DBus.Window.D() < time.Second {
		return keyErr("dbus.window", "must be at least 1s, got %s", c.DBus.Window)
	}

	for i := range c.Maintenance {
		w := &c.Maintenance[i]
		key := fmt.Sprintf("maintenance[%d]", i)
		if _, err := silence.ParseCalendar(w.When, time.Local); err != nil {
			return keyErr(key+".when", "%v", err)
		}
		if w.Scope == "" {
			w.Scope = string(silence.All)
		}
		sc, err := silence.ParseScope(w.Scope)
		if err != nil {
			return keyErr(key+".scope", "%v", err)
		}
		w.Scope = string(sc)
		eff, err := silence.ParseEffect(w.Effect)
		if err != nil {
			return keyErr(key+".effect", "%v", err)
		}
		w.Effect = string(eff)
		if w.Reason == "" {
			w.Reason = "maintenance window " + w.When
		}
		if err := silence.CheckReason(w.Reason); err != nil {
			return keyErr(key+".reason", "%v", err)
		}
	}

	if err := c.validateProbes(); err != nil {
		return err
	}

	c.Actions = map[issue.Kind]issue.Action{}
	for k, v := range c.RawActions {
		kind, err := issue.ParseKind(k)
		if err != nil {
			return keyErr("actions."+k, "%v", err)
		}
		act, err := issue.ParseAction(v)
		if err != nil {
			return keyErr("actions."+k, "%v", err)
		}
		c.Actions[kind] = act
	}
	return nil
}

// CheckThreshold validates a percentage threshold; it is also used for
// thresholds set at run time over D-Bus. off allows 0 to switch it off.
func CheckThreshold(key string, v float64, off bool) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return keyErr(key, "must be a number, got %v", v)
	}
	if off && v == 0 {
		return nil
	}
	if v <= 0 || v > 100 {
		if off {
			return keyErr(key, "must be between 0 (off) and 100 percent, got %v", v)
		}
		return keyErr(key, "must be above 0 and at most 100 percent, got %v", v)
	}
	return nil
}

// CheckLoadThreshold validates the 1-minute load average threshold.
func CheckLoadThreshold(key string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 || v > 10000 {
		return keyErr(key, "must be a load average above 0 and at most 10000, got %v", v)
	}
	return nil
}

func normalizeUnits(key string, names []string) ([]string, error) {
	out := make([]string, 0, len(names))
	for i, n := range names {
		u, err := unit.Normalize(n)
		if err != nil {
			return nil, keyErr(fmt.Sprintf("%s[%d]", key, i), "%v", err)
		}
		if !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out, nil
}

// validHostName reports whether h is a DNS name (letters, digits, '-' and
// '.') or an IP address.
func validHostName(h string) bool {
	if net.ParseIP(strings.Trim(h, "[]")) != nil {
		return true
	}
	if h == "" || len(h) > 253 || strings.HasPrefix(h, ".") || strings.Contains(h, "..") {
		return false
	}
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port, got %q", addr)
	}
	if host != "" && net.ParseIP(host) == nil && host != "localhost" {
		return fmt.Errorf("host must be an IP address or localhost, got %q", host)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port must be between 0 and 65535, got %q", port)
	}
	return nil
}

// Duration is a time.Duration that TOML may give as a Go duration string
// ("60s", "6h") or as integer seconds (the seed system's form).
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalTOML implements toml.Unmarshaler.
func (d *Duration) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case string:
		p, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("want a duration such as \"60s\" or \"6h\", got %q", v)
		}
		if p < 0 {
			return fmt.Errorf("must not be negative, got %q", v)
		}
		*d = Duration(p)
	case int64:
		if v < 0 || v > math.MaxInt64/int64(time.Second) {
			return fmt.Errorf("want a non-negative number of seconds, got %d", v)
		}
		*d = Duration(time.Duration(v) * time.Second)
	default:
		return fmt.Errorf("want a duration string or integer seconds, got %T", v)
	}
	return nil
}

// MarshalText lets the encoder write durations back as strings.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Write prints the configuration as TOML, as the daemon understood it.
func Write(w io.Writer, c *Config) error {
	enc := toml.NewEncoder(w)
	enc.Indent = ""
	return enc.Encode(c)
}
