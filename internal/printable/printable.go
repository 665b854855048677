// Package printable makes text safe to show: on a terminal, in a desktop
// notification, in a log line or a D-Bus reply. It is the one definition
// of which characters are unsafe there, shared by the daemon (internal/unit
// refuses them in caller text, internal/config escapes them in its errors)
// and by the client (internal/client escapes them in everything it decodes).
// It imports nothing of this module, so healingctl may link it.
package printable

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// String returns s with every unsafe character (see Rune) and invalid byte
// replaced by its Go escape (\x1b, \u202e): visible and inert. s itself is
// returned when it is safe already.
func String(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, unsafe) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafe(r) && r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafe(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += n
	}
	return b.String()
}

// Rune reports whether r shows as itself. Not so: the C0 and C1 control
// characters and DEL, which a terminal obeys; the bidirectional overrides
// and isolates, which reorder a line; the line and paragraph separators,
// which break one.
func Rune(r rune) bool { return !unsafe(r) }

func unsafe(r rune) bool {
	switch {
	case unicode.IsControl(r):
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f,
		r == 0x2028, r == 0x2029:
		return true
	}
	return false
}
