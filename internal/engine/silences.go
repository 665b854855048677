package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/silence"
	"github.com/luminous-healing/luminous-healing/internal/unit"
)

// Silences and maintenance windows pause automatic healing within their
// scope. An operator's silence is added over D-Bus with a required expiry
// and kept in its own file in the state directory (silences.json), so that
// it survives a daemon restart and the rest of the state can be written on
// its own schedule; a window comes from the configuration and recurs. The
// issues a silence covers are still detected, signalled, recorded and
// exported, marked with the silence (issue.Record.Silence).

const silenceFile = "silences.json"

// silenceEvery: adding a silence is an operator's call, written promptly.
const silenceEvery = 10 * time.Millisecond

// window is a configured maintenance window and whether it is in force.
type window struct {
	id     string // window-1, window-2, … in configuration order
	cal    *silence.Calendar
	m      config.Maintenance
	active bool
}

// SilenceRequest is AddSilence's checked argument: exactly one of For and
// Until.
type SilenceRequest struct {
	Scope  string
	Effect string
	Reason string
	For    time.Duration
	Until  time.Time
	// ID is for tests that need a known id; "" picks a random one, as
	// every transport does.
	ID string
}

// validateSilence checks a request and returns the silence it would add,
// without an id or author.
func validateSilence(req SilenceRequest, now time.Time) (silence.Silence, error) {
	sc, err := silence.ParseScope(req.Scope)
	if err != nil {
		return silence.Silence{}, errorf(InvalidArgument, "scope: %v", err)
	}
	eff, err := silence.ParseEffect(req.Effect)
	if err != nil {
		return silence.Silence{}, errorf(InvalidArgument, "effect: %v", err)
	}
	if err := silence.CheckReason(req.Reason); err != nil {
		return silence.Silence{}, errorf(InvalidArgument, "%v", err)
	}
	var until time.Time
	switch {
	case req.For != 0 && !req.Until.IsZero():
		return silence.Silence{}, errorf(InvalidArgument, "expiry: give a duration or an end time, not both")
	case req.For < 0:
		return silence.Silence{}, errorf(InvalidArgument, "expiry: the duration must be positive, got %s", req.For)
	case req.For > 0:
		until = now.Add(req.For)
	case !req.Until.IsZero():
		until = req.Until
	default:
		return silence.Silence{}, errorf(InvalidArgument, "expiry: required (a duration or an end time); a silence always ends by itself")
	}
	if !until.After(now) {
		return silence.Silence{}, errorf(InvalidArgument, "expiry: %s is not in the future", until.Format(time.RFC3339))
	}
	if until.Sub(now) > silence.MaxDuration {
		return silence.Silence{}, errorf(InvalidArgument, "expiry: at most %s ahead, got %s", silence.MaxDuration, until.Sub(now).Round(time.Minute))
	}
	return silence.Silence{Scope: sc, Effect: eff, Reason: req.Reason, Created: now, Starts: now, Expires: until}, nil
}

// AddSilenceOp checks a call to add an operator's silence, in service
// mode: a bad request is refused before polkit is asked and changes
// nothing. Run returns the silence added.
func (e *Engine) AddSilenceOp(req SilenceRequest) (*Op[silence.Silence], error) {
	return checked(context.Background(), e, func(context.Context) (*Op[silence.Silence], error) {
		s, err := validateSilence(req, time.Now())
		if err != nil {
			return nil, err
		}
		return silenceOp("silence", s.Scope, func(_ context.Context, c Caller) (silence.Silence, error) {
			return e.addSilence(c, req)
		}), nil
	})
}

// AddSilence checks and runs AddSilenceOp at once.
func (e *Engine) AddSilence(c Caller, req SilenceRequest) (silence.Silence, error) {
	op, err := e.AddSilenceOp(req)
	return runNow(context.Background(), c, op, err)
}

// silenceOp is a service-mode op on a silence of scope sc.
func silenceOp[T any](action string, sc silence.Scope, act func(context.Context, Caller) (T, error)) *Op[T] {
	op := &Op[T]{Tier: TierHeal, Action: action, Scope: string(sc), Unit: scopeUnit(sc), act: act}
	if id, ok := strings.CutPrefix(string(sc), "issue:"); ok {
		op.Issue = id
	}
	return op
}

func (e *Engine) addSilence(c Caller, req SilenceRequest) (silence.Silence, error) {
	now := time.Now()
	s, err := validateSilence(req, now)
	if err != nil {
		return silence.Silence{}, err
	}
	s.ID = req.ID
	if s.ID == "" {
		s.ID = newSilenceID()
	}
	s.AuthorUID = c.UID
	s.Author = author(c)
	e.mu.Lock()
	if len(e.silences) >= silence.MaxSilences {
		e.mu.Unlock()
		return silence.Silence{}, errorf(InvalidArgument, "there are %d silences already, the most allowed; remove one first", len(e.silences))
	}
	e.silences = append(e.silences, s)
	e.o.Audit.Record(audit.Entry{Event: audit.SilenceAdded, Issue: string(s.Scope), Target: scopeUnit(s.Scope), Outcome: string(s.Effect),
		CallerUID: c.UID, Caller: c.Name, Message: fmt.Sprintf("silence %s added by %s: healing of %s paused until %s (%s): %s",
			s.ID, s.Author, s.Scope, s.Expires.Local().Format("2006-01-02 15:04:05"), s.Effect, s.Reason)})
	e.silencesChanged()
	e.publish(e.resilenceLocked(now)...) // under e.mu, in the order decided (publishStatus)
	e.mu.Unlock()
	e.publishStatus()
	return s, nil
}

// RemoveSilenceOp checks a call to end an operator's silence before its
// expiry, in service mode. A window cannot be removed: it comes from the
// configuration. Run refuses if the silence ended meanwhile.
func (e *Engine) RemoveSilenceOp(id string) (*Op[bool], error) {
	return checked(context.Background(), e, func(context.Context) (*Op[bool], error) {
		if err := checkID("silence id", id); err != nil {
			return nil, err
		}
		e.mu.Lock()
		i := slices.IndexFunc(e.silences, func(s silence.Silence) bool { return s.ID == id })
		var sc silence.Scope
		if i >= 0 {
			sc = e.silences[i].Scope
		}
		isWindow := slices.ContainsFunc(e.windows, func(w *window) bool { return w.id == id })
		e.mu.Unlock()
		switch {
		case isWindow:
			return nil, errorf(InvalidArgument, "%s is a maintenance window from the configuration; change the configuration and reload", unit.Quote(id))
		case i < 0:
			return nil, errorf(NotFound, "no silence %s; `healingctl silence list` lists them", unit.Quote(id))
		}
		return silenceOp("unsilence", sc, func(_ context.Context, c Caller) (bool, error) {
			return true, e.removeSilence(c, id)
		}), nil
	})
}

// RemoveSilence checks and runs RemoveSilenceOp at once.
func (e *Engine) RemoveSilence(c Caller, id string) error {
	op, err := e.RemoveSilenceOp(id)
	_, err = runNow(context.Background(), c, op, err)
	return err
}

func (e *Engine) removeSilence(c Caller, id string) error {
	now := time.Now()
	e.mu.Lock()
	i := slices.IndexFunc(e.silences, func(s silence.Silence) bool { return s.ID == id })
	if i < 0 {
		isWindow := slices.ContainsFunc(e.windows, func(w *window) bool { return w.id == id })
		e.mu.Unlock()
		if isWindow {
			return errorf(InvalidArgument, "%s is a maintenance window from the configuration; change the configuration and reload", id)
		}
		return errorf(NotFound, "no silence %q; `healingctl silence list` lists them", id)
	}
	s := e.silences[i]
	e.silences = slices.Delete(e.silences, i, i+1)
	e.o.Audit.Record(audit.Entry{Event: audit.SilenceEnded, Issue: string(s.Scope), Target: scopeUnit(s.Scope), Outcome: "removed",
		CallerUID: c.UID, Caller: c.Name, Message: fmt.Sprintf("silence %s of %s removed by %s before its expiry", s.ID, s.Scope, author(c))})
	e.silencesChanged()
	e.publish(e.resilenceLocked(now)...) // under e.mu, in the order decided (publishStatus)
	e.mu.Unlock()
	e.publishStatus()
	return nil
}

// Silences returns the operator's silences and every configured window
// with its current or next occurrence, soonest end first.
func (e *Engine) Silences() []silence.Silence { return e.status.Load().Silences }

// silencesLocked lists the silences and windows at now, for the status.
func (e *Engine) silencesLocked(now time.Time) []silence.Silence {
	out := slices.Clone(e.silences)
	for _, w := range e.windows {
		if s, ok := w.occurrence(now); ok {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b silence.Silence) int {
		if c := a.Expires.Compare(b.Expires); c != 0 {
			return c
		}
		if a.ID < b.ID {
			return -1
		}
		return 1
	})
	return out
}

// occurrence is the window's current or next occurrence as a silence.
func (w *window) occurrence(now time.Time) (silence.Silence, bool) {
	start, end, ok := w.cal.Next(now)
	if !ok {
		return silence.Silence{}, false
	}
	return silence.Silence{ID: w.id, Scope: silence.Scope(w.m.Scope), Effect: silence.Effect(w.m.Effect), Reason: w.m.Reason,
		Author: "configuration", AuthorUID: audit.Daemon, Starts: start, Expires: end, Window: w.cal.String()}, true
}

// inForceLocked returns the silences and window occurrences in force at now.
func (e *Engine) inForceLocked(now time.Time) []silence.Silence {
	var out []silence.Silence
	for _, s := range e.silences {
		if s.ActiveAt(now) {
			out = append(out, s)
		}
	}
	for _, w := range e.windows {
		if s, ok := w.occurrence(now); ok && s.ActiveAt(now) {
			out = append(out, s)
		}
	}
	return out
}

// silenceForLocked returns the silence in force that covers rec.
func (e *Engine) silenceForLocked(rec issue.Record, now time.Time) (silence.Silence, bool) {
	return silence.Pick(e.inForceLocked(now), rec, now)
}

// resilenceLocked moves silences on at now: it drops the expired ones,
// records windows that start or end, marks every issue with the silence
// that covers it (IssueChanged when that changes) and heals the issues no
// silence holds back any more. It returns the events to publish.
func (e *Engine) resilenceLocked(now time.Time) []Event {
	var pub []Event
	kept := e.silences[:0]
	for _, s := range e.silences {
		if now.Before(s.Expires) {
			kept = append(kept, s)
			continue
		}
		e.o.Audit.Record(audit.Entry{Event: audit.SilenceEnded, Issue: string(s.Scope), Target: scopeUnit(s.Scope), Outcome: "expired", CallerUID: audit.Daemon,
			Message: fmt.Sprintf("silence %s of %s expired; healing resumes within its scope", s.ID, s.Scope)})
	}
	if len(kept) != len(e.silences) {
		e.silences = slices.Clip(kept)
		e.silencesChanged()
	}
	for _, w := range e.windows {
		s, ok := w.occurrence(now)
		active := ok && s.ActiveAt(now)
		if active == w.active {
			continue
		}
		w.active = active
		if active {
			e.o.Audit.Record(audit.Entry{Event: audit.SilenceAdded, Issue: string(s.Scope), Outcome: string(s.Effect), CallerUID: audit.Daemon,
				Message: fmt.Sprintf("maintenance window %s (%s) started: healing of %s paused until %s (%s): %s", w.id, w.cal, s.Scope,
					s.Expires.Local().Format("2006-01-02 15:04:05"), s.Effect, s.Reason)})
		} else {
			e.o.Audit.Record(audit.Entry{Event: audit.SilenceEnded, Issue: w.m.Scope, Outcome: "window-ended", CallerUID: audit.Daemon,
				Message: fmt.Sprintf("maintenance window %s (%s) ended; healing resumes within its scope", w.id, w.cal)})
		}
	}
	for _, rec := range e.issues {
		s, ok := e.silenceForLocked(*rec, now)
		id, eff := "", ""
		if ok {
			id, eff = s.ID, string(s.Effect)
		}
		if rec.Silence != id || rec.SilenceEffect != eff {
			rec.Silence, rec.SilenceEffect = id, eff
			pub = append(pub, e.changedLocked(rec))
		}
		if rec.State == issue.Silenced && !ok {
			prev := rec.State
			e.maybeHealLocked(rec)
			if rec.State != prev {
				pub = append(pub, e.changedLocked(rec))
			}
		}
	}
	return pub
}

// nextSilenceChangeLocked is when a silence or window next starts or ends,
// zero when none will.
func (e *Engine) nextSilenceChangeLocked(now time.Time) time.Time {
	var next time.Time
	consider := func(t time.Time) {
		if t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for _, s := range e.silences {
		consider(s.Expires)
	}
	for _, w := range e.windows {
		if s, ok := w.occurrence(now); ok {
			consider(s.Starts)
			consider(s.Expires)
		}
	}
	return next
}

// applyWindowsLocked rebuilds the windows from the configuration; the
// configuration was validated, so a window that does not parse is a bug
// and is logged and left out.
func (e *Engine) applyWindowsLocked() {
	old := map[string]bool{}
	for _, w := range e.windows {
		old[w.id+"\x00"+w.m.When+"\x00"+w.m.Scope] = w.active
	}
	e.windows = e.windows[:0]
	for i, m := range e.cfg.Maintenance {
		cal, err := silence.ParseCalendar(m.When, time.Local)
		if err != nil {
			e.log.Error("maintenance window left out", "when", m.When, "err", err)
			continue
		}
		id := "window-" + strconv.Itoa(i+1)
		e.windows = append(e.windows, &window{id: id, cal: cal, m: m, active: old[id+"\x00"+m.When+"\x00"+m.Scope]})
	}
}

// silencesChanged tells the writer that silences.json is due.
func (e *Engine) silencesChanged() {
	if e.w != nil {
		e.w.Changed(silenceFile)
	}
}

// savedSilences is silences.json.
type savedSilences struct {
	Silences []silence.Silence
}

func (e *Engine) snapshotSilences() any {
	e.mu.Lock()
	defer e.mu.Unlock()
	return savedSilences{Silences: slices.Clone(e.silences)}
}

// restoreSilences loads the operator's silences. Each is validated: a bad
// one is reported and left out, an expired one is dropped (its end is
// recorded at the first check); a file that cannot be read at all is
// reported and the daemon starts without silences rather than not at all.
func (e *Engine) restoreSilences() {
	var saved savedSilences
	if !e.load(silenceFile, &saved, "saved silences could not be read; starting without them") {
		return
	}
	for _, s := range saved.Silences {
		if err := s.Validate(); err != nil {
			e.log.Warn("a saved silence is not valid; left out", "id", s.ID, "err", err)
			continue
		}
		if slices.ContainsFunc(e.silences, func(o silence.Silence) bool { return o.ID == s.ID }) || len(e.silences) >= silence.MaxSilences {
			continue
		}
		e.silences = append(e.silences, s)
	}
}

// scopeUnit is the unit a scope names, for the record's target (so that
// journalctl -u NAME shows the silence), or "".
func scopeUnit(sc silence.Scope) string {
	u, _ := strings.CutPrefix(string(sc), "unit:")
	if u == string(sc) {
		return ""
	}
	return u
}

func newSilenceID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return "silence-" + hex.EncodeToString(b)
}

// author names a caller for the record: "alice (uid 1000)".
func author(c Caller) string {
	if c.UID < 0 {
		return "luminous-healingd"
	}
	uid := strconv.FormatInt(c.UID, 10)
	if u, err := user.LookupId(uid); err == nil && u.Username != "" {
		return u.Username + " (uid " + uid + ")"
	}
	return "uid " + uid
}
