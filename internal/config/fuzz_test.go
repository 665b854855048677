package config

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/luminous-healing/luminous-healing/internal/printable"
)

// FuzzParse: any file either parses into a configuration that validates
// again, or is refused with a one-line error; never a panic.
func FuzzParse(f *testing.F) {
	f.Add(string(DefaultTOML))
	for _, s := range []string{"", "[thresholds]\ncpu = 70", "[monitoring]\ninterval = 30", "[actions]\nload = \"throttle\"",
		"[services]\nmonitored = [\"nginx\", \"a b\"]", "[thresholds\n", "x = 1", "[healing]\nbackoff = \"-1s\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		c, err := Parse([]byte(in))
		if err != nil {
			// The error reaches logs, the Reload reply and a terminal:
			// one line, valid UTF-8, none of the file's control bytes.
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
			if !utf8.ValidString(msg) || strings.ContainsFunc(msg, func(r rune) bool { return !printable.Rune(r) }) {
				t.Fatalf("error echoes raw bytes: %q", err)
			}
			return
		}
		if err := c.validate(); err != nil {
			t.Fatalf("a parsed configuration fails validation again: %v", err)
		}
	})
}
