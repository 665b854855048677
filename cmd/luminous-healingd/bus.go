package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/dbusapi"
	"github.com/luminous-healing/luminous-healing/internal/polkit"
)

// bus is the daemon's connection for its D-Bus API, and who decides the
// privileged calls on it.
type bus struct {
	conn  *dbus.Conn
	authz dbusapi.Authorizer
	// own is the dbus-daemon the try-it mode started because the user had
	// no session bus; its address is printed for healingctl --user.
	own     *exec.Cmd
	address string
}

func (b *bus) close() {
	if b == nil {
		return
	}
	if b.conn != nil {
		b.conn.Close()
	}
	if b.own != nil {
		b.own.Process.Signal(syscall.SIGTERM)
		b.own.Wait()
	}
}

// connectBus opens a private connection for the API: the system bus with
// polkit deciding, or in the try-it mode the session bus with only the
// daemon's own user allowed (there is no polkit for a session bus). It
// returns nil and a reason when there is no bus to serve on.
func connectBus(ctx context.Context, user bool, log *slog.Logger) (*bus, error) {
	if !user {
		conn, err := dbus.ConnectSystemBus()
		if err != nil {
			return nil, fmt.Errorf("system bus: %w", err)
		}
		return &bus{conn: conn, authz: polkit.New(conn, polkit.Options{InteractiveTimeout: 2 * time.Minute})}, nil
	}
	b := &bus{address: client.SessionBusAddress()}
	if b.address == "" {
		if err := b.startSessionBus(ctx); err != nil {
			return nil, err
		}
		log.Info("started a session bus for the D-Bus API", "address", b.address)
	}
	conn, err := dbus.Connect(b.address)
	if err != nil {
		b.close()
		return nil, fmt.Errorf("session bus %s: %w", b.address, err)
	}
	b.conn = conn
	b.authz = dbusapi.NewOwnerOnly(conn, uint32(os.Getuid()))
	return b, nil
}

// startSessionBus starts dbus-daemon --session as a child that lives as
// long as the daemon.
func (b *bus) startSessionBus(ctx context.Context) error {
	path, err := exec.LookPath("dbus-daemon")
	if err != nil {
		return errors.New("no session bus, and dbus-daemon is not installed to start one (Debian: apt install dbus-daemon)")
	}
	cmd := exec.Command(path, "--session", "--print-address", "--nofork", "--nopidfile", "--nosyslog")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start dbus-daemon: %w", err)
	}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case b.address = <-line:
	case <-time.After(10 * time.Second):
	case <-ctx.Done():
	}
	if b.address == "" {
		cmd.Process.Kill()
		cmd.Wait()
		return errors.New("dbus-daemon --session did not print its address")
	}
	b.own = cmd
	return nil
}
