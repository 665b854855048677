// Package polkit asks polkit whether the sender of a D-Bus method call may
// perform an action.
//
// It owns the daemon's one conversation with org.freedesktop.PolicyKit1:
// CheckAuthorization with a system-bus-name subject and a deadline, and
// CancelCheckAuthorization when the answer comes too late. It fails closed:
// anything but a well-formed "authorized" reply is a denial.
//
// The D-Bus transport of the daemon imports it and declares the one method it
// uses (see the package example); it imports no other package of this module.
// Tests run it against internal/bustest's fake authority and the real polkitd.
package polkit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/godbus/dbus/v5"
)

// polkit's Authority on the system bus.
const (
	busName       = "org.freedesktop.PolicyKit1"
	objectPath    = dbus.ObjectPath("/org/freedesktop/PolicyKit1/Authority")
	checkMethod   = "org.freedesktop.PolicyKit1.Authority.CheckAuthorization"
	cancelMethod  = "org.freedesktop.PolicyKit1.Authority.CancelCheckAuthorization"
	subjectKind   = "system-bus-name"
	dismissedKey  = "polkit.dismissed"
	errNoService  = "org.freedesktop.DBus.Error.ServiceUnknown"
	errNoOwner    = "org.freedesktop.DBus.Error.NameHasNoOwner"
	nameHasOwner  = "org.freedesktop.DBus.NameHasOwner"
	probeDeadline = time.Second
)

// AllowUserInteraction is the CheckAuthorization flag that lets polkit ask
// the subject's authentication agent for a password.
const AllowUserInteraction uint32 = 0x1

// Default deadlines; see Options.
const (
	DefaultTimeout            = 5 * time.Second
	DefaultInteractiveTimeout = 25 * time.Second
	DefaultCancelTimeout      = 2 * time.Second
)

// Errors that explain a denial. The decision is Denied whenever Check
// returns an error; these say why, for the log.
var (
	// ErrUnavailable: polkit is not on the bus and cannot be activated.
	ErrUnavailable = errors.New("polkit is not available")
	// ErrTimeout: polkit did not answer within the check's deadline.
	ErrTimeout = errors.New("polkit did not answer in time")
	// ErrCallerGone: the subject left the bus before polkit could look at
	// it.
	ErrCallerGone = errors.New("caller is no longer on the bus")
	// ErrMalformedReply: polkit's reply did not have the (bba{ss}) shape.
	ErrMalformedReply = errors.New("malformed reply from polkit")
	// ErrInvalidRequest: the Request was not checkable (no action, or a
	// caller that is not a unique bus name); polkit was not asked.
	ErrInvalidRequest = errors.New("invalid polkit request")
)

// Decision is polkit's verdict. The zero value is Denied, so a decision that
// was never set fails closed.
type Decision int

const (
	// Denied: the caller may not perform the action (D-Bus reply:
	// org.freedesktop.DBus.Error.AccessDenied).
	Denied Decision = iota
	// Challenge: polkit would allow the action after the caller
	// authenticates, but the request did not allow interaction (D-Bus
	// reply: org.freedesktop.DBus.Error.InteractiveAuthorizationRequired).
	Challenge
	// Allowed: the caller may perform the action.
	Allowed
)

func (d Decision) String() string {
	switch d {
	case Denied:
		return "denied"
	case Challenge:
		return "challenge"
	case Allowed:
		return "allowed"
	default:
		return fmt.Sprintf("Decision(%d)", int(d))
	}
}

// Request is one authorization question.
type Request struct {
	// Action is the polkit action id, e.g. "org.luminous.healing.heal".
	Action string
	// Caller is the unique bus name (":1.42") of the sender of the method
	// call being authorized (the dbus.Sender of an exported method). It is
	// polkit's system-bus-name subject. A PID is never used: the caller
	// can exit and its PID be reused between the check and the action.
	Caller string
	// AllowInteraction lets polkit prompt the caller for a password. Set
	// it only when the incoming method call carried the D-Bus header flag
	// ALLOW_INTERACTIVE_AUTHORIZATION (dbus.FlagAllowInteractiveAuthorization):
	// the caller has then said it can wait for a prompt. Otherwise polkit
	// answers Challenge where it would have asked.
	AllowInteraction bool
	// Details are shown in the authentication dialog and passed to polkit
	// rules as action.lookup(key). The daemon builds them from values it
	// has validated itself (the keys "unit", "action", "issue"); never copy
	// caller-supplied text into them, because rules decide on them.
	Details map[string]string
}

// Result is a Decision together with the details polkit returned with it.
type Result struct {
	Decision Decision
	// Details are polkit's result details, e.g. "polkit.dismissed".
	Details map[string]string
}

// Dismissed reports whether the caller closed the authentication dialog
// instead of answering it.
func (r Result) Dismissed() bool {
	return r.Details[dismissedKey] == "true"
}

// Options bounds the time a check may take. Zero values take the defaults.
type Options struct {
	// Timeout bounds a check that may not prompt. Default 5 s.
	Timeout time.Duration
	// InteractiveTimeout bounds a check that may prompt for a password,
	// which takes a person some time. Default 25 s. Clients that allow
	// interaction should wait longer than this for the reply to their
	// method call.
	InteractiveTimeout time.Duration
	// CancelTimeout bounds the CancelCheckAuthorization sent after a
	// check ran out of time. Default 2 s.
	CancelTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.InteractiveTimeout <= 0 {
		o.InteractiveTimeout = DefaultInteractiveTimeout
	}
	if o.CancelTimeout <= 0 {
		o.CancelTimeout = DefaultCancelTimeout
	}
	return o
}

// Authority checks authorizations with polkit over one bus connection.
// It is safe for concurrent use.
type Authority struct {
	conn *dbus.Conn
	obj  dbus.BusObject
	opts Options

	// Cancellation ids must be unique per bus connection, also between
	// several Authorities sharing one.
	idPrefix string
	lastID   atomic.Uint64
}

// New returns an Authority that talks to polkit over conn, which must be
// connected to the system bus (or, in tests, a bus with a polkit on it).
func New(conn *dbus.Conn, opts Options) *Authority {
	var nonce [6]byte
	_, _ = rand.Read(nonce[:]) // never fails on Linux
	return &Authority{
		conn:     conn,
		obj:      conn.Object(busName, objectPath),
		opts:     opts.withDefaults(),
		idPrefix: "luminous-healing-" + hex.EncodeToString(nonce[:]) + "-",
	}
}

// Check asks polkit whether req.Caller may perform req.Action. Any error means
// Denied, and says why (polkit missing or failing, timeout, cancelled ctx,
// caller gone, malformed reply) for the caller to log; the caller should not
// pass its text to the D-Bus client. A plain "no" from polkit is Denied with a
// nil error.
func (a *Authority) Check(ctx context.Context, req Request) (Decision, error) {
	res, err := a.CheckResult(ctx, req)
	return res.Decision, err
}

// CheckResult is Check with polkit's result details.
func (a *Authority) CheckResult(ctx context.Context, req Request) (Result, error) {
	if err := req.validate(); err != nil {
		return Result{}, err
	}
	if ctx.Err() != nil {
		return Result{}, req.wrap(context.Cause(ctx))
	}
	timeout := a.opts.Timeout
	var flags uint32
	if req.AllowInteraction {
		timeout = a.opts.InteractiveTimeout
		flags |= AllowUserInteraction
	}
	details := req.Details
	if details == nil {
		details = map[string]string{}
	}
	subject := struct {
		Kind    string
		Details map[string]dbus.Variant
	}{subjectKind, map[string]dbus.Variant{"name": dbus.MakeVariant(req.Caller)}}
	id := a.idPrefix + fmt.Sprint(a.lastID.Add(1))

	checkCtx, cancel := context.WithTimeoutCause(ctx, timeout, ErrTimeout)
	defer cancel()
	call := a.obj.CallWithContext(checkCtx, checkMethod, 0, subject, req.Action, details, flags, id)

	if err := call.Err; err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			// ErrTimeout when our deadline ran out, else ctx's own cause.
			err = context.Cause(checkCtx)
			if cerr := a.cancelCheck(ctx, id); cerr != nil {
				err = errors.Join(err, cerr)
			}
			return Result{}, req.wrap(err)
		}
		return Result{}, req.wrap(a.explain(ctx, req, err))
	}

	var reply struct {
		IsAuthorized bool
		IsChallenge  bool
		Details      map[string]string
	}
	if err := call.Store(&reply); err != nil {
		return Result{}, req.wrap(fmt.Errorf("%w: %w", ErrMalformedReply, err))
	}
	res := Result{Decision: Denied, Details: reply.Details}
	switch {
	case reply.IsAuthorized:
		res.Decision = Allowed
	case reply.IsChallenge:
		res.Decision = Challenge
	}
	return res, nil
}

func (r Request) validate() error {
	if r.Action == "" {
		return fmt.Errorf("%w: no action id", ErrInvalidRequest)
	}
	// Only a unique name identifies one connection; a well-known name can
	// change hands.
	if len(r.Caller) < 2 || !strings.HasPrefix(r.Caller, ":") {
		return fmt.Errorf("%w: caller %q is not a unique bus name", ErrInvalidRequest, r.Caller)
	}
	return nil
}

func (r Request) wrap(err error) error {
	return fmt.Errorf("polkit check of %s for %s: %w", r.Action, r.Caller, err)
}

// cancelCheck tells polkit to forget check id (and close its dialog, if it
// showed one). It is best effort: the check is already denied.
func (a *Authority) cancelCheck(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.opts.CancelTimeout)
	defer cancel()
	if err := a.obj.CallWithContext(ctx, cancelMethod, 0, id).Err; err != nil {
		return fmt.Errorf("cancelling check %s: %w", id, err)
	}
	return nil
}

// explain turns a failed CheckAuthorization into an error that says whose
// fault it was: polkit missing, the caller gone, or polkit itself. polkit
// reports a vanished subject as NameHasNoOwner, the same error the bus gives
// for a missing polkit, so both names are looked up.
func (a *Authority) explain(ctx context.Context, req Request, err error) error {
	if errors.Is(err, dbus.ErrClosed) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	var dbusErr dbus.Error
	if !errors.As(err, &dbusErr) {
		return err
	}
	if dbusErr.Name == errNoService {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if gone, ok := a.hasNoOwner(ctx, req.Caller); ok && gone {
		return fmt.Errorf("%w: %w", ErrCallerGone, err)
	}
	if dbusErr.Name == errNoOwner {
		if gone, ok := a.hasNoOwner(ctx, busName); ok && gone {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	return err
}

// hasNoOwner asks the bus whether name has no owner; ok is false when the bus
// did not say.
func (a *Authority) hasNoOwner(ctx context.Context, name string) (gone, ok bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), probeDeadline)
	defer cancel()
	var has bool
	if err := a.conn.BusObject().CallWithContext(ctx, nameHasOwner, 0, name).Store(&has); err != nil {
		return false, false
	}
	return !has, true
}
