// Package unit normalises and validates systemd unit names the way systemctl
// does, so that "nginx" and "nginx.service" name the same unit everywhere:
// in config files, D-Bus arguments and healingctl.
//
// It is a leaf package; anything may import it.
package unit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxLen is systemd's UNIT_NAME_MAX minus the terminating NUL.
const MaxLen = 255

// types are the unit type suffixes systemd accepts.
var types = []string{
	"service", "socket", "target", "device", "mount", "automount",
	"swap", "timer", "path", "slice", "scope",
}

// ErrInvalid is wrapped by every error Normalize returns.
var ErrInvalid = errors.New("invalid unit name")

// Normalize returns the full unit name for name: a name without a unit type
// suffix gets ".service", as systemctl does. Anything outside systemd's unit
// name grammar is rejected with an error that says why; templates
// ("foo@.service") are rejected because they cannot be started or restarted.
func Normalize(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalid)
	}
	if len(name) > MaxLen {
		return "", fmt.Errorf("%w: %d characters, at most %d allowed", ErrInvalid, len(name), MaxLen)
	}
	if !hasType(name) {
		name += ".service"
		if len(name) > MaxLen {
			return "", fmt.Errorf("%w: too long once .service is added", ErrInvalid)
		}
	}
	if err := validate(name); err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrInvalid, Quote(name), err)
	}
	return name, nil
}

// IsValid reports whether name is a complete, startable unit name.
func IsValid(name string) bool {
	return len(name) <= MaxLen && hasType(name) && validate(name) == nil
}

func hasType(name string) bool {
	dot := strings.LastIndexByte(name, '.')
	if dot < 0 {
		return false
	}
	suffix := name[dot+1:]
	for _, t := range types {
		if suffix == t {
			return true
		}
	}
	return false
}

func validate(name string) error {
	dot := strings.LastIndexByte(name, '.')
	prefix := name[:dot]
	if prefix == "" {
		return errors.New("nothing before the type suffix")
	}
	for i := 0; i < len(prefix); i++ {
		c := prefix[i]
		if !validChar(c) && c != '@' {
			if c == '*' || c == '?' || c == '[' {
				return errors.New("glob patterns are not allowed")
			}
			return fmt.Errorf("character %q is not allowed (letters, digits and :-_.\\@ only)", c)
		}
	}
	at := strings.IndexByte(prefix, '@')
	if at < 0 {
		return nil
	}
	if at == 0 {
		return errors.New("nothing before '@'")
	}
	if strings.IndexByte(prefix[at+1:], '@') >= 0 {
		return errors.New("more than one '@'")
	}
	if at == len(prefix)-1 {
		return errors.New("a template needs an instance (name@instance.service)")
	}
	return nil
}

func validChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == ':' || c == '-' || c == '_' || c == '.' || c == '\\'
}

// Quote quotes text a caller sent — a unit name, an issue id, a key — for
// an error message: ASCII only, and cut short, so the message stays one
// short line when a caller sends megabytes or binary.
func Quote(s string) string {
	const max = 72
	q := strconv.QuoteToASCII(s)
	if len(q) <= max {
		return q
	}
	q = q[:max]
	// Do not end inside an escape sequence.
	if i := strings.LastIndexByte(q, '\\'); i > max-6 {
		q = q[:i]
	}
	return q + `…"`
}
