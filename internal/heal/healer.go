package heal

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/nixclean"
)

// Reasons an action did not run or failed. Result.Err wraps one of them so
// the transports can map it to their own errors with errors.Is.
var (
	ErrNotFound  = errors.New("not found")
	ErrProtected = errors.New("protected")
	ErrSelf      = errors.New("the daemon never acts on itself")
	ErrBusy      = errors.New("an action on this target is already running")
	ErrLimited   = errors.New("global action limit reached")
	ErrBackoff   = errors.New("breaker backoff")
	ErrGivenUp   = errors.New("given up")
	ErrDisabled  = errors.New("healing is disabled")
	ErrNoAction  = errors.New("no action applies")
	// ErrElsewhere: the pressure is not caused by a service that may be
	// throttled (it is in a user session, a scope, the kernel, or spread
	// thin); the message says where it is.
	ErrElsewhere = errors.New("the load is not in a service")
	// ErrStopQueued: systemd refused the job because a stop job (an
	// administrator's, an isolate, a shutdown) is queued for the unit.
	// The stop wins: the unit was stopped on purpose.
	ErrStopQueued = errors.New("a stop job is queued")
	// ErrNeedStopping: systemd refused the job because a unit this one
	// Requires= has a stop job queued, while this unit has none of its
	// own: nobody stopped it, and the action is retried.
	ErrNeedStopping = errors.New("a unit it needs is being stopped")
	ErrFailed       = errors.New("action failed")
)

// Settings is the part of the configuration the healer uses.
type Settings struct {
	Table         Table
	Breaker       BreakerPolicy
	MaxPerMinute  int
	ActionTimeout time.Duration
	// CleanupUnits nil means: the built-in list, filtered to units that exist.
	CleanupUnits []string
	// MountCleanupUnits are the units for a disk issue on one mount; nil
	// means the built-in DefaultMountCleanupUnits.
	MountCleanupUnits map[string][]string
	// Nix is what luminous-healing-nix-cleanup.service applies, for
	// dry-run's list of the generations that would go.
	Nix nixclean.Options
	// RuntimeRoot is where cleanup units' RuntimeDirectory= live ("" is
	// /run).
	RuntimeRoot       string
	CPUWeight         uint64
	MemoryHighPercent float64
	// MinShare is the percent of the pressure a service must cause to be
	// throttled (see topConsumer).
	MinShare float64
	// MinCPU is the percent of one core a service must use over the
	// sample to be throttled for CPU.
	MinCPU    float64
	Protected []string // built-in plus configured
	Monitored []string
	Self      string // the daemon's own unit
	// CPUSampleGap is how long throttle watches CPU use to find the top
	// consumer.
	CPUSampleGap time.Duration
}

// SettingsFrom derives Settings from a validated configuration.
func SettingsFrom(c *config.Config, self string) Settings {
	prot := BuiltinProtected()
	for _, u := range c.Services.Protected {
		if !slices.Contains(prot, u) {
			prot = append(prot, u)
		}
	}
	if self != "" && !slices.Contains(prot, self) {
		prot = append(prot, self)
	}
	return Settings{
		Table: NewTable(c.Actions),
		Breaker: BreakerPolicy{
			Backoff:     c.Healing.Backoff.D(),
			BackoffMax:  c.Healing.BackoffMax.D(),
			MaxAttempts: c.Healing.MaxAttempts,
			Window:      c.Healing.AttemptWindow.D(),
			Stable:      c.Healing.StableAfter.D(),
		},
		MaxPerMinute:      c.Healing.MaxActionsPerMinute,
		ActionTimeout:     c.Healing.ActionTimeout.D(),
		CleanupUnits:      c.Healing.CleanupUnits,
		MountCleanupUnits: c.Healing.MountCleanupUnits,
		Nix:               NixOptions(c),
		CPUWeight:         c.Throttle.CPUWeight,
		MemoryHighPercent: c.Throttle.MemoryHighPercent,
		MinShare:          c.Throttle.MinShare,
		MinCPU:            c.Throttle.MinCPU,
		Protected:         prot,
		Monitored:         c.Services.Monitored,
		Self:              self,
		CPUSampleGap:      time.Second,
	}
}

// DefaultCleanupUnits are tried, in order, when the configuration names
// none; the ones that do not exist on the machine are skipped.
var DefaultCleanupUnits = []string{
	"systemd-tmpfiles-clean.service",
	"luminous-healing-journal-vacuum.service",
	NixCleanupUnit,
	"nix-gc.service",
}

// NixCleanupUnit runs `luminous-healingd nix-cleanup`: old NixOS
// generations, the store's garbage, and /boot (docs/cleanup.md).
const NixCleanupUnit = "luminous-healing-nix-cleanup.service"

// DefaultMountCleanupUnits are tried for a disk issue on these mounts when
// the configuration names no units for them; where none exists, the mount
// gets the configured or built-in list like any other. Nothing but old
// generations and the bootloader frees /boot, and on /nix the rest of the
// list would free other mounts.
var DefaultMountCleanupUnits = map[string][]string{
	"/nix":  {NixCleanupUnit, "nix-gc.service"},
	"/boot": {NixCleanupUnit},
}

// NixOptions is the nix cleanup as configured, on NixOS's paths.
func NixOptions(c *config.Config) nixclean.Options {
	n := c.Cleanup.Nix
	return nixclean.Options{
		Policy:        nixclean.Policy{KeepGenerations: n.KeepGenerations, KeepFor: time.Duration(n.KeepDays) * 24 * time.Hour},
		SystemProfile: nixclean.SystemProfile,
		Profiles:      n.Profiles,
		CurrentSystem: nixclean.CurrentSystem,
		BootedSystem:  nixclean.BootedSystem,
		Boot:          n.Boot,
		BootDir:       nixclean.BootDir,
		Optimise:      n.Optimise,
	}
}

// Healer runs actions behind the safety rules. It is safe for concurrent use.
type Healer struct {
	sd        Systemd
	freeBytes func(context.Context) (map[string]uint64, error)

	mu        sync.Mutex
	s         Settings
	dryRun    bool
	inflight  map[string]bool
	breakers  map[string]*Breaker
	limit     limiter
	throttled map[string]*Throttled
}

// New returns a Healer. sd may be nil where systemd is unreachable: every
// action is then planned in dry-run and fails as unavailable otherwise.
// freeBytes reports free bytes per watched mount, for cleanup's report.
func New(sd Systemd, s Settings, freeBytes func(context.Context) (map[string]uint64, error)) *Healer {
	h := &Healer{
		sd:        sd,
		freeBytes: freeBytes,
		inflight:  map[string]bool{},
		breakers:  map[string]*Breaker{},
		throttled: map[string]*Throttled{},
	}
	h.SetSettings(s)
	return h
}

// SetSettings applies new settings; breakers and throttles are kept.
func (h *Healer) SetSettings(s Settings) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.s = s
	h.limit.n = s.MaxPerMinute
	h.limit.window = time.Minute
}

// Settings returns the settings in force.
func (h *Healer) Settings() Settings {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.s
}

// SetDryRun switches dry-run on or off.
func (h *Healer) SetDryRun(on bool) {
	h.mu.Lock()
	h.dryRun = on
	h.mu.Unlock()
}

// DryRun reports whether dry-run is on.
func (h *Healer) DryRun() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.dryRun
}

// ActionFor returns the table's action for an issue.
func (h *Healer) ActionFor(rec issue.Record) issue.Action {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.s.Table.For(rec)
}

// Canonical returns the unit name resolves to, by systemd's Id property
// (an alias names its unit), or name itself when systemd cannot say.
func (h *Healer) Canonical(ctx context.Context, name string) string {
	u, _ := h.Resolve(ctx, name)
	return u
}

// Resolve is Canonical that also says whether systemd said: false when
// its read failed or took over 2 s, and name is returned as given.
func (h *Healer) Resolve(ctx context.Context, name string) (string, bool) {
	if h.sd == nil || name == "" {
		return name, false
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	u, err := h.sd.Unit(ctx, name)
	if err != nil || u.ID == "" {
		return name, false
	}
	return u.ID, true
}

// isGroup reports whether a unit is a slice or a scope: never throttled.
// Slices hold whole parts of the system, the daemon's ancestors (-.slice,
// system.slice) among them; a scope is a user's session or a container.
func isGroup(unit string) bool {
	return strings.HasSuffix(unit, ".slice") || strings.HasSuffix(unit, ".scope")
}

// Do runs one action behind every safety rule and returns what happened.
// Gates, in order: the action plans (reading, never changing, anything);
// the daemon never acts on itself; one action per target at a time; the
// breaker (automatic actions only); dry-run; the global limit; then the
// action runs, bounded by the action timeout.
func (h *Healer) Do(ctx context.Context, req Request) (res Result) {
	res = Result{Action: req.Action, Target: req.Target, IssueID: req.Issue.ID, Started: time.Now()}
	// res is the named result, so this sees what each return assigned.
	defer func() { res.Duration = time.Since(res.Started) }()

	h.mu.Lock()
	s := h.s
	dry := h.dryRun
	h.mu.Unlock()
	res.DryRun = dry

	act, ok := actions[req.Action]
	if !ok {
		return res.refuse(ErrNoAction, "no action %q", req.Action)
	}
	if h.sd == nil && !dry {
		return res.refuse(ErrUnavailable, "systemd is not reachable on the system bus, so nothing can be %s", pastTense(req.Action))
	}

	if req.Operator && req.Target != "" && h.sd != nil {
		// Every rule below compares names: resolve a caller's alias to the
		// unit it names first, so an alias of logind is logind and an
		// alias of the daemon is the daemon. (The daemon's own targets
		// come from systemd's lists and are canonical already.)
		req.Target = h.Canonical(ctx, req.Target)
		res.Target = req.Target
	}
	// A release only puts back values the daemon remembers replacing; one
	// on its own unit comes from a record an earlier run saved (see
	// RestoreThrottles), and undoing it is what never acting on itself asks.
	if req.Target != "" && req.Target == s.Self && req.Action != Release {
		return res.refuse(ErrSelf, "%s is the daemon itself: never acted on", req.Target)
	}
	if req.Action == issue.Throttle && isGroup(req.Target) {
		return res.refuse(ErrProtected, "%s is a slice or scope: only services are throttled (a slice holds the daemon and the whole system, a scope a user's session)", req.Target)
	}
	planCtx, cancel := context.WithTimeout(ctx, s.ActionTimeout)
	defer cancel()
	st, err := act.plan(planCtx, &env{h: h, s: s, dry: dry}, req)
	if err != nil {
		res.Err = err
		if errors.Is(err, ErrProtected) || errors.Is(err, ErrSelf) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrNoAction) || errors.Is(err, ErrElsewhere) {
			res.Outcome = Refused
		} else {
			res.Outcome = Failed
		}
		res.Message = err.Error()
		return res
	}
	res.Target = st.target
	res.Units = st.units
	res.Escalated = st.escalated
	if st.escalated {
		res.Action = issue.Restart
	}
	if st.target != "" && st.target == s.Self && req.Action != Release {
		return res.refuse(ErrSelf, "%s is the daemon itself: never acted on", st.target)
	}
	if req.Action == issue.Throttle && !st.escalated && isGroup(st.target) {
		return res.refuse(ErrProtected, "%s is a slice or scope: only services are throttled", st.target)
	}

	admitted := func() {}
	if req.Turn != nil {
		admitted = sync.OnceFunc(req.Turn())
		defer admitted()
	}
	key := st.lockKey()
	h.mu.Lock()
	if h.inflight[key] {
		h.mu.Unlock()
		return res.refuse(ErrBusy, "an action on %s is already running", key)
	}
	if !req.Operator && req.Issue.ID != "" {
		b := h.breakerLocked(req.Issue.ID)
		if ok, wait := b.Allow(time.Now()); !ok {
			h.mu.Unlock()
			if wait == 0 {
				return res.refuse(ErrGivenUp, "healing %s was given up after repeated failures; reset it with `healingctl reset %s`", req.Issue.ID, req.Issue.ID)
			}
			res.RetryIn = wait
			return res.refuse(ErrBackoff, "backing off: next attempt on %s in %s", req.Issue.ID, wait.Round(time.Millisecond))
		}
	}
	if dry {
		h.mu.Unlock()
		res.Outcome = Planned
		res.Message = "dry-run: would " + st.describe
		return res
	}
	if now := time.Now(); !h.limit.allow(now) {
		res.RetryIn = h.limit.wait(now)
		h.mu.Unlock()
		return res.refuse(ErrLimited, "the limit of %d actions per minute is reached; %s was not run", s.MaxPerMinute, st.describe)
	}
	h.inflight[key] = true
	h.mu.Unlock()
	admitted()

	runCtx, cancelRun := context.WithTimeout(ctx, s.ActionTimeout)
	st.run(runCtx, &res)
	cancelRun()

	h.mu.Lock()
	delete(h.inflight, key)
	if !req.Operator && req.Issue.ID != "" {
		b := h.breakerLocked(req.Issue.ID)
		if res.OK() {
			b.Succeeded(time.Now())
		} else if !b.Failed(s.Breaker, time.Now()) {
			res.RetryIn = time.Until(b.next)
		}
	}
	h.mu.Unlock()
	if res.Outcome == Failed && res.Err == nil {
		res.Err = ErrFailed
	}
	return res
}

// Busy reports whether an action on target (a unit, or "cleanup") is running.
func (h *Healer) Busy(target string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.inflight[target]
}

// Reopened tells the breaker an issue came back; it returns true when that
// gave the issue up.
func (h *Healer) Reopened(id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	b := h.breakers[id]
	return b != nil && b.Reopened(h.s.Breaker, time.Now())
}

// GivenUp reports whether automatic healing of id was given up.
func (h *Healer) GivenUp(id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	b, ok := h.breakers[id]
	return ok && b.givenUp
}

// ResetBreaker re-arms the breaker for id; it reports whether there was
// anything to reset.
func (h *Healer) ResetBreaker(id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	b, ok := h.breakers[id]
	if !ok {
		return false
	}
	delete(h.breakers, id)
	return !b.Idle(h.s.Breaker, time.Now()) || b.givenUp
}

// Breakers reports every breaker that holds something back or remembers
// failures, sorted by issue id.
func (h *Healer) Breakers() []BreakerState {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	out := make([]BreakerState, 0, len(h.breakers))
	for id, b := range h.breakers {
		if b.Idle(h.s.Breaker, now) {
			delete(h.breakers, id)
			continue
		}
		out = append(out, b.State(id, h.s.Breaker, now))
	}
	slices.SortFunc(out, func(a, b BreakerState) int {
		switch {
		case a.IssueID < b.IssueID:
			return -1
		case a.IssueID > b.IssueID:
			return 1
		}
		return 0
	})
	return out
}

func (h *Healer) breakerLocked(id string) *Breaker {
	b, ok := h.breakers[id]
	if !ok {
		b = &Breaker{}
		h.breakers[id] = b
	}
	return b
}

func (r *Result) refuse(reason error, format string, args ...any) Result {
	r.Outcome = Refused
	r.Err = reason
	r.Message = fmt.Sprintf(format, args...)
	return *r
}

func pastTense(a issue.Action) string {
	switch a {
	case issue.Restart:
		return "restarted"
	case issue.Cleanup:
		return "cleaned up"
	case issue.Throttle:
		return "throttled"
	case issue.Reload:
		return "reloaded"
	}
	return "done"
}

// action is one generic healing action. plan decides what to do, reading
// but never changing anything, so dry-run can stop right after it.
type action interface {
	plan(ctx context.Context, e *env, req Request) (step, error)
}

// step is a planned action.
type step struct {
	target    string   // the unit acted on; empty for cleanup
	units     []string // cleanup: units to start
	describe  string   // "restart nginx.service"
	escalated bool
	run       func(ctx context.Context, res *Result)
}

func (s step) lockKey() string {
	if s.target == "" {
		return "cleanup"
	}
	return s.target
}

// actions is the registry each action file adds itself to from init.
var actions = map[issue.Action]action{}

func register(a issue.Action, x action) { actions[a] = x }

// env is what an action may use.
type env struct {
	h   *Healer
	s   Settings
	dry bool // the action will only be planned
}

func (e *env) sd() Systemd { return e.h.sd }

func (e *env) protected(unit string) bool { return slices.Contains(e.s.Protected, unit) }

func (e *env) monitored(unit string) bool { return slices.Contains(e.s.Monitored, unit) }

// unitStep begins the plan of an action on one unit: the step that
// describes it, and the unit as systemd has it loaded, or nil where a
// dry run without systemd plans blind. known is the unit as the caller
// read it a moment ago (Request.Unit), taken instead of a read; nil reads.
func (e *env) unitStep(ctx context.Context, verb, name string, known *UnitStatus) (step, *UnitStatus, error) {
	if name == "" {
		return step{}, nil, fmt.Errorf("%w: %s needs a unit", ErrNotFound, verb)
	}
	st := step{target: name, describe: verb + " " + name}
	if e.sd() == nil {
		return st, nil, nil
	}
	if known != nil && known.Name == name {
		// Read from systemd a moment ago by the caller (Request.Unit).
		if known.LoadState != "loaded" {
			return step{}, nil, fmt.Errorf("%w: unit %s is %s", ErrNotFound, name, known.LoadState)
		}
		u := *known
		return st, &u, nil
	}
	u, err := e.loadedUnit(ctx, name)
	if err != nil {
		return step{}, nil, err
	}
	return st, &u, nil
}

// loadedUnit reads a unit an action is planned for; a unit systemd has not
// loaded (not-found, masked, bad-setting) has nothing to act on.
func (e *env) loadedUnit(ctx context.Context, name string) (UnitStatus, error) {
	u, err := e.sd().Unit(ctx, name)
	if err != nil {
		return u, fmt.Errorf("%w: reading %s: %v", ErrUnavailable, name, err)
	}
	if u.LoadState != "loaded" {
		return u, fmt.Errorf("%w: unit %s is %s", ErrNotFound, name, u.LoadState)
	}
	return u, nil
}

// setThenRead sets properties on a unit and reads the unit back, so that
// the result says what systemd applied, not what was asked; verb and done
// name the change in r's text. It reports false after recording the
// failure.
func (e *env) setThenRead(ctx context.Context, r *Result, name, verb, done string, props []Property) (UnitStatus, bool) {
	if err := e.sd().SetProperties(ctx, name, props...); err != nil {
		r.fail("systemd refused to %s %s: %v", verb, name, err)
		return UnitStatus{}, false
	}
	after, err := e.sd().Unit(ctx, name)
	if err != nil {
		r.fail("%s %s but could not verify it: %v", done, name, err)
		return UnitStatus{}, false
	}
	return after, true
}
