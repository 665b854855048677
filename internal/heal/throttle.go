package heal

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/nixclean"
)

// Release is not one of the three generic actions a table may name: it
// undoes a throttle, when the pressure that caused it has cleared or when
// an operator asks.
const Release issue.Action = "release"

func init() {
	register(issue.Throttle, throttle{})
	register(Release, release{})
}

// Throttled remembers the limits the daemon put on a unit and the values
// they replaced, so they can be released even after a daemon restart.
type Throttled struct {
	Unit           string
	Since          time.Time
	Issues         []string // the issues that caused it; empty for an operator's throttle
	PrevCPUWeight  uint64   // Unset when the unit had none
	PrevMemoryHigh uint64   // Unset (infinity) when the unit had none
	CPUWeight      uint64   // applied; 0 when not changed
	MemoryHigh     uint64   // applied; 0 when not changed
}

// minMemoryHigh keeps a throttle from starving a unit into thrashing.
const minMemoryHigh = 64 << 20

// throttle finds the top CPU or memory consumer among unprotected services
// (or takes the operator's unit) and lowers its CPUWeight or MemoryHigh at
// run time with SetUnitProperties(runtime=true). A critical memory issue
// whose top consumer is a monitored unit is healed by restarting that unit
// instead: a leak is not cured by squeezing it.
type throttle struct{}

type resources struct{ cpu, mem bool }

func resourcesFor(rec issue.Record) resources {
	switch {
	case rec.ID == "":
		return resources{cpu: true, mem: true}
	case rec.Kind == issue.Memory, rec.Kind == issue.Pressure && rec.Subject == "memory":
		return resources{mem: true}
	default:
		return resources{cpu: true}
	}
}

func (throttle) plan(ctx context.Context, e *env, req Request) (step, error) {
	res := resourcesFor(req.Issue)
	target := req.Target
	if target != "" && e.protected(target) {
		return step{}, fmt.Errorf("%w: %s is protected and is never throttled", ErrProtected, target)
	}
	if e.sd() == nil {
		if target == "" {
			// Only systemd's accounting names the top consumer.
			return step{describe: "throttle the top consumer, which cannot be named: systemd is not reachable here"}, nil
		}
		return step{target: target, describe: "throttle " + target}, nil
	}
	var usage consumer
	if target == "" {
		u, err := e.topConsumer(ctx, res)
		if err != nil {
			return step{}, err
		}
		usage, target = u, u.Unit
		// An operator's Heal was authorized for the issue's action
		// (throttle) as polkit's details said; it never becomes a restart
		// of a unit the person was not asked about. Only the daemon's own
		// decision escalates.
		if !req.Operator && res.mem && !res.cpu && req.Issue.Severity == issue.Critical && e.monitored(target) {
			st, err := restart{}.plan(ctx, e, Request{Target: target})
			st.escalated = true
			st.describe += fmt.Sprintf(" (top memory consumer, %s)", nixclean.FormatBytes(u.MemoryCurrent))
			return st, err
		}
	}
	u, err := e.loadedUnit(ctx, target)
	if err != nil {
		return step{}, err
	}
	if u.ActiveState != "active" {
		return step{}, fmt.Errorf("%w: unit %s is %s, nothing to throttle", ErrNotFound, target, u.ActiveState)
	}
	if usage.Unit == "" {
		usage.Usage = Usage{Unit: target, MemoryCurrent: u.MemoryCurrent, CPUUsageNSec: u.CPUUsageNSec}
	}

	var props []Property
	var parts []string
	if res.cpu && (u.CPUWeight == Unset || u.CPUWeight > e.s.CPUWeight) {
		props = append(props, Property{"CPUWeight", e.s.CPUWeight})
		parts = append(parts, fmt.Sprintf("CPUWeight=%d", e.s.CPUWeight))
	}
	if res.mem {
		cur := usage.MemoryCurrent
		if cur == Unset || cur == 0 {
			if !res.cpu {
				return step{}, fmt.Errorf("%w: the memory use of %s is unknown", ErrFailed, target)
			}
		} else {
			high := max(uint64(float64(cur)*e.s.MemoryHighPercent/100)&^4095, minMemoryHigh)
			if u.MemoryHigh == Unset || u.MemoryHigh > high {
				props = append(props, Property{"MemoryHigh", high})
				parts = append(parts, fmt.Sprintf("MemoryHigh=%s", nixclean.FormatBytes(high)))
			}
		}
	}
	if len(props) == 0 {
		return step{}, fmt.Errorf("%w: %s is already limited at least as much", ErrNoAction, target)
	}
	st := step{target: target, describe: fmt.Sprintf("set %s on %s", strings.Join(parts, " "), target)}
	st.run = func(ctx context.Context, r *Result) {
		after, ok := e.setThenRead(ctx, r, target, "limit", "limited", props)
		if !ok {
			return
		}
		r.Applied = map[string]uint64{}
		t := Throttled{Unit: target, Since: time.Now(), PrevCPUWeight: u.CPUWeight, PrevMemoryHigh: u.MemoryHigh}
		for _, p := range props {
			want := p.Value.(uint64)
			got := after.CPUWeight
			if p.Name == "MemoryHigh" {
				got = after.MemoryHigh
				t.MemoryHigh = got
			} else {
				t.CPUWeight = got
			}
			r.Applied[p.Name] = got
			if got != want {
				r.fail("set %s=%d on %s but systemd reports %d", p.Name, want, target, got)
				return
			}
		}
		e.h.remember(t, req.Issue.ID)
		r.succeed("%s (%s)", st.describe, usageLine(usage))
	}
	return st, nil
}

// consumer is a service throttle acts on and, when it was picked for its
// CPU use, the CPU it used while watched, as top counts it (100 = one CPU
// busy).
type consumer struct {
	Usage
	cpuPercent float64 // 0 when not measured
}

func usageLine(c consumer) string {
	var parts []string
	if c.cpuPercent > 0 {
		parts = append(parts, fmt.Sprintf("%.0f%% CPU", c.cpuPercent))
	}
	if c.MemoryCurrent != Unset {
		parts = append(parts, nixclean.FormatBytes(c.MemoryCurrent))
	}
	if len(parts) == 0 {
		return "use unknown"
	}
	return "using " + strings.Join(parts, ", ")
}

// topConsumer picks the unprotected service using the most memory, or the
// most CPU over CPUSampleGap — but only one that causes a real share of the
// pressure: at least MinShare percent of the machine's busy CPU time over
// the sample and MinCPU percent of one core (CPU), or MinShare percent of
// the memory in use (memory). The share is what says whose load it is; the
// per-core floor only keeps noise from being throttled, and is low because
// on an oversubscribed host (a container, a loaded CI box) the service that
// causes most of the load may get a small slice of a core.
// Otherwise nothing is throttled, and the error (ErrElsewhere) says where
// the load is: in a user session (user-UID.slice), a scope, the kernel, a
// protected service, or spread over many services.
func (e *env) topConsumer(ctx context.Context, res resources) (consumer, error) {
	m0, merr := e.sd().Machine(ctx)
	first, err := e.sd().Services(ctx)
	t0 := time.Now()
	if err != nil {
		return consumer{}, fmt.Errorf("%w: listing services: %v", ErrUnavailable, err)
	}
	score := map[string]uint64{}
	groups := map[string]uint64{}
	var elapsed time.Duration
	var total uint64 // the machine's busy CPU time, or memory used; 0 when unknown
	if res.cpu {
		select {
		case <-time.After(e.s.CPUSampleGap):
		case <-ctx.Done():
			return consumer{}, ctx.Err()
		}
		second, err := e.sd().Services(ctx)
		m1, merr1 := e.sd().Machine(ctx)
		elapsed = time.Since(t0)
		if err != nil {
			return consumer{}, fmt.Errorf("%w: listing services: %v", ErrUnavailable, err)
		}
		grow := func(a, b []Usage, into map[string]uint64) {
			prev := map[string]uint64{}
			for _, u := range a {
				prev[u.Unit] = u.CPUUsageNSec
			}
			for _, u := range b {
				if p, ok := prev[u.Unit]; ok && p != Unset && u.CPUUsageNSec != Unset && u.CPUUsageNSec >= p {
					into[u.Unit] = u.CPUUsageNSec - p
				}
			}
		}
		grow(first, second, score)
		if merr == nil && merr1 == nil {
			grow(m0.Groups, m1.Groups, groups)
			if m0.CPUBusyNSec != Unset && m1.CPUBusyNSec != Unset && m1.CPUBusyNSec > m0.CPUBusyNSec {
				total = m1.CPUBusyNSec - m0.CPUBusyNSec
			}
		}
		first = second
	} else {
		for _, u := range first {
			if u.MemoryCurrent != Unset {
				score[u.Unit] = u.MemoryCurrent
			}
		}
		if merr == nil {
			for _, g := range m0.Groups {
				if g.MemoryCurrent != Unset {
					groups[g.Unit] = g.MemoryCurrent
				}
			}
			if m0.MemoryUsed != Unset {
				total = m0.MemoryUsed
			}
		}
	}
	var best Usage
	var bestScore uint64
	var busiest string // the service with the most use, protected or not
	var busiestScore, services uint64
	for _, u := range first {
		s, ok := score[u.Unit]
		if !ok || userManager(u.Unit) {
			continue // user@UID.service is in user-UID.slice: a session
		}
		services += s
		if busiest == "" || s > busiestScore {
			busiest, busiestScore = u.Unit, s
		}
		if e.protected(u.Unit) || u.Unit == e.s.Self || (best.Unit != "" && s <= bestScore) {
			continue
		}
		best, bestScore = u, s
	}
	c := consumer{Usage: best}
	if res.cpu && elapsed > 0 {
		c.cpuPercent = 100 * float64(bestScore) / float64(elapsed.Nanoseconds())
	}
	minShare := e.s.MinShare / 100
	share := func(v uint64) float64 {
		if total == 0 {
			return 1 // unknown: only the per-core floor applies
		}
		return float64(v) / float64(total)
	}
	enough := best.Unit != "" && bestScore > 0 && share(bestScore) >= minShare
	if enough && res.cpu && elapsed > 0 && c.cpuPercent < e.s.MinCPU {
		// Most of little: a busy machine's own slice of a core, or
		// noise. Not worth a throttle.
		return consumer{}, elsewhere(fmt.Sprintf("CPU load is small: the busiest service that may be throttled, %s, used %.0f%% of one CPU, under the %.0f%% a throttle needs; nothing throttled",
			best.Unit, c.cpuPercent, e.s.MinCPU))
	}
	if enough {
		return c, nil
	}
	if best.Unit == "" && busiest == "" && len(groups) == 0 && total == 0 {
		return consumer{}, fmt.Errorf("%w: no unprotected service with measurable use to throttle", ErrNoAction)
	}
	return consumer{}, elsewhere(e.whereLoad(res, total, elapsed, groups, services, busiest, busiestScore, best.Unit, bestScore))
}

// userManager reports whether unit is a user's service manager,
// user@UID.service: what runs under it is that user's session, counted with
// user-UID.slice, never throttled as a system service.
func userManager(unit string) bool { return strings.HasPrefix(unit, "user@") }

// elsewhere is ErrElsewhere with the line that says where the load is.
type elsewhere string

func (e elsewhere) Error() string      { return string(e) }
func (elsewhere) Is(target error) bool { return target == ErrElsewhere }

// whereLoad says where the load is when no service causes enough of it:
// "CPU load is in user-1000.slice, not a service: 1.9 CPUs, 97% of the
// busy CPU; the busiest service, crashy.service, used 0.1% of one CPU".
func (e *env) whereLoad(res resources, total uint64, elapsed time.Duration, groups map[string]uint64, services uint64, busiest string, busiestScore uint64, best string, bestScore uint64) string {
	what, amount := "Memory", nixclean.FormatBytes
	if res.cpu {
		what = "CPU load"
		amount = func(v uint64) string {
			if elapsed <= 0 {
				return "?"
			}
			return fmt.Sprintf("%.0f%% of one CPU", 100*float64(v)/float64(elapsed.Nanoseconds()))
		}
	}
	of := func(v uint64) string {
		if total == 0 {
			return amount(v)
		}
		return fmt.Sprintf("%s, %.0f%% of the %s", amount(v), 100*float64(v)/float64(total), map[bool]string{true: "busy CPU", false: "memory in use"}[res.cpu])
	}
	// The biggest carrier: a cgroup outside the services, what no cgroup
	// accounts for, or the busiest service when it is protected.
	var where string
	var most uint64
	names := make([]string, 0, len(groups))
	for g := range groups {
		names = append(names, g)
	}
	slices.Sort(names)
	var inGroups uint64
	for _, g := range names {
		inGroups += groups[g]
		if groups[g] > most {
			where, most = g, groups[g]
		}
	}
	var line string
	if rest := total - min(total, inGroups+services); total > 0 && rest > most {
		where, most = "", rest
	}
	switch {
	case where != "" && most >= busiestScore:
		line = fmt.Sprintf("%s is in %s, not a service: %s", what, where, of(most))
	case where == "" && total > 0 && most >= busiestScore:
		line = fmt.Sprintf("%s is outside every cgroup the daemon sees (the kernel, or outside this machine's cgroups): %s", what, of(most))
	case busiest != "" && busiest != best:
		line = fmt.Sprintf("%s is mostly in %s, which is protected and never throttled: %s", what, busiest, of(busiestScore))
	default:
		line = fmt.Sprintf("%s is spread out: no service causes %.0f%% of it", what, e.s.MinShare)
	}
	switch {
	case best != "":
		line += fmt.Sprintf("; the busiest service that may be throttled, %s, used %s", best, of(bestScore))
	case busiest == "":
		line += "; no service used any"
	}
	return line + "; nothing throttled"
}

// release restores the values a throttle replaced.
type release struct{}

func (release) plan(ctx context.Context, e *env, req Request) (step, error) {
	name := req.Target
	t, ok := e.h.throttle(name)
	if !ok {
		return step{}, fmt.Errorf("%w: %s is not throttled by luminous-healing", ErrNotFound, name)
	}
	var props []Property
	var parts []string
	if t.CPUWeight != 0 {
		props = append(props, Property{"CPUWeight", t.PrevCPUWeight})
		parts = append(parts, "CPUWeight="+formatLimit(t.PrevCPUWeight, false))
	}
	if t.MemoryHigh != 0 {
		props = append(props, Property{"MemoryHigh", t.PrevMemoryHigh})
		parts = append(parts, "MemoryHigh="+formatLimit(t.PrevMemoryHigh, true))
	}
	st := step{target: name, describe: fmt.Sprintf("restore %s on %s", strings.Join(parts, " "), name)}
	if e.sd() == nil {
		return st, nil
	}
	st.run = func(ctx context.Context, r *Result) {
		after, ok := e.setThenRead(ctx, r, name, "release", "released", props)
		if !ok {
			return
		}
		r.Applied = map[string]uint64{}
		if t.CPUWeight != 0 {
			r.Applied["CPUWeight"] = after.CPUWeight
		}
		if t.MemoryHigh != 0 {
			r.Applied["MemoryHigh"] = after.MemoryHigh
		}
		e.h.forget(name)
		r.succeed("%s", st.describe)
	}
	return st, nil
}

func formatLimit(v uint64, bytes bool) string {
	switch {
	case v == Unset && bytes:
		return "infinity"
	case v == Unset:
		return "default"
	case bytes:
		return nixclean.FormatBytes(v)
	}
	return fmt.Sprint(v)
}

// remember records a throttle, keeping the oldest previous values when a
// unit is throttled twice.
func (h *Healer) remember(t Throttled, issueID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if old, ok := h.throttled[t.Unit]; ok {
		t.PrevCPUWeight, t.PrevMemoryHigh, t.Since, t.Issues = old.PrevCPUWeight, old.PrevMemoryHigh, old.Since, old.Issues
		if t.CPUWeight == 0 {
			t.CPUWeight = old.CPUWeight
		}
		if t.MemoryHigh == 0 {
			t.MemoryHigh = old.MemoryHigh
		}
	}
	if issueID != "" && !slices.Contains(t.Issues, issueID) {
		t.Issues = append(t.Issues, issueID)
	}
	h.throttled[t.Unit] = &t
}

func (h *Healer) forget(unit string) {
	h.mu.Lock()
	delete(h.throttled, unit)
	h.mu.Unlock()
}

func (h *Healer) throttle(unit string) (Throttled, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.throttled[unit]
	if !ok {
		return Throttled{}, false
	}
	return *t, true
}

// Throttles returns every throttle in force, for status and persistence.
func (h *Healer) Throttles() []Throttled {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Throttled, 0, len(h.throttled))
	for _, t := range h.throttled {
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b Throttled) int { return strings.Compare(a.Unit, b.Unit) })
	return out
}

// Barred is a restored throttle on a unit the policy no longer lets the
// daemon throttle, and why.
type Barred struct {
	Unit string
	Why  error
}

// RestoreThrottles reloads throttles persisted by an earlier run. A record
// that breaks a rule a live throttle keeps (restore.go), or a second one for
// the same unit, is not restored: refused says which and why. A well-formed
// record on a unit the policy now bars (protected since, say, or the
// daemon's own unit) is restored all the same and returned in barred, for
// the caller to release at once: the values it set were set at runtime and
// stay on the unit until reboot unless the daemon puts the previous ones
// back, which it can only do while it remembers them.
func (h *Healer) RestoreThrottles(ts []Throttled) (barred []Barred, refused []error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	check := func(t Throttled, now time.Time) (string, error) { return t.Unit, h.checkThrottle(t, now) }
	refused = restoreEach(h.throttled, ts, "throttle", check, func(t Throttled) *Throttled { return &t })
	for _, name := range slices.Sorted(maps.Keys(h.throttled)) {
		if err := h.throttleBarred(name); err != nil {
			barred = append(barred, Barred{Unit: name, Why: err})
		}
	}
	return barred, refused
}

// Cleared tells the healer an issue cleared and returns the units whose
// throttles nothing holds any more; the caller releases them.
func (h *Healer) Cleared(issueID string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var free []string
	for unit, t := range h.throttled {
		i := slices.Index(t.Issues, issueID)
		if i < 0 {
			continue
		}
		// A new slice: copies handed out by Throttles share the old one.
		t.Issues = slices.Concat(t.Issues[:i], t.Issues[i+1:])
		if len(t.Issues) == 0 {
			free = append(free, unit)
		}
	}
	slices.Sort(free)
	return free
}
