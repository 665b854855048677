package unit

import (
	"strings"
	"testing"
)

// FuzzNormalize: whatever a caller sends, Normalize either returns a name
// systemd accepts, stable under a second Normalize, or a one-line error.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"nginx", "getty@tty1", "a.service", "@.service", "x@", "a b", "ü.service", strings.Repeat("a", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := Normalize(in)
		if err != nil {
			if strings.Contains(err.Error(), "\n") || len(err.Error()) > 200 {
				t.Fatalf("error for %q is not one short line: %q", in, err)
			}
			return
		}
		if !IsValid(out) {
			t.Fatalf("Normalize(%q) = %q, which IsValid rejects", in, out)
		}
		again, err := Normalize(out)
		if err != nil || again != out {
			t.Fatalf("Normalize(Normalize(%q)) = %q, %v; want %q", in, again, err, out)
		}
	})
}
