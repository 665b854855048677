package polkit_test

import (
	"context"
	"log/slog"

	"github.com/godbus/dbus/v5"

	"github.com/luminous-healing/luminous-healing/internal/polkit"
)

// authorizer is what a consumer declares: the one method it uses.
type authorizer interface {
	Check(ctx context.Context, req polkit.Request) (polkit.Decision, error)
}

var _ authorizer = (*polkit.Authority)(nil)

// server stands for the daemon's D-Bus object.
type server struct {
	auth authorizer
	log  *slog.Logger
}

// RestartUnit shows where a privileged method asks polkit: after validating
// its arguments and before touching anything. godbus fills in the dbus.Message
// and dbus.Sender arguments; D-Bus callers see only the unit argument.
func (s *server) RestartUnit(msg dbus.Message, sender dbus.Sender, unit string) *dbus.Error {
	// ... validate and normalise unit first ...
	decision, err := s.auth.Check(context.TODO(), polkit.Request{
		Action:           "org.luminous.healing.heal",
		Caller:           string(sender),
		AllowInteraction: msg.Flags&dbus.FlagAllowInteractiveAuthorization != 0,
		Details:          map[string]string{"unit": unit, "action": "restart"},
	})
	if err != nil {
		s.log.Warn("polkit check failed; denying", "caller", sender, "err", err)
	}
	switch decision {
	case polkit.Allowed:
		// ... act ...
		return nil
	case polkit.Challenge:
		return dbus.NewError("org.freedesktop.DBus.Error.InteractiveAuthorizationRequired",
			[]any{"Interactive authentication required."})
	default:
		return dbus.NewError("org.freedesktop.DBus.Error.AccessDenied", []any{"Access denied."})
	}
}

// The daemon makes one Authority on its system bus connection and hands it
// to its D-Bus object.
func Example() {
	conn, err := dbus.ConnectSystemBus()
	if err != nil {
		return
	}
	defer conn.Close()
	srv := &server{auth: polkit.New(conn, polkit.Options{}), log: slog.Default()}
	_ = conn.Export(srv, "/org/luminous/Healing", "org.luminous.Healing1")
}
