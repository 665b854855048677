package engine

import (
	"context"
	"fmt"
	"maps"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/unit"
)

// An operator's call reaches the engine in two steps. The engine first
// checks it — the arguments' form, what they name, the tier of polkit it
// needs and the details that describe it — and hands the transport an Op.
// The transport authorizes the caller for exactly that (a password prompt
// can take minutes) and calls Run, which checks again against the state
// then and acts only if the call is still the one polkit was asked about.
// So validation lives here, once, and a transport never decides on its own
// which polkit action a call needs.

// Tier is the polkit tier an operation needs: the spec's service mode
// (org.luminous.healing.heal) or development mode
// (org.luminous.healing.develop). Transports map it to their action id.
type Tier int

const (
	TierHeal Tier = iota + 1
	TierDevelop
)

func (t Tier) String() string {
	switch t {
	case TierHeal:
		return "service mode"
	case TierDevelop:
		return "development mode"
	}
	return fmt.Sprintf("tier %d", int(t))
}

// Op is an operator's call the engine has checked: its arguments are
// valid and what they name exists. Its fields describe the act for polkit
// and the audit; they come from the engine, never from caller text.
type Op[T any] struct {
	Tier   Tier
	Action string // the act: restart, cleanup, set-dry-run, … (polkit's "action" detail)
	Unit   string // the canonical unit acted on, or ""
	Issue  string // the issue id, or ""
	Scope  string // a silence's scope, or ""
	// NoOp is true when nothing would change (a setting already at the
	// value asked for): the transport replies at once, asking nobody.
	NoOp bool

	build func(context.Context) (*Op[T], error) // checks the same arguments against the state now
	act   func(context.Context, Caller) (T, error)
	e     *Engine
}

// Details are polkit's details for the op: action, and unit, issue and
// scope where it has them.
func (o *Op[T]) Details() map[string]string {
	d := map[string]string{"action": o.Action}
	for k, v := range map[string]string{"unit": o.Unit, "issue": o.Issue, "scope": o.Scope} {
		if v != "" {
			d[k] = v
		}
	}
	return d
}

// Run checks the call again and acts as caller c. What was checked before
// may have changed while polkit was asking: the issue ended, the unit was
// dropped from monitoring by a reload, the issue's action changed, the
// setting is already where it was asked to go. Run acts only when the
// call still needs the tier and has the details it was authorized for;
// otherwise it does nothing and says why. Nothing escalates beyond what
// polkit was asked.
func (o *Op[T]) Run(ctx context.Context, c Caller) (T, error) {
	var zero T
	now, err := o.build(ctx)
	if err != nil {
		return zero, err
	}
	if now.Tier != o.Tier || !maps.Equal(now.Details(), o.Details()) {
		// Recorded: the audit already says the call was allowed.
		msg := fmt.Sprintf("the call changed while it was being authorized: it was %s, it is now %s; nothing was done, call again",
			o.describe(), now.describe())
		o.e.o.Audit.Record(audit.Entry{Event: audit.ActionRefused, Action: o.Action, Target: o.Unit, Issue: o.Issue,
			Outcome: "changed", CallerUID: c.UID, Caller: c.Name, Message: fmt.Sprintf("uid %d: %s", c.UID, msg)})
		return zero, errorf(ActionFailed, "%s", msg)
	}
	if now.NoOp {
		return zero, nil
	}
	return now.act(ctx, c)
}

// describe says what the op does and the tier it needs, for the caller.
func (o *Op[T]) describe() string {
	s := o.Action
	for _, v := range []string{o.Unit, o.Issue, o.Scope} {
		if v != "" {
			s += " " + unit.Quote(v)
			break
		}
	}
	return s + " (" + o.Tier.String() + ")"
}

// checked builds an op of e from build, which Run calls again.
func checked[T any](ctx context.Context, e *Engine, build func(context.Context) (*Op[T], error)) (*Op[T], error) {
	op, err := build(ctx)
	if err != nil {
		return nil, err
	}
	op.build, op.e = build, e
	return op, nil
}

// runNow checks and runs an op at once, for the engine's own callers that
// need no authorization (tests, the daemon's tools); a transport
// authorizes between the two steps instead.
func runNow[T any](ctx context.Context, c Caller, op *Op[T], err error) (T, error) {
	if err != nil {
		var zero T
		return zero, err
	}
	return op.Run(ctx, c)
}

// maxArg bounds a string argument, in bytes: the D-Bus contract's bound
// (internal/client MaxStringLen).
const maxArg = 4096

// checkID checks an id's form (an issue's, a silence's); whether it exists
// is a NotFound.
func checkID(what, id string) error {
	switch {
	case id == "":
		return errorf(InvalidArgument, "%s: empty; `healingctl issues` lists the ids", what)
	case len(id) > maxArg:
		return errorf(InvalidArgument, "%s: %d bytes long, at most %d allowed", what, len(id), maxArg)
	case unit.HasControl(id):
		// Caller text is data: refused before polkit's prompt, the
		// audit and terminals see it.
		return errorf(InvalidArgument, "%s: contains control characters", what)
	}
	return nil
}

// unitArg normalises a unit name and resolves it to the unit it names in
// systemd — an alias names its unit — so that polkit's details and every
// rule (monitored, protected, the daemon itself) see the unit that would
// be acted on. The healer resolves again before its own rules.
//
// known is the op's memory across its two checks: the canonical name the
// last lookup found. When systemd cannot say at Run's check (its read
// failed or took over 2 s), that name stands: otherwise an alias resolved
// before polkit's prompt and not after would look like another unit, and
// a valid call be refused as changed while it was being authorized.
func (e *Engine) unitArg(ctx context.Context, name string, known *string) (string, error) {
	u, err := unit.Normalize(name)
	if err != nil {
		return "", errorf(InvalidArgument, "unit: %v", err)
	}
	if c, ok := e.heal.Resolve(ctx, u); ok {
		*known = c
		return c, nil
	}
	if *known != "" {
		return *known, nil
	}
	return u, nil
}
