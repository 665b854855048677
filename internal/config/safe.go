package config

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// safeError is a configuration error whose text is safe to log, to send in
// the Reload reply and to print: bytes of the file that are not printable
// text (control characters, bidi overrides, invalid UTF-8) are shown as Go
// escapes, so the message stays one inert line whatever the file holds.
type safeError struct{ err error }

func (e safeError) Error() string { return escape(e.err.Error()) }
func (e safeError) Unwrap() error { return e.err }

func escape(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, unsafeRune) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafeRune(r) && r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += n
	}
	return b.String()
}

func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 ||
		r == 0x200e || r == 0x200f || r == 0x2028 || r == 0x2029
}
