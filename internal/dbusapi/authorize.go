package dbusapi

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/polkit"
	"github.com/luminous-healing/luminous-healing/internal/unit"
)

// Authorizer decides whether a caller may perform an action: a
// *polkit.Authority on the system bus, OwnerOnly in the try-it mode. Any
// error means Denied; its text is logged, never sent to the caller.
type Authorizer interface {
	Check(ctx context.Context, req polkit.Request) (polkit.Decision, error)
}

// OwnerOnly authorizes exactly the callers that run with the daemon's own
// uid. It stands in for polkit in the try-it mode on the session bus, where
// no polkit rules apply.
type OwnerOnly struct {
	conn *dbus.Conn
	uid  uint32
}

// NewOwnerOnly returns an authorizer that allows the callers running as
// uid (the daemon's own, os.Getuid()), asking the bus at conn who they are.
func NewOwnerOnly(conn *dbus.Conn, uid uint32) *OwnerOnly {
	return &OwnerOnly{conn: conn, uid: uid}
}

// Check implements Authorizer.
func (o *OwnerOnly) Check(ctx context.Context, req polkit.Request) (polkit.Decision, error) {
	uid, err := unixUser(ctx, o.conn, req.Caller)
	if err != nil {
		return polkit.Denied, err
	}
	if uid == o.uid {
		return polkit.Allowed, nil
	}
	return polkit.Denied, nil
}

// unixUser asks the bus for the uid behind a connection.
func unixUser(ctx context.Context, conn *dbus.Conn, name string) (uint32, error) {
	var uid uint32
	err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.GetConnectionUnixUser", 0, name).Store(&uid)
	if err != nil {
		return 0, fmt.Errorf("uid of %s: %w", name, err)
	}
	return uid, nil
}

// privileged describes one privileged call as the engine checked it: what
// polkit is asked and what the audit says.
type privileged struct {
	method  string            // D-Bus member, e.g. "RestartUnit"
	action  string            // polkit action id
	details map[string]string // polkit's details, from the engine: action, unit, issue, scope
	unit    string            // canonical unit, or ""
	issue   string            // issue id, or ""
	scope   string            // a silence's scope, or ""
}

// describe names the call for audit lines; the caller's argument is
// quoted, so it reads as data whatever it holds.
func (p privileged) describe() string {
	arg := p.unit
	if arg == "" {
		arg = p.issue
	}
	if p.scope != "" {
		arg = p.scope
	}
	if arg == "" {
		return p.method + "()"
	}
	return p.method + "(" + unit.Quote(arg) + ")"
}

// authorize decides a privileged call, records the decision in the audit
// log and returns the caller's identity, or the D-Bus error to reply with.
// Its order is the spec's: rate limit, then polkit, fail closed.
func (s *Server) authorize(ctx context.Context, msg dbus.Message, sender dbus.Sender, p privileged) (callerID, *dbus.Error) {
	c := callerID{name: string(sender), uid: -1}
	lim := s.o.Engine.Config().DBus
	now := time.Now()
	s.flushDenials(now, lim.Window.D())
	deny := func(outcome, why string, e *dbus.Error) (callerID, *dbus.Error) {
		// Anyone can make the daemon deny calls. polkit's own denials are
		// bounded by the rate limit (calls_per_window per caller and
		// action) and each is recorded. The calls the rate limit refuses,
		// and those of callers the bus cannot name, are not bounded: the
		// first per caller, action and outcome in a window is recorded,
		// the rest are counted and summarised when the window ends, so a
		// flood neither floods the journal nor the history.
		unbounded := outcome == "rate-limited" || c.uid < 0
		if !unbounded || s.denials.first(denialKey{c.uid, p.action, outcome}, now, lim.Window.D()) {
			s.o.Audit.Record(audit.Entry{Event: audit.CallDenied, Action: p.method, Target: p.unit, Issue: p.issue,
				Outcome: outcome, CallerUID: c.uid, Caller: c.name,
				Message: fmt.Sprintf("%s by uid %d denied: %s", p.describe(), c.uid, why)})
		}
		return c, e
	}
	uctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	uid, err := unixUser(uctx, s.conn, c.name)
	cancel()
	if err != nil {
		s.log.Debug("denying a call whose caller could not be identified", "method", p.method, "caller", c.name, "err", err)
		return deny("denied", "caller could not be identified", accessDenied())
	}
	c.uid = int64(uid)
	// The limit keeps ordinary users from spamming polkit (and an
	// administrator's password prompts). Root is not limited: it may do
	// the same directly with systemctl, and polkit allows it without a
	// prompt.
	if c.uid != 0 && !s.limit.allow(rateKey{c.uid, p.action}, lim.CallsPerWindow, lim.Window.D(), now) {
		return deny("rate-limited", "rate limit", newError(client.ErrorRateLimited,
			"uid %d made more than %d calls needing %s in %s; wait and try again", c.uid, lim.CallsPerWindow, p.action, lim.Window))
	}
	if s.o.Authorizer == nil {
		return deny("denied", "no authorizer", accessDenied())
	}
	interactive := msg.Flags&dbus.FlagAllowInteractiveAuthorization != 0
	actx, cancel := context.WithTimeout(ctx, s.o.AuthTimeout)
	defer cancel()
	d, err := s.o.Authorizer.Check(actx, polkit.Request{Action: p.action, Caller: c.name, AllowInteraction: interactive, Details: p.details})
	switch {
	case err != nil:
		// Logged here, never shown to the caller: it may carry polkit's
		// internals.
		s.log.Warn("authorization failed; denying", "method", p.method, "caller", c.name, "uid", c.uid, "err", err)
		return deny("denied", "authorization failed: "+err.Error(), accessDenied())
	case d == polkit.Allowed:
		s.o.Audit.Record(audit.Entry{Event: audit.CallAllowed, Action: p.method, Target: p.unit, Issue: p.issue,
			Outcome: "allowed", CallerUID: c.uid, Caller: c.name,
			Message: fmt.Sprintf("%s by uid %d allowed (%s)", p.describe(), c.uid, p.action)})
		return c, nil
	case d == polkit.Challenge:
		return deny("challenge", "authentication required, interaction not allowed",
			&dbus.Error{Name: client.ErrorInteractiveAuthorizationRequired, Body: []any{
				"authentication is required for " + p.action + "; allow interactive authorization or run as an administrator"}})
	default:
		return deny("denied", "not authorized for "+p.action, accessDenied())
	}
}

// flushDenials records a summary for each caller whose window of counted,
// unrecorded denials has ended.
func (s *Server) flushDenials(now time.Time, window time.Duration) {
	for _, sum := range s.denials.ended(now, window) {
		s.o.Audit.Record(audit.Entry{Event: audit.CallDenied, Action: sum.key.action, Outcome: sum.key.outcome,
			CallerUID: sum.key.uid,
			Message: fmt.Sprintf("uid %d: %d more calls needing %s denied (%s) between %s and %s, not recorded one by one",
				sum.key.uid, sum.n, sum.key.action, sum.key.outcome, sum.since.Format(time.TimeOnly), sum.last.Format(time.TimeOnly))})
	}
}

func accessDenied() *dbus.Error {
	return &dbus.Error{Name: client.ErrorAccessDenied, Body: []any{"access denied by polkit"}}
}

type callerID struct {
	name string
	uid  int64
}

// rateLimit counts privileged calls per caller uid and polkit action in a
// sliding window, as the spec says: five methods that need the same action
// share one budget. The uid, not the bus name, is the caller: a new
// connection is free to make. It is safe for concurrent use.
type rateLimit struct {
	mu    sync.Mutex
	calls map[rateKey][]time.Time
}

type rateKey struct {
	uid    int64
	action string // polkit action id
}

// allow records a call at now if fewer than n calls were made in window.
func (r *rateLimit) allow(k rateKey, n int, window time.Duration, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.calls == nil {
		r.calls = map[rateKey][]time.Time{}
	}
	ts := r.calls[k]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= window {
		i++
	}
	ts = ts[i:]
	if len(ts) >= n {
		r.calls[k] = ts
		return false
	}
	r.calls[k] = append(ts, now)
	// Forget idle callers so the map does not grow with every uid ever seen.
	if len(r.calls) > 1024 {
		for k, ts := range r.calls {
			if len(ts) == 0 || now.Sub(ts[len(ts)-1]) >= window {
				delete(r.calls, k)
			}
		}
	}
	return true
}

// denials decides which denied calls are recorded one by one: the first
// per caller, polkit action and outcome in a window. It counts the others
// and hands back a summary once the window has ended. It is safe for
// concurrent use.
type denials struct {
	mu   sync.Mutex
	keys map[denialKey]*denialRun
}

type denialKey struct {
	uid     int64
	action  string
	outcome string
}

type denialRun struct {
	start       time.Time // when the recorded denial was
	n           int       // denials counted, not recorded
	since, last time.Time // of the counted ones
}

type denialSummary struct {
	key         denialKey
	n           int
	since, last time.Time
}

// first reports whether a denial at now is to be recorded; otherwise it is
// counted.
func (d *denials) first(k denialKey, now time.Time, window time.Duration) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.keys == nil {
		d.keys = map[denialKey]*denialRun{}
	}
	r, ok := d.keys[k]
	if !ok || (now.Sub(r.start) >= window && r.n == 0) {
		d.keys[k] = &denialRun{start: now}
		return true
	}
	if r.n == 0 {
		r.since = now
	}
	r.n++
	r.last = now
	return false
}

// ended returns the summaries of runs whose window has ended, and forgets
// those runs.
func (d *denials) ended(now time.Time, window time.Duration) []denialSummary {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []denialSummary
	for k, r := range d.keys {
		if now.Sub(r.start) < window {
			continue
		}
		if r.n > 0 {
			out = append(out, denialSummary{key: k, n: r.n, since: r.since, last: r.last})
		}
		delete(d.keys, k)
	}
	return out
}
