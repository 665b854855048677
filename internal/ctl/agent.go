package ctl

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/ctl/show"
)

// startAgent starts polkit's text authentication agent, pkttyagent, for
// this process, the way systemctl does (systemd's spawn-polkit-agent.c):
// only for a person at a terminal and not for root (polkit never asks
// root); pkttyagent registers itself for its parent, with --fallback in a
// login session so a desktop agent, if any, still wins, and says it is
// ready by closing the --notify-fd pipe. The returned function stops it. Without pkttyagent it
// does nothing: polkit then answers "authentication required" and the
// error says how to go on.
func startAgent(stderr io.Writer) (stop func()) {
	nothing := func() {}
	if os.Geteuid() == 0 || !show.IsTerminal(os.Stdin) {
		return nothing
	}
	path, err := exec.LookPath("pkttyagent")
	if err != nil {
		return nothing
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nothing
	}
	defer r.Close()
	args := []string{"--notify-fd", "3"}
	// polkit uses a --fallback agent only for processes in a login
	// session, where a desktop's agent may be registered to win; outside
	// one (su, a container, a service's shell) a fallback agent is never
	// asked, so register a plain one for this process.
	if os.Getenv("XDG_SESSION_ID") != "" {
		args = append(args, "--fallback")
	}
	cmd := exec.Command(path, args...)
	cmd.ExtraFiles = []*os.File{w}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err = cmd.Start()
	w.Close()
	if err != nil {
		fmt.Fprintf(stderr, "healingctl: could not start pkttyagent (%v); polkit cannot ask for a password\n", err)
		return nothing
	}
	// Wait until it has registered (it closes the pipe), or has died.
	ready := make(chan struct{})
	go func() {
		var b [1]byte
		r.Read(b[:])
		close(ready)
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
	}
	return func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}
}
