package printable

import "testing"

func TestStringEscapesWhatATerminalWouldObey(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain text is kept", "nginx.service failed (exit-code)", "nginx.service failed (exit-code)"},
		{"unicode text is kept", "disque plein à 97 % — ✓", "disque plein à 97 % — ✓"},
		{"an escape sequence", "\x1b]0;pwned\x07/srv", `\x1b]0;pwned\x07/srv`},
		{"a newline and a carriage return", "a\nb\rc", `a\x0ab\x0dc`},
		{"a C1 CSI", "x\u009b31m", `x\x9b31m`},
		{"DEL", "a\x7fb", `a\x7fb`},
		{"a bidi override", "safe \u202elive", `safe \u202elive`},
		{"a bidi isolate", "a\u2066b", `a\u2066b`},
		{"a line separator", "a\u2028b", `a\u2028b`},
		{"an invalid byte", "a\xffb", `a\xffb`},
		{"a replacement character as such is text", "a\ufffdb", "a\ufffdb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := String(tt.in); got != tt.want {
				t.Errorf("String(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}
