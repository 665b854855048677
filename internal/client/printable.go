package client

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Printable returns s safe to print on a terminal or in a notification:
// every control character (C0, DEL, C1), bidirectional override or
// isolate, line or paragraph separator and invalid byte is replaced by its
// Go escape (\x1b, \u202e), visible and inert.
//
// The daemon refuses such characters in caller text, but what it reports
// also comes from elsewhere (unit names and messages systemd gives it,
// history written by an older version), so every string a client decodes
// from the daemon passes through here: healingctl's tables, watch, the
// dashboard and the desktop notifications all print decoded records. The
// predicate matches internal/unit.HasControl, which the daemon validates
// with; this package may import only godbus.
func Printable(s string) string {
	if !strings.ContainsFunc(s, unsafeRune) && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafeRune(r):
			if r < 0x100 {
				fmt.Fprintf(&b, `\x%02x`, r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		default:
			b.WriteRune(r)
		}
		i += n
	}
	return b.String()
}

func unsafeRune(r rune) bool {
	switch {
	case unicode.IsControl(r):
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f,
		r == 0x2028, r == 0x2029:
		return true
	}
	return false
}
