// Package probe checks that a monitored unit still answers, not only that
// systemd thinks it runs: an HTTP(S) request, a TCP or UNIX socket connect,
// or a command run in a sandboxed transient unit. A deadlocked server, a
// full connection pool or a process stopped with SIGSTOP stays "active" for
// systemd forever; a probe sees it (docs/probes.md).
//
// It is a leaf: it imports only the standard library and internal/unit. The
// engine schedules the probes and turns consecutive failures into issues;
// a command probe's transient unit is started through the small
// CommandRunner interface declared here and implemented by internal/systemd.
package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Type is what a probe does. The values appear in the configuration, the
// metrics' type label and the status.
type Type string

const (
	HTTP    Type = "http"
	TCP     Type = "tcp"
	Unix    Type = "unix"
	Command Type = "command"
)

// Types lists the probe types.
var Types = []Type{HTTP, TCP, Unix, Command}

// Action is what heals a failing probe: restart (the default), reload or
// none (watch only).
const (
	ActionRestart = "restart"
	ActionReload  = "reload"
	ActionNone    = "none"
)

// Defaults for the keys a probe may leave out.
const (
	DefaultInterval = 30 * time.Second
	DefaultTimeout  = 5 * time.Second
	DefaultGrace    = 30 * time.Second
	DefaultFailures = 3
	DefaultStatus   = 200
)

// Spec is one validated probe.
type Spec struct {
	Unit string
	Type Type
	// HTTP: URL (http or https), Method (GET by default), the Status
	// expected (200 by default), an optional body match (BodyContains, a
	// substring, or BodyRegexp), TLS verification unless TLSVerify is
	// false, and redirects followed only to the same host unless
	// FollowRedirectsOffHost.
	URL                    string
	Method                 string
	Status                 int
	BodyContains           string
	BodyRegexp             *regexp.Regexp
	TLSVerify              bool
	FollowRedirectsOffHost bool
	// TCP: Address is host:port. UNIX: Path is the socket's path.
	Address string
	Path    string
	// Command: Argv runs as User (empty: a DynamicUser) in a transient
	// unit; exit status 0 is healthy.
	Argv []string
	User string

	Interval time.Duration
	Timeout  time.Duration
	// Grace is how long after the unit became active its failures do not
	// count: it may still be starting up.
	Grace time.Duration
	// Failures is how many consecutive failures make an issue.
	Failures int
	// Action heals the issue: restart, reload or none.
	Action string
}

// Target is the probe's target in one line, for status and dashboards:
// "GET https://127.0.0.1/healthz → 200", "tcp 127.0.0.1:5432".
func (s Spec) Target() string {
	switch s.Type {
	case HTTP:
		t := fmt.Sprintf("%s %s → %d", s.Method, s.URL, s.Status)
		if s.BodyContains != "" {
			t += fmt.Sprintf(" containing %q", s.BodyContains)
		}
		if s.BodyRegexp != nil {
			t += fmt.Sprintf(" matching /%s/", s.BodyRegexp)
		}
		return t
	case TCP:
		return "tcp " + s.Address
	case Unix:
		return "unix " + s.Path
	case Command:
		t := "command " + strings.Join(s.Argv, " ")
		if s.User != "" {
			t += " as " + s.User
		}
		return t
	}
	return string(s.Type)
}

// Result is one run of a probe.
type Result struct {
	Unit     string
	Type     Type
	At       time.Time
	Duration time.Duration
	OK       bool
	// Detail says what was seen: "200 OK", "connected", "exit status 0",
	// or why it failed: "timed out after 2s", "503 Service Unavailable".
	Detail string
}

// CommandRunner runs a command probe's argv in a transient systemd unit as
// user ("" for a DynamicUser), sandboxed, for at most timeout, and returns
// its exit status (internal/systemd). err is for what kept it from running
// or finishing, not for a non-zero exit.
type CommandRunner interface {
	RunProbeCommand(ctx context.Context, unit string, argv []string, user string, timeout time.Duration) (exit int, err error)
}

// ErrNoRunner is a command probe's failure when no systemd is there to run
// it: it is never run in the daemon's own process.
var ErrNoRunner = errors.New("command probes need systemd to run them in a transient unit")

// Run runs one probe, bounded by s.Timeout.
func Run(ctx context.Context, s Spec, cmd CommandRunner) Result {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	var detail string
	var err error
	switch s.Type {
	case HTTP:
		detail, err = runHTTP(ctx, s)
	case TCP:
		detail, err = dial(ctx, "tcp", s.Address)
	case Unix:
		detail, err = dial(ctx, "unix", s.Path)
	case Command:
		detail, err = runCommand(ctx, s, cmd)
	default:
		err = fmt.Errorf("unknown probe type %q", s.Type)
	}
	r := Result{Unit: s.Unit, Type: s.Type, At: start, Duration: time.Since(start), OK: err == nil, Detail: detail}
	if err != nil {
		r.Detail = err.Error()
		if ctx.Err() == context.DeadlineExceeded {
			r.Detail = fmt.Sprintf("timed out after %s (%v)", s.Timeout, err)
		}
	}
	r.Detail = printable(r.Detail)
	return r
}

// maxDetail bounds a result's detail: it goes to the status, the
// dashboards and the journal.
const maxDetail = 300

// printable is the detail made safe for a terminal or a log line: the
// probed server chose part of it (an HTTP status line's reason), so its
// control characters, bidi overrides and invalid bytes are escaped, and
// it is cut to maxDetail bytes.
func printable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if b.Len() >= maxDetail {
			b.WriteString("…")
			break
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsControl(r) || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || r == 0x200e || r == 0x200f || r == 0x2028 || r == 0x2029:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += n
	}
	return b.String()
}

func dial(ctx context.Context, network, addr string) (string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return "", err
	}
	c.Close()
	return "connected to " + addr, nil
}

// maxBody bounds what a probe reads of a response body.
const maxBody = 64 << 10

// errOffHost stops a redirect to another host.
var errOffHost = errors.New("redirect off the host refused (set follow_redirects_off_host = true to follow it)")

func runHTTP(ctx context.Context, s Spec) (string, error) {
	host := ""
	if u, err := url.Parse(s.URL); err == nil {
		host = u.Hostname()
	}
	tr := &http.Transport{
		// No proxy from the daemon's environment, no connection kept:
		// every probe opens its own, so a server that stopped accepting
		// is seen at once.
		Proxy:             nil,
		DisableKeepAlives: true,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: !s.TLSVerify}, //nolint:gosec // only when tls_verify = false
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			if !strings.EqualFold(req.URL.Hostname(), host) && !s.FollowRedirectsOffHost {
				return fmt.Errorf("%w: to %s", errOffHost, req.URL.Host)
			}
			return nil
		},
	}
	req, err := http.NewRequestWithContext(ctx, s.Method, s.URL, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("User-Agent", "luminous-healing-probe")
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return "", fmt.Errorf("reading the body: %w", err)
	}
	if resp.StatusCode != s.Status {
		return "", fmt.Errorf("status %s, want %d", resp.Status, s.Status)
	}
	if s.BodyContains != "" && !strings.Contains(string(body), s.BodyContains) {
		return "", fmt.Errorf("status %s but the body does not contain %q", resp.Status, s.BodyContains)
	}
	if s.BodyRegexp != nil && !s.BodyRegexp.Match(body) {
		return "", fmt.Errorf("status %s but the body does not match /%s/", resp.Status, s.BodyRegexp)
	}
	return "status " + resp.Status, nil
}

func runCommand(ctx context.Context, s Spec, cmd CommandRunner) (string, error) {
	if cmd == nil {
		return "", ErrNoRunner
	}
	exit, err := cmd.RunProbeCommand(ctx, s.Unit, s.Argv, s.User, s.Timeout)
	if err != nil {
		return "", err
	}
	if exit != 0 {
		return "", fmt.Errorf("exit status %d", exit)
	}
	return "exit status 0", nil
}

// Tracker follows one probe's consecutive failures. The zero value is
// ready.
type Tracker struct {
	Consecutive int
	Last        Result
	// FirstFailed is when the current run of failures began; zero while
	// the probe passes.
	FirstFailed time.Time
}

// Observe records a result and reports whether the probe is failing: at
// least failures consecutive failures, none of them inside the grace
// period (inGrace results are recorded but not counted).
func (t *Tracker) Observe(r Result, failures int, inGrace bool) bool {
	t.Last = r
	switch {
	case r.OK:
		t.Consecutive, t.FirstFailed = 0, time.Time{}
	case inGrace:
	default:
		if t.Consecutive == 0 {
			t.FirstFailed = r.At
		}
		t.Consecutive++
	}
	return t.Consecutive >= failures
}

// InGrace reports whether at is within grace of activeSince, when the unit
// became active (zero: not known to have started recently).
func InGrace(at, activeSince time.Time, grace time.Duration) bool {
	return !activeSince.IsZero() && at.Sub(activeSince) < grace
}
