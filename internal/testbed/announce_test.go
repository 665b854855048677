package testbed

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// `go test ./...` prints only "ok" for a package that passes, whatever its
// test binary wrote; a package whose tests all skipped must still say why.
// Here a copy of this test binary named "go" plays the go command: it runs
// the binary again, throws away everything the binary writes, as go does
// for a passing package, and only its own standard error is looked at.
func TestAnnounceIsSeenWhenGoHidesThePackagesOutput(t *testing.T) {
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	fakeGo := filepath.Join(t.TempDir(), "go")
	if err := os.WriteFile(fakeGo, self, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(fakeGo, "-test.run=^TestFakeGoHelper$")
	cmd.Env = append(os.Environ(), fakeGoEnv+"="+fakeGo)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr // a pipe, as a terminal or CI's log would be
	if out, err := cmd.Output(); err != nil {
		t.Fatalf("the fake go: %v\n%s%s", err, out, stderr.String())
	}
	if want := "internal/testbed: announced from the test binary"; !strings.Contains(stderr.String(), want) {
		t.Errorf("the go command's stderr:\n%s\nwant it to hold %q", stderr.String(), want)
	}
}

// The same with go's output sent to a file, as `go test ./... > log 2>&1`
// does: go writes it at its own offset (no O_APPEND), so the line must go
// where go is, between what go wrote before and after, overwriting
// nothing. It was lost there: only "ok" reached the file.
func TestAnnounceIsSeenInAFileGoWritesTo(t *testing.T) {
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fakeGo := filepath.Join(dir, "go")
	if err := os.WriteFile(fakeGo, self, 0o755); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(fakeGo, "-test.run=^TestFakeGoHelper$")
	cmd.Env = append(os.Environ(), fakeGoEnv+"="+fakeGo, fakeGoMarksEnv+"=1")
	cmd.Stderr = log
	if out, err := cmd.Output(); err != nil {
		t.Fatalf("the fake go: %v\n%s", err, out)
	}
	got, err := os.ReadFile(log.Name())
	if err != nil {
		t.Fatal(err)
	}
	if want := "go: before\ninternal/testbed: announced from the test binary\ngo: after\n"; string(got) != want {
		t.Errorf("the file go writes to holds\n%q\nwant\n%q", got, want)
	}
}

const (
	fakeGoMarksEnv = "LHSD_TEST_FAKE_GO_MARKS"
	fakeGoEnv      = "LHSD_TEST_FAKE_GO"
	announceEnv    = "LHSD_TEST_ANNOUNCE"
)

func TestFakeGoHelper(t *testing.T) {
	fakeGo := os.Getenv(fakeGoEnv)
	if fakeGo == "" {
		t.Skip("run by TestAnnounceIsSeenWhenGoHidesThePackagesOutput")
	}
	marks := os.Getenv(fakeGoMarksEnv) == "1"
	if marks {
		fmt.Fprintln(os.Stderr, "go: before")
	}
	cmd := exec.Command(fakeGo, "-test.run=^TestAnnounceHelper$")
	cmd.Env = append(os.Environ(), fakeGoEnv+"=", fakeGoMarksEnv+"=", announceEnv+"=1")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if marks {
		fmt.Fprintln(os.Stderr, "go: after")
	}
}

func TestAnnounceHelper(t *testing.T) {
	if os.Getenv(announceEnv) != "1" {
		t.Skip("run by TestAnnounceIsSeenWhenGoHidesThePackagesOutput")
	}
	Announce("internal/testbed: announced from the test binary")
}
