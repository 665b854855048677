package testbed

import (
	"os"
	"testing"
)

// Without root the machine tests skip; say so where `go test ./...` shows
// it, not only under -v.
func TestMain(m *testing.M) {
	if os.Getenv(skipHelperEnv) == "" && os.Getenv(crashHelperEnv) == "" && os.Getenv(fakeGoEnv) == "" && os.Getenv(announceEnv) == "" {
		AnnounceSkip("internal/testbed")
	}
	os.Exit(m.Run())
}
