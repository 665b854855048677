package unit

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"a bare name gets .service", "nginx", "nginx.service"},
		{"a full service name is kept", "nginx.service", "nginx.service"},
		{"other unit types are kept", "backup.timer", "backup.timer"},
		{"an instance is kept", "getty@tty1.service", "getty@tty1.service"},
		{"a bare instance gets .service", "getty@tty1", "getty@tty1.service"},
		{"escapes are allowed", `dev-disk-by\x2dlabel.device`, `dev-disk-by\x2dlabel.device`},
		{"a dotted name without a known type gets .service", "org.example.worker", "org.example.worker.service"},
		{"a name of exactly the maximum length is allowed", strings.Repeat("a", MaxLen-8) + ".service", strings.Repeat("a", MaxLen-8) + ".service"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize(tt.in)
			if err != nil {
				t.Fatalf("Normalize(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("Normalize(%q) = %q; want %q", tt.in, got, tt.want)
			}
			if !IsValid(got) {
				t.Errorf("IsValid(%q) = false; want true", got)
			}
		})
	}
}

func TestNormalizeRejects(t *testing.T) {
	tests := []struct {
		name, in, wantMsg string
	}{
		{"an empty name", "", "empty"},
		{"a space", "my unit", "not allowed"},
		{"a slash", "../etc/passwd", "not allowed"},
		{"a glob", "ngin*", "glob"},
		{"a template without instance", "getty@.service", "instance"},
		{"two @", "a@b@c.service", "more than one"},
		{"nothing before @", "@x.service", "before '@'"},
		{"only a suffix", ".service", "nothing before"},
		{"5000 characters", strings.Repeat("x", 5000), "at most 255"},
		{"too long once .service is added", strings.Repeat("x", 250), "too long"},
		{"a newline", "nginx\n.service", "not allowed"},
		{"non-ASCII", "nginé", "not allowed"},
	}
	for _, tt := range tests {
		t.Run("rejects "+tt.name, func(t *testing.T) {
			got, err := Normalize(tt.in)
			if err == nil {
				t.Fatalf("Normalize(%q) = %q; want an error", tt.in, got)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error = %q; want it to mention %q", err, tt.wantMsg)
			}
			if len(err.Error()) > 200 {
				t.Errorf("error is %d characters long; want one short line", len(err.Error()))
			}
		})
	}
}
