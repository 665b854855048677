package main

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The try-it mode's banner advertised http://ADDRESS/ even when another
// program held the port; it now says at once that the listener is not
// running, and how to choose another address.
func TestTheBannerSaysWhenTheHTTPPortIsTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	bin := daemonBin(t)
	cmd := exec.Command(bin, "--user", "--interval", "1s", "--listen", addr, "--state-dir", t.TempDir())
	cmd.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent", "DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	web := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(strings.TrimSpace(l), "web:") {
				web <- l
				return
			}
		}
		close(web)
	}()
	select {
	case l := <-web:
		for _, want := range []string{"NOT listening", addr + " is taken", "--listen"} {
			if !strings.Contains(l, want) {
				t.Errorf("banner %q; want it to say %q", l, want)
			}
		}
		if strings.Contains(l, "http://") {
			t.Errorf("banner %q advertises a listener that is not there", l)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no web: line in the banner within 20 s")
	}
}
