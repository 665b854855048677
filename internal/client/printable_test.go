package client

import (
	"testing"

	"github.com/godbus/dbus/v5"
)

func TestPrintableEscapesWhatATerminalWouldObey(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain text is kept", "nginx.service failed (exit-code)", "nginx.service failed (exit-code)"},
		{"unicode text is kept", "disque plein à 97 % — ✓", "disque plein à 97 % — ✓"},
		{"an escape sequence", "\x1b]0;pwned\x07/srv", `\x1b]0;pwned\x07/srv`},
		{"a newline and a carriage return", "a\nb\rc", `a\x0ab\x0dc`},
		{"a C1 CSI", "x\u009b31m", `x\x9b31m`},
		{"DEL", "a\x7fb", `a\x7fb`},
		{"a bidi override", "safe \u202elive", `safe \u202elive`},
		{"an invalid byte", "a\xffb", `a\xffb`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Printable(tt.in); got != tt.want {
				t.Errorf("Printable(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestDecodedRecordsArePrintable(t *testing.T) {
	h := Decode[HistoryEntry](map[string]dbus.Variant{
		"message": dbus.MakeVariant("InjectIssue(disk:/srv/\x1b[2J) by uid 1000 denied"),
		"issue":   dbus.MakeVariant("disk:/srv/\x1b[2J"),
	})
	if h.Message != `InjectIssue(disk:/srv/\x1b[2J) by uid 1000 denied` || h.Issue != `disk:/srv/\x1b[2J` {
		t.Errorf("decoded %q, %q; want the escape shown, not sent", h.Message, h.Issue)
	}
}
