package unit

import (
	"unicode"

	"github.com/luminous-healing/luminous-healing/internal/printable"
)

// HasControl reports whether s holds a character that can change what a
// terminal, a notification or a log viewer shows beyond the text itself:
// C0 and C1 control characters, DEL, and the bidirectional overrides and
// isolates that reorder a line. Caller text carrying one is refused.
func HasControl(s string) bool {
	for _, r := range s {
		if isControl(r) {
			return true
		}
	}
	return false
}

func isControl(r rune) bool {
	return r == unicode.ReplacementChar || !printable.Rune(r)
}
