package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/godbus/dbus/v5"
)

// Options say which daemon to talk to and how.
type Options struct {
	// User talks to a daemon in the no-root try-it mode on the session bus
	// (luminous-healingd --user) instead of the system service.
	User bool
	// Address is the bus address; empty means the system bus, or with User
	// the session bus ($DBUS_SESSION_BUS_ADDRESS, else
	// $XDG_RUNTIME_DIR/bus).
	Address string
	// Interactive sets the ALLOW_INTERACTIVE_AUTHORIZATION flag on the
	// calls polkit gates, so polkit may ask for a password through the
	// caller's authentication agent. Without it a call that needs a
	// password fails with ErrInteractiveAuthorizationRequired.
	Interactive bool
	// NoAutoStart sets NO_AUTO_START on every call, so a call never starts
	// the daemon through bus activation: a long-running client (the
	// dashboard, a notifier) that polls must not bring back a daemon an
	// administrator stopped. Such calls fail with ErrUnreachable instead.
	NoAutoStart bool
}

// Client talks to luminous-healingd. Its methods may be called from
// several goroutines.
type Client struct {
	conn  *dbus.Conn
	opts  Options
	owned bool
}

// Dial connects to the bus on a private connection. It does not check that
// the daemon runs: the first call says so with ErrUnreachable (or starts
// it, where the bus can activate it).
func Dial(ctx context.Context, opts Options) (*Client, error) {
	addr := opts.Address
	if addr == "" {
		var err error
		if addr, err = busAddress(opts.User); err != nil {
			return nil, err
		}
	}
	conn, err := dbus.Connect(addr, dbus.WithContext(ctx))
	if err != nil {
		bus := "system bus"
		if opts.User {
			bus = "session bus"
		}
		return nil, &unreachable{why: fmt.Sprintf("cannot connect to the %s: %v", bus, err)}
	}
	c := New(conn, opts)
	c.owned = true
	return c, nil
}

// busAddress finds the bus: the system bus, or the session bus the way
// luminous-healingd --user finds it.
func busAddress(user bool) (string, error) {
	if !user {
		if a := os.Getenv("DBUS_SYSTEM_BUS_ADDRESS"); a != "" {
			return a, nil
		}
		return "unix:path=/run/dbus/system_bus_socket", nil
	}
	if a := SessionBusAddress(); a != "" {
		return a, nil
	}
	return "", &unreachable{why: "no session bus: DBUS_SESSION_BUS_ADDRESS is unset and $XDG_RUNTIME_DIR/bus does not exist"}
}

// SessionBusAddress is the session bus both luminous-healingd --user and
// healingctl --user use: $DBUS_SESSION_BUS_ADDRESS, else the user bus at
// $XDG_RUNTIME_DIR/bus, else "".
func SessionBusAddress() string {
	if a := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" && a != "autolaunch:" {
		return a
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		p := filepath.Join(d, "bus")
		if fi, err := os.Stat(p); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return "unix:path=" + p
		}
	}
	return ""
}

// New returns a Client on an open connection, which the caller keeps and
// closes.
func New(conn *dbus.Conn, opts Options) *Client {
	return &Client{conn: conn, opts: opts}
}

// Close closes the connection if Dial opened it.
func (c *Client) Close() error {
	if c.owned {
		return c.conn.Close()
	}
	return nil
}

// Conn returns the client's bus connection.
func (c *Client) Conn() *dbus.Conn { return c.conn }

// Status returns everything `healingctl status` shows. It sends GetStatus
// and the eight list calls at once and then waits for the nine replies, so
// it costs about one round trip.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var sum map[string]dbus.Variant
	var res, units, issues, preds, breakers, throttles, silences, probes []map[string]dbus.Variant
	err := c.batch(ctx, []reply{
		{MethodGetStatus, &sum}, {MethodListResources, &res}, {MethodListUnits, &units},
		{MethodListIssues, &issues}, {MethodGetPredictions, &preds}, {MethodListBreakers, &breakers},
		{MethodListThrottles, &throttles}, {MethodListSilences, &silences}, {MethodListProbes, &probes},
	})
	if err != nil {
		return Status{}, err
	}
	return Status{
		Summary:     Decode[Summary](sum),
		Resources:   DecodeAll[Resource](res),
		Units:       DecodeAll[UnitState](units),
		Issues:      DecodeAll[Issue](issues),
		Predictions: DecodeAll[Prediction](preds),
		Breakers:    DecodeAll[Breaker](breakers),
		Throttles:   DecodeAll[Throttle](throttles),
		Silences:    DecodeAll[Silence](silences),
		Probes:      DecodeAll[Probe](probes),
	}, nil
}

// Summary returns GetStatus's reply alone: the properties and how the
// daemon runs.
func (c *Client) Summary(ctx context.Context) (Summary, error) {
	var m map[string]dbus.Variant
	if err := c.call(ctx, MethodGetStatus, false, &m); err != nil {
		return Summary{}, err
	}
	return Decode[Summary](m), nil
}

// Throttles returns the units the daemon has put limits on.
func (c *Client) Throttles(ctx context.Context) ([]Throttle, error) {
	return list[Throttle](ctx, c, MethodListThrottles)
}

// Issues returns the active issues, worst first.
func (c *Client) Issues(ctx context.Context) ([]Issue, error) {
	return list[Issue](ctx, c, MethodListIssues)
}

// Predictions returns the current forecasts.
func (c *Client) Predictions(ctx context.Context) ([]Prediction, error) {
	return list[Prediction](ctx, c, MethodGetPredictions)
}

// History returns up to limit audit records, newest first; 0 means all.
func (c *Client) History(ctx context.Context, limit uint32) ([]HistoryEntry, error) {
	return list[HistoryEntry](ctx, c, MethodGetHistory, limit)
}

// list calls a read method whose reply is aa{sv} and decodes each record.
func list[T any](ctx context.Context, c *Client, method string, args ...any) ([]T, error) {
	var ms []map[string]dbus.Variant
	if err := c.call(ctx, method, false, &ms, args...); err != nil {
		return nil, err
	}
	return DecodeAll[T](ms), nil
}

// Heal runs the action of an active issue now.
func (c *Client) Heal(ctx context.Context, issueID string) (ActionResult, error) {
	return c.action(ctx, MethodHeal, issueID)
}

// RestartUnit restarts a unit: a monitored one needs the heal action, any
// other the develop action.
func (c *Client) RestartUnit(ctx context.Context, unit string) (ActionResult, error) {
	return c.action(ctx, MethodRestartUnit, unit)
}

// Cleanup runs the cleanup units now.
func (c *Client) Cleanup(ctx context.Context) (ActionResult, error) {
	return c.action(ctx, MethodCleanup)
}

// Throttle puts runtime CPU and memory limits on a unit.
func (c *Client) Throttle(ctx context.Context, unit string) (ActionResult, error) {
	return c.action(ctx, MethodThrottle, unit)
}

// Release lifts the daemon's limits from a unit.
func (c *Client) Release(ctx context.Context, unit string) (ActionResult, error) {
	return c.action(ctx, MethodRelease, unit)
}

// Silences returns the silences and maintenance windows, soonest end first.
func (c *Client) Silences(ctx context.Context) ([]Silence, error) {
	return list[Silence](ctx, c, MethodListSilences)
}

// AddSilence pauses automatic healing within a scope until the silence
// expires, and returns it.
func (c *Client) AddSilence(ctx context.Context, req SilenceRequest) (Silence, error) {
	var m map[string]dbus.Variant
	if err := c.call(ctx, MethodAddSilence, true, &m, Encode(req)); err != nil {
		return Silence{}, err
	}
	return Decode[Silence](m), nil
}

// RemoveSilence ends a silence before its expiry.
func (c *Client) RemoveSilence(ctx context.Context, id string) error {
	return c.call(ctx, MethodRemoveSilence, true, nil, id)
}

// ResetBreaker re-arms healing of an issue that was given up or backs off.
func (c *Client) ResetBreaker(ctx context.Context, issueID string) error {
	return c.call(ctx, MethodResetBreaker, true, nil, issueID)
}

// SetDryRun switches dry-run.
func (c *Client) SetDryRun(ctx context.Context, on bool) error {
	return c.call(ctx, MethodSetDryRun, true, nil, on)
}

// SetHealingEnabled switches automatic healing.
func (c *Client) SetHealingEnabled(ctx context.Context, on bool) error {
	return c.call(ctx, MethodSetHealingEnabled, true, nil, on)
}

// SetThreshold changes a kind's threshold until the next reload. kind is
// cpu, memory, disk, load or pressure.
func (c *Client) SetThreshold(ctx context.Context, kind string, value float64) error {
	return c.call(ctx, MethodSetThreshold, true, nil, kind, value)
}

// Reload re-reads the configuration file; a bad file changes nothing.
func (c *Client) Reload(ctx context.Context) error {
	return c.call(ctx, MethodReload, true, nil)
}

// InjectIssue opens a synthetic issue that runs the whole pipeline.
func (c *Client) InjectIssue(ctx context.Context, in Injection) (Issue, error) {
	var m map[string]dbus.Variant
	if err := c.call(ctx, MethodInjectIssue, true, &m, Encode(in)); err != nil {
		return Issue{}, err
	}
	return Decode[Issue](m), nil
}

func (c *Client) action(ctx context.Context, method string, args ...any) (ActionResult, error) {
	var m map[string]dbus.Variant
	if err := c.call(ctx, method, true, &m, args...); err != nil {
		return ActionResult{}, err
	}
	return Decode[ActionResult](m), nil
}

func (c *Client) call(ctx context.Context, method string, privileged bool, ret any, args ...any) error {
	return c.finish(<-c.send(ctx, method, privileged, args).Done, ret)
}

// send sends a method call without waiting for its reply.
func (c *Client) send(ctx context.Context, method string, privileged bool, args []any) *dbus.Call {
	return c.conn.SendWithContext(ctx, c.message(method, privileged, args), make(chan *dbus.Call, 1))
}

// finish stores a call's reply in ret, or says why there is none.
func (c *Client) finish(call *dbus.Call, ret any) error {
	if call.Err != nil {
		return c.convert(call.Err)
	}
	if ret == nil {
		return nil
	}
	if err := call.Store(ret); err != nil {
		return fmt.Errorf("unexpected reply to %s: %w; is healingctl as new as the daemon?", shortMethod(call.Method), err)
	}
	return nil
}

// reply is a call without arguments and where its reply goes.
type reply struct {
	method string
	ret    any
}

// batch sends the calls together and waits for every reply; the error is
// the first call's that failed.
func (c *Client) batch(ctx context.Context, calls []reply) error {
	sent := make([]*dbus.Call, len(calls))
	for i, r := range calls {
		sent[i] = c.send(ctx, r.method, false, nil)
	}
	var first error
	for i, r := range calls {
		if err := c.finish(<-sent[i].Done, r.ret); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// message builds a method call. It is not BusObject.Call because godbus
// drops the ALLOW_INTERACTIVE_AUTHORIZATION flag there.
func (c *Client) message(method string, privileged bool, args []any) *dbus.Message {
	i := strings.LastIndexByte(method, '.')
	msg := &dbus.Message{Type: dbus.TypeMethodCall, Headers: map[dbus.HeaderField]dbus.Variant{
		dbus.FieldPath:        dbus.MakeVariant(dbus.ObjectPath(ObjectPath)),
		dbus.FieldDestination: dbus.MakeVariant(BusName),
		dbus.FieldInterface:   dbus.MakeVariant(method[:i]),
		dbus.FieldMember:      dbus.MakeVariant(method[i+1:]),
	}, Body: args}
	if len(args) > 0 {
		msg.Headers[dbus.FieldSignature] = dbus.MakeVariant(dbus.SignatureOf(args...))
	}
	if privileged && c.opts.Interactive {
		msg.Flags |= dbus.FlagAllowInteractiveAuthorization
	}
	if c.opts.NoAutoStart {
		msg.Flags |= dbus.FlagNoAutoStart
	}
	return msg
}

// Error is an error reply of the daemon, or of the bus or polkit on its
// behalf. Message is one line meant for a person. Compare with errors.Is
// against the Err… values, which match by Name.
type Error struct {
	Name    string
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Name
	}
	return e.Message
}

// Is matches an Err… value with the same Name.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Name == e.Name
}

// Values for errors.Is.
var (
	ErrInvalidArgument                  = &Error{Name: ErrorInvalidArgument}
	ErrNotFound                         = &Error{Name: ErrorNotFound}
	ErrRateLimited                      = &Error{Name: ErrorRateLimited}
	ErrUnavailable                      = &Error{Name: ErrorUnavailable}
	ErrActionFailed                     = &Error{Name: ErrorActionFailed}
	ErrAccessDenied                     = &Error{Name: ErrorAccessDenied}
	ErrInteractiveAuthorizationRequired = &Error{Name: ErrorInteractiveAuthorizationRequired}
)

// ErrUnreachable is matched (errors.Is) by every error that says the daemon
// could not be reached: no bus, nobody owning BusName, activation failed.
var ErrUnreachable = errors.New("luminous-healingd is not reachable")

type unreachable struct{ why string }

func (u *unreachable) Error() string        { return u.why }
func (u *unreachable) Is(target error) bool { return target == ErrUnreachable }

// IsDenied reports whether err is polkit's (or the try-it mode's) refusal.
func IsDenied(err error) bool {
	return errors.Is(err, ErrAccessDenied) || errors.Is(err, ErrInteractiveAuthorizationRequired)
}

// unreachableNames are the bus's errors for a daemon that is not there.
var unreachableNames = []string{
	"org.freedesktop.DBus.Error.ServiceUnknown",
	"org.freedesktop.DBus.Error.NameHasNoOwner",
	"org.freedesktop.DBus.Error.NoServer",
	"org.freedesktop.DBus.Error.Disconnected",
	"org.freedesktop.DBus.Error.Spawn.",
	"org.freedesktop.systemd1.",
}

func (c *Client) convert(err error) error {
	if errors.Is(err, dbus.ErrClosed) {
		return &unreachable{why: "the bus connection closed"}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return err
	}
	var de dbus.Error
	if !errors.As(err, &de) {
		var dp *dbus.Error
		if !errors.As(err, &dp) {
			return err
		}
		de = *dp
	}
	msg := ""
	if len(de.Body) > 0 {
		msg, _ = de.Body[0].(string)
		msg = Printable(msg) // healingctl prints it
	}
	for _, n := range unreachableNames {
		if de.Name == n || strings.HasSuffix(n, ".") && strings.HasPrefix(de.Name, n) {
			why := "nobody owns " + BusName + " on the bus"
			if strings.HasSuffix(n, ".") {
				why = fmt.Sprintf("the bus could not start it: %s", de.Name)
			}
			return &unreachable{why: why}
		}
	}
	// The bus's own "unknown method" means the daemon is older than this
	// client, or another program owns the name.
	switch de.Name {
	case "org.freedesktop.DBus.Error.UnknownMethod", "org.freedesktop.DBus.Error.UnknownInterface", "org.freedesktop.DBus.Error.UnknownObject":
		msg = fmt.Sprintf("the daemon does not know this call (%s): is it older than healingctl?", msg)
	}
	return &Error{Name: de.Name, Message: oneLine(msg)}
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func shortMethod(m string) string { return strings.TrimPrefix(m, Interface+".") }
