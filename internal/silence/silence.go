// Package silence owns silences and maintenance windows: what they cover
// (a scope), what they do (an effect), how long they last, and the subset
// of systemd's calendar syntax recurring windows are written in.
//
// A silence pauses automatic healing within its scope until it expires; the
// issues it covers are still detected, recorded and exported, marked with
// it. It is a leaf package: it imports issue and unit; config validates
// windows with it, and the engine applies them.
package silence

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/unit"
)

// Effect is what a silence does within its scope.
type Effect string

const (
	// Pause: no automatic healing, and desktop notifications about the
	// issues it covers are held back. Nothing else changes: issues are
	// detected, signalled, recorded and exported, marked silenced.
	Pause Effect = "pause"
	// NotifyOnly: no automatic healing, but people are still notified.
	NotifyOnly Effect = "notify-only"
)

// ParseEffect accepts pause or notify-only; "" is pause.
func ParseEffect(s string) (Effect, error) {
	switch Effect(s) {
	case "", Pause:
		return Pause, nil
	case NotifyOnly:
		return NotifyOnly, nil
	}
	return "", fmt.Errorf("unknown effect %q (want pause or notify-only)", s)
}

// Scope is what a silence covers, in its canonical form: "all",
// "unit:NAME.service", "issue:ID" or "kind:KIND".
type Scope string

// All covers every issue.
const All Scope = "all"

// ParseScope validates a scope and returns its canonical form: a unit name
// gets its type (.service) as systemctl would add it.
func ParseScope(s string) (Scope, error) {
	if s == string(All) {
		return All, nil
	}
	typ, val, ok := strings.Cut(s, ":")
	if !ok || val == "" {
		return "", fmt.Errorf("scope %q: want all, unit:NAME, issue:ID or kind:KIND", s)
	}
	switch typ {
	case "unit":
		u, err := unit.Normalize(val)
		if err != nil {
			return "", fmt.Errorf("scope %q: %w", s, err)
		}
		return Scope("unit:" + u), nil
	case "issue":
		if err := checkText(val, 512); err != nil {
			return "", fmt.Errorf("scope %q: issue id %w", s, err)
		}
		return Scope(s), nil
	case "kind":
		k, err := issue.ParseKind(val)
		if err != nil {
			return "", fmt.Errorf("scope %q: %w", s, err)
		}
		return Scope("kind:" + string(k)), nil
	}
	return "", fmt.Errorf("scope %q: want all, unit:NAME, issue:ID or kind:KIND", s)
}

// Matches reports whether the scope covers an issue. A unit scope covers
// the unit's own issues (unit:NAME and its health probe's probe:NAME); a kind scope every issue of that kind
// (disk covers inodes: ids too).
func (sc Scope) Matches(rec issue.Record) bool {
	typ, val, _ := strings.Cut(string(sc), ":")
	switch typ {
	case "all":
		return true
	case "unit":
		return (rec.Kind == issue.Unit || rec.Kind == issue.Probe) && rec.Subject == val
	case "issue":
		return rec.ID == val
	case "kind":
		return string(rec.Kind) == val
	}
	return false
}

// Limits on what a caller may ask.
const (
	MaxReason = 500
	// MaxDuration bounds how far ahead a silence may end: a silence
	// nobody remembers must still end by itself.
	MaxDuration = 90 * 24 * time.Hour
	// MaxSilences bounds how many silences may exist at once.
	MaxSilences = 256
)

// Silence is an operator's silence, or one occurrence of a window from the
// configuration (Window set, ID "window-N").
type Silence struct {
	ID        string
	Scope     Scope
	Effect    Effect
	Reason    string
	Author    string // who added it, as polkit and the bus know them; "configuration" for a window
	AuthorUID int64  // -1 for a window
	Created   time.Time
	Starts    time.Time // a window's current or next occurrence; Created for a silence
	Expires   time.Time // required: every silence ends by itself
	Window    string    // a window's calendar expression; "" for a silence
}

// ActiveAt reports whether the silence is in force at t.
func (s Silence) ActiveAt(t time.Time) bool {
	return !t.Before(s.Starts) && t.Before(s.Expires)
}

// Validate checks a silence as it is added, or loaded back from the state
// directory: a bad one changes nothing.
func (s Silence) Validate() error {
	if s.ID == "" {
		return errors.New("id: empty")
	}
	if err := checkText(s.ID, 64); err != nil {
		return fmt.Errorf("id %w", err)
	}
	if _, err := ParseScope(string(s.Scope)); err != nil {
		return err
	}
	if _, err := ParseEffect(string(s.Effect)); err != nil || s.Effect == "" {
		return fmt.Errorf("effect %q: want pause or notify-only", s.Effect)
	}
	if err := CheckReason(s.Reason); err != nil {
		return err
	}
	if err := checkText(s.Author, 512); err != nil {
		return fmt.Errorf("author %w", err)
	}
	if s.Starts.IsZero() || s.Expires.IsZero() || !s.Expires.After(s.Starts) {
		return errors.New("a start and an expiry after it are required")
	}
	// As AddSilence: a silence nobody remembers still ends by itself.
	if s.Expires.Sub(s.Starts) > MaxDuration {
		return fmt.Errorf("expiry: at most %s after its start", MaxDuration)
	}
	return nil
}

// CheckReason validates a silence's reason: required, one line of text.
func CheckReason(r string) error {
	if strings.TrimSpace(r) == "" {
		return errors.New("reason: required; say why healing is paused")
	}
	if err := checkText(r, MaxReason); err != nil {
		return fmt.Errorf("reason %w", err)
	}
	return nil
}

// checkText refuses what must not reach a terminal, a notification or a
// log line: control characters, invalid UTF-8, overlong text.
func checkText(s string, max int) error {
	switch {
	case len(s) > max:
		return fmt.Errorf("is %d bytes long, at most %d allowed", len(s), max)
	case !utf8.ValidString(s):
		return errors.New("is not valid UTF-8")
	case strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) }):
		return errors.New("contains control characters")
	}
	return nil
}

// Pick returns the silence in force at t that covers rec, preferring one
// that pauses notifications too, then the one ending last; ok is false
// when none does.
func Pick(ss []Silence, rec issue.Record, t time.Time) (Silence, bool) {
	var best Silence
	found := false
	for _, s := range ss {
		if !s.ActiveAt(t) || !s.Scope.Matches(rec) {
			continue
		}
		switch {
		case !found,
			s.Effect == Pause && best.Effect != Pause,
			s.Effect == best.Effect && s.Expires.After(best.Expires):
			best, found = s, true
		}
	}
	return best, found
}
