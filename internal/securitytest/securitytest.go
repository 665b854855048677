// Package securitytest lets the tests of hostile input say what they tried,
// for `make security-report`: each call adds one row (kind, what was tried,
// how many times, and the test's own verdict) to the file named by
// $LUMINOUS_SECURITY_REPORT when the test ends. Without the variable it
// does nothing. The verdict comes from the test's result, never from the
// caller: a row says "refused, nothing changed" only if the test that
// checks exactly that passed.
//
// Only _test.go files may import it.
package securitytest

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
)

// Kinds of hostile input, the report's groups.
const (
	BadInput = "bad input"
	Forged   = "forged signal"
	Flood    = "flood"
)

var mu sync.Mutex

// Tried records, when t ends, that the test tried what (count times) of
// kind.
func Tried(t testing.TB, kind, what string, count int) {
	path := os.Getenv("LUMINOUS_SECURITY_REPORT")
	if path == "" {
		return
	}
	t.Cleanup(func() {
		verdict := "refused, nothing changed"
		switch {
		case t.Skipped():
			verdict = "SKIPPED"
		case t.Failed():
			verdict = "FAILED: got through"
		}
		clean := func(s string) string {
			return strings.Map(func(r rune) rune {
				if r == '\t' || r == '\n' || r < ' ' {
					return ' '
				}
				return r
			}, s)
		}
		mu.Lock()
		defer mu.Unlock()
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Logf("securitytest: %v", err)
			return
		}
		defer f.Close()
		fmt.Fprintf(f, "%s\t%s\t%d\t%s\t%s\n", kind, clean(what), count, verdict, t.Name())
	})
}
