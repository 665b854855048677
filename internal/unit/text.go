package unit

import "unicode"

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
	switch {
	case unicode.IsControl(r), r == unicode.ReplacementChar:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f,
		r == 0x2028, r == 0x2029:
		return true
	}
	return false
}
