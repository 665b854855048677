package config

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/probe"
	"github.com/luminous-healing/luminous-healing/internal/unit"
)

// Probe is one [[probe]] table: a health check of a monitored unit
// (docs/probes.md). Spec is the validated form the engine runs.
type Probe struct {
	Unit string `toml:"unit"`
	Type string `toml:"type"` // http, tcp, unix, command

	URL                    string `toml:"url,omitempty"`
	Method                 string `toml:"method,omitempty"`
	Status                 int    `toml:"status,omitempty"`
	BodyContains           string `toml:"body_contains,omitempty"`
	BodyRegexp             string `toml:"body_regexp,omitempty"`
	TLSVerify              *bool  `toml:"tls_verify,omitempty"`
	FollowRedirectsOffHost bool   `toml:"follow_redirects_off_host,omitempty"`

	Address string   `toml:"address,omitempty"`
	Path    string   `toml:"path,omitempty"`
	Command []string `toml:"command,omitempty"`
	User    string   `toml:"user,omitempty"`

	Interval Duration  `toml:"interval,omitempty"`
	Timeout  Duration  `toml:"timeout,omitempty"`
	Grace    *Duration `toml:"grace,omitempty"`
	Failures int       `toml:"failures,omitempty"`
	Action   string    `toml:"action,omitempty"`

	Spec probe.Spec `toml:"-"`
}

// daemonUnit is never probed: the daemon restarting itself on its own
// probe would heal nothing.
const daemonUnit = "luminous-healing.service"

// validateProbes checks every [[probe]] table and fills its Spec. A probe
// must name a monitored unit that is not protected: the daemon heals only
// what it monitors, and never restarts what it must not touch on its own
// judgement.
func (c *Config) validateProbes() error {
	seen := map[string]bool{}
	for i := range c.Probes {
		p := &c.Probes[i]
		key := fmt.Sprintf("probe[%d]", i)
		s, err := p.spec(key)
		if err != nil {
			return err
		}
		if !slices.Contains(c.Services.Monitored, s.Unit) {
			return keyErr(key+".unit", "%s is not monitored: add it to services.monitored, or remove the probe", s.Unit)
		}
		if slices.Contains(c.Services.Protected, s.Unit) || s.Unit == daemonUnit {
			return keyErr(key+".unit", "%s is protected: the daemon does not probe or restart it on its own judgement", s.Unit)
		}
		if seen[s.Unit] {
			return keyErr(key+".unit", "%s has a probe already: one probe per unit", s.Unit)
		}
		seen[s.Unit] = true
		p.Unit = s.Unit
		p.Spec = s
	}
	return nil
}

func (p *Probe) spec(key string) (probe.Spec, error) {
	u, err := unit.Normalize(p.Unit)
	if err != nil {
		return probe.Spec{}, keyErr(key+".unit", "%v", err)
	}
	s := probe.Spec{
		Unit: u, Type: probe.Type(p.Type),
		Interval: p.Interval.D(), Timeout: p.Timeout.D(), Grace: probe.DefaultGrace,
		Failures: p.Failures, Action: p.Action, TLSVerify: true,
	}
	if s.Interval == 0 {
		s.Interval = probe.DefaultInterval
	}
	if s.Timeout == 0 {
		s.Timeout = probe.DefaultTimeout
	}
	if p.Grace != nil {
		s.Grace = p.Grace.D()
	}
	if s.Failures == 0 {
		s.Failures = probe.DefaultFailures
	}
	if s.Action == "" {
		s.Action = probe.ActionRestart
	}
	switch {
	case s.Interval < 100*time.Millisecond || s.Interval > 24*time.Hour:
		return s, keyErr(key+".interval", "must be between 100ms and 24h, got %s", s.Interval)
	case s.Timeout < 10*time.Millisecond || s.Timeout > s.Interval:
		return s, keyErr(key+".timeout", "must be between 10ms and the probe's interval (%s), got %s", s.Interval, s.Timeout)
	case s.Grace > 24*time.Hour:
		return s, keyErr(key+".grace", "must be at most 24h, got %s", s.Grace)
	case s.Failures < 1 || s.Failures > 1000:
		return s, keyErr(key+".failures", "must be between 1 and 1000, got %d", s.Failures)
	}
	switch s.Action {
	case probe.ActionRestart, probe.ActionReload, probe.ActionNone:
	default:
		return s, keyErr(key+".action", "must be restart, reload or none, got %q", s.Action)
	}
	// Keys of another type are mistakes, not options to ignore: others
	// refuses the first of the named keys (in the order given) that is set.
	set := map[string]bool{
		"url":     p.URL != "" || p.Method != "" || p.Status != 0 || p.BodyContains != "" || p.BodyRegexp != "" || p.TLSVerify != nil || p.FollowRedirectsOffHost,
		"address": p.Address != "",
		"path":    p.Path != "",
		"command": p.Command != nil,
		"user":    p.User != "",
	}
	others := func(names ...string) error {
		for _, n := range names {
			if set[n] {
				return keyErr(key+"."+n, "does not apply to a %s probe", s.Type)
			}
		}
		return nil
	}
	switch s.Type {
	case probe.HTTP:
		pu, err := url.Parse(p.URL)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return s, keyErr(key+".url", "must be an http:// or https:// URL with a host, got %q", p.URL)
		}
		s.URL = p.URL
		s.Method = strings.ToUpper(p.Method)
		if s.Method == "" {
			s.Method = "GET"
		}
		if !slices.Contains([]string{"GET", "HEAD", "POST", "OPTIONS"}, s.Method) {
			return s, keyErr(key+".method", "must be GET, HEAD, POST or OPTIONS, got %q", p.Method)
		}
		s.Status = p.Status
		if s.Status == 0 {
			s.Status = probe.DefaultStatus
		}
		if s.Status < 100 || s.Status > 599 {
			return s, keyErr(key+".status", "must be an HTTP status between 100 and 599, got %d", p.Status)
		}
		if p.BodyContains != "" && p.BodyRegexp != "" {
			return s, keyErr(key+".body_regexp", "set body_contains or body_regexp, not both")
		}
		s.BodyContains = p.BodyContains
		if p.BodyRegexp != "" {
			re, err := regexp.Compile(p.BodyRegexp)
			if err != nil {
				return s, keyErr(key+".body_regexp", "%v", err)
			}
			s.BodyRegexp = re
		}
		if p.TLSVerify != nil {
			s.TLSVerify = *p.TLSVerify
		}
		s.FollowRedirectsOffHost = p.FollowRedirectsOffHost
		if err := others("address", "path", "command", "user"); err != nil {
			return s, err
		}
	case probe.TCP:
		host, port, err := net.SplitHostPort(p.Address)
		if err != nil || host == "" || port == "" {
			return s, keyErr(key+".address", "must be host:port, got %q", p.Address)
		}
		s.Address = p.Address
		if err := others("url", "path", "command", "user"); err != nil {
			return s, err
		}
	case probe.Unix:
		if !filepath.IsAbs(p.Path) || filepath.Clean(p.Path) != p.Path {
			return s, keyErr(key+".path", "must be a clean absolute path to a socket, got %q", p.Path)
		}
		s.Path = p.Path
		if err := others("url", "address", "command", "user"); err != nil {
			return s, err
		}
	case probe.Command:
		if len(p.Command) == 0 || !filepath.IsAbs(p.Command[0]) {
			return s, keyErr(key+".command", "must be a list whose first element is an absolute path, got %q", p.Command)
		}
		for _, a := range p.Command {
			if unit.HasControl(a) {
				return s, keyErr(key+".command", "must not contain control characters")
			}
		}
		if p.User == "root" || p.User == "0" {
			return s, keyErr(key+".user", "command probes never run as root; name another user or leave it out for a dynamic user")
		}
		if p.User != "" && !validUserName(p.User) {
			return s, keyErr(key+".user", "must be a user name, got %q", p.User)
		}
		s.Argv, s.User = slices.Clone(p.Command), p.User
		if err := others("url", "address", "path"); err != nil {
			return s, err
		}
	default:
		return s, keyErr(key+".type", "must be http, tcp, unix or command, got %q", p.Type)
	}
	return s, nil
}

func validUserName(u string) bool {
	if u == "" || len(u) > 32 || u[0] == '-' {
		return false
	}
	for _, c := range u {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
