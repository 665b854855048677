package main

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/luminous-healing/luminous-healing/internal/client"
)

// daemonBin builds the daemon once per test binary.
func daemonBin(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "luminous-healingd")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestCommandLine(t *testing.T) {
	bin := daemonBin(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(good, []byte("[services]\nmonitored = [\"nginx\"]\n"), 0o644)
	os.WriteFile(bad, []byte("[thresholds]\ncpu = 170\n"), 0o644)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string // in stdout+stderr
	}{
		{"a good file checks out and is printed as understood", []string{"--check-config", "--config", good}, 0, `monitored = ["nginx.service"]`},
		{"the embedded default checks out in try-it mode", []string{"--check-config", "--user"}, 0, "embedded default: OK"},
		{"a bad value is a usage error naming the key", []string{"--check-config", "--config", bad}, 2, "thresholds.cpu"},
		{"a missing file is a usage error naming it", []string{"--check-config", "--config", filepath.Join(dir, "nope.toml")}, 2, "nope.toml"},
		{"an unknown flag is a usage error", []string{"--frobnicate"}, 2, "frobnicate"},
		{"a bad log level is a usage error", []string{"--log-level", "loud", "--check-config"}, 2, "--log-level"},
		{"a tiny interval is a usage error", []string{"--interval", "1ms", "--check-config"}, 2, "--interval"},
		{"a stray argument is a usage error", []string{"--check-config", "extra"}, 2, "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, tt.args...)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode {
				t.Errorf("exit code %d; want %d\n%s", code, tt.wantCode, out.String())
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("output does not mention %q:\n%s", tt.wantOut, out.String())
			}
			if strings.Contains(out.String(), "goroutine ") {
				t.Errorf("output has a stack trace:\n%s", out.String())
			}
		})
	}
}

func TestTryItModeRunsWithoutRootAndStopsOnSIGTERM(t *testing.T) {
	bin := daemonBin(t)
	state := t.TempDir()
	cmd := exec.Command(bin, "--user", "--interval", "200ms", "--listen", "", "--state-dir", state)
	cmd.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent", "DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if os.Getuid() == 0 {
		// Try-it mode is for anyone: run it as nobody where we can.
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		os.Chmod(state, 0o777)
		os.Chmod(filepath.Dir(bin), 0o755)
		os.Chmod(filepath.Dir(filepath.Dir(bin)), 0o755)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v; want 0\n%s", err, out.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("still running 10 s after SIGTERM\n%s", out.String())
	}
	t.Logf("stopped %s after SIGTERM (target: under a second)", time.Since(start).Round(time.Millisecond))
	for _, want := range []string{"try-it mode", "planning instead of acting", "systemd is not reachable"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output does not say %q:\n%s", want, out.String())
		}
	}
}

// In the try-it mode without a session bus the daemon starts its own,
// prints the export line, serves the API there to its own user only, and
// takes the bus down with it.
func TestTryItModeServesTheAPIOnASessionBusOfItsOwn(t *testing.T) {
	if _, err := exec.LookPath("dbus-daemon"); err != nil {
		t.Skip("dbus-daemon is not installed (Debian: apt install dbus-daemon)")
	}
	bin := daemonBin(t)
	cmd := exec.Command(bin, "--user", "--interval", "200ms", "--listen", "", "--state-dir", t.TempDir())
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DBUS_SESSION_BUS_ADDRESS=") && !strings.HasPrefix(kv, "XDG_RUNTIME_DIR=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "export DBUS_SESSION_BUS_ADDRESS='"); ok {
				addr <- strings.TrimSuffix(a, "'")
			}
		}
	}()
	var address string
	select {
	case address = <-addr:
	case <-time.After(10 * time.Second):
		t.Fatalf("no export line within 10s\n%s", logs.String())
	}

	conn, err := dbus.Connect(address)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := client.New(conn, client.Options{})
	var st client.Status
	for deadline := time.Now().Add(5 * time.Second); ; {
		if st, err = c.Status(t.Context()); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil || st.Mode != "user" || !st.DryRun {
		t.Fatalf("GetStatus: %+v, %v; want the try-it mode, dry-run\n%s", st, err, logs.String())
	}
	if err := c.SetThreshold(t.Context(), "cpu", 50); err != nil {
		t.Errorf("the daemon's own user: SetThreshold: %v; want allowed", err)
	}
	if err := c.SetDryRun(t.Context(), false); !errors.Is(err, client.ErrInvalidArgument) {
		t.Errorf("SetDryRun(false): %v; want InvalidArgument: the try-it mode only plans", err)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit: %v; want 0\n%s", err, logs.String())
	}
	if c2, err := dbus.Connect(address); err == nil {
		c2.Close()
		t.Errorf("the daemon's own session bus at %s outlived it", address)
	}
}
